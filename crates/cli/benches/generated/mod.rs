//! The generated stores shared by the `trace` and `serve_api` benches: deterministic, built once
//! per size and reused.
//!
//! - **uniform** (the default, [`generate`]): 1M ordinary addresses paying each other at
//!   random, 500 exchange deposit addresses (labelled) that receive 5% of payments and sweep to
//!   10 exchange hot wallets, 20 unlabelled hubs that receive 1% of payments, 80% native coin
//!   and 20% one token, 1,000 transfers per block.
//! - **powerlaw** ([`generate_powerlaw`]): the same address space, but who pays and who is paid
//!   is drawn from a log-uniform (Zipf, exponent 1) rank distribution, so a few addresses carry
//!   much of the traffic; the 10 busiest ranks are labelled exchange hot wallets (exchange hubs)
//!   and 500 labelled deposit addresses sweep to them. Sprinkled in: the DPRK IT-worker
//!   typology (`chaintrace-scenario`'s shape): every 100 blocks a labelled sanctioned payer
//!   pays a fresh worker wallet in the token, the worker peels through a chain of 3–6 fresh
//!   wallets, splits into 2–4 mule wallets that each pay an exchange deposit address.

use std::path::Path;
use std::time::Instant;

use chaintrace_model::{Address, Asset, BlockData, BlockRef, Category, Hash32, Label, Position, Transfer, U256};
use chaintrace_store::Store;
use chaintrace_testkit::rng::Rng;

pub(crate) const CHAIN: &str = "ethereum";
pub(crate) const PER_BLOCK: u64 = 1_000;
pub(crate) const ORDINARY: u64 = 1_000_000;
pub(crate) const DEPOSITS: u64 = 500;
pub(crate) const HOT: u64 = 10;
pub(crate) const HUBS: u64 = 20;
pub(crate) const TOKEN: [u8; 20] = [0x77; 20];

pub(crate) fn addr(kind: u8, i: u64) -> Address {
    let mut b = [0u8; 20];
    b[0] = kind;
    b[12..].copy_from_slice(&i.to_be_bytes());
    Address::Evm(b)
}

pub(crate) fn ordinary(i: u64) -> Address {
    addr(1, i)
}
pub(crate) fn deposit(i: u64) -> Address {
    addr(2, i)
}
pub(crate) fn hot(i: u64) -> Address {
    addr(3, i)
}
pub(crate) fn hub(i: u64) -> Address {
    addr(4, i)
}

pub(crate) fn block_hash(h: u64) -> Hash32 {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&h.to_be_bytes());
    b[8] = 0xbb;
    Hash32(b)
}

/// Ordinary wallets of the uniform graph: 1M up to 10M transfers, then one per 10 transfers, so a
/// larger store grows wider (more wallets, as a chain does) rather than denser, and a trace's
/// reach stays comparable across sizes (the 1M and 10M graphs are unchanged).
pub(crate) fn ordinary_count(total: u64) -> u64 {
    ORDINARY.max(total / 10)
}

pub(crate) fn generate(store: &Store, total: u64) {
    let mut rng = Rng::new(42);
    let wallets = ordinary_count(total);
    let blocks = total.div_ceil(PER_BLOCK);
    let started = Instant::now();
    let mut batch = Vec::new();
    for h in 0..blocks {
        batch.push(uniform_block(&mut rng, h, wallets));
        flush(store, &mut batch, h, blocks, started);
    }
    let mut labels = Vec::new();
    for i in 0..DEPOSITS {
        labels.push(label(deposit(i), Category::ExchangeDeposit, i % HOT));
    }
    for i in 0..HOT {
        labels.push(label(hot(i), Category::Exchange, i));
    }
    store.add_labels(&labels).expect("labels");
}

/// `n` more blocks of the uniform graph of `total` transfers on top of its tip block `tip` (the
/// same wallets and shares, drawn afresh): a store that grew after its snapshot was built.
pub(crate) fn grow(store: &Store, total: u64, tip: u64, n: u64) {
    let mut rng = Rng::new(43 + tip);
    let wallets = ordinary_count(total);
    let blocks: Vec<BlockData> = (tip + 1..=tip + n).map(|h| uniform_block(&mut rng, h, wallets)).collect();
    for chunk in blocks.chunks(100) {
        store.apply_blocks(CHAIN, chunk).expect("apply grown blocks");
    }
}

