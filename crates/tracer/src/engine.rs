//! The hop walk: discover the reachable subgraph hop by hop with batched reads, then replay its
//! transfers in chain order under the chosen taint policy.
//!
//! # Two phases
//!
//! 1. **Discovery** (poison reachability, which contains the result of every policy): a
//!    hop-bounded earliest-arrival search. For each `(address, asset)` it keeps the earliest
//!    arrival of traced funds with at most `h` hops, for `h = 1..=N`; level `h` reads the
//!    outgoing transfers of every address that improved at level `h-1` in one batched call.
//!    Exchanges, deposit addresses, services and unlabelled hubs are reached but not expanded.
//! 2. **Replay**: every transfer that can carry traced funds (poison: the expanded addresses'
//!    outgoing transfers after their earliest arrival; haircut/FIFO: the expanded addresses'
//!    complete histories, so balances are right) is processed once, in chain order, through a
//!    per-`(address, asset)` [`State`]. Traced funds carry their hop count (stratum), so the hop
//!    limit is exact under mixing.
//!
//! # Addresses whose earlier history is not loaded
//!
//! Haircut and FIFO balances are rebuilt from every stored transfer of the address (both
//! directions, from the start of the store). When a transfer leaves with more than the rebuilt
//! balance — history before the ingested range, or value that left without a transfer record —
//! the shortfall is treated as an *untraced opening balance* that was there first: it dilutes
//! the haircut share and is spent first under FIFO. The walk therefore never attributes more to
//! the traced funds than the loaded history proves.
//!
//! # Conversions, bridges and several chains
//!
//! [`trace_chains`] walks one [`GraphSource`] per chain in one case; holdings are per
//! (chain, address, asset). Events are ordered by (block time, chain name, height, transaction
//! index, sub) across chains, by chain order alone in a single-chain walk.
//!
//! - A **conversion** (swap, wrap) of its owner moves the owner's taint from `asset_in` to
//!   `asset_out` at the conversion's position (see [`Parcel::convert`] for the per-policy integer
//!   rules). Its legs — the owner's transfers of `asset_in` sent and `asset_out` received in
//!   that transaction — do not move taint: the pool or router on the other side is never
//!   reached through them, and the owner's balances move by the conversion's amounts.
//! - A **bridge deposit** is matched by its key to a release on another chain that comes after
//!   it; what the deposit carried arrives at the recipient there at the release (scaled by the
//!   released amount, like a conversion). A deposit without such a release ends in a `bridge`
//!   stop at the bridge contract.
//! - Neither adds a hop. Both are followed in forward walks without `--asset`; backward walks
//!   and single-asset walks treat their legs as plain transfers.
//!
//! # Backward traces
//!
//! `--direction backward` runs the same machinery on the time-mirrored graph: edges reversed and
//! chain order reversed ("only transfers before the funds left"). Haircut and FIFO become their
//! mirror images (FIFO backward attributes a departure to the latest earlier arrivals first).
//! Deposits are only flagged forward.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

// FxHash: the walk's maps are keyed by addresses the walk itself reached, and their iteration
// order never reaches the result, so a fast non-keyed hasher is safe (SipHash was 12% of a trace).
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use chaintrace_model::{
    Address, Asset, BridgeEvent, BridgeSide, Category, ChainKind, Conversion, Direction, Hash32, Label, Position, Role,
    Transfer, U256,
};

use crate::policy::{Parcel, Policy, Seg, State};
use crate::source::{BatchRequest, GraphSource, OwnerFlows};

mod dense;
pub(crate) use dense::on_both_cores;

/// Which way the walk goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TraceDirection {
    /// Where did the money go.
    Forward,
    /// Where did it come from.
    Backward,
}

impl TraceDirection {
    /// `forward` or `backward`, as in `--direction` and the case file.
    pub fn as_str(&self) -> &'static str {
        match self {
            TraceDirection::Forward => "forward",
            TraceDirection::Backward => "backward",
        }
    }
}

impl std::str::FromStr for TraceDirection {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "forward" => Ok(TraceDirection::Forward),
            "backward" => Ok(TraceDirection::Backward),
            other => Err(format!("unknown direction {other:?}: expected forward or backward")),
        }
    }
}

/// A `--since`/`--until` bound: a block height or a unix time.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Bound {
    /// A block height (inclusive).
    Height(u64),
    /// A block time, unix seconds UTC (inclusive).
    Time(u64),
}

/// Everything a trace is asked to do.
#[derive(Clone, Debug)]
pub struct TraceOptions {
    /// The addresses the walk starts from; at least one.
    pub seeds: Vec<Address>,
    /// Which way the walk goes.
    pub direction: TraceDirection,
    /// Largest number of transfers followed from a seed, `1..=MAX_HOPS`.
    pub hops: u32,
    /// How traced funds are attributed when they mix with other funds.
    pub policy: Policy,
    /// In the asset's units (`"0.5"`); transfers whose traced amount is below it are not followed.
    pub min_amount: Option<String>,
    /// Follow only this asset; `None` follows every asset.
    pub asset: Option<Asset>,
    /// Ignore transfers before this bound.
    pub since: Option<Bound>,
    /// Ignore transfers after this bound.
    pub until: Option<Bound>,
    /// Unlabelled addresses with more than this many transfers in either direction are stops.
    pub hub_degree: u64,
    /// Ticker of the chain's native coin (`BTC`, `ETH`).
    pub native_symbol: String,
    /// Decimal places of the native coin (8 for sats, 18 for wei).
    pub native_decimals: u8,
}

impl TraceOptions {
    /// Options for a forward trace from `seeds` with the defaults: [`DEFAULT_HOPS`],
    /// [`DEFAULT_POLICY`], [`DEFAULT_HUB_DEGREE`], every asset, no bounds, no minimum.
    pub fn new(seeds: Vec<Address>, native_symbol: &str, native_decimals: u8) -> Self {
        TraceOptions {
            seeds,
            direction: TraceDirection::Forward,
            hops: DEFAULT_HOPS,
            policy: DEFAULT_POLICY,
            min_amount: None,
            asset: None,
            since: None,
            until: None,
            hub_degree: DEFAULT_HUB_DEGREE,
            native_symbol: native_symbol.to_string(),
            native_decimals,
        }
    }

    /// Whether an unlabelled address with `out` transfers out and `inn` in is a hub (a stop,
    /// not expanded): more than `hub_degree` in either direction. The one rule every walk
    /// applies (over addresses, over ids, and the pass over the chain).
    pub(crate) fn is_hub(&self, out: u64, inn: u64) -> bool {
        out > self.hub_degree || inn > self.hub_degree
    }
}

/// The default hub degree: an unlabelled address with more transfers than this in either
/// direction is reported as a `hub` stop, not expanded. The one definition: the CLI's config
/// default (`[tracer] hub_degree`) refers to it.
pub const DEFAULT_HUB_DEGREE: u64 = 1000;
/// The default hop limit (SPEC: `--hops N`, default 6).
pub const DEFAULT_HOPS: u32 = 6;
/// The default taint policy (SPEC: `--policy`, default haircut).
pub const DEFAULT_POLICY: Policy = Policy::Haircut;
/// Largest `--hops` (strata are bits of a `u64`).
pub const MAX_HOPS: u32 = 62;

/// Why a trace could not run.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The graph source failed.
    #[error("reading the transaction graph")]
    Source(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// [`TraceOptions::seeds`] is empty.
    #[error("no seeds to trace from")]
    NoSeeds,
    /// [`TraceOptions::hops`] is 0 or above [`MAX_HOPS`].
    #[error("hop limit {0} is out of range 1..={MAX_HOPS}")]
    Hops(u32),
    /// A walk needs at least one chain (and at most 65535).
    #[error("a walk over {0} chains: give at least one")]
    Chains(usize),
    /// [`TraceOptions::min_amount`] is not a non-negative decimal the asset's decimals can hold.
    #[error("invalid minimum amount {0:?}: expected a non-negative decimal number such as 12.5")]
    MinAmount(String),
}

fn src_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> TraceError {
    TraceError::Source(Box::new(e))
}

/// What is known about an asset for display and thresholds.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AssetInfo {
    /// `BTC`/`ETH`, or the token contract in lower-case hex.
    pub id: String,
    /// Ticker when known (native symbol, or the token's `symbol()`).
    pub symbol: Option<String>,
    /// Decimal places of the asset's base unit (0 for a token that did not say).
    pub decimals: u8,
    /// `--min-amount` in base units for this asset.
    pub min_raw: U256,
}

/// One chain of a walk: its graph and what the case file needs to name and render it.
#[derive(Clone, Debug)]
pub struct WalkChain<S> {
    /// The chain's name in the configuration (labels are matched by the source itself).
    pub name: String,
    /// The chain's kind; a seed is a seed on every chain of the walk whose kind it fits
    /// (`None`: every seed is a seed here).
    pub kind: Option<ChainKind>,
    /// Its transaction graph.
    pub source: S,
    /// Ticker of the chain's native coin (`BTC`, `ETH`).
    pub native_symbol: String,
    /// Decimal places of the native coin.
    pub native_decimals: u8,
}

/// A chain of a finished trace (index `i` of [`Trace::chains`] is the `chain` of its nodes and
/// edges).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ChainInfo {
    /// The chain's name.
    pub name: String,
    /// Its kind, when the caller said.
    pub kind: Option<ChainKind>,
    /// Ticker of its native coin.
    pub native_symbol: String,
    /// Decimal places of its native coin.
    pub native_decimals: u8,
}

/// One address in the result.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TracedNode {
    /// Fewest transfers on any traced path from a seed (0 for seeds).
    pub hop: u32,
    /// What the address is in the trace.
    pub role: Role,
    /// Why a [`Role::Stop`] node was not expanded (`hops`, `hub`, `min_amount`; `bridge` for an
    /// unmatched bridge deposit).
    pub stop_reason: Option<&'static str>,
    /// Every label on the address that applies on its chain.
    pub labels: Vec<Label>,
}

