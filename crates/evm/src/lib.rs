//! Ethereum and other EVM chains for chaintrace.
//!
//! The adapter reads blocks (with full transactions), receipts (`eth_getBlockReceipts`, or per
//! transaction) and traces (`debug_traceBlockByNumber` with the call tracer, or `trace_block`)
//! from a JSON-RPC node and normalises them into [`chaintrace_model::BlockData`]: native value
//! transfers, internal value transfers and ERC-20 `Transfer` logs. See [`decode`] for exactly
//! what counts as a transfer and how positions are numbered, [`ingest`](mod@ingest) for the loop with reorg
//! handling, and [`expand`] for on-demand address histories.
//!
//! The library never prints and never logs an RPC URL beyond `scheme://host`.
#![cfg_attr(not(test), deny(unused_crate_dependencies))]

pub mod adapter;
pub mod decode;
pub mod error;
pub mod expand;
pub mod flows;
pub mod ingest;
#[cfg(test)]
mod mutations;
pub mod rpc;
pub mod tokens;
mod transport;
pub mod types;

pub use adapter::{EvmAdapter, EvmConfig, TraceMode, TraceSetting};
/// The sink trait and its in-memory implementation live in `chaintrace-model` (shared with the
/// Bitcoin adapter); re-exported so EVM callers need one import.
pub use chaintrace_model::sink::{Applied, ApplyCounts, ChainSink, MemorySink};
pub use error::{EvmError, RpcError, TraceGap, TraceUnavailable};
pub use flows::{CctpDeployment, EventBridge, EventField, FlowConfig, FlowNote};
pub use ingest::{ingest, refill_traces, IngestOptions, IngestSummary, Progress, RefillSink, RefillSummary};
pub use rpc::{Rpc, RpcConfig};
pub use tokens::{MemoryTokenMeta, TokenMeta, TokenMetaStore};