/// Block `h` of the uniform graph over `wallets` ordinary wallets.
fn uniform_block(rng: &mut Rng, h: u64, wallets: u64) -> BlockData {
    let parent = if h == 0 { Hash32::ZERO } else { block_hash(h - 1) };
    let time = 1_600_000_000 + h * 12;
    let mut data = BlockData::new(BlockRef { height: h, hash: block_hash(h), parent, time });
    data.tx_count = PER_BLOCK as u32;
    for i in 0..PER_BLOCK {
        let (from, to) = uniform_ends(rng, |rng| ordinary(rng.below(wallets)));
        let asset = if rng.below(5) == 0 { Asset::Token(TOKEN) } else { Asset::Native };
        let amount = U256::from(1 + rng.below(1_000_000_000_000));
        data.transfers.push(one_transfer(h, i, time, from, to, asset, amount));
    }
    data
}

/// The sender and receiver of a uniform-graph payment, ordinary wallets drawn by `wallet`: 2%
/// deposit-address sweeps to hot wallets, 5% payments to deposit addresses, 1% to hubs.
pub(crate) fn uniform_ends(rng: &mut Rng, mut wallet: impl FnMut(&mut Rng) -> Address) -> (Address, Address) {
    let r = rng.below(100);
    let from = if r < 2 { deposit(rng.below(DEPOSITS)) } else { wallet(rng) };
    let to = if r < 2 {
        hot(rng.below(HOT))
    } else if r < 7 {
        deposit(rng.below(DEPOSITS))
    } else if r < 8 {
        hub(rng.below(HUBS))
    } else {
        wallet(rng)
    };
    (from, to)
}

/// Address kind of the typology's wallets (workers, peel chains, mules) and its payers.
pub(crate) const TYPOLOGY: u8 = 5;
pub(crate) const PAYER: u8 = 6;

/// A rank in `0..n` with density ∝ 1/(rank+1) (log-uniform).
fn zipf(rng: &mut Rng, n: u64) -> u64 {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (((n + 1) as f64).powf(u) as u64).saturating_sub(1).min(n - 1)
}

/// The power-law graph with exchange hubs and the DPRK typology (module docs).
pub(crate) fn generate_powerlaw(store: &Store, total: u64) {
    let mut rng = Rng::new(4242);
    let blocks = total.div_ceil(PER_BLOCK);
    let started = Instant::now();
    let mut batch = Vec::new();
    let mut fresh = 0u64;
    let mut payers = Vec::new();
    for h in 0..blocks {
        let parent = if h == 0 { Hash32::ZERO } else { block_hash(h - 1) };
        let time = 1_600_000_000 + h * 12;
        let mut data = BlockData::new(BlockRef { height: h, hash: block_hash(h), parent, time });
        data.tx_count = PER_BLOCK as u32;
        // the typology's transfers of this block go first, then ordinary traffic fills it
        let mut typology: Vec<(Address, Address, Asset)> = Vec::new();
        if h % 100 == 0 {
            let payer = addr(PAYER, h / 100);
            payers.push(payer.clone());
            let mut cur = addr(TYPOLOGY, fresh);
            fresh += 1;
            typology.push((payer, cur.clone(), Asset::Token(TOKEN)));
            for _ in 0..rng.range(3, 7) {
                let next = addr(TYPOLOGY, fresh);
                fresh += 1;
                typology.push((cur, next.clone(), Asset::Token(TOKEN)));
                cur = next;
            }
            for _ in 0..rng.range(2, 5) {
                let mule = addr(TYPOLOGY, fresh);
                fresh += 1;
                typology.push((cur.clone(), mule.clone(), Asset::Token(TOKEN)));
                typology.push((mule, deposit(rng.below(DEPOSITS)), Asset::Token(TOKEN)));
            }
        }
        for i in 0..PER_BLOCK {
            let (from, to, asset) = match typology.get(i as usize) {
                Some(t) => t.clone(),
                None => {
                    let r = rng.below(100);
                    let from = if r < 2 { deposit(rng.below(DEPOSITS)) } else { ordinary(zipf(&mut rng, ORDINARY)) };
                    let to = if r < 2 {
                        ordinary(zipf(&mut rng, HOT))
                    } else if r < 7 {
                        deposit(rng.below(DEPOSITS))
                    } else {
                        ordinary(zipf(&mut rng, ORDINARY))
                    };
                    (from, to, if rng.below(5) == 0 { Asset::Token(TOKEN) } else { Asset::Native })
                }
            };
            let amount = U256::from(1 + rng.below(1_000_000_000_000));
            data.transfers.push(one_transfer(h, i, time, from, to, asset, amount));
        }
        batch.push(data);
        flush(store, &mut batch, h, blocks, started);
    }
    let mut labels = Vec::new();
    for i in 0..DEPOSITS {
        labels.push(label(deposit(i), Category::ExchangeDeposit, i % HOT));
    }
    // the busiest ranks are the exchanges' hot wallets
    for i in 0..HOT {
        labels.push(label(ordinary(i), Category::Exchange, i));
    }
    for p in payers {
        let mut l = label(p, Category::Sanctioned, 0);
        l.entity = "DPRK IT workers".into();
        labels.push(l);
    }
    store.add_labels(&labels).expect("labels");
}