/// What kind of movement a traced edge is.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum EdgeKind {
    /// A transfer between two addresses.
    Transfer,
    /// A conversion by its owner (the edge's `from` and `to`): the edge's `transfer` is the
    /// output side (`asset_out`, `amount_out`), `traced_in` what of `amount_in` was traced.
    Swap {
        /// The conversion (boxed: swaps are rare, and every edge is as large as its largest
        /// kind).
        conversion: Box<Conversion>,
        /// Traced part of `amount_in`, base units of `asset_in`.
        traced_in: U256,
    },
    /// A bridge deposit on the edge's chain; the edge's `transfer` is the deposit side (from
    /// the depositor to the recipient on the other chain, or to the bridge contract when no
    /// release was found).
    Bridge {
        /// The chain index of the release, `None` for an unmatched deposit (a `bridge` stop).
        to_chain: Option<u16>,
        /// The release, when matched.
        release: Option<Box<BridgeEvent>>,
        /// Traced part of the released amount, base units of the release's asset.
        traced_out: U256,
    },
}

/// One movement that carried traced funds.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TracedEdge {
    /// The transfer (for a swap: the owner's output; for a bridge: the deposit).
    pub transfer: Transfer,
    /// The chain the transfer is on (index into [`Trace::chains`]).
    pub chain: u16,
    /// Transfer, swap or bridge.
    pub kind: EdgeKind,
    /// The part of its amount that is traced funds, in base units.
    pub traced: U256,
    /// The fewest transfers from a seed of the traced funds it carries.
    pub hop: u32,
    /// Bit `h` set when it carries funds that travelled `h` transfers.
    pub strata: u64,
    /// `false` when the traced amount is below `--min-amount`: recorded, not followed.
    pub followed: bool,
}

impl TracedEdge {
    /// An edge carrying `traced` in the strata `strata`; its hop is the lowest of them.
    fn new(transfer: Transfer, chain: u16, kind: EdgeKind, traced: U256, strata: u64, followed: bool) -> TracedEdge {
        TracedEdge { transfer, chain, kind, traced, hop: strata.trailing_zeros(), strata, followed }
    }

    /// The chain of the edge's receiving end (a matched bridge's release chain).
    pub fn to_chain(&self) -> u16 {
        match &self.kind {
            EdgeKind::Bridge { to_chain: Some(c), .. } => *c,
            _ => self.chain,
        }
    }

    /// The asset that arrives at the receiving end.
    pub fn to_asset(&self) -> Asset {
        match &self.kind {
            EdgeKind::Bridge { release: Some(r), .. } => r.asset,
            _ => self.transfer.asset,
        }
    }

    /// The holding the traced funds left: (chain, address, asset).
    fn source_holding(&self) -> (u16, &Address, Asset) {
        match &self.kind {
            EdgeKind::Swap { conversion, .. } => (self.chain, &conversion.owner, conversion.asset_in),
            _ => (self.chain, &self.transfer.from, self.transfer.asset),
        }
    }

    /// Transfers add a hop; swaps and bridges do not.
    fn adds_hop(&self) -> bool {
        matches!(self.kind, EdgeKind::Transfer)
    }
}

/// Traced funds entering an exchange deposit address or an exchange.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Deposit {
    /// Index into [`Trace::edges`].
    pub edge: usize,
    /// The exchange the receiving address belongs to (its label's entity).
    pub exchange: String,
    /// The receiving address's label category (`exchange_deposit` or `exchange`).
    pub category: Category,
    /// Hops from the seed to the receiving address.
    pub hops: u32,
    /// The seed the funds came from.
    pub seed: Address,
    /// From the seed to the deposit address, both included.
    pub path: Vec<Address>,
}

/// The result of a trace.
#[derive(Clone, Debug)]
pub struct Trace {
    /// The options the trace ran with.
    pub options: TraceOptions,
    /// The chains of the walk, by index (sorted by name in a multi-chain walk).
    pub chains: Vec<ChainInfo>,
    /// Every address reached, by (chain index, address).
    pub nodes: BTreeMap<(u16, Address), TracedNode>,
    /// In the walk's total order (see [`trace_chains`]).
    pub edges: Vec<TracedEdge>,
    /// In the order of their edges.
    pub deposits: Vec<Deposit>,
    /// Display facts of every asset on an edge, by (chain index, asset).
    pub assets: BTreeMap<(u16, Asset), AssetInfo>,
    /// Work done by the walk.
    pub stats: WalkStats,
}

impl Trace {
    /// The node of `addr` on the first chain (the only one of a single-chain trace).
    pub fn node(&self, addr: &Address) -> Option<&TracedNode> {
        self.nodes.get(&(0, addr.clone()))
    }
}

/// Work done, for logs and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalkStats {
    /// Batched reads of the graph source.
    pub batches: u64,
    /// Transfers those reads returned.
    pub transfers_read: u64,
    /// Addresses whose outgoing transfers were read during discovery.
    pub addresses_expanded: u64,
    /// Transfers processed by the replay phase.
    pub events_replayed: u64,
    /// Label and degree look-ups (stop classification).
    pub lookups: u64,
    /// Wall time of the discovery phase, microseconds.
    pub discover_us: u64,
    /// Of `discover_us`, in the walk over ids: the hops' list reads (on two threads for wide
    /// frontiers), microseconds.
    pub discover_reads_us: u64,
    /// Of `discover_us`, in the walk over ids: the hops' sequential passes over the rows read
    /// (each receiver's earliest arrival per hop count), microseconds.
    pub discover_pass_us: u64,
    /// Wall time of the replay phase, microseconds (the walk over ids: with its edges'
    /// transaction hashes and addresses, and the result's nodes, made while the hashes are read).
    pub replay_us: u64,
    /// Of `replay_us`, in the walk over ids: finding the edges (poison: which rows the
    /// discovery read are edges; haircut and FIFO: their replay, which makes them),
    /// microseconds.
    pub edges_us: u64,
    /// Of `replay_us`, in the walk over ids: making poison's edges and the result's nodes, on
    /// this thread while a second one reads the edges' ends' addresses and then their hashes,
    /// microseconds.
    pub nodes_us: u64,
    /// The edges' hash reads, summed over the threads that did them, microseconds (the second
    /// thread's, beside `nodes_us`, and this one's after it).
    pub hashes_us: u64,
    /// Wall time of assembling the result, microseconds (the nodes, unless the replay made
    /// them; the deposits and their paths).
    pub assemble_us: u64,
    /// The walk ran over the source's dense view (ids and compact rows) rather than over
    /// addresses.
    pub dense: bool,
    /// Passes of the dense walk that read the view on two threads (wide frontiers and
    /// replays).
    pub split_reads: u64,
    /// The walk over ids' FIFO replay read the tracked holdings' lists as traced funds first
    /// reached them (rather than every one of them before it began).
    pub opening_replay: bool,
    /// Addresses whose conversions and bridge deposits were read (walks that follow them).
    pub flow_reads: u64,
    /// Wall time of those reads, microseconds.
    pub flows_us: u64,
    /// [`reach`] made its answer in one pass over the chain-order stream (`discover_us`; its
    /// `transfers_read` are the stream's transfers, beside the lists read before it).
    pub chain_scan: bool,
    /// Of `discover_us`, where the discovery over lists stopped for the pass over the chain:
    /// the time it took before it stopped, microseconds.
    pub discover_lists_us: u64,
}

/// The walk's total order on events, oriented in the walk's direction (backward: reversed):
/// `(block time, chain index, height, tx index, sub, rank)`. A single-chain walk leaves the time
/// at 0, so it orders by chain order alone (as version 1 did; Bitcoin block times need not
/// increase). `rank` puts a conversion or bridge event after the transfer that shares its
/// position (its first leg).
type OKey = (u64, u16, u64, u32, u32, u8);
const OKEY_MIN: OKey = (0, 0, 0, 0, 0, 0);
const OKEY_MAX: OKey = (u64::MAX, u16::MAX, u64::MAX, u32::MAX, u32::MAX, u8::MAX);

/// (chain index, address).
pub(crate) type Node = (u16, Address);
/// (chain index, address, asset): what taint is kept per.
type Holding = (u16, Address, Asset);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Seed,
    Expand,
    Pool(Role),
    Hub,
}

/// A bridge deposit the walk may follow, with its release when one was found after it.
#[derive(Clone, Debug)]
struct Crossing {
    chain: u16,
    deposit: BridgeEvent,
    owner: Address,
    release: Option<(u16, BridgeEvent)>,
}

/// One event of the replay.
#[derive(Clone, Debug)]
enum Ev {
    Transfer(u16, Transfer),
    Convert(u16, Conversion),
    BridgeOut(usize),
    BridgeIn(usize),
}

struct Walker<'a, S: GraphSource> {
    chains: &'a [WalkChain<S>],
    opts: &'a TraceOptions,
    fwd: bool,
    multi: bool,
    /// Conversions and bridges are followed (forward walks without `--asset`).
    flows: bool,
    seeds: BTreeSet<Node>,
    /// The seeds' addresses on any chain (a cheap first test before `seeds`).
    seed_addrs: HashSet<Address>,
    labels: HashMap<Node, Vec<Label>>,
    class: HashMap<Node, Class>,
    /// Earliest arrival with exactly `h` hops at index `h` (`0..=N`); read as a prefix minimum.
    best: HashMap<Holding, Vec<OKey>>,
    /// Outgoing (oriented) transfers of expanded addresses, and the key they were read after.
    outs: HashMap<Node, (OKey, Vec<Transfer>)>,
    /// Conversions owned by expanded addresses (forward walks), in chain order.
    convs: HashMap<Node, Vec<Conversion>>,
    /// Bridge deposits of expanded addresses, as indices into `crossings`.
    deps: HashMap<Node, Vec<usize>>,
    crossings: Vec<Crossing>,
    /// Legs of conversions and bridge events: (chain, tx, owner, asset) sent / received.
    legs_out: HashSet<(u16, Hash32, Address, Asset)>,
    legs_in: HashSet<(u16, Hash32, Address, Asset)>,
    assets: BTreeMap<(u16, Asset), AssetInfo>,
    min_text: Option<String>,
    stats: WalkStats,
}

/// Run a trace over one chain's graph `src` (named by nothing; the native coin from
/// [`TraceOptions::native_symbol`]). Conversions and bridge deposits `src` reports are
/// followed; a bridge release can only be found on another chain (see [`trace_chains`]).
pub fn trace<S: GraphSource>(src: &S, opts: &TraceOptions) -> Result<Trace, TraceError> {
    trace_chains(std::slice::from_ref(&one_chain(src, opts)), opts)
}

/// `src` as the one chain of a walk, named by nothing, its native coin from `opts`.
fn one_chain<'s, S: GraphSource>(src: &'s S, opts: &TraceOptions) -> WalkChain<&'s S> {
    WalkChain {
        name: String::new(),
        kind: None,
        source: src,
        native_symbol: opts.native_symbol.clone(),
        native_decimals: opts.native_decimals,
    }
}

