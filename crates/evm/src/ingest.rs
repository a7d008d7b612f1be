//! The ingest loop: fetch ranges concurrently, apply them in order to a [`ChainSink`], follow
//! the head, and handle reorganisations by rolling back to the fork point.
//!
//! The adapter never sees store keys: the CLI implements [`ChainSink`] (from
//! `chaintrace-model`, shared with the Bitcoin adapter) over the store. The fork point is found
//! by the shared [`ForkSearch`], fed with windows of the node's block hashes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chaintrace_model::sink::{Applied, ChainSink, ForkSearch};
use chaintrace_model::{BlockData, Hash32};
use futures::StreamExt;
use serde::Serialize;

use crate::adapter::{EvmAdapter, TraceMode};
use crate::error::{EvmError, TraceGap, TraceUnavailable};
use crate::tokens::TokenMetaStore;

/// What [`ingest()`] reads: the range, chunking and reorg depth.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    /// First height when the sink is empty (default 0). With a non-empty sink, ingest resumes
    /// after the stored tip; a `from` beyond it is refused (it would leave a gap).
    pub from: Option<u64>,
    /// Last height; `None` follows the head until stopped.
    pub to: Option<u64>,
    /// Blocks per fetch task (one set of JSON-RPC batches).
    pub chunk_blocks: u64,
    /// Fetch tasks in flight ahead of the writer.
    pub parallel_chunks: usize,
    /// How often to poll the head when caught up.
    pub poll_interval: Duration,
    /// How far back a fork point is searched for.
    pub max_reorg_depth: u64,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            from: None,
            to: None,
            chunk_blocks: 10,
            parallel_chunks: 4,
            poll_interval: Duration::from_secs(2),
            max_reorg_depth: 1024,
        }
    }
}

/// A progress report after each applied chunk.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    /// The last height applied.
    pub height: u64,
    /// The node's head height when last polled.
    pub head: u64,
    /// Blocks applied so far in this run.
    pub blocks: u64,
    /// Transfers applied so far in this run.
    pub transfers: u64,
}

/// What one [`ingest()`] run did.
#[derive(Clone, Debug, Default)]
pub struct IngestSummary {
    /// Blocks applied.
    pub blocks: u64,
    /// Transfers applied (new rows; a replayed block adds none).
    pub transfers: u64,
    /// Reorganisations met (refused blocks followed by a fork search).
    pub reorgs: u64,
    /// Stored blocks rolled back across those reorgs.
    pub rolled_back: u64,
    /// The stored tip at the end: height and hash.
    pub tip: Option<(u64, Hash32)>,
    /// The tracing method probed and used ([`TraceMode::as_str`]); `None` only when the run
    /// failed before probing.
    pub trace_mode: Option<&'static str>,
    /// Tokens whose decimals and symbol were read from their contract.
    pub tokens_read: u64,
    /// Blocks applied in this run without their internal transfers (each is marked in the
    /// sink; see [`BlockData::internal_missing`]).
    pub blocks_without_internal_transfers: u64,
    /// The first block whose internal transfers could not be read, and why.
    pub trace_gap: Option<TraceGap>,
    /// True when the stop flag ended the run before `to`.
    pub stopped: bool,
}

/// The `internal_transfers` node capability recorded for `stats`: what this node gives.
fn internal_capability(mode: TraceMode, gap: Option<&TraceGap>) -> String {
    match (mode, gap) {
        (_, Some(g)) => match g.reason {
            TraceUnavailable::Off => "unavailable: tracing off".to_string(),
            TraceUnavailable::NoTracingApi => "unavailable: no tracing API (method not found)".to_string(),
            TraceUnavailable::NoHistoricalState => {
                format!("incomplete: historical state unavailable from block {} (not an archive node)", g.height)
            }
        },
        (TraceMode::None, None) => "unavailable".to_string(),
        (_, None) => "recorded".to_string(),
    }
}

fn sink_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> EvmError {
    EvmError::Sink(Box::new(e))
}

