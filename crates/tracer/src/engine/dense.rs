//! The walk over a [`DenseView`]: the same discovery and replay as the walk over addresses
//! (`Walker::discover`, `Walker::replay`; poison without the replay, below), keyed by dense ids and asset indices instead of
//! `(Address, Asset)`, reading compact rows instead of [`Transfer`]s. A `Transfer` is built only
//! for an edge of the case; the result is handed to the same `Walker::assemble`.
//!
//! It runs on one chain (either direction), not forward Bitcoin FIFO (which replays inputs and
//! outputs), and must give the same [`Trace`] as the walk over addresses (tests compare the two
//! on random graphs and the trace benchmark compares the case files byte for byte).
//!
//! Where a forward walk without `--asset` follows conversions (the chain holds conversion or
//! bridge rows), it reads them for every id a discovery level starts from, as the walk over
//! addresses does (`DenseView::flows_of`: the source's rows of the ids' addresses, a level's
//! read on both cores), and closes the level over them ([`Walker::close_flows_dense`]: a
//! conversion carries an arrival at its level to the owner's holding of the other asset,
//! without a hop), masking the owners' legs (`(owner, height, tx index, asset)`: a chain's
//! transaction is one `(height, tx index)`). Once conversions were met, every policy replays
//! through [`Walker::replay_reading_all`], which puts each seed's and tracked owner's
//! conversions after the transfers at their key, folds the earlier ones into opening balances,
//! and makes their swap edges (their hashes the conversions' own). Bridge deposits are read and
//! replayed the same way; their releases are on other chains, which a walk over one chain does
//! not cover, so each is a bridge edge into the contract (a `bridge` stop), as the walk over
//! addresses makes it on one chain. Where the view cannot stand for what it met (a conversion
//! or deposit of an asset no transfer of the chain moves, a bridge contract without an id, a
//! seed without an id that converts), the walk over ids gives up and the walk over addresses
//! runs instead (`Walker::walk`).
//!
//! The replay differs in one way that gives the same result: under haircut and FIFO, nothing
//! traced can reach a holding before the discovery's earliest arrival at it in fewer than N hops
//! (every path the replay follows is one the discovery followed; funds arriving at the hop limit
//! earlier are never followed out again), so each holding's transfers before that key are folded
//! into an untraced opening balance where its lists are read, and only the later ones are
//! replayed in chain order (compact 32-byte events, sorted in place). The one exception, a
//! seed's transfer at key 0 (which the discovery never follows but the replay does), turns the
//! folding off for that trace. Their discovery stops before reading the last hop's frontier:
//! the replay reads the lists it needs again, so those would go unused (and the assets that
//! pass would have met are those of tracked holdings' sends: each was recorded when the
//! discovery first reached such a holding).
//!
//! FIFO's replay ([`Walker::replay_opening`]) folds further: a holding holds nothing traced
//! until the first followed parcel arrives, so its lists are read only then, its transfers
//! before that key folded the same way and its later ones queued. Most tracked holdings are
//! never reached under FIFO (a send carries the oldest value first: about 7% are, on the 10M
//! benchmark graph), so most lists are never read. Where traced funds reach many holdings
//! (haircut reaches about half of them; FIFO on a graph whose hubs mix funds, most), reading
//! every list up front on both cores is faster than opening them one after another: haircut
//! always does, FIFO once its opened lists grow past an eighth of what that would read.
//!
//! Poison has no replay ([`Walker::poison_edges`]). Its state is only a mask of the strata a
//! holding has received, and a send carries exactly the strata that arrived strictly before it,
//! so a holding's mask at key `k` has bit `s` iff `first(s) < k`, where `first(s)` is the
//! earliest carrying arrival of stratum `s`: the earliest followed send into it (non-zero,
//! at least `--min-amount`) from a seed (`s = 1`, any key, key 0 included) or from a tracked
//! holding whose `first(s - 1)` is before that send (a transfer to itself too: the send leaves
//! before the receipt lands). That recurrence over hop counts (one pass per `s < N` over the
//! carrying sends, each sender's a suffix of its sends in the walk's order) gives exactly the
//! replay's masks from the same events: the seeds' and tracked holdings' rows the discovery
//! read (allowed by `--asset`/`--since`/`--until` already; a tracked holding's list starts
//! before its first arrival, and hubs, pools, untracked holdings and seeds hold no state there
//! either). Each non-zero send then is an edge when its sender's strata below N before it are
//! not empty (a seed's: stratum 1), with those strata advanced by one, followed when its amount
//! is at least `--min-amount`; the edges are sorted into the walk's order (chain keys are
//! unique: a transfer's key identifies it, as the replay's one-event-per-key assumes). The
//! discovery's own `best` cannot give the strata: it keeps an arrival only when it is earlier
//! than every arrival with fewer hops, and a later arrival with more hops still adds its
//! stratum to every later send. Nor does poison's discovery scan its last frontier for
//! arrivals (nothing reached with N hops is followed); the assets that scan would have met
//! are recorded from the same rows.

mod scan;

use super::*;
use crate::source::{DenseView, Row};
use chaintrace_model::hint::prefetch;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Chain order of a row or an arrival, packed: `(height, tx_index, sub)`, plus one. `0` is the
/// seeds' "before everything" (as `OKEY_MIN` is for the walk over addresses), before the chain's
/// first transfer (height 0, position 0/0: key 1).
type Key = u128;
const KEY_MAX: Key = u128::MAX;

/// [`ReachBy::Auto`]'s budget: the discovery goes on while it would read at most this share
/// (one in `SCAN_SHARE`) of the chain's transfers; past it, one pass over them all is cheaper.
const SCAN_SHARE: u64 = 8;

/// What [`Walker::discover_dense`] ends with.
enum Discovered<'v, E> {
    /// The discovery, done (boxed: the other two carry nothing).
    Walk(Box<DenseWalk<'v, E>>),
    /// It gave up: a conversion or deposit the walk over ids cannot follow (the walk over
    /// addresses' to do).
    GaveUp,
    /// It would read more than its budget of rows: stopped before reading them.
    OverBudget,
}

fn key(height: u64, tx_index: u32, sub: u32) -> Key {
    ((u128::from(height) << 64) | (u128::from(tx_index) << 32) | u128::from(sub)).saturating_add(1)
}

/// The `(height, tx_index, sub)` of a key other than `0`.
fn unkey(k: Key) -> (u64, u32, u32) {
    let k = k - 1;
    ((k >> 64) as u64, (k >> 32) as u32, k as u32)
}

fn row_key(r: &Row) -> Key {
    key(r.height, r.tx_index, r.sub)
}

/// The store's exclusive "after" for a key (`None`: from the start).
fn after(k: Key) -> Option<(u64, Position)> {
    (k != 0).then(|| {
        let (height, tx_index, sub) = unkey(k);
        (height, Position { tx_index, sub })
    })
}

const UNKNOWN: u8 = 0;
const SEED: u8 = 1;
const EXPAND: u8 = 2;
const POOL: u8 = 3;
const HUB: u8 = 4;

/// The class of an address reached and not a seed, by its labels: a pooling one (an exchange,
/// a service) is reached and not followed, any other is expanded (unless a hub: its degrees
/// decide that, [`TraceOptions::is_hub`]).
fn class_by_labels(labels: Option<&[Label]>) -> u8 {
    match labels.and_then(pooling_role) {
        Some(_) => POOL,
        None => EXPAND,
    }
}

/// The state slot of a seed's holding (seeds hold no state: everything they send is traced).
const SEED_SLOT: u32 = u32::MAX - 1;
/// An untracked holding.
const NO_SLOT: u32 = u32::MAX;
/// On a sender's state slot (below `SEED_SLOT`): it sends, but the transfer makes no edge and
/// carries nothing on (what a conversion's owner got from its pool).
const QUIET: u32 = 1 << 31;
/// The transaction of a swap or bridge edge, whose hash is its conversion's or deposit's (not
/// read from the view).
const NO_TX: u32 = u32::MAX;

/// Transactions whose hashes one [`DenseView::tx_hashes`] reads together (its neighbours in
/// one go), when they are read beside other work.
const HASH_CHUNK: usize = 4096;

/// One transfer of the replay as its loop reads it: 32 bytes, sorted in place into the walk's
/// order, so the loop reads the events in sequence and touches an event's [`Side`] only when
/// traced funds may move.
#[derive(Clone, Copy)]
struct Ev {
    /// Base units, when below `u128::MAX`; `u128::MAX`: at least that (the exact amount is in
    /// its batch's `bigs`).
    amount: u128,
    /// Its place in the walk's order and its index (see [`order_events`]).
    pk: u64,
    /// The sender's state slot (`SEED_SLOT`, `NO_SLOT` or a tracked holding's state).
    fs: u32,
    /// The receiver's state slot.
    ts: u32,
}

/// The rest of an event's row and its ends (in the walk's direction).
#[derive(Clone, Copy)]
struct Side {
    height: u64,
    time: u64,
    tx_index: u32,
    sub: u32,
    tx: u32,
    asset: u32,
    from: u32,
    to: u32,
}

/// An event with its whole row: `row.other` is its receiving end `to` (as in a row `from` sent).
struct EvRow {
    row: Row,
    from: u32,
    to: u32,
}

/// Events collected together (the seeds', one reading thread's sends, its receipts), in the
/// order one pass would make them.
#[derive(Default)]
struct Batch {
    evs: Vec<Ev>,
    sides: Vec<Side>,
    /// `(index in the batch, amount)` of the amounts of `u128::MAX` and above, ascending.
    bigs: Vec<(u32, U256)>,
}

impl Batch {
    /// `r` moves from `from` to `to` (in the walk's direction).
    fn push(&mut self, r: &Row, from: u32, to: u32, fs: u32, ts: u32) {
        let l = r.amount.as_limbs();
        let low = u128::from(l[0]) | u128::from(l[1]) << 64;
        let amount = if l[2] == 0 && l[3] == 0 && low != u128::MAX {
            low
        } else {
            self.bigs.push((self.evs.len() as u32, r.amount));
            u128::MAX
        };
        self.evs.push(Ev { amount, pk: 0, fs, ts });
        let (height, time, tx_index, sub, tx, asset) = (r.height, r.time, r.tx_index, r.sub, r.tx, r.asset);
        self.sides.push(Side { height, time, tx_index, sub, tx, asset, from, to });
    }
}

/// The replay's batches, an event found by its index over all of them.
struct Batches {
    list: Vec<Batch>,
    /// The index of each batch's first event.
    starts: Vec<u32>,
}

impl Batches {
    fn new(list: Vec<Batch>) -> Batches {
        let mut starts = Vec::with_capacity(list.len());
        let mut at = 0u32;
        for b in &list {
            starts.push(at);
            at += b.sides.len() as u32;
        }
        Batches { list, starts }
    }

    fn sides(&self) -> impl Iterator<Item = &Side> + Clone {
        self.list.iter().flat_map(|b| b.sides.iter())
    }

    /// The batch of event `i` and the event's index in it.
    fn find(&self, i: u32) -> (&Batch, u32) {
        let b = self.starts.partition_point(|&s| s <= i).saturating_sub(1);
        (&self.list[b], i - self.starts[b])
    }

    /// The amount of `e`, event `i`.
    fn amount(&self, e: &Ev, i: u32) -> U256 {
        if e.amount != u128::MAX {
            return U256::from(e.amount);
        }
        let (b, j) = self.find(i);
        b.bigs.binary_search_by_key(&j, |&(k, _)| k).map_or(U256::from(u128::MAX), |k| b.bigs[k].1)
    }

    /// The chain-order key of event `i`.
    fn key(&self, i: u32) -> Key {
        let (b, j) = self.find(i);
        let s = &b.sides[j as usize];
        key(s.height, s.tx_index, s.sub)
    }

    /// Event `i` with its whole row.
    fn row(&self, e: &Ev, i: u32) -> EvRow {
        let amount = self.amount(e, i);
        let (b, j) = self.find(i);
        let s = &b.sides[j as usize];
        let row = Row {
            height: s.height,
            time: s.time,
            tx_index: s.tx_index,
            sub: s.sub,
            tx: s.tx,
            other: s.to,
            asset: s.asset,
            amount,
        };
        EvRow { row, from: s.from, to: s.to }
    }
}

/// Traced edges in the walk's order (their addresses and hashes not filled in yet), each
/// edge's ends `(from, to)` by id, and each edge's transaction by its index.
type EdgeRows = (Vec<TracedEdge>, Vec<(u32, u32)>, Vec<u32>);

/// Poison's edges as the rows they are made of: made while their transactions' hashes are read
/// (the replay's edges are made as it goes).
struct PoisonEdges<'r> {
    /// Per edge in the walk's order: its row and the strata it carries.
    rows: Vec<(&'r Row, u64)>,
    /// `--min-amount` in base units per asset index (zero where no edge has the asset).
    floor: Vec<U256>,
}

impl PoisonEdges<'_> {
    /// The edges, their hashes and addresses not filled in yet.
    fn make(&self, assets: &[Asset]) -> Vec<TracedEdge> {
        let mut edges = Vec::with_capacity(self.rows.len());
        for (j, &(r, strata)) in self.rows.iter().enumerate() {
            // the rows are far apart: fetched ahead of their turn (a miss each otherwise)
            if let Some(&(next, _)) = self.rows.get(j + 8) {
                prefetch(next);
            }
            let followed = r.amount >= self.floor[r.asset as usize];
            let transfer = unnamed_transfer(r, assets[r.asset as usize]);
            edges.push(TracedEdge::new(transfer, 0, EdgeKind::Transfer, r.amount, strata, followed));
        }
        edges
    }
}

/// The walk's edges in its order: made by the replay (haircut, FIFO), or poison's to be made
/// beside the hash reads.
enum Edges<'r> {
    Made(Vec<TracedEdge>),
    Poison(PoisonEdges<'r>),
}

impl Edges<'_> {
    fn reverse(&mut self) {
        match self {
            Edges::Made(edges) => edges.reverse(),
            Edges::Poison(p) => p.rows.reverse(),
        }
    }

    /// The edges, their hashes and addresses not filled in yet.
    fn made(self, assets: &[Asset]) -> Vec<TracedEdge> {
        match self {
            Edges::Made(edges) => edges,
            Edges::Poison(p) => p.make(assets),
        }
    }
}

/// The walk's edges, each edge's ends `(from, to)` by id, and each edge's transaction by its
/// index.
type Found<'r> = (Edges<'r>, Vec<(u32, u32)>, Vec<u32>);

/// What the replay that reads every list made: its edge rows, and their transactions' hashes
/// when it read them beside its loop ([`hashes_beside`]).
type Replayed<E> = (EdgeRows, Option<HashesRead<E>>);

/// [`Found`] of edges the replay made.
fn made((edges, ends, txs): EdgeRows) -> Found<'static> {
    (Edges::Made(edges), ends, txs)
}

/// The walk over ids' edges (filled in), the result's nodes, and the edges' ends.
pub(super) type DenseResult = (Vec<TracedEdge>, BTreeMap<Node, TracedNode>, EdgeEnds);

/// The result's nodes, and per name its exchange ([`EdgeEnds::exchange`]) and the exchanges.
type NodesFound = (BTreeMap<Node, TracedNode>, Vec<u32>, Vec<(Category, String)>);

/// What the walk over ids knows of the edges' ends, to make the result's nodes from.
struct Nodes<'v, E> {
    view: &'v dyn DenseView<Error = E>,
    class: &'v [u8],
    labelled: &'v [(u32, Vec<Label>)],
    /// The edges' ends, each once, and their addresses once [`Walker::nodes_dense`] has read
    /// them.
    names: Names,
    /// Each edge's ends, `(from, to)` as in its transfer, as indices into `names`, in the
    /// edges' order.
    ends: Vec<(u32, u32)>,
}

/// The addresses of a set of ids, decoded once each in ascending id order (neighbouring ids
/// are neighbours in the view's address table), found again by id without hashing.
struct Names {
    /// The ids with a bit each, and the index of each among them (its rank).
    rank: SlotIndex<()>,
    /// The ids, ascending.
    ids: Vec<u32>,
    /// Their addresses, in the same order.
    addrs: Vec<Address>,
}

impl Names {
    /// Every id in `ends`, its address not read yet ([`Names::decode`]).
    fn of(ends: &[(u32, u32)]) -> Names {
        let max = ends.iter().map(|&(f, t)| f.max(t)).max().map_or(0, |m| m as usize + 1);
        // a bit per id (16 bytes per 64 ids, where a table of every id would be 4 bytes an id)
        let mut bits = vec![0u64; max.div_ceil(64)];
        for &(f, t) in ends {
            bits[f as usize / 64] |= 1 << (f % 64);
            bits[t as usize / 64] |= 1 << (t % 64);
        }
        let mut ids = Vec::with_capacity(bits.iter().map(|b| b.count_ones() as usize).sum());
        ids.extend(set_bits(&bits).map(|i| i as u32));
        let rank = SlotIndex::ranks(bits);
        Names { rank, ids, addrs: Vec::new() }
    }

    /// The addresses of `ids`, in their order.
    fn decode<E: std::error::Error + Send + Sync + 'static>(
        view: &dyn DenseView<Error = E>,
        ids: &[u32],
    ) -> Result<Vec<Address>, E> {
        let mut out = Vec::with_capacity(ids.len());
        for (i, &id) in ids.iter().enumerate() {
            // the keys are far apart in the view's table: fetched ahead of their turn
            if let Some(&next) = ids.get(i + 8) {
                view.prefetch_address(next);
            }
            out.push(view.address(id)?);
        }
        Ok(out)
    }

    /// The index of `id`, which must be one of the decoded ids.
    fn index(&self, id: u32) -> u32 {
        self.rank.rank(id).unwrap_or(NO_SLOT)
    }
}