/// Run one trace over several chains' graphs (SPEC "One walk over several chains and assets").
///
/// The chains are taken in the order of their names (their indices in the result). Events
/// across chains are ordered by block time, then chain name, then chain order
/// (height, transaction index, position in it); a single chain orders by chain order alone. A
/// seed is a seed on every chain whose kind it fits (an EVM key on every EVM chain). A bridge
/// deposit on one chain is matched by its key to a release on another chain that comes after
/// it in this order; the traced share crosses to the recipient there. Conversions and bridges
/// are followed in forward walks without `--asset`; backward walks and single-asset walks
/// treat their legs as plain transfers.
pub fn trace_chains<S: GraphSource>(chains: &[WalkChain<S>], opts: &TraceOptions) -> Result<Trace, TraceError> {
    with_walker(chains, opts, |w| w.walk())
}

/// Every address a poison trace with `opts` over `src` reaches — its seeds (hop 0) and each
/// address traced funds can arrive at within `--hops` transfers in time order (the trace's
/// nodes) — with the fewest hops it is reached in: the screening question (is this deposit
/// address downstream of a sanctioned wallet?) without the case. `opts.policy` is not read:
/// what a policy passes on differs, where it can go does not.
///
/// Over a source with a dense view (a snapshot) it is the walk over ids' discovery and one pass
/// over the rows it read: no edges, hashes, roles or deposits are made. Elsewhere (no dense
/// view, or conversions and bridges to follow) it is the poison trace's nodes.
pub fn reach<S: GraphSource>(src: &S, opts: &TraceOptions) -> Result<Reach, TraceError> {
    reach_by(src, opts, ReachBy::Auto)
}

/// How [`reach_by`] walks a source with a dense view (elsewhere it walks addresses).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReachBy {
    /// Over the lists while the reach reads a small share of the chain, else over the chain.
    #[default]
    Auto,
    /// Over the addresses' lists, level by level (the discovery).
    Lists,
    /// One pass over the whole chain in time order, where the view has a chain-order stream
    /// and no `--min-amount` is set (else over the lists).
    Chain,
}

/// [`reach`], walked as `by` says. The answer is the same every way; [`WalkStats::chain_scan`]
/// tells whether the pass over the chain made it.
pub fn reach_by<S: GraphSource>(src: &S, opts: &TraceOptions, by: ReachBy) -> Result<Reach, TraceError> {
    let opts = TraceOptions { policy: Policy::Poison, ..opts.clone() };
    with_walker(std::slice::from_ref(&one_chain(src, &opts)), &opts, |mut w| match dense::view_for(&w, w.chains)? {
        // (conversions to follow: the trace's nodes, over ids where it can)
        Some(view) if !dense::follows_flows(&w, view) => {
            let nodes = w.reach_dense(view, by)?;
            Ok(Reach { nodes, stats: w.stats })
        }
        _ => {
            // (the trace's nodes are in address order)
            let t = w.walk()?;
            Ok(Reach { nodes: t.nodes.into_iter().map(|((_, a), n)| (a, n.hop)).collect(), stats: t.stats })
        }
    })
}

/// What [`reach`] finds.
#[derive(Clone, Debug, Default)]
pub struct Reach {
    /// Each address reached, with the fewest transfers from a seed it is reached in (a seed's:
    /// 0), in address order ([`Reach::hops`] finds one).
    pub nodes: Vec<(Address, u32)>,
    /// Counters, as a trace's ([`WalkStats`]; the walk over ids makes no edges: `replay_us` is
    /// its pass over the rows read and the addresses).
    pub stats: WalkStats,
}

impl Reach {
    /// The fewest hops `addr` is reached in, if it is.
    pub fn hops(&self, addr: &Address) -> Option<u32> {
        self.nodes.binary_search_by(|(a, _)| a.cmp(addr)).ok().map(|i| self.nodes[i].1)
    }
}

/// `f` on a walker over `chains` with `opts`, once the options are checked and the seeds found
/// on the chains they fit.
fn with_walker<S: GraphSource, R>(
    chains: &[WalkChain<S>],
    opts: &TraceOptions,
    f: impl FnOnce(Walker<'_, &S>) -> Result<R, TraceError>,
) -> Result<R, TraceError> {
    if opts.seeds.is_empty() {
        return Err(TraceError::NoSeeds);
    }
    if opts.hops == 0 || opts.hops > MAX_HOPS {
        return Err(TraceError::Hops(opts.hops));
    }
    if chains.is_empty() || chains.len() > usize::from(u16::MAX) {
        return Err(TraceError::Chains(chains.len()));
    }
    if let Some(m) = &opts.min_amount {
        // validate the syntax once; per-asset scaling happens when the asset is first seen
        if ceil_units(m, 0).is_none() {
            return Err(TraceError::MinAmount(m.clone()));
        }
    }
    let mut order: Vec<&WalkChain<S>> = chains.iter().collect();
    order.sort_by(|a, b| a.name.cmp(&b.name));
    let sorted: Vec<WalkChain<&S>> = order
        .iter()
        .map(|c| WalkChain {
            name: c.name.clone(),
            kind: c.kind,
            source: &c.source,
            native_symbol: c.native_symbol.clone(),
            native_decimals: c.native_decimals,
        })
        .collect();
    let mut seeds = BTreeSet::new();
    for (i, c) in sorted.iter().enumerate() {
        for s in &opts.seeds {
            if c.kind.is_none_or(|k| s.fits(k)) {
                seeds.insert((i as u16, s.clone()));
            }
        }
    }
    if seeds.is_empty() {
        return Err(TraceError::NoSeeds);
    }
    let fwd = opts.direction == TraceDirection::Forward;
    let w = Walker {
        chains: &sorted,
        opts,
        fwd,
        multi: sorted.len() > 1,
        flows: fwd && opts.asset.is_none(),
        seed_addrs: seeds.iter().map(|(_, a)| a.clone()).collect(),
        seeds,
        labels: HashMap::default(),
        class: HashMap::default(),
        best: HashMap::default(),
        outs: HashMap::default(),
        convs: HashMap::default(),
        deps: HashMap::default(),
        crossings: Vec::new(),
        legs_out: HashSet::default(),
        legs_in: HashSet::default(),
        assets: BTreeMap::new(),
        min_text: opts.min_amount.clone(),
        stats: WalkStats::default(),
    };
    f(w)
}

impl<S: GraphSource> Walker<'_, &S> {
    /// The whole trace: discovery, replay, and the result assembled.
    fn walk(mut self) -> Result<Trace, TraceError> {
        // one chain with dense ids: the same walk over ids, unless it meets a flow the view
        // cannot stand for (see `dense`): the walk over addresses then starts afresh
        let dense = match dense::view_for(&self, self.chains)? {
            Some(view) => self.walk_dense(view)?,
            None => None,
        };
        let (edges, dense) = match dense {
            Some((edges, nodes, ends)) => (edges, Some((nodes, ends))),
            None => {
                if self.stats.dense {
                    self.restart();
                }
                let t0 = std::time::Instant::now();
                self.discover()?;
                let t1 = std::time::Instant::now();
                let edges = self.replay()?;
                self.stats.discover_us = (t1 - t0).as_micros() as u64;
                self.stats.replay_us = t1.elapsed().as_micros() as u64;
                (edges, None)
            }
        };
        let t2 = std::time::Instant::now();
        let mut result = self.assemble(edges, dense)?;
        result.stats.assemble_us = t2.elapsed().as_micros() as u64;
        Ok(result)
    }
}

