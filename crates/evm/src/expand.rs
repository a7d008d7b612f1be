//! On-demand expansion: one address's transfers without a full index.
//!
//! - Token transfers: `eth_getLogs` with the ERC-20 `Transfer` topic and the address as the
//!   sender topic, then as the recipient topic. Every node offers it; most cap the block range
//!   or the result size, so the range is split in halves whenever the node refuses it and grown
//!   again after successes.
//! - Native transfers (top-level and internal): an address-indexed method where the node has
//!   one — `trace_filter` (Erigon, Reth, Nethermind, OpenEthereum, anvil) or Otterscan's
//!   `ots_searchTransactionsBefore` (Erigon, anvil). The blocks it names are then fetched whole
//!   and decoded by the same code as ingest, so positions (and the store's keys) are identical
//!   to a full ingest. Plain Geth has neither: native history is then unavailable on demand.
//!
//! The result is partial [`BlockData`] (only transfers touching the address) meant for
//! `Store::put_unlinked`.

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::{B256, U64};
use chaintrace_model::{Address, Asset, BlockData, Position, Transfer};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::adapter::{qty, EvmAdapter};
use crate::decode::{self, LOG_SUB_BASE, TRANSFER_TOPIC};
use crate::error::{EvmError, RpcError};
use crate::types::RpcLog;

/// Where native transfers came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NativeSource {
    /// `trace_filter` (Erigon, Reth, OpenEthereum/Nethermind with tracing).
    TraceFilter,
    /// Otterscan's `ots_searchTransactionsBefore` (Erigon with Otterscan).
    Otterscan,
    /// The node has no address-indexed method: only token transfers were fetched.
    Unavailable,
}

/// What [`expand_address`] fetches.
#[derive(Clone, Debug)]
pub struct ExpandOptions {
    /// First block height searched.
    pub from: u64,
    /// Last block height searched (inclusive; `u64::MAX` for up to the head).
    pub to: u64,
    /// First `eth_getLogs` range tried (blocks); halved on refusal, doubled after success.
    pub initial_range: u64,
    /// Smallest range a refused `eth_getLogs` query is split down to (at least 1 block).
    pub min_range: u64,
    /// Also fetch native transfers where the node has an address index.
    pub native: bool,
}

impl Default for ExpandOptions {
    fn default() -> Self {
        ExpandOptions { from: 0, to: u64::MAX, initial_range: 100_000, min_range: 1, native: true }
    }
}

/// One address's history: the blocks holding its transfers, ready for the sink.
#[derive(Clone, Debug)]
pub struct Expansion {
    /// Partial blocks holding only this address's transfers, by height.
    pub blocks: Vec<BlockData>,
    /// Where its native transfers came from.
    pub native: NativeSource,
    /// `eth_getLogs` calls made (after splitting).
    pub log_queries: u64,
}

fn topic_of(a: &Address) -> Option<String> {
    match a {
        Address::Evm(b) => Some(format!("0x{}{}", "0".repeat(24), hex::encode(b))),
        _ => None,
    }
}

/// Fetch the transfers of `addr` in `opts.from..=opts.to` (clipped to the head).
pub async fn expand_address(adapter: &EvmAdapter, addr: &Address, opts: &ExpandOptions) -> Result<Expansion, EvmError> {
    let topic = topic_of(addr).ok_or_else(|| EvmError::NotEvmAddress(addr.to_string()))?;
    let to = opts.to.min(adapter.head().await?);
    let mut logs = Vec::new();
    let mut queries = 0;
    for topics in
        [json!([format!("{TRANSFER_TOPIC:#x}"), topic]), json!([format!("{TRANSFER_TOPIC:#x}"), Value::Null, topic])]
    {
        logs.extend(get_logs_chunked(adapter, opts, to, &topics, &mut queries).await?);
    }
    // Token transfers straight from the logs; block identities from headers.
    let mut by_block: BTreeMap<u64, Vec<Transfer>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let heights: BTreeSet<u64> = logs.iter().filter_map(|l| l.block_number.map(|n| n.to::<u64>())).collect();
    let heights: Vec<u64> = heights.into_iter().collect();
    let headers = adapter.headers(&heights).await?;
    let header_of: BTreeMap<u64, _> = heights.iter().copied().zip(headers).collect();
    for l in &logs {
        let Some((token, from, to_, amount)) = decode::decode_transfer_log(l) else { continue };
        let (Some(h), Some(tx), Some(ti), Some(li)) =
            (l.block_number, l.transaction_hash, l.transaction_index, l.log_index)
        else {
            continue;
        };
        let h = h.to::<u64>();
        let Some(Some(hdr)) = header_of.get(&h) else { continue };
        if l.block_hash.is_some_and(|bh| decode::hash32(&bh) != hdr.hash) {
            return Err(EvmError::Inconsistent {
                height: h,
                what: "a log's block hash is not the canonical block (reorg during expansion)".into(),
            });
        }
        let li = li.to::<u64>();
        if !seen.insert((h, ti.to::<u64>(), li)) {
            continue; // a self-transfer matches both queries
        }
        let sub = LOG_SUB_BASE
            + u32::try_from(li).map_err(|_| EvmError::Inconsistent { height: h, what: format!("log index {li}") })?;
        by_block.entry(h).or_default().push(Transfer {
            tx: decode::hash32(&tx),
            height: h,
            pos: Position { tx_index: ti.to::<u64>() as u32, sub },
            time: hdr.time,
            from: decode::addr(&from),
            to: decode::addr(&to_),
            asset: Asset::Token(token.0 .0),
            amount,
        });
    }
    let mut refs: BTreeMap<u64, chaintrace_model::BlockRef> =
        header_of.iter().filter_map(|(h, r)| r.map(|r| (*h, r))).collect();

    // Native transfers via an address-indexed method, then whole blocks.
    let mut native = NativeSource::Unavailable;
    if opts.native {
        let found = native_blocks(adapter, addr, opts.from, to).await?;
        if let Some((src, blocks)) = found {
            native = src;
            for h in blocks {
                for b in adapter.fetch_blocks(h, h).await? {
                    refs.insert(h, b.block);
                    let entry = by_block.entry(h).or_default();
                    for t in b.transfers {
                        if t.asset == Asset::Native && (&t.from == addr || &t.to == addr) {
                            entry.push(t);
                        }
                    }
                }
            }
        } else {
            tracing::warn!(address = %addr, "the node offers neither trace_filter nor ots_searchTransactionsBefore: native transfers of the address are not available on demand");
        }
    }
    let mut blocks = Vec::new();
    for (h, mut ts) in by_block {
        let Some(r) = refs.get(&h) else { continue };
        ts.sort_by_key(|t| t.pos);
        ts.dedup_by_key(|t| t.pos);
        let mut b = BlockData::new(*r);
        b.transfers = ts;
        blocks.push(b);
    }
    Ok(Expansion { blocks, native, log_queries: queries })
}