/// Ingest until `opts.to` (or until `stop` is set when following the head).
pub async fn ingest<S: ChainSink, T: TokenMetaStore>(
    adapter: &EvmAdapter,
    sink: &S,
    tokens: Option<&T>,
    opts: &IngestOptions,
    stop: &AtomicBool,
    mut progress: impl FnMut(Progress),
) -> Result<IngestSummary, EvmError> {
    let mut sum = IngestSummary::default();
    let chain = adapter.chain().to_string();
    let mut next = match sink.tip().map_err(sink_err)? {
        Some((h, _)) => {
            let resume = reconcile(adapter, sink, h, opts.max_reorg_depth, &mut sum).await?;
            if let Some(f) = opts.from {
                if f > resume {
                    return Err(EvmError::Gap { chain, tip: resume.saturating_sub(1), from: f });
                }
            }
            resume
        }
        None => opts.from.unwrap_or(0),
    };
    let mode = adapter.trace_mode(next).await?;
    sum.trace_mode = Some(mode.as_str());
    sink.record_node_info("trace_mode", mode.as_str()).map_err(sink_err)?;
    let mut recorded_gap = adapter.trace_gap();
    sink.record_node_info("internal_transfers", &internal_capability(mode, recorded_gap.as_ref())).map_err(sink_err)?;
    let chunk = opts.chunk_blocks.max(1);
    'outer: loop {
        if stop.load(Ordering::Relaxed) {
            sum.stopped = true;
            break;
        }
        if opts.to.is_some_and(|t| next > t) {
            break;
        }
        let head = adapter.head().await?;
        let target = opts.to.map_or(head, |t| t.min(head));
        if next > target {
            // Caught up. A reorg can replace the tip without a new height: check it.
            if let Some((h, hash)) = sink.tip().map_err(sink_err)? {
                let node = adapter.headers(&[h]).await?.pop().flatten();
                if node.map(|b| b.hash) != Some(hash) {
                    next = reconcile(adapter, sink, h, opts.max_reorg_depth, &mut sum).await?;
                    continue;
                }
            }
            if !sleep_unless_stopped(opts.poll_interval, stop).await {
                sum.stopped = true;
                break;
            }
            continue;
        }
        let window_end = target.min(next.saturating_add(chunk * opts.parallel_chunks.max(1) as u64 - 1));
        let ranges: Vec<(u64, u64)> =
            (next..=window_end).step_by(chunk as usize).map(|a| (a, (a + chunk - 1).min(window_end))).collect();
        // The window's chunks are fetched concurrently and all awaited before any is stored.
        // Processing one while the others were still pending deadlocked: the loop's own RPC
        // calls (token metadata, the fork search) wait for an in-flight permit that a chunk
        // fetched ahead holds, and that chunk, not polled meanwhile, never reads its response.
        let fetched: Vec<Result<Vec<BlockData>, EvmError>> = futures::stream::iter(ranges)
            .map(|(a, b)| fetch_with_retry(adapter, a, b))
            .buffered(opts.parallel_chunks.max(1))
            .collect()
            .await;
        for res in fetched {
            let blocks = match res {
                Ok(b) => b,
                // The head moved back (a reorg to a shorter chain): start over from the top.
                Err(EvmError::MissingBlock { .. }) => continue 'outer,
                Err(e) => return Err(e),
            };
            if let Some(t) = tokens {
                sum.tokens_read += adapter.resolve_tokens(&blocks, t).await? as u64;
            }
            let first = &blocks[0];
            let tip = sink.tip().map_err(sink_err)?;
            let parent_ok = match tip {
                Some((h, hash)) => first.block.height == h + 1 && first.block.parent == hash,
                None => true,
            };
            let applied = if parent_ok { sink.apply(&blocks).map_err(sink_err)? } else { Applied::ParentMismatch };
            match applied {
                Applied::Ok(counts) => {
                    let last = blocks.last().expect("non-empty chunk");
                    sum.blocks_without_internal_transfers +=
                        blocks.iter().filter(|b| b.internal_missing).count() as u64;
                    if recorded_gap.is_none() {
                        if let Some(g) = adapter.trace_gap() {
                            sink.record_node_info("internal_transfers", &internal_capability(mode, Some(&g)))
                                .map_err(sink_err)?;
                            recorded_gap = Some(g);
                        }
                    }
                    sum.blocks += blocks.len() as u64;
                    sum.transfers += counts.transfers;
                    sum.tip = Some((last.block.height, last.block.hash));
                    next = last.block.height + 1;
                    progress(Progress {
                        height: last.block.height,
                        head,
                        blocks: sum.blocks,
                        transfers: sum.transfers,
                    });
                    if stop.load(Ordering::Relaxed) {
                        sum.stopped = true;
                        break 'outer;
                    }
                }
                Applied::ParentMismatch => {
                    let (h, _) = tip.expect("a mismatch needs a stored tip");
                    tracing::warn!(chain = %adapter.chain(), height = first.block.height,
                        "parent hash does not match the stored tip: reorganisation");
                    next = reconcile(adapter, sink, h, opts.max_reorg_depth, &mut sum).await?;
                    continue 'outer;
                }
            }
        }
    }
    if sum.tip.is_none() {
        sum.tip = sink.tip().map_err(sink_err)?;
    }
    sum.trace_gap = adapter.trace_gap();
    Ok(sum)
}

/// Where [`refill_traces`] finds the stored blocks that lack internal transfers and adds them
/// (the store, in the binary).
pub trait RefillSink {
    /// The sink's own failure.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Heights of stored blocks in `from..=to` whose internal transfers are missing, ascending.
    fn missing_internal(&self, from: u64, to: u64) -> Result<Vec<u64>, Self::Error>;
    /// The hash of the stored block at `height`, if any.
    fn block_hash(&self, height: u64) -> Result<Option<Hash32>, Self::Error>;
    /// Add the transfers of `blocks` (stored blocks read again with traces) that are not stored
    /// yet, and clear their marks, atomically; returns how many transfers were added.
    fn fill(&self, blocks: &[BlockData]) -> Result<u64, Self::Error>;
}