/// A set of address ids, a bit each (bit `id % 64` of word `id / 64`), grown as ids are added.
#[derive(Default)]
struct IdBits(Vec<u64>);

impl IdBits {
    fn contains(&self, id: u32) -> bool {
        self.0.get(id as usize / 64).is_some_and(|w| w >> (id % 64) & 1 == 1)
    }

    fn insert(&mut self, id: u32) {
        let i = id as usize / 64;
        if self.0.len() <= i {
            self.0.resize(i + 1, 0);
        }
        self.0[i] |= 1 << (id % 64);
    }
}

/// Ids reached and the fewest hops each is reached in ([`DenseWalk::reached`]): a byte per id
/// up to the highest, and a bit per id to find them in order without reading every byte.
#[derive(Default)]
struct Reached {
    /// Per id, its fewest hops (`u8::MAX`: not reached).
    hop: Vec<u8>,
    bits: Vec<u64>,
}

impl Reached {
    fn add(&mut self, id: u32, h: u8) {
        let i = id as usize;
        if self.hop.len() <= i {
            // (grown to the next 64 ids, a word of bits)
            let len = (i / 64 + 1) * 64;
            self.hop.resize(len, u8::MAX);
            self.bits.resize(len / 64, 0);
        }
        self.hop[i] = self.hop[i].min(h);
        self.bits[i / 64] |= 1 << (i % 64);
    }

    /// Adds `other`'s: the fewer hops of the two where both reached an id.
    fn merge(&mut self, other: &Reached) {
        for i in set_bits(&other.bits) {
            self.add(i as u32, other.hop[i]);
        }
    }

    /// The ids reached, ascending, and their hops.
    fn ids(&self) -> (Vec<u32>, Vec<u8>) {
        set_bits(&self.bits).map(|i| (i as u32, self.hop[i])).unzip()
    }
}

/// The indices of the bits set in `words` (bit `i % 64` of word `i / 64`), ascending.
fn set_bits(words: &[u64]) -> impl Iterator<Item = usize> + '_ {
    words.iter().enumerate().flat_map(|(w, &b)| {
        let mut b = b;
        std::iter::from_fn(move || {
            (b != 0).then(|| {
                let i = w * 64 + b.trailing_zeros() as usize;
                b &= b - 1;
                i
            })
        })
    })
}

/// The reached holdings, `(address id, asset index)`, each with a slot: a chain of slots per id
/// (an address holds one or a few assets), found without hashing. A slot's cells hold its
/// header (asset, next slot) beside its earliest arrivals, so finding a holding and reading its
/// arrivals touch one place.
struct Holdings {
    /// First slot of each id (`NO_SLOT`: none).
    head: Vec<u32>,
    /// Per slot: its id and asset.
    slots: Vec<(u32, u32)>,
    /// Per slot, `width + 1` cells: `asset << 32 | next slot of the id`, then the earliest
    /// arrival with exactly `h` hops for each `h < width`.
    cells: Vec<Key>,
    /// Hops + 1.
    width: usize,
}

impl Holdings {
    fn new(hops: u32) -> Holdings {
        Holdings { head: Vec::new(), slots: Vec::new(), cells: Vec::new(), width: hops as usize + 1 }
    }

    fn find(&self, id: u32, asset: u32) -> Option<u32> {
        let mut s = self.head.get(id as usize).copied().unwrap_or(NO_SLOT);
        while s != NO_SLOT {
            let header = self.cells[s as usize * (self.width + 1)];
            if (header >> 32) as u32 == asset {
                return Some(s);
            }
            s = header as u32;
        }
        None
    }

    /// Asks the CPU to bring in `id`'s first slot (a hint, ahead of `find`).
    fn prefetch_head(&self, id: u32) {
        if let Some(h) = self.head.get(id as usize) {
            prefetch(h);
        }
    }

    /// Asks the CPU to bring in the cells of `id`'s first slot (a hint, ahead of `find`; its
    /// head is best fetched before, `prefetch_head`).
    fn prefetch_cells(&self, id: u32) {
        let s = self.head.get(id as usize).copied().unwrap_or(NO_SLOT);
        if s == NO_SLOT {
            return;
        }
        let at = s as usize * (self.width + 1);
        if let Some(c) = self.cells.get(at) {
            prefetch(c);
        }
        // the cells span a second cache line from 4 hops on
        if let Some(c) = self.cells.get(at + 4) {
            prefetch(c);
        }
    }

    /// A new holding's slot (the caller found none), with no arrivals yet.
    fn insert(&mut self, id: u32, asset: u32) -> u32 {
        let i = id as usize;
        if self.head.len() <= i {
            self.head.resize(i + 1, NO_SLOT);
        }
        let s = self.slots.len() as u32;
        self.slots.push((id, asset));
        self.cells.push(Key::from(asset) << 32 | Key::from(self.head[i]));
        self.cells.extend(std::iter::repeat_n(KEY_MAX, self.width));
        self.head[i] = s;
        s
    }

    /// Slot `s`'s earliest arrival with exactly `h` hops, for each `h`.
    fn best(&self, s: u32) -> &[Key] {
        &self.cells[s as usize * (self.width + 1) + 1..][..self.width]
    }

    fn best_mut(&mut self, s: u32) -> &mut [Key] {
        &mut self.cells[s as usize * (self.width + 1) + 1..][..self.width]
    }
}

/// A chunk of a discovery level's tasks, read: its kept rows one list after another, where each
/// task's list ends in them (`HUB_END`: a hub's, not read), the rows read and the transfers the
/// degrees read counted.
type ChunkRows = (Vec<Row>, Vec<usize>, u64, u64);

/// A frontier address's work on a discovery pass's reading threads.
struct Task {
    id: u32,
    /// The key its list is read after.
    key: Key,
    /// Its degrees are to be read (a hub is not expanded).
    check: bool,
    /// Its list is to be read.
    read: bool,
}

/// Where an address's outgoing rows are in the walk's `arena`, and the key they were read after.
#[derive(Clone, Copy)]
struct ListAt {
    after: Key,
    chunk: u32,
    start: u32,
    len: u32,
}

impl ListAt {
    fn rows<'a>(&self, arena: &'a [Vec<Row>]) -> &'a [Row] {
        &arena[self.chunk as usize][self.start as usize..][..self.len as usize]
    }
}

/// Several tracked holdings of one id (a [`SlotIndex`] value): found among the holdings.
const MULTI: u32 = u32::MAX - 2;

/// A value per id for a few ids among many (the seeds and tracked ids among every id the walk
/// met): a bit per id with the count of set bits before each word, and the values of the set
/// ids in id order. A look-up reads 16 bytes per 64 ids and its value, where a table of every
/// id would be a value per id (megabytes, a cache miss per look-up).
struct SlotIndex<V> {
    /// Per 64 ids: which have a value, and how many ids before them have one.
    words: Vec<(u64, u32)>,
    /// The values of the ids with one, ascending by id.
    vals: Vec<V>,
}

impl<V: Copy> SlotIndex<V> {
    /// The index of `entries` `(id, value)`, ids below `ids` (the first value of an id kept).
    fn new(ids: usize, entries: impl Iterator<Item = (u32, V)>) -> SlotIndex<V> {
        let mut sorted: Vec<(u32, V)> = entries.filter(|&(id, _)| (id as usize) < ids).collect();
        sorted.sort_by_key(|&(id, _)| id);
        sorted.dedup_by_key(|&mut (id, _)| id);
        let mut bits = vec![0u64; ids.div_ceil(64)];
        for &(id, _) in &sorted {
            bits[id as usize / 64] |= 1 << (id % 64);
        }
        let mut index = SlotIndex::ranks(bits);
        index.vals = sorted.into_iter().map(|(_, v)| v).collect();
        index
    }

    /// The index of the ids with a bit set in `bits` (bit `i % 64` of word `i / 64`), no
    /// values yet (see [`SlotIndex::rank`]).
    fn ranks(bits: Vec<u64>) -> SlotIndex<V> {
        let mut before = 0u32;
        let words = bits
            .into_iter()
            .map(|b| {
                let w = (b, before);
                before += b.count_ones();
                w
            })
            .collect();
        SlotIndex { words, vals: Vec::new() }
    }

    /// The rank of `id` among the ids (its value's index), when it is one of them.
    #[inline]
    fn rank(&self, id: u32) -> Option<u32> {
        let &(bits, before) = self.words.get(id as usize / 64)?;
        let bit = 1u64 << (id % 64);
        (bits & bit != 0).then(|| before + (bits & (bit - 1)).count_ones())
    }

    /// The value of `id`, when it has one.
    #[inline]
    fn get(&self, id: u32) -> Option<V> {
        self.rank(id).and_then(|r| self.vals.get(r as usize).copied())
    }
}

/// What the replay looks up for a seed or tracked id ([`SlotIndex`] value), side by side:
/// its state (`SEED_SLOT`, a state index, or `MULTI`), and for a state its asset and the first
/// key at which it can receive traced funds.
#[derive(Clone, Copy)]
struct Held {
    state: u32,
    asset: u32,
    info: Key,
}

/// The tracked holdings (reached in fewer than N hops, expandable) as the replays and poison's
/// edges see them: each with a state index, its asset and its first keys, each tracked id with
/// its states, and the look-up of a holding's state.
struct Tracked<'h> {
    /// The tracked ids, each with its states `lo..hi` (ascending ids: an id's holdings are
    /// neighbours).
    held: Vec<(u32, u32, u32)>,
    /// Per state: its asset (four bytes a state: the receivers' look-ups stay in cache).
    asset_of: Vec<u32>,
    /// Per state: the discovery's earliest arrival in fewer than N hops.
    starts: Vec<Key>,
    /// Per state: the first key at which the replay has it receive (see [`Tracked::new`]).
    info: Vec<Key>,
    /// Per seed or tracked id: `SEED_SLOT`, its state when it has one tracked holding, `MULTI`
    /// when several (then found among the holdings); no entry for the rest (most
    /// counterparties).
    index: SlotIndex<Held>,
    /// The state of each holding's slot, `NO_SLOT` when untracked.
    state_at: Vec<u32>,
    holdings: &'h Holdings,
}

impl<'h> Tracked<'h> {
    /// `tracked`: `(id, asset, slot)` per tracked holding, ascending, with its earliest arrival
    /// in fewer than N hops in `starts`.
    fn new<E: std::error::Error + Send + Sync + 'static>(
        w: &'h DenseWalk<'_, E>,
        policy: Policy,
        fwd: bool,
        tracked: Vec<(u32, u32, u32)>,
        starts: Vec<Key>,
    ) -> Tracked<'h> {
        let mut state_at = vec![NO_SLOT; w.holdings.slots.len()];
        for (i, &(_, _, s)) in tracked.iter().enumerate() {
            state_at[s as usize] = i as u32;
        }
        // Haircut and FIFO: per state, the first key at which traced funds can arrive (the
        // discovery's earliest arrival in fewer than N hops: every replayed path to the holding
        // is one the discovery followed). Before it the holding only ever sends and receives
        // untraced value, so its transfers before it are folded into an opening balance by the
        // replay and stay out of it (funds that arrive at the hop limit earlier are never
        // followed out of it: their parcels and these give the same edges; FIFO folds up to
        // the first followed arrival: `replay_opening`). (Poison has no replay:
        // `poison_edges`.) Nothing is folded here when a seed sent at key 0: the discovery's
        // "before everything", which it never follows out of a seed, but the replay does (so
        // holdings can be reached before their start).
        let from_zero = w.seeds.iter().any(|&s| w.outs(s).is_some_and(|(_, l)| l.iter().any(|r| orient(fwd, r) == 0)));
        let fold = matches!(policy, Policy::Haircut | Policy::Fifo) && !from_zero;
        let info: Vec<Key> = if fold { starts.clone() } else { vec![0; starts.len()] };
        let asset_of: Vec<u32> = tracked.iter().map(|&(_, asset, _)| asset).collect();
        let mut held: Vec<(u32, u32, u32)> = Vec::new();
        for (i, &(id, _, _)) in tracked.iter().enumerate() {
            match held.last_mut() {
                Some((last, _, hi)) if *last == id => *hi = i as u32 + 1,
                _ => held.push((id, i as u32, i as u32 + 1)),
            }
        }
        let seed = Held { state: SEED_SLOT, asset: 0, info: 0 };
        let index = SlotIndex::new(
            w.class.len(),
            w.seeds.iter().map(|&s| (s, seed)).chain(held.iter().map(|&(id, lo, hi)| {
                let h = match hi - lo {
                    1 => Held { state: lo, asset: asset_of[lo as usize], info: info[lo as usize] },
                    _ => Held { state: MULTI, asset: 0, info: 0 },
                };
                (id, h)
            })),
        );
        Tracked { held, asset_of, starts, info, index, state_at, holdings: &w.holdings }
    }

    /// The state of holding `(id, asset)`: `SEED_SLOT` (any asset of a seed), a state index,
    /// or `NO_SLOT`.
    fn slot(&self, id: u32, asset: u32) -> u32 {
        match self.index.get(id) {
            None => NO_SLOT,
            Some(Held { state: MULTI, .. }) => self.multi(id, asset),
            Some(Held { state: SEED_SLOT, .. }) => SEED_SLOT,
            Some(h) if h.asset == asset => h.state,
            Some(_) => NO_SLOT,
        }
    }

    /// A receiving slot as the replay sees an event at `k`: none while `k` is before its start.
    fn receiver(&self, ts: u32, k: Key) -> u32 {
        match ts {
            NO_SLOT | SEED_SLOT => ts,
            s if k < self.info[s as usize] => NO_SLOT,
            s => s,
        }
    }

    /// `receiver(slot(id, asset), k)`, the state's asset and start read beside it.
    fn slot_at(&self, id: u32, asset: u32, k: Key) -> u32 {
        match self.index.get(id) {
            None => NO_SLOT,
            Some(Held { state: MULTI, .. }) => self.receiver(self.multi(id, asset), k),
            Some(Held { state: SEED_SLOT, .. }) => SEED_SLOT,
            Some(h) if h.asset == asset && k >= h.info => h.state,
            Some(_) => NO_SLOT,
        }
    }

    /// The state of `(id, asset)` for an id with several tracked holdings.
    fn multi(&self, id: u32, asset: u32) -> u32 {
        self.holdings.find(id, asset).map_or(NO_SLOT, |s| self.state_at[s as usize])
    }

    /// The state of `asset` among an id's states `lo..hi`.
    fn state_in(&self, lo: u32, hi: u32, asset: u32) -> Option<u32> {
        (lo..hi).find(|&s| self.asset_of[s as usize] == asset)
    }
}

struct DenseWalk<'v, E> {
    view: &'v dyn DenseView<Error = E>,
    /// Class per address id (`UNKNOWN` until reached; the seeds are `SEED` from the start).
    class: Vec<u8>,
    seeds: HashSet<u32>,
    labelled: &'v [(u32, Vec<Label>)],
    /// The ids in `labelled` (most look-ups find none, without a search).
    has_labels: IdBits,
    /// The reached holdings and their earliest arrivals.
    holdings: Holdings,
    /// Per id, its entry in `lists` (`NO_SLOT`: none read).
    list_of: Vec<u32>,
    /// Outgoing rows of expanded addresses: where they are in `arena`, and the key they were
    /// read after.
    lists: Vec<ListAt>,
    /// The rows of every list read: each reading thread's rows of a pass, one list after
    /// another, kept as the thread made them (not one buffer per address, nor copied into one).
    arena: Vec<Vec<Row>>,
    /// Ids whose degrees were read and are not a hub's.
    checked: IdBits,
    /// `--asset` as an index into the view's assets: `Some(None)` when the chain has no such
    /// asset (nothing is allowed).
    only: Option<Option<u32>>,
    /// `--min-amount` per asset index, filled as assets are met.
    min_raw: Vec<Option<U256>>,
    /// The transfers of the addresses whose degrees were read and are not hubs: about what
    /// reading every tracked holding's lists reads (see [`Walker::replay_opening`]).
    listed: u64,
    /// The conversions and bridge deposits of the ids the walk read them for, when it follows
    /// them ([`follows_flows`]).
    flows: Option<DenseFlows>,
}

/// A conversion of an id whose flows the walk read, its assets as the view's indices.
struct DenseConv {
    /// Its place in chain order (its first leg's).
    key: Key,
    asset_in: u32,
    asset_out: u32,
    conv: Conversion,
}

/// A bridge deposit of an id whose flows the walk read: on a walk over one chain its release,
/// on another, is not followed (the edge ends at the bridge contract, a `bridge` stop).
struct DenseDeposit {
    key: Key,
    asset: u32,
    /// The bridge contract's id.
    contract: u32,
    deposit: BridgeEvent,
}

/// What the walk over ids knows of conversions and bridge deposits (the walk over addresses'
/// `convs`, `deps` and legs): read for every id a discovery level starts from (the seeds, then
/// each level's frontier), as the walk over addresses reads them for its frontiers, so a leg is
/// masked exactly where that walk masks it.
struct DenseFlows {
    /// The view's assets by value.
    index: HashMap<Asset, u32>,
    /// The ids whose flows were read.
    read: IdBits,
    /// The conversions of each id that has some, in chain order.
    convs: HashMap<u32, Vec<DenseConv>>,
    /// The bridge deposits of each id that has some, in chain order.
    deps: HashMap<u32, Vec<DenseDeposit>>,
    /// `(owner, height, tx index, asset)`: the owner's sides of its conversions, what it gave
    /// (sent; a bridge deposit's too) and what it got (received). A transaction is one
    /// `(height, tx index)` of the chain, as it is one hash for the walk over addresses.
    legs_out: HashSet<(u32, u64, u32, u32)>,
    legs_in: HashSet<(u32, u64, u32, u32)>,
}

