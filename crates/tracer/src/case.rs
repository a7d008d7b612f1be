//! Building the case file (SPEC "Case file") from a trace, the deposits report and the
//! readable summary. The file's text is the model's codec, [`CaseFile::to_json`].
//!
//! Everything is sorted deterministically so the same store, labels and parameters give a
//! byte-identical file: nodes by (hop, address), edges and deposits in chain order, labels by
//! (category, entity, source).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use rustc_hash::FxHashMap as HashMap;

use chaintrace_model::time_fmt::rfc3339;
use chaintrace_model::{
    format_units, Asset, CaseDeposit, CaseEdge, CaseFile, CaseNode, ChainKind, EdgeKind, Elements, Hash32, NodeLabel,
    Provenance, Role, TraceParams, CASE_VERSION, U256,
};

use crate::engine::{on_both_cores, Bound, Deposit, EdgeKind as TraceEdgeKind, Node, Trace, TracedEdge, TracedNode};
use crate::price::{usd_value, Decimal, PriceBook, PriceSource};

/// How the case file names and renders one chain of the walk.
#[derive(Clone, Debug)]
pub struct ChainCase<'a> {
    /// The chain's name in the configuration.
    pub name: &'a str,
    /// EVM chains print transaction hashes with a `0x` prefix.
    pub evm: bool,
    /// Lower-case `0x` token contract → price symbol (the chain config's `price_symbols`).
    pub price_symbols: &'a BTreeMap<String, String>,
}

/// What the case file needs beyond the trace itself.
#[derive(Clone, Debug)]
pub struct CaseContext<'a> {
    /// The chains of the walk (matched to the trace's chains by name; a trace run with
    /// [`crate::trace`] has one unnamed chain, which takes the first entry).
    pub chains: Vec<ChainCase<'a>>,
    /// USD valuation (SPEC v2): the `--prices` table, on-chain feeds, the shipped table, the
    /// stablecoin peg; every value names its source.
    pub prices: &'a PriceBook,
    /// The store state the trace ran on, copied into the case file.
    pub provenance: Provenance,
    /// The label the seeds were selected by, when they were.
    pub seeds_label: Option<String>,
    /// `--since` as the user wrote it (recorded verbatim when given).
    pub since_text: Option<String>,
    /// `--until` as the user wrote it (recorded verbatim when given).
    pub until_text: Option<String>,
}

/// An asset's rendering facts on one chain: its id, symbol and decimals, and the symbol it is
/// priced by.
struct AssetFacts {
    id: String,
    symbol: Option<String>,
    decimals: u8,
    price_symbol: Option<String>,
}

/// A price and its source's code.
type Priced = (Decimal, String);

/// How one chain of a trace is named and rendered in its case file.
struct ChainRender<'a> {
    name: String,
    evm: bool,
    syms: &'a BTreeMap<String, String>,
    native: String,
    native_decimals: u8,
}

fn bound_text(b: &Option<Bound>, given: &Option<String>) -> Option<String> {
    given.clone().or_else(|| {
        b.map(|b| match b {
            Bound::Height(h) => h.to_string(),
            Bound::Time(t) => rfc3339(t),
        })
    })
}

fn tx_text(tx: &Hash32, evm: bool) -> String {
    tx.display_for(if evm { ChainKind::Evm } else { ChainKind::Bitcoin })
}

/// What one thread needs to render a trace's nodes, edges and deposits: the chains, and the
/// facts and prices of each asset, asked once per (chain, asset) and (chain, asset, block time)
/// rather than per edge (a wide case has tens of thousands). Each thread keeps its own caches.
struct Renderer<'r, 'a> {
    trace: &'r Trace,
    ctx: &'r CaseContext<'a>,
    chains: &'r [ChainRender<'a>],
    facts: RefCell<HashMap<(u16, Asset), AssetFacts>>,
    prices: RefCell<HashMap<(u16, Asset, u64), Option<Priced>>>,
}

