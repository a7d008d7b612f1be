//! Chain-agnostic types shared by every chaintrace crate.
//!
//! Nothing here does I/O: adapters produce these types, the store persists them, the tracer
//! walks them and the exporters render them.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

pub mod address;
pub mod amount;
mod base58;
pub mod case;
#[cfg(test)]
mod case_mutations;
pub mod chain;
pub mod flow;
pub mod hint;
pub mod label;
pub mod sink;
pub mod time_fmt;
pub mod transfer;

pub use address::{tron_base58, Address, AddressError, TRON_PREFIX};
pub use amount::{format_units, parse_units, AmountError, U256};
pub use case::{
    pretty_json_at, CaseDecodeError, CaseDeposit, CaseEdge, CaseFile, CaseNode, EdgeKind, Elements, NodeLabel,
    PriceSourceRef, Provenance, Role, TipRef, TraceParams, CASE_VERSION,
};
pub use chain::{ChainKind, ChainSpec, Sensitive};
pub use flow::{BridgeEvent, BridgeKey, BridgeSide, Conversion, ConversionKind, PricePoint};
pub use label::{name_parts, names_match, AddrChange, Category, ImportRecord, Label, SourceChange};
pub use sink::{find_fork, Applied, ApplyCounts, ChainSink, ForkError, ForkSearch, MemorySink};
pub use transfer::{
    Asset, BlockData, BlockRef, ChainBlock, ChainEdge, DenseRow, Direction, Hash32, Position, TokenMeta, Transfer,
    UtxoLookup, UtxoOutput, UtxoSpend,
};