/// Which generated graph a bench runs on (`CHAINTRACE_BENCH_GRAPH`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Graph {
    Uniform,
    PowerLaw,
}

impl Graph {
    pub(crate) fn from_env() -> Graph {
        match std::env::var("CHAINTRACE_BENCH_GRAPH").as_deref() {
            Ok("powerlaw") => Graph::PowerLaw,
            Ok("uniform") | Err(_) => Graph::Uniform,
            Ok(other) => panic!("CHAINTRACE_BENCH_GRAPH={other}: expected uniform or powerlaw"),
        }
    }

    /// The default directory of the generated store.
    pub(crate) fn default_dir(self, total: u64) -> std::path::PathBuf {
        std::env::temp_dir().join(match self {
            Graph::Uniform => format!("chaintrace-bench-{total}"),
            Graph::PowerLaw => format!("chaintrace-bench-powerlaw-{total}"),
        })
    }
}

pub(crate) fn label(a: Address, category: Category, ex: u64) -> Label {
    Label {
        chain: Some(CHAIN.into()),
        address: a,
        category,
        entity: format!("Exchange{ex}"),
        source: "bench".into(),
        confidence: 90,
        attrs: Default::default(),
    }
}

/// The store of `total` generated transfers in `dir` (generated on the first run, reused after).
pub(crate) fn open_or_generate(dir: &Path, total: u64) -> Store {
    open_or_generate_graph(dir, total, Graph::Uniform)
}

/// The store of `total` transfers of `graph` in `dir` (generated on the first run, reused after).
pub(crate) fn open_or_generate_graph(dir: &Path, total: u64, graph: Graph) -> Store {
    let done = dir.join("GENERATED");
    let store = Store::open(&dir.join("store")).expect("open bench store");
    if !done.is_file() {
        eprintln!("generating {total} transfers ({graph:?}) into {} (once)", dir.display());
        match graph {
            Graph::Uniform => generate(&store, total),
            Graph::PowerLaw => generate_powerlaw(&store, total),
        }
        std::fs::write(&done, total.to_string()).expect("marker");
    }
    store
}

pub(crate) trait ScanFirst {
    fn scan_first(&self, chain: &str, height: u64) -> Option<Address>;
}

impl ScanFirst for Store {
    /// The sender of the first ordinary-address transfer at `height`.
    fn scan_first(&self, chain: &str, height: u64) -> Option<Address> {
        let mut found = None;
        self.scan_transfers(chain, height, height, |t| {
            if matches!(&t.from, Address::Evm(b) if b[0] == 1) {
                found = Some(t.from);
                return false;
            }
            true
        })
        .ok()?;
        found
    }
}

/// A store directory's size on disk (every file under it).
pub(crate) fn dir_bytes(p: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else { return 0 };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// `runs` sets of 100 seeds active in the first half of `chain` (senders of random early
/// transfers), the same sets on every run.
pub(crate) fn seed_sets(store: &Store, chain: &str, runs: usize, tip: u64) -> Vec<Vec<Address>> {
    let mut rng = Rng::new(7);
    (0..runs)
        .map(|_| {
            let mut seeds = Vec::new();
            while seeds.len() < 100 {
                let h = rng.below(tip / 2 + 1);
                let t = store.scan_first(chain, h).unwrap_or_else(|| ordinary(rng.below(ORDINARY)));
                if !seeds.contains(&t) {
                    seeds.push(t);
                }
            }
            seeds
        })
        .collect()
}

/// Transfer `i` of generated block `h` (its tx hash spells the height and the index).
fn one_transfer(h: u64, i: u64, time: u64, from: Address, to: Address, asset: Asset, amount: U256) -> Transfer {
    let mut tx = [0u8; 32];
    tx[..8].copy_from_slice(&h.to_be_bytes());
    tx[8..16].copy_from_slice(&i.to_be_bytes());
    Transfer { tx: Hash32(tx), height: h, pos: Position { tx_index: i as u32, sub: 0 }, time, from, to, asset, amount }
}

/// Store the pending blocks every 100 and at the last one, with progress on stderr.
fn flush(store: &Store, batch: &mut Vec<BlockData>, h: u64, blocks: u64, started: Instant) {
    if batch.len() == 100 || h + 1 == blocks {
        store.apply_blocks(CHAIN, batch).expect("apply generated blocks");
        batch.clear();
        eprintln!("  generated {} / {} blocks ({:.0?})", h + 1, blocks, started.elapsed());
    }
}