impl<'r, 'a> Renderer<'r, 'a> {
    fn new(trace: &'r Trace, ctx: &'r CaseContext<'a>, chains: &'r [ChainRender<'a>]) -> Self {
        Renderer { trace, ctx, chains, facts: RefCell::default(), prices: RefCell::default() }
    }

    fn ch(&self, c: u16) -> &ChainRender<'a> {
        &self.chains[usize::from(c)]
    }

    fn price_symbol(&self, c: u16, asset: &Asset) -> Option<String> {
        let r = self.ch(c);
        match asset {
            Asset::Native => Some(r.native.clone()),
            Asset::Token(_) => r.syms.get(&asset.display(&r.native).to_ascii_lowercase()).cloned(),
            // TRC-20 contracts are keyed by their `T…` address (case matters in base58).
            Asset::TronToken(_) | Asset::Trc10(_) => {
                let id = asset.display(&r.native);
                r.syms.get(&id).or_else(|| r.syms.get(&id.to_ascii_lowercase())).cloned()
            }
        }
    }

    /// The asset's id, symbol and decimals as the case file shows them.
    fn info(&self, c: u16, asset: &Asset) -> (String, Option<String>, u8) {
        let mut facts = self.facts.borrow_mut();
        let f = facts.entry((c, *asset)).or_insert_with(|| {
            let r = self.ch(c);
            let (id, symbol, decimals) = self
                .trace
                .assets
                .get(&(c, *asset))
                .map(|i| (i.id.clone(), i.symbol.clone(), i.decimals))
                .unwrap_or_else(|| {
                    (asset.display(&r.native), None, if *asset == Asset::Native { r.native_decimals } else { 0 })
                });
            AssetFacts { id, symbol, decimals, price_symbol: self.price_symbol(c, asset) }
        });
        (f.id.clone(), f.symbol.clone(), f.decimals)
    }

    /// The USD value of `raw` of `asset` at `time`, and its source's code.
    fn usd(&self, c: u16, asset: &Asset, time: u64, raw: U256) -> (Option<String>, Option<String>) {
        let (sym, decimals) = {
            let facts = self.facts.borrow();
            match facts.get(&(c, *asset)) {
                Some(f) => (f.price_symbol.clone(), f.decimals),
                None => {
                    drop(facts);
                    let (_, _, decimals) = self.info(c, asset);
                    (self.price_symbol(c, asset), decimals)
                }
            }
        };
        let Some(sym) = sym else { return (None, None) };
        let mut prices = self.prices.borrow_mut();
        let price = prices
            .entry((c, *asset, time))
            .or_insert_with(|| self.ctx.prices.price(&sym, time).map(|(p, src)| (p, src.code())));
        match price {
            Some((p, code)) => (Some(usd_value(raw, decimals, *p)), Some(code.clone())),
            None => (None, None),
        }
    }

    fn tx(&self, c: u16, tx: &Hash32) -> String {
        tx_text(tx, self.ch(c).evm)
    }

    fn node(&self, (c, addr): &Node, n: &TracedNode) -> CaseNode {
        let mut labels: Vec<NodeLabel> = n
            .labels
            .iter()
            .map(|l| NodeLabel { category: l.category.to_string(), entity: l.entity.clone(), source: l.source.clone() })
            .collect();
        labels.sort_by(|a, b| (&a.category, &a.entity, &a.source).cmp(&(&b.category, &b.entity, &b.source)));
        labels.dedup();
        CaseNode {
            address: addr.to_string(),
            chain: self.ch(*c).name.clone(),
            hop: n.hop,
            role: n.role,
            labels,
            stop_reason: n.stop_reason.map(str::to_string),
            cluster: None,
        }
    }

