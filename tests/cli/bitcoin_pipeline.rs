//! The pipelined blocks-dir ingest (decode on a second thread, one batch ahead of the store)
//! against the sequential loop, into real RocksDB stores: the same digest, and the same figures
//! when `verify` recomputes them from the rows. On the real mainnet blocks of
//! `tests/data/bitcoin-blocks` and on a generated chain with stale blocks, out-of-order records
//! and a reorganisation between runs; small batches and a tiny overlay make the pipeline trim
//! its overlay (waiting for the store) many times.

use std::path::Path;

use chaintrace_bitcoin::bitcoin::{Block, Network};
use chaintrace_bitcoin::ingest::{ingest_blocks_dir, IngestOptions};
use chaintrace_bitcoin::synth::{blk_records, coinbase_block, generate, sibling_block, SynthParams};
use chaintrace_bitcoin::BlocksDir;
use chaintrace_model::sink::{Applied, ApplyCounts, ChainSink};
use chaintrace_model::{BlockData, Hash32, UtxoLookup, UtxoOutput};
use chaintrace_store::{Store, StoreError};

use crate::common;

/// One chain of a store as the adapter's sink and output lookup (what the binary wires).
#[derive(Clone, Copy)]
struct Sink<'a>(&'a Store, &'a str);

impl ChainSink for Sink<'_> {
    type Error = StoreError;
    fn tip(&self) -> Result<Option<(u64, Hash32)>, StoreError> {
        Ok(self.0.tip(self.1)?.map(|t| (t.height, t.hash)))
    }
    fn block_hash(&self, height: u64) -> Result<Option<Hash32>, StoreError> {
        self.0.block_hash(self.1, height)
    }
    fn apply(&self, blocks: &[BlockData]) -> Result<Applied, StoreError> {
        match self.0.apply_blocks(self.1, blocks) {
            Ok(s) => Ok(Applied::Ok(ApplyCounts { blocks: s.blocks, transfers: s.transfers, skipped: s.skipped })),
            Err(StoreError::ParentMismatch { .. }) => Ok(Applied::ParentMismatch),
            Err(e) => Err(e),
        }
    }
    fn rollback_to(&self, height: u64) -> Result<u64, StoreError> {
        self.0.rollback_to(self.1, height)
    }
    fn record_node_info(&self, _: &str, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

impl UtxoLookup for Sink<'_> {
    type Error = StoreError;
    fn output(&self, txid: &Hash32, vout: u32) -> Result<Option<UtxoOutput>, StoreError> {
        self.0.output(self.1, txid, vout)
    }
}

const CHAIN: &str = "btc";

fn run(store: &Store, dir: &Path, network: Network, pipeline: bool) {
    let sink = Sink(store, CHAIN);
    let opts = IngestOptions { batch_blocks: 5, overlay_max: 50, pipeline, ..IngestOptions::new(CHAIN, network) };
    ingest_blocks_dir(dir, &sink, sink, &opts, |_| {}).unwrap();
}

/// Both stores hold the same rows: equal digests, and `verify` recomputes equal, consistent
/// figures from each.
fn assert_same(a: &Store, b: &Store, what: &str) {
    assert_eq!(a.stats().unwrap().digest, b.stats().unwrap().digest, "{what}: digests");
    let (va, vb) = (a.verify(None).unwrap(), b.verify(None).unwrap());
    assert!(va.ok() && vb.ok(), "{what}: verify found problems: {:?} / {:?}", va.chains, vb.chains);
    assert_eq!(va.digest, vb.digest, "{what}: recomputed digests");
    let figures = |v: &chaintrace_store::Verification| {
        v.chains.iter().map(|c| (c.chain.clone(), c.recomputed.clone())).collect::<Vec<_>>()
    };
    assert_eq!(figures(&va), figures(&vb), "{what}: recomputed figures");
}

#[test]
fn pipelined_ingest_stores_what_the_sequential_loop_stores_on_real_blocks() {
    let w = common::Workdir::new();
    let dir = w.path().join("blocks");
    std::fs::create_dir_all(&dir).unwrap();
    let src = common::shared_data().join("bitcoin-blocks/bitcoinj/first-100k-blocks.dat");
    std::fs::copy(src, dir.join("blk00000.dat")).unwrap();
    let (a, b) = (Store::open(&w.path().join("a")).unwrap(), Store::open(&w.path().join("b")).unwrap());
    run(&a, &dir, Network::Bitcoin, true);
    run(&b, &dir, Network::Bitcoin, false);
    assert_eq!(a.stats().unwrap().chains[CHAIN].blocks, 439);
    assert_same(&a, &b, "first 100k mainnet blocks");
}

