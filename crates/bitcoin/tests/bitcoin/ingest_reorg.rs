//! The Bitcoin ingest loops over an in-memory sink: a chain from the synthetic generator, then
//! a competing branch that replaces its last `d` blocks (d = 1..=10) and is one block longer.
//! Through block files and through a node, the second run goes through the shared fork search,
//! rolls back exactly `d` blocks and leaves the sink holding exactly the heavier branch (the
//! same blocks as a clean ingest of it).

use std::collections::BTreeMap;
use std::path::Path;

use chaintrace_bitcoin::bitcoin::{consensus::serialize, Block, BlockHash, Network};
use chaintrace_bitcoin::ingest::{ingest_blocks_dir, ingest_node, IngestError, IngestOptions, NodeSource};
use chaintrace_bitcoin::synth::{blk_records, coinbase_block, generate, sibling_block, SynthParams};
use chaintrace_bitcoin::{to_hash32, BlocksDir};
use chaintrace_model::{BlockData, ForkError, MemorySink};

/// A small regtest chain with spends (coinbases mature after 100 blocks), in height order.
fn base_chain() -> Vec<Block> {
    let dir = tempfile::tempdir().unwrap();
    let p = SynthParams {
        txs: 120,
        txs_per_block: 12,
        entities: 12,
        seed: 11,
        stale_every: 0,
        swap_every: 0,
        ..SynthParams::default()
    };
    generate(dir.path(), &p).unwrap();
    let bd = BlocksDir::open(dir.path(), Network::Regtest).unwrap();
    let index = bd.scan().unwrap();
    let best = index.best_chain_from_genesis(Network::Regtest).unwrap();
    let mut reader = bd.reader();
    let mut buf = Vec::new();
    best.iter().map(|cb| reader.read_block(&cb.loc, &mut buf).unwrap()).collect()
}

/// `chain` with its last `depth` blocks replaced by siblings, plus one more block on top.
fn heavier_branch(chain: &[Block], depth: usize) -> Vec<Block> {
    let keep = chain.len() - depth;
    let mut out: Vec<Block> = chain[..keep].to_vec();
    for (i, b) in chain[keep..].iter().enumerate() {
        let prev = out.last().unwrap().block_hash();
        out.push(sibling_block(b, prev, 0x40 + i as u8));
    }
    let last = out.last().unwrap();
    let (prev, time) = (last.block_hash(), last.header.time + 600);
    out.push(coinbase_block(prev, out.len() as u64, time, 1_000, 0x7f));
    out
}

fn opts() -> IngestOptions {
    IngestOptions { batch_blocks: 7, ..IngestOptions::new("btcreg", Network::Regtest) }
}

fn write_dir(dir: &Path, blocks: &[Block]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("blk00000.dat"), blk_records(Network::Regtest, blocks)).unwrap();
}

fn from_files(dir: &Path, sink: &MemorySink) -> Result<chaintrace_bitcoin::IngestSummary, IngestError> {
    ingest_blocks_dir(dir, sink, sink.clone(), &opts(), |_| {})
}

fn hashes(blocks: &BTreeMap<u64, BlockData>) -> Vec<String> {
    blocks.values().map(|b| b.block.hash.to_hex()).collect()
}

#[test]
fn blocks_dir_reorgs_of_depth_1_to_10_leave_exactly_the_heavier_branch() {
    let chain = base_chain();
    assert!(chain.len() > 100 && chain.iter().skip(100).any(|b| b.txdata.len() > 1), "spends in the chain");
    let tmp = tempfile::tempdir().unwrap();
    for depth in 1..=10usize {
        let branch = heavier_branch(&chain, depth);
        let first = tmp.path().join(format!("a{depth}"));
        write_dir(&first, &chain);
        let sink = MemorySink::default();
        let s = from_files(&first, &sink).unwrap();
        assert_eq!(s.blocks, chain.len() as u64);
        // The node's files now hold both branches (the stale one first, as Core keeps them).
        let both = tmp.path().join(format!("b{depth}"));
        let stale_and_new: Vec<Block> = chain.iter().chain(&branch[chain.len() - depth..]).cloned().collect();
        write_dir(&both, &stale_and_new);
        let s = from_files(&both, &sink).unwrap();
        assert_eq!((s.reorgs, s.rolled_back, s.blocks), (1, depth as u64, depth as u64 + 1), "depth {depth}");
        assert_eq!(s.tip.map(|t| t.1), Some(to_hash32(&branch.last().unwrap().block_hash())));
        let clean = MemorySink::default();
        from_files(&both, &clean).unwrap();
        assert_eq!(hashes(&sink.snapshot()), hashes(&clean.snapshot()), "depth {depth}");
        assert_eq!(sink.snapshot(), clean.snapshot(), "depth {depth}");
        assert_eq!(
            hashes(&sink.snapshot()),
            branch.iter().map(|b| to_hash32(&b.block_hash()).to_hex()).collect::<Vec<_>>()
        );
        // A rerun changes nothing.
        let again = from_files(&both, &sink).unwrap();
        assert_eq!((again.blocks, again.rolled_back), (0, 0));
    }
}

/// A node serving a chain held in memory; with `switch`, it reorganises to another chain when
/// first asked for heights at or above the given one.
struct MemNode {
    blocks: Vec<Block>,
    switch: Option<(u64, Vec<Block>)>,
}