    fn edge(&self, e: &TracedEdge) -> CaseEdge {
        let t = &e.transfer;
        let c = e.chain;
        let (id, symbol, decimals) = self.info(c, &t.asset);
        let (usd_value, usd_source) = self.usd(c, &t.asset, t.time, e.traced);
        let mut edge = CaseEdge {
            from: t.from.to_string(),
            to: t.to.to_string(),
            chain: self.ch(c).name.clone(),
            kind: EdgeKind::Transfer,
            tx: self.tx(c, &t.tx),
            block: t.height,
            time: rfc3339(t.time),
            asset: id,
            symbol,
            amount: format_units(t.amount, decimals),
            amount_raw: t.amount.to_string(),
            traced_amount: format_units(e.traced, decimals),
            usd: usd_value,
            usd_source,
            asset_in: None,
            asset_out: None,
            symbol_in: None,
            amount_in: None,
            amount_out: None,
            traced_in: None,
            via: None,
            venue: None,
            chain_from: None,
            chain_to: None,
            release_tx: None,
            release_asset: None,
        };
        match &e.kind {
            TraceEdgeKind::Transfer => {}
            TraceEdgeKind::Swap { conversion: v, traced_in } => {
                let (in_id, in_symbol, in_decimals) = self.info(c, &v.asset_in);
                edge.kind = EdgeKind::Swap;
                edge.asset_out = Some(edge.asset.clone());
                edge.amount_out = Some(edge.amount.clone());
                edge.asset_in = Some(in_id);
                edge.symbol_in = in_symbol;
                edge.amount_in = Some(format_units(v.amount_in, in_decimals));
                edge.traced_in = Some(format_units(*traced_in, in_decimals));
                edge.via = Some(v.kind.as_str().to_string());
                edge.venue = v.venue.as_ref().map(|a| a.to_string());
            }
            TraceEdgeKind::Bridge { to_chain, release, traced_out } => {
                edge.kind = EdgeKind::Bridge;
                edge.chain_from = Some(edge.chain.clone());
                edge.chain_to = to_chain.map(|rc| self.ch(rc).name.clone());
                if let (Some(rc), Some(r)) = (to_chain, release) {
                    let (rid, _, rdec) = self.info(*rc, &r.asset);
                    edge.release_tx = Some(self.tx(*rc, &r.tx));
                    edge.release_asset = Some(rid);
                    edge.amount_out = Some(format_units(r.amount, rdec));
                    edge.traced_in = Some(format_units(*traced_out, rdec));
                }
            }
        }
        edge
    }

    fn deposit(&self, d: &Deposit) -> CaseDeposit {
        let e = &self.trace.edges[d.edge];
        let t = &e.transfer;
        // what entered the deposit address: a bridge's released side, else the transfer
        let (c, asset, traced, tx, height, time) = match &e.kind {
            TraceEdgeKind::Bridge { to_chain: Some(rc), release: Some(r), traced_out } => {
                (*rc, r.asset, *traced_out, r.tx, r.height, r.time)
            }
            _ => (e.chain, t.asset, e.traced, t.tx, t.height, t.time),
        };
        let (id, symbol, decimals) = self.info(c, &asset);
        let (usd_value, usd_source) = self.usd(c, &asset, time, traced);
        CaseDeposit {
            address: t.to.to_string(),
            chain: self.ch(c).name.clone(),
            exchange: d.exchange.clone(),
            asset: id,
            symbol,
            amount: format_units(traced, decimals),
            usd: usd_value,
            usd_source,
            tx: self.tx(c, &tx),
            block: height,
            time: rfc3339(time),
            hops: d.hops,
            seed: d.seed.to_string(),
            path: d.path.iter().map(|a| a.to_string()).collect(),
        }
    }
}

/// `render` over `items`, on both cores for a wide case (each chunk with a renderer of its own),
/// in `items`' order.
fn rendered<'r, 'a, T: Sync, R: Send>(
    trace: &'r Trace,
    ctx: &'r CaseContext<'a>,
    chains: &'r [ChainRender<'a>],
    items: &[T],
    render: impl Fn(&Renderer<'r, 'a>, &T) -> R + Sync,
) -> Vec<R> {
    let parts = on_both_cores(items, |part| {
        let r = Renderer::new(trace, ctx, chains);
        Ok::<_, std::convert::Infallible>(part.iter().map(|x| render(&r, x)).collect::<Vec<R>>())
    });
    let Ok(parts) = parts;
    // one allocation of the final size: collecting the chunks through `flatten` grew the vector
    // by doubling (a poison case's edges at 10M transfers are ~50 MB)
    let mut all = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for part in parts {
        all.extend(part);
    }
    all
}

