//! The HTTP API ingest loop: a block range from `/wallet/getblockbynum` (+ transaction infos)
//! into any [`ChainSink`], batch by batch, with the shared fork search on a parent mismatch.

use chaintrace_model::sink::{Applied, ChainSink, ForkSearch};
use chaintrace_model::{BlockData, Hash32};
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::decode::{block_ref, decode_block, Trc20Source};
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
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions { from: None, to: None, chunk_blocks: 50, tx_info: true, max_reorg_depth: 200 }
    }
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
}

fn sink_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> TronError {
    TronError::Sink(Box::new(e))
}

async fn fetch(api: &HttpApi, height: u64, head: u64, tx_info: bool) -> Result<(BlockData, Trc20Source), TronError> {
    let block = api.block(height).await?;
    let infos = if tx_info { Some(api.tx_infos(height).await?) } else { None };
    decode_block(&block, infos.as_deref(), height)?.ok_or(TronError::Missing { height, head })
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
        let fetched: Vec<(BlockData, Trc20Source)> =
            stream::iter(next..=end).map(|h| fetch(api, h, head, opts.tx_info)).buffered(8).try_collect().await?;
        sum.trc20_source = fetched.first().map(|(_, s)| match s {
            Trc20Source::Logs => "logs",
            Trc20Source::Calldata => "calldata",
        });
        let blocks: Vec<BlockData> = fetched.into_iter().map(|(b, _)| b).collect();
        match sink.apply(&blocks).map_err(sink_err)? {
            Applied::Ok(c) => {
                sum.blocks += c.blocks;
                sum.transfers += c.transfers;
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
