//! After a node ingest: the stablecoin issuers' freeze events of the ingested range become
//! `frozen` labels (`chaintrace_labels::freeze`), recognised on the issuers' contracts of the
//! chain (built in, plus the chain's `freeze_contracts`) by the four event topics. The events
//! come from `eth_getLogs` (one call per range window) or, on a TRON endpoint read through its
//! HTTP API, from the `/wallet/gettransactioninfobyblocknum` logs the ingest read anyway.
//!
//! Reorganisations: every event is kept in the store's freeze journal with the id of its block,
//! and the chain's freeze labels (source `freeze:CHAIN`) are the journal replayed in
//! `(block, log index)` order, rewritten in one write after each scan. A journal event whose
//! block is no longer the stored one at its height (rolled back) is dropped, and when the last
//! scanned block itself was replaced, the scan starts again up to the deepest reorganisation
//! ingest follows below it. So a freeze in a rolled-back block is undone, and an unfreeze in one
//! is too (the address is frozen again), whenever the rollback happened (even in a run that
//! crashed before its scan).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context as _, Result};
use chaintrace_evm::EvmAdapter;
use chaintrace_labels::freeze::{self, FreezeEvent, Issuer};
use chaintrace_model::{Address, ChainKind, ChainSpec, Hash32};
use chaintrace_store::Store;
use chaintrace_tron::{BlockLogs, HttpApi};
use futures::{StreamExt as _, TryStreamExt as _};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Blocks per `eth_getLogs` window.
const WINDOW: u64 = 2_000;

/// The issuer contracts of `spec`'s chain: built-in ones by chain name, then the config's.
fn contracts(spec: &ChainSpec) -> Result<BTreeMap<[u8; 20], Issuer>> {
    let mut out = BTreeMap::new();
    for (chain, hex, issuer) in freeze::ISSUER_CONTRACTS {
        if chain == spec.name {
            if let Ok(Address::Evm(b)) = Address::parse_evm(&format!("0x{hex}")) {
                out.insert(b, issuer);
            }
        }
    }
    for (text, issuer) in &spec.freeze_contracts {
        let a = Address::parse_for(spec.kind, text)
            .with_context(|| format!("chain {}: freeze_contracts key {text:?}", spec.name))?;
        let b = match a {
            Address::Evm(b) | Address::Tron(b) => b,
            _ => bail!("chain {}: freeze_contracts key {text:?} is not a contract address", spec.name),
        };
        let issuer: Issuer =
            issuer.parse().map_err(|e: String| anyhow::anyhow!("chain {}: freeze_contracts: {e}", spec.name))?;
        out.insert(b, issuer);
    }
    Ok(out)
}

fn word(text: &str) -> Option<[u8; 32]> {
    let mut w = [0u8; 32];
    hex::decode_to_slice(text.trim_start_matches("0x"), &mut w).ok()?;
    Some(w)
}

/// How many blocks below the last scanned one a replaced branch may reach (the ingest loops'
/// deepest reorganisation).
const MAX_REORG_DEPTH: u64 = 200;

/// Where a scan reads freeze events from.
pub(super) enum EventSource<'a> {
    /// `eth_getLogs` on a JSON-RPC node.
    Rpc(&'a EvmAdapter),
    /// A TRON HTTP API with transaction info: the logs an ingest run kept (blocks `applied_from`
    /// up to the tip), and the endpoint for any block below those.
    Http { api: &'a HttpApi, kept: &'a [BlockLogs], applied_from: Option<u64> },
}

impl EventSource<'_> {
    fn name(&self) -> &'static str {
        match self {
            EventSource::Rpc(_) => "eth_getLogs",
            EventSource::Http { .. } => "transaction info",
        }
    }
}

/// The freeze contracts of the chain, as the filter the HTTP ingest keeps logs of.
pub(super) fn contract_set(spec: &ChainSpec) -> Result<BTreeSet<[u8; 20]>> {
    Ok(contracts(spec)?.into_keys().collect())
}

/// [`scan`], but a node that refuses `eth_getLogs` (or answers it badly) does not fail the
/// ingest that already succeeded: the freeze labels are left as they were, a warning is logged
/// and `freeze_events=unavailable` is recorded as a node capability (shown by `stats`); the
/// next scan starts where the last good one ended. Store errors still fail.
pub(super) async fn scan_or_warn(
    source: EventSource<'_>,
    store: &Store,
    spec: &ChainSpec,
    from: u64,
    to: u64,
) -> Result<Option<(usize, usize)>> {
    let via = source.name();
    match scan(source, store, spec, from, to).await {
        Ok(r) => {
            if r.is_some() {
                store.put_node_capability(&spec.name, "freeze_events", via)?;
            }
            Ok(r)
        }
        Err(e) if e.chain().any(|c| c.downcast_ref::<chaintrace_store::StoreError>().is_some()) => Err(e),
        Err(e) => {
            tracing::warn!(chain = %spec.name, error = %crate::output::one_line(&e), "freeze events not read");
            store.put_node_capability(&spec.name, "freeze_events", "unavailable")?;
            Ok(None)
        }
    }
}