/// Build the case file of a trace.
///
/// A wide case's nodes and edges (at 10M transfers, a poison trace's ~70k of each, every field
/// a string to format) are rendered on both cores.
pub fn case_file(trace: &Trace, ctx: &CaseContext<'_>) -> CaseFile {
    case_out(trace, ctx).into_case()
}

/// A trace's case file with its edges still to render. [`CaseOut::write_json`] renders each
/// chunk of edges where it is formatted, on both cores, so a wide trace's edges are never all
/// held as strings at once (a poison trace on the power-law benchmark graph has ~540k edges,
/// each a dozen strings: ~0.5 GB of them, page-faulted in and filled, then written once);
/// [`CaseOut::into_case`] renders them into the case, as [`case_file`] does.
pub struct CaseOut<'r, 'a> {
    /// The case file without its edges (`edges` is empty).
    pub case: CaseFile,
    edges: Edges<'r, 'a>,
    /// What the summary reads of the edges, gathered as [`CaseOut::write_json`] renders them
    /// (`None` until it has written them all).
    tally: std::sync::Mutex<Option<EdgeTally>>,
}

/// What [`summary_text`] reads of a case's edges.
#[derive(Default)]
struct EdgeTally {
    count: usize,
    /// Priced edges by their `usd_source` code.
    by_code: BTreeMap<String, usize>,
    /// Priced edges without a source.
    unnamed: usize,
    unpriced: usize,
    swaps: usize,
    crossed: usize,
    /// Bridge deposits with no release found, in the case's order.
    unmatched: Vec<CaseEdge>,
}

impl EdgeTally {
    fn of<'e>(edges: impl IntoIterator<Item = &'e CaseEdge>) -> EdgeTally {
        let mut t = EdgeTally::default();
        edges.into_iter().for_each(|e| t.add(e));
        t
    }

    fn add(&mut self, e: &CaseEdge) {
        self.count += 1;
        match (&e.usd, &e.usd_source) {
            (Some(_), Some(code)) => match self.by_code.get_mut(code) {
                Some(n) => *n += 1,
                None => {
                    self.by_code.insert(code.clone(), 1);
                }
            },
            (Some(_), None) => self.unnamed += 1,
            (None, _) => self.unpriced += 1,
        }
        match e.kind {
            EdgeKind::Swap => self.swaps += 1,
            EdgeKind::Bridge if e.chain_to.is_some() => self.crossed += 1,
            EdgeKind::Bridge => self.unmatched.push(e.clone()),
            EdgeKind::Transfer => {}
        }
    }

    /// Adds `later`, the tally of the edges after these.
    fn append(&mut self, later: EdgeTally) {
        self.count += later.count;
        for (code, n) in later.by_code {
            *self.by_code.entry(code).or_default() += n;
        }
        self.unnamed += later.unnamed;
        self.unpriced += later.unpriced;
        self.swaps += later.swaps;
        self.crossed += later.crossed;
        self.unmatched.extend(later.unmatched);
    }
}

/// The edges as [`CaseOut::write_json`] writes them: each chunk's tally is kept by its first
/// edge's index, so the tallies join in the case's order whichever thread rendered them.
struct Tallied<'e, 'r, 'a> {
    edges: &'e Edges<'r, 'a>,
    chunks: std::sync::Mutex<BTreeMap<usize, EdgeTally>>,
}

impl Elements<CaseEdge> for Tallied<'_, '_, '_> {
    fn count(&self) -> usize {
        self.edges.count()
    }

    fn each(
        &self,
        range: std::ops::Range<usize>,
        f: &mut dyn FnMut(&CaseEdge) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let (from, mut t) = (range.start, EdgeTally::default());
        self.edges.each(range, &mut |e| {
            t.add(e);
            f(e)
        })?;
        self.chunks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(from, t);
        Ok(())
    }
}

/// A trace's edges as case-file edges, rendered on demand.
struct Edges<'r, 'a> {
    trace: &'r Trace,
    ctx: &'r CaseContext<'a>,
    chains: Vec<ChainRender<'a>>,
}