impl DenseFlows {
    fn new(assets: &[Asset]) -> DenseFlows {
        DenseFlows {
            index: assets.iter().enumerate().map(|(i, a)| (*a, i as u32)).collect(),
            read: IdBits::default(),
            convs: HashMap::default(),
            deps: HashMap::default(),
            legs_out: HashSet::default(),
            legs_in: HashSet::default(),
        }
    }

    /// `id`'s conversions, in chain order.
    fn convs_of(&self, id: u32) -> &[DenseConv] {
        self.convs.get(&id).map_or(&[], Vec::as_slice)
    }

    /// `id`'s bridge deposits, in chain order.
    fn deps_of(&self, id: u32) -> &[DenseDeposit] {
        self.deps.get(&id).map_or(&[], Vec::as_slice)
    }

    /// A conversion or bridge deposit was met (of an id whose flows were read).
    fn met(&self) -> bool {
        !self.convs.is_empty() || !self.deps.is_empty()
    }

    /// `id` converts or deposits into a bridge.
    fn moves(&self, id: u32) -> bool {
        self.convs.contains_key(&id) || self.deps.contains_key(&id)
    }

    /// `r`, sent by `from`, is what `from` gave in one of its conversions or deposits.
    fn out_leg(&self, from: u32, r: &Row) -> bool {
        !self.legs_out.is_empty() && self.legs_out.contains(&(from, r.height, r.tx_index, r.asset))
    }

    /// `r`, received by `to`, is what `to` got in one of its conversions.
    fn in_leg(&self, to: u32, r: &Row) -> bool {
        !self.legs_in.is_empty() && self.legs_in.contains(&(to, r.height, r.tx_index, r.asset))
    }

    /// The sender's and receiver's slots of a replayed transfer `r` from `from` to `to` once the
    /// legs are masked as the walk over addresses masks them: the owner's side of its own
    /// conversion sends nothing (the conversion does); what the owner got is sent by the pool
    /// (its balance falls) but makes no edge and reaches no one.
    fn mask(&self, from: u32, to: u32, r: &Row, fs: u32, ts: u32) -> (u32, u32) {
        let (out, inn) = (self.out_leg(from, r), self.in_leg(to, r));
        let fs = match fs {
            _ if out => NO_SLOT,
            SEED_SLOT if inn => NO_SLOT,
            s if inn && s < SEED_SLOT => s | QUIET,
            s => s,
        };
        (fs, if inn { NO_SLOT } else { ts })
    }
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

    /// [`Walker::reach_dense`]'s pass over the rows the discovery read, for the holdings in
    /// `slots` (and the seeds' sends when `seeds`): each receiver of a non-zero send from a seed
    /// (1 hop), or from a tracked holding after its earliest arrival in fewer than `n` hops (one
    /// more than the fewest hops it held funds in before the send), with its fewest hops.
    fn reached(&self, seeds: bool, slots: std::ops::Range<usize>, n: usize, fwd: bool) -> Reached {
        let mut got = Reached::default();
        if seeds {
            for &s in &self.seeds {
                for r in self.outs(s).map(|(_, l)| l).unwrap_or_default() {
                    if !r.amount.is_zero() && !self.is_seed(r.other) {
                        got.add(r.other, 1);
                    }
                }
            }
        }
        let mut upto = [KEY_MAX; MAX_HOPS as usize + 1];
        let all = &self.holdings.slots;
        for slot in slots.clone() {
            // a slot's id's class, list entry and rows are far apart (a miss each otherwise):
            // fetched ahead of their turn, each step once the one before it has arrived
            let ahead = |d: usize| all.get(slot + d).filter(|_| slot + d < slots.end).map(|&(a, _)| a as usize);
            if let Some(a) = ahead(16) {
                self.list_of.get(a).map(prefetch);
                self.class.get(a).map(prefetch);
            }
            if let Some(a) = ahead(8) {
                self.list_of.get(a).and_then(|&i| self.lists.get(i as usize)).map(prefetch);
            }
            if let Some(a) = ahead(4) {
                self.outs(a as u32).and_then(|(_, l)| l.first()).map(prefetch);
            }
            let (id, asset) = all[slot];
            if self.class_of(id) != EXPAND {
                continue;
            }
            // the earliest arrival with at most `j` hops, for each `j < n`
            let best = self.holdings.best(slot as u32);
            let mut m = KEY_MAX;
            for j in 0..n {
                m = m.min(best[j]);
                upto[j] = m;
            }
            let start = upto[n - 1];
            if start == KEY_MAX {
                continue;
            }
            for r in self.outs(id).map(|(_, l)| l).unwrap_or_default() {
                let k = orient(fwd, r);
                if r.asset != asset || k <= start || r.amount.is_zero() || self.is_seed(r.other) {
                    continue;
                }
                // (some `j < n` has `upto[j] < k`: the last one, `start`)
                let j = (1..n).find(|&j| upto[j] < k).unwrap_or(n - 1);
                got.add(r.other, j as u8 + 1);
            }
        }
        got
    }

    /// `id`'s class (`UNKNOWN`: not reached).
    fn class_of(&self, id: u32) -> u8 {
        self.class.get(id as usize).copied().unwrap_or(UNKNOWN)
    }

    /// The outgoing rows read for `id` (in the walk's direction), and the key they were read
    /// after.
    fn outs(&self, id: u32) -> Option<(Key, &[Row])> {
        self.list(id).map(|l| (l.after, l.rows(&self.arena)))
    }

    /// Where `id`'s rows are in `arena`, and the key they were read after.
    fn list(&self, id: u32) -> Option<ListAt> {
        self.list_of.get(id as usize).and_then(|&i| self.lists.get(i as usize)).copied()
    }

    /// Sets `id`'s rows to `at` (replacing any read before).
    fn set_outs(&mut self, id: u32, at: ListAt) {
        let i = id as usize;
        if self.list_of.len() <= i {
            self.list_of.resize(i + 1, NO_SLOT);
        }
        match self.lists.get_mut(self.list_of[i] as usize) {
            Some(l) => *l = at,
            None => {
                self.list_of[i] = self.lists.len() as u32;
                self.lists.push(at);
            }
        }
    }

    fn has_labels(&self, id: u32) -> bool {
        self.has_labels.contains(id)
    }

    /// `id`'s labels (searched for only when its bit says it has some).
    fn labels_of(&self, id: u32) -> Option<&Vec<Label>> {
        if !self.has_labels(id) {
            return None;
        }
        self.labelled.binary_search_by_key(&id, |(i, _)| *i).ok().map(|i| &self.labelled[i].1)
    }

    /// `id`'s earliest arrivals in `asset` in fewer than `h` hops and in fewer than `h - 1`
    /// (`KEY_MAX`: none; a seed's are 0 from before any transfer), finding the holding once.
    fn arrivals(&self, id: u32, asset: u32, h: u32) -> (Key, Key) {
        let best: &[Key] =
            if self.is_seed(id) { &[0] } else { self.holdings.find(id, asset).map_or(&[], |s| self.holdings.best(s)) };
        let min = |hops: u32| best.iter().take(hops as usize).copied().min().unwrap_or(KEY_MAX);
        (min(h), min(h.saturating_sub(1)))
    }

    /// `r`, sent by `id`, is what `id` gave in one of its conversions or deposits (never, where
    /// the walk follows none).
    fn out_leg(&self, id: u32, r: &Row) -> bool {
        self.flows.as_ref().is_some_and(|f| f.out_leg(id, r))
    }

    /// The earliest arrival at `(id, asset)` with at most `hops` hops (`KEY_MAX`: none; not for
    /// a seed, which holds every asset from before any key).
    fn earliest_in(&self, id: u32, asset: u32, hops: u32) -> Key {
        self.holdings.find(id, asset).map_or(KEY_MAX, |s| self.earliest_at(s, hops))
    }

    /// The earliest arrival with at most `hops` hops at the holding in slot `s` (not a seed's:
    /// seeds hold no slot).
    fn earliest_at(&self, s: u32, hops: u32) -> Key {
        self.holdings.best(s)[..=hops as usize].iter().copied().min().unwrap_or(KEY_MAX)
    }

    /// Records an arrival at `(id, asset)` at `k` with `h` hops, when it is earlier than every
    /// arrival with at most `h` hops: whether it was.
    fn improve(&mut self, id: u32, asset: u32, h: u32, k: Key) -> bool {
        if self.is_seed(id) {
            return false;
        }
        // the holding found once (a look-up and `insert` would each look)
        let s = match self.holdings.find(id, asset) {
            Some(s) => {
                if self.holdings.best(s)[..=h as usize].iter().any(|&b| b <= k) {
                    return false;
                }
                s
            }
            None if k == KEY_MAX => return false,
            None => self.holdings.insert(id, asset),
        };
        let b = &mut self.holdings.best_mut(s)[h as usize];
        *b = (*b).min(k);
        true
    }

    /// The row's asset passes `--asset`.
    fn asset_allowed(&self, r: &Row) -> bool {
        self.only.is_none_or(|only| only == Some(r.asset))
    }
}

/// The source's dense view, when this walk can run over it: one chain, not forward FIFO over
/// Bitcoin's inputs and outputs. (A walk that follows conversions may still give up part-way:
/// [`Walker::walk_dense`].)
pub(super) fn view_for<'s, S: GraphSource>(
    w: &Walker<'_, &S>,
    chains: &'s [WalkChain<&S>],
) -> Result<Option<&'s dyn DenseView<Error = S::Error>>, TraceError> {
    if chains.len() != 1 {
        return Ok(None);
    }
    let src: &'s S = chains[0].source;
    let Some(view) = src.dense() else { return Ok(None) };
    if w.fwd && w.opts.policy == Policy::Fifo && src.tx_inputs(&Hash32::ZERO).map_err(src_err)?.is_some() {
        return Ok(None);
    }
    Ok(Some(view))
}

/// Whether the walk over `view` follows conversions: forward, without `--asset`, over a chain
/// that holds conversion or bridge rows.
pub(super) fn follows_flows<S: GraphSource>(w: &Walker<'_, &S>, view: &dyn DenseView<Error = S::Error>) -> bool {
    w.flows && !view.flows_free()
}

