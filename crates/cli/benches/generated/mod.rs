//! The generated store shared by the `trace` and `serve_api` benches: deterministic, built once
//! per size and reused. The graph: 1M ordinary addresses paying each other at random, 500
//! exchange deposit addresses (labelled) that receive 5% of payments and sweep to 10 exchange
//! hot wallets, 20 unlabelled hubs that receive 1% of payments, 80% native coin and 20% one
//! token, 1,000 transfers per block.

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

pub(crate) fn generate(store: &Store, total: u64) {
    let mut rng = Rng::new(42);
    let blocks = total.div_ceil(PER_BLOCK);
    let started = Instant::now();
    let mut batch = Vec::new();
    for h in 0..blocks {
        let parent = if h == 0 { Hash32::ZERO } else { block_hash(h - 1) };
        let time = 1_600_000_000 + h * 12;
        let mut data = BlockData::new(BlockRef { height: h, hash: block_hash(h), parent, time });
        data.tx_count = PER_BLOCK as u32;
        for i in 0..PER_BLOCK {
            let r = rng.below(100);
            let from = if r < 2 { deposit(rng.below(DEPOSITS)) } else { ordinary(rng.below(ORDINARY)) };
            let to = if r < 2 {
                hot(rng.below(HOT))
            } else if r < 7 {
                deposit(rng.below(DEPOSITS))
            } else if r < 8 {
                hub(rng.below(HUBS))
            } else {
                ordinary(rng.below(ORDINARY))
            };
            let asset = if rng.below(5) == 0 { Asset::Token(TOKEN) } else { Asset::Native };
            let mut tx = [0u8; 32];
            tx[..8].copy_from_slice(&h.to_be_bytes());
            tx[8..16].copy_from_slice(&i.to_be_bytes());
            data.transfers.push(Transfer {
                tx: Hash32(tx),
                height: h,
                pos: Position { tx_index: i as u32, sub: 0 },
                time,
                from,
                to,
                asset,
                amount: U256::from(1 + rng.below(1_000_000_000_000)),
            });
        }
        batch.push(data);
        if batch.len() == 100 || h + 1 == blocks {
            store.apply_blocks(CHAIN, &batch).expect("apply generated blocks");
            batch.clear();
            eprintln!("  generated {} / {} blocks ({:.0?})", h + 1, blocks, started.elapsed());
        }
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
    let done = dir.join("GENERATED");
    let store = Store::open(&dir.join("store")).expect("open bench store");
    if !done.is_file() {
        eprintln!("generating {total} transfers into {} (once)", dir.display());
        generate(&store, total);
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