impl Elements<CaseEdge> for Edges<'_, '_> {
    fn count(&self) -> usize {
        self.trace.edges.len()
    }

    fn each(
        &self,
        range: std::ops::Range<usize>,
        f: &mut dyn FnMut(&CaseEdge) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        // a renderer (its asset and price caches) per chunk, as `rendered` has per part
        let r = Renderer::new(self.trace, self.ctx, &self.chains);
        self.trace.edges[range].iter().try_for_each(|e| f(&r.edge(e)))
    }
}

impl CaseOut<'_, '_> {
    /// The number of edges the case file has.
    pub fn edge_count(&self) -> usize {
        self.edges.count()
    }

    /// The case file's bytes ([`CaseFile::to_json`] of [`CaseOut::into_case`]), its edges
    /// rendered as they are written; errors are `w`'s.
    pub fn write_json(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        let tallied = Tallied { edges: &self.edges, chunks: Default::default() };
        self.case.write_json_with(&tallied, w)?;
        let mut all = EdgeTally::default();
        for (_, t) in tallied.chunks.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
            all.append(t);
        }
        *self.tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(all);
        Ok(())
    }

    /// [`summary_text`] of the case file: from the edges [`CaseOut::write_json`] wrote, else
    /// from the edges rendered once more.
    pub fn summary_text(&self) -> String {
        let mut tally = self.tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let t = tally.get_or_insert_with(|| {
            let mut t = EdgeTally::default();
            // rendering fails only where its callback does, and this one does not
            let _ = self.edges.each(0..self.edges.count(), &mut |e| {
                t.add(e);
                Ok(())
            });
            t
        });
        summary(&self.case, t)
    }

    /// The whole case file, its edges rendered on both cores.
    pub fn into_case(self) -> CaseFile {
        let Edges { trace, ctx, chains } = &self.edges;
        let edges = rendered(trace, ctx, chains, &trace.edges, Renderer::edge);
        CaseFile { edges, ..self.case }
    }
}

/// The case file of a trace ([`case_file`]) with its edges left to render ([`CaseOut`]).
pub fn case_out<'r, 'a>(trace: &'r Trace, ctx: &'r CaseContext<'a>) -> CaseOut<'r, 'a> {
    // a chain the context does not name has no price symbols
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    let o = &trace.options;
    // how each chain of the trace (by index) is named and rendered
    let chains: Vec<ChainRender<'a>> = trace
        .chains
        .iter()
        .map(|c| {
            let cc = ctx.chains.iter().find(|x| x.name == c.name).or_else(|| ctx.chains.first());
            let name =
                if c.name.is_empty() { cc.map(|x| x.name.to_string()).unwrap_or_default() } else { c.name.clone() };
            ChainRender {
                name,
                evm: cc.map(|x| x.evm).unwrap_or(c.kind == Some(ChainKind::Evm)),
                syms: cc.map(|x| x.price_symbols).unwrap_or(&EMPTY),
                native: c.native_symbol.clone(),
                native_decimals: c.native_decimals,
            }
        })
        .collect();

    let traced: Vec<(&Node, &TracedNode)> = trace.nodes.iter().collect();
    let mut nodes: Vec<CaseNode> = rendered(trace, ctx, &chains, &traced, |r, (k, n)| r.node(k, n));
    // by (hop, address, chain): by hop first, then each hop's nodes by (address, chain) where
    // they are not in that order already (the trace's order, by address, often is) — the same
    // order as one stable sort by the three
    nodes.sort_by_key(|n| n.hop);
    fn key(n: &CaseNode) -> (&str, &str) {
        (n.address.as_str(), n.chain.as_str())
    }
    for run in nodes.chunk_by_mut(|a, b| a.hop == b.hop) {
        if !run.is_sorted_by(|a, b| key(a) <= key(b)) {
            run.sort_by(|a, b| key(a).cmp(&key(b)));
        }
    }
    let deposits: Vec<CaseDeposit> = rendered(trace, ctx, &chains, &trace.deposits, Renderer::deposit);

    let mut seeds: Vec<String> = o.seeds.iter().map(|s| s.to_string()).collect();
    seeds.sort();
    seeds.dedup();
    let names: Vec<String> = chains.iter().map(|c| c.name.clone()).collect();
    let asset_text = o.asset.map(|a| a.display(chains.first().map_or(o.native_symbol.as_str(), |c| c.native.as_str())));
    let case = CaseFile {
        version: CASE_VERSION,
        chain: names.join(","),
        chains: names,
        seeds,
        params: TraceParams {
            direction: o.direction.as_str().to_string(),
            hops: o.hops,
            policy: o.policy.as_str().to_string(),
            min_amount: o.min_amount.clone(),
            asset: asset_text,
            since: bound_text(&o.since, &ctx.since_text),
            until: bound_text(&o.until, &ctx.until_text),
            seeds_label: ctx.seeds_label.clone(),
            hub_degree: o.hub_degree,
        },
        provenance: ctx.provenance.clone(),
        nodes,
        edges: Vec::new(),
        deposits,
    };
    CaseOut { case, edges: Edges { trace, ctx, chains }, tally: Default::default() }
}

