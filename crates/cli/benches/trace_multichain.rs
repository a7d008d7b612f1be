//! Benchmark (not a test): a 6-hop haircut trace from 100 seeds over a generated two-chain store
//! (`ethereum` and `arbitrum`) of 10 million transfers in all, 5% of its transactions swaps and
//! 1% bridge crossings (conversion and bridge rows written into the store as ingest writes them),
//! next to the same trace over the single-chain store of the same number of transfers (the
//! `trace` bench's uniform graph). Prints both side by side and their ratio (issue 13's goal: the
//! multi-chain trace takes at most 1.2× the single-chain one). Both of those are walked over
//! addresses (the timing wrapper that splits transfer reads from swap and bridge row reads offers
//! no dense view), so the bench also traces the single chain as `chaintrace trace` does, over
//! the snapshot's ids, checks that it reaches the same nodes, edges and deposits, and prints the
//! ratio against that too: the walk over ids covers one chain. Last, it traces ethereum of the
//! two-chain store alone (its swaps and bridge deposits followed, their releases on arbitrum not
//! walked) over addresses and over ids, checks that both give the same traces, and prints both
//! with the walks' own count of their swap and bridge row reads.
//!
//! ```text
//! cargo bench -p chaintrace-cli --bench trace_multichain
//! CHAINTRACE_BENCH_TRANSFERS=1000000 CHAINTRACE_BENCH_RUNS=10 cargo bench -p chaintrace-cli --bench trace_multichain
//! ```
//!
//! The two-chain graph: per chain, half the transfers, 1,000 per block and the same block times
//! on both chains; the `trace` bench's uniform traffic among half of its 1M ordinary wallets
//! (ethereum the first 500k, arbitrum the others: each chain as dense as the single chain, in
//! transfers per wallet, so the walks reach alike), 500 labelled exchange deposit addresses on
//! each chain sweeping to 10 hot wallets, 20 unlabelled hubs, 80% native coin and 20% one token
//! per chain. 5% of transactions are swaps of a wallet through one of 20 pools (its token for the
//! coin or back: two transfer legs and a Uniswap V2 conversion row), and 1% are CCTP deposits
//! into the chain's bridge (a token leg and a `DepositForBurn` row with the chain's domain and
//! the next nonce) released on the other chain 1–3 blocks later to a wallet there (a mint leg and
//! a `MessageReceived` row). Both traces read each chain's graph snapshot, as `chaintrace trace`
//! does when it is fresh. Besides the raw ratio the bench prints the time per reached node, the
//! ratio of the work each walk does.
//!
//! Environment: `CHAINTRACE_BENCH_TRANSFERS` (10,000,000), `CHAINTRACE_BENCH_RUNS` (10: seed
//! sets of 100), `CHAINTRACE_BENCH_DIR` (the two-chain store; default a temp dir per size), and
//! `CHAINTRACE_BENCH_SINGLE_DIR` (the single-chain store, default the `trace` bench's).
// A benchmark reports its figures on stdout and its progress on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chaintrace_model::{
    Address, Asset, BlockData, BlockRef, BridgeEvent, BridgeKey, BridgeSide, ChainKind, Conversion, ConversionKind,
    Direction, Hash32, Label, Position, TokenMeta, Transfer, U256,
};
use chaintrace_snapshot::Snapshot;
use chaintrace_store::Store;
use chaintrace_testkit::rng::Rng;
use chaintrace_tracer::{
    trace_chains, BatchRequest, EdgeKind, GraphSource, OwnerFlows, Policy, Trace, TraceOptions, WalkChain,
};

// Not every item of the shared generator is used by each bench.
#[allow(dead_code)]
mod generated;
// Not every shared helper is used by each bench.
#[allow(dead_code)]
mod figures;
use figures::{env_u64, percentile, process_cpu_ns};
use generated::{
    addr, deposit, hot, label, open_or_generate_graph, ordinary, uniform_ends, Graph, DEPOSITS, HOT, ORDINARY,
    PER_BLOCK,
};

#[allow(dead_code, unreachable_pub)]
#[path = "../src/adapters/snapshot.rs"]
mod snapshot;
/// The binary's store adapter, compiled into the bench as it is into the binary.
#[allow(dead_code, unreachable_pub)]
#[path = "../src/adapters/source.rs"]
mod source;
use source::StoreSource;

