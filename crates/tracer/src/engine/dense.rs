//! The walk over a [`DenseView`]: the same discovery and replay as the walk over addresses
//! (`Walker::discover`, `Walker::replay`), keyed by dense ids and asset indices instead of
//! `(Address, Asset)`, reading compact rows instead of [`Transfer`]s. A `Transfer` is built only
//! for an edge of the case; the result is handed to the same `Walker::assemble`.
//!
//! It runs where the rules reduce to plain transfers — one chain (either direction), no
//! conversion or bridge rows to follow, not forward Bitcoin FIFO (which replays inputs and
//! outputs) — and must give
//! the same [`Trace`] as the walk over addresses (tests compare the two on random graphs and the
//! trace benchmark compares the case files byte for byte).

use super::*;
use crate::source::{DenseView, Row};

/// Chain order of a row or an arrival, packed: `(height, tx_index, sub)`. `0` is the seeds'
/// "before everything" (as `OKEY_MIN` is for the walk over addresses).
type Key = u128;
const KEY_MAX: Key = u128::MAX;

fn key(height: u64, tx_index: u32, sub: u32) -> Key {
    (u128::from(height) << 64) | (u128::from(tx_index) << 32) | u128::from(sub)
}

fn row_key(r: &Row) -> Key {
    key(r.height, r.tx_index, r.sub)
}

/// The store's exclusive "after" for a key (`None`: from the start).
fn after(k: Key) -> Option<(u64, Position)> {
    (k != 0).then_some(((k >> 64) as u64, Position { tx_index: (k >> 32) as u32, sub: k as u32 }))
}

const UNKNOWN: u8 = 0;
const SEED: u8 = 1;
const EXPAND: u8 = 2;
const POOL: u8 = 3;
const HUB: u8 = 4;

/// The state slot of a seed's holding (seeds hold no state: everything they send is traced).
const SEED_SLOT: u32 = u32::MAX - 1;
/// An untracked holding.
const NO_SLOT: u32 = u32::MAX;

/// One transfer of the replay: its row, its ends, and their state slots.
struct Ev {
    row: Row,
    from: u32,
    to: u32,
    fs: u32,
    ts: u32,
}

/// What the walk over ids hands to the result's assembly.
pub(super) struct Nodes<'v, E> {
    view: &'v dyn DenseView<Error = E>,
    class: Vec<u8>,
    labelled: &'v [(u32, Vec<Label>)],
    /// The addresses of the edges' ends, decoded once each.
    names: Names,
    /// Each edge's ends, `(from, to)` as in its transfer, as indices into `names`, in the
    /// edges' order.
    ends: Vec<(u32, u32)>,
}

/// The addresses of a set of ids, decoded once each in ascending id order (neighbouring ids
/// are neighbours in the view's address table), found again by id without hashing.
struct Names {
    /// Per id: its index in `ids` plus one, 0 when absent.
    slot: Vec<u32>,
    /// The ids, ascending.
    ids: Vec<u32>,
    /// Their addresses, in the same order.
    addrs: Vec<Address>,
}

impl Names {
    /// The addresses of every id in `ends` (read on both cores).
    fn decode<E: std::error::Error + Send + Sync + 'static>(
        view: &dyn DenseView<Error = E>,
        ends: &[(u32, u32)],
    ) -> Result<Names, TraceError> {
        let max = ends.iter().map(|&(f, t)| f.max(t)).max().map_or(0, |m| m as usize + 1);
        let mut slot = vec![0u32; max];
        let mut ids = Vec::new();
        for &(f, t) in ends {
            for id in [f, t] {
                let s = &mut slot[id as usize];
                if *s == 0 {
                    *s = 1;
                    ids.push(id);
                }
            }
        }
        ids.sort_unstable();
        for (i, &id) in ids.iter().enumerate() {
            slot[id as usize] = i as u32 + 1;
        }
        let parts = on_both_cores(&ids, |part| part.iter().map(|&id| view.address(id)).collect::<Result<Vec<_>, E>>())
            .map_err(src_err)?;
        let addrs = parts.into_iter().flatten().collect();
        Ok(Names { slot, ids, addrs })
    }

    /// The index of `id`, which must be one of the decoded ids.
    fn index(&self, id: u32) -> u32 {
        self.slot[id as usize] - 1
    }
}