/// Sum decimal strings exactly (as integers scaled to the longest fraction).
fn add_decimal(acc: &mut (U256, usize), text: &str) {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let scale = acc.1.max(frac.len());
    let up = |v: U256, from: usize| v * U256::from(10u8).pow(U256::from(scale - from));
    let parse = |s: &str| U256::from_str_radix(if s.is_empty() { "0" } else { s }, 10).unwrap_or(U256::ZERO);
    let v = parse(&format!("{int}{frac}"));
    acc.0 = up(acc.0, acc.1) + up(v, frac.len());
    acc.1 = scale;
}

/// `v / 10^scale` with exactly two decimals (USD sums; their inputs have two decimals).
fn fixed(v: U256, scale: usize) -> String {
    let cents = if scale >= 2 {
        v / U256::from(10u8).pow(U256::from(scale - 2))
    } else {
        v * U256::from(10u8).pow(U256::from(2 - scale))
    };
    let s = format!("{:0>3}", cents.to_string());
    let (i, f) = s.split_at(s.len() - 2);
    format!("{i}.{f}")
}

/// How a report names a case's `usd_source`: `price table FILE`, `chainlink feed 0x…` (without
/// the round, so a feed's rounds group), `shipped daily table`, `stablecoin peg 1.00`.
pub fn source_label(code: &str) -> String {
    match PriceSource::from_code(code) {
        Some(PriceSource::UserTable(f)) => format!("price table {f}"),
        Some(PriceSource::Feed { feed, .. }) => format!("chainlink feed {feed}"),
        Some(PriceSource::Shipped) => "shipped daily table".to_string(),
        Some(PriceSource::Peg) => "stablecoin peg 1.00".to_string(),
        None => code.to_string(),
    }
}

/// A readable summary: deposits per exchange with totals and USD, then the stops.
pub fn summary_text(case: &CaseFile) -> String {
    summary(case, &EdgeTally::of(&case.edges))
}