impl MemNode {
    fn new(blocks: Vec<Block>) -> Self {
        MemNode { blocks, switch: None }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("no block {0}")]
struct NoBlock(String);

impl NodeSource for MemNode {
    type Error = NoBlock;
    fn endpoint(&self) -> String {
        "memory://node".into()
    }
    fn chain_info(&mut self) -> Result<(Option<Network>, u64), NoBlock> {
        Ok((Some(Network::Regtest), self.blocks.len() as u64 - 1))
    }
    fn block_hashes(&mut self, heights: &[u64]) -> Result<Vec<BlockHash>, NoBlock> {
        if self.switch.as_ref().is_some_and(|(at, _)| heights.first().is_some_and(|h| h >= at)) {
            self.blocks = self.switch.take().unwrap().1;
        }
        heights
            .iter()
            .map(|h| self.blocks.get(*h as usize).map(Block::block_hash).ok_or_else(|| NoBlock(h.to_string())))
            .collect()
    }
    fn raw_blocks(&mut self, hashes: &[BlockHash]) -> Result<Vec<Vec<u8>>, NoBlock> {
        hashes
            .iter()
            .map(|h| {
                self.blocks.iter().find(|b| b.block_hash() == *h).map(serialize).ok_or_else(|| NoBlock(h.to_string()))
            })
            .collect()
    }
}

#[test]
fn node_reorgs_of_depth_1_to_10_leave_exactly_the_heavier_branch() {
    let chain = base_chain();
    for depth in 1..=10usize {
        let sink = MemorySink::default();
        let mut node = MemNode::new(chain.clone());
        let s = ingest_node(&mut node, &sink, sink.clone(), &opts(), |_| {}).unwrap();
        assert_eq!(s.blocks, chain.len() as u64);
        let branch = heavier_branch(&chain, depth);
        let mut node = MemNode::new(branch.clone());
        let s = ingest_node(&mut node, &sink, sink.clone(), &opts(), |_| {}).unwrap();
        assert_eq!((s.reorgs, s.rolled_back, s.blocks), (1, depth as u64, depth as u64 + 1), "depth {depth}");
        let clean = MemorySink::default();
        ingest_node(&mut node, &clean, clean.clone(), &opts(), |_| {}).unwrap();
        assert_eq!(sink.snapshot(), clean.snapshot(), "depth {depth}");
        // The orphaned coinbases are gone: every stored block is the branch's.
        assert_eq!(
            hashes(&sink.snapshot()),
            branch.iter().map(|b| to_hash32(&b.block_hash()).to_hex()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn a_fork_deeper_than_the_bound_is_refused_and_the_sink_kept() {
    let chain = base_chain();
    let sink = MemorySink::default();
    ingest_node(&mut MemNode::new(chain.clone()), &sink, sink.clone(), &opts(), |_| {}).unwrap();
    let before = sink.snapshot();
    let mut node = MemNode::new(heavier_branch(&chain, 6));
    let bounded = IngestOptions { max_reorg_depth: 5, ..opts() };
    let err = ingest_node(&mut node, &sink, sink.clone(), &bounded, |_| {}).unwrap_err();
    assert!(matches!(err, IngestError::Fork { source: ForkError::TooDeep { max_depth: 5, .. }, .. }), "{err:?}");
    assert_eq!(sink.snapshot(), before);
    // A branch sharing only genesis: with no bound, the fork point is genesis.
    let mut other = vec![chain[0].clone()];
    for h in 1..5u64 {
        let prev = other.last().unwrap();
        other.push(coinbase_block(prev.block_hash(), h, prev.header.time + 600, 5_000, 0x33));
    }
    let s = ingest_node(&mut MemNode::new(other.clone()), &sink, sink.clone(), &opts(), |_| {}).unwrap();
    assert_eq!(s.rolled_back, chain.len() as u64 - 1);
    assert_eq!(sink.snapshot().len(), other.len());
}

/// The node reorganises while the loop runs: the batch that no longer continues the stored
/// tip is refused by the sink, the fork point is found, and the run ends on the new branch.
#[test]
fn a_reorg_during_a_node_run_is_followed() {
    let chain = base_chain();
    let branch = heavier_branch(&chain, 8);
    let len = chain.len() as u64;
    // The first batch (7 blocks each) that starts above the fork point's child: its parent is
    // a replaced block, so the sink refuses it.
    let at = (len - 7).div_ceil(7) * 7;
    let mut node = MemNode { blocks: chain.clone(), switch: Some((at, branch.clone())) };
    let sink = MemorySink::default();
    let s = ingest_node(&mut node, &sink, sink.clone(), &opts(), |_| {}).unwrap();
    assert_eq!((s.reorgs, s.rolled_back), (1, at - (len - 8)), "{s:?}");
    // The last height was fixed when the run started.
    assert_eq!(s.tip.map(|t| t.0), Some(len - 1));
    let clean = MemorySink::default();
    let to = IngestOptions { to: Some(len - 1), ..opts() };
    ingest_node(&mut MemNode::new(branch), &clean, clean.clone(), &to, |_| {}).unwrap();
    assert_eq!(sink.snapshot(), clean.snapshot());
}