const HOPS: u32 = 6;
const HUB_DEGREE: u64 = 1000;
/// The two chains, their CCTP domains and their tokens.
const CHAINS: [(&str, u32, [u8; 20]); 2] = [("arbitrum", 3, [0x78; 20]), ("ethereum", 0, [0x77; 20])];
const POOLS: u64 = 20;
/// Each chain's ordinary wallets: half of the single-chain store's 1M (ethereum the first half,
/// arbitrum the second), so each chain has the single chain's density of transfers per wallet.
const HALF: u64 = ORDINARY / 2;
/// Address kinds of the pools and of the bridge contracts.
const POOL: u8 = 7;
const BRIDGE: u8 = 8;

fn block_hash(chain: usize, h: u64) -> Hash32 {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&h.to_be_bytes());
    b[8] = 0xb0 + chain as u8;
    Hash32(b)
}

fn tx_hash(chain: usize, h: u64, i: u64) -> Hash32 {
    let mut tx = [0u8; 32];
    tx[..8].copy_from_slice(&h.to_be_bytes());
    tx[8..16].copy_from_slice(&i.to_be_bytes());
    tx[16] = 0xc0 + chain as u8;
    Hash32(tx)
}

fn word32(a: &Address) -> Vec<u8> {
    let mut w = vec![0u8; 32];
    if let Address::Evm(b) = a {
        w[12..].copy_from_slice(b);
    }
    w
}

/// What one chain's generator holds between blocks.
struct ChainGen {
    name: &'static str,
    domain: u32,
    token: [u8; 20],
    nonce: u64,
    batch: Vec<BlockData>,
    /// Releases due on this chain: (height, key, recipient, amount).
    due: Vec<(u64, BridgeKey, Address, U256)>,
}

#[derive(Default)]
struct Counts {
    transfers: u64,
    swaps: u64,
    deposits: u64,
    releases: u64,
}

