//! The HTTP API ingest loop: a block range from `/wallet/getblockbynum` (+ transaction infos)
//! into any [`ChainSink`], batch by batch, with the shared fork search on a parent mismatch.

use std::collections::BTreeSet;

use chaintrace_model::sink::{Applied, ChainSink, ForkSearch};
use chaintrace_model::{BlockData, Hash32};
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::decode::{block_logs, block_ref, decode_block, Trc20Source, TxLog};
use crate::{HttpApi, TronError};

/// What to ingest.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    /// First height (default: after the stored tip, or 0).
    pub from: Option<u64>,
    /// Last height (default: the node's head).
    pub to: Option<u64>,
    /// Blocks per atomic batch.
    pub chunk_blocks: u64,
    /// Whether to read `/wallet/gettransactioninfobyblocknum` (TRC-20 logs, internal transfers).
    pub tx_info: bool,
    /// Deepest reorganisation searched.
    pub max_reorg_depth: u64,
    /// Keep the logs of these contracts (with transaction info) in [`IngestSummary::logs`].
    pub keep_logs_of: BTreeSet<[u8; 20]>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            from: None,
            to: None,
            chunk_blocks: 50,
            tx_info: true,
            max_reorg_depth: 200,
            keep_logs_of: BTreeSet::new(),
        }
    }
}

/// The kept logs of one applied block.
#[derive(Clone, Debug)]
pub struct BlockLogs {
    /// Height.
    pub height: u64,
    /// The block's id, to tell the applied block from one a reorganisation replaced.
    pub hash: Hash32,
    /// Its logs from the contracts asked for, in block order.
    pub logs: Vec<TxLog>,
}

/// What an ingest did.
#[derive(Clone, Debug, Default)]
pub struct IngestSummary {
    /// Blocks newly stored.
    pub blocks: u64,
    /// Transfers newly stored.
    pub transfers: u64,
    /// Reorganisations handled.
    pub reorgs: u64,
    /// Blocks rolled back.
    pub rolled_back: u64,
    /// The stored tip at the end.
    pub tip: Option<(u64, Hash32)>,
    /// Where TRC-20 transfers came from (`logs` or `calldata`).
    pub trc20_source: Option<&'static str>,
    /// The lowest height this run applied: every stored block from there to [`Self::tip`] is
    /// one this run read (a rollback re-reads the heights above its fork point).
    pub applied_from: Option<u64>,
    /// The logs of [`IngestOptions::keep_logs_of`] in the applied blocks that have any, including
    /// blocks a later reorganisation replaced (compare [`BlockLogs::hash`] with the store's).
    pub logs: Vec<BlockLogs>,
}

fn sink_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> TronError {
    TronError::Sink(Box::new(e))
}

/// One block decoded, with the logs of `keep` contracts.
type Fetched = (BlockData, Trc20Source, Vec<TxLog>);

async fn fetch(
    api: &HttpApi,
    height: u64,
    head: u64,
    tx_info: bool,
    keep: &BTreeSet<[u8; 20]>,
) -> Result<Fetched, TronError> {
    let block = api.block(height).await?;
    let infos = if tx_info { Some(api.tx_infos(height).await?) } else { None };
    let logs = match (&infos, keep.is_empty()) {
        (Some(i), false) => block_logs(i).into_iter().filter(|l| keep.contains(&l.address)).collect(),
        _ => Vec::new(),
    };
    let (data, source) = decode_block(&block, infos.as_deref(), height)?.ok_or(TronError::Missing { height, head })?;
    Ok((data, source, logs))
}

/// Ingest `opts.from..=opts.to` from the HTTP API into `sink`.
pub async fn ingest_http<S: ChainSink>(
    api: &HttpApi,
    chain: &str,
    sink: &S,
    opts: &IngestOptions,
    mut progress: impl FnMut(u64, u64),
) -> Result<IngestSummary, TronError> {
    let mut sum = IngestSummary::default();
    let head = match opts.to {
        Some(t) => t,
        None => api.head().await?,
    };
    let tip = sink.tip().map_err(sink_err)?;
    let mut next = match (tip, opts.from) {
        (Some((h, _)), Some(f)) if f > h + 1 => {
            return Err(TronError::Gap { chain: chain.to_string(), tip: h, from: f });
        }
        (Some((h, _)), _) => h + 1,
        (None, f) => f.unwrap_or(0),
    };
    while next <= head {
        let end = head.min(next + opts.chunk_blocks.max(1) - 1);
        let fetched: Vec<Fetched> = stream::iter(next..=end)
            .map(|h| fetch(api, h, head, opts.tx_info, &opts.keep_logs_of))
            .buffered(8)
            .try_collect()
            .await?;
        sum.trc20_source = fetched.first().map(|(_, s, _)| match s {
            Trc20Source::Logs => "logs",
            Trc20Source::Calldata => "calldata",
        });
        let mut kept = Vec::new();
        let mut blocks = Vec::with_capacity(fetched.len());
        for (b, _, logs) in fetched {
            if !logs.is_empty() {
                kept.push(BlockLogs { height: b.block.height, hash: b.block.hash, logs });
            }
            blocks.push(b);
        }
        match sink.apply(&blocks).map_err(sink_err)? {
            Applied::Ok(c) => {
                sum.blocks += c.blocks;
                sum.transfers += c.transfers;
                sum.logs.extend(kept);
                sum.applied_from = Some(sum.applied_from.map_or(next, |a| a.min(next)));
                next = end + 1;
                progress(end, head);
            }
            Applied::ParentMismatch => {
                let (stored_tip, _) = sink.tip().map_err(sink_err)?.ok_or(TronError::Decode {
                    height: next,
                    message: "the store refused the block but has no tip".into(),
                })?;
                let mut search = ForkSearch::new(stored_tip, opts.max_reorg_depth);
                let fork = loop {
                    let heights = search.next_window(16)?;
                    let mut remote = Vec::with_capacity(heights.len());
                    for &h in &heights {
                        let b = api.block(h).await?;
                        remote.push(block_ref(&b, h)?.map(|r| r.hash));
                    }
                    if let Some(f) = search.check(&heights, &remote, |h| sink.block_hash(h)).map_err(sink_err)? {
                        break f;
                    }
                };
                let removed = sink.rollback_to(fork).map_err(sink_err)?;
                tracing::info!(chain, fork, removed, "reorganisation: rolled back to the fork point");
                sum.reorgs += 1;
                sum.rolled_back += removed;
                next = fork + 1;
            }
        }
    }
    sum.tip = sink.tip().map_err(sink_err)?;
    Ok(sum)
}

/// The block at `height` (its id) and its logs of `keep` contracts, read on their own: for a
/// scan of blocks an ingest run did not read.
pub async fn logs_at(api: &HttpApi, height: u64, keep: &BTreeSet<[u8; 20]>) -> Result<BlockLogs, TronError> {
    let block = api.block(height).await?;
    let bref = block_ref(&block, height)?.ok_or(TronError::Missing { height, head: height })?;
    let infos = api.tx_infos(height).await?;
    let logs = block_logs(&infos).into_iter().filter(|l| keep.contains(&l.address)).collect();
    Ok(BlockLogs { height, hash: bref.hash, logs })
}