async fn get_logs_chunked(
    adapter: &EvmAdapter,
    opts: &ExpandOptions,
    to: u64,
    topics: &Value,
    queries: &mut u64,
) -> Result<Vec<RpcLog>, EvmError> {
    let mut out = Vec::new();
    let mut range = opts.initial_range.max(1);
    let mut a = opts.from;
    while a <= to {
        let b = a.saturating_add(range - 1).min(to);
        *queries += 1;
        let filter = json!([{"fromBlock": qty(a), "toBlock": qty(b), "topics": topics}]);
        match adapter.rpc().call::<Vec<RpcLog>>("eth_getLogs", filter).await {
            Ok(logs) => {
                out.extend(logs);
                if b == u64::MAX {
                    break;
                }
                a = b + 1;
                range = range.saturating_mul(2).min(opts.initial_range.max(1));
            }
            Err(e) if e.is_too_large() && range > opts.min_range.max(1) => {
                range = (range / 2).max(opts.min_range.max(1));
                tracing::debug!(range, error = %e, "eth_getLogs range refused; splitting");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilterTrace {
    #[serde(default)]
    block_number: Option<u64>,
}

#[derive(Deserialize)]
struct OtsPage {
    #[serde(default)]
    txs: Vec<OtsTx>,
    #[serde(default, rename = "lastPage")]
    last_page: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OtsTx {
    #[serde(default)]
    block_number: Option<U64>,
    #[serde(default)]
    #[allow(dead_code)]
    hash: Option<B256>,
}

/// Heights of blocks with native activity of `addr`, and which method found them.
async fn native_blocks(
    adapter: &EvmAdapter,
    addr: &Address,
    from: u64,
    to: u64,
) -> Result<Option<(NativeSource, Vec<u64>)>, EvmError> {
    let a = addr.to_string();
    let mut heights = BTreeSet::new();
    let mut supported = true;
    for side in ["fromAddress", "toAddress"] {
        let filter = json!([{"fromBlock": qty(from), "toBlock": qty(to), side: [a]}]);
        match adapter.rpc().call::<Vec<FilterTrace>>("trace_filter", filter).await {
            Ok(ts) => heights.extend(ts.iter().filter_map(|t| t.block_number)),
            Err(e) if unsupported(&e) => {
                supported = false;
                break;
            }
            Err(e) => return Err(e.into()),
        }
    }
    if supported {
        return Ok(Some((
            NativeSource::TraceFilter,
            heights.into_iter().filter(|h| (from..=to).contains(h)).collect(),
        )));
    }
    // Otterscan: pages of 25 transactions, newest first, from the head back.
    let mut before = 0u64; // 0 = from the head
    loop {
        match adapter.rpc().call::<OtsPage>("ots_searchTransactionsBefore", json!([a, before, 25])).await {
            Ok(page) => {
                let hs: Vec<u64> = page.txs.iter().filter_map(|t| t.block_number.map(|n| n.to::<u64>())).collect();
                heights.extend(hs.iter().copied());
                let oldest = hs.iter().min().copied();
                if page.last_page || page.txs.is_empty() || oldest.is_none_or(|o| o <= from) {
                    break;
                }
                before = oldest.expect("checked above");
            }
            Err(e) if unsupported(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some((NativeSource::Otterscan, heights.into_iter().filter(|h| (from..=to).contains(h)).collect())))
}

fn unsupported(e: &RpcError) -> bool {
    e.is_unsupported() || matches!(e, RpcError::Node { code: -32602 | -32600, .. })
}
