//! The case file (SPEC "Case file (JSON, `"version": 1`)"): what a trace found, in a form
//! that exporters and other tools read without the store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const CASE_VERSION: u32 = 1;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Seed,
    Intermediate,
    ExchangeDeposit,
    Exchange,
    Service,
    /// Not expanded: a hub, or a limit was reached (`stop_reason` says which).
    Stop,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Seed => "seed",
            Role::Intermediate => "intermediate",
            Role::ExchangeDeposit => "exchange_deposit",
            Role::Exchange => "exchange",
            Role::Service => "service",
            Role::Stop => "stop",
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NodeLabel {
    pub category: String,
    pub entity: String,
    pub source: String,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CaseNode {
    pub address: String,
    pub hop: u32,
    pub role: Role,
    pub labels: Vec<NodeLabel>,
    /// Why a `stop` node was not expanded (`hops`, `hub`, `min_amount`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// Bitcoin: the entity cluster the address belongs to, when clustering has run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CaseEdge {
    pub from: String,
    pub to: String,
    pub tx: String,
    pub block: u64,
    /// RFC 3339 UTC.
    pub time: String,
    /// Native symbol (`BTC`, `ETH`) or the token contract in lower-case hex.
    pub asset: String,
    pub symbol: Option<String>,
    /// Exact decimal in the asset's units.
    pub amount: String,
    /// Integer base units, as a decimal string (256-bit values do not fit JSON numbers).
    pub amount_raw: String,
    /// The traced part of `amount`, exact decimal in the asset's units.
    pub traced_amount: String,
    /// USD value of `traced_amount` at the transfer's day; `null` when no price is known.
    #[serde(default)]
    pub usd: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CaseDeposit {
    pub address: String,
    pub exchange: String,
    pub asset: String,
    #[serde(default)]
    pub symbol: Option<String>,
    /// Traced amount that entered the deposit address, exact decimal.
    pub amount: String,
    pub usd: Option<String>,
    pub tx: String,
    pub block: u64,
    pub time: String,
    pub hops: u32,
    pub seed: String,
    /// Addresses from the seed to the deposit address, both included.
    pub path: Vec<String>,
}

/// Every parameter of a trace, recorded so the case can be reproduced.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct TraceParams {
    pub direction: String,
    pub hops: u32,
    pub policy: String,
    pub min_amount: Option<String>,
    pub asset: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub seeds_label: Option<String>,
    /// Unlabelled addresses with more transfers than this are reported as stops.
    pub hub_degree: u64,
}

/// What makes a case reproducible: the state it was computed from.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Provenance {
    pub tool_version: String,
    /// Chain name → `{height, hash}` of the store's tip when the trace ran.
    pub store_tips: BTreeMap<String, TipRef>,
    /// Hash of the label set the trace saw.
    pub labels_hash: String,
    /// Price table file the USD values came from, if any.
    #[serde(default)]
    pub prices: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct TipRef {
    pub height: u64,
    pub hash: String,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CaseFile {
    pub version: u32,
    pub chain: String,
    pub seeds: Vec<String>,
    pub params: TraceParams,
    pub provenance: Provenance,
    pub nodes: Vec<CaseNode>,
    pub edges: Vec<CaseEdge>,
    pub deposits: Vec<CaseDeposit>,
}