/// The reached holdings, `(address id, asset index)`, each with a slot: a chain of slots per id
/// (an address holds one or a few assets), found without hashing.
#[derive(Default)]
struct Holdings {
    /// First slot of each id (`NO_SLOT`: none).
    head: Vec<u32>,
    /// Per slot: its id, its asset and the id's next slot.
    slots: Vec<(u32, u32, u32)>,
}

impl Holdings {
    fn find(&self, id: u32, asset: u32) -> Option<u32> {
        let mut s = self.head.get(id as usize).copied().unwrap_or(NO_SLOT);
        while s != NO_SLOT {
            let (_, a, next) = self.slots[s as usize];
            if a == asset {
                return Some(s);
            }
            s = next;
        }
        None
    }

    /// The holding's slot, and whether it is new.
    fn insert(&mut self, id: u32, asset: u32) -> (u32, bool) {
        if let Some(s) = self.find(id, asset) {
            return (s, false);
        }
        let i = id as usize;
        if self.head.len() <= i {
            self.head.resize(i + 1, NO_SLOT);
        }
        let s = self.slots.len() as u32;
        self.slots.push((id, asset, self.head[i]));
        self.head[i] = s;
        (s, true)
    }
}

struct DenseWalk<'v, E> {
    view: &'v dyn DenseView<Error = E>,
    hops: u32,
    /// Class per address id (`UNKNOWN` until reached; the seeds are `SEED` from the start).
    class: Vec<u8>,
    seeds: HashSet<u32>,
    labelled: &'v [(u32, Vec<Label>)],
    /// The reached holdings; slot `s` owns `best[s * (hops + 1)..][..hops + 1]`.
    holdings: Holdings,
    /// Earliest arrival with exactly `h` hops, `hops + 1` entries per slot.
    best: Vec<Key>,
    /// Outgoing rows of expanded addresses, and the key they were read after.
    outs: HashMap<u32, (Key, Vec<Row>)>,
    /// `--asset` as an index into the view's assets: `Some(None)` when the chain has no such
    /// asset (nothing is allowed).
    only: Option<Option<u32>>,
    /// `--min-amount` per asset index, filled as assets are met.
    min_raw: Vec<Option<U256>>,
}

/// A row's key in the walk's direction (backward: reversed).
fn orient(fwd: bool, r: &Row) -> Key {
    if fwd {
        row_key(r)
    } else {
        !row_key(r)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> DenseWalk<'_, E> {
    fn is_seed(&self, id: u32) -> bool {
        self.class.get(id as usize) == Some(&SEED)
    }

    fn labels_of(&self, id: u32) -> Option<&Vec<Label>> {
        self.labelled.binary_search_by_key(&id, |(i, _)| *i).ok().map(|i| &self.labelled[i].1)
    }

    fn earliest(&self, id: u32, asset: u32, hops: u32) -> Key {
        if self.is_seed(id) {
            return 0;
        }
        match self.holdings.find(id, asset) {
            Some(s) => {
                let at = s as usize * (self.hops as usize + 1);
                self.best[at..=at + hops as usize].iter().copied().min().unwrap_or(KEY_MAX)
            }
            None => KEY_MAX,
        }
    }

    fn improve(&mut self, id: u32, asset: u32, h: u32, k: Key) -> bool {
        if k >= self.earliest(id, asset, h) {
            return false;
        }
        let width = self.hops as usize + 1;
        let (s, new) = self.holdings.insert(id, asset);
        if new {
            self.best.extend(std::iter::repeat_n(KEY_MAX, width));
        }
        let at = s as usize * width + h as usize;
        self.best[at] = self.best[at].min(k);
        true
    }

    /// The row's asset passes `--asset`.
    fn asset_allowed(&self, r: &Row) -> bool {
        self.only.is_none_or(|only| only == Some(r.asset))
    }
}

/// The source's dense view, when this walk can run over it: one chain, no conversion or bridge
/// rows to follow, not forward FIFO over Bitcoin's inputs and outputs.
pub(super) fn view_for<'s, S: GraphSource>(
    w: &Walker<'_, &S>,
    chains: &'s [WalkChain<&S>],
) -> Result<Option<&'s dyn DenseView<Error = S::Error>>, TraceError> {
    if chains.len() != 1 {
        return Ok(None);
    }
    let src: &'s S = chains[0].source;
    let Some(view) = src.dense() else { return Ok(None) };
    if w.flows && !view.flows_free() {
        return Ok(None);
    }
    if w.fwd && w.opts.policy == Policy::Fifo && src.tx_inputs(&Hash32::ZERO).map_err(src_err)?.is_some() {
        return Ok(None);
    }
    Ok(Some(view))
}