impl<S: GraphSource> Walker<'_, &S> {
    /// Forgets what a walk found (labels, classes, arrivals, lists, flows, assets, counters),
    /// keeping the options and seeds: for the walk over addresses after the walk over ids gave
    /// up part-way.
    fn restart(&mut self) {
        self.labels.clear();
        self.class.clear();
        self.best.clear();
        self.outs.clear();
        self.convs.clear();
        self.deps.clear();
        self.crossings.clear();
        self.legs_out.clear();
        self.legs_in.clear();
        self.assets.clear();
        self.stats = WalkStats::default();
    }

    fn src(&self, c: u16) -> &S {
        self.chains[usize::from(c)].source
    }

    fn key_at(&self, c: u16, height: u64, time: u64, pos: Position, rank: u8) -> OKey {
        // (ranks from 1: the chain's first transfer, at height 0, position 0/0, comes after the
        // seeds' "before everything", `OKEY_MIN`, not at it)
        let k = (if self.multi { time } else { 0 }, c, height, pos.tx_index, pos.sub, rank + 1);
        if self.fwd {
            k
        } else {
            (!k.0, !k.1, !k.2, !k.3, !k.4, !k.5)
        }
    }

    fn okey(&self, c: u16, t: &Transfer) -> OKey {
        self.key_at(c, t.height, t.time, t.pos, 0)
    }

    fn ev_key(&self, e: &Ev) -> OKey {
        match e {
            Ev::Transfer(c, t) => self.okey(*c, t),
            Ev::Convert(c, v) => self.key_at(*c, v.height, v.time, v.pos, 1),
            Ev::BridgeOut(i) => {
                let x = &self.crossings[*i];
                self.key_at(x.chain, x.deposit.height, x.deposit.time, x.deposit.pos, 1)
            }
            Ev::BridgeIn(i) => match &self.crossings[*i].release {
                Some((c, r)) => self.key_at(*c, r.height, r.time, r.pos, 2),
                None => OKEY_MAX,
            },
        }
    }

    /// (sender, receiver) in the walk's direction.
    fn ends<'t>(&self, t: &'t Transfer) -> (&'t Address, &'t Address) {
        if self.fwd {
            (&t.from, &t.to)
        } else {
            (&t.to, &t.from)
        }
    }

    fn out_dir(&self) -> Direction {
        if self.fwd {
            Direction::Out
        } else {
            Direction::In
        }
    }

    fn in_bounds(&self, height: u64, time: u64) -> bool {
        in_bounds(self.opts, height, time)
    }

    fn allowed(&self, t: &Transfer) -> bool {
        if self.opts.asset.is_some_and(|a| a != t.asset) {
            return false;
        }
        self.in_bounds(t.height, t.time)
    }

    fn is_seed(&self, c: u16, a: &Address) -> bool {
        self.seed_addrs.contains(a) && self.seeds.contains(&(c, a.clone()))
    }

    /// `t` is the owner's side of a conversion or a bridge deposit (sent) on chain `c`.
    fn is_out_leg(&self, c: u16, t: &Transfer) -> bool {
        self.flows && !self.legs_out.is_empty() && self.legs_out.contains(&(c, t.tx, t.from.clone(), t.asset))
    }

    /// `t` is the owner's side of a conversion or a bridge release (received) on chain `c`.
    fn is_in_leg(&self, c: u16, t: &Transfer) -> bool {
        self.flows && !self.legs_in.is_empty() && self.legs_in.contains(&(c, t.tx, t.to.clone(), t.asset))
    }

    fn asset(&mut self, c: u16, a: Asset) -> Result<&AssetInfo, TraceError> {
        if !self.assets.contains_key(&(c, a)) {
            let info = self.asset_info(c, a)?;
            self.assets.insert((c, a), info);
        }
        Ok(&self.assets[&(c, a)])
    }

    /// The display facts and `--min-amount` of `a` on chain `c`, not recorded in the result
    /// (`asset` records them).
    fn asset_info(&self, c: u16, a: Asset) -> Result<AssetInfo, TraceError> {
        let chain = &self.chains[usize::from(c)];
        let (id, symbol, decimals) = match a {
            Asset::Native => (chain.native_symbol.clone(), Some(chain.native_symbol.clone()), chain.native_decimals),
            Asset::Token(t) | Asset::TronToken(t) => {
                let meta = chain.source.token_meta(&t).map_err(src_err)?;
                let (symbol, decimals) = meta.map_or((None, 0), |m| (m.symbol, m.decimals.unwrap_or(0)));
                (a.display(&chain.native_symbol), symbol, decimals)
            }
            // A TRC-10 asset's precision is not in the block data: amounts stay raw.
            Asset::Trc10(_) => (a.display(&chain.native_symbol), None, 0),
        };
        let min_raw = match &self.min_text {
            Some(m) => ceil_units(m, decimals).ok_or_else(|| TraceError::MinAmount(m.clone()))?,
            None => U256::ZERO,
        };
        Ok(AssetInfo { id, symbol, decimals, min_raw })
    }

    fn earliest(&self, c: u16, addr: &Address, asset: Asset, hops: u32) -> OKey {
        if self.is_seed(c, addr) {
            return OKEY_MIN;
        }
        match self.best.get(&(c, addr.clone(), asset)) {
            Some(v) => v[..=hops as usize].iter().copied().min().unwrap_or(OKEY_MAX),
            None => OKEY_MAX,
        }
    }

    /// Record an arrival at `holding` with `h` hops at `k`; true when it is earlier than any
    /// arrival with at most `h` hops so far.
    fn improve(&mut self, holding: Holding, h: u32, k: OKey) -> bool {
        if k >= self.earliest(holding.0, &holding.1, holding.2, h) {
            return false;
        }
        let n = self.opts.hops as usize;
        let v = self.best.entry(holding).or_insert_with(|| vec![OKEY_MAX; n + 1]);
        v[h as usize] = v[h as usize].min(k);
        true
    }

    fn real_key(k: OKey, fwd: bool) -> Option<(u64, Position)> {
        if !fwd || k == OKEY_MIN {
            return None;
        }
        Some((k.2, Position { tx_index: k.3, sub: k.4 }))
    }

    /// Read the outgoing (oriented) transfers of `addrs` strictly after each one's key, one
    /// batched call per chain, into the cache.
    fn load_outs(&mut self, need: BTreeMap<Node, OKey>) -> Result<(), TraceError> {
        let need: Vec<(Node, OKey)> =
            need.into_iter().filter(|(a, k)| self.outs.get(a).is_none_or(|(have, _)| *k < *have)).collect();
        for c in 0..self.chains.len() as u16 {
            let mine: Vec<&(Node, OKey)> = need.iter().filter(|((nc, _), _)| *nc == c).collect();
            if mine.is_empty() {
                continue;
            }
            // strictly after k: the store's `after` is exclusive; the seed key excludes nothing.
            // In a multi-chain walk the key's chain order is the same as the store's within a
            // chain, so the read is the same.
            let reqs: Vec<BatchRequest> =
                mine.iter().map(|((_, a), k)| (a.clone(), Self::real_key(*k, self.fwd), usize::MAX)).collect();
            let lists = self.src(c).transfers_batch(&reqs, self.out_dir()).map_err(src_err)?;
            self.stats.batches += 1;
            for ((node, k), list) in mine.into_iter().zip(lists) {
                self.stats.transfers_read += list.len() as u64;
                let k = *k;
                let mut list: Vec<Transfer> = if self.fwd {
                    list
                } else {
                    let mut l: Vec<Transfer> =
                        list.into_iter().filter(|t| k == OKEY_MIN || self.okey(c, t) > k).collect();
                    l.reverse();
                    l
                };
                list.retain(|t| self.allowed(t));
                self.outs.insert(node.clone(), (k, list));
            }
        }
        Ok(())
    }

    /// Conversions and bridge deposits of newly expanded addresses (forward walks), and the
    /// releases of those deposits on the walk's chains.
    fn load_flows(&mut self, nodes: &[Node]) -> Result<(), TraceError> {
        if !self.flows {
            return Ok(());
        }
        // the nodes not loaded yet (each once, in the order given), and their rows read per
        // chain in one call each
        let mut todo: Vec<&Node> = Vec::new();
        let mut seen: HashSet<&Node> = HashSet::default();
        for node in nodes {
            if !self.convs.contains_key(node) && seen.insert(node) {
                todo.push(node);
            }
        }
        // (per node of `todo`, at its place)
        let mut read: Vec<OwnerFlows> = vec![OwnerFlows::default(); todo.len()];
        for c in 0..self.chains.len() as u16 {
            let mine: Vec<usize> = (0..todo.len()).filter(|&i| todo[i].0 == c).collect();
            if mine.is_empty() {
                continue;
            }
            let addrs: Vec<Address> = mine.iter().map(|&i| todo[i].1.clone()).collect();
            let at = std::time::Instant::now();
            let rows = self.src(c).flows_batch(&addrs).map_err(src_err)?;
            self.stats.flows_us += at.elapsed().as_micros() as u64;
            self.stats.flow_reads += addrs.len() as u64;
            if rows.len() != mine.len() {
                return Err(TraceError::Source(
                    format!("the source gave flows for {} of {} addresses", rows.len(), mine.len()).into(),
                ));
            }
            for (i, r) in mine.into_iter().zip(rows) {
                read[i] = r;
            }
        }
        for (node, (mut convs, mut deps)) in todo.into_iter().zip(read) {
            let (c, addr) = node;
            convs.retain(|v| kept_conversion(self.opts, v, |o| o == addr));
            convs.sort_by_key(|v| (v.height, v.pos));
            for v in &convs {
                self.legs_out.insert((*c, v.tx, addr.clone(), v.asset_in));
                self.legs_in.insert((*c, v.tx, addr.clone(), v.asset_out));
            }
            deps.retain(|d| kept_deposit(self.opts, d, |o| o == addr));
            deps.sort_by_key(|d| (d.height, d.pos));
            let mut idx = Vec::new();
            for d in deps {
                self.legs_out.insert((*c, d.tx, addr.clone(), d.asset));
                let dk = self.key_at(*c, d.height, d.time, d.pos, 1);
                let mut release = None;
                for rc in 0..self.chains.len() as u16 {
                    if rc == *c {
                        continue;
                    }
                    let Some(r) = self.src(rc).bridge_release(&d.key).map_err(src_err)? else { continue };
                    // a release is only a release of this deposit when it comes after it
                    if !matches!(r.side, BridgeSide::Release { .. })
                        || self.key_at(rc, r.height, r.time, r.pos, 2) <= dk
                    {
                        continue;
                    }
                    if let BridgeSide::Release { recipient } = &r.side {
                        self.legs_in.insert((rc, r.tx, recipient.clone(), r.asset));
                    }
                    release = Some((rc, r));
                    break;
                }
                idx.push(self.crossings.len());
                self.crossings.push(Crossing { chain: *c, deposit: d, owner: addr.clone(), release });
            }
            self.convs.insert(node.clone(), convs);
            self.deps.insert(node.clone(), idx);
        }
        Ok(())
    }

    /// Labels and pooling class of newly reached addresses (one pass per hop level).
    fn classify(&mut self, addrs: &BTreeSet<Node>) -> Result<(), TraceError> {
        for a in addrs {
            if self.class.contains_key(a) {
                continue;
            }
            if self.seeds.contains(a) {
                self.class.insert(a.clone(), Class::Seed);
                continue;
            }
            let labels = self.src(a.0).labels(&a.1).map_err(src_err)?;
            self.stats.lookups += 1;
            let class = match pooling_role(&labels) {
                Some(role) => Class::Pool(role),
                None => Class::Expand,
            };
            self.labels.insert(a.clone(), labels);
            self.class.insert(a.clone(), class);
        }
        Ok(())
    }

    /// An unlabelled address about to be expanded is a hub when it has more than `hub_degree`
    /// transfers in either direction (counted on the store's adjacency index, without reading
    /// the transfers themselves).
    fn check_hubs(&mut self, frontier: &BTreeMap<Node, OKey>) -> Result<(), TraceError> {
        let cap = self.opts.hub_degree.saturating_add(1);
        for a in frontier.keys() {
            if self.seeds.contains(a) || self.class.get(a) != Some(&Class::Expand) {
                continue;
            }
            if !self.labels.get(a).is_none_or(|l| l.is_empty()) {
                continue;
            }
            // both directions at once (a source finds the address once); counted as the two
            // look-ups they are
            let (out, inn) = self.src(a.0).degrees(&a.1, cap).map_err(src_err)?;
            self.stats.lookups += 2;
            if self.opts.is_hub(out, inn) {
                self.class.insert(a.clone(), Class::Hub);
            }
        }
        Ok(())
    }

    /// Within one hop level: conversions carry an owner's arrival at level `lvl` from one asset
    /// to another, and matched bridge deposits carry it to the recipient on the other chain,
    /// without adding a hop. Newly reached recipients join `frontier`. Repeats until nothing
    /// improves (a swap then a bridge then a swap …).
    fn close_flows(&mut self, frontier: &mut BTreeMap<Node, OKey>, lvl: u32) -> Result<(), TraceError> {
        if !self.flows {
            return Ok(());
        }
        let mut todo: Vec<Node> = frontier.keys().cloned().collect();
        while !todo.is_empty() {
            self.load_flows(&todo)?;
            let mut next: BTreeSet<Node> = BTreeSet::new();
            for node in std::mem::take(&mut todo) {
                let (c, addr) = node.clone();
                if self.is_seed(c, &addr) && lvl > 0 {
                    continue;
                }
                // conversions in chain order, so a chain of them within the address closes in
                // one pass
                let convs = self.convs.get(&node).cloned().unwrap_or_default();
                for v in &convs {
                    let k = self.key_at(c, v.height, v.time, v.pos, 1);
                    if k <= self.earliest(c, &addr, v.asset_in, lvl) || v.amount_out.is_zero() {
                        continue;
                    }
                    if v.amount_out < self.asset(c, v.asset_out)?.min_raw {
                        continue;
                    }
                    if self.improve((c, addr.clone(), v.asset_out), lvl, k) {
                        next.insert(node.clone());
                    }
                }
                let deps = self.deps.get(&node).cloned().unwrap_or_default();
                for i in deps {
                    let x = &self.crossings[i];
                    let k = self.key_at(c, x.deposit.height, x.deposit.time, x.deposit.pos, 1);
                    if k <= self.earliest(c, &addr, x.deposit.asset, lvl) {
                        continue;
                    }
                    let Some((rc, r)) = x.release.clone() else { continue };
                    let BridgeSide::Release { recipient } = &r.side else { continue };
                    let rk = self.key_at(rc, r.height, r.time, r.pos, 2);
                    let rnode = (rc, recipient.clone());
                    if self.seeds.contains(&rnode) {
                        continue;
                    }
                    if self.improve((rc, recipient.clone(), r.asset), lvl, rk) {
                        let one: BTreeSet<Node> = [rnode.clone()].into();
                        self.classify(&one)?;
                        if self.class.get(&rnode) == Some(&Class::Expand) {
                            let e = frontier.entry(rnode.clone()).or_insert(rk);
                            *e = (*e).min(rk);
                            next.insert(rnode);
                        }
                    }
                }
            }
            todo = next.into_iter().collect();
        }
        Ok(())
    }

    /// The seeds, classed as such with their labels read (both walks start here).
    fn class_seeds(&mut self) -> Result<Vec<Node>, TraceError> {
        let seeds: Vec<Node> = self.seeds.iter().cloned().collect();
        for s in &seeds {
            self.class.insert(s.clone(), Class::Seed);
            let labels = self.src(s.0).labels(&s.1).map_err(src_err)?;
            self.labels.insert(s.clone(), labels);
        }
        Ok(seeds)
    }

    fn discover(&mut self) -> Result<(), TraceError> {
        let n = self.opts.hops;
        let seeds = self.class_seeds()?;
        let mut frontier: BTreeMap<Node, OKey> = seeds.into_iter().map(|s| (s, OKEY_MIN)).collect();
        for h in 1..=n {
            self.close_flows(&mut frontier, h - 1)?;
            if frontier.is_empty() {
                break;
            }
            self.check_hubs(&frontier)?;
            frontier.retain(|a, _| matches!(self.class.get(a), Some(Class::Expand | Class::Seed)));
            self.load_outs(frontier.clone())?;
            self.stats.addresses_expanded += frontier.len() as u64;
            let mut improved: BTreeMap<Node, OKey> = BTreeMap::new();
            let mut reached: BTreeSet<Node> = BTreeSet::new();
            for x in frontier.keys() {
                // taken out of the cache while the walk reads `self` (not cloned), put back below
                let Some((_, list)) = self.outs.get_mut(x) else { continue };
                let list = std::mem::take(list);
                let c = x.0;
                for t in &list {
                    let k = self.okey(c, t);
                    if k <= self.earliest(c, &x.1, t.asset, h - 1) {
                        continue;
                    }
                    if self.is_out_leg(c, t) {
                        // the owner's side of a swap or a bridge deposit: the pool or bridge
                        // is not tainted; the conversion or crossing carries the funds on
                        continue;
                    }
                    let min_raw = self.asset(c, t.asset)?.min_raw;
                    let (_, dst) = self.ends(t);
                    if t.amount < min_raw || t.amount.is_zero() || self.is_seed(c, dst) {
                        continue;
                    }
                    if self.improve((c, dst.clone(), t.asset), h, k) {
                        let node = (c, dst.clone());
                        let e = improved.entry(node.clone()).or_insert(k);
                        *e = (*e).min(k);
                        reached.insert(node);
                    }
                }
                if let Some(e) = self.outs.get_mut(x) {
                    e.1 = list;
                }
            }
            if h == n {
                break;
            }
            self.classify(&reached)?;
            frontier = improved.into_iter().filter(|(a, _)| self.class.get(a) == Some(&Class::Expand)).collect();
        }
        Ok(())
    }

    /// The holdings whose state is tracked: reached with fewer than N hops and expandable.
    fn tracked(&self) -> BTreeSet<Holding> {
        let n = self.opts.hops;
        self.best
            .keys()
            .filter(|(c, a, asset)| {
                self.class.get(&(*c, a.clone())) == Some(&Class::Expand)
                    && self.earliest(*c, a, *asset, n - 1) != OKEY_MAX
            })
            .cloned()
            .collect()
    }

    fn replay(&mut self) -> Result<Vec<TracedEdge>, TraceError> {
        let policy = self.opts.policy;
        let n = self.opts.hops;
        let tracked = self.tracked();
        let mut states: HashMap<Holding, State> = tracked.iter().map(|k| (k.clone(), State::new(policy, n))).collect();

        // the events to replay
        let mut events: Vec<Ev> = Vec::new();
        let seed_list: Vec<Node> = self.seeds.iter().cloned().collect();
        for s in &seed_list {
            if let Some((_, l)) = self.outs.get(s) {
                events.extend(l.iter().map(|t| Ev::Transfer(s.0, t.clone())));
            }
        }
        // the tracked assets of each address: one look-up per address instead of a hash of
        // (chain, address, asset) per transfer when collecting events
        let mut held: BTreeMap<Node, Vec<Asset>> = BTreeMap::new();
        for (c, a, asset) in &tracked {
            held.entry((*c, a.clone())).or_default().push(*asset);
        }
        let addrs: BTreeSet<Node> = held.keys().cloned().collect();
        // Bitcoin FIFO runs through each transaction's inputs to its outputs (forward walks of
        // one chain)
        let utxo = policy == Policy::Fifo
            && self.fwd
            && self.chains.len() == 1
            && self.src(0).tx_inputs(&Hash32::ZERO).map_err(src_err)?.is_some();
        match policy {
            _ if utxo => {
                for a in &addrs {
                    if let Some((_, l)) = self.outs.get(a) {
                        events.extend(l.iter().map(|t| Ev::Transfer(a.0, t.clone())));
                    }
                }
            }
            Policy::Poison => {
                for (a, mine) in &held {
                    if let Some((_, l)) = self.outs.get(a) {
                        events
                            .extend(l.iter().filter(|t| mine.contains(&t.asset)).map(|t| Ev::Transfer(a.0, t.clone())));
                    }
                }
            }
            Policy::Haircut | Policy::Fifo => {
                for c in 0..self.chains.len() as u16 {
                    let mine: Vec<&Node> = addrs.iter().filter(|(nc, _)| *nc == c).collect();
                    if mine.is_empty() {
                        continue;
                    }
                    let reqs: Vec<BatchRequest> = mine.iter().map(|(_, a)| (a.clone(), None, usize::MAX)).collect();
                    for dir in [Direction::Out, Direction::In] {
                        let lists = self.src(c).transfers_batch(&reqs, dir).map_err(src_err)?;
                        self.stats.batches += 1;
                        for (a, list) in mine.iter().zip(lists) {
                            self.stats.transfers_read += list.len() as u64;
                            let assets = held.get(*a).map(Vec::as_slice).unwrap_or_default();
                            events.extend(
                                list.into_iter().filter(|t| assets.contains(&t.asset)).map(|t| Ev::Transfer(c, t)),
                            );
                        }
                    }
                }
            }
        }
        if self.flows && !utxo {
            // every conversion and bridge deposit of a seed or tracked owner (their whole
            // history: haircut and FIFO balances count them), and the matched releases
            let owners: Vec<Node> = seed_list.iter().chain(addrs.iter()).cloned().collect();
            self.load_flows(&owners)?;
            for o in &owners {
                for v in self.convs.get(o).into_iter().flatten() {
                    events.push(Ev::Convert(o.0, v.clone()));
                }
                for &i in self.deps.get(o).into_iter().flatten() {
                    events.push(Ev::BridgeOut(i));
                    if self.crossings[i].release.is_some() {
                        events.push(Ev::BridgeIn(i));
                    }
                }
            }
        }
        // Sort (key, index) pairs, not the events themselves (a `Transfer` is ~150 bytes): the
        // index breaks ties, so the first event of each key is kept, as a stable sort would.
        let mut order: Vec<(OKey, usize)> = events.iter().enumerate().map(|(i, e)| (self.ev_key(e), i)).collect();
        order.sort_unstable();
        order.dedup_by_key(|(k, _)| *k);
        self.stats.events_replayed = order.len() as u64;
        // the events are read in place, in key order (not moved into a second vector)
        if utxo {
            let transfers = order
                .iter()
                .filter_map(|(_, i)| match &events[*i] {
                    Ev::Transfer(_, t) => Some(t.clone()),
                    _ => None,
                })
                .collect();
            let tracked2: BTreeSet<(Address, Asset)> = tracked.iter().map(|(_, a, s)| (a.clone(), *s)).collect();
            return self.replay_utxo(transfers, &tracked2);
        }

        let mut edges = Vec::new();
        // what each bridge deposit carried, until its release
        let mut in_flight: HashMap<usize, Parcel> = HashMap::default();
        for &(_, i) in &order {
            match events[i] {
                Ev::Transfer(c, ref t) => {
                    let (from, to) = self.ends(t);
                    let allowed = self.allowed(t);
                    let out_leg = self.is_out_leg(c, t);
                    let in_leg = self.is_in_leg(c, t);
                    let parcel = if out_leg {
                        // the conversion or crossing moves the owner's funds
                        None
                    } else if self.is_seed(c, from) {
                        allowed.then(|| Parcel::seed(policy, t.amount))
                    } else {
                        states.get_mut(&(c, from.clone(), t.asset)).map(|st| st.send(t.amount)).filter(|_| allowed)
                    };
                    let parcel = if in_leg { None } else { parcel.map(|p| p.advance(n)) };
                    let mut carried = None;
                    if let Some(p) = parcel {
                        let traced = p.traced(t.amount);
                        let strata = p.mask();
                        if !traced.is_zero() && strata != 0 {
                            let followed = traced >= self.asset(c, t.asset)?.min_raw;
                            edges.push(TracedEdge::new(t.clone(), c, EdgeKind::Transfer, traced, strata, followed));
                            if followed {
                                carried = Some(p);
                            }
                        }
                    }
                    if !in_leg {
                        if let Some(st) = states.get_mut(&(c, to.clone(), t.asset)) {
                            st.receive(t.amount, carried.as_ref());
                        }
                    }
                }
                Ev::Convert(c, ref v) => {
                    let owner = v.owner.clone();
                    let parcel = if self.is_seed(c, &owner) {
                        Some(Parcel::seed(policy, v.amount_in))
                    } else {
                        states.get_mut(&(c, owner.clone(), v.asset_in)).map(|st| st.send(v.amount_in).within(n))
                    };
                    let mut carried = None;
                    if let Some(p) = parcel {
                        let traced_in = p.traced(v.amount_in);
                        let out = p.convert(v.amount_in, v.amount_out);
                        let traced = out.traced(v.amount_out);
                        let strata = out.mask();
                        if !traced.is_zero() && strata != 0 {
                            let followed = traced >= self.asset(c, v.asset_out)?.min_raw;
                            edges.push(TracedEdge::new(
                                swap_transfer(v),
                                c,
                                EdgeKind::Swap { conversion: Box::new(v.clone()), traced_in },
                                traced,
                                strata,
                                followed,
                            ));
                            if followed {
                                carried = Some(out);
                            }
                        }
                    }
                    if !self.is_seed(c, &owner) {
                        if let Some(st) = states.get_mut(&(c, owner, v.asset_out)) {
                            st.receive(v.amount_out, carried.as_ref());
                        }
                    }
                }
                Ev::BridgeOut(i) => {
                    let x = &self.crossings[i];
                    let (c, owner, d) = (x.chain, x.owner.clone(), x.deposit.clone());
                    let parcel = if self.is_seed(c, &owner) {
                        Some(Parcel::seed(policy, d.amount))
                    } else {
                        states.get_mut(&(c, owner.clone(), d.asset)).map(|st| st.send(d.amount).within(n))
                    };
                    let Some(p) = parcel else { continue };
                    let traced = p.traced(d.amount);
                    let strata = p.mask();
                    if traced.is_zero() || strata == 0 {
                        continue;
                    }
                    match x.release {
                        // the edge is written when the release is replayed
                        Some(_) => {
                            in_flight.insert(i, p);
                        }
                        None => {
                            edges.push(TracedEdge::new(
                                bridge_transfer(&d, &owner, &d.contract),
                                c,
                                EdgeKind::Bridge { to_chain: None, release: None, traced_out: U256::ZERO },
                                traced,
                                strata,
                                true,
                            ));
                        }
                    }
                }
                Ev::BridgeIn(i) => {
                    let Some(p) = in_flight.remove(&i) else { continue };
                    let x = &self.crossings[i];
                    let Some((rc, r)) = x.release.clone() else { continue };
                    let BridgeSide::Release { recipient } = r.side.clone() else { continue };
                    let (c, d, owner) = (x.chain, x.deposit.clone(), x.owner.clone());
                    let traced = p.traced(d.amount);
                    let strata = p.mask();
                    let out = p.convert(d.amount, r.amount);
                    let traced_out = out.traced(r.amount);
                    let followed = traced >= self.asset(c, d.asset)?.min_raw
                        && !traced_out.is_zero()
                        && traced_out >= self.asset(rc, r.asset)?.min_raw;
                    if !traced.is_zero() && strata != 0 {
                        edges.push(TracedEdge::new(
                            bridge_transfer(&d, &owner, &recipient),
                            c,
                            EdgeKind::Bridge { to_chain: Some(rc), release: Some(Box::new(r.clone())), traced_out },
                            traced,
                            strata,
                            followed,
                        ));
                    }
                    if !self.is_seed(rc, &recipient) {
                        if let Some(st) = states.get_mut(&(rc, recipient, r.asset)) {
                            st.receive(r.amount, followed.then_some(&out));
                        }
                    }
                }
            }
        }
        Ok(edges)
    }

    /// FIFO on a UTXO chain: each transaction's input values, in vin order, fill its outputs
    /// in vout order (the fee is what is left at the end). Taint is held per output, so only
    /// the coins a transaction actually spends carry traced funds on. The case file's edges are
    /// the address-level view (B's output value times A's share of the inputs); where FIFO moves
    /// more of A's coins into B than that share, the edge shows at most its amount while B's
    /// outputs keep the exact FIFO taint for the rest of the walk.
    fn replay_utxo(
        &mut self,
        events: Vec<Transfer>,
        tracked: &BTreeSet<(Address, Asset)>,
    ) -> Result<Vec<TracedEdge>, TraceError> {
        let n = self.opts.hops;
        let mut taint: HashMap<(Hash32, u32), Vec<Seg>> = HashMap::default();
        let mut edges = Vec::new();
        let mut i = 0;
        while i < events.len() {
            let key = (events[i].height, events[i].pos.tx_index);
            let mut j = i;
            while j < events.len() && (events[j].height, events[j].pos.tx_index) == key {
                j += 1;
            }
            let group = &events[i..j];
            i = j;
            let txid = group[0].tx;
            let allowed = self.allowed(&group[0]);
            let inputs = self.src(0).tx_inputs(&txid).map_err(src_err)?.unwrap_or_default();
            let outputs = self.src(0).tx_outputs(&txid).map_err(src_err)?.unwrap_or_default();
            // input values in vin order, each piece tagged with the address that spent it
            let mut pieces: VecDeque<(Seg, Option<Address>)> = VecDeque::new();
            for (spend, prev) in inputs {
                let Some(prev) = prev else { continue };
                let value = U256::from(prev.value);
                let owner = prev.address.clone();
                let held = taint.remove(&(spend.prev_txid, spend.prev_vout));
                let segs = match &owner {
                    Some(a) if self.is_seed(0, a) => vec![Seg { amount: value, stratum: Some(0) }],
                    Some(a) if tracked.contains(&(a.clone(), Asset::Native)) => {
                        held.unwrap_or_else(|| vec![Seg { amount: value, stratum: None }])
                    }
                    _ => vec![Seg { amount: value, stratum: None }],
                };
                for seg in segs {
                    let stratum = seg.stratum.filter(|s| allowed && u32::from(*s) < n).map(|s| s + 1);
                    pieces.push_back((Seg { amount: seg.amount, stratum }, owner.clone()));
                }
            }
            // fill the outputs in vout order
            let mut filled: Vec<Vec<(Seg, Option<Address>)>> = Vec::with_capacity(outputs.len());
            for o in &outputs {
                let mut need = U256::from(o.value);
                let mut got = Vec::new();
                while !need.is_zero() {
                    let Some(front) = pieces.front_mut() else { break };
                    let take = front.0.amount.min(need);
                    got.push((Seg { amount: take, stratum: front.0.stratum }, front.1.clone()));
                    front.0.amount -= take;
                    need -= take;
                    if front.0.amount.is_zero() {
                        pieces.pop_front();
                    }
                }
                filled.push(got);
            }
            // traced value per (sender, receiver) address pair
            let mut pair: HashMap<(Address, Address), (U256, u64)> = HashMap::default();
            for (o, got) in outputs.iter().zip(&filled) {
                let Some(to) = &o.address else { continue };
                for (seg, from) in got {
                    if let (Some(s), Some(from)) = (seg.stratum, from) {
                        let e = pair.entry((from.clone(), to.clone())).or_insert((U256::ZERO, 0));
                        e.0 += seg.amount;
                        e.1 |= 1u64 << s;
                    }
                }
            }
            let mut dropped: BTreeSet<(Address, Address)> = BTreeSet::new();
            for t in group {
                let Some(&(traced, strata)) = pair.get(&(t.from.clone(), t.to.clone())) else { continue };
                let traced = traced.min(t.amount);
                if traced.is_zero() {
                    continue;
                }
                let followed = traced >= self.asset(0, t.asset)?.min_raw;
                if !followed {
                    dropped.insert((t.from.clone(), t.to.clone()));
                }
                edges.push(TracedEdge::new(t.clone(), 0, EdgeKind::Transfer, traced, strata, followed));
            }
            for (o, got) in outputs.iter().zip(filled) {
                let segs: Vec<Seg> = got
                    .into_iter()
                    .map(|(seg, from)| {
                        let cut = match (&from, &o.address) {
                            (Some(f), Some(to)) => dropped.contains(&(f.clone(), to.clone())),
                            _ => false,
                        };
                        Seg { amount: seg.amount, stratum: if cut { None } else { seg.stratum } }
                    })
                    .collect();
                if segs.iter().any(|s| s.stratum.is_some()) {
                    taint.insert((txid, o.vout), segs);
                }
            }
        }
        Ok(edges)
    }

    /// The edge's key in the walk's total order, not oriented (chain order, for the result).
    fn edge_key(&self, e: &TracedEdge) -> OKey {
        edge_okey(self.multi, e)
    }

    /// The oriented key at which the edge's funds arrive at its receiving end.
    fn arrival_key(&self, e: &TracedEdge) -> OKey {
        match &e.kind {
            EdgeKind::Bridge { to_chain: Some(rc), release: Some(r), .. } => {
                self.key_at(*rc, r.height, r.time, r.pos, 2)
            }
            EdgeKind::Transfer => self.okey(e.chain, &e.transfer),
            _ => {
                let t = &e.transfer;
                self.key_at(e.chain, t.height, t.time, t.pos, 1)
            }
        }
    }

    /// The result's nodes: the seeds, and every receiver of traced funds with its role.
    fn nodes(&mut self, edges: &[TracedEdge]) -> Result<BTreeMap<Node, TracedNode>, TraceError> {
        let n = self.opts.hops;
        // nodes: seeds, and every receiver of traced funds
        let mut hop: BTreeMap<Node, (u32, bool, OKey)> = BTreeMap::new();
        let mut unmatched: BTreeSet<Node> = BTreeSet::new();
        for e in edges {
            let (_, to) = self.ends(&e.transfer);
            let node = (e.to_chain(), to.clone());
            if self.seeds.contains(&node) {
                continue;
            }
            if matches!(e.kind, EdgeKind::Bridge { to_chain: None, .. }) {
                unmatched.insert(node.clone());
            }
            let k = self.arrival_key(e);
            let ent = hop.entry(node).or_insert((u32::MAX, false, OKEY_MAX));
            ent.0 = ent.0.min(e.hop);
            if e.followed {
                ent.1 = true;
                ent.2 = ent.2.min(k);
            }
        }
        let all: BTreeSet<Node> = hop.keys().cloned().collect();
        self.classify(&all)?;
        let mut nodes = BTreeMap::new();
        for s in &self.seeds {
            nodes.insert(
                s.clone(),
                TracedNode {
                    hop: 0,
                    role: Role::Seed,
                    stop_reason: None,
                    labels: self.labels.get(s).cloned().unwrap_or_default(),
                },
            );
        }
        for (node, (h, followed, first)) in hop {
            let labels = self.labels.get(&node).cloned().unwrap_or_default();
            let (role, reason) = match self.class.get(&node).copied() {
                _ if unmatched.contains(&node) => (Role::Bridge, Some("bridge")),
                Some(Class::Pool(r)) => (r, None),
                Some(Class::Hub) => (Role::Stop, Some("hub")),
                _ if !followed => (Role::Stop, Some("min_amount")),
                _ if h >= n => {
                    if self.has_outs_after(&node, first)? {
                        (Role::Stop, Some("hops"))
                    } else {
                        (Role::Intermediate, None)
                    }
                }
                _ => (Role::Intermediate, None),
            };
            nodes.insert(node, TracedNode { hop: h, role, stop_reason: reason, labels });
        }

        Ok(nodes)
    }

    fn assemble(
        mut self,
        mut edges: Vec<TracedEdge>,
        dense: Option<(BTreeMap<Node, TracedNode>, EdgeEnds)>,
    ) -> Result<Trace, TraceError> {
        let fwd = self.fwd;
        let (nodes, mut ends) = match dense {
            // the walk over ids made its nodes while it read its edges' hashes
            Some((nodes, ends)) => (nodes, Some(ends)),
            None => (self.nodes(&edges)?, None),
        };

        // the walk's order (real, not oriented) for the result; the dense walk hands its edges
        // over in this order already, its ends beside them (a stable sort would reserve scratch
        // space for half the edges even when they are in order)
        if !edges.is_sorted_by_key(|e| self.edge_key(e)) {
            edges.sort_by_key(|e| self.edge_key(e));
            // ends given beside the edges no longer line up with them
            ends = None;
        }
        let mut deposits = Vec::new();
        if fwd {
            let ends = match ends {
                Some(ends) => ends,
                None => EdgeEnds::of(&edges, &nodes),
            };
            if !ends.exchanges.is_empty() {
                let multi = self.multi;
                let key = move |e: &TracedEdge| edge_okey(multi, e);
                let incoming = Incoming::new(&edges, &ends);
                // the deposit edges and their exchanges, then each one's path (independent of
                // the others': on both cores)
                let found: Vec<(usize, u32)> = edges
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.followed && !matches!(e.kind, EdgeKind::Swap { .. }))
                    .map(|(i, _)| (i, ends.exchange[ends.ends[i].1 as usize]))
                    .filter(|&(_, x)| (x as usize) < ends.exchanges.len())
                    .collect();
                let (edges, seeds, exchanges) = (&edges, &self.seeds, &ends.exchanges);
                let parts = dense::on_both_cores(&found, |part| {
                    let deposits = part.iter().map(|&(i, x)| {
                        let e = &edges[i];
                        let (category, exchange) = exchanges[x as usize].clone();
                        let path = path_back(edges, key, &incoming, seeds, i, e.hop);
                        Deposit {
                            edge: i,
                            exchange,
                            category,
                            hops: e.hop,
                            seed: path.first().cloned().unwrap_or_else(|| e.transfer.from.clone()),
                            path,
                        }
                    });
                    Ok::<_, std::convert::Infallible>(deposits.collect::<Vec<_>>())
                });
                deposits = match parts {
                    Ok(parts) => parts.into_iter().flatten().collect(),
                    Err(never) => match never {},
                };
            }
        }
        let chains = self
            .chains
            .iter()
            .map(|c| ChainInfo {
                name: c.name.clone(),
                kind: c.kind,
                native_symbol: c.native_symbol.clone(),
                native_decimals: c.native_decimals,
            })
            .collect();
        Ok(Trace { options: self.opts.clone(), chains, nodes, edges, deposits, assets: self.assets, stats: self.stats })
    }

    fn has_outs_after(&self, node: &Node, first: OKey) -> Result<bool, TraceError> {
        let (c, addr) = node;
        if self.fwd {
            let after = Self::real_key(first, true);
            self.src(*c).has_transfers_after(addr, Direction::Out, after).map_err(src_err)
        } else {
            let list = self.src(*c).transfers(addr, Direction::In, None, usize::MAX).map_err(src_err)?;
            Ok(list.iter().any(|t| self.okey(*c, t) > first))
        }
    }
}