/// The best chain of a generated blocks dir, in height order.
fn read_chain(dir: &Path) -> Vec<Block> {
    let bd = BlocksDir::open(dir, Network::Regtest).unwrap();
    let best = bd.scan().unwrap().best_chain_from_genesis(Network::Regtest).unwrap();
    let mut reader = bd.reader();
    let mut buf = Vec::new();
    best.iter().map(|cb| reader.read_block(&cb.loc, &mut buf).unwrap()).collect()
}

#[test]
fn pipelined_ingest_stores_what_the_sequential_loop_stores_through_a_reorg() {
    let w = common::Workdir::new();
    let seed = chaintrace_testkit::rng::fresh_seed();
    println!("generated chain seed {seed}");
    let gen = w.path().join("gen");
    std::fs::create_dir_all(&gen).unwrap();
    let p = SynthParams {
        txs: 3_000,
        txs_per_block: 25,
        entities: 40,
        seed,
        stale_every: 7,
        swap_every: 5,
        ..SynthParams::default()
    };
    generate(&gen, &p).unwrap();
    let (a, b) = (Store::open(&w.path().join("a")).unwrap(), Store::open(&w.path().join("b")).unwrap());
    run(&a, &gen, Network::Regtest, true);
    run(&b, &gen, Network::Regtest, false);
    assert_same(&a, &b, "generated chain");

    // The files gain a heavier branch replacing the last 6 blocks: both roll back and follow.
    let chain = read_chain(&gen);
    let keep = chain.len() - 6;
    let mut branch: Vec<Block> = Vec::new();
    for (i, blk) in chain[keep..].iter().enumerate() {
        let prev = branch.last().unwrap_or(&chain[keep - 1]).block_hash();
        branch.push(sibling_block(blk, prev, 0x50 + i as u8));
    }
    let last = branch.last().unwrap();
    branch.push(coinbase_block(last.block_hash(), chain.len() as u64, last.header.time + 600, 1_000, 0x7e));
    let both = w.path().join("both");
    std::fs::create_dir_all(&both).unwrap();
    let all: Vec<Block> = chain.iter().chain(&branch).cloned().collect();
    std::fs::write(both.join("blk00000.dat"), blk_records(Network::Regtest, &all)).unwrap();
    run(&a, &both, Network::Regtest, true);
    run(&b, &both, Network::Regtest, false);
    assert_same(&a, &b, "after the reorganisation");
    assert_eq!(a.tip(CHAIN).unwrap().map(|t| t.height), Some(chain.len() as u64));
    // And both equal a clean pipelined ingest of the new best chain.
    let c = Store::open(&w.path().join("c")).unwrap();
    run(&c, &both, Network::Regtest, true);
    assert_same(&a, &c, "reorganised vs clean");
}

/// Ingest `dir` through a bulk-load handle (`Store::open_bulk`, as `ingest bitcoin
/// --blocks-dir` opens the store: batches without the WAL, persisted by atomic flushes), drop
/// it, and reopen the store normally: what is returned is what was persisted.
fn run_bulk(path: &Path, dir: &Path, network: Network) -> Store {
    {
        let bulk = Store::open_bulk(path).unwrap();
        run(&bulk, dir, network, true);
    }
    Store::open(path).unwrap()
}