/// Where the last scan ended.
#[derive(Serialize, Deserialize)]
struct Progress {
    from: u64,
    to: u64,
    to_hash: String,
}

/// One journal row's value (block and log index are its key).
#[derive(Serialize, Deserialize)]
struct Entry {
    issuer: String,
    address: String,
    added: bool,
    tx: String,
    block_hash: String,
}

/// One event read from the node, with its block's id.
struct Found {
    event: FreezeEvent,
    block_hash: Hash32,
}

/// Bring the chain's freeze journal up to the stored tip `to` (`from`: where this run's
/// ingest started, used for the first scan) and rewrite its `frozen` labels from it; returns
/// `(events read, frozen addresses after)`, or `None` when the chain has no issuer contract.
pub(super) async fn scan(
    source: EventSource<'_>,
    store: &Store,
    spec: &ChainSpec,
    from: u64,
    to: u64,
) -> Result<Option<(usize, usize)>> {
    let known = contracts(spec)?;
    if known.is_empty() {
        return Ok(None);
    }
    let chain = spec.name.as_str();
    let (progress, rows) = store.freeze_journal(chain)?;
    let progress: Option<Progress> = progress.and_then(|p| serde_json::from_slice(&p).ok());
    let stored_hash = |h: u64| -> Result<Option<Hash32>> { Ok(store.block_hash(chain, h)?) };
    // Where to (re)start: after the last scanned block while it is still the stored one; else
    // from as deep as a reorganisation can have reached below it.
    let (first, lo) = match &progress {
        None => (from, from),
        Some(p) => {
            let same = stored_hash(p.to)?.is_some_and(|h| Hash32::parse(&p.to_hash) == Some(h));
            // Not below the first scanned block: blocks under it were never scanned (nor, on the
            // HTTP API, need a node to hold them).
            let lo = if same { p.to + 1 } else { p.to.saturating_sub(MAX_REORG_DEPTH).max(p.from) };
            (p.from, lo.min(from.max(p.from)))
        }
    };
    let found = if lo <= to { read(&source, &known, spec, lo, to).await? } else { Vec::new() };
    let n_read = found.len();

    // The journal: drop rows of blocks no longer stored as they were and rows of the rescanned
    // range; add what was read (from blocks that are the stored ones).
    let mut remove = Vec::new();
    let mut keep: Vec<FreezeEvent> = Vec::new();
    for ((block, index), bytes) in &rows {
        let entry: Option<Entry> = serde_json::from_slice(bytes).ok();
        let valid = match &entry {
            Some(e) if *block < lo || *block > to => {
                *block <= to && stored_hash(*block)?.is_some_and(|h| Hash32::parse(&e.block_hash) == Some(h))
            }
            _ => false,
        };
        match (valid, entry.and_then(|e| to_event(spec, *block, *index, &e))) {
            (true, Some(ev)) => keep.push(ev),
            _ => remove.push((*block, *index)),
        }
    }
    let mut add = Vec::new();
    for f in found {
        if stored_hash(f.event.block)? != Some(f.block_hash) {
            continue; // a block the store does not hold (replaced since it was read)
        }
        let e = Entry {
            issuer: f.event.issuer.name().to_string(),
            address: f.event.address.to_string(),
            added: f.event.added,
            tx: f.event.tx.clone(),
            block_hash: f.block_hash.to_hex(),
        };
        let bytes = serde_json::to_vec(&e).context("encoding a freeze journal row")?;
        add.push(((f.event.block, f.event.log_index), bytes));
        keep.push(f.event);
    }
    let to_hash = stored_hash(to)?.map(|h| h.to_hex()).unwrap_or_default();
    let progress = Progress { from: first.min(lo), to, to_hash };
    let progress = serde_json::to_vec(&progress).context("encoding the freeze scan progress")?;
    store.write_freeze_journal(chain, &remove, &add, &progress)?;

    let source = freeze::source(chain);
    let next = freeze::apply(chain, Vec::new(), &keep);
    store.replace_labels_many(&[(source.as_str(), next.as_slice())])?;
    Ok(Some((n_read, next.len())))
}