impl<S: GraphSource> Walker<'_, &S> {
    /// Discovery and replay over `view` (see the module docs): the traced edges, the result's
    /// nodes (made while the edges' transaction hashes are read) and the edges' ends. `None`
    /// when the walk met what only the walk over addresses follows ([`Walker::load_flows_dense`]).
    pub(super) fn walk_dense(
        &mut self,
        view: &dyn DenseView<Error = S::Error>,
    ) -> Result<Option<DenseResult>, TraceError> {
        let n = self.opts.hops;
        let assets = view.assets();
        let Discovered::Walk(w) = self.discover_dense(view, u64::MAX)? else { return Ok(None) };
        let w = *w;
        let t1 = std::time::Instant::now();

        // replay: the tracked holdings, reached with fewer than N hops and expandable, each with
        // a state slot
        let policy = self.opts.policy;
        // (with each one's earliest arrival in fewer than N hops, found once)
        let mut tracked: Vec<((u32, u32, u32), Key)> = w
            .holdings
            .slots
            .iter()
            .enumerate()
            .filter(|&(_, &(id, _))| w.class_of(id) == EXPAND)
            .map(|(s, &(id, asset))| ((id, asset, s as u32), w.earliest_at(s as u32, n - 1)))
            .filter(|&(_, start)| start != KEY_MAX)
            .collect();
        tracked.sort_unstable_by_key(|&(t, _)| t);
        let (tracked, starts): (Vec<(u32, u32, u32)>, Vec<Key>) = tracked.into_iter().unzip();
        // (a copy of the minima found so far, for the replay to add to while it reads `w`)
        let mut min_raw = w.min_raw.clone();
        // per state: its start and asset, and the slots' look-ups
        let tracked = Tracked::new(&w, policy, self.fwd, tracked, starts);
        let mut seed_ids: Vec<u32> = w.seeds.iter().copied().collect();
        seed_ids.sort_unstable();
        let edges_at = std::time::Instant::now();
        // (conversions met: their events are replayed beside the transfers, by the replay that
        // reads every list)
        let converts = w.flows.as_ref().is_some_and(DenseFlows::met);
        let found = match policy {
            _ if converts => Ok(None),
            Policy::Poison => self.poison_edges(&w, &seed_ids, &tracked).map(Some),
            // FIFO opens the holdings traced funds reach, unless that turns out to be many
            Policy::Fifo => self.replay_opening(&w, &mut min_raw, &tracked).map(|m| m.map(made)),
            Policy::Haircut => Ok(None),
        };
        // (the replay that reads every list reads its edges' hashes beside its loop)
        let mut read_beside = None;
        let found = match found? {
            Some(found) => found,
            None => {
                let (rows, hashes) = self.replay_reading_all(&w, &mut min_raw, &seed_ids, &tracked)?;
                read_beside = hashes;
                made(rows)
            }
        };
        drop(tracked);
        self.stats.edges_us = edges_at.elapsed().as_micros() as u64;
        let (mut edges, mut ends, mut edge_txs) = found;
        if !self.fwd {
            // the replay ran in mirrored order: the result's is chain order
            edges.reverse();
            ends.reverse();
            edge_txs.reverse();
            if let Some((Ok(hashes), _)) = &mut read_beside {
                hashes.reverse();
            }
        }
        let names = Names::of(&ends);
        for end in ends.iter_mut() {
            *end = (names.index(end.0), names.index(end.1));
        }
        // (a swap or bridge edge's hash is its conversion's or deposit's, in its transfer
        // already: the others' are read from the view)
        let flow_edges = edge_txs.contains(&NO_TX);
        // while the edges' transactions' hashes are read (a read per transaction, most far apart
        // in the table) on a second thread, which first reads the ends' addresses: poison's
        // edges and the nodes are made on this one, which then reads hashes too (unless the
        // replay read them beside its loop: then only the addresses are read beside the nodes)
        let ids = names.ids.clone();
        let decode = || Names::decode(view, &ids);
        let nodes = |addrs: &mut dyn FnMut() -> Option<Result<Vec<Address>, S::Error>>| {
            let at = std::time::Instant::now();
            let edges = edges.made(assets);
            let mut found = Nodes { view, class: &w.class, labelled: w.labelled, names, ends };
            let addrs = || match addrs() {
                Some(a) => a.map_err(src_err),
                // (the reading thread stopped: its panic is raised when it is joined)
                None => Err(TraceError::Source("the thread reading addresses stopped".into())),
            };
            let nodes = self.nodes_dense(&edges, &mut found, addrs)?;
            self.stats.nodes_us = at.elapsed().as_micros() as u64;
            Ok::<_, TraceError>((edges, found, nodes))
        };
        let (hashes, hashes_us, found) = match read_beside {
            Some((hashes, us)) => (hashes, us, beside::<u32, (), _, _>(&[], |_| (), decode, nodes).0),
            None => {
                let read_txs: Vec<u32> =
                    if flow_edges { edge_txs.iter().copied().filter(|&tx| tx != NO_TX).collect() } else { Vec::new() };
                beside_hashes(view, if flow_edges { &read_txs } else { &edge_txs }, decode, nodes)
            }
        };
        let hashes = hashes.map_err(src_err)?;
        let (mut edges, found, (nodes, exchange, exchanges)) = found?;
        self.stats.hashes_us = hashes_us;
        let hashes = if flow_edges {
            let mut read = hashes.into_iter();
            edges
                .iter()
                .zip(&edge_txs)
                .map(|(e, &tx)| if tx == NO_TX { e.transfer.tx } else { read.next().unwrap_or(Hash32::ZERO) })
                .collect()
        } else {
            hashes
        };
        drop(edge_txs);
        let Nodes { names, ends, .. } = found;
        // each edge's hash and addresses: on both cores for many edges (each half of the edges
        // written by one thread)
        let fill = |edges: &mut [TracedEdge], ends: &[(u32, u32)], hashes: &[Hash32]| {
            for ((e, &tx), &(f, t)) in edges.iter_mut().zip(hashes).zip(ends) {
                e.transfer.tx = tx;
                e.transfer.from = names.addrs[f as usize].clone();
                e.transfer.to = names.addrs[t as usize].clone();
            }
        };
        if edges.len() >= 4096 && cores() >= 2 {
            let half = edges.len() / 2;
            let (e1, e2) = edges.split_at_mut(half);
            let (n1, n2) = ends.split_at(half);
            let (h1, h2) = hashes.split_at(half);
            std::thread::scope(|s| {
                s.spawn(|| fill(e2, n2, h2));
                fill(e1, n1, h1);
            });
        } else {
            fill(&mut edges, &ends, &hashes);
        }
        self.stats.replay_us = t1.elapsed().as_micros() as u64;
        Ok(Some((edges, nodes, EdgeEnds { ends, exchange, exchanges })))
    }

    /// [`reach`] over `view`: the discovery, then one pass over the rows it read.
    /// A poison trace's edges are the non-zero sends of its seeds and of its tracked holdings
    /// after their earliest arrivals in fewer than N hops ([`Walker::poison_edges`]); each
    /// reaches its receiver in one hop more than the fewest hops its sender held funds in before
    /// it. The reached addresses are decoded on both cores.
    ///
    /// `by` picks how: over the lists (the discovery), over the chain-order stream (one pass
    /// over the whole chain, `scan`), or ([`ReachBy::Auto`]) over the lists until they would
    /// read more than a [`SCAN_SHARE`]th of the chain's transfers, then over the stream.
    pub(super) fn reach_dense(
        &mut self,
        view: &dyn DenseView<Error = S::Error>,
        by: ReachBy,
    ) -> Result<Vec<(Address, u32)>, TraceError> {
        let n = self.opts.hops as usize;
        if by == ReachBy::Chain {
            if let Some(nodes) = self.reach_chain(view)? {
                return Ok(nodes);
            }
        }
        let budget = match (by, view.chain_size(), self.chain_cells(view)) {
            (ReachBy::Auto, Some((transfers, _)), Some(_)) => transfers / SCAN_SHARE,
            _ => u64::MAX,
        };
        // the seeds' own lists over the budget: the pass, before the discovery sets up
        if budget < u64::MAX {
            let mut rows = 0u64;
            for id in self.seeds.iter().filter_map(|(_, a)| view.id_of(a)) {
                let (out, inn) = view.degrees(id).map_err(src_err)?;
                rows += if self.fwd { out } else { inn };
            }
            if rows > budget {
                if let Some(nodes) = self.reach_chain(view)? {
                    return Ok(nodes);
                }
            }
        }
        // (a walk that follows conversions does not come here: `reach`)
        let w = match self.discover_dense(view, budget)? {
            Discovered::Walk(w) => *w,
            Discovered::OverBudget => {
                // (the discovery's counters describe what it read before it stopped)
                self.stats.discover_lists_us = self.stats.discover_us;
                if let Some(nodes) = self.reach_chain(view)? {
                    return Ok(nodes);
                }
                return Err(TraceError::Source("the chain-order pass gave up after the discovery did".into()));
            }
            Discovered::GaveUp => {
                return Err(TraceError::Source("the walk over ids gave up where it follows no conversions".into()))
            }
        };
        let t1 = std::time::Instant::now();
        let fwd = self.fwd;
        // the seeds' sends and the first half of the holdings on one core, the rest on the other
        let slots = w.holdings.slots.len();
        let (mut got, other) = if slots >= 2 * MIN_SPLIT && cores() >= 2 {
            let w = &w;
            std::thread::scope(|s| {
                let second = s.spawn(move || w.reached(false, slots / 2..slots, n, fwd));
                let first = w.reached(true, 0..slots / 2, n, fwd);
                // a panic on the second thread is the walk's own bug: raise it here
                (first, Some(second.join().unwrap_or_else(|p| std::panic::resume_unwind(p))))
            })
        } else {
            (w.reached(true, 0..slots, n, fwd), None)
        };
        if let Some(other) = other {
            got.merge(&other);
        }
        let (ids, hops) = got.ids();
        let nodes = self.reached_nodes(view, &ids, &hops)?;
        self.stats.replay_us = t1.elapsed().as_micros() as u64;
        Ok(nodes)
    }

    /// The seeds (hop 0) and the ids reached with their hops, as addresses in address order.
    /// The addresses are decoded on both cores.
    fn reached_nodes(
        &mut self,
        view: &dyn DenseView<Error = S::Error>,
        ids: &[u32],
        hops: &[u8],
    ) -> Result<Vec<(Address, u32)>, TraceError> {
        let addrs = on_both_cores(ids, |part| Names::decode(view, part)).map_err(src_err)?.concat();
        Ok(self.in_address_order(addrs, hops))
    }

    /// The seeds (hop 0) and the addresses reached with their hops, in address order.
    fn in_address_order(&self, mut addrs: Vec<Address>, hops: &[u8]) -> Vec<(Address, u32)> {
        // the seeds (hop 0) and the reached, in address order, each address moved once
        let seeds: Vec<&Address> = self.seeds.iter().map(|(_, a)| a).collect();
        let at = |i: usize| if i < seeds.len() { seeds[i] } else { &addrs[i - seeds.len()] };
        let order = address_order(seeds.len() + hops.len(), at);
        order
            .iter()
            .map(|&i| match (i as usize).checked_sub(seeds.len()) {
                None => (seeds[i as usize].clone(), 0),
                Some(j) => (std::mem::replace(&mut addrs[j], Address::Coinbase), u32::from(hops[j])),
            })
            .collect()
    }

    /// One discovery pass over `lists` (an expanded address's rows read after its key): each
    /// receiver's earliest arrival with `h` hops, recorded where it improves on every arrival
    /// with at most `h` hops (pushed onto `improved`).
    fn pass_lists(
        &mut self,
        w: &mut DenseWalk<'_, S::Error>,
        lists: &[(u32, &[Row])],
        h: u32,
        improved: &mut Vec<(u32, Key)>,
    ) -> Result<(), TraceError> {
        // the rows that may improve an arrival with `h` hops: after their sender's earliest
        // arrival (in their asset) in fewer than `h` hops, and not after its earliest in fewer
        // than `h - 1` — a later row was offered at an earlier level, with fewer hops, so its
        // receiver holds an arrival at least as early with fewer hops, which none with `h`
        // hops improves (the row-local checks are the same at every level). Picked first,
        // in order, so that only their receivers are fetched ahead below.
        let mut rows: Vec<&Row> = Vec::with_capacity(lists.iter().map(|(_, l)| l.len()).sum());
        for &(x, list) in lists {
            // (the last asset's window)
            let mut since: Option<(u32, Key, Key)> = None;
            for r in list {
                let (arrived, before) = match since {
                    Some((a, e, b)) if a == r.asset => (e, b),
                    _ => {
                        let (e, b) = w.arrivals(x, r.asset, h);
                        since = Some((r.asset, e, b));
                        (e, b)
                    }
                };
                let k = orient(self.fwd, r);
                if k <= arrived || k > before {
                    continue;
                }
                // the owner's side of its own conversion: the conversion carries the funds on
                if w.out_leg(x, r) {
                    continue;
                }
                // (every row past its sender's arrival has its asset's minimum looked up, which
                // puts the asset in the trace's assets list: a row skipped as offered before had
                // it at the level that offered it)
                let min_raw = self.dense_min_raw(w, r.asset)?;
                if r.amount >= min_raw && !r.amount.is_zero() {
                    rows.push(r);
                }
            }
        }
        for (i, r) in rows.iter().enumerate() {
            // the receivers' holdings are far apart: each one's first slot is looked up 16
            // rows ahead of its turn (with its class: is it a seed?) and its cells fetched 8
            // ahead (a miss each otherwise)
            if let Some(a) = rows.get(i + 16) {
                w.holdings.prefetch_head(a.other);
                if let Some(c) = w.class.get(a.other as usize) {
                    prefetch(c);
                }
            }
            if let Some(a) = rows.get(i + 8) {
                w.holdings.prefetch_cells(a.other);
            }
            if w.is_seed(r.other) {
                continue;
            }
            let k = orient(self.fwd, r);
            if w.improve(r.other, r.asset, h, k) {
                improved.push((r.other, k));
            }
        }
        Ok(())
    }

    /// The dense walk's discovery (see the module docs): every holding reached with fewer than N
    /// hops and its earliest arrivals per hop count, each reached address's class, and the
    /// lists read (poison: the last frontier's too). It stops (`OverBudget`) before a level
    /// after the seeds' that would take the rows read past `budget` (`u64::MAX`: none; the
    /// caller weighs the seeds' own lists).
    fn discover_dense<'v>(
        &mut self,
        view: &'v dyn DenseView<Error = S::Error>,
        budget: u64,
    ) -> Result<Discovered<'v, S::Error>, TraceError> {
        let t0 = std::time::Instant::now();
        self.stats.dense = true;
        let n = self.opts.hops;
        let seeds = self.class_seeds()?;
        let assets = view.assets();
        let only = self.opts.asset.map(|a| assets.iter().position(|x| *x == a).map(|i| i as u32));
        let labelled = view.labelled().map_err(src_err)?;
        let mut w = DenseWalk {
            view,
            class: Vec::new(),
            seeds: seeds.iter().filter_map(|(_, a)| view.id_of(a)).collect(),
            labelled,
            has_labels: {
                let mut bits = IdBits::default();
                for (id, _) in labelled.iter().filter(|(_, l)| !l.is_empty()) {
                    bits.insert(*id);
                }
                bits
            },
            holdings: Holdings::new(n),
            list_of: Vec::new(),
            lists: Vec::new(),
            arena: Vec::new(),
            checked: IdBits::default(),
            only,
            min_raw: vec![None; assets.len()],
            listed: 0,
            flows: follows_flows(self, view).then(|| DenseFlows::new(assets)),
        };
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
        // a seed without transfers on the chain has no id: one with a conversion or bridge
        // deposit all the same (a wrap whose legs were not recorded) is the walk over
        // addresses' to follow
        if w.flows.is_some() {
            let idless: Vec<Address> =
                seeds.iter().filter(|(_, a)| view.id_of(a).is_none()).map(|(_, a)| a.clone()).collect();
            if !idless.is_empty() {
                let opts = self.opts;
                let flows = self.src(0).flows_batch(&idless).map_err(src_err)?;
                let any = idless.iter().zip(&flows).any(|(a, (convs, deps))| {
                    convs.iter().any(|v| kept_conversion(opts, v, |o| o == a))
                        || deps.iter().any(|d| kept_deposit(opts, d, |o| o == a))
                });
                if any {
                    return Ok(Discovered::GaveUp);
                }
            }
        }

        // discovery
        let mut frontier: Vec<(u32, Key)> = w.seeds.iter().map(|&s| (s, 0)).collect();
        frontier.sort_unstable();
        let mut improved: Vec<(u32, Key)> = Vec::new();
        // rows per list the last level read, for the budget
        let mut per_list: Option<u64> = None;
        for h in 1..=n {
            if frontier.is_empty() {
                break;
            }
            // the frontier's conversions carry its arrivals to other assets within the level
            if w.flows.is_some() && !self.close_flows_dense(&mut w, &frontier, h - 1)? {
                return Ok(Discovered::GaveUp);
            }
            // haircut and FIFO replay the tracked holdings' histories, read again there: on their
            // last pass nothing read here would be used (no seed is in a frontier after the
            // first), and the assets this pass would record are the tracked holdings' own
            let last = h == n && n > 1 && self.opts.policy != Policy::Poison;
            // per frontier address: whether its degrees are to be read (an expandable,
            // unlabelled address, once per trace: a hub's are over `--hub-degree`) and whether
            // its list is (not read yet after its key); both on the reading threads
            // (and the frontier addresses whose lists an earlier level read: `pre`)
            let mut pre: Vec<u32> = Vec::new();
            let tasks: Vec<Task> = frontier
                .iter()
                .filter_map(|&(a, k)| {
                    let c = w.class_of(a);
                    let check = c == EXPAND && !w.checked.contains(a) && !w.has_labels(a);
                    let read = !last && matches!(c, EXPAND | SEED) && w.list(a).is_none_or(|l| k < l.after);
                    if !read && matches!(c, EXPAND | SEED) {
                        pre.push(a);
                    }
                    (check || read).then_some(Task { id: a, key: k, check, read })
                })
                .collect();
            // a reach that would read more than its budget of rows is cheaper as one pass over
            // the chain: each level after the seeds' (which the caller weighed by their degrees)
            // by the rows per list the level before it read (at least the chain's mean)
            let lists = tasks.iter().filter(|t| t.read).count() as u64;
            if let Some(rows) = per_list.filter(|_| budget < u64::MAX) {
                let (transfers, ids) = view.chain_size().unwrap_or((0, 1));
                if self.stats.transfers_read + lists * rows.max(transfers / ids.max(1)) > budget {
                    self.stats.discover_us = t0.elapsed().as_micros() as u64;
                    return Ok(Discovered::OverBudget);
                }
            }
            let read_before = self.stats.transfers_read;
            let reads = std::time::Instant::now();
            // (a view over a file the page cache does not hold reads them ahead, all at once)
            view.read_ahead(&mut tasks.iter().filter(|t| t.read).map(|t| t.id));
            let fwd = self.fwd;
            let (opts, only): (&TraceOptions, _) = (self.opts, w.only);
            // `row_allowed` (and, backward, received before the funds left), for the reading threads
            let keep = |r: &Row, k: Key| {
                (fwd || k == 0 || !row_key(r) > k)
                    && only.is_none_or(|only| only == Some(r.asset))
                    && in_bounds(opts, r.height, r.time)
            };
            // per chunk of the tasks: its kept rows one list after another, where each task's
            // list ends (`HUB_END`: a hub's, not read) and the number of rows read
            const HUB_END: usize = usize::MAX;
            let read = |part: &[Task]| -> Result<ChunkRows, S::Error> {
                let (mut rows, mut ends, mut read, mut listed) =
                    (Vec::new(), Vec::with_capacity(part.len()), 0u64, 0u64);
                for (i, t) in part.iter().enumerate() {
                    // the entries are far apart in the view's table: fetched ahead of their turn
                    if let Some(next) = part.get(i + 8) {
                        view.prefetch(next.id);
                    }
                    if t.check {
                        let (out, inn) = view.degrees(t.id)?;
                        if opts.is_hub(out, inn) {
                            ends.push(HUB_END);
                            continue;
                        }
                        listed += out + inn;
                    }
                    if t.read {
                        let start = rows.len();
                        if fwd {
                            view.rows(t.id, Direction::Out, after(t.key), &mut rows)?;
                        } else {
                            // backward: the transfers into `a` before the funds left it (in any
                            // order: arrivals are minima, and the replay sorts)
                            view.rows(t.id, Direction::In, None, &mut rows)?;
                        }
                        read += (rows.len() - start) as u64;
                        // the kept ones moved down in place
                        let mut kept = start;
                        for i in start..rows.len() {
                            if keep(&rows[i], t.key) {
                                rows[kept] = rows[i];
                                kept += 1;
                            }
                        }
                        rows.truncate(kept);
                    }
                    ends.push(rows.len());
                }
                Ok((rows, ends, read, listed))
            };
            // the pass over the rows (each receiver's earliest arrival with `h` hops) follows
            // the reads unless this is the last level; its result does not depend on the order
            // it meets the lists in (an arrival is kept when earlier than every one with at most
            // `h` hops, and the earliest kept per id is what the next level starts from), so
            // each chunk is passed on this thread as soon as it is read, while the second thread
            // reads on, and the lists an earlier level read are passed first
            // (poison's edges come from its last level's rows without a pass, unless conversions
            // were met: then the replay makes them, and the pass records the assets it meets)
            let converts = w.flows.as_ref().is_some_and(DenseFlows::met);
            let pass_follows = !(last || h == n && self.opts.policy == Policy::Poison && !converts);
            improved.clear();
            let mut passing = std::time::Duration::ZERO;
            let chunks: Vec<&[Task]> = tasks.chunks(chunk_len(tasks.len())).collect();
            self.stats.split_reads += u64::from(chunks.len() > 1);
            let next = AtomicUsize::new(0);
            let take = || {
                let i = next.fetch_add(1, Ordering::Relaxed);
                chunks.get(i).map(|&c| (i, c))
            };
            std::thread::scope(|s| -> Result<(), TraceError> {
                let (give, got) = std::sync::mpsc::channel();
                if chunks.len() > 1 {
                    let (take, read) = (&take, &read);
                    s.spawn(move || {
                        while let Some((i, c)) = take() {
                            if give.send((i, read(c))).is_err() {
                                return;
                            }
                        }
                    });
                } else {
                    drop(give);
                }
                if pass_follows && !pre.is_empty() {
                    let at = std::time::Instant::now();
                    // (the rows taken out while `w` changes: a transfer to itself changes only
                    // hop `h`)
                    let arena = std::mem::take(&mut w.arena);
                    let lists: Vec<(u32, &[Row])> =
                        pre.iter().filter_map(|&x| w.list(x).map(|l| (x, l.rows(&arena)))).collect();
                    let passed = self.pass_lists(&mut w, &lists, h, &mut improved);
                    w.arena = arena;
                    passed?;
                    passing += at.elapsed();
                }
                for _ in 0..chunks.len() {
                    let (i, part) = match got.try_recv() {
                        Ok(x) => x,
                        Err(_) => match take() {
                            Some((i, c)) => (i, read(c)),
                            // (the second thread's panic is raised when the scope joins it)
                            None => {
                                got.recv().map_err(|_| TraceError::Source("the thread reading lists stopped".into()))?
                            }
                        },
                    };
                    let (rows, ends, read, listed) = part.map_err(src_err)?;
                    self.stats.transfers_read += read;
                    w.listed += listed;
                    let chunk = w.arena.len() as u32;
                    let mut from = 0;
                    let mut lists: Vec<(u32, &[Row])> = Vec::new();
                    for (&end, t) in ends.iter().zip(chunks[i]) {
                        if t.check {
                            self.stats.lookups += 2;
                            if end == HUB_END {
                                set_class(&mut w, t.id, HUB);
                                continue;
                            }
                            w.checked.insert(t.id);
                        }
                        if t.read {
                            let (start, len) = (from as u32, (end - from) as u32);
                            w.set_outs(t.id, ListAt { after: t.key, chunk, start, len });
                            lists.push((t.id, &rows[from..end]));
                        }
                        from = end;
                    }
                    if pass_follows {
                        let at = std::time::Instant::now();
                        self.pass_lists(&mut w, &lists, h, &mut improved)?;
                        passing += at.elapsed();
                    }
                    drop(lists);
                    w.arena.push(rows);
                }
                Ok(())
            })?;
            let level = reads.elapsed();
            per_list = Some((self.stats.transfers_read - read_before) / lists.max(1));
            self.stats.discover_reads_us += level.saturating_sub(passing).as_micros() as u64;
            self.stats.discover_pass_us += passing.as_micros() as u64;
            frontier.retain(|&(a, _)| matches!(w.class_of(a), EXPAND | SEED));
            if last {
                self.stats.addresses_expanded += frontier.len() as u64;
                break;
            }
            if tasks.iter().any(|t| t.read) {
                self.stats.batches += 1;
            }
            self.stats.addresses_expanded += frontier.len() as u64;
            if h == n && self.opts.policy == Policy::Poison {
                // arrivals with N hops are never followed out: poison's edges come from the
                // rows just read (`poison_edges`), which records the assets this pass would
                break;
            }
            if h == n {
                break;
            }
            let pass = std::time::Instant::now();
            improved.sort_unstable();
            improved.dedup_by_key(|(id, _)| *id);
            for &(id, _) in &improved {
                if w.class_of(id) != UNKNOWN {
                    continue;
                }
                self.stats.lookups += 1;
                let c = class_by_labels(w.labels_of(id).map(Vec::as_slice));
                set_class(&mut w, id, c);
            }
            self.stats.discover_pass_us += pass.elapsed().as_micros() as u64;
            frontier.clear();
            frontier.extend(improved.iter().copied().filter(|&(a, _)| w.class_of(a) == EXPAND));
        }

        self.stats.discover_us = t0.elapsed().as_micros() as u64;
        Ok(Discovered::Walk(Box::new(w)))
    }

    /// The conversions and bridge deposits of `ids` not read yet, read from the view (the walk
    /// over addresses' `load_flows`, which reads them by address from the source): each id's
    /// conversions and deposits within `--since`/`--until`, in chain order, with their legs. `false` when one of them converts
    /// or deposits an asset the view has no index for (no transfer of the chain moves it), or
    /// deposits into a bridge contract without an id: the walk over ids gives up then.
    fn load_flows_dense(&mut self, w: &mut DenseWalk<'_, S::Error>, ids: &[u32]) -> Result<bool, TraceError> {
        let Some(f) = &w.flows else { return Ok(true) };
        let mut todo: Vec<u32> = ids.iter().copied().filter(|&id| !f.read.contains(id)).collect();
        todo.sort_unstable();
        todo.dedup();
        if todo.is_empty() {
            return Ok(true);
        }
        // (on both cores for many: each a RocksDB read per owner and kind over a store)
        let at = std::time::Instant::now();
        let read = on_both_cores(&todo, |part| w.view.flows_of(part)).map_err(src_err)?.concat();
        self.stats.flows_us += at.elapsed().as_micros() as u64;
        self.stats.flow_reads += todo.len() as u64;
        if read.len() != todo.len() {
            return Err(TraceError::Source(
                format!("the source gave flows for {} of {} addresses", read.len(), todo.len()).into(),
            ));
        }
        let opts = self.opts;
        let Some(f) = w.flows.as_mut() else { return Ok(true) };
        let view = w.view;
        for (&id, (mut convs, mut deps)) in todo.iter().zip(read) {
            // (an owner is its id's address: its id found by hashing, not each id's address read)
            let owns = |o: &Address| view.id_of(o) == Some(id);
            deps.retain(|d| kept_deposit(opts, d, owns));
            deps.sort_by_key(|d| (d.height, d.pos));
            let mut mine = Vec::with_capacity(deps.len());
            for d in deps {
                let (Some(&asset), Some(contract)) = (f.index.get(&d.asset), view.id_of(&d.contract)) else {
                    return Ok(false);
                };
                f.legs_out.insert((id, d.height, d.pos.tx_index, asset));
                mine.push(DenseDeposit { key: key(d.height, d.pos.tx_index, d.pos.sub), asset, contract, deposit: d });
            }
            if !mine.is_empty() {
                f.deps.insert(id, mine);
            }
            convs.retain(|v| kept_conversion(opts, v, owns));
            convs.sort_by_key(|v| (v.height, v.pos));
            let mut mine = Vec::with_capacity(convs.len());
            for v in convs {
                let (Some(&asset_in), Some(&asset_out)) = (f.index.get(&v.asset_in), f.index.get(&v.asset_out)) else {
                    return Ok(false);
                };
                f.legs_out.insert((id, v.height, v.pos.tx_index, asset_in));
                f.legs_in.insert((id, v.height, v.pos.tx_index, asset_out));
                mine.push(DenseConv { key: key(v.height, v.pos.tx_index, v.pos.sub), asset_in, asset_out, conv: v });
            }
            if !mine.is_empty() {
                f.convs.insert(id, mine);
            }
            f.read.insert(id);
        }
        Ok(true)
    }

    /// Within hop level `lvl`: each frontier id's conversions carry its arrival in one asset at
    /// `lvl` to its holding of the other, without adding a hop (the walk over addresses'
    /// `close_flows`), repeated until nothing improves (a swap of what a swap gave …). `false`:
    /// the walk over ids gives up ([`Walker::load_flows_dense`]).
    fn close_flows_dense(
        &mut self,
        w: &mut DenseWalk<'_, S::Error>,
        frontier: &[(u32, Key)],
        lvl: u32,
    ) -> Result<bool, TraceError> {
        let mut todo: Vec<u32> = frontier.iter().map(|&(id, _)| id).collect();
        while !todo.is_empty() {
            if !self.load_flows_dense(w, &todo)? {
                return Ok(false);
            }
            let mut next = Vec::new();
            for &x in &todo {
                let seed = w.is_seed(x);
                if seed && lvl > 0 {
                    continue;
                }
                // (key, asset in, asset out, amount out) of each, in chain order
                let convs: Vec<(Key, u32, u32, U256)> = match w.flows.as_ref().and_then(|f| f.convs.get(&x)) {
                    Some(c) => c.iter().map(|c| (c.key, c.asset_in, c.asset_out, c.conv.amount_out)).collect(),
                    None => continue,
                };
                for (k, asset_in, asset_out, amount_out) in convs {
                    // (a seed holds every asset from before any key: its conversions reach
                    // nothing it does not hold, but their assets are met)
                    if !seed && k <= w.earliest_in(x, asset_in, lvl) || amount_out.is_zero() {
                        continue;
                    }
                    if amount_out < self.dense_min_raw(w, asset_out)? {
                        continue;
                    }
                    if w.improve(x, asset_out, lvl, k) {
                        next.push(x);
                    }
                }
            }
            next.sort_unstable();
            next.dedup();
            todo = next;
        }
        Ok(true)
    }

    /// Haircut's replay, and FIFO's where opening holdings one by one would be slower (see the
    /// module docs): the events, each transfer once — the seeds' (allowed) outgoing rows and the
    /// tracked holdings' complete histories (read on both cores), an incoming row only when its
    /// sender's rows are not read already — sorted into the walk's order and replayed, the
    /// edges' transactions' hashes read on the other core meanwhile.
    fn replay_reading_all(
        &mut self,
        w: &DenseWalk<'_, S::Error>,
        min_raw: &mut [Option<U256>],
        seed_ids: &[u32],
        t: &Tracked<'_>,
    ) -> Result<Replayed<S::Error>, TraceError> {
        let (policy, n) = (self.opts.policy, self.opts.hops);
        let view = w.view;
        let assets = view.assets();
        let mut states: Vec<State> = t.asset_of.iter().map(|_| State::new(policy, n)).collect();
        let flows = w.flows.as_ref().filter(|f| f.met());
        let mut first = Batch::default();
        for &s in seed_ids {
            if let Some((_, l)) = w.outs(s) {
                for r in l {
                    // a seed's slot is SEED_SLOT
                    let ts = t.slot_at(r.other, r.asset, orient(self.fwd, r));
                    let (fs, ts) = match flows {
                        Some(f) => f.mask(s, r.other, r, t.slot(s, r.asset), ts),
                        None => (t.slot(s, r.asset), ts),
                    };
                    first.push(r, s, r.other, fs, ts);
                }
            }
        }
        let mut batches = vec![first];
        {
            let opts = &self.opts;
            // `row_allowed`, for the reading threads
            let allowed = |r: &Row| w.asset_allowed(r) && in_bounds(opts, r.height, r.time);
            let fwd = self.fwd;
            view.read_ahead(&mut t.held.iter().map(|&(a, _, _)| a));
            let parts = on_both_cores(&t.held, |part| {
                let (mut outs, mut ins, mut read) = (Vec::new(), Vec::new(), 0u64);
                let (mut sends, mut receipts, mut opening) = (Batch::default(), Batch::default(), Vec::new());
                for (i, &(a, lo, hi)) in part.iter().enumerate() {
                    // the entries are far apart in the view's table: fetched ahead of their turn
                    if let Some(next) = part.get(i + 8) {
                        view.prefetch(next.0);
                    }
                    outs.clear();
                    ins.clear();
                    sends_and_receipts(view, fwd, a, &mut outs, &mut ins)?;
                    read += (outs.len() + ins.len()) as u64;
                    // (an id that converts: its legs left out, its conversions counted)
                    let converts = flows.filter(|f| f.moves(a));
                    // poison (replayed here where conversions were met) replays what a holding
                    // sent after the key the discovery read its list after, as the walk over
                    // addresses does: a seed's transfer at the chain's first key can reach it
                    // earlier, and what it sent before is no edge there
                    let sent_after = match policy {
                        Policy::Poison => Some(w.list(a).map_or(KEY_MAX, |l| l.after)),
                        _ => None,
                    };
                    for s in lo..hi {
                        let (asset, start) = (t.asset_of[s as usize], t.info[s as usize]);
                        opening.push((
                            s,
                            match converts {
                                Some(f) => opening_converting(&outs, &ins, asset, start, a, f),
                                None => opening_balance(&outs, &ins, asset, start, fwd),
                            },
                        ));
                    }
                    for r in &outs {
                        let Some(fs) = t.state_in(lo, hi, r.asset) else { continue };
                        let k = orient(fwd, r);
                        if sent_after.is_some_and(|after| k <= after) {
                            continue;
                        }
                        let fs = if k < t.info[fs as usize] { NO_SLOT } else { fs };
                        let ts = t.slot_at(r.other, r.asset, k);
                        let (fs, ts) = match flows {
                            Some(f) => f.mask(a, r.other, r, fs, ts),
                            None => (fs, ts),
                        };
                        if fs != NO_SLOT || !matches!(ts, NO_SLOT | SEED_SLOT) {
                            sends.push(r, a, r.other, fs, ts);
                        }
                    }
                    for r in &ins {
                        let Some(ts) = t.state_in(lo, hi, r.asset) else { continue };
                        // unread senders carry nothing: only the receiver's side counts
                        let ts = t.receiver(ts, orient(fwd, r));
                        if ts == NO_SLOT {
                            continue;
                        }
                        let fs = t.slot(r.other, r.asset);
                        let read = match fs {
                            NO_SLOT => false,
                            SEED_SLOT => allowed(r),
                            _ => true,
                        };
                        if read {
                            continue;
                        }
                        match flows.map(|f| f.mask(r.other, a, r, fs, ts)) {
                            // (what the receiver got in its own conversion: nothing to replay)
                            Some((_, NO_SLOT)) => {}
                            Some((fs, ts)) => receipts.push(r, r.other, a, fs, ts),
                            None => receipts.push(r, r.other, a, fs, ts),
                        }
                    }
                }
                Ok::<_, S::Error>((sends, receipts, opening, read))
            })
            .map_err(src_err)?;
            self.stats.split_reads += u64::from(parts.len() > 1);
            // in the order one pass would make them: every send, then every receipt
            let mut receipts = Vec::new();
            for (s, r, opening, read) in parts {
                batches.push(s);
                receipts.push(r);
                self.stats.transfers_read += read;
                for (st, balance) in opening {
                    if !balance.is_zero() {
                        states[st as usize].receive(balance, None);
                    }
                }
            }
            batches.extend(receipts);
            if !t.held.is_empty() {
                self.stats.batches += 2;
            }
        }
        // whether traced funds ever arrived at a state (until then it holds nothing traced)
        let mut reached = vec![false; states.len()];
        let mut events = Vec::with_capacity(batches.iter().map(|b| b.evs.len()).sum());
        for b in &mut batches {
            events.extend_from_slice(&b.evs);
            b.evs = Vec::new();
        }
        let batches = Batches::new(batches);
        let mask = order_events(&mut events, &batches, self.fwd);
        self.stats.events_replayed = events.len() as u64;
        // the seeds' and tracked ids' conversions, in chain order (forward walks only), each
        // after the transfers at its key
        let convs = match flows {
            Some(f) => flow_events(f, seed_ids, t),
            None => Vec::new(),
        };
        self.stats.events_replayed += convs.len() as u64;
        let mut next_conv = 0;

        // at most one edge per event: reserved once (address space only; the pages are touched
        // as edges are written), so the edges are never copied by a regrowth
        // (with each edge's ends by id and its transaction: addresses and hashes are filled in
        // after the replay, each address decoded once)
        let mut out: EdgeRows =
            (Vec::with_capacity(events.len()), Vec::with_capacity(events.len()), Vec::with_capacity(events.len()));
        // the edges' transactions' hashes, read on a second thread as the loop makes the edges
        // (the loop runs on one core: the other would wait for it)
        let (replayed, hashes) = hashes_beside(view, |hand_over| -> Result<(), TraceError> {
            for (j, ev) in events.iter().enumerate() {
                hand_over(&out.2, false);
                // the states are far apart (64 bytes each, thousands of them): the ones a few
                // events ahead touch are fetched before their turn
                if let Some(a) = events.get(j + 16) {
                    for s in [a.fs, a.ts] {
                        if let Some(st) = states.get(s as usize) {
                            prefetch(st);
                        }
                    }
                }
                if let Some(a) = events.get(j + 8) {
                    // their parts (a state's own allocation), where a send may read them: the
                    // sender's once traced funds reached it, the receiver's
                    for s in [a.fs, a.ts] {
                        if s == a.fs && reached.get(s as usize) != Some(&true) {
                            continue;
                        }
                        match states.get(s as usize) {
                            Some(State::Haircut { strata, .. }) => strata.first().map(prefetch),
                            Some(State::Fifo { queue, .. }) => queue.front().map(prefetch),
                            _ => None,
                        };
                    }
                    // and the row of one whose sender may hold traced funds (read then)
                    if a.fs == SEED_SLOT || reached.get(a.fs as usize) == Some(&true) {
                        let (b, k) = batches.find((a.pk & mask) as u32);
                        if let Some(side) = b.sides.get(k as usize) {
                            prefetch(side);
                        }
                    }
                }
                let i = (ev.pk & mask) as u32;
                if next_conv < convs.len() {
                    let k = batches.key(i);
                    while let Some(c) = convs.get(next_conv).filter(|c| c.key < k) {
                        self.replay_flow(c, &mut states, &mut reached, min_raw, assets, &mut out)?;
                        next_conv += 1;
                    }
                }
                // with the event's whole row and its `--asset`/`--since`/`--until` verdict, read
                // once and only where traced funds may leave
                let parcel = match ev.fs {
                    SEED_SLOT => {
                        let e = batches.row(ev, i);
                        self.row_allowed(w, &e.row).then(|| (Parcel::seed(policy, e.row.amount), e))
                    }
                    NO_SLOT => None,
                    s if s & QUIET != 0 => {
                        // (what a conversion's owner got: the pool's balance falls, nothing moves on)
                        let s = (s & !QUIET) as usize;
                        if reached[s] {
                            states[s].send(batches.amount(ev, i));
                        } else {
                            states[s].send_untraced(batches.amount(ev, i));
                        }
                        None
                    }
                    s => {
                        let st = &mut states[s as usize];
                        if reached[s as usize] {
                            let e = batches.row(ev, i);
                            let p = st.send(e.row.amount);
                            self.row_allowed(w, &e.row).then_some((p, e))
                        } else {
                            // most sends of a replay: nothing traced ever arrived, none leaves
                            st.send_untraced(batches.amount(ev, i));
                            None
                        }
                    }
                };
                let carried = match parcel {
                    Some((p, e)) => self.edge_of(p, &e, min_raw, assets, &mut out)?,
                    None => None,
                };
                if ev.ts != NO_SLOT && ev.ts != SEED_SLOT {
                    reached[ev.ts as usize] |= carried.is_some();
                    states[ev.ts as usize].receive(batches.amount(ev, i), carried.as_ref());
                }
            }
            for c in &convs[next_conv..] {
                self.replay_flow(c, &mut states, &mut reached, min_raw, assets, &mut out)?;
            }
            hand_over(&out.2, true);
            Ok(())
        });
        replayed?;
        Ok((out, hashes))
    }

    /// Conversion or bridge deposit `c` replayed (the walk over addresses' `Ev::Convert` and
    /// `Ev::BridgeOut`): what its owner's holding of the asset given carries leaves it, no hop
    /// added. A conversion's, converted pro rata into what the owner got, is a swap edge and
    /// arrives at its holding of that asset; a deposit's is a bridge edge into the contract
    /// (its release is on a chain this walk does not cover).
    fn replay_flow(
        &mut self,
        c: &FlowEvent<'_>,
        states: &mut [State],
        reached: &mut [bool],
        min_raw: &mut [Option<U256>],
        assets: &[Asset],
        out: &mut EdgeRows,
    ) -> Result<(), TraceError> {
        let (policy, n) = (self.opts.policy, self.opts.hops);
        let given = match c.flow {
            Flow::Conv(v) => v.conv.amount_in,
            Flow::Deposit(d) => d.deposit.amount,
        };
        let parcel = match c.fs {
            SEED_SLOT => Some(Parcel::seed(policy, given)),
            NO_SLOT => None,
            s => {
                let s = s as usize;
                if reached[s] {
                    Some(states[s].send(given).within(n))
                } else {
                    // (nothing traced ever arrived: none leaves)
                    states[s].send_untraced(given);
                    None
                }
            }
        };
        let conv = match c.flow {
            Flow::Conv(v) => v,
            Flow::Deposit(d) => {
                let Some(p) = parcel else { return Ok(()) };
                let (traced, strata) = (p.traced(given), p.mask());
                if !traced.is_zero() && strata != 0 {
                    let e = &d.deposit;
                    let transfer = Transfer {
                        tx: e.tx,
                        height: e.height,
                        pos: e.pos,
                        time: e.time,
                        from: Address::Coinbase,
                        to: Address::Coinbase,
                        asset: e.asset,
                        amount: e.amount,
                    };
                    let kind = EdgeKind::Bridge { to_chain: None, release: None, traced_out: U256::ZERO };
                    out.0.push(TracedEdge::new(transfer, 0, kind, traced, strata, true));
                    out.1.push((c.owner, d.contract));
                    out.2.push(NO_TX);
                }
                return Ok(());
            }
        };
        let v = &conv.conv;
        let mut carried = None;
        if let Some(p) = parcel {
            let traced_in = p.traced(v.amount_in);
            let converted = p.convert(v.amount_in, v.amount_out);
            let (traced, strata) = (converted.traced(v.amount_out), converted.mask());
            if !traced.is_zero() && strata != 0 {
                let followed = traced >= self.min_raw_in(min_raw, assets, conv.asset_out)?;
                let kind = EdgeKind::Swap { conversion: Box::new(v.clone()), traced_in };
                out.0.push(TracedEdge::new(swap_transfer(v), 0, kind, traced, strata, followed));
                out.1.push((c.owner, c.owner));
                out.2.push(NO_TX);
                if followed {
                    carried = Some(converted);
                }
            }
        }
        if c.ts != NO_SLOT {
            reached[c.ts as usize] |= carried.is_some();
            states[c.ts as usize].receive(v.amount_out, carried.as_ref());
        }
        Ok(())
    }

    /// Poison's edges straight from the rows the discovery read, in the order the replay
    /// would make them (the walk's), with each edge's ends by id and its transaction (see the
    /// module docs for why they are the replay's).
    fn poison_edges<'w>(
        &mut self,
        w: &'w DenseWalk<'_, S::Error>,
        seed_ids: &[u32],
        t: &Tracked<'_>,
    ) -> Result<Found<'w>, TraceError> {
        let (held, start, asset_of) = (&t.held, &t.starts, &t.asset_of);
        let n = self.opts.hops as usize;
        let fwd = self.fwd;
        let assets = w.view.assets();
        let states = start.len();
        // per asset index: its facts, looked up when first needed; recorded in the result (as
        // `Walker::asset` does) only where the discovery's last pass or the replay would have
        let mut infos: Vec<Option<AssetInfo>> = vec![None; assets.len()];
        let mut used = vec![false; assets.len()];
        let mut min_raw = |this: &Self, i: u32| -> Result<U256, TraceError> {
            if let Some(x) = &infos[i as usize] {
                return Ok(x.min_raw);
            }
            let a = *assets.get(i as usize).ok_or_else(|| TraceError::Source(format!("asset index {i}").into()))?;
            let info = match this.assets.get(&(0, a)) {
                Some(x) => x.clone(),
                None => this.asset_info(0, a)?,
            };
            let m = info.min_raw;
            infos[i as usize] = Some(info);
            Ok(m)
        };

        // the sends, one pass over the rows: grouped by sender (a seed, or a tracked holding's
        // state), each group in the walk's order (backward lists are in chain order: read
        // from their ends); per send, its receiving state when it carries traced funds on
        // (followed into a tracked holding), else `NO_SLOT`
        struct Send<'r> {
            k: Key,
            to: u32,
            /// The row's asset, and whether its amount is zero (the top bit).
            asset: u32,
            row: &'r Row,
        }
        const ZERO: u32 = 1 << 31;
        // `--min-amount` of each tracked holding's asset (the receivers' below: a send is
        // followed into a tracked holding of its own asset), found before the threads start
        let mut floor: Vec<Option<U256>> = vec![None; assets.len()];
        for &a in asset_of.iter() {
            if floor[a as usize].is_none() {
                floor[a as usize] = Some(min_raw(self, a)?);
            }
        }
        let list = |x: u32| w.outs(x).map(|(_, l)| l).unwrap_or_default();
        let senders: Vec<(u32, u32)> = seed_ids
            .iter()
            .map(|&x| (x, SEED_SLOT))
            .chain(
                // one group per tracked asset of the id (most hold one)
                held.iter().flat_map(|&(x, lo, hi)| (lo..hi).map(move |fs| (x, fs))),
            )
            .collect();
        // per chunk of senders (on both cores for many): their sends, and where each one's begin
        let parts = on_both_cores(&senders, |part| {
            let (mut sends, mut begins) = (Vec::new(), Vec::with_capacity(part.len()));
            for &(x, fs) in part {
                begins.push(sends.len());
                let l = list(x);
                for j in 0..l.len() {
                    let r = if fwd { &l[j] } else { &l[l.len() - 1 - j] };
                    // a tracked holding's group: its own asset's sends (an id holds an asset once)
                    if fs != SEED_SLOT && asset_of[fs as usize] != r.asset {
                        continue;
                    }
                    let zero = r.amount.is_zero();
                    let mut to = t.slot(r.other, r.asset);
                    // (a tracked receiver's asset is the row's: its floor is known)
                    let below = || floor[r.asset as usize].is_some_and(|m| r.amount < m);
                    if (to as usize) >= states || zero || below() {
                        to = NO_SLOT;
                    }
                    let asset = r.asset | if zero { ZERO } else { 0 };
                    sends.push(Send { k: orient(fwd, r), to, asset, row: r });
                }
            }
            Ok::<_, std::convert::Infallible>((sends, begins))
        });
        let Ok(parts) = parts;
        // (sender's id, its state or `SEED_SLOT`, its first send in `sends`)
        let mut groups: Vec<(u32, u32, u32)> = Vec::with_capacity(senders.len());
        let mut sends: Vec<Send<'_>> = Vec::with_capacity(parts.iter().map(|(s, _)| s.len()).sum());
        let mut sender = senders.iter();
        for (part, begins) in parts {
            // (`begins` first: a zip asks its first iterator first, and `sender` goes on to the
            // next part)
            for (b, &(x, fs)) in begins.into_iter().zip(sender.by_ref()) {
                groups.push((x, fs, (sends.len() + b) as u32));
            }
            sends.extend(part);
        }
        let end = sends.len() as u32;
        let group = |g: usize| {
            let next = groups.get(g + 1).map_or(end, |x| x.2);
            &sends[groups[g].2 as usize..next as usize]
        };

        // per state, for each `s < N`: the earliest key (oriented) at which funds that travelled
        // exactly `s` transfers arrive (index 0 unused: only seeds hold stratum 0). Seeds send
        // stratum 0 at any key, their first one included; stratum `s` reaches a holding at the
        // earliest carrying send whose sender held stratum `s - 1` strictly before it (a send
        // leaves before its own receipt arrives, for a transfer to itself too); strata of N
        // are never sent on.
        // (by stratum, then state: a pass for stratum `s` reads the states' entries of `s - 1`
        // in order and updates the receivers' of `s`, one table of `states` keys each, which
        // stays in cache where a state's `n` keys side by side would not)
        let mut first = vec![KEY_MAX; states * n];
        for (g, &(_, fs, _)) in groups.iter().enumerate() {
            if fs == SEED_SLOT {
                for e in group(g).iter().filter(|e| e.to != NO_SLOT) {
                    let c = &mut first[states + e.to as usize];
                    *c = (*c).min(e.k);
                }
            }
        }
        for s in 2..n {
            for (g, &(_, fs, _)) in groups.iter().enumerate() {
                if fs == SEED_SLOT {
                    continue;
                }
                let held_at = first[(s - 1) * states + fs as usize];
                if held_at == KEY_MAX {
                    continue;
                }
                let sends = group(g);
                // the sends after it: a suffix (the group is in the walk's order)
                let from = sends.partition_point(|e| e.k <= held_at);
                for e in sends[from..].iter().filter(|e| e.to != NO_SLOT) {
                    let c = &mut first[s * states + e.to as usize];
                    *c = (*c).min(e.k);
                }
            }
        }

        // the edges: every non-zero send of a seed (stratum 1), every non-zero send of a
        // tracked holding that held some stratum below N before it (strata one higher)
        let mut cands: Vec<(&Row, u32, u64, Key)> = Vec::new();
        // (a tracked holding's earliest arrival of each stratum)
        let mut held_at = vec![KEY_MAX; n];
        for (g, &(x, fs, _)) in groups.iter().enumerate() {
            let seed = fs == SEED_SLOT;
            let begin = if seed {
                0
            } else {
                for (s, h) in held_at.iter_mut().enumerate() {
                    *h = first[s * states + fs as usize];
                }
                start[fs as usize]
            };
            for e in group(g) {
                // the assets the discovery met: a seed's sends after its first key, a tracked
                // holding's after its earliest arrival (on its pass from there)
                let asset = (e.asset & !ZERO) as usize;
                if e.k > begin {
                    used[asset] = true;
                }
                if e.asset & ZERO != 0 {
                    continue;
                }
                let strata =
                    if seed { 2 } else { (1..n).filter(|&s| held_at[s] < e.k).fold(0u64, |m, s| m | 1 << (s + 1)) };
                if strata != 0 {
                    used[asset] = true;
                    cands.push((e.row, x, strata, e.k));
                }
            }
        }
        self.stats.events_replayed = u64::from(end);
        drop(sends);
        // (the keys kept beside the rows: the rows are read only for the edges, in order)
        let order = walk_order(cands.iter().map(|c| unkey(if fwd { c.3 } else { !c.3 })), cands.len(), fwd);
        // the edges' rows in order, their ends and transactions (the edges are made while
        // their hashes are read: `PoisonEdges::make`)
        let mut rows = Vec::with_capacity(cands.len());
        let mut ends: Vec<(u32, u32)> = Vec::with_capacity(cands.len());
        let mut edge_txs: Vec<u32> = Vec::with_capacity(cands.len());
        for (j, &i) in order.iter().enumerate() {
            // the rows are far apart: fetched ahead of their turn (a miss each otherwise)
            if let Some(&a) = order.get(j + 16) {
                prefetch(&cands[a as usize]);
            }
            if let Some(&a) = order.get(j + 8) {
                prefetch(cands[a as usize].0);
            }
            let (r, from, strata, _) = cands[i as usize];
            rows.push((r, strata));
            edge_txs.push(r.tx);
            ends.push(if fwd { (from, r.other) } else { (r.other, from) });
        }
        let mut floor = vec![U256::ZERO; assets.len()];
        for (i, f) in floor.iter_mut().enumerate() {
            if used[i] {
                *f = min_raw(self, i as u32)?;
            }
        }
        for (i, info) in infos.into_iter().enumerate() {
            if !used[i] {
                continue;
            }
            let a = assets[i];
            match info {
                Some(info) => {
                    self.assets.entry((0, a)).or_insert(info);
                }
                None => {
                    self.asset(0, a)?;
                }
            }
        }
        Ok((Edges::Poison(PoisonEdges { rows, floor }), ends, edge_txs))
    }

    /// The result's nodes from the dense walk's classes and ids (what `Walker::nodes` finds by
    /// address), and each name's exchange for the deposits (`d.ends` are indices into
    /// `d.names`).
    fn nodes_dense(
        &mut self,
        edges: &[TracedEdge],
        d: &mut Nodes<'_, S::Error>,
        addrs: impl FnOnce() -> Result<Vec<Address>, TraceError>,
    ) -> Result<NodesFound, TraceError> {
        let n = self.opts.hops;
        let Nodes { view, class, labelled, names, ends } = d;
        let (view, class, labelled, ends) = (*view, *class, *labelled, &*ends);
        // per name: fewest hops, whether a followed edge arrived, the earliest such arrival
        // (oriented); `u32::MAX` hops: not a receiver
        let mut hop: Vec<(u32, bool, Key)> = vec![(u32::MAX, false, KEY_MAX); names.ids.len()];
        // per name, whether it is a seed's (looked up in id order, not once per edge)
        let seed: Vec<bool> = names.ids.iter().map(|&id| class.get(id as usize) == Some(&SEED)).collect();
        // per name, whether a bridge deposit whose release this walk does not cover ends there
        // (a `bridge` stop, whatever else it is)
        let mut bridge: Vec<bool> = Vec::new();
        for (e, &(f, t)) in edges.iter().zip(ends) {
            let to = if self.fwd { t } else { f };
            if seed[to as usize] {
                continue;
            }
            if matches!(e.kind, EdgeKind::Bridge { to_chain: None, .. }) {
                bridge.resize(names.ids.len(), false);
                bridge[to as usize] = true;
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
                _ if bridge.get(i as usize) == Some(&true) => (Role::Bridge, Some("bridge")),
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
        let mut exchange: Vec<u32> = vec![NO_EXCHANGE; names.ids.len()];
        let mut exchanges: Vec<(Category, String)> = Vec::new();
        for &(i, labels) in &recv {
            if bridge.get(i as usize) == Some(&true) {
                continue;
            }
            if let Some(x) = labels.and_then(|l| exchange_of(l)) {
                exchange[i as usize] = exchanges.len() as u32;
                exchanges.push(x);
            }
        }
        // (the addresses, read on another thread meanwhile)
        names.addrs = addrs()?;
        let names = &*names;
        // the nodes, built in address order in one go (inserting tens of thousands of addresses
        // one by one into a B-tree costs more than the walk's discovery): the receivers sorted
        // by 64-bit keys (`address_order`, whole addresses compared only where keys tie), merged
        // with the seeds (in order already)
        let by_address = address_order(recv.len(), |j| &names.addrs[recv[j].0 as usize]);
        let mut seeds = self.seeds.iter().peekable();
        let seed_node = |s: &Node| {
            let labels = self.labels.get(s).cloned().unwrap_or_default();
            (s.clone(), TracedNode { hop: 0, role: Role::Seed, stop_reason: None, labels })
        };
        let mut v: Vec<(Node, TracedNode)> = Vec::with_capacity(self.seeds.len() + recv.len());
        for (x, &j) in by_address.iter().enumerate() {
            // the receivers' parts are far apart: fetched ahead of their turn
            if let Some(&a) = by_address.get(x + 8) {
                let i = recv[a as usize].0 as usize;
                prefetch(&roles[a as usize]);
                prefetch(&hop[i]);
                prefetch(&names.addrs[i]);
            }
            let (i, labels) = recv[j as usize];
            let addr = &names.addrs[i as usize];
            while let Some(s) = seeds.next_if(|s| (s.0, &s.1) <= (0, addr)) {
                v.push(seed_node(s));
            }
            let (role, reason) = roles[j as usize];
            let labels = labels.cloned().unwrap_or_default();
            let traced = TracedNode { hop: hop[i as usize].0, role, stop_reason: reason, labels };
            v.push(((0, addr.clone()), traced));
        }
        v.extend(seeds.map(seed_node));
        let nodes: BTreeMap<Node, TracedNode> = v.into_iter().collect();
        Ok((nodes, exchange, exchanges))
    }

    /// `--asset`, `--since` and `--until` let the row through (the walk over addresses'
    /// `allowed`, on a row).
    fn row_allowed(&self, w: &DenseWalk<'_, S::Error>, r: &Row) -> bool {
        w.asset_allowed(r) && self.in_bounds(r.height, r.time)
    }

    /// The edge parcel `p` makes leaving in `e` (its ends in the walk's direction), after the
    /// hop limit: pushed onto `out` when it carries traced funds (the hash and the addresses are
    /// filled in later, all edges' at once). The parcel the receiver takes when the edge is
    /// followed (at least `--min-amount`), else `None`.
    fn edge_of(
        &mut self,
        p: Parcel,
        e: &EvRow,
        min_raw: &mut [Option<U256>],
        assets: &[Asset],
        out: &mut EdgeRows,
    ) -> Result<Option<Parcel>, TraceError> {
        let p = p.advance(self.opts.hops);
        let r = &e.row;
        let (traced, strata) = (p.traced(r.amount), p.mask());
        if traced.is_zero() || strata == 0 {
            return Ok(None);
        }
        let followed = traced >= self.min_raw_in(min_raw, assets, r.asset)?;
        let transfer = unnamed_transfer(r, assets[r.asset as usize]);
        out.0.push(TracedEdge::new(transfer, 0, EdgeKind::Transfer, traced, strata, followed));
        out.1.push(if self.fwd { (e.from, e.to) } else { (e.to, e.from) });
        out.2.push(r.tx);
        Ok(followed.then_some(p))
    }

    /// `--min-amount` in base units of the view's asset `i` (and the asset's display facts, as
    /// the walk over addresses records them when it first meets the asset).
    fn dense_min_raw(&mut self, w: &mut DenseWalk<'_, S::Error>, i: u32) -> Result<U256, TraceError> {
        self.min_raw_in(&mut w.min_raw, w.view.assets(), i)
    }

    /// [`Walker::dense_min_raw`] with the walk's found minima `known` (per asset index) and the
    /// view's `assets`.
    fn min_raw_in(&mut self, known: &mut [Option<U256>], assets: &[Asset], i: u32) -> Result<U256, TraceError> {
        if let Some(m) = known.get(i as usize).copied().flatten() {
            return Ok(m);
        }
        let asset = *assets.get(i as usize).ok_or_else(|| TraceError::Source(format!("asset index {i}").into()))?;
        let m = self.asset(0, asset)?.min_raw;
        known[i as usize] = Some(m);
        Ok(m)
    }

    /// FIFO's replay (see the module docs): the transfers in the walk's order from a queue that
    /// starts with the seeds' sends. A tracked id's lists are read when traced funds first
    /// reach one of its holdings (the id is opened then): its transfers before that key are
    /// folded into opening balances and its later ones queued. Until then the id holds nothing
    /// traced and sends nothing traced, so its transfers matter only to the opened ids they
    /// reach, which read them from their own lists. A transfer is replayed once: its key
    /// identifies it, and the copies from both ends' lists leave the queue together.
    ///
    /// `None` once the opened ids' lists hold more than an eighth of the transfers the
    /// discovery counted ([`DenseWalk::listed`]): traced funds reach many of the holdings (as
    /// on a graph whose hubs mix them), and [`Walker::replay_reading_all`] is faster.
    fn replay_opening(
        &mut self,
        w: &DenseWalk<'_, S::Error>,
        min_raw: &mut [Option<U256>],
        t: &Tracked<'_>,
    ) -> Result<Option<EdgeRows>, TraceError> {
        let (held, asset_of, info) = (&t.held, &t.asset_of, &t.info);
        let (policy, n, fwd) = (self.opts.policy, self.opts.hops, self.fwd);
        let view = w.view;
        // opening many holdings one after another costs more than reading every list on both
        // cores and sorting once: the replay that does is left to run then (below 32k
        // transfers counted either is quick, and this one runs to its end)
        let budget = if w.listed < 1 << 15 { u64::MAX } else { w.listed / 8 };
        let mut read = 0u64;
        let assets = view.assets();
        let mut states: Vec<State> = asset_of.iter().map(|_| State::new(policy, n)).collect();
        // per state: its id's index in `held`
        let mut id_at = vec![0u32; asset_of.len()];
        for (j, &(_, lo, hi)) in held.iter().enumerate() {
            id_at[lo as usize..hi as usize].fill(j as u32);
        }
        // per state: the key from which its transfers are replayed (`KEY_MAX`: its id is not
        // opened), and whether traced funds ever arrived (until then it holds nothing traced)
        let mut from_key = vec![KEY_MAX; asset_of.len()];
        let mut reached = vec![false; asset_of.len()];
        // the queued transfers (each with its ends in the walk's direction), and the queue of
        // their keys
        let mut rows: Vec<EvRow> = Vec::new();
        let mut queue: BinaryHeap<Reverse<(Key, u32)>> = BinaryHeap::new();
        let push = |queue: &mut BinaryHeap<_>, rows: &mut Vec<EvRow>, r: &Row, from: u32, to: u32| {
            queue.push(Reverse((orient(fwd, r), rows.len() as u32)));
            rows.push(EvRow { row: *r, from, to });
        };
        // (in any order: the queue orders them)
        for &s in &w.seeds {
            if let Some((_, l)) = w.outs(s) {
                for r in l {
                    push(&mut queue, &mut rows, r, s, r.other);
                }
            }
        }
        let mut out: EdgeRows = (Vec::new(), Vec::new(), Vec::new());
        let (mut outs, mut ins) = (Vec::new(), Vec::new());
        let mut last = None;
        while let Some(Reverse((k, i))) = queue.pop() {
            if last == Some(k) {
                continue;
            }
            last = Some(k);
            self.stats.events_replayed += 1;
            let EvRow { row: r, from, to } = rows[i as usize];
            let parcel = match t.slot(from, r.asset) {
                SEED_SLOT => self.row_allowed(w, &r).then(|| Parcel::seed(policy, r.amount)),
                NO_SLOT => None,
                s if from_key[s as usize] <= k => {
                    let st = &mut states[s as usize];
                    if reached[s as usize] {
                        let p = st.send(r.amount);
                        self.row_allowed(w, &r).then_some(p)
                    } else {
                        // most sends of a replay: nothing traced ever arrived, none leaves
                        st.send_untraced(r.amount);
                        None
                    }
                }
                // (an id not opened yet: folded into its opening balance if it is)
                _ => None,
            };
            let carried = match parcel {
                Some(p) => self.edge_of(p, &EvRow { row: r, from, to }, min_raw, assets, &mut out)?,
                None => None,
            };
            let ts = match t.slot(to, r.asset) {
                NO_SLOT | SEED_SLOT => continue,
                s if k < info[s as usize] => continue,
                s if from_key[s as usize] <= k => s,
                s if carried.is_some() => {
                    // traced funds reach an id not opened yet: its lists read now
                    let (id, lo, hi) = held[id_at[s as usize] as usize];
                    outs.clear();
                    ins.clear();
                    sends_and_receipts(view, fwd, id, &mut outs, &mut ins).map_err(src_err)?;
                    self.stats.transfers_read += (outs.len() + ins.len()) as u64;
                    read += (outs.len() + ins.len()) as u64;
                    if read > budget {
                        return Ok(None);
                    }
                    self.stats.batches += 1;
                    for t in lo..hi {
                        let at = k.max(info[t as usize]);
                        from_key[t as usize] = at;
                        let balance = opening_balance(&outs, &ins, asset_of[t as usize], at, fwd);
                        if !balance.is_zero() {
                            states[t as usize].receive(balance, None);
                        }
                    }
                    let mine = |a: u32| (lo..hi).any(|t| asset_of[t as usize] == a);
                    for r in outs.iter().filter(|r| orient(fwd, r) > k && mine(r.asset)) {
                        push(&mut queue, &mut rows, r, id, r.other);
                    }
                    for r in ins.iter().filter(|r| orient(fwd, r) > k && mine(r.asset)) {
                        push(&mut queue, &mut rows, r, r.other, id);
                    }
                    s
                }
                _ => continue,
            };
            reached[ts as usize] |= carried.is_some();
            states[ts as usize].receive(r.amount, carried.as_ref());
        }
        self.stats.opening_replay = true;
        Ok(Some(out))
    }
}

/// Both lists of `id` in one read, into `sends` and `receipts` as the walk's direction (`fwd`)
/// sees them.
fn sends_and_receipts<E: std::error::Error + Send + Sync + 'static>(
    view: &dyn DenseView<Error = E>,
    fwd: bool,
    id: u32,
    sends: &mut Vec<Row>,
    receipts: &mut Vec<Row>,
) -> Result<(), E> {
    if fwd {
        view.rows_both(id, sends, receipts)
    } else {
        view.rows_both(id, receipts, sends)
    }
}