/// [`summary_text`] of a case file whose edges are `edges`' (its own are not read).
fn summary(case: &CaseFile, edges: &EdgeTally) -> String {
    let mut s = String::new();
    let p = &case.params;
    let _ = writeln!(
        s,
        "trace {} on {} from {} seed(s), policy {}, up to {} hops",
        p.direction,
        case.chain,
        case.seeds.len(),
        p.policy,
        p.hops
    );
    let mut roles: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &case.nodes {
        *roles.entry(n.role.as_str()).or_default() += 1;
    }
    let roles_text: Vec<String> = roles.iter().map(|(r, c)| format!("{c} {r}")).collect();
    let _ = writeln!(s, "{} addresses ({}), {} transfers", case.nodes.len(), roles_text.join(", "), edges.count);

    // exchange -> asset label -> (count, amount sum, usd cents sum, any usd unknown, sources)
    type Tot = (usize, (U256, usize), (U256, usize), bool, std::collections::BTreeSet<String>);
    let mut per: BTreeMap<&str, BTreeMap<String, Tot>> = BTreeMap::new();
    // a walk over several chains reports each chain's deposits apart
    let multi = case.chains.len() > 1;
    for d in &case.deposits {
        let mut asset = d.symbol.clone().unwrap_or_else(|| d.asset.clone());
        if multi {
            asset = format!("{asset} on {}", d.chain);
        }
        let t = per
            .entry(&d.exchange)
            .or_default()
            .entry(asset)
            .or_insert_with(|| (0, (U256::ZERO, 0), (U256::ZERO, 0), false, Default::default()));
        t.0 += 1;
        add_decimal(&mut t.1, &d.amount);
        match &d.usd {
            Some(u) => add_decimal(&mut t.2, u),
            None => t.3 = true,
        }
        if let Some(src) = &d.usd_source {
            t.4.insert(source_label(src));
        }
    }
    if per.is_empty() {
        let _ = writeln!(s, "no exchange deposits found");
    } else {
        let _ = writeln!(s, "exchange deposits ({}):", case.deposits.len());
        for (ex, assets) in &per {
            for (asset, (n, amt, usd, unknown, sources)) in assets {
                let from = if sources.is_empty() {
                    String::new()
                } else {
                    format!(" from {}", sources.iter().cloned().collect::<Vec<_>>().join(", "))
                };
                let usd_text = if usd.0.is_zero() && *unknown {
                    "USD unknown: no price for that day".to_string()
                } else {
                    format!("${}{}{from}", fixed(usd.0, usd.1), if *unknown { " + unpriced" } else { "" })
                };
                let _ =
                    writeln!(s, "  {ex}: {n} deposit(s), {} {asset} ({usd_text})", format_units(amt.0, amt.1 as u8));
            }
        }
    }
    // how the transfers' USD figures were valued, by source
    let mut by_source: BTreeMap<String, usize> = BTreeMap::new();
    for (code, n) in &edges.by_code {
        *by_source.entry(source_label(code)).or_default() += n;
    }
    if edges.unnamed > 0 {
        *by_source.entry("an unnamed source".to_string()).or_default() += edges.unnamed;
    }
    let unpriced = edges.unpriced;
    if !by_source.is_empty() || unpriced > 0 {
        let mut parts: Vec<String> = by_source.iter().map(|(s, n)| format!("{n} from {s}")).collect();
        if unpriced > 0 {
            parts.push(format!("{unpriced} unknown (no price)"));
        }
        let _ = writeln!(s, "USD of the {} transfers: {}", edges.count, parts.join(", "));
    }
    let mut stops: BTreeMap<&str, usize> = BTreeMap::new();
    for n in case.nodes.iter().filter(|n| n.role == Role::Stop) {
        *stops.entry(n.stop_reason.as_deref().unwrap_or("stop")).or_default() += 1;
    }
    let services = case.nodes.iter().filter(|n| n.role == Role::Service).count();
    stops.remove("bridge");
    let (swaps, crossed, unmatched) = (edges.swaps, edges.crossed, &edges.unmatched);
    if swaps + crossed > 0 {
        let _ = writeln!(s, "followed {swaps} swap(s) and {crossed} bridge crossing(s)");
    }
    for e in unmatched {
        let _ = writeln!(
            s,
            "unmatched bridge deposit: {} {} from {} into bridge {} on {} (tx {}): no release found on the traced chains; the trail stops there",
            e.traced_amount,
            e.symbol.as_deref().unwrap_or(&e.asset),
            e.from,
            e.to,
            e.chain,
            e.tx
        );
    }
    if !unmatched.is_empty() {
        *stops.entry("bridge").or_default() += case.nodes.iter().filter(|n| n.role == Role::Bridge).count();
    }
    if stops.is_empty() && services == 0 {
        let _ = writeln!(s, "no stops");
    } else {
        let mut parts: Vec<String> = stops.iter().map(|(r, c)| format!("{c} {r}")).collect();
        if services > 0 {
            parts.push(format!("{services} service"));
        }
        let _ = writeln!(s, "stops: {}", parts.join(", "));
    }
    s
}
