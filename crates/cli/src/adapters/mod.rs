//! The libraries' traits implemented over the RocksDB store. Only the binary links the store:
//! the tracer and the labels crate see it through these adapters.

pub mod labels;
pub mod sink;
pub mod source;