/// What a holding of `asset` holds when traced funds can first arrive at `start` (in the walk's
/// order): its sends and receipts (rows of its lists in the walk's out and in directions, chain
/// order) before `start`, in the walk's order, all untraced (what [`State::send_untraced`] and
/// an untraced [`State::receive`] leave: a send of more than the balance empties it). A send
/// comes before a receipt with the same key (a transfer to itself).
fn opening_balance(sends: &[Row], receipts: &[Row], asset: u32, start: Key, fwd: bool) -> U256 {
    fn merge<'r>(
        sends: impl Iterator<Item = &'r Row>,
        receipts: impl Iterator<Item = &'r Row>,
        key: impl Fn(&Row) -> Key,
    ) -> U256 {
        let (mut sends, mut receipts) = (sends.peekable(), receipts.peekable());
        let mut balance = U256::ZERO;
        loop {
            let send = match (sends.peek(), receipts.peek()) {
                (None, None) => return balance,
                (Some(s), Some(r)) => key(s) <= key(r),
                (s, _) => s.is_some(),
            };
            if send {
                if let Some(s) = sends.next() {
                    balance = balance.saturating_sub(s.amount);
                }
            } else if let Some(r) = receipts.next() {
                balance += r.amount;
            }
        }
    }
    let key = |r: &Row| orient(fwd, r);
    let before = |r: &&Row| key(r) < start;
    let mine = |r: &&Row| r.asset == asset;
    if fwd {
        merge(sends.iter().take_while(before).filter(mine), receipts.iter().take_while(before).filter(mine), key)
    } else {
        merge(
            sends.iter().rev().take_while(before).filter(mine),
            receipts.iter().rev().take_while(before).filter(mine),
            key,
        )
    }
}