impl<S: GraphSource> Walker<'_, &S> {
    /// Discovery and replay over `view` (see the module docs): the traced edges, and what
    /// `nodes_dense` needs to make the result's nodes from them.
    pub(super) fn walk_dense<'v>(
        &mut self,
        view: &'v dyn DenseView<Error = S::Error>,
    ) -> Result<(Vec<TracedEdge>, Nodes<'v, S::Error>), TraceError> {
        let t0 = std::time::Instant::now();
        self.stats.dense = true;
        let n = self.opts.hops;
        let seeds = self.class_seeds()?;
        let assets = view.assets();
        let only = self.opts.asset.map(|a| assets.iter().position(|x| *x == a).map(|i| i as u32));
        let labelled = view.labelled().map_err(src_err)?;
        let mut w = DenseWalk {
            view,
            hops: n,
            class: Vec::new(),
            seeds: seeds.iter().filter_map(|(_, a)| view.id_of(a)).collect(),
            labelled,
            holdings: Holdings::default(),
            best: Vec::new(),
            outs: HashMap::default(),
            only,
            min_raw: vec![None; assets.len()],
        };
        let class_of = |w: &DenseWalk<'_, S::Error>, id: u32| w.class.get(id as usize).copied().unwrap_or(UNKNOWN);
        let set_class = |w: &mut DenseWalk<'_, S::Error>, id: u32, c: u8| {
            let i = id as usize;
            if w.class.len() <= i {
                w.class.resize(i + 1, UNKNOWN);
            }
            w.class[i] = c;
        };
        for &s in &w.seeds.clone() {
            set_class(&mut w, s, SEED);
        }

        // discovery
        let mut frontier: Vec<(u32, Key)> = w.seeds.iter().map(|&s| (s, 0)).collect();
        frontier.sort_unstable();
        let hub = self.opts.hub_degree;
        for h in 1..=n {
            if frontier.is_empty() {
                break;
            }
            for &(a, _) in &frontier {
                if class_of(&w, a) != EXPAND || !w.labels_of(a).is_none_or(|l| l.is_empty()) {
                    continue;
                }
                let (out, inn) = view.degrees(a).map_err(src_err)?;
                self.stats.lookups += 2;
                if out > hub || inn > hub {
                    set_class(&mut w, a, HUB);
                }
            }
            frontier.retain(|&(a, _)| matches!(class_of(&w, a), EXPAND | SEED));
            let need: Vec<(u32, Key)> =
                frontier.iter().copied().filter(|&(a, k)| w.outs.get(&a).is_none_or(|(have, _)| k < *have)).collect();
            let fwd = self.fwd;
            let lists = on_both_cores(&need, |part| {
                let mut lists = Vec::with_capacity(part.len());
                for &(a, k) in part {
                    let mut rows = Vec::new();
                    if fwd {
                        view.rows(a, Direction::Out, after(k), &mut rows)?;
                    } else {
                        // backward: the transfers into `a` before the funds left it (in any
                        // order: arrivals are minima, and the replay sorts)
                        view.rows(a, Direction::In, None, &mut rows)?;
                    }
                    lists.push(rows);
                }
                Ok::<_, S::Error>(lists)
            })
            .map_err(src_err)?;
            self.stats.split_reads += u64::from(lists.len() > 1);
            for (&(a, k), mut rows) in need.iter().zip(lists.into_iter().flatten()) {
                self.stats.transfers_read += rows.len() as u64;
                if !fwd {
                    rows.retain(|r| k == 0 || !row_key(r) > k);
                }
                rows.retain(|r| self.row_allowed(&w, r));
                w.outs.insert(a, (k, rows));
            }
            if !need.is_empty() {
                self.stats.batches += 1;
            }
            self.stats.addresses_expanded += frontier.len() as u64;
            let mut improved: HashMap<u32, Key> = HashMap::default();
            for &(x, _) in &frontier {
                let Some((read_after, list)) = w.outs.remove(&x) else { continue };
                for r in &list {
                    let k = orient(self.fwd, r);
                    if k <= w.earliest(x, r.asset, h - 1) {
                        continue;
                    }
                    let min_raw = self.dense_min_raw(&mut w, r.asset)?;
                    if r.amount < min_raw || r.amount.is_zero() || w.is_seed(r.other) {
                        continue;
                    }
                    if w.improve(r.other, r.asset, h, k) {
                        let e = improved.entry(r.other).or_insert(k);
                        *e = (*e).min(k);
                    }
                }
                w.outs.insert(x, (read_after, list));
            }
            if h == n {
                break;
            }
            for &id in improved.keys() {
                if class_of(&w, id) != UNKNOWN {
                    continue;
                }
                self.stats.lookups += 1;
                let c = match w.labels_of(id).and_then(|l| pooling_role(l)) {
                    Some(_) => POOL,
                    None => EXPAND,
                };
                set_class(&mut w, id, c);
            }
            frontier = improved.into_iter().filter(|&(a, _)| class_of(&w, a) == EXPAND).collect();
            frontier.sort_unstable();
        }

        let t1 = std::time::Instant::now();
        self.stats.discover_us = (t1 - t0).as_micros() as u64;

        // replay: the tracked holdings, reached with fewer than N hops and expandable, each with
        // a state slot
        let policy = self.opts.policy;
        let mut tracked: Vec<(u32, u32, u32)> = w
            .holdings
            .slots
            .iter()
            .enumerate()
            .filter(|&(_, &(id, asset, _))| class_of(&w, id) == EXPAND && w.earliest(id, asset, n - 1) != KEY_MAX)
            .map(|(s, &(id, asset, _))| (id, asset, s as u32))
            .collect();
        tracked.sort_unstable();
        // the state of each holding's slot, `NO_SLOT` when untracked
        let mut state_at = vec![NO_SLOT; w.holdings.slots.len()];
        for (i, &(_, _, s)) in tracked.iter().enumerate() {
            state_at[s as usize] = i as u32;
        }
        let mut states: Vec<State> = tracked.iter().map(|_| State::new(policy, n)).collect();
        // whether traced funds ever arrived at a state (until then it holds nothing traced)
        let mut reached = vec![false; states.len()];
        let slot = |id: u32, asset: u32| -> u32 {
            // the class first: most counterparties were never reached (a byte per id, where
            // the holdings' heads are four)
            match w.class.get(id as usize) {
                Some(&SEED) => SEED_SLOT,
                Some(&EXPAND) => w.holdings.find(id, asset).map_or(NO_SLOT, |s| state_at[s as usize]),
                _ => NO_SLOT,
            }
        };

        // a row `a` sent (in the walk's direction)
        let sent =
            |a: u32, r: &Row| Ev { row: *r, from: a, to: r.other, fs: slot(a, r.asset), ts: slot(r.other, r.asset) };
        // the events, each transfer once: the seeds' (allowed) outgoing rows; poison: the
        // tracked holdings' outgoing rows after their first arrival; haircut and FIFO: their
        // complete histories, an incoming row only when its sender's rows are not read already
        let mut events: Vec<Ev> = Vec::new();
        let mut seed_ids: Vec<u32> = w.seeds.iter().copied().collect();
        seed_ids.sort_unstable();
        for &s in &seed_ids {
            if let Some((_, l)) = w.outs.get(&s) {
                // a seed's slot is SEED_SLOT
                events.extend(l.iter().map(|r| sent(s, r)));
            }
        }
        let mut held: Vec<(u32, Vec<u32>)> = Vec::new();
        for &(id, asset, _) in &tracked {
            match held.last_mut() {
                Some((last, v)) if *last == id => v.push(asset),
                _ => held.push((id, vec![asset])),
            }
        }
        match policy {
            Policy::Poison => {
                for (a, mine) in &held {
                    if let Some((_, l)) = w.outs.get(a) {
                        events.extend(l.iter().filter(|r| mine.contains(&r.asset)).map(|r| sent(*a, r)));
                    }
                }
            }
            Policy::Haircut | Policy::Fifo => {
                let (out_dir, in_dir) =
                    if self.fwd { (Direction::Out, Direction::In) } else { (Direction::In, Direction::Out) };
                let opts = &self.opts;
                // `row_allowed`, for the reading threads
                let allowed = |r: &Row| w.asset_allowed(r) && in_bounds(opts, r.height, r.time);
                let parts = on_both_cores(&held, |part| {
                    let (mut rows, mut sends, mut receipts, mut read) = (Vec::new(), Vec::new(), Vec::new(), 0u64);
                    for (a, mine) in part {
                        rows.clear();
                        view.rows(*a, out_dir, None, &mut rows)?;
                        read += rows.len() as u64;
                        sends.extend(rows.iter().filter(|r| mine.contains(&r.asset)).map(|r| sent(*a, r)));
                    }
                    for (a, mine) in part {
                        rows.clear();
                        view.rows(*a, in_dir, None, &mut rows)?;
                        read += rows.len() as u64;
                        for r in rows.iter().filter(|r| mine.contains(&r.asset)) {
                            let fs = slot(r.other, r.asset);
                            let read = match fs {
                                NO_SLOT => false,
                                SEED_SLOT => allowed(r),
                                _ => true,
                            };
                            if !read {
                                receipts.push(Ev { row: *r, from: r.other, to: *a, fs, ts: slot(*a, r.asset) });
                            }
                        }
                    }
                    Ok::<_, S::Error>((sends, receipts, read))
                })
                .map_err(src_err)?;
                self.stats.split_reads += u64::from(parts.len() > 1);
                // in the order one pass would make them: every send, then every receipt
                let mut receipts = Vec::new();
                for (s, r, read) in parts {
                    events.extend(s);
                    receipts.push(r);
                    self.stats.transfers_read += read;
                }
                events.extend(receipts.into_iter().flatten());
                if !held.is_empty() {
                    self.stats.batches += 2;
                }
            }
        }
        let keys: Vec<Key> = events.iter().map(|e| orient(self.fwd, &e.row)).collect();
        let order = key_order(&keys);
        drop(keys);
        self.stats.events_replayed = order.len() as u64;

        // at most one edge per event: reserved once (address space only; the pages are touched
        // as edges are written), so the edges are never copied by a regrowth
        let mut edges = Vec::with_capacity(order.len());
        // each edge's ends by id and its transaction: addresses and hashes are filled in after
        // the replay, each address decoded once
        let mut ends: Vec<(u32, u32)> = Vec::with_capacity(order.len());
        let mut edge_txs: Vec<u32> = Vec::with_capacity(order.len());
        for &i in &order {
            let e = &events[i as usize];
            let r = &e.row;
            let allowed = self.row_allowed(&w, r);
            let parcel = match e.fs {
                SEED_SLOT => allowed.then(|| Parcel::seed(policy, r.amount)),
                NO_SLOT => None,
                s => {
                    let st = &mut states[s as usize];
                    if reached[s as usize] {
                        Some(st.send(r.amount)).filter(|_| allowed)
                    } else {
                        // most sends of a replay: nothing traced ever arrived, none leaves
                        st.send_untraced(r.amount);
                        None
                    }
                }
            };
            let mut carried = None;
            if let Some(p) = parcel.map(|p| p.advance(n)) {
                let traced = p.traced(r.amount);
                let strata = p.mask();
                if !traced.is_zero() && strata != 0 {
                    let followed = traced >= self.dense_min_raw(&mut w, r.asset)?;
                    let (from, to) = if self.fwd { (e.from, e.to) } else { (e.to, e.from) };
                    let transfer = Transfer {
                        // the hash and the addresses are filled in below, all edges' at once
                        tx: Hash32::ZERO,
                        height: r.height,
                        pos: Position { tx_index: r.tx_index, sub: r.sub },
                        time: r.time,
                        from: Address::Coinbase,
                        to: Address::Coinbase,
                        asset: assets[r.asset as usize],
                        amount: r.amount,
                    };
                    edges.push(TracedEdge::new(transfer, 0, EdgeKind::Transfer, traced, strata, followed));
                    edge_txs.push(r.tx);
                    ends.push((from, to));
                    if followed {
                        carried = Some(p);
                    }
                }
            }
            if e.ts != NO_SLOT && e.ts != SEED_SLOT {
                reached[e.ts as usize] |= carried.is_some();
                states[e.ts as usize].receive(r.amount, carried.as_ref());
            }
        }
        // a read per transaction (most edges are far apart in the table): on both cores
        let hashes = on_both_cores(&edge_txs, |part| view.tx_hashes(part)).map_err(src_err)?.concat();
        drop(edge_txs);
        let names = Names::decode(view, &ends)?;
        for ((e, tx), end) in edges.iter_mut().zip(hashes).zip(&mut ends) {
            let (f, t) = (names.index(end.0), names.index(end.1));
            e.transfer.tx = tx;
            e.transfer.from = names.addrs[f as usize].clone();
            e.transfer.to = names.addrs[t as usize].clone();
            *end = (f, t);
        }
        if !self.fwd {
            // the replay ran in mirrored order: the result's is chain order
            edges.reverse();
            ends.reverse();
        }
        self.stats.replay_us = t1.elapsed().as_micros() as u64;
        let DenseWalk { class, labelled, .. } = w;
        Ok((edges, Nodes { view, class, labelled, names, ends }))
    }

    /// The result's nodes from the dense walk's classes and ids (what `Walker::nodes` finds by
    /// address), and the edges' ends by index for the deposits' paths.
    pub(super) fn nodes_dense(
        &mut self,
        edges: &[TracedEdge],
        d: Nodes<'_, S::Error>,
    ) -> Result<(BTreeMap<Node, TracedNode>, EdgeEnds), TraceError> {
        let n = self.opts.hops;
        let Nodes { view, class, labelled, names, ends } = d;
        // per name: fewest hops, whether a followed edge arrived, the earliest such arrival
        // (oriented); `u32::MAX` hops: not a receiver
        let mut hop: Vec<(u32, bool, Key)> = vec![(u32::MAX, false, KEY_MAX); names.ids.len()];
        for (e, &(f, t)) in edges.iter().zip(&ends) {
            let to = if self.fwd { t } else { f };
            if class.get(names.ids[to as usize] as usize) == Some(&SEED) {
                continue;
            }
            let tr = &e.transfer;
            let ent = &mut hop[to as usize];
            ent.0 = ent.0.min(e.hop);
            if e.followed {
                ent.1 = true;
                let k = key(tr.height, tr.pos.tx_index, tr.pos.sub);
                ent.2 = ent.2.min(if self.fwd { k } else { !k });
            }
        }
        // the receivers in id order, each with its labels (both lists ascending by id: merged)
        let mut recv: Vec<(u32, Option<&Vec<Label>>)> = Vec::new();
        let mut li = 0;
        for (i, &(h, _, _)) in hop.iter().enumerate() {
            if h == u32::MAX {
                continue;
            }
            let id = names.ids[i];
            while li < labelled.len() && labelled[li].0 < id {
                li += 1;
            }
            let labels = labelled.get(li).filter(|(l, _)| *l == id).map(|(_, l)| l);
            recv.push((i as u32, labels));
        }
        // the role of each: a receiver at the hop limit is a stop when it sent anything after
        // the traced funds arrived (a read per such receiver: on both cores)
        let mut roles: Vec<(Role, Option<&'static str>)> = Vec::with_capacity(recv.len());
        let mut limit: Vec<(u32, Key)> = Vec::new();
        for &(i, labels) in &recv {
            let (h, followed, first) = hop[i as usize];
            let hub = class.get(names.ids[i as usize] as usize) == Some(&HUB);
            let role = match labels.and_then(|l| pooling_role(l)) {
                Some(r) => (r, None),
                None if hub => (Role::Stop, Some("hub")),
                None if !followed => (Role::Stop, Some("min_amount")),
                None if h >= n => {
                    limit.push((roles.len() as u32, first));
                    (Role::Intermediate, None)
                }
                None => (Role::Intermediate, None),
            };
            roles.push(role);
        }
        self.stats.lookups += recv.len() as u64;
        let fwd = self.fwd;
        let sent_after = on_both_cores(&limit, |part| {
            part.iter()
                .map(|&(r, first)| has_outs_after(view, fwd, names.ids[recv[r as usize].0 as usize], first))
                .collect::<Result<Vec<bool>, S::Error>>()
        })
        .map_err(src_err)?;
        for (&(r, _), stop) in limit.iter().zip(sent_after.into_iter().flatten()) {
            if stop {
                roles[r as usize] = (Role::Stop, Some("hops"));
            }
        }
        // the nodes, built in address order in one go (inserting tens of thousands of addresses
        // one by one into a B-tree costs more than the walk's discovery); sorted by integer keys,
        // whole addresses compared only where keys tie
        let mut exchange: Vec<u32> = vec![NO_EXCHANGE; names.ids.len()];
        let mut exchanges: Vec<(Category, String)> = Vec::new();
        let mut nodes: Vec<Option<(Node, TracedNode)>> = Vec::with_capacity(recv.len() + self.seeds.len());
        for s in &self.seeds {
            let labels = self.labels.get(s).cloned().unwrap_or_default();
            nodes.push(Some((s.clone(), TracedNode { hop: 0, role: Role::Seed, stop_reason: None, labels })));
        }
        for (&(i, labels), (role, reason)) in recv.iter().zip(roles) {
            let labels = labels.cloned().unwrap_or_default();
            if let Some(x) = exchange_of(&labels) {
                exchange[i as usize] = exchanges.len() as u32;
                exchanges.push(x);
            }
            let node = (0, names.addrs[i as usize].clone());
            let traced = TracedNode { hop: hop[i as usize].0, role, stop_reason: reason, labels };
            nodes.push(Some((node, traced)));
        }
        let mut order: Vec<((u128, u64), u32)> = nodes
            .iter()
            .enumerate()
            .map(|(i, x)| (x.as_ref().map_or((0, 0), |((c, a), _)| sort_key(*c, a)), i as u32))
            .collect();
        let node_of = |i: u32| nodes[i as usize].as_ref().map(|(k, _)| k);
        order.sort_unstable_by(|x, y| x.0.cmp(&y.0).then_with(|| node_of(x.1).cmp(&node_of(y.1))));
        let nodes: BTreeMap<Node, TracedNode> = order.iter().filter_map(|&(_, i)| nodes[i as usize].take()).collect();
        Ok((nodes, EdgeEnds { ends, exchange, exchanges }))
    }

    /// `--asset`, `--since` and `--until` let the row through (the walk over addresses'
    /// `allowed`, on a row).
    fn row_allowed(&self, w: &DenseWalk<'_, S::Error>, r: &Row) -> bool {
        w.asset_allowed(r) && self.in_bounds(r.height, r.time)
    }

    /// `--min-amount` in base units of the view's asset `i` (and the asset's display facts, as
    /// the walk over addresses records them when it first meets the asset).
    fn dense_min_raw(&mut self, w: &mut DenseWalk<'_, S::Error>, i: u32) -> Result<U256, TraceError> {
        if let Some(m) = w.min_raw.get(i as usize).copied().flatten() {
            return Ok(m);
        }
        let asset =
            *w.view.assets().get(i as usize).ok_or_else(|| TraceError::Source(format!("asset index {i}").into()))?;
        let m = self.asset(0, asset)?.min_raw;
        w.min_raw[i as usize] = Some(m);
        Ok(m)
    }
}