/// The bulk-load path stores what the logged path stores: the same digest and the same
/// figures recomputed by `verify`, on the real mainnet blocks and on a generated chain through
/// a reorganisation between two runs.
#[test]
fn bulk_loaded_store_equals_the_logged_one_on_real_blocks_and_through_a_reorg() {
    let w = common::Workdir::new();
    let dir = w.path().join("blocks");
    std::fs::create_dir_all(&dir).unwrap();
    let src = common::shared_data().join("bitcoin-blocks/bitcoinj/first-100k-blocks.dat");
    std::fs::copy(src, dir.join("blk00000.dat")).unwrap();
    let logged = Store::open(&w.path().join("logged")).unwrap();
    run(&logged, &dir, Network::Bitcoin, true);
    let bulk = run_bulk(&w.path().join("bulk"), &dir, Network::Bitcoin);
    assert_eq!(bulk.stats().unwrap().chains[CHAIN].blocks, 439);
    assert_same(&bulk, &logged, "first 100k mainnet blocks, bulk vs logged");

    let seed = chaintrace_testkit::rng::fresh_seed();
    println!("generated chain seed {seed}");
    let gen = w.path().join("gen");
    std::fs::create_dir_all(&gen).unwrap();
    let p = SynthParams { txs: 3_000, txs_per_block: 25, entities: 40, seed, stale_every: 7, ..SynthParams::default() };
    generate(&gen, &p).unwrap();
    let logged = Store::open(&w.path().join("logged-gen")).unwrap();
    run(&logged, &gen, Network::Regtest, true);
    let bulk_path = w.path().join("bulk-gen");
    let bulk = run_bulk(&bulk_path, &gen, Network::Regtest);
    assert_same(&bulk, &logged, "generated chain, bulk vs logged");
    drop(bulk);

    // A heavier branch replaces the last 4 blocks: the bulk handle rolls back and follows.
    let chain = read_chain(&gen);
    let keep = chain.len() - 4;
    let mut branch: Vec<Block> = Vec::new();
    for (i, blk) in chain[keep..].iter().enumerate() {
        let prev = branch.last().unwrap_or(&chain[keep - 1]).block_hash();
        branch.push(sibling_block(blk, prev, 0x60 + i as u8));
    }
    let last = branch.last().unwrap();
    branch.push(coinbase_block(last.block_hash(), chain.len() as u64, last.header.time + 600, 1_000, 0x7d));
    let both = w.path().join("both");
    std::fs::create_dir_all(&both).unwrap();
    let all: Vec<Block> = chain.iter().chain(&branch).cloned().collect();
    std::fs::write(both.join("blk00000.dat"), blk_records(Network::Regtest, &all)).unwrap();
    run(&logged, &both, Network::Regtest, true);
    let bulk = run_bulk(&bulk_path, &both, Network::Regtest);
    assert_eq!(bulk.tip(CHAIN).unwrap().map(|t| t.height), Some(chain.len() as u64));
    assert_same(&bulk, &logged, "after the reorganisation, bulk vs logged");
}

/// A bulk load larger than a bulk handle's memtables (4 MiB per column family): each batch's
/// transfer, adjacency, UTXO and dictionary rows go in as table files RocksDB ingests (one per
/// family and batch), while the load goes on, and are compacted. The store equals the logged
/// one (digest and `verify`'s recomputed figures), and the rows were persisted by files of
/// several batches, not at the close (RocksDB's info log records every ingestion).
#[test]
fn bulk_load_past_its_memtables_equals_the_logged_one() {
    let w = common::Workdir::new();
    let seed = chaintrace_testkit::rng::fresh_seed();
    println!("generated chain seed {seed}");
    let gen = w.path().join("gen");
    std::fs::create_dir_all(&gen).unwrap();
    let p = SynthParams { txs: 120_000, entities: 2_000, seed, stale_every: 50, ..SynthParams::default() };
    generate(&gen, &p).unwrap();
    let logged = Store::open(&w.path().join("logged")).unwrap();
    run(&logged, &gen, Network::Regtest, true);
    let bulk_path = w.path().join("bulk");
    let bulk = run_bulk(&bulk_path, &gen, Network::Regtest);
    // RocksDB's info logs (this open's and the bulk handle's, kept as LOG.old.*) record every
    // ingested file.
    let ingested: usize = std::fs::read_dir(&bulk_path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("LOG"))
        .map(|p| {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            text.lines().filter(|l| l.contains("\"event\": \"ingest_finished\"")).count()
        })
        .sum();
    println!("{ingested} table files ingested");
    // Seven families per batch (transfers, addr_out, addr_in, outputs, spends, spent_by,
    // addresses): at least three batches' files.
    assert!(ingested >= 21, "{ingested} files ingested: fewer than three batches went in as table files");
    assert!(!bulk_path.join("bulk-load").exists(), "no bulk batch was left unfinished");
    assert_same(&bulk, &logged, "generated chain past the memtables, bulk vs logged");
}

/// A sink that records the blocks and rows (transfers, outputs, spends) of every batch it is
/// handed, in front of the store.
struct Recording<'a> {
    inner: Sink<'a>,
    batches: std::sync::Mutex<Vec<(usize, usize, usize)>>,
}

