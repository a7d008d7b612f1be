//! A compact, read-optimised copy of one chain's transfer graph, memory-mapped by the tracer.
//!
//! The store (RocksDB) is the source of truth. A trace reads the whole history of every address
//! it reaches; over RocksDB that is a dictionary point read and a prefix scan per address, and
//! every row is decoded from its wide key. A snapshot holds the same transfers once more, laid
//! out for exactly those reads:
//!
//! - addresses get dense `u32` ids; an open-addressing hash table over their key bytes finds an
//!   address's id with one or two probes;
//! - every address's outgoing and incoming transfers are contiguous fixed-width records in chain
//!   order `(height, tx_index, sub)` (CSR: one entry per address with its lists' start and
//!   lengths, and its last send), so an address's
//!   history is one sequential read and "after this position" one binary search;
//! - amounts are `u128` in the record, with a side table for the rare larger ones; transaction
//!   hashes and assets are tables the records index;
//! - degrees are the lengths in the address's entry (exact, resident, no read of the records).
//!
//! The file is written by [`SnapshotBuilder`] (transfers in chain order in, a temp file out,
//! renamed into place only when complete, so a crash never leaves a half-written snapshot under
//! its name) and read by [`Snapshot`] through `mmap`: opening costs nothing but the header, and
//! several processes (the CLI, the workbench) share the same pages. Every snapshot records the
//! [`SnapshotKey`] of the store state it was built from; the caller compares it with the store's
//! current state and uses the snapshot only when they agree (see `docs/snapshot.md`).
//!
//! The layout (little-endian; version [`FORMAT_VERSION`]) is documented in `docs/snapshot.md`.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

mod build;
mod cache;
mod fold;
mod layout;
mod read;
mod tail;

pub use build::{BuildStats, SnapshotBuilder};
pub use read::{ListRequest, Recache, Snapshot};

use serde::{Deserialize, Serialize};

/// Version of the snapshot file layout; a file of another version is refused (and rebuilt).
pub const FORMAT_VERSION: u32 = 4;

/// The store state a snapshot was built from. Two states with equal keys hold the same
/// transfers of the chain (the digest is the store's order-independent sum over them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotKey {
    /// The chain's name in the store.
    pub chain: String,
    /// Height of the chain's checkpoint tip when built (`None`: no linked block).
    pub tip_height: Option<u64>,
    /// Hex hash of that tip.
    pub tip_hash: Option<String>,
    /// Transfers the store held for the chain.
    pub transfers: u64,
    /// The store's per-chain digest accumulator (hex).
    pub digest: String,
}

/// Why a snapshot could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// An operating-system error on the snapshot file or its temp files.
    #[error("{action} snapshot file {path}")]
    Io {
        /// What was being done (`creating`, `mapping`, `renaming` …).
        action: &'static str,
        /// The file.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the snapshot magic.
    #[error("{path} is not a chaintrace snapshot file")]
    NotASnapshot {
        /// The file.
        path: String,
    },
    /// The file was written with another layout version.
    #[error("snapshot file {path} has format version {found}, this chaintrace reads version {expected}")]
    Version {
        /// The file.
        path: String,
        /// The version in the file.
        found: u32,
        /// [`FORMAT_VERSION`].
        expected: u32,
    },
    /// A section or an index in the file is out of bounds or does not decode.
    #[error("snapshot file {path} is damaged: {what}")]
    Corrupt {
        /// The file.
        path: String,
        /// What does not hold.
        what: String,
    },
    /// The transfers given to the builder break a rule of the layout (not in chain order, more
    /// than `u32::MAX` addresses or transactions).
    #[error("cannot snapshot chain {chain}: {what}")]
    Invalid {
        /// The chain being built.
        chain: String,
        /// What does not hold, with the offending value.
        what: String,
    },
}
