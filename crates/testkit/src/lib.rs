//! Test harness shared by chaintrace's tests (dev-dependency only).
//!
//! - [`tools`]: find `anvil` and `solcjs`, installing them from the npm registry into
//!   `~/.cache/chaintrace-tools` when missing; failing loudly (never skipping) when that fails.
//! - [`Anvil`]: a real anvil node on a free loopback port, killed on drop, with JSON-RPC helpers.
//! - [`contracts`]: compile the project's Solidity sources (`contracts/`) and encode calls.
//! - [`http`]: a tiny blocking HTTP/1.1 JSON-RPC client and server (no async runtime needed).
//! - [`fixtures`]: serve recorded JSON-RPC responses (ethereum-etl's file-name rule).
//! - [`rng`]: the one seeded RNG (SplitMix64) of the tests, benches and test-data generators.
//! - [`faults`]: a fault-injecting proxy (drops, delays, 429/503, truncated JSON).
//! - [`pruned`]: a proxy that makes a node answer trace calls of old blocks like a pruned Geth.
//! - [`checkout`], [`test_data`]: the files of the checkout under test (not of the one a shared
//!   build directory compiled the test in).
//!
//! Everything here is for tests: helpers panic with a clear message when the environment is
//! broken (a tool cannot be installed, anvil does not start), because a test must fail loudly.
#![cfg_attr(not(test), deny(unused_crate_dependencies))]

pub mod anvil;
mod checkout;
pub mod contracts;
pub mod faults;
pub mod fixtures;
pub mod http;
pub mod mutate;
pub mod pruned;
pub mod rng;
pub mod scenario;
pub mod tools;

/// The 256-bit integer of this kit's API (values in wei, token base units).
pub use alloy_primitives::U256;
pub use anvil::{Anvil, AnvilBuilder};
pub use checkout::{checkout, test_data};
pub use contracts::{encode_call, erc20_transfer, selector, Contracts, Word};
pub use faults::{FaultConfig, FaultProxy, FaultStats};
pub use fixtures::FixtureServer;
pub use pruned::PrunedNodeProxy;
pub use scenario::{ExpectedTransfer, Scenario};