/// What one [`refill_traces`] run did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RefillSummary {
    /// Stored blocks that lacked internal transfers in the range, before the run.
    pub missing_before: u64,
    /// Blocks completed.
    pub blocks: u64,
    /// Internal transfers added.
    pub transfers: u64,
    /// The tracing method used ([`TraceMode::as_str`]).
    pub trace_mode: &'static str,
    /// True when the stop flag ended the run early (what was filled stays filled).
    pub stopped: bool,
}

/// Read the stored blocks of `from..=to` that lack internal transfers again, with traces, and
/// add those transfers to the sink, a chunk of `chunk_blocks` blocks per atomic write.
///
/// The blocks are read exactly as a full ingest reads them (the same decoder and positions),
/// so a refilled store holds what a store that ingested with traces from the start holds. The
/// node must trace every block: a node without a tracing API, or without the blocks'
/// historical state (not an archive node), fails with [`EvmError::TracesUnavailable`] naming
/// the block; a block that changed since it was stored fails with [`EvmError::Reorged`].
pub async fn refill_traces<S: RefillSink>(
    adapter: &EvmAdapter,
    sink: &S,
    from: u64,
    to: u64,
    chunk_blocks: u64,
    stop: &AtomicBool,
    mut progress: impl FnMut(&RefillSummary),
) -> Result<RefillSummary, EvmError> {
    let missing = sink.missing_internal(from, to).map_err(sink_err)?;
    let mut sum = RefillSummary { missing_before: missing.len() as u64, ..RefillSummary::default() };
    let Some(&first) = missing.first() else {
        sum.trace_mode = adapter.known_trace_mode().unwrap_or(TraceMode::None).as_str();
        return Ok(sum);
    };
    let mode = adapter.trace_mode(first).await?;
    sum.trace_mode = mode.as_str();
    if mode == TraceMode::None {
        let gap = adapter.trace_gap().unwrap_or(TraceGap {
            height: first,
            reason: TraceUnavailable::NoTracingApi,
            message: String::new(),
        });
        return Err(EvmError::TracesUnavailable(gap));
    }
    // Contiguous runs of missing heights, cut into chunks.
    let chunk = chunk_blocks.max(1);
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for h in missing {
        match ranges.last_mut() {
            Some((a, b)) if *b + 1 == h && h - *a < chunk => *b = h,
            _ => ranges.push((h, h)),
        }
    }
    for (a, b) in ranges {
        if stop.load(Ordering::Relaxed) {
            sum.stopped = true;
            break;
        }
        let blocks = fetch_with_retry(adapter, a, b).await?;
        for data in &blocks {
            let h = data.block.height;
            if data.internal_missing {
                let gap = adapter.trace_gap().filter(|g| g.height == h).unwrap_or(TraceGap {
                    height: h,
                    reason: TraceUnavailable::NoHistoricalState,
                    message: String::new(),
                });
                return Err(EvmError::TracesUnavailable(gap));
            }
            let stored = sink.block_hash(h).map_err(sink_err)?;
            if let Some(stored) = stored.filter(|s| *s != data.block.hash) {
                return Err(EvmError::Reorged { height: h, stored, node: data.block.hash });
            }
        }
        sum.transfers += sink.fill(&blocks).map_err(sink_err)?;
        sum.blocks += blocks.len() as u64;
        progress(&sum);
    }
    Ok(sum)
}

async fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let step = Duration::from_millis(50);
    let mut left = d;
    while !left.is_zero() {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let s = step.min(left);
        tokio::time::sleep(s).await;
        left -= s;
    }
    !stop.load(Ordering::Relaxed)
}

async fn fetch_with_retry(adapter: &EvmAdapter, a: u64, b: u64) -> Result<Vec<BlockData>, EvmError> {
    let mut attempt = 0u32;
    loop {
        match adapter.fetch_blocks(a, b).await {
            Err(e) if e.is_retryable() && attempt < 8 => {
                tracing::debug!(from = a, to = b, error = %e, "retrying block fetch");
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 << attempt.min(6))).await;
            }
            other => return other,
        }
    }
}

/// Compare the stored chain with the node from `tip` down (the shared [`ForkSearch`], fed
/// with windows of node headers); roll back to the highest height where both agree and return
/// the height to resume at.
async fn reconcile<S: ChainSink>(
    adapter: &EvmAdapter,
    sink: &S,
    tip: u64,
    max_depth: u64,
    sum: &mut IngestSummary,
) -> Result<u64, EvmError> {
    let mut search = ForkSearch::new(tip, max_depth);
    let fork = loop {
        let heights = search.next_window(16)?;
        let nodes: Vec<Option<Hash32>> =
            adapter.headers(&heights).await?.into_iter().map(|b| b.map(|b| b.hash)).collect();
        if let Some(h) = search.check(&heights, &nodes, |h| sink.block_hash(h)).map_err(sink_err)? {
            break h;
        }
    };
    if fork < tip {
        let removed = sink.rollback_to(fork).map_err(sink_err)?;
        tracing::warn!(chain = %adapter.chain(), fork_point = fork, removed, "rolled back orphaned blocks");
        sum.reorgs += 1;
        sum.rolled_back += removed;
    }
    Ok(fork + 1)
}
