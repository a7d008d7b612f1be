// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

/// A price feed that emits `AnswerUpdated` exactly as Chainlink's aggregators do (the event of
/// AggregatorInterface: the answer and the round indexed, `updatedAt` in the data). The
/// Chainlink npm package (contracts) is not installed by scripts/setup, so this stands in for its
/// mock aggregator in chaintrace's USD tests.
contract UsdTestFeed {
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    uint256 public latestRound;

    function update(int256 answer, uint256 updatedAt) external {
        latestRound += 1;
        emit AnswerUpdated(answer, latestRound, updatedAt);
    }
}
