//! Bitcoin adapter for chaintrace.
//!
//! Only this crate knows Bitcoin encodings. It turns raw blocks (from Core's `blk*.dat` files,
//! Bitcoin Core JSON-RPC or an Esplora API) into the chain-agnostic [`BlockData`] the store
//! persists: every output with the address it pays, every input with the output it spends, and
//! the address-level [`Transfer`] edges defined in SPEC ("The graph").
//!
//! The adapter never sees the store: inputs are resolved through the [`UtxoLookup`] trait from
//! `chaintrace-model` plus an in-memory overlay of outputs created earlier in the same batch
//! ([`BlockDecoder`]). The ingest loops ([`ingest`]: block files and a Core node, with
//! reorganisations) write to `chaintrace-model`'s [`ChainSink`], the same trait the EVM adapter
//! uses, and find fork points with the same shared search.
//!
//! [`ChainSink`]: chaintrace_model::ChainSink
//! [`BlockData`]: chaintrace_model::BlockData
//! [`Transfer`]: chaintrace_model::Transfer
//! [`UtxoLookup`]: chaintrace_model::UtxoLookup
#![cfg_attr(not(test), deny(unused_crate_dependencies))]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod blkfile;
pub mod cluster;
pub mod decode;
pub mod esplora;
pub mod flows;
pub mod ingest;
pub mod network;
pub mod rpc;
pub mod script;
#[cfg(feature = "test-utils")]
pub mod synth;

pub use blkfile::{BlkError, BlkIndex, BlockLocation, BlocksDir, ChainBlock};
pub use decode::{parse_block, BlockDecoder, BlockTotals, DecodeError, NoLookup, OutputMap};
pub use ingest::{ingest_blocks_dir, ingest_node, IngestError, IngestOptions, IngestSummary, NodeSource};
pub use network::{parse_network, NetworkError};
pub use script::script_address;

/// Re-exported so callers name the same crate version the adapter decodes with.
pub use bitcoin;

use chaintrace_model::Hash32;

/// A Bitcoin hash (txid, block hash) as [`Hash32`] in display byte order (big-endian, as
/// explorers print it).
pub fn to_hash32<H: bitcoin::hashes::Hash<Bytes = [u8; 32]>>(h: &H) -> Hash32 {
    let mut b = h.to_byte_array();
    b.reverse();
    Hash32(b)
}

/// The inverse of [`to_hash32`].
pub fn from_hash32<H: bitcoin::hashes::Hash<Bytes = [u8; 32]>>(h: &Hash32) -> H {
    let mut b = h.0;
    b.reverse();
    H::from_byte_array(b)
}
