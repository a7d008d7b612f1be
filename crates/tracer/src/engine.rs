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
//! # Backward traces
//!
//! `--direction backward` runs the same machinery on the time-mirrored graph: edges reversed and
//! chain order reversed ("only transfers before the funds left"). Haircut and FIFO become their
//! mirror images (FIFO backward attributes a departure to the latest earlier arrivals first).
//! Deposits are only flagged forward.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use chaintrace_model::{Address, Asset, Category, Direction, Hash32, Label, Position, Role, Transfer, U256};

use crate::policy::{Parcel, Policy, Seg, State};
use crate::source::{BatchRequest, GraphSource};

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

impl Bound {
    fn value(&self, t: &Transfer) -> (u64, u64) {
        match self {
            Bound::Height(h) => (t.height, *h),
            Bound::Time(s) => (t.time, *s),
        }
    }
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
}

/// The default hub degree: an unlabelled address with more transfers than this in the walk's
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

/// One address in the result.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TracedNode {
    /// Fewest transfers on any traced path from a seed (0 for seeds).
    pub hop: u32,
    /// What the address is in the trace.
    pub role: Role,
    /// Why a [`Role::Stop`] node was not expanded (`hops`, `hub`, `min_amount`).
    pub stop_reason: Option<String>,
    /// Every label on the address that applies on the traced chain.
    pub labels: Vec<Label>,
}

/// One transfer that carried traced funds.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TracedEdge {
    /// The transfer.
    pub transfer: Transfer,
    /// The part of its amount that is traced funds, in base units.
    pub traced: U256,
    /// The fewest transfers from a seed of the traced funds it carries.
    pub hop: u32,
    /// Bit `h` set when it carries funds that travelled `h` transfers.
    pub strata: u64,
    /// `false` when the traced amount is below `--min-amount`: recorded, not followed.
    pub followed: bool,
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
    /// Every address reached, by address.
    pub nodes: BTreeMap<Address, TracedNode>,
    /// In chain order.
    pub edges: Vec<TracedEdge>,
    /// In chain order of their transfers.
    pub deposits: Vec<Deposit>,
    /// Display facts of every asset on an edge.
    pub assets: BTreeMap<Asset, AssetInfo>,
    /// Work done by the walk.
    pub stats: WalkStats,
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
    /// Wall time of the replay phase, microseconds.
    pub replay_us: u64,
    /// Wall time of assembling the result, microseconds.
    pub assemble_us: u64,
}

/// A chain-order key oriented in the walk's direction (backward: reversed).
type OKey = (u64, u32, u32);
const OKEY_MIN: OKey = (0, 0, 0);
const OKEY_MAX: OKey = (u64::MAX, u32::MAX, u32::MAX);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Seed,
    Expand,
    Pool(Role),
    Hub,
}

struct Walker<'a, S: GraphSource> {
    src: &'a S,
    opts: &'a TraceOptions,
    fwd: bool,
    seeds: BTreeSet<Address>,
    labels: HashMap<Address, Vec<Label>>,
    class: HashMap<Address, Class>,
    /// Earliest arrival with exactly-improved-at level h (index h-1); read as a prefix minimum.
    best: HashMap<(Address, Asset), Vec<OKey>>,
    /// Outgoing (oriented) transfers of expanded addresses, and the key they were read after.
    outs: HashMap<Address, (OKey, Vec<Transfer>)>,
    assets: BTreeMap<Asset, AssetInfo>,
    min_text: Option<String>,
    stats: WalkStats,
}

/// Run a trace over `src`.
pub fn trace<S: GraphSource>(src: &S, opts: &TraceOptions) -> Result<Trace, TraceError> {
    if opts.seeds.is_empty() {
        return Err(TraceError::NoSeeds);
    }
    if opts.hops == 0 || opts.hops > MAX_HOPS {
        return Err(TraceError::Hops(opts.hops));
    }
    if let Some(m) = &opts.min_amount {
        // validate the syntax once; per-asset scaling happens when the asset is first seen
        if ceil_units(m, 0).is_none() {
            return Err(TraceError::MinAmount(m.clone()));
        }
    }
    let mut w = Walker {
        src,
        opts,
        fwd: opts.direction == TraceDirection::Forward,
        seeds: opts.seeds.iter().cloned().collect(),
        labels: HashMap::new(),
        class: HashMap::new(),
        best: HashMap::new(),
        outs: HashMap::new(),
        assets: BTreeMap::new(),
        min_text: opts.min_amount.clone(),
        stats: WalkStats::default(),
    };
    let t0 = std::time::Instant::now();
    w.discover()?;
    let t1 = std::time::Instant::now();
    let edges = w.replay()?;
    let t2 = std::time::Instant::now();
    w.stats.discover_us = (t1 - t0).as_micros() as u64;
    w.stats.replay_us = (t2 - t1).as_micros() as u64;
    let mut result = w.assemble(edges)?;
    result.stats.assemble_us = t2.elapsed().as_micros() as u64;
    Ok(result)
}

