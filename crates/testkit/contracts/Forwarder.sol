// SPDX-License-Identifier: MIT
// Contracts that move ETH internally (value-carrying CALLs inside a transaction).
pragma solidity ^0.8.0;

contract Forwarder {
    /// Send all of msg.value to `to` with an internal CALL.
    function forward(address payable to) external payable {
        (bool ok, ) = to.call{value: msg.value}("");
        require(ok, "forward failed");
    }

    /// Split msg.value in two halves (the remainder goes to b): two internal CALLs in order.
    function split(address payable a, address payable b) external payable {
        uint256 half = msg.value / 2;
        (bool ok1, ) = a.call{value: half}("");
        (bool ok2, ) = b.call{value: msg.value - half}("");
        require(ok1 && ok2, "split failed");
    }

    /// Forward through another Forwarder: a nested internal transfer (depth 2).
    function forwardVia(Forwarder next, address payable to) external payable {
        next.forward{value: msg.value}(to);
    }

    /// Try to send to `to`; if that inner call reverts, keep the ETH here. The transaction
    /// succeeds but the failed inner call moves nothing.
    function tryForward(address payable to) external payable {
        (bool ok, ) = to.call{value: msg.value}("");
        ok; // ignored on purpose
    }

    receive() external payable {}
}

/// Refuses every ETH payment.
contract Rejecter {
    receive() external payable {
        revert("no thanks");
    }
}