/// Generate the two-chain store (module docs) with `total` transfers in all.
fn generate_multichain(store: &Store, total: u64) -> Counts {
    let mut rng = Rng::new(4343);
    let blocks = (total / 2).div_ceil(PER_BLOCK);
    let started = Instant::now();
    let mut gens: Vec<ChainGen> = CHAINS
        .iter()
        .map(|(name, domain, token)| ChainGen {
            name,
            domain: *domain,
            token: *token,
            nonce: 0,
            batch: Vec::new(),
            due: Vec::new(),
        })
        .collect();
    let mut n = Counts::default();
    for h in 0..blocks {
        let time = 1_600_000_000 + h * 12;
        for c in 0..gens.len() {
            let other = 1 - c;
            let parent = if h == 0 { Hash32::ZERO } else { block_hash(c, h - 1) };
            let mut data = BlockData::new(BlockRef { height: h, hash: block_hash(c, h), parent, time });
            let token = Asset::Token(gens[c].token);
            // this chain's half of the wallets
            let wallet = |rng: &mut Rng| ordinary(c as u64 * HALF + rng.below(HALF));
            let wallet_there = |rng: &mut Rng| ordinary(other as u64 * HALF + rng.below(HALF));
            let bridge = addr(BRIDGE, c as u64);
            let mut i = 0u64; // transaction index
            let mut legs = 0u64;
            let push = |data: &mut BlockData, i: u64, sub: u32, from: Address, to: Address, asset: Asset, amount| {
                data.transfers.push(Transfer {
                    tx: tx_hash(c, h, i),
                    height: h,
                    pos: Position { tx_index: i as u32, sub },
                    time,
                    from,
                    to,
                    asset,
                    amount,
                });
            };
            // releases due here first
            let due: Vec<_> = {
                let g = &mut gens[c];
                let (now, later): (Vec<_>, Vec<_>) = g.due.drain(..).partition(|d| d.0 <= h);
                g.due = later;
                now
            };
            for (_, key, recipient, amount) in due {
                push(&mut data, i, 0, bridge.clone(), recipient.clone(), token, amount);
                data.bridge_events.push(BridgeEvent {
                    tx: tx_hash(c, h, i),
                    height: h,
                    pos: Position { tx_index: i as u32, sub: 0 },
                    time,
                    key,
                    asset: token,
                    amount,
                    side: BridgeSide::Release { recipient },
                    contract: bridge.clone(),
                });
                i += 1;
                legs += 1;
                n.releases += 1;
            }
            while legs < PER_BLOCK {
                let r = rng.below(1000);
                let amount = U256::from(1 + rng.below(1_000_000_000_000));
                if r < 50 && legs + 2 <= PER_BLOCK {
                    // a swap: the owner pays the pool one asset and gets the other back
                    let owner = wallet(&mut rng);
                    let pool = addr(POOL, rng.below(POOLS));
                    let (a_in, a_out) = if rng.chance(1, 2) { (token, Asset::Native) } else { (Asset::Native, token) };
                    let out = U256::from(1 + rng.below(1_000_000_000_000));
                    push(&mut data, i, 0, owner.clone(), pool.clone(), a_in, amount);
                    push(&mut data, i, 1, pool.clone(), owner.clone(), a_out, out);
                    data.conversions.push(Conversion {
                        tx: tx_hash(c, h, i),
                        height: h,
                        pos: Position { tx_index: i as u32, sub: 0 },
                        time,
                        owner,
                        asset_in: a_in,
                        amount_in: amount,
                        asset_out: a_out,
                        amount_out: out,
                        venue: Some(pool),
                        kind: ConversionKind::UniswapV2,
                    });
                    legs += 2;
                    n.swaps += 1;
                } else if r < 60 {
                    // a CCTP deposit, released on the other chain 1–3 blocks later
                    let owner = wallet(&mut rng);
                    let recipient = wallet_there(&mut rng);
                    let g = &mut gens[c];
                    let key = BridgeKey::cctp(g.domain, g.nonce);
                    g.nonce += 1;
                    let dest = gens[other].domain;
                    push(&mut data, i, 0, owner.clone(), bridge.clone(), token, amount);
                    data.bridge_events.push(BridgeEvent {
                        tx: tx_hash(c, h, i),
                        height: h,
                        pos: Position { tx_index: i as u32, sub: 0 },
                        time,
                        key: key.clone(),
                        asset: token,
                        amount,
                        side: BridgeSide::Deposit { owner, recipient: word32(&recipient), dest_domain: Some(dest) },
                        contract: bridge.clone(),
                    });
                    gens[other].due.push((h + rng.range(1, 3), key, recipient, amount));
                    legs += 1;
                    n.deposits += 1;
                } else {
                    // the `trace` bench's uniform traffic
                    let (from, to) = uniform_ends(&mut rng, &wallet);
                    let asset = if rng.below(5) == 0 { token } else { Asset::Native };
                    push(&mut data, i, 0, from, to, asset, amount);
                    legs += 1;
                }
                i += 1;
            }
            n.transfers += legs;
            data.tx_count = i as u32;
            let g = &mut gens[c];
            g.batch.push(data);
            if g.batch.len() == 100 || h + 1 == blocks {
                store.apply_blocks(g.name, &g.batch).expect("apply generated blocks");
                g.batch.clear();
            }
        }
        if (h + 1) % 100 == 0 || h + 1 == blocks {
            eprintln!("  generated {} / {} blocks per chain ({:.0?})", h + 1, blocks, started.elapsed());
        }
    }
    let mut labels = Vec::new();
    for (name, _, _) in CHAINS {
        for i in 0..DEPOSITS {
            let mut l = label(deposit(i), chaintrace_model::Category::ExchangeDeposit, i % HOT);
            l.chain = Some(name.into());
            labels.push(l);
        }
        for i in 0..HOT {
            let mut l = label(hot(i), chaintrace_model::Category::Exchange, i);
            l.chain = Some(name.into());
            labels.push(l);
        }
    }
    store.add_labels(&labels).expect("labels");
    n
}

fn open_or_generate_multichain(dir: &Path, total: u64) -> Store {
    let done = dir.join("GENERATED");
    let store = Store::open(&dir.join("store")).expect("open bench store");
    if !done.is_file() {
        eprintln!("generating {total} transfers on two chains into {} (once)", dir.display());
        let n = generate_multichain(&store, total);
        let line = format!(
            "{} transfers, {} swaps, {} bridge deposits, {} releases",
            n.transfers, n.swaps, n.deposits, n.releases
        );
        eprintln!("  {line}");
        std::fs::write(&done, line).expect("marker");
    }
    store
}