/// An edge's place in the walk's order (real, not oriented): its block time in a walk over
/// several chains (`multi`), then its chain order, a swap or bridge after the transfer at its
/// position.
fn edge_okey(multi: bool, e: &TracedEdge) -> OKey {
    let t = &e.transfer;
    let rank = u8::from(!e.adds_hop());
    (if multi { t.time } else { 0 }, e.chain, t.height, t.pos.tx_index, t.pos.sub, rank)
}

/// Conversion `v` is one a walk follows for its owner: owned by an address `owns` accepts, and
/// within `--since` and `--until`.
fn kept_conversion(opts: &TraceOptions, v: &Conversion, owns: impl Fn(&Address) -> bool) -> bool {
    owns(&v.owner) && in_bounds(opts, v.height, v.time)
}

/// Bridge event `d` is a deposit a walk follows for its owner: made by an address `owns`
/// accepts, and within `--since` and `--until`.
fn kept_deposit(opts: &TraceOptions, d: &BridgeEvent, owns: impl Fn(&Address) -> bool) -> bool {
    matches!(&d.side, BridgeSide::Deposit { owner, .. } if owns(owner)) && in_bounds(opts, d.height, d.time)
}

/// A block at `height` and `time` is within `--since` and `--until`.
fn in_bounds(opts: &TraceOptions, height: u64, time: u64) -> bool {
    let value = |b: &Bound| match b {
        Bound::Height(h) => (height, *h),
        Bound::Time(s) => (time, *s),
    };
    if let Some(b) = &opts.since {
        let (v, lim) = value(b);
        if v < lim {
            return false;
        }
    }
    if let Some(b) = &opts.until {
        let (v, lim) = value(b);
        if v > lim {
            return false;
        }
    }
    true
}

