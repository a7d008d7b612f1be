//! The chaintrace hop walker.
//!
//! Sans-IO: the walk asks a [`GraphSource`] for an address's transfers, labels and degree, so
//! the same code runs over the RocksDB store (the binary's adapter), an on-demand fetcher, or an in-memory
//! [`MemGraph`] in tests. See [`engine`] for the algorithm and its rules ([`trace`] over one
//! chain, [`trace_chains`] over several, with swaps and bridge crossings), [`policy`] for the
//! taint policies, [`case`] for the case file and deposits report, [`price`] for valuation.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

pub mod case;
pub mod engine;
pub mod mem;
#[cfg(test)]
mod oracle;
pub mod policy;
pub mod price;
pub mod source;

pub use engine::{
    reach, reach_by, trace, trace_chains, AssetInfo, Bound, ChainInfo, Deposit, EdgeKind, Reach, ReachBy, Trace,
    TraceDirection, TraceError, TraceOptions, TracedEdge, TracedNode, WalkChain, WalkStats, DEFAULT_HOPS,
    DEFAULT_HUB_DEGREE, DEFAULT_POLICY, MAX_HOPS,
};
pub use mem::MemGraph;
pub use policy::Policy;
pub use price::{PriceBook, PriceError, PriceSource, PriceTable};
pub use source::{BatchRequest, DenseView, GraphSource, OwnerFlows, Row};