/// The chain's fresh snapshot, built when missing or stale.
fn fresh_snapshot(store: &Store, chain: &str) -> Arc<Snapshot> {
    if let snapshot::Status::Fresh(s) = snapshot::status(store, chain).expect("snapshot status") {
        return s;
    }
    let t0 = Instant::now();
    let b = snapshot::build(store, chain).expect("build snapshot").expect("chain");
    eprintln!("snapshot of {chain} built in {:.1} s ({} transfers)", t0.elapsed().as_secs_f64(), b.transfers);
    match snapshot::status(store, chain).expect("status") {
        snapshot::Status::Fresh(s) => s,
        _ => panic!("the snapshot just built is not fresh"),
    }
}

/// A source that times what it is asked: transfers (and degrees) on one side, the v2 flow rows
/// (conversions, bridge deposits and releases) on the other — where the extra time of a
/// multi-chain walk goes.
struct Timed<S> {
    inner: S,
    /// [transfer reads, flow reads] nanoseconds, and the number of flow reads.
    ns: [AtomicU64; 2],
    flow_calls: AtomicU64,
}

impl<S> Timed<S> {
    fn new(inner: S) -> Self {
        Timed { inner, ns: [AtomicU64::new(0), AtomicU64::new(0)], flow_calls: AtomicU64::new(0) }
    }

    fn time<T>(&self, which: usize, f: impl FnOnce() -> T) -> T {
        self.time_calls(which, 1, f)
    }

    /// [`Timed::time`] for a call that stands for `calls` look-ups (counted when they are flow
    /// reads).
    fn time_calls<T>(&self, which: usize, calls: u64, f: impl FnOnce() -> T) -> T {
        let t0 = Instant::now();
        let r = f();
        self.ns[which].fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        if which == 1 {
            self.flow_calls.fetch_add(calls, Ordering::Relaxed);
        }
        r
    }

    /// (transfer-read ms, flow-read ms, flow reads) since the last call.
    fn take(&self) -> (f64, f64, u64) {
        (
            self.ns[0].swap(0, Ordering::Relaxed) as f64 / 1e6,
            self.ns[1].swap(0, Ordering::Relaxed) as f64 / 1e6,
            self.flow_calls.swap(0, Ordering::Relaxed),
        )
    }
}

impl<S: GraphSource> GraphSource for Timed<S> {
    type Error = S::Error;

    fn transfers(
        &self,
        addr: &Address,
        dir: Direction,
        after: Option<(u64, Position)>,
        limit: usize,
    ) -> Result<Vec<Transfer>, S::Error> {
        self.time(0, || self.inner.transfers(addr, dir, after, limit))
    }

    fn transfers_batch(&self, reqs: &[BatchRequest], dir: Direction) -> Result<Vec<Vec<Transfer>>, S::Error> {
        self.time(0, || self.inner.transfers_batch(reqs, dir))
    }

    fn labels(&self, addr: &Address) -> Result<Vec<Label>, S::Error> {
        self.inner.labels(addr)
    }

    fn degree(&self, addr: &Address, dir: Direction, cap: u64) -> Result<u64, S::Error> {
        self.time(0, || self.inner.degree(addr, dir, cap))
    }

    fn token_meta(&self, token: &[u8; 20]) -> Result<Option<TokenMeta>, S::Error> {
        self.inner.token_meta(token)
    }

    fn conversions(
        &self,
        addr: &Address,
        after: Option<(u64, Position)>,
        limit: usize,
    ) -> Result<Vec<Conversion>, S::Error> {
        self.time(1, || self.inner.conversions(addr, after, limit))
    }

    fn bridge_deposits(&self, addr: &Address) -> Result<Vec<BridgeEvent>, S::Error> {
        self.time(1, || self.inner.bridge_deposits(addr))
    }

    fn bridge_release(&self, key: &BridgeKey) -> Result<Option<BridgeEvent>, S::Error> {
        self.time(1, || self.inner.bridge_release(key))
    }

    fn flows_batch(&self, addrs: &[Address]) -> Result<Vec<OwnerFlows>, S::Error> {
        // (counted as the two look-ups per address it stands for)
        self.time_calls(1, 2 * addrs.len() as u64, || self.inner.flows_batch(addrs))
    }
}

