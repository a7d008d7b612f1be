//! Scenario tooling for chaintrace (dev/tool side, never a dependency of the binary).
//!
//! - [`typology`]: a DPRK IT-worker revenue-laundering typology run on a real anvil node, at
//!   several sizes, from a seeded RNG, with its ground truth ([`Truth`]): every exchange
//!   deposit that carries traced funds and its exact traced amount under `poison`, `haircut`
//!   and `fifo`, and the decoys no policy may flag.
//! - [`ledger`]: how that ground truth is kept while the transactions are sent (transfers,
//!   and conversions and bridge crossings by SPEC's rules).
//! - [`crosschain`]: the payroll → swap → bridge → cash-out typology over two chains as
//!   in-memory graph data with the ledger's ground truth and decoys.
//! - [`trail`]: the demo's cross-chain trail on two anvil nodes (USDC payroll → CCTP-style
//!   bridge → Uniswap V2 swap to ETH → exchange deposit), with its ledger truth.
//! - [`chain`]: anvil driving (gas-free, impersonated senders, blocks at chosen times).
//! - [`record`]: a recording JSON-RPC proxy and the compact recording file `chaintrace demo`
//!   replays (`cargo run -p chaintrace-scenario --bin record-demo` regenerates it).
//!
//! Like `chaintrace-testkit`, this crate is test tooling: when the environment is broken (anvil
//! does not start, a transaction is refused) or the scenario's own invariants fail, it panics
//! with a message saying which step failed, because a test or a recording must stop loudly.
#![cfg_attr(not(test), deny(unused_crate_dependencies))]

// Dependencies of the `record-demo` binary only (the library does not use them).
use tokio as _;

pub mod chain;
pub mod crosschain;
pub mod ledger;
pub mod record;
pub mod rng;
pub mod trail;
pub mod typology;

pub use ledger::{DepositTruth, Ledger, POLICIES};
pub use typology::{generate, Size, Truth, GENESIS_TIME, LARGE, MEDIUM, SMALL};