/// `f` over `items`: on two threads, a half each, when there are enough items for a thread to
/// pay and a second core to run it; the results in `items`' order.
fn on_both_cores<T: Sync, R: Send, E: Send>(items: &[T], f: impl Fn(&[T]) -> Result<R, E> + Sync) -> Result<Vec<R>, E> {
    // a few hundred lists take about as long as starting a thread
    const MIN_SPLIT: usize = 512;
    // asked once per process: on Linux the answer reads the cgroup's CPU quota files
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if items.len() < MIN_SPLIT || cores < 2 {
        return Ok(vec![f(items)?]);
    }
    let (a, b) = items.split_at(items.len() / 2);
    let f = &f;
    std::thread::scope(|s| {
        let second = s.spawn(move || f(b));
        let first = f(a);
        // a panic in the second half is the walk's own bug: raise it here
        let second = second.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        Ok(vec![first?, second?])
    })
}

/// The indices of `keys` in key order, the first of equal keys only (a stable sort would keep
/// it). When the keys' heights, transaction indices and positions span few enough bits, each
/// (key, index) pair is packed into one `u64` and those are sorted: a sort of 8-byte integers
/// instead of 32-byte pairs.
fn key_order(keys: &[Key]) -> Vec<u32> {
    let fields = |k: Key| ((k >> 64) as u64, (k >> 32) as u32, k as u32);
    let (mut lo, mut hi, mut tx_max, mut sub_max) = (u64::MAX, 0u64, 0u32, 0u32);
    for &k in keys {
        let (h, t, s) = fields(k);
        (lo, hi, tx_max, sub_max) = (lo.min(h), hi.max(h), tx_max.max(t), sub_max.max(s));
    }
    let bits = |x: u64| 64 - x.leading_zeros();
    let (bt, bs, bi) = (bits(tx_max.into()), bits(sub_max.into()), bits(keys.len() as u64));
    if keys.is_empty() || bits(hi - lo) + bt + bs + bi > 64 {
        let mut order: Vec<(Key, u32)> = keys.iter().enumerate().map(|(i, &k)| (k, i as u32)).collect();
        order.sort_unstable();
        order.dedup_by_key(|(k, _)| *k);
        return order.into_iter().map(|(_, i)| i).collect();
    }
    let mut packed: Vec<u64> = keys
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            let (h, t, s) = fields(k);
            ((((h - lo) << bt | u64::from(t)) << bs | u64::from(s)) << bi) | i as u64
        })
        .collect();
    packed.sort_unstable();
    packed.dedup_by_key(|p| *p >> bi);
    let mask = (1u64 << bi) - 1;
    packed.into_iter().map(|p| (p & mask) as u32).collect()
}