fn to_event(spec: &ChainSpec, block: u64, log_index: u64, e: &Entry) -> Option<FreezeEvent> {
    Some(FreezeEvent {
        issuer: e.issuer.parse().ok()?,
        address: Address::parse_for(spec.kind, &e.address).ok()?,
        added: e.added,
        tx: e.tx.clone(),
        block,
        log_index,
    })
}

/// The freeze events of blocks `lo..=to` from `source`.
async fn read(
    source: &EventSource<'_>,
    known: &BTreeMap<[u8; 20], Issuer>,
    spec: &ChainSpec,
    lo: u64,
    to: u64,
) -> Result<Vec<Found>> {
    let account = |b: [u8; 20]| if spec.kind == ChainKind::Tron { Address::Tron(b) } else { Address::Evm(b) };
    let mut out = Vec::new();
    match source {
        EventSource::Rpc(adapter) => {
            let addresses: Vec<String> = known.keys().map(|b| format!("0x{}", hex::encode(b))).collect();
            let topic0: Vec<String> =
                freeze::topics().iter().map(|(t, _, _)| format!("0x{}", hex::encode(t))).collect();
            let mut w = lo;
            while w <= to {
                let hi = to.min(w.saturating_add(WINDOW - 1));
                let filter = json!([{
                    "fromBlock": format!("0x{w:x}"),
                    "toBlock": format!("0x{hi:x}"),
                    "address": addresses,
                    "topics": [topic0],
                }]);
                let logs: Vec<Value> = adapter
                    .rpc()
                    .call("eth_getLogs", filter)
                    .await
                    .with_context(|| format!("reading freeze events of blocks {w}..={hi}"))?;
                for log in &logs {
                    let Some(Address::Evm(c)) = log["address"].as_str().and_then(|a| Address::parse_evm(a).ok()) else {
                        continue;
                    };
                    let Some(&issuer) = known.get(&c) else { continue };
                    let topics: Vec<[u8; 32]> = log["topics"]
                        .as_array()
                        .map(|t| t.iter().filter_map(|x| x.as_str().and_then(word)).collect())
                        .unwrap_or_default();
                    let data =
                        hex::decode(log["data"].as_str().unwrap_or("0x").trim_start_matches("0x")).unwrap_or_default();
                    let Some((added, address)) = freeze::decode_log(issuer, &topics, &data, account) else { continue };
                    let num = |k: &str| {
                        log[k].as_str().and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
                    };
                    let Some(block_hash) = log["blockHash"].as_str().and_then(Hash32::parse) else { continue };
                    let tx = log["transactionHash"].as_str().unwrap_or("").to_ascii_lowercase();
                    let tx = if spec.kind == ChainKind::Tron { tx.trim_start_matches("0x").to_string() } else { tx };
                    let event = FreezeEvent {
                        issuer,
                        address,
                        added,
                        tx,
                        block: num("blockNumber").unwrap_or(w),
                        log_index: num("logIndex").unwrap_or(0),
                    };
                    out.push(Found { event, block_hash });
                }
                w = hi + 1;
            }
        }
        EventSource::Http { api, kept, applied_from } => {
            let keep: BTreeSet<[u8; 20]> = known.keys().copied().collect();
            let mut blocks: Vec<BlockLogs> = kept.iter().filter(|b| (lo..=to).contains(&b.height)).cloned().collect();
            // Blocks this run did not read: read their logs now.
            let read_to = applied_from.map_or(to, |a| a.saturating_sub(1).min(to));
            if applied_from.is_none_or(|a| a > lo) {
                let keep = &keep;
                let read: Vec<BlockLogs> = futures::stream::iter(lo..=read_to)
                    .map(|h| async move {
                        chaintrace_tron::logs_at(api, h, keep)
                            .await
                            .with_context(|| format!("reading freeze events of block {h}"))
                    })
                    .buffered(8)
                    .try_collect()
                    .await?;
                blocks.extend(read);
            }
            for b in blocks {
                for l in &b.logs {
                    let Some(&issuer) = known.get(&l.address) else { continue };
                    let Some((added, address)) = freeze::decode_log(issuer, &l.topics, &l.data, account) else {
                        continue;
                    };
                    let event = FreezeEvent {
                        issuer,
                        address,
                        added,
                        tx: l.tx.clone(),
                        block: b.height,
                        log_index: l.log_index,
                    };
                    out.push(Found { event, block_hash: b.hash });
                }
            }
        }
    }
    Ok(out)
}