/// A conversion or bridge deposit.
#[derive(Clone, Copy)]
enum Flow<'f> {
    Conv(&'f DenseConv),
    Deposit(&'f DenseDeposit),
}

/// A conversion or bridge deposit as the replay meets it: its owner, and the state slots of the
/// holding it gives from (`SEED_SLOT` for a seed, `NO_SLOT` when untracked or folded into an
/// opening balance) and the one a conversion gives to (`NO_SLOT` likewise, for a seed, and for a
/// deposit).
struct FlowEvent<'f> {
    key: Key,
    owner: u32,
    fs: u32,
    ts: u32,
    flow: Flow<'f>,
}

/// The conversions and bridge deposits of the seeds and the tracked ids in chain order, each
/// with its state slots (what the replay does not fold into an opening balance); of those at
/// one key, the first (chain-order keys are their first legs': one each).
fn flow_events<'f>(f: &'f DenseFlows, seed_ids: &[u32], t: &Tracked<'_>) -> Vec<FlowEvent<'f>> {
    let mut evs = Vec::new();
    for &s in seed_ids {
        let (fs, ts) = (SEED_SLOT, NO_SLOT);
        evs.extend(f.convs_of(s).iter().map(|c| FlowEvent { key: c.key, owner: s, fs, ts, flow: Flow::Conv(c) }));
        evs.extend(f.deps_of(s).iter().map(|d| FlowEvent { key: d.key, owner: s, fs, ts, flow: Flow::Deposit(d) }));
    }
    for &(x, lo, hi) in &t.held {
        // (a state's slot when the flow is not folded into its opening balance)
        let from =
            |asset: u32, k: Key| t.state_in(lo, hi, asset).filter(|&s| k >= t.info[s as usize]).unwrap_or(NO_SLOT);
        for c in f.convs_of(x) {
            let fs = from(c.asset_in, c.key);
            let ts = t.state_in(lo, hi, c.asset_out).map_or(NO_SLOT, |s| t.receiver(s, c.key));
            if fs != NO_SLOT || ts != NO_SLOT {
                evs.push(FlowEvent { key: c.key, owner: x, fs, ts, flow: Flow::Conv(c) });
            }
        }
        for d in f.deps_of(x) {
            let fs = from(d.asset, d.key);
            if fs != NO_SLOT {
                evs.push(FlowEvent { key: d.key, owner: x, fs, ts: NO_SLOT, flow: Flow::Deposit(d) });
            }
        }
    }
    evs.sort_by_key(|e| e.key);
    evs.dedup_by_key(|e| e.key);
    evs
}