/// What a source read while it was timed: transfer and degree reads (ms), swap and bridge row
/// reads (ms) and their count, since the last call (zeros for a source that is not timed).
trait Reads {
    fn take(&self) -> (f64, f64, u64);
}

impl<S> Reads for Timed<S> {
    fn take(&self) -> (f64, f64, u64) {
        Timed::take(self)
    }
}

impl Reads for StoreSource<'_> {
    fn take(&self) -> (f64, f64, u64) {
        (0.0, 0.0, 0)
    }
}

/// The bench's trace from `seeds`: haircut, [`HOPS`] hops, hubs over [`HUB_DEGREE`].
fn options(seeds: &[Address]) -> TraceOptions {
    let mut o = TraceOptions::new(seeds.to_vec(), "ETH", 18);
    o.hops = HOPS;
    o.policy = Policy::Haircut;
    o.hub_degree = HUB_DEGREE;
    o
}

/// Latency and CPU time (ms, sorted) of the haircut trace of every seed set over `chains`, and
/// the mean nodes, edges, swap edges, bridge edges and deposits, the reads' means (ms, ms,
/// count: see [`Reads`]), the share of traces that ran over ids, and the walk's own count of its
/// swap and bridge row reads (ms, addresses).
fn measure<S: GraphSource + Reads>(chains: &[WalkChain<S>], seeds: &[Vec<Address>]) -> (Vec<f64>, Vec<f64>, [f64; 11]) {
    let (mut lat, mut cpu) = (Vec::new(), Vec::new());
    let mut sums = [0usize; 8];
    let mut reads = [0f64; 3];
    for c in chains {
        c.source.take();
    }
    for s in seeds {
        let o = options(s);
        let (t0, c0) = (Instant::now(), process_cpu_ns());
        let r: Trace = trace_chains(chains, &o).expect("trace");
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
        cpu.push(process_cpu_ns().saturating_sub(c0) as f64 / 1e6);
        sums[0] += r.nodes.len();
        sums[1] += r.edges.len();
        sums[2] += r.edges.iter().filter(|e| matches!(e.kind, EdgeKind::Swap { .. })).count();
        sums[3] += r.edges.iter().filter(|e| matches!(e.kind, EdgeKind::Bridge { .. })).count();
        sums[4] += r.deposits.len();
        sums[5] += usize::from(r.stats.dense);
        sums[6] += r.stats.flows_us as usize;
        sums[7] += r.stats.flow_reads as usize;
    }
    for c in chains {
        let (t, f, k) = c.source.take();
        reads[0] += t;
        reads[1] += f;
        reads[2] += k as f64;
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    cpu.sort_by(|a, b| a.total_cmp(b));
    let n = seeds.len().max(1) as f64;
    let m = sums.map(|s| s as f64 / n);
    (lat, cpu, [m[0], m[1], m[2], m[3], m[4], reads[0] / n, reads[1] / n, reads[2] / n, m[5], m[6] / 1000.0, m[7]])
}

/// Chain `name` of `store` over its snapshot, walked over addresses (the timing wrapper offers
/// no dense view).
fn walk<'a>(store: &'a Store, name: &str, snap: &'a Snapshot) -> WalkChain<Timed<StoreSource<'a>>> {
    let WalkChain { name, kind, source, native_symbol, native_decimals } = over_ids(store, name, snap);
    WalkChain { name, kind, source: Timed::new(source), native_symbol, native_decimals }
}

/// Chain `name` of `store` as `chaintrace trace` runs it: over the snapshot's dense view (the
/// walk over ids).
fn over_ids<'a>(store: &'a Store, name: &str, snap: &'a Snapshot) -> WalkChain<StoreSource<'a>> {
    WalkChain {
        name: name.to_string(),
        kind: Some(ChainKind::Evm),
        source: StoreSource::new(store, name, false).with_snapshot(Some(snap)),
        native_symbol: "ETH".into(),
        native_decimals: 18,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a list
    }
    let total = env_u64("CHAINTRACE_BENCH_TRANSFERS", 10_000_000);
    let runs = env_u64("CHAINTRACE_BENCH_RUNS", 10).max(1) as usize;

    // the single-chain store: the `trace` bench's uniform graph of the same size
    let single_dir = std::env::var("CHAINTRACE_BENCH_SINGLE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Graph::Uniform.default_dir(total));
    let single = open_or_generate_graph(&single_dir, total, Graph::Uniform);
    let multi_dir = std::env::var("CHAINTRACE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join(format!("chaintrace-bench-multichain-{total}")));
    let multi = open_or_generate_multichain(&multi_dir, total);

    let s_stats = single.stats().expect("stats");
    let m_stats = multi.stats().expect("stats");
    let s_chain = &s_stats.chains["ethereum"];
    println!("single-chain store: ethereum {} transfers, {} addresses", s_chain.transfers, s_chain.addresses);
    let mut m_transfers = 0;
    for (name, _, _) in CHAINS {
        let c = &m_stats.chains[name];
        m_transfers += c.transfers;
        println!("two-chain store: {name} {} transfers, {} addresses", c.transfers, c.addresses);
    }
    println!(
        "two-chain store: {m_transfers} transfers in all ({})",
        std::fs::read_to_string(multi_dir.join("GENERATED")).unwrap_or_default().trim()
    );

    let s_snap = fresh_snapshot(&single, "ethereum");
    let m_snaps: Vec<Arc<Snapshot>> = CHAINS.iter().map(|(name, _, _)| fresh_snapshot(&multi, name)).collect();
    let s_seeds = generated::seed_sets(&single, "ethereum", runs, s_chain.tip_height.unwrap_or(0));
    let m_seeds = generated::seed_sets(&multi, "ethereum", runs, m_stats.chains["ethereum"].tip_height.unwrap_or(0));

    let one = [walk(&single, "ethereum", &s_snap)];
    let two: Vec<WalkChain<Timed<StoreSource<'_>>>> =
        CHAINS.iter().zip(&m_snaps).map(|((name, _, _), snap)| walk(&multi, name, snap)).collect();
    // the single chain as `chaintrace trace` runs it: over the snapshot's dense view (the walk
    // over ids), which the timing wrapper above does not offer
    let dense = [over_ids(&single, "ethereum", &s_snap)];
    // one warm-up trace each (page cache, label index)
    let _ = measure(&one, &s_seeds[..1]);
    let _ = measure(&two, &m_seeds[..1]);
    let _ = measure(&dense, &s_seeds[..1]);
    let (s_lat, s_cpu, s_mean) = measure(&one, &s_seeds);
    let (m_lat, m_cpu, m_mean) = measure(&two, &m_seeds);
    let (d_lat, d_cpu, d_mean) = measure(&dense, &s_seeds);
    assert_eq!(
        (d_mean[0], d_mean[1], d_mean[4]),
        (s_mean[0], s_mean[1], s_mean[4]),
        "the single chain's walks over ids and over addresses reach the same nodes, edges and deposits"
    );

    println!("haircut, {HOPS} hops, 100 seeds, {runs} seed sets, over the snapshots:");
    println!("{:<34} {:>14} {:>14}", "", "single chain", "two chains");
    let row = |what: &str, a: f64, b: f64| println!("{what:<34} {a:>14.1} {b:>14.1}");
    row("wall p50 (ms)", percentile(&s_lat, 0.5), percentile(&m_lat, 0.5));
    row("wall p99 (ms)", percentile(&s_lat, 0.99), percentile(&m_lat, 0.99));
    row("CPU p50 (ms)", percentile(&s_cpu, 0.5), percentile(&m_cpu, 0.5));
    row("mean nodes", s_mean[0], m_mean[0]);
    row("mean traced edges", s_mean[1], m_mean[1]);
    row("  of which swaps", s_mean[2], m_mean[2]);
    row("  of which bridge crossings", s_mean[3], m_mean[3]);
    row("mean deposits", s_mean[4], m_mean[4]);
    row("mean transfer/degree reads (ms)", s_mean[5], m_mean[5]);
    row("mean swap/bridge row reads (ms)", s_mean[6], m_mean[6]);
    row("mean swap/bridge row reads (count)", s_mean[7], m_mean[7]);
    let per_node = |lat: &[f64], nodes: f64| percentile(lat, 0.5) * 1000.0 / nodes.max(1.0);
    row("wall p50 per reached node (µs)", per_node(&s_lat, s_mean[0]), per_node(&m_lat, m_mean[0]));
    let wall = percentile(&m_lat, 0.5) / percentile(&s_lat, 0.5);
    let cpu = percentile(&m_cpu, 0.5) / percentile(&s_cpu, 0.5);
    let node = per_node(&m_lat, m_mean[0]) / per_node(&s_lat, s_mean[0]);
    println!(
        "two chains / single chain, both walked over addresses: {wall:.2}x wall p50, {cpu:.2}x CPU p50, {node:.2}x wall per reached node (goal ≤ 1.2x): {}",
        if wall <= 1.2 { "met" } else { "NOT MET" }
    );
    // what an investigator sees: a single-chain trace without swap or bridge rows runs over ids,
    // one over several chains or through swaps and bridges over addresses
    let (d50, d99) = (percentile(&d_lat, 0.5), percentile(&d_lat, 0.99));
    println!(
        "single chain over ids (as `chaintrace trace` runs it): wall p50 {d50:.1} ms, p99 {d99:.1} ms, CPU p50 {:.1} ms, {} nodes",
        percentile(&d_cpu, 0.5),
        d_mean[0]
    );
    let wall = percentile(&m_lat, 0.5) / d50;
    let node = per_node(&m_lat, m_mean[0]) / per_node(&d_lat, d_mean[0]);
    println!(
        "two chains over addresses / single chain over ids: {wall:.2}x wall p50, {node:.2}x wall per reached node (goal ≤ 1.2x): {}",
        if wall <= 1.2 { "met" } else { "NOT MET: the walk over ids covers one chain" }
    );

    // ethereum of the two-chain store alone, with its swaps and bridge deposits (their releases
    // are on arbitrum, which this walk does not cover): over addresses, and over ids as
    // `chaintrace trace --chain ethereum` runs it
    let eth = CHAINS.iter().position(|(n, _, _)| *n == "ethereum").expect("ethereum is one of the chains");
    let e_addrs = [walk(&multi, "ethereum", &m_snaps[eth])];
    let e_ids = [over_ids(&multi, "ethereum", &m_snaps[eth])];
    // the first seed set's traces, whole: the same edges, nodes and deposits either way
    let a = trace_chains(&e_addrs, &options(&m_seeds[0])).expect("trace over addresses");
    let b = trace_chains(&e_ids, &options(&m_seeds[0])).expect("trace over ids");
    assert!(!a.stats.dense, "the timing wrapper offers no dense view");
    assert!(a.edges == b.edges && a.nodes == b.nodes && a.deposits == b.deposits, "ethereum alone: the walks differ");
    let (ea_lat, ea_cpu, ea_mean) = measure(&e_addrs, &m_seeds);
    let (ei_lat, ei_cpu, ei_mean) = measure(&e_ids, &m_seeds);
    assert_eq!(
        &ea_mean[..5],
        &ei_mean[..5],
        "ethereum alone: the walks over ids and over addresses reach the same nodes, edges, swaps, bridge deposits and deposits"
    );
    println!("ethereum of the two-chain store alone (its swaps and bridge deposits; releases not walked):");
    println!("{:<34} {:>14} {:>14}", "", "over addresses", "over ids");
    row("wall p50 (ms)", percentile(&ea_lat, 0.5), percentile(&ei_lat, 0.5));
    row("wall p99 (ms)", percentile(&ea_lat, 0.99), percentile(&ei_lat, 0.99));
    row("CPU p50 (ms)", percentile(&ea_cpu, 0.5), percentile(&ei_cpu, 0.5));
    row("mean nodes", ea_mean[0], ei_mean[0]);
    row("  swap edges", ea_mean[2], ei_mean[2]);
    row("  bridge deposit edges", ea_mean[3], ei_mean[3]);
    row("traces run over ids (share)", ea_mean[8], ei_mean[8]);
    row("swap/bridge row reads (ms, walk's own)", ea_mean[9], ei_mean[9]);
    row("  for addresses", ea_mean[10], ei_mean[10]);
    println!(
        "ethereum alone over ids: {:.1}x faster than over addresses (wall p50), {:.2}x the single chain over ids per reached node",
        percentile(&ea_lat, 0.5) / percentile(&ei_lat, 0.5),
        per_node(&ei_lat, ei_mean[0]) / per_node(&d_lat, d_mean[0])
    );
}