impl<S: GraphSource> Walker<'_, S> {
    fn okey(&self, t: &Transfer) -> OKey {
        let k = (t.height, t.pos.tx_index, t.pos.sub);
        if self.fwd {
            k
        } else {
            (!k.0, !k.1, !k.2)
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

    fn allowed(&self, t: &Transfer) -> bool {
        if self.opts.asset.is_some_and(|a| a != t.asset) {
            return false;
        }
        if let Some(b) = self.opts.since {
            let (v, lim) = b.value(t);
            if v < lim {
                return false;
            }
        }
        if let Some(b) = self.opts.until {
            let (v, lim) = b.value(t);
            if v > lim {
                return false;
            }
        }
        true
    }

    fn asset(&mut self, a: Asset) -> Result<&AssetInfo, TraceError> {
        if !self.assets.contains_key(&a) {
            let (id, symbol, decimals) = match a {
                Asset::Native => {
                    (self.opts.native_symbol.clone(), Some(self.opts.native_symbol.clone()), self.opts.native_decimals)
                }
                Asset::Token(c) | Asset::TronToken(c) => {
                    let meta = self.src.token_meta(&c).map_err(src_err)?;
                    let (symbol, decimals) = meta.map_or((None, 0), |m| (m.symbol, m.decimals.unwrap_or(0)));
                    (a.display(&self.opts.native_symbol), symbol, decimals)
                }
                // A TRC-10 asset's precision is not in the block data: amounts stay raw.
                Asset::Trc10(_) => (a.display(&self.opts.native_symbol), None, 0),
            };
            let min_raw = match &self.min_text {
                Some(m) => ceil_units(m, decimals).ok_or_else(|| TraceError::MinAmount(m.clone()))?,
                None => U256::ZERO,
            };
            self.assets.insert(a, AssetInfo { id, symbol, decimals, min_raw });
        }
        Ok(&self.assets[&a])
    }

    fn earliest(&self, addr: &Address, asset: Asset, hops: u32) -> OKey {
        if self.seeds.contains(addr) {
            return OKEY_MIN;
        }
        if hops == 0 {
            return OKEY_MAX;
        }
        match self.best.get(&(addr.clone(), asset)) {
            Some(v) => v[..hops as usize].iter().copied().min().unwrap_or(OKEY_MAX),
            None => OKEY_MAX,
        }
    }

    fn real_key(k: OKey, fwd: bool) -> Option<(u64, Position)> {
        if !fwd || k == OKEY_MIN {
            return None;
        }
        Some((k.0, Position { tx_index: k.1, sub: k.2 }))
    }

    /// Read the outgoing (oriented) transfers of `addrs` strictly after each one's key, in one
    /// batched call, into the cache.
    fn load_outs(&mut self, need: BTreeMap<Address, OKey>) -> Result<(), TraceError> {
        let need: Vec<(Address, OKey)> =
            need.into_iter().filter(|(a, k)| self.outs.get(a).is_none_or(|(have, _)| *k < *have)).collect();
        if need.is_empty() {
            return Ok(());
        }
        // strictly after k: the store's `after` is exclusive; the seed key excludes nothing
        let reqs: Vec<BatchRequest> =
            need.iter().map(|(a, k)| (a.clone(), Self::real_key(*k, self.fwd), usize::MAX)).collect();
        let lists = self.src.transfers_batch(&reqs, self.out_dir()).map_err(src_err)?;
        self.stats.batches += 1;
        for ((addr, k), list) in need.into_iter().zip(lists) {
            self.stats.transfers_read += list.len() as u64;
            let mut list: Vec<Transfer> = if self.fwd {
                list
            } else {
                let mut l: Vec<Transfer> = list.into_iter().filter(|t| k == OKEY_MIN || self.okey(t) > k).collect();
                l.reverse();
                l
            };
            list.retain(|t| self.allowed(t));
            self.outs.insert(addr, (k, list));
        }
        Ok(())
    }

    /// Labels and pooling class of newly reached addresses (one pass per hop level).
    fn classify(&mut self, addrs: &BTreeSet<Address>) -> Result<(), TraceError> {
        for a in addrs {
            if self.class.contains_key(a) {
                continue;
            }
            if self.seeds.contains(a) {
                self.class.insert(a.clone(), Class::Seed);
                continue;
            }
            let labels = self.src.labels(a).map_err(src_err)?;
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
    fn check_hubs(&mut self, frontier: &BTreeMap<Address, OKey>) -> Result<(), TraceError> {
        let cap = self.opts.hub_degree.saturating_add(1);
        for a in frontier.keys() {
            if self.seeds.contains(a) || self.class.get(a) != Some(&Class::Expand) {
                continue;
            }
            if !self.labels.get(a).is_none_or(|l| l.is_empty()) {
                continue;
            }
            for dir in [Direction::Out, Direction::In] {
                self.stats.lookups += 1;
                if self.src.degree(a, dir, cap).map_err(src_err)? > self.opts.hub_degree {
                    self.class.insert(a.clone(), Class::Hub);
                    break;
                }
            }
        }
        Ok(())
    }

    fn discover(&mut self) -> Result<(), TraceError> {
        let n = self.opts.hops;
        let seeds: Vec<Address> = self.seeds.iter().cloned().collect();
        for s in &seeds {
            self.class.insert(s.clone(), Class::Seed);
            self.labels.insert(s.clone(), self.src.labels(s).map_err(src_err)?);
        }
        let mut frontier: BTreeMap<Address, OKey> = seeds.into_iter().map(|s| (s, OKEY_MIN)).collect();
        for h in 1..=n {
            if frontier.is_empty() {
                break;
            }
            self.check_hubs(&frontier)?;
            frontier.retain(|a, _| matches!(self.class.get(a), Some(Class::Expand | Class::Seed)));
            self.load_outs(frontier.clone())?;
            self.stats.addresses_expanded += frontier.len() as u64;
            let mut improved: BTreeMap<Address, OKey> = BTreeMap::new();
            let mut reached: BTreeSet<Address> = BTreeSet::new();
            for x in frontier.keys() {
                let Some((_, list)) = self.outs.get(x) else { continue };
                let list = list.clone();
                for t in &list {
                    let k = self.okey(t);
                    if k <= self.earliest(x, t.asset, h - 1) {
                        continue;
                    }
                    let min_raw = self.asset(t.asset)?.min_raw;
                    let (_, dst) = self.ends(t);
                    if t.amount < min_raw || t.amount.is_zero() || self.seeds.contains(dst) {
                        continue;
                    }
                    if k < self.earliest(dst, t.asset, h) {
                        let v = self.best.entry((dst.clone(), t.asset)).or_insert_with(|| vec![OKEY_MAX; n as usize]);
                        v[h as usize - 1] = v[h as usize - 1].min(k);
                        let e = improved.entry(dst.clone()).or_insert(k);
                        *e = (*e).min(k);
                        reached.insert(dst.clone());
                    }
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

    /// The `(address, asset)` pairs whose holdings are tracked: reached with fewer than N hops
    /// and expandable.
    fn tracked(&self) -> BTreeSet<(Address, Asset)> {
        let n = self.opts.hops;
        self.best
            .keys()
            .filter(|(a, asset)| {
                self.class.get(a) == Some(&Class::Expand) && self.earliest(a, *asset, n - 1) != OKEY_MAX
            })
            .cloned()
            .collect()
    }

    fn replay(&mut self) -> Result<Vec<TracedEdge>, TraceError> {
        let policy = self.opts.policy;
        let n = self.opts.hops;
        let tracked = self.tracked();
        let mut states: HashMap<(Address, Asset), State> =
            tracked.iter().map(|k| (k.clone(), State::new(policy, n))).collect();

        // the transfers to replay
        let mut events: Vec<Transfer> = Vec::new();
        let seed_list: Vec<Address> = self.seeds.iter().cloned().collect();
        for s in &seed_list {
            if let Some((_, l)) = self.outs.get(s) {
                events.extend(l.iter().cloned());
            }
        }
        let addrs: BTreeSet<Address> = tracked.iter().map(|(a, _)| a.clone()).collect();
        // Bitcoin FIFO runs through each transaction's inputs to its outputs (forward walks)
        let utxo = policy == Policy::Fifo && self.fwd && self.src.tx_inputs(&Hash32::ZERO).map_err(src_err)?.is_some();
        match policy {
            _ if utxo => {
                for a in &addrs {
                    if let Some((_, l)) = self.outs.get(a) {
                        events.extend(l.iter().cloned());
                    }
                }
            }
            Policy::Poison => {
                for a in &addrs {
                    if let Some((_, l)) = self.outs.get(a) {
                        events.extend(l.iter().filter(|t| states.contains_key(&(a.clone(), t.asset))).cloned());
                    }
                }
            }
            Policy::Haircut | Policy::Fifo => {
                let reqs: Vec<BatchRequest> = addrs.iter().map(|a| (a.clone(), None, usize::MAX)).collect();
                for dir in [Direction::Out, Direction::In] {
                    let lists = self.src.transfers_batch(&reqs, dir).map_err(src_err)?;
                    self.stats.batches += 1;
                    for (a, list) in addrs.iter().zip(lists) {
                        self.stats.transfers_read += list.len() as u64;
                        events.extend(list.into_iter().filter(|t| states.contains_key(&(a.clone(), t.asset))));
                    }
                }
            }
        }
        events.sort_by_key(|t| self.okey(t));
        events.dedup_by_key(|t| self.okey(t));
        self.stats.events_replayed = events.len() as u64;
        if utxo {
            return self.replay_utxo(events, &tracked);
        }

        let mut edges = Vec::new();
        for t in events {
            let (from, to) = self.ends(&t);
            let allowed = self.allowed(&t);
            let parcel = if self.seeds.contains(from) {
                allowed.then(|| Parcel::seed(policy, t.amount))
            } else {
                states.get_mut(&(from.clone(), t.asset)).map(|st| st.send(t.amount)).filter(|_| allowed)
            };
            let parcel = parcel.map(|p| p.advance(n));
            let mut carried = None;
            if let Some(p) = parcel {
                let traced = p.traced(t.amount);
                let strata = p.mask();
                if !traced.is_zero() && strata != 0 {
                    let followed = traced >= self.asset(t.asset)?.min_raw;
                    edges.push(TracedEdge {
                        transfer: t.clone(),
                        traced,
                        hop: strata.trailing_zeros(),
                        strata,
                        followed,
                    });
                    if followed {
                        carried = Some(p);
                    }
                }
            }
            if let Some(st) = states.get_mut(&(to.clone(), t.asset)) {
                st.receive(t.amount, carried.as_ref());
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
        let mut taint: HashMap<(Hash32, u32), Vec<Seg>> = HashMap::new();
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
            let inputs = self.src.tx_inputs(&txid).map_err(src_err)?.unwrap_or_default();
            let outputs = self.src.tx_outputs(&txid).map_err(src_err)?.unwrap_or_default();
            // input values in vin order, each piece tagged with the address that spent it
            let mut pieces: VecDeque<(Seg, Option<Address>)> = VecDeque::new();
            for (spend, prev) in inputs {
                let Some(prev) = prev else { continue };
                let value = U256::from(prev.value);
                let owner = prev.address.clone();
                let held = taint.remove(&(spend.prev_txid, spend.prev_vout));
                let segs = match &owner {
                    Some(a) if self.seeds.contains(a) => vec![Seg { amount: value, stratum: Some(0) }],
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
            let mut pair: HashMap<(Address, Address), (U256, u64)> = HashMap::new();
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
                let followed = traced >= self.asset(t.asset)?.min_raw;
                if !followed {
                    dropped.insert((t.from.clone(), t.to.clone()));
                }
                edges.push(TracedEdge { transfer: t.clone(), traced, hop: strata.trailing_zeros(), strata, followed });
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

    fn assemble(mut self, mut edges: Vec<TracedEdge>) -> Result<Trace, TraceError> {
        let n = self.opts.hops;
        let fwd = self.fwd;
        // nodes: seeds, and every receiver of traced funds
        let mut hop: BTreeMap<Address, (u32, bool, OKey)> = BTreeMap::new();
        for e in &edges {
            let (_, to) = self.ends(&e.transfer);
            if self.seeds.contains(to) {
                continue;
            }
            let k = self.okey(&e.transfer);
            let ent = hop.entry(to.clone()).or_insert((u32::MAX, false, OKEY_MAX));
            ent.0 = ent.0.min(e.hop);
            if e.followed {
                ent.1 = true;
                ent.2 = ent.2.min(k);
            }
        }
        let all: BTreeSet<Address> = hop.keys().cloned().collect();
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
        for (addr, (h, followed, first)) in hop {
            let labels = self.labels.get(&addr).cloned().unwrap_or_default();
            let (role, reason) = match self.class.get(&addr).copied() {
                Some(Class::Pool(r)) => (r, None),
                Some(Class::Hub) => (Role::Stop, Some("hub".to_string())),
                _ if !followed => (Role::Stop, Some("min_amount".to_string())),
                _ if h >= n => {
                    if self.has_outs_after(&addr, first)? {
                        (Role::Stop, Some("hops".to_string()))
                    } else {
                        (Role::Intermediate, None)
                    }
                }
                _ => (Role::Intermediate, None),
            };
            nodes.insert(addr, TracedNode { hop: h, role, stop_reason: reason, labels });
        }

        // chain order (real, not oriented) for the result
        edges.sort_by_key(|e| e.transfer.order());
        let mut deposits = Vec::new();
        if fwd {
            // incoming followed edges per (address, asset), for paths back to the seed
            let mut incoming: HashMap<(Address, Asset), Vec<usize>> = HashMap::new();
            for (i, e) in edges.iter().enumerate() {
                if e.followed {
                    incoming.entry((e.transfer.to.clone(), e.transfer.asset)).or_default().push(i);
                }
            }
            for (i, e) in edges.iter().enumerate() {
                if !e.followed {
                    continue;
                }
                let Some(node) = nodes.get(&e.transfer.to) else { continue };
                let Some((category, exchange)) = exchange_of(&node.labels) else { continue };
                if node.role == Role::Seed {
                    continue;
                }
                let path = path_back(&edges, &incoming, i, e.hop);
                deposits.push(Deposit {
                    edge: i,
                    exchange,
                    category,
                    hops: e.hop,
                    seed: path.first().cloned().unwrap_or_else(|| e.transfer.from.clone()),
                    path,
                });
            }
        }
        Ok(Trace { options: self.opts.clone(), nodes, edges, deposits, assets: self.assets, stats: self.stats })
    }

    fn has_outs_after(&self, addr: &Address, first: OKey) -> Result<bool, TraceError> {
        if self.fwd {
            let after = Self::real_key(first, true);
            Ok(!self.src.transfers(addr, Direction::Out, after, 1).map_err(src_err)?.is_empty())
        } else {
            let list = self.src.transfers(addr, Direction::In, None, usize::MAX).map_err(src_err)?;
            Ok(list.iter().any(|t| self.okey(t) > first))
        }
    }
}

/// Addresses from the seed to the receiver of `edges[i]`, following the funds of stratum `s`.
fn path_back(edges: &[TracedEdge], incoming: &HashMap<(Address, Asset), Vec<usize>>, i: usize, s: u32) -> Vec<Address> {
    let mut path = vec![edges[i].transfer.to.clone()];
    let (mut cur, mut s) = (i, s);
    loop {
        let t = &edges[cur].transfer;
        path.push(t.from.clone());
        if s <= 1 {
            break;
        }
        let key = t.order();
        let prev = incoming.get(&(t.from.clone(), t.asset)).and_then(|list| {
            list.iter().copied().find(|&j| edges[j].transfer.order() < key && edges[j].strata & (1u64 << (s - 1)) != 0)
        });
        match prev {
            Some(j) => {
                cur = j;
                s -= 1;
            }
            None => break,
        }
    }
    path.reverse();
    path
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

    #[test]
    fn ceil_units_rounds_up() {
        assert_eq!(ceil_units("1.5", 6), Some(U256::from(1_500_000u64)));
        assert_eq!(ceil_units("0.5", 0), Some(U256::from(1u8)));
        assert_eq!(ceil_units("2.000", 0), Some(U256::from(2u8)));
        assert_eq!(ceil_units("-1", 0), None);
        assert_eq!(ceil_units("abc", 0), None);
    }
}
