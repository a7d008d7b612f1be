//! Integration tests of the RocksDB store's public API (ingest, rollback, labels, digests) over
//! deterministic synthetic blocks. The crash test is a separate binary (`crash.rs`, a custom
//! harness that re-executes itself), sharing the block generator in `tests/common`.

#[path = "../common/mod.rs"]
mod common;

mod read_only;
mod store;
