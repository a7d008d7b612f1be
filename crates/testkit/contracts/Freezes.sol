// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

/// The freeze events of Tether's USDT (TetherToken.sol on Ethereum and TRON): the blacklisted
/// address is a non-indexed parameter.
contract TetherFreezes {
    event AddedBlackList(address _user);
    event RemovedBlackList(address _user);

    function addBlackList(address user) external {
        emit AddedBlackList(user);
    }

    function removeBlackList(address user) external {
        emit RemovedBlackList(user);
    }
}

/// The freeze events of Circle's USDC (FiatTokenV2 Blacklistable): the address is indexed.
contract CircleFreezes {
    event Blacklisted(address indexed _account);
    event UnBlacklisted(address indexed _account);

    function blacklist(address account) external {
        emit Blacklisted(account);
    }

    function unBlacklist(address account) external {
        emit UnBlacklisted(account);
    }
}
