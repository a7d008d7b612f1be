//! The libraries' traits implemented over the RocksDB store. Only the binary links the store:
//! the tracer and the labels crate see it through these adapters.

pub(crate) mod labels;
pub(crate) mod sink;
pub(crate) mod snapshot;
pub(crate) mod source;
#[cfg(test)]
mod source_tests;