/// The output side of a conversion as the transfer its swap edge shows: from the owner to the
/// owner, in `asset_out`.
fn swap_transfer(v: &Conversion) -> Transfer {
    Transfer {
        tx: v.tx,
        height: v.height,
        pos: v.pos,
        time: v.time,
        from: v.owner.clone(),
        to: v.owner.clone(),
        asset: v.asset_out,
        amount: v.amount_out,
    }
}

/// A bridge deposit as the transfer its bridge edge shows: from the depositor to `to` (the
/// recipient on the other chain, or the bridge contract when unmatched).
fn bridge_transfer(d: &BridgeEvent, owner: &Address, to: &Address) -> Transfer {
    Transfer {
        tx: d.tx,
        height: d.height,
        pos: d.pos,
        time: d.time,
        from: owner.clone(),
        to: to.clone(),
        asset: d.asset,
        amount: d.amount,
    }
}

/// No exchange (an entry of [`EdgeEnds::exchange`]).
const NO_EXCHANGE: u32 = u32::MAX;

/// The edges' ends as small indices (one per (chain, address)), for the deposits and their
/// paths: found without hashing an address per edge.
struct EdgeEnds {
    /// Per edge, in the result's order: the index of (its chain, its transfer's `from`) and of
    /// (its receiving chain, its transfer's `to`).
    ends: Vec<(u32, u32)>,
    /// Per index: its entry in `exchanges` when traced funds entering it are a deposit (an
    /// exchange or deposit address that is not a seed), else [`NO_EXCHANGE`].
    exchange: Vec<u32>,
    /// The exchanges among the nodes (a few): the category and entity of each.
    exchanges: Vec<(Category, String)>,
}

