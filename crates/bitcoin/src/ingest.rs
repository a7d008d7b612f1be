//! The Bitcoin ingest loops: Core's block files and a Core node over JSON-RPC, written to a
//! [`ChainSink`] one atomic batch at a time, with reorganisations handled by the shared fork
//! search of `chaintrace-model` ([`ForkSearch`]).
//!
//! The adapter never sees the store: the caller passes a sink (the store in the binary,
//! [`MemorySink`](chaintrace_model::MemorySink) in tests) and a [`UtxoLookup`] that resolves
//! the outputs earlier blocks created (the store's, possibly with a node fallback). A bad block
//! stops the run after the blocks before it are stored, so a rerun continues from there.

use std::path::{Path, PathBuf};

use bitcoin::{BlockHash, Network};
use chaintrace_model::sink::{Applied, ApplyCounts, ChainSink, ForkError, ForkSearch};
use chaintrace_model::{BlockData, Hash32, UtxoLookup};

use crate::{
    blkfile::{BlkError, BlocksDir, ChainBlock},
    decode::{parse_block, BlockDecoder, DecodeError},
    network::{genesis_hash, network_name},
    rpc::{RpcClient, RpcError},
    to_hash32,
};

/// Unspent outputs kept in memory between batches, both generations of the decoder's overlay
/// together (a cache in front of the sink's lookup; see [`BlockDecoder`]).
pub const OVERLAY_MAX: usize = 4_000_000;

/// Rows (transfers, outputs and spends) after which a block-files batch ends, whatever its
/// block count: a batch's memory (its decoded blocks, its encoded rows, RocksDB's copy and
/// memtables) grows with its rows, and blocks differ a hundredfold in size. 150,000 rows are
/// about 30 blocks of the benchmark's generated chain and 10 of today's mainnet blocks; with
/// 100-block batches that chain's ingest peaked at 1.4 GiB.
pub const BATCH_ROWS: usize = 150_000;

/// Heights compared per node request while searching a fork point.
const FORK_WINDOW: u64 = 16;

/// What to ingest and how.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    /// The chain's name (for messages and logs).
    pub chain: String,
    /// The chain's network: the source must serve it.
    pub network: Network,
    /// First height when the sink is empty (node only; block files start at genesis).
    pub from: Option<u64>,
    /// Last height to ingest (default: the source's best height).
    pub to: Option<u64>,
    /// Blocks written per atomic batch (at most: a block-files batch also ends at
    /// `batch_rows`).
    pub batch_blocks: usize,
    /// Block files: a batch ends once its blocks hold this many rows (transfers, outputs and
    /// spends), before `batch_blocks` blocks.
    pub batch_rows: usize,
    /// How far below the stored tip a fork point is searched for.
    pub max_reorg_depth: u64,
    /// Unspent outputs kept in the decoder's overlay between batches (both generations; the
    /// newer one ages when it holds half of this).
    pub overlay_max: usize,
    /// Block files: read and decode on a second thread while the sink stores the previous
    /// batch (the default). `false` runs both on the caller's thread, one after the other;
    /// the stored result is the same.
    pub pipeline: bool,
}