/// Whether `id` sent anything after the traced funds first arrived at `first` (oriented):
/// backward, whether anything arrived before they left.
fn has_outs_after<E: std::error::Error + Send + Sync + 'static>(
    view: &dyn DenseView<Error = E>,
    fwd: bool,
    id: u32,
    first: Key,
) -> Result<bool, E> {
    if fwd {
        return view.has_rows_after(id, Direction::Out, after(first));
    }
    let mut rows = Vec::new();
    view.rows(id, Direction::In, None, &mut rows)?;
    Ok(rows.iter().any(|r| !row_key(r) > first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The packed sort against the plain one: same indices, first of equal keys kept.
    fn plain(keys: &[Key]) -> Vec<u32> {
        let mut order: Vec<(Key, u32)> = keys.iter().enumerate().map(|(i, &k)| (k, i as u32)).collect();
        order.sort();
        order.dedup_by_key(|(k, _)| *k);
        order.into_iter().map(|(_, i)| i).collect()
    }

    proptest! {
        #[test]
        fn key_order_equals_a_plain_sort(
            raw in prop::collection::vec((0u64..40, 0u32..9, 0u32..3), 0..300),
            wide in any::<bool>(),
            backward in any::<bool>(),
        ) {
            let keys: Vec<Key> = raw
                .iter()
                .map(|&(h, t, s)| {
                    // `wide`: heights far apart (no packing), else a narrow band
                    let h = if wide { h.wrapping_mul(u64::MAX / 41) } else { 17_000_000 + h };
                    let k = key(h, t, s);
                    if backward { !k } else { k }
                })
                .collect();
            prop_assert_eq!(key_order(&keys), plain(&keys));
        }
    }
}