impl ChainSink for Recording<'_> {
    type Error = StoreError;
    fn tip(&self) -> Result<Option<(u64, Hash32)>, StoreError> {
        self.inner.tip()
    }
    fn block_hash(&self, height: u64) -> Result<Option<Hash32>, StoreError> {
        self.inner.block_hash(height)
    }
    fn apply(&self, blocks: &[BlockData]) -> Result<Applied, StoreError> {
        let rows = |b: &BlockData| b.transfers.len() + b.outputs.len() + b.spends.len();
        let all: usize = blocks.iter().map(rows).sum();
        let last = blocks.last().map_or(0, rows);
        self.batches.lock().unwrap().push((blocks.len(), all, all - last));
        self.inner.apply(blocks)
    }
    fn rollback_to(&self, height: u64) -> Result<u64, StoreError> {
        self.inner.rollback_to(height)
    }
    fn record_node_info(&self, a: &str, b: &str) -> Result<(), StoreError> {
        self.inner.record_node_info(a, b)
    }
}

/// A block-files batch ends at `batch_rows` rows, before `batch_blocks` blocks: every batch
/// but the last stops at the first block that reaches the budget (the rows before its last
/// block are under it, all of them at or over it) or at `batch_blocks` blocks, whichever comes
/// first, and the store equals one written in batches of blocks alone (digest and `verify`'s
/// figures), pipelined and sequential alike.
#[test]
fn block_file_batches_end_at_their_row_budget() {
    let w = common::Workdir::new();
    let seed = chaintrace_testkit::rng::fresh_seed();
    println!("generated chain seed {seed}");
    let gen = w.path().join("gen");
    std::fs::create_dir_all(&gen).unwrap();
    let p = SynthParams { txs: 4_000, txs_per_block: 30, entities: 60, seed, stale_every: 9, ..SynthParams::default() };
    generate(&gen, &p).unwrap();
    let by_blocks = Store::open(&w.path().join("blocks")).unwrap();
    let sink = Sink(&by_blocks, CHAIN);
    let opts =
        IngestOptions { batch_blocks: 40, batch_rows: usize::MAX, ..IngestOptions::new(CHAIN, Network::Regtest) };
    ingest_blocks_dir(&gen, &sink, sink, &opts, |_| {}).unwrap();
    let budget = 700;
    for pipeline in [true, false] {
        let store = Store::open(&w.path().join(format!("rows-{pipeline}"))).unwrap();
        let rec = Recording { inner: Sink(&store, CHAIN), batches: Default::default() };
        let opts = IngestOptions {
            batch_blocks: 40,
            batch_rows: budget,
            overlay_max: 200,
            pipeline,
            ..IngestOptions::new(CHAIN, Network::Regtest)
        };
        ingest_blocks_dir(&gen, &rec, Sink(&store, CHAIN), &opts, |_| {}).unwrap();
        let batches = rec.batches.into_inner().unwrap();
        let (last, full) = batches.split_last().unwrap();
        let mut cut_by_rows = 0;
        for (i, (blocks, rows, before_last)) in full.iter().enumerate() {
            // Ended by its rows, or (the generated chain starts with blocks of a coinbase
            // alone) by its block count first.
            assert!(*before_last < budget, "pipeline {pipeline}: batch {i}: {before_last} rows before its last block");
            assert!(*blocks <= 40, "pipeline {pipeline}: batch {i} holds {blocks} blocks");
            assert!(
                *rows >= budget || *blocks == 40,
                "pipeline {pipeline}: batch {i} ended early: {blocks} blocks, {rows} rows"
            );
            cut_by_rows += usize::from(*rows >= budget && *blocks < 40);
        }
        assert!(
            cut_by_rows >= 5,
            "pipeline {pipeline}: only {cut_by_rows} of {} batches were cut by the budget",
            batches.len()
        );
        assert!(last.0 <= 40 && last.2 < budget, "pipeline {pipeline}: last batch {last:?}");
        let stored: usize = batches.iter().map(|b| b.0).sum();
        assert_eq!(stored as u64, store.stats().unwrap().chains[CHAIN].blocks, "pipeline {pipeline}: blocks");
        assert_same(&store, &by_blocks, &format!("row budget, pipeline {pipeline}"));
    }
}
