//! The HTTP API ingest loop: a block range from `/wallet/getblockbynum` (+ transaction infos)
//! into any [`ChainSink`], batch by batch, with the shared fork search on a parent mismatch.

use std::collections::BTreeSet;

use chaintrace_model::sink::{Applied, ChainSink, ForkSearch};
use chaintrace_model::{BlockData, Hash32};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::Value;

use crate::decode::{block_logs, block_ref, decode_block, Trc20Source, TxLog};
use crate::http::RANGE_LIMIT;
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
    /// Requests of one batch in flight at once (the client's own limit still applies).
    pub parallel: usize,
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
            parallel: 16,
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
    /// Whether the endpoint offers `/wallet/getblockbylimitnext` (`None`: not asked).
    pub block_ranges: Option<bool>,
    /// The logs of [`IngestOptions::keep_logs_of`] in the applied blocks that have any, including
    /// blocks a later reorganisation replaced (compare [`BlockLogs::hash`] with the store's).
    pub logs: Vec<BlockLogs>,
}

fn sink_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> TronError {
    TronError::Sink(Box::new(e))
}

/// One block decoded, with the logs of `keep` contracts.
type Fetched = (BlockData, Trc20Source, Vec<TxLog>);

/// Blocks `from..=to` as the node gave them: through `/wallet/getblockbylimitnext` while the
/// endpoint offers it (`range`: unknown, then found out on the first call), else one by one.
/// Heights a range answer left out are asked one by one (so a missing block is reported as
/// such).
async fn raw_blocks(
    api: &HttpApi,
    from: u64,
    to: u64,
    parallel: usize,
    range: &mut Option<bool>,
) -> Result<Vec<Value>, TronError> {
    let mut by_height = std::collections::BTreeMap::new();
    if *range != Some(false) {
        let windows: Vec<(u64, u64)> =
            (from..=to).step_by(RANGE_LIMIT as usize).map(|s| (s, to.min(s + RANGE_LIMIT - 1) + 1)).collect();
        let answers: Vec<Option<Vec<Value>>> =
            stream::iter(windows).map(|(s, e)| api.block_range(s, e)).buffered(parallel.max(1)).try_collect().await?;
        if answers.iter().all(Option::is_some) {
            *range = Some(true);
            for b in answers.into_iter().flatten().flatten() {
                if let Some(n) = b.pointer("/block_header/raw_data/number").and_then(Value::as_u64) {
                    if (from..=to).contains(&n) {
                        by_height.insert(n, b);
                    }
                }
            }
        } else {
            tracing::debug!("the endpoint has no /wallet/getblockbylimitnext: reading blocks one by one");
            *range = Some(false);
        }
    }
    let missing: Vec<u64> = (from..=to).filter(|h| !by_height.contains_key(h)).collect();
    let single: Vec<(u64, Value)> = stream::iter(missing)
        .map(|h| async move { Ok::<_, TronError>((h, api.block(h).await?)) })
        .buffered(parallel.max(1))
        .try_collect()
        .await?;
    by_height.extend(single);
    Ok(by_height.into_values().collect())
}

async fn fetch_chunk(
    api: &HttpApi,
    from: u64,
    to: u64,
    head: u64,
    opts: &IngestOptions,
    range: &mut Option<bool>,
) -> Result<Vec<Fetched>, TronError> {
    let parallel = opts.parallel.max(1);
    let infos = async {
        if !opts.tx_info {
            return Ok(vec![None; (to - from + 1) as usize]);
        }
        stream::iter(from..=to)
            .map(|h| async move { api.tx_infos(h).await.map(Some) })
            .buffered(parallel)
            .try_collect::<Vec<Option<Vec<Value>>>>()
            .await
    };
    let (blocks, infos) = futures::try_join!(raw_blocks(api, from, to, parallel, range), infos)?;
    let keep = &opts.keep_logs_of;
    let mut out = Vec::with_capacity(blocks.len());
    for ((height, block), infos) in (from..=to).zip(&blocks).zip(infos) {
        let logs = match (&infos, keep.is_empty()) {
            (Some(i), false) => block_logs(i).into_iter().filter(|l| keep.contains(&l.address)).collect(),
            _ => Vec::new(),
        };
        let (data, source) =
            decode_block(block, infos.as_deref(), height)?.ok_or(TronError::Missing { height, head })?;
        out.push((data, source, logs));
    }
    Ok(out)
}

/// [`fetch_chunk`] on owned arguments, for a prefetch task.
async fn fetch_owned(
    api: HttpApi,
    from: u64,
    to: u64,
    head: u64,
    opts: IngestOptions,
    mut range: Option<bool>,
) -> Result<(Vec<Fetched>, Option<bool>), TronError> {
    let f = fetch_chunk(&api, from, to, head, &opts, &mut range).await?;
    Ok((f, range))
}

/// What a read-ahead task gives.
type Ahead = Result<(Vec<Fetched>, Option<bool>), TronError>;

/// A batch being read while the one before it is written; dropping it stops the read (an
/// error or a reorganisation leaves no request running).
struct Prefetch {
    from: u64,
    to: u64,
    task: Option<tokio::task::JoinHandle<Ahead>>,
}

impl Prefetch {
    async fn join(mut self) -> Ahead {
        let task = self.task.take().ok_or_else(|| TronError::Decode {
            height: self.from,
            message: "the read-ahead task was already joined".into(),
        })?;
        task.await
            .map_err(|e| TronError::Decode { height: self.from, message: format!("the read-ahead task failed: {e}") })?
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Ingest `opts.from..=opts.to` from the HTTP API into `sink`. While one batch is written, the
/// next one is read (a task on the runtime), so the endpoint's latency and the store's writes
/// overlap; after a reorganisation the read-ahead batch is dropped.
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
    let mut range = None;
    let chunk = opts.chunk_blocks.max(1);
    let mut ahead: Option<Prefetch> = None;
    while next <= head {
        let end = head.min(next + chunk - 1);
        let fetched = match ahead.take() {
            Some(p) if p.from == next && p.to == end => {
                let (f, r) = p.join().await?;
                range = r.or(range);
                f
            }
            other => {
                drop(other);
                fetch_chunk(api, next, end, head, opts, &mut range).await?
            }
        };
        sum.block_ranges = range;
        if end < head {
            let (from, to) = (end + 1, head.min(end + chunk));
            let task = tokio::spawn(fetch_owned(api.clone(), from, to, head, opts.clone(), range));
            ahead = Some(Prefetch { from, to, task: Some(task) });
        }
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
                drop(ahead.take());
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