impl IngestOptions {
    /// Defaults for `chain` on `network`: everything from the start, 100-block batches, a fork
    /// point searched down to genesis.
    pub fn new(chain: impl Into<String>, network: Network) -> Self {
        IngestOptions {
            chain: chain.into(),
            network,
            from: None,
            to: None,
            batch_blocks: 100,
            batch_rows: BATCH_ROWS,
            max_reorg_depth: u64::MAX,
            overlay_max: OVERLAY_MAX,
            pipeline: true,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestSummary {
    /// Blocks newly stored.
    pub blocks: u64,
    /// Transactions in the blocks read.
    pub transactions: u64,
    /// Transfers newly stored.
    pub transfers: u64,
    /// Blocks the sink already held.
    pub skipped: u64,
    /// Reorganisations handled.
    pub reorgs: u64,
    /// Blocks rolled back by them.
    pub rolled_back: u64,
    /// Bytes of block data read.
    pub bytes: u64,
    /// The sink's tip after the run.
    pub tip: Option<(u64, Hash32)>,
}

impl IngestSummary {
    fn add(&mut self, c: ApplyCounts) {
        self.blocks += c.blocks;
        self.transfers += c.transfers;
        self.skipped += c.skipped;
    }
}

/// Progress reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Reading the block files' headers to find the best chain.
    Indexing,
    /// `done` of `total` planned blocks handled.
    Blocks {
        /// Blocks handled so far (stored or skipped).
        done: u64,
        /// Blocks planned.
        total: u64,
    },
}

/// A Bitcoin Core node as a source of blocks ([`RpcClient`] over JSON-RPC; tests use a chain in
/// memory).
pub trait NodeSource {
    /// The source's failure.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Where the blocks come from, for messages (`scheme://host:port`, never credentials).
    fn endpoint(&self) -> String;
    /// The node's network (`None`: one this crate does not know) and its best height.
    fn chain_info(&mut self) -> Result<(Option<Network>, u64), Self::Error>;
    /// The best chain's block hashes at `heights` (all at or below the best height).
    fn block_hashes(&mut self, heights: &[u64]) -> Result<Vec<BlockHash>, Self::Error>;
    /// The serialized blocks with these hashes.
    fn raw_blocks(&mut self, hashes: &[BlockHash]) -> Result<Vec<Vec<u8>>, Self::Error>;
}

impl NodeSource for RpcClient {
    type Error = RpcError;
    fn endpoint(&self) -> String {
        RpcClient::endpoint(self).to_string()
    }
    fn chain_info(&mut self) -> Result<(Option<Network>, u64), RpcError> {
        RpcClient::chain_info(self)
    }
    fn block_hashes(&mut self, heights: &[u64]) -> Result<Vec<BlockHash>, RpcError> {
        RpcClient::block_hashes(self, heights)
    }
    fn raw_blocks(&mut self, hashes: &[BlockHash]) -> Result<Vec<Vec<u8>>, RpcError> {
        RpcClient::raw_blocks(self, hashes)
    }
}

/// Why an ingest run failed. Messages state facts; what to do about them is the caller's.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The block files could not be read or indexed.
    #[error(transparent)]
    Blk(Box<BlkError>),
    /// The node failed.
    #[error("asking the node")]
    Node(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The sink failed.
    #[error("the sink failed while {doing}")]
    Sink {
        /// What was being done.
        doing: String,
        /// The sink's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The sink holds another network's chain under this name.
    #[error("the stored chain {chain:?} starts with block {stored}, not the {network} genesis {expected}: it holds another network")]
    OtherNetwork {
        /// The chain's name.
        chain: String,
        /// The stored block 0.
        stored: Hash32,
        /// The network's genesis.
        expected: Hash32,
        /// The network's name.
        network: &'static str,
    },
    /// An empty sink needs the genesis block, which the files lack.
    #[error("{dir}: no {network} genesis block in the block files ({blocks} blocks found); a pruned node's files cannot start a new chain")]
    NoGenesis {
        /// The blocks directory.
        dir: PathBuf,
        /// The network's name.
        network: &'static str,
        /// Blocks found in the files.
        blocks: usize,
    },
    /// Pruned files that neither hold nor extend the stored tip.
    #[error("{dir}: the stored tip {hash} (height {height}) is not in the block files and nothing extends it")]
    TipNotInFiles {
        /// The blocks directory.
        dir: PathBuf,
        /// The stored tip's hash.
        hash: Hash32,
        /// The stored tip's height.
        height: u64,
    },
    /// The files' best chain is not longer than the stored one and does not contain its tip.
    #[error("{dir}: the stored tip {hash} (height {height}) is not on the block files' best chain, which ends at height {best_tip}; refusing to roll back to a shorter chain")]
    ShorterChain {
        /// The blocks directory.
        dir: PathBuf,
        /// The stored tip's hash.
        hash: Hash32,
        /// The stored tip's height.
        height: u64,
        /// The files' best height.
        best_tip: u64,
    },
    /// No fork point within the searched range.
    #[error("finding where the stored chain {chain:?} and {source_name} diverge")]
    Fork {
        /// The chain's name.
        chain: String,
        /// The source (`the block files`, `the node at …`).
        source_name: String,
        /// What the search found.
        #[source]
        source: ForkError,
    },
    /// A block in the files could not be read.
    #[error("block {hash} at height {height}")]
    Read {
        /// The block's hash.
        hash: Hash32,
        /// Its height.
        height: u64,
        /// The read error (it names the file and offset).
        #[source]
        source: Box<BlkError>,
    },
    /// A block in the files could not be decoded.
    #[error("{path} at offset {offset}: block {hash} at height {height}")]
    DecodeFile {
        /// The block file.
        path: PathBuf,
        /// The offset of the block's record.
        offset: u64,
        /// The block's hash.
        hash: Hash32,
        /// Its height.
        height: u64,
        /// Why it could not be decoded.
        #[source]
        source: Box<DecodeError>,
    },
    /// A block from the node could not be parsed or decoded.
    #[error("block {hash} at height {height} from {endpoint}")]
    DecodeNode {
        /// The node.
        endpoint: String,
        /// The block's hash.
        hash: Hash32,
        /// Its height.
        height: u64,
        /// Why it could not be decoded.
        #[source]
        source: Box<DecodeError>,
    },
    /// The node answered with a block other than the one asked for.
    #[error("the node sent block {got} for height {height}, but its hash at that height is {expected}")]
    WrongBlock {
        /// The height asked for.
        height: u64,
        /// The hash the node gave for that height.
        expected: Hash32,
        /// The hash of the block it sent.
        got: Hash32,
    },
    /// The node serves another network.
    #[error("the node at {endpoint} serves {node_network} (genesis {genesis}), but chain {chain:?} is {network}")]
    NodeNetwork {
        /// The node.
        endpoint: String,
        /// What it serves.
        node_network: &'static str,
        /// Its genesis block.
        genesis: Hash32,
        /// The chain's name.
        chain: String,
        /// The chain's network.
        network: &'static str,
    },
    /// The last height asked for is above the node's best height.
    #[error("the last height asked for, {to}, is above the node's best height {head}")]
    AboveHead {
        /// The last height asked for.
        to: u64,
        /// The node's best height.
        head: u64,
    },
    /// Starting above the stored tip would leave a gap.
    #[error("starting at height {from} would leave a gap after the stored tip {tip}")]
    Gap {
        /// The first height asked for.
        from: u64,
        /// The stored tip.
        tip: u64,
    },
    /// The sink refused a batch that continues its tip (it changed during the run).
    #[error("the stored chain {chain:?} changed during the run: block {height} no longer continues its tip")]
    Conflict {
        /// The chain's name.
        chain: String,
        /// The first block of the refused batch.
        height: u64,
    },
    /// A failure after some blocks were stored.
    #[error("ingest stopped; every block up to height {} is stored", tip.map_or_else(|| "(none)".to_string(), |t| t.to_string()))]
    Stopped {
        /// The sink's tip when the run stopped.
        tip: Option<u64>,
        /// What stopped it.
        #[source]
        source: Box<IngestError>,
    },
}

impl From<BlkError> for IngestError {
    fn from(e: BlkError) -> Self {
        IngestError::Blk(Box::new(e))
    }
}

fn sink_err<E: std::error::Error + Send + Sync + 'static>(doing: &str) -> impl FnOnce(E) -> IngestError + '_ {
    move |e| IngestError::Sink { doing: doing.to_string(), source: Box::new(e) }
}

fn node_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> IngestError {
    IngestError::Node(Box::new(e))
}

/// Refuse to mix networks in one stored chain: the sink's block 0, if any, must be the
/// network's genesis. The loops check it themselves; callers that write otherwise (Esplora
/// histories) call it first.
pub fn check_genesis<S: ChainSink>(sink: &S, opts: &IngestOptions) -> Result<(), IngestError> {
    let expected = to_hash32(&genesis_hash(opts.network));
    if let Some(stored) = sink.block_hash(0).map_err(sink_err("reading block 0"))? {
        if stored != expected {
            return Err(IngestError::OtherNetwork {
                chain: opts.chain.clone(),
                stored,
                expected,
                network: network_name(opts.network),
            });
        }
    }
    Ok(())
}

/// The shared fork search from the stored `tip`, fed with windows of the source's hashes; rolls
/// the sink back to the fork point and returns it.
fn roll_back_to_fork<S: ChainSink>(
    sink: &S,
    tip: u64,
    opts: &IngestOptions,
    source_name: &str,
    sum: &mut IngestSummary,
    mut remote: impl FnMut(&[u64]) -> Result<Vec<Option<Hash32>>, IngestError>,
) -> Result<u64, IngestError> {
    let mut search = ForkSearch::new(tip, opts.max_reorg_depth);
    let fork = loop {
        let heights = search.next_window(FORK_WINDOW).map_err(|source| IngestError::Fork {
            chain: opts.chain.clone(),
            source_name: source_name.to_string(),
            source,
        })?;
        let theirs = remote(&heights)?;
        if let Some(h) = search.check(&heights, &theirs, |h| sink.block_hash(h)).map_err(sink_err("reading blocks"))? {
            break h;
        }
    };
    if fork < tip {
        let removed = sink.rollback_to(fork).map_err(sink_err("rolling back"))?;
        tracing::warn!(chain = %opts.chain, fork, rolled_back = removed, "reorganisation: rolled back");
        sum.reorgs += 1;
        sum.rolled_back += removed;
    }
    Ok(fork)
}

/// Store `batch` in one atomic apply (it stays as it was: the caller clears or returns it).
fn apply<S: ChainSink>(sink: &S, chain: &str, batch: &[BlockData], sum: &mut IngestSummary) -> Result<(), IngestError> {
    let Some(first) = batch.first().map(|b| b.block.height) else { return Ok(()) };
    let doing = format!("storing blocks {first}..={}", first + batch.len() as u64 - 1);
    match sink.apply(batch).map_err(sink_err(&doing))? {
        Applied::Ok(c) => sum.add(c),
        Applied::ParentMismatch => return Err(IngestError::Conflict { chain: chain.to_string(), height: first }),
    }
    Ok(())
}

fn finish<S: ChainSink>(sink: &S, mut sum: IngestSummary) -> Result<IngestSummary, IngestError> {
    sum.tip = sink.tip().map_err(sink_err("reading the tip"))?;
    Ok(sum)
}

/// Ingest Core's `blk*.dat` files from `dir`: the best chain from genesis, after the sink's tip.
/// When the files' best chain left the stored tip behind (a reorganisation between runs), the
/// sink is rolled back to the fork point first.
pub fn ingest_blocks_dir<S: ChainSink, L: UtxoLookup + Send>(
    dir: &Path,
    sink: &S,
    lookup: L,
    opts: &IngestOptions,
    mut progress: impl FnMut(Progress),
) -> Result<IngestSummary, IngestError> {
    let chain = opts.chain.as_str();
    let network = opts.network;
    check_genesis(sink, opts)?;
    let mut sum = IngestSummary::default();
    let bd = BlocksDir::open(dir, network)?;
    progress(Progress::Indexing);
    let index = bd.scan()?;
    tracing::info!(
        chain,
        files = bd.files().len(),
        blocks = index.len(),
        xor = bd.xor_key().is_some(),
        "indexed block files"
    );
    let tip = sink.tip().map_err(sink_err("reading the tip"))?;
    let best = index.best_chain_from_genesis(network)?;
    let todo: Vec<ChainBlock> = match (tip, best.is_empty()) {
        (None, true) => {
            return Err(IngestError::NoGenesis {
                dir: dir.to_path_buf(),
                network: network_name(network),
                blocks: index.len(),
            })
        }
        (None, false) => best,
        // Pruned files without genesis: continue from the stored tip if it is there.
        (Some((height, hash)), true) => {
            let after = index.best_chain_after(&hash, height);
            if !index.contains(&hash) && after.is_empty() {
                return Err(IngestError::TipNotInFiles { dir: dir.to_path_buf(), hash, height });
            }
            after
        }
        (Some((height, hash)), false) => {
            let h = height as usize;
            if best.get(h).is_some_and(|b| b.hash == hash) {
                best[h + 1..].to_vec()
            } else if (best.len() as u64) <= height {
                return Err(IngestError::ShorterChain {
                    dir: dir.to_path_buf(),
                    hash,
                    height,
                    best_tip: best.len().saturating_sub(1) as u64,
                });
            } else {
                let fork = roll_back_to_fork(sink, height, opts, "the block files", &mut sum, |heights| {
                    Ok(heights.iter().map(|x| best.get(*x as usize).map(|b| b.hash)).collect())
                })?;
                best[fork as usize + 1..].to_vec()
            }
        }
    };
    let todo: Vec<ChainBlock> = match opts.to {
        Some(to) => todo.into_iter().take_while(|b| b.height <= to).collect(),
        None => todo,
    };
    let total = todo.len() as u64;
    progress(Progress::Blocks { done: 0, total });
    let batch_max = opts.batch_blocks.max(1);
    let mut decoder = BlockDecoder::new(network, lookup);
    let failure = if opts.pipeline {
        pipelined(&bd, &todo, &mut decoder, opts, sink, &mut sum, &mut progress)?
    } else {
        let mut batch: Vec<BlockData> = Vec::with_capacity(batch_max);
        let mut source = BatchSource { reader: bd.reader(), blocks: &todo, next: 0, buf: Vec::new() };
        loop {
            let (more, err) = source.next_batch(&mut decoder, batch_max, opts.batch_rows, &mut batch, &mut sum);
            apply(sink, chain, &batch, &mut sum)?;
            batch.clear();
            decoder.trim_overlay(opts.overlay_max);
            progress(Progress::Blocks { done: sum.blocks + sum.skipped, total });
            if err.is_some() || !more {
                break err;
            }
        }
    };
    if let Some(e) = failure {
        let tip = sink.tip().map_err(sink_err("reading the tip"))?.map(|t| t.0);
        return Err(IngestError::Stopped { tip, source: Box::new(e) });
    }
    finish(sink, sum)
}

/// Reads and decodes the planned blocks of the files a batch at a time.
struct BatchSource<'a> {
    reader: crate::blkfile::BlockReader<'a>,
    blocks: &'a [ChainBlock],
    next: usize,
    buf: Vec<u8>,
}

/// Counts of decoded blocks, added to the summary by whoever stores them.
#[derive(Default)]
struct Read {
    bytes: u64,
    transactions: u64,
}

impl BatchSource<'_> {
    /// Decode up to `max` blocks into `batch`; returns whether blocks remain and the error that
    /// stopped it (the blocks decoded before it are in `batch`: they are complete).
    fn next_batch<L: UtxoLookup>(
        &mut self,
        decoder: &mut BlockDecoder<L>,
        max: usize,
        max_rows: usize,
        batch: &mut Vec<BlockData>,
        sum: &mut IngestSummary,
    ) -> (bool, Option<IngestError>) {
        let mut read = Read::default();
        let r = self.fill(decoder, max, max_rows, batch, &mut read);
        sum.bytes += read.bytes;
        sum.transactions += read.transactions;
        r
    }

    /// Decode blocks into `batch` until it holds `max` blocks or `max_rows` rows (transfers,
    /// outputs and spends; at least one block).
    fn fill<L: UtxoLookup>(
        &mut self,
        decoder: &mut BlockDecoder<L>,
        max: usize,
        max_rows: usize,
        batch: &mut Vec<BlockData>,
        read: &mut Read,
    ) -> (bool, Option<IngestError>) {
        let mut rows = 0usize;
        while batch.len() < max && (batch.is_empty() || rows < max_rows) {
            let Some(cb) = self.blocks.get(self.next) else { return (false, None) };
            self.next += 1;
            let read_err = |source| IngestError::Read { hash: cb.hash, height: cb.height, source: Box::new(source) };
            let decoded = match self.reader.read_bytes(&cb.loc, &mut self.buf) {
                Err(e) => Err(read_err(e)),
                Ok(()) => decoder.decode_bytes(&self.buf, cb.height).map_err(|e| match e {
                    // bytes that are not a block: a read error, as `BlockReader::read_block` gives
                    DecodeError::Corrupt(_) => read_err(self.reader.corrupt(&cb.loc, e)),
                    e => IngestError::DecodeFile {
                        path: self.reader.path(&cb.loc).to_path_buf(),
                        offset: cb.loc.offset - 8,
                        hash: cb.hash,
                        height: cb.height,
                        source: Box::new(e),
                    },
                }),
            };
            match decoded {
                Ok((data, _)) => {
                    read.bytes += u64::from(cb.loc.len);
                    read.transactions += u64::from(data.tx_count);
                    rows += data.transfers.len() + data.outputs.len() + data.spends.len();
                    batch.push(data);
                }
                Err(e) => return (false, Some(e)),
            }
        }
        (self.next < self.blocks.len(), None)
    }
}

/// The blocks-dir loop with reading and decoding on a second thread, one batch ahead of the
/// sink: while the sink stores batch n, batch n + 1 is decoded. Batches are stored in order,
/// each as one atomic apply, exactly as the sequential loop stores them.
///
/// The decoder resolves inputs from its overlay, then from `lookup` (the sink's committed
/// outputs). The overlay holds every output of the batches not yet stored, so an input is
/// never looked up in a batch in flight: aging the overlay drops its older generation only
/// once the sink has stored every batch whose outputs it holds.
///
/// A stored batch goes back to the decoding thread, which frees it: its memory was allocated
/// there, and the allocator frees a block fastest on the thread that allocated it (freed on
/// the storing thread, every block went back to the other thread's arena under its lock).
fn pipelined<S: ChainSink, L: UtxoLookup + Send>(
    bd: &BlocksDir,
    todo: &[ChainBlock],
    decoder: &mut BlockDecoder<L>,
    opts: &IngestOptions,
    sink: &S,
    sum: &mut IngestSummary,
    progress: &mut impl FnMut(Progress),
) -> Result<Option<IngestError>, IngestError> {
    use std::sync::mpsc;
    let batch_max = opts.batch_blocks.max(1);
    let total = todo.len() as u64;
    std::thread::scope(|scope| {
        // One batch decoded ahead: the channel holds one, the decoder works on the next.
        let (batches, from_decoder) = mpsc::sync_channel::<(Vec<BlockData>, Read, Option<IngestError>)>(1);
        // Stored batches, going back to be freed where they were allocated.
        let (stored, acks) = mpsc::channel::<Vec<BlockData>>();
        let overlay_max = opts.overlay_max;
        scope.spawn(move || {
            let mut source = BatchSource { reader: bd.reader(), blocks: todo, next: 0, buf: Vec::new() };
            let mut sent = 0u64;
            let mut acked = 0u64;
            // Batches sent before the overlay last aged: their outputs are in its older
            // generation, which the next aging drops.
            let mut sent_at_aging = 0u64;
            loop {
                // Free the batches stored since the last round.
                while acks.try_recv().is_ok() {
                    acked += 1;
                }
                let mut batch = Vec::with_capacity(batch_max);
                let mut read = Read::default();
                let (more, err) = source.fill(decoder, batch_max, opts.batch_rows, &mut batch, &mut read);
                let last = err.is_some() || !more;
                if batches.send((batch, read, err)).is_err() {
                    return; // the sink side stopped
                }
                sent += 1;
                if last {
                    return;
                }
                if decoder.overlay_len() > overlay_max / 2 {
                    // The older generation goes: wait until the store holds its batches
                    // (usually long done; the newer generation's may still be in flight).
                    while acked < sent_at_aging {
                        if acks.recv().is_err() {
                            return;
                        }
                        acked += 1;
                    }
                    decoder.age_overlay();
                    sent_at_aging = sent;
                }
            }
        });
        for (batch, read, err) in from_decoder {
            sum.bytes += read.bytes;
            sum.transactions += read.transactions;
            apply(sink, &opts.chain, &batch, sum)?;
            let _ = stored.send(batch);
            progress(Progress::Blocks { done: sum.blocks + sum.skipped, total });
            if err.is_some() {
                return Ok(err);
            }
        }
        Ok(None)
    })
}

/// Ingest from a Bitcoin Core node: heights `opts.from` (empty sink) or after the stored tip, up
/// to `opts.to` or the node's best height. A stored tip the node no longer has is rolled back to
/// the fork point first, and again whenever the node reorganises during the run. `lookup`
/// resolves spent outputs of earlier blocks (the sink's, and for a range on its own the node's:
/// [`NodeFallbackLookup`](crate::rpc::NodeFallbackLookup)).
pub fn ingest_node<S: ChainSink, N: NodeSource, L: UtxoLookup>(
    node: &mut N,
    sink: &S,
    lookup: L,
    opts: &IngestOptions,
    mut progress: impl FnMut(Progress),
) -> Result<IngestSummary, IngestError> {
    let chain = opts.chain.as_str();
    let network = opts.network;
    check_genesis(sink, opts)?;
    let mut sum = IngestSummary::default();
    let (node_net, head) = node.chain_info().map_err(node_err)?;
    let genesis = node.block_hashes(&[0]).map_err(node_err)?.first().map(to_hash32);
    if node_net != Some(network) || genesis != Some(to_hash32(&genesis_hash(network))) {
        return Err(IngestError::NodeNetwork {
            endpoint: node.endpoint(),
            node_network: node_net.map(network_name).unwrap_or("an unknown network"),
            genesis: genesis.unwrap_or(Hash32::ZERO),
            chain: chain.to_string(),
            network: network_name(network),
        });
    }
    let to = opts.to.unwrap_or(head);
    if to > head {
        return Err(IngestError::AboveHead { to, head });
    }
    let source_name = format!("the node at {}", node.endpoint());
    let mut next = match sink.tip().map_err(sink_err("reading the tip"))? {
        None => opts.from.unwrap_or(0),
        Some((tip, _)) => {
            if let Some(from) = opts.from.filter(|f| *f > tip + 1) {
                return Err(IngestError::Gap { from, tip });
            }
            node_fork(node, sink, tip, opts, &source_name, &mut sum)? + 1
        }
    };
    let total = (to + 1).saturating_sub(next);
    progress(Progress::Blocks { done: 0, total });
    let batch_max = opts.batch_blocks.max(1) as u64;
    let mut decoder = BlockDecoder::new(network, lookup);
    while next <= to {
        let heights: Vec<u64> = (next..=to.min(next + batch_max - 1)).collect();
        let hashes = node.block_hashes(&heights).map_err(node_err)?;
        let raws = node.raw_blocks(&hashes).map_err(node_err)?;
        let mut batch = Vec::with_capacity(heights.len());
        for ((h, hash), raw) in heights.iter().zip(&hashes).zip(&raws) {
            let decode_err = |e| IngestError::DecodeNode {
                endpoint: node.endpoint(),
                hash: to_hash32(hash),
                height: *h,
                source: Box::new(e),
            };
            let block = parse_block(raw).map_err(decode_err)?;
            if block.block_hash() != *hash {
                return Err(IngestError::WrongBlock {
                    height: *h,
                    expected: to_hash32(hash),
                    got: to_hash32(&block.block_hash()),
                });
            }
            let data = decoder.decode(&block, *h).map_err(decode_err)?;
            sum.bytes += raw.len() as u64;
            sum.transactions += u64::from(data.tx_count);
            batch.push(data);
        }
        let last = heights[heights.len() - 1];
        match sink.apply(&batch).map_err(sink_err(&format!("storing blocks {next}..={last}")))? {
            Applied::Ok(c) => {
                sum.add(c);
                next = last + 1;
                decoder.trim_overlay(opts.overlay_max);
                progress(Progress::Blocks { done: sum.blocks + sum.skipped, total });
            }
            Applied::ParentMismatch => {
                // The node reorganised under us: roll back to the common block and go on.
                tracing::warn!(chain, height = next, "parent hash does not match the stored tip: reorganisation");
                decoder.clear_overlay();
                let tip = sink.tip().map_err(sink_err("reading the tip"))?.map_or(0, |t| t.0);
                next = node_fork(node, sink, tip, opts, &source_name, &mut sum)? + 1;
            }
        }
    }
    finish(sink, sum)
}

/// The fork point between the sink and the node (whose best height is asked again: a reorg
/// may have shortened its chain).
fn node_fork<S: ChainSink, N: NodeSource>(
    node: &mut N,
    sink: &S,
    tip: u64,
    opts: &IngestOptions,
    source_name: &str,
    sum: &mut IngestSummary,
) -> Result<u64, IngestError> {
    let (_, head) = node.chain_info().map_err(node_err)?;
    roll_back_to_fork(sink, tip, opts, source_name, sum, |heights| {
        // Heights are contiguous and highest first: those above the node's head are absent.
        let ask: Vec<u64> = heights.iter().copied().filter(|h| *h <= head).collect();
        let hashes = if ask.is_empty() { Vec::new() } else { node.block_hashes(&ask).map_err(node_err)? };
        let missing = heights.len() - ask.len();
        Ok((0..heights.len()).map(|i| i.checked_sub(missing).and_then(|j| hashes.get(j)).map(to_hash32)).collect())
    })
}