/// [`opening_balance`] (forward) of holding `(id, asset)` where `id` converts or deposits into a
/// bridge: its own legs left out (its conversions and deposits move its funds) and each of them
/// before `start` counted, after the transfers at its key, what it gave before what it got.
fn opening_converting(sends: &[Row], receipts: &[Row], asset: u32, start: Key, id: u32, f: &DenseFlows) -> U256 {
    // (key, order at the key, amount, whether it leaves)
    let mut moves: Vec<(Key, u8, U256, bool)> = Vec::new();
    let before = |r: &&Row| r.asset == asset && row_key(r) < start;
    moves.extend(sends.iter().filter(before).filter(|r| !f.out_leg(id, r)).map(|r| (row_key(r), 0, r.amount, true)));
    moves.extend(receipts.iter().filter(before).filter(|r| !f.in_leg(id, r)).map(|r| (row_key(r), 1, r.amount, false)));
    for c in f.convs_of(id).iter().filter(|c| c.key < start) {
        if c.asset_in == asset {
            moves.push((c.key, 2, c.conv.amount_in, true));
        }
        if c.asset_out == asset {
            moves.push((c.key, 3, c.conv.amount_out, false));
        }
    }
    for d in f.deps_of(id).iter().filter(|d| d.key < start && d.asset == asset) {
        moves.push((d.key, 2, d.deposit.amount, true));
    }
    moves.sort_by_key(|&(k, o, _, _)| (k, o));
    moves
        .into_iter()
        .fold(U256::ZERO, |b, (_, _, amount, leaves)| if leaves { b.saturating_sub(amount) } else { b + amount })
}

/// The transfer of an edge's row, its transaction hash and addresses placeholders until all
/// edges' are read at once.
fn unnamed_transfer(r: &Row, asset: Asset) -> Transfer {
    Transfer {
        tx: Hash32::ZERO,
        height: r.height,
        pos: Position { tx_index: r.tx_index, sub: r.sub },
        time: r.time,
        from: Address::Coinbase,
        to: Address::Coinbase,
        asset,
        amount: r.amount,
    }
}

/// Items (lists, holdings) below which a second thread is not started: a few hundred lists take
/// about as long as starting a thread.
const MIN_SPLIT: usize = 512;

/// The length of the chunks [`on_both_cores`] splits `n` items into (all of them in one below
/// [`MIN_SPLIT`] or on one core; at least 1).
fn chunk_len(n: usize) -> usize {
    const CHUNKS: usize = 8;
    if n < MIN_SPLIT || cores() < 2 {
        return n.max(1);
    }
    n.div_ceil(CHUNKS).max(MIN_SPLIT / 2)
}

/// `f` over `items`: on two threads when there are enough items for a thread to pay and a
/// second core to run it, in chunks that either thread takes when it is free (a chunk of hubs'
/// long lists, or a thread that lost its core for a while, no longer keeps the other waiting
/// at the end of a half); the results in `items`' order, a part per chunk.
pub(crate) fn on_both_cores<T: Sync, R: Send, E: Send>(
    items: &[T],
    f: impl Fn(&[T]) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    let chunks: Vec<&[T]> = items.chunks(chunk_len(items.len())).collect();
    if chunks.len() < 2 {
        return Ok(vec![f(items)?]);
    }
    let ((), parts) = shared(&chunks, f, || (), || ());
    parts.into_iter().collect()
}

/// `work` over each of `chunks`, on a second thread once `second_first` is done and on this one
/// once `first` is done: each thread takes the next chunk no thread has taken. `first`'s result,
/// and `work`'s in `chunks`' order.
fn shared<T: Sync, R: Send, M>(
    chunks: &[&[T]],
    work: impl Fn(&[T]) -> R + Sync,
    second_first: impl FnOnce() + Send,
    first: impl FnOnce() -> M,
) -> (M, Vec<R>) {
    let next = AtomicUsize::new(0);
    let work = &work;
    // the chunks not taken yet, done: each with its place (`take` holds only references: the
    // second thread gets a copy, this one keeps its own)
    let take = || {
        let mut got = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(c) = chunks.get(i) else { return got };
            got.push((i, work(c)));
        }
    };
    std::thread::scope(|s| {
        let second = s.spawn(|| {
            second_first();
            take()
        });
        let m = first();
        let mut got = take();
        // a panic on the second thread is the walk's own bug: raise it here
        got.extend(second.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        got.sort_unstable_by_key(|(i, _)| *i);
        (m, got.into_iter().map(|(_, r)| r).collect())
    })
}

/// `f` on this thread while the hashes of transactions `txs` are read on a second one, which
/// runs `early` first and this thread joins once `f` is done ([`shared`]): the walk's last
/// sequential work is hidden behind its reads. `f` gets `early`'s result when it asks (`None`:
/// the second thread stopped). The hashes in `txs`' order, and the time their reads took,
/// summed over the threads (microseconds).
fn beside_hashes<E: std::error::Error + Send + Sync + 'static, A: Send, R>(
    view: &dyn DenseView<Error = E>,
    txs: &[u32],
    early: impl FnOnce() -> A + Send,
    f: impl FnOnce(&mut dyn FnMut() -> Option<A>) -> R,
) -> (Result<Vec<Hash32>, E>, u64, R) {
    // (a view over a file the page cache does not hold asks for all of them now)
    view.hashes_ahead(txs);
    let spent = AtomicU64::new(0);
    let read = |c: &[u32]| {
        let at = std::time::Instant::now();
        let hashes = view.tx_hashes(c);
        spent.fetch_add(at.elapsed().as_micros() as u64, Ordering::Relaxed);
        hashes
    };
    if txs.len() < 2 * HASH_CHUNK || cores() < 2 {
        let mut early = Some(early);
        let r = f(&mut || early.take().map(|e| e()));
        let hashes = on_both_cores(txs, read).map(|parts| parts.concat());
        return (hashes, spent.into_inner(), r);
    }
    let chunks: Vec<&[u32]> = txs.chunks(HASH_CHUNK).collect();
    let (r, parts) = beside(&chunks, read, early, f);
    (parts.into_iter().collect::<Result<Vec<Vec<Hash32>>, E>>().map(|p| p.concat()), spent.into_inner(), r)
}

/// `f` on this thread while `early` runs on a second one ([`shared`]), which then takes
/// `work` over `chunks` with this one once `f` is done. `f` gets `early`'s result when it asks
/// (`None`: the second thread stopped).
fn beside<T: Sync, W: Send, A: Send, R>(
    chunks: &[&[T]],
    work: impl Fn(&[T]) -> W + Sync,
    early: impl FnOnce() -> A + Send,
    f: impl FnOnce(&mut dyn FnMut() -> Option<A>) -> R,
) -> (R, Vec<W>) {
    let (give, got) = std::sync::mpsc::sync_channel(1);
    let early = move || {
        // (`f` may have returned early, an error: then nobody asks)
        let _ = give.send(early());
    };
    shared(chunks, work, early, || f(&mut || got.recv().ok()))
}