impl EdgeEnds {
    /// The ends of `edges` (in the result's order), indexed by hashing each end's address: for
    /// the walk over addresses.
    fn of<'e>(edges: &'e [TracedEdge], nodes: &BTreeMap<Node, TracedNode>) -> EdgeEnds {
        let is_exchange = |n: &TracedNode| {
            n.role != Role::Seed && n.role != Role::Bridge && !n.labels.is_empty() && exchange_of(&n.labels).is_some()
        };
        if !nodes.values().any(is_exchange) {
            // no deposits: nothing to index
            return EdgeEnds { ends: Vec::new(), exchange: Vec::new(), exchanges: Vec::new() };
        }
        let mut index: HashMap<(u16, &Address), u32> = HashMap::default();
        let mut names: Vec<(u16, &Address)> = Vec::new();
        let mut of = |n: (u16, &'e Address)| -> u32 {
            *index.entry(n).or_insert_with(|| {
                names.push(n);
                names.len() as u32 - 1
            })
        };
        let ends: Vec<(u32, u32)> =
            edges.iter().map(|e| (of((e.chain, &e.transfer.from)), of((e.to_chain(), &e.transfer.to)))).collect();
        let mut exchange = vec![NO_EXCHANGE; names.len()];
        let mut exchanges = Vec::new();
        for (i, &(c, a)) in names.iter().enumerate() {
            let Some(n) = nodes.get(&(c, a.clone())) else { continue };
            if n.role == Role::Seed || n.role == Role::Bridge {
                continue;
            }
            if let Some(x) = exchange_of(&n.labels) {
                exchange[i] = exchanges.len() as u32;
                exchanges.push(x);
            }
        }
        EdgeEnds { ends, exchange, exchanges }
    }
}

/// The followed edges into each (chain, address), in edge order: a list per index of
/// [`EdgeEnds`], chained through the edges (no allocation per address).
struct Incoming<'e> {
    ends: &'e [(u32, u32)],
    /// Per index: its first incoming followed edge, `u32::MAX` when none.
    head: Vec<u32>,
    /// Per edge: the next followed edge into the same index.
    next: Vec<u32>,
}

