//! TRON adapter for chaintrace.
//!
//! TRON speaks two protocols, and an endpoint may offer either or both:
//!
//! - the **HTTP API** (java-tron's `/wallet/…`): [`decode`] turns a `/wallet/getblockbynum`
//!   response and, when the endpoint has it, `/wallet/gettransactioninfobyblocknum` into one
//!   [`BlockData`](chaintrace_model::BlockData): TRX `TransferContract`s, TRC-10
//!   `TransferAssetContract`s, the TRX a contract call carries, TRC-20 `Transfer` logs, and
//!   internal TRX/TRC-10 transfers. [`ingest`] runs the block-range loop over any
//!   [`ChainSink`](chaintrace_model::ChainSink), with the shared fork search.
//! - the **Ethereum-compatible JSON-RPC**: the same protocol as any EVM node, so the binary runs
//!   the EVM adapter against it and puts its blocks through [`sink::TronSink`], which re-keys
//!   20-byte accounts and tokens as TRON ones ([`Address::Tron`](chaintrace_model::Address),
//!   [`Asset::TronToken`](chaintrace_model::Asset)).
//!
//! - **TronGrid's account listings** (`/v1/accounts/{address}/transactions[/trc20]`):
//!   [`account::account_history`] names one wallet's transactions, whose blocks are then read
//!   and decoded as above (on-demand history without indexing the chain).
//!
//! [`http::probe`] asks the endpoint once which of the two it offers; the binary records the
//! answer in the store as a node capability.

pub mod account;
pub mod decode;
pub mod error;
pub mod http;
pub mod ingest;
pub mod sink;

pub use account::{account_history, AccountHistory, AccountOptions};
pub use error::TronError;
pub use http::{probe, Capabilities, HttpApi, HttpConfig};
pub use ingest::{ingest_http, logs_at, BlockLogs, IngestOptions, IngestSummary};
pub use sink::TronSink;

/// TRON mainnet's chain id on its Ethereum-compatible JSON-RPC (`eth_chainId` = `0x2b6653dc`).
pub const MAINNET_CHAIN_ID: u64 = 728_126_428;

/// Tokens known without asking the chain: `(T-address, symbol, decimals)`.
pub const KNOWN_TOKENS: [(&str, &str, u8); 2] =
    [("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "USDT", 6), ("TEkxiTehnzSmSe2XqrBj4w32RUN966rdz8", "USDC", 6)];