/// `f` on this thread while a second one reads the hashes of the transactions `f` hands over:
/// `f` calls its argument with every transaction so far (`NO_TX`: none, skipped), as often as
/// it likes, and once more with `true` when it is done; the new ones go to the reader
/// [`HASH_CHUNK`] at a time. The hashes in the order handed over, or `None` on one core (the
/// caller reads them then).
fn hashes_beside<E: std::error::Error + Send + Sync + 'static, R>(
    view: &dyn DenseView<Error = E>,
    f: impl FnOnce(&mut dyn FnMut(&[u32], bool)) -> R,
) -> (R, Option<HashesRead<E>>) {
    if cores() < 2 {
        return (f(&mut |_, _| {}), None);
    }
    std::thread::scope(|s| {
        let (give, chunks) = std::sync::mpsc::channel::<Vec<u32>>();
        let reader = s.spawn(move || read_hashes(view, chunks));
        // the transactions handed over so far
        let mut sent = 0;
        let r = f(&mut |txs: &[u32], done: bool| {
            if done || txs.len() >= sent + HASH_CHUNK {
                let _ = give.send(txs[sent.min(txs.len())..].iter().copied().filter(|&tx| tx != NO_TX).collect());
                sent = txs.len();
            }
        });
        drop(give);
        // (a panic on the reading thread is the walk's own bug: raised here)
        (r, Some(reader.join().unwrap_or_else(|p| std::panic::resume_unwind(p))))
    })
}

/// What a thread reading hashes beside other work read: the hashes in the order asked, and the
/// time the reads took (microseconds).
type HashesRead<E> = (Result<Vec<Hash32>, E>, u64);

/// The hashes of the transactions of each chunk `chunks` brings, in order, until its sender is
/// dropped (each chunk one [`DenseView::tx_hashes`]: its neighbours read in one go); the first
/// failure ends the reads.
fn read_hashes<E: std::error::Error + Send + Sync + 'static>(
    view: &dyn DenseView<Error = E>,
    chunks: std::sync::mpsc::Receiver<Vec<u32>>,
) -> HashesRead<E> {
    let (mut hashes, mut us) = (Vec::new(), 0u64);
    for c in chunks {
        let at = std::time::Instant::now();
        view.hashes_ahead(&c);
        match view.tx_hashes(&c) {
            Ok(h) => hashes.extend(h),
            Err(e) => return (Err(e), us),
        }
        us += at.elapsed().as_micros() as u64;
    }
    (Ok(hashes), us)
}

/// The cores the process may run on: asked once per process (on Linux the answer reads the
/// cgroup's CPU quota files).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Sorts `events` (event `i` is the `i`th of `batches`' sides) into the walk's order, the first
/// of equal keys only (a stable sort would keep it), and returns the mask that takes an event's
/// index from its `pk`. When the rows' heights, transaction indices and positions span few
/// enough bits, each event's `pk` packs its place (backward: counted down from the maxima) above
/// its index and the 32-byte events are sorted by it; otherwise `(key, index)` pairs are sorted
/// and the events gathered in that order, each `pk` its index.
fn order_events(events: &mut Vec<Ev>, batches: &Batches, fwd: bool) -> u64 {
    if events.is_empty() {
        return 0;
    }
    let keys = batches.sides().map(|s| (s.height, s.tx_index, s.sub));
    if let Some(p) = Packing::of(keys.clone(), events.len(), fwd) {
        for (i, (e, k)) in events.iter_mut().zip(keys).enumerate() {
            e.pk = p.pack(k, i);
        }
        sort_by_pk(events);
        events.dedup_by_key(|e| e.pk >> p.bi);
        return p.mask();
    }
    let mut order: Vec<(Key, u32)> = keys.enumerate().map(|(i, k)| (oriented(fwd, k), i as u32)).collect();
    order.sort_unstable();
    order.dedup_by_key(|(k, _)| *k);
    *events = order.into_iter().map(|(_, i)| Ev { pk: u64::from(i), ..events[i as usize] }).collect();
    u64::MAX
}

/// Events below which [`sort_by_pk`] sorts on one core: a sort of that many takes about a
/// millisecond, many times what starting a thread costs.
const SORT_SPLIT: usize = 16_384;

/// Sorts `events` by their `pk`s (all different: each holds its event's index), many of them
/// in two halves, each on a core of its own (the replay's other work waits for the order),
/// merged into one.
fn sort_by_pk(events: &mut Vec<Ev>) {
    if events.len() < SORT_SPLIT || cores() < 2 {
        events.sort_unstable_by_key(|e| e.pk);
        return;
    }
    let half = events.len() / 2;
    let (a, b) = events.split_at_mut(half);
    std::thread::scope(|s| {
        s.spawn(|| b.sort_unstable_by_key(|e| e.pk));
        a.sort_unstable_by_key(|e| e.pk);
    });
    let (a, b) = events.split_at(half);
    let mut merged = Vec::with_capacity(events.len());
    let (mut i, mut j) = (0, 0);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        if x.pk < y.pk {
            merged.push(*x);
            i += 1;
        } else {
            merged.push(*y);
            j += 1;
        }
    }
    merged.extend_from_slice(&a[i..]);
    merged.extend_from_slice(&b[j..]);
    *events = merged;
}

/// A key `(height, tx_index, sub)` in the walk's order (backward: reversed).
fn oriented(fwd: bool, (h, t, s): (u64, u32, u32)) -> Key {
    let k = key(h, t, s);
    if fwd {
        k
    } else {
        !k
    }
}

/// How a set of keys `(height, tx_index, sub)` packs into one `u64` each, in the walk's order,
/// with the key's index in the set below it: heights as offsets from the lowest (backward: from
/// the highest, and indices and positions from their maxima), each field in as many bits as
/// its largest value needs. [`order_events`] and [`walk_order`] sort these when they fit.
struct Packing {
    lo: u64,
    hi: u64,
    tx_max: u32,
    sub_max: u32,
    /// Bits of the transaction index, the position and the set's index.
    bt: u32,
    bs: u32,
    bi: u32,
    fwd: bool,
}

impl Packing {
    /// The packing of the `n > 0` keys, when they and an index below `n` fit in 64 bits.
    fn of(keys: impl Iterator<Item = (u64, u32, u32)>, n: usize, fwd: bool) -> Option<Packing> {
        let (mut lo, mut hi, mut tx_max, mut sub_max) = (u64::MAX, 0u64, 0u32, 0u32);
        for (h, t, s) in keys {
            (lo, hi, tx_max, sub_max) = (lo.min(h), hi.max(h), tx_max.max(t), sub_max.max(s));
        }
        let bits = |x: u64| 64 - x.leading_zeros();
        let (bt, bs, bi) = (bits(tx_max.into()), bits(sub_max.into()), bits(n as u64));
        (bits(hi - lo) + bt + bs + bi <= 64).then_some(Packing { lo, hi, tx_max, sub_max, bt, bs, bi, fwd })
    }

    /// Key `(h, t, s)` with index `i`, packed.
    fn pack(&self, (h, t, s): (u64, u32, u32), i: usize) -> u64 {
        let (h, t, s) = if self.fwd { (h - self.lo, t, s) } else { (self.hi - h, self.tx_max - t, self.sub_max - s) };
        (((h << self.bt | u64::from(t)) << self.bs | u64::from(s)) << self.bi) | i as u64
    }

    /// The bits of a packed key that hold its index.
    fn mask(&self) -> u64 {
        (1u64 << self.bi) - 1
    }
}

/// The indices of `n` rows with keys `(height, tx_index, sub)`, all different, in the walk's
/// order (backward: reversed): packed into one `u64` each with its index when the keys span
/// few enough bits ([`Packing`]), else sorted as `(key, index)` pairs.
fn walk_order(keys: impl Iterator<Item = (u64, u32, u32)> + Clone, n: usize, fwd: bool) -> Vec<u32> {
    if n == 0 {
        return Vec::new();
    }
    if let Some(p) = Packing::of(keys.clone(), n, fwd) {
        let mut packed: Vec<u64> = keys.enumerate().map(|(i, k)| p.pack(k, i)).collect();
        packed.sort_unstable();
        return packed.into_iter().map(|x| (x & p.mask()) as u32).collect();
    }
    let mut order: Vec<(Key, u32)> = keys.enumerate().map(|(i, k)| (oriented(fwd, k), i as u32)).collect();
    order.sort_unstable();
    order.into_iter().map(|(_, i)| i).collect()
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

    /// The packed sort against a plain stable sort of the keys: same indices, first of equal
    /// keys kept, forward and backward, packed and not.
    fn plain(keys: &[Key]) -> Vec<u32> {
        let mut order: Vec<(Key, u32)> = keys.iter().enumerate().map(|(i, &k)| (k, i as u32)).collect();
        order.sort();
        order.dedup_by_key(|(k, _)| *k);
        order.into_iter().map(|(_, i)| i).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        /// Events sorted by their keys in two halves and merged come out as one sort puts them,
        /// past the size that splits them and below it, keys from a narrow band (long runs of
        /// the same place, told apart by the index below it) or any.
        #[test]
        fn events_sorted_on_two_cores_equal_one_sort(
            places in prop_oneof![
                prop::collection::vec(0u64..8, 0..(3 * SORT_SPLIT)),
                prop::collection::vec(any::<u32>().prop_map(u64::from), SORT_SPLIT..(2 * SORT_SPLIT + 7)),
            ],
        ) {
            // (a place above a 20-bit index, as `Packing` packs them)
            let mut events: Vec<Ev> = places
                .iter()
                .enumerate()
                .map(|(i, &p)| Ev { amount: i as u128, pk: p << 20 | i as u64, fs: 0, ts: 0 })
                .collect();
            let mut want: Vec<(u64, u128)> = events.iter().map(|e| (e.pk, e.amount)).collect();
            want.sort_unstable();
            sort_by_pk(&mut events);
            let got: Vec<(u64, u128)> = events.iter().map(|e| (e.pk, e.amount)).collect();
            prop_assert_eq!(got, want);
        }
    }

    proptest! {
        #[test]
        fn order_events_equals_a_plain_sort(
            raw in prop::collection::vec((0u64..40, 0u32..9, 0u32..3), 0..300),
            wide in any::<bool>(),
            backward in any::<bool>(),
            cut in 0usize..300,
        ) {
            let mut keys = Vec::new();
            let (mut a, mut b) = (Batch::default(), Batch::default());
            for (i, &(h, t, s)) in raw.iter().enumerate() {
                // `wide`: heights far apart (no packing), else a narrow band
                let h = if wide { h.wrapping_mul(u64::MAX / 41) } else { 17_000_000 + h };
                let k = key(h, t, s);
                keys.push(if backward { !k } else { k });
                let row = Row { height: h, time: 0, tx_index: t, sub: s, tx: 0, other: 0, asset: 0, amount: U256::from(i) };
                // two batches: an event's index runs over both
                if i < cut { &mut a } else { &mut b }.push(&row, 0, 0, 0, 0);
            }
            let batches = Batches::new(vec![a, b]);
            let mut events: Vec<Ev> = batches.list.iter().flat_map(|b| b.evs.iter().copied()).collect();
            let mask = order_events(&mut events, &batches, !backward);
            let got: Vec<u32> = events.iter().map(|e| (e.pk & mask) as u32).collect();
            prop_assert_eq!(&got, &plain(&keys));
            // each event kept its own amount (its index here)
            for (e, &i) in events.iter().zip(&got) {
                prop_assert_eq!(e.amount, u128::from(i));
                prop_assert_eq!(batches.row(e, i).row.amount, U256::from(i));
            }
        }
    }

    proptest! {
        #[test]
        fn walk_order_equals_a_plain_sort(
            raw in prop::collection::btree_set((0u64..40, 0u32..9, 0u32..3), 0..300),
            wide in any::<bool>(),
            backward in any::<bool>(),
        ) {
            // distinct keys in a random order
            let mut rows: Vec<(u64, u32, u32)> = raw.into_iter().collect();
            rows.sort_by_key(|&(h, t, s)| (h * 7 + u64::from(t) * 3 + u64::from(s)) % 11);
            let rows: Vec<(u64, u32, u32)> = rows
                .into_iter()
                .map(|(h, t, s)| (if wide { h.wrapping_mul(u64::MAX / 41) } else { 17_000_000 + h }, t, s))
                .collect();
            let keys: Vec<Key> =
                rows.iter().map(|&(h, t, s)| if backward { !key(h, t, s) } else { key(h, t, s) }).collect();
            prop_assert_eq!(walk_order(rows.iter().copied(), rows.len(), !backward), plain(&keys));
        }
    }

    proptest! {
        /// The slot index answers as a table of every id would: the value of each id given,
        /// none for every other id (and past the end).
        #[test]
        fn slot_index_equals_a_table(
            entries in prop::collection::btree_map(0u32..700, 0u32..u32::MAX - 1, 0..200),
            ids in 0usize..700,
        ) {
            let index = SlotIndex::new(ids, entries.iter().map(|(&id, &v)| (id, v)));
            for id in 0..800u32 {
                let want = entries.get(&id).copied().filter(|_| (id as usize) < ids);
                prop_assert_eq!(index.get(id), want, "id {}", id);
            }
            // the ranks of the same ids: each one's index among them, ascending
            let kept: Vec<u32> = entries.keys().copied().filter(|&id| (id as usize) < ids).collect();
            let mut bits = vec![0u64; ids.div_ceil(64)];
            for &id in &kept {
                bits[id as usize / 64] |= 1 << (id % 64);
            }
            let ranks = SlotIndex::<()>::ranks(bits);
            for id in 0..800u32 {
                let want = kept.iter().position(|&k| k == id).map(|r| r as u32);
                prop_assert_eq!(ranks.rank(id), want, "rank of id {}", id);
            }
        }
    }

    /// A chain of `n` transactions, one transfer each, the `i`th's hash `i` in its first bytes.
    fn transactions(n: u64) -> crate::mem::MemGraph {
        let mut g = crate::mem::MemGraph::new("chain");
        for i in 0..n {
            let mut tx = [0u8; 32];
            tx[..8].copy_from_slice(&i.to_be_bytes());
            g.add_transfer(Transfer {
                tx: Hash32(tx),
                height: i,
                pos: Position { tx_index: 0, sub: 0 },
                time: i,
                from: Address::Evm([1; 20]),
                to: Address::Evm([2; 20]),
                asset: Asset::Native,
                amount: U256::from(1u8),
            });
        }
        g
    }

    /// The hashes read beside other work come back whole and in order, however the two
    /// threads split the chunks (past the size that splits them, and below it).
    #[test]
    fn hashes_read_beside_other_work_are_in_order() {
        let g = transactions(20_000);
        let view = g.dense().expect("a dense view");
        for n in [0usize, 100, 8191, 8192, 20_000] {
            // out of order, with repeats: edges name transactions in the walk's order
            let txs: Vec<u32> = (0..n as u32).map(|i| (i.wrapping_mul(7919) % 20_000 + i % 3) % 20_000).collect();
            // `early` runs once, and its result reaches `f` when asked
            let (hashes, _, (early, again, other)) =
                beside_hashes(view, &txs, || 7u8, |early| (early(), early(), (0..1000u64).sum::<u64>()));
            assert_eq!((early, again, other), (Some(7), None, 499_500));
            assert_eq!(hashes.expect("hashes"), view.tx_hashes(&txs).expect("hashes"), "{n} transactions");
        }
    }

    /// The hashes of the transactions handed over beside other work come back whole and in the
    /// order handed over, `NO_TX` skipped, whether the work hands over one at a time or many,
    /// past a chunk or below it, and the work's own result with them.
    #[test]
    fn hashes_handed_over_beside_other_work_come_back_in_order() {
        let g = transactions(20_000);
        let view = g.dense().expect("a dense view");
        for (n, every) in
            [(0usize, 1usize), (100, 1), (HASH_CHUNK, 7), (3 * HASH_CHUNK + 5, 1), (3 * HASH_CHUNK + 5, 1000)]
        {
            // a flow edge's `NO_TX` among them, out of order, with repeats
            let txs: Vec<u32> =
                (0..n as u32).map(|i| if i % 5 == 3 { NO_TX } else { i.wrapping_mul(7919) % 20_000 }).collect();
            let (r, read) = hashes_beside(view, |hand_over| {
                let mut made = Vec::new();
                for (i, &tx) in txs.iter().enumerate() {
                    made.push(tx);
                    if i % every == 0 {
                        hand_over(&made, false);
                    }
                }
                hand_over(&made, true);
                42u8
            });
            assert_eq!(r, 42);
            let want: Vec<u32> = txs.iter().copied().filter(|&tx| tx != NO_TX).collect();
            match read {
                Some((hashes, _)) => assert_eq!(
                    hashes.expect("hashes"),
                    view.tx_hashes(&want).expect("hashes"),
                    "{n} transactions handed over every {every}"
                ),
                None => assert_eq!(cores(), 1, "hashes are read beside on two cores"),
            }
        }
    }

    #[test]
    fn big_amounts_come_back_whole() {
        let mut b = Batch::default();
        let amounts =
            [U256::from(5u8), U256::from(u128::MAX), U256::MAX, U256::from(u128::MAX - 1), U256::from(1u8) << 200];
        for (i, &amount) in amounts.iter().enumerate() {
            let row = Row { height: 1, time: 0, tx_index: i as u32, sub: 0, tx: 0, other: 0, asset: 0, amount };
            b.push(&row, 0, 0, 0, 0);
        }
        let batches = Batches::new(vec![Batch::default(), b]);
        let mut events: Vec<Ev> = batches.list[1].evs.clone();
        let mask = order_events(&mut events, &batches, true);
        for e in &events {
            let i = (e.pk & mask) as u32;
            assert_eq!(batches.amount(e, i), amounts[i as usize]);
        }
    }
}
