//! Integration tests of the Bitcoin adapter's public API: real mainnet block files, the
//! synthetic chain generator (`test-utils`), the ingest loops with reorganisations, and random
//! mutations of real blocks. One test binary with one module per area.

mod fixtures;
mod ingest_reorg;
mod mutations;
mod synth;