impl<'e> Incoming<'e> {
    fn new(edges: &[TracedEdge], ends: &'e EdgeEnds) -> Incoming<'e> {
        let mut head = vec![u32::MAX; ends.exchange.len()];
        let mut next = vec![u32::MAX; edges.len()];
        for (i, e) in edges.iter().enumerate().rev() {
            if e.followed {
                let to = ends.ends[i].1 as usize;
                next[i] = head[to];
                head[to] = i as u32;
            }
        }
        Incoming { ends: &ends.ends, head, next }
    }

    /// The followed edges into the sending end of `edges[i]`, in edge order.
    fn arriving_at_sender(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let mut j = self.head[self.ends[i].0 as usize];
        std::iter::from_fn(move || {
            let cur = j;
            (cur != u32::MAX).then(|| {
                j = self.next[cur as usize];
                cur as usize
            })
        })
    }
}

/// Addresses from the seed to the receiver of `edges[i]`, following the funds of stratum `s`
/// back through transfers (one hop each), swaps and bridges (no hop).
fn path_back(
    edges: &[TracedEdge],
    key: impl Fn(&TracedEdge) -> OKey,
    incoming: &Incoming<'_>,
    seeds: &BTreeSet<Node>,
    i: usize,
    s: u32,
) -> Vec<Address> {
    let mut path = vec![edges[i].transfer.to.clone()];
    let (mut cur, mut s) = (i, s);
    loop {
        let e = &edges[cur];
        let need = if e.adds_hop() { s.saturating_sub(1) } else { s };
        let (c, from, asset) = e.source_holding();
        if !matches!(e.kind, EdgeKind::Swap { .. }) {
            path.push(from.clone());
        }
        if need == 0 && seeds.contains(&(c, from.clone())) {
            break;
        }
        let at = key(e);
        // the first followed edge into the sending holding before this one, carrying stratum
        // `need` (a swap's sending holding is its owner's, the edge's `from`); the edges are in
        // key order, so those before this one are a prefix of the list
        let prev = incoming
            .arriving_at_sender(cur)
            .take_while(|&j| key(&edges[j]) < at)
            .find(|&j| edges[j].strata & (1u64 << need) != 0 && edges[j].to_asset() == asset);
        match prev {
            Some(j) => {
                cur = j;
                s = need;
            }
            None => break,
        }
    }
    path.reverse();
    path
}

/// Sorts `keyed` — each a 64-bit key above its index, built in index order — as `sort_unstable`
/// would: by key, equal keys in index order. Many keys (a trace's tens of thousands of
/// addresses) are sorted a digit of 11 bits at a time from the lowest (each pass stable, so equal
/// keys keep their index order), skipping a digit every key shares; few by comparison.
fn sort_keyed(keyed: &mut Vec<u128>) {
    const BITS: u32 = 11;
    if keyed.len() < 1024 {
        keyed.sort_unstable();
        return;
    }
    let mut out = vec![0u128; keyed.len()];
    for shift in (64..128).step_by(BITS as usize) {
        let digit = |k: u128| (k >> shift) as usize & ((1 << BITS) - 1);
        let mut at = [0usize; 1 << BITS];
        for &k in keyed.iter() {
            at[digit(k)] += 1;
        }
        if at.contains(&keyed.len()) {
            continue;
        }
        let mut sum = 0;
        for c in at.iter_mut() {
            (*c, sum) = (sum, sum + *c);
        }
        for &k in keyed.iter() {
            let d = digit(k);
            out[at[d]] = k;
            at[d] += 1;
        }
        std::mem::swap(keyed, &mut out);
    }
}

/// The indices `0..n` in the order of their addresses (`addr(i)`), the ties (equal addresses)
/// in index order: what sorting the addresses would give.
///
/// Where every address is a 20-byte account of one kind, each is sorted by a 64-bit key: its
/// bytes at the first 8 positions where the addresses differ at all (the bytes before and
/// between them are the same in every address, so they order nothing), and only addresses
/// whose keys tie are compared whole. Generated and vanity addresses share long runs of bytes;
/// random ones differ in their first 8.
fn address_order<'a>(n: usize, addr: impl Fn(usize) -> &'a Address) -> Vec<u32> {
    let whole = |x: &u32, y: &u32| addr(*x as usize).cmp(addr(*y as usize)).then(x.cmp(y));
    let bytes = |i: usize| match addr(i) {
        Address::Evm(b) => Some((0u8, b)),
        Address::Tron(b) => Some((1, b)),
        _ => None,
    };
    let fixed: Option<Vec<(u8, &[u8; 20])>> = (0..n).map(bytes).collect();
    let Some(fixed) = fixed.filter(|f| f.windows(2).all(|w| w[0].0 == w[1].0)) else {
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_unstable_by(whole);
        return order;
    };
    let mut differ = [0u8; 20];
    if let Some(&(_, first)) = fixed.first() {
        for (_, b) in &fixed {
            for (d, (x, y)) in differ.iter_mut().zip(b.iter().zip(first)) {
                *d |= x ^ y;
            }
        }
    }
    let at: Vec<usize> = (0..20).filter(|&p| differ[p] != 0).take(8).collect();
    let exact = differ.iter().filter(|&&d| d != 0).count() <= 8;
    let mut keyed: Vec<u128> = fixed
        .iter()
        .enumerate()
        .map(|(i, (_, b))| {
            let k = at.iter().enumerate().fold(0u64, |k, (j, &p)| k | u64::from(b[p]) << (56 - 8 * j));
            (u128::from(k) << 64) | i as u128
        })
        .collect();
    sort_keyed(&mut keyed);
    let mut order: Vec<u32> = keyed.iter().map(|&k| k as u32).collect();
    if !exact {
        // runs of equal keys: their addresses compared whole
        let mut i = 0;
        while i < keyed.len() {
            let j = i + keyed[i..].partition_point(|&k| k >> 64 == keyed[i] >> 64);
            if j - i > 1 {
                order[i..j].sort_unstable_by(whole);
            }
            i = j;
        }
    }
    order
}

/// The role of a pooling address (not expanded), from its labels.
fn pooling_role(labels: &[Label]) -> Option<Role> {
    let cats: BTreeSet<Category> = labels.iter().map(|l| l.category).collect();
    if cats.contains(&Category::ExchangeDeposit) {
        Some(Role::ExchangeDeposit)
    } else if cats.contains(&Category::Exchange) {
        Some(Role::Exchange)
    } else if cats.iter().any(|c| c.is_pooling()) {
        Some(Role::Service)
    } else {
        None
    }
}

/// The exchange an address belongs to when funds entering it are a deposit.
fn exchange_of(labels: &[Label]) -> Option<(Category, String)> {
    for cat in [Category::ExchangeDeposit, Category::Exchange] {
        let best = labels
            .iter()
            .filter(|l| l.category == cat)
            .max_by(|a, b| a.confidence.cmp(&b.confidence).then_with(|| b.entity.cmp(&a.entity)));
        if let Some(l) = best {
            return Some((cat, l.entity.clone()));
        }
    }
    None
}

/// Parse a decimal amount into base units, rounding up digits beyond `decimals`.
pub fn ceil_units(text: &str, decimals: u8) -> Option<U256> {
    let t = text.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let d = decimals as usize;
    let (kept, dropped) = if frac.len() > d { frac.split_at(d) } else { (frac, "") };
    let mut digits = String::from(if int.is_empty() { "0" } else { int });
    digits.push_str(kept);
    digits.extend(std::iter::repeat_n('0', d - kept.len()));
    let mut v = U256::from_str_radix(&digits, 10).ok()?;
    if dropped.bytes().any(|b| b != b'0') {
        v = v.checked_add(U256::from(1u8))?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    fn any_address() -> impl Strategy<Value = Address> {
        // few distinct bytes, so addresses often share their first bytes (and prefixes tie)
        let bytes = prop::array::uniform20(0u8..3);
        prop_oneof![
            bytes.clone().prop_map(Address::Evm),
            bytes.prop_map(Address::Tron),
            "[ab0-]{0,30}".prop_map(Address::Bitcoin),
            Just(Address::Coinbase),
        ]
    }

    proptest! {
        /// The order of the addresses is the one sorting them gives, whatever they share: mixed
        /// kinds, Bitcoin text, and 20-byte accounts that differ in few or many places.
        #[test]
        fn address_order_equals_a_plain_sort(
            addrs in prop::collection::vec(any_address(), 0..60),
            accounts in prop::collection::vec(prop::array::uniform20(0u8..4), 0..200),
            mask in prop::array::uniform20(any::<bool>()),
        ) {
            // accounts varying in a few places only (the masked bytes kept the same)
            let few: Vec<Address> = accounts
                .iter()
                .map(|b| Address::Evm(std::array::from_fn(|p| if mask[p] { 7 } else { b[p] })))
                .collect();
            let many: Vec<Address> = accounts.iter().map(|b| Address::Tron(*b)).collect();
            for set in [&addrs, &few, &many] {
                let mut want: Vec<u32> = (0..set.len() as u32).collect();
                want.sort_by(|&x, &y| set[x as usize].cmp(&set[y as usize]).then(x.cmp(&y)));
                prop_assert_eq!(address_order(set.len(), |i| &set[i]), want);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// The radix sort of keyed indices equals a comparison sort, past the size where it
        /// starts: keys from a few values (long runs of ties, digits every key shares) to any.
        #[test]
        fn sort_keyed_equals_a_plain_sort(
            keys in prop_oneof![
                prop::collection::vec(0u64..4, 1000..3000),
                prop::collection::vec((0u64..8).prop_map(|k| k << 40 | 0xabc), 1000..3000),
                prop::collection::vec(any::<u64>(), 0..5000),
            ],
        ) {
            let keyed: Vec<u128> = keys.iter().enumerate().map(|(i, &k)| u128::from(k) << 64 | i as u128).collect();
            let mut want = keyed.clone();
            want.sort_unstable();
            let mut got = keyed;
            sort_keyed(&mut got);
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn ceil_units_rounds_up() {
        assert_eq!(ceil_units("1.5", 6), Some(U256::from(1_500_000u64)));
        assert_eq!(ceil_units("0.5", 0), Some(U256::from(1u8)));
        assert_eq!(ceil_units("2.000", 0), Some(U256::from(2u8)));
        assert_eq!(ceil_units("-1", 0), None);
        assert_eq!(ceil_units("abc", 0), None);
    }
}
