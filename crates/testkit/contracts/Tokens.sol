// SPDX-License-Identifier: MIT
// Test tokens for chaintrace's EVM adapter tests. Compiled at test time with solcjs 0.8 (npm `solc`).
pragma solidity ^0.8.0;

/// A plain ERC-20: balances, transfer, approve/transferFrom, and the Transfer event
/// `Transfer(address indexed, address indexed, uint256)` (3 topics) that the adapter decodes.
contract SimpleToken {
    string public name;
    string public symbol;
    uint8 public decimals;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_, uint8 decimals_, uint256 supply) {
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
        totalSupply = supply;
        balanceOf[msg.sender] = supply;
        emit Transfer(address(0), msg.sender, supply);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        require(allowance[from][msg.sender] >= value, "allowance");
        allowance[from][msg.sender] -= value;
        _move(from, to, value);
        return true;
    }

    function _move(address from, address to, uint256 value) internal {
        require(balanceOf[from] >= value, "balance");
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}

/// USDT-like: 6 decimals.
contract TetherLike is SimpleToken("Tether USD", "USDT", 6, 1_000_000_000 * 1e6) {}

/// An 18-decimal token.
contract Gold18 is SimpleToken("Gold Token", "GLD", 18, 1_000_000 * 1e18) {}

/// A token that emits standard Transfer events but answers neither decimals() nor symbol():
/// the adapter must keep raw units for it and say so.
contract MuteToken {
    mapping(address => uint256) internal bal;
    event Transfer(address indexed from, address indexed to, uint256 value);

    constructor() {
        bal[msg.sender] = 1e30;
        emit Transfer(address(0), msg.sender, 1e30);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        require(bal[msg.sender] >= value, "balance");
        bal[msg.sender] -= value;
        bal[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }
}

/// An ERC-721-style event: `Transfer(address,address,uint256)` with the token id indexed
/// (4 topics). It is not an ERC-20 transfer and must be ignored.
contract NftLike {
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);

    function mint(address to, uint256 id) external {
        emit Transfer(address(0), to, id);
    }
}
