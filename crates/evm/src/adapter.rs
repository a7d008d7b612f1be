//! The EVM adapter: blocks with full transactions, receipts and traces from a JSON-RPC node,
//! turned into [`BlockData`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use alloy_primitives::U64;
use chaintrace_model::{Asset, BlockData, BlockRef, Sensitive};
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::decode::{self, TraceRow};
use crate::error::{EvmError, RpcError, TraceGap, TraceUnavailable};
use crate::rpc::{Call, Rpc, RpcConfig};
use crate::tokens::{self, TokenMeta, TokenMetaStore};
use crate::types::{GethTxTrace, ParityTrace, RpcBlock, RpcHeader, RpcReceipt};

/// Which tracing API to use for internal transfers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TraceSetting {
    /// Probe the node once: `trace_block`, then `debug_traceBlockByNumber` (callTracer).
    #[default]
    Auto,
    /// Do not read internal transfers.
    Off,
    /// Geth's `debug_traceBlockByNumber` with the call tracer only.
    Geth,
    /// Parity-style `trace_block` only.
    Parity,
}

/// What the node turned out to offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceMode {
    /// `debug_traceBlockByNumber` with `{"tracer":"callTracer"}` (Geth, Erigon, Reth, anvil…).
    Geth,
    /// `trace_block` (OpenEthereum/Parity, Erigon, Reth, Nethermind, anvil).
    Parity,
    /// Neither: internal transfers are not recorded.
    None,
}

impl TraceMode {
    /// The method name as shown in `stats` and ingest summaries (`none` when neither).
    pub fn as_str(&self) -> &'static str {
        match self {
            TraceMode::Geth => "debug_traceBlockByNumber/callTracer",
            TraceMode::Parity => "trace_block",
            TraceMode::None => "none",
        }
    }
}

/// How to reach and read one EVM chain.
#[derive(Clone, Debug)]
pub struct EvmConfig {
    /// The configured chain name (for messages).
    pub chain: String,
    /// The chain id the node must report; `None` skips the check.
    pub chain_id: Option<u64>,
    /// Batching, concurrency, rate limit, timeout and retries of the JSON-RPC client.
    pub rpc: RpcConfig,
    /// Which tracing API internal transfers come from.
    pub traces: TraceSetting,
}

impl EvmConfig {
    /// A config with default RPC settings and trace probing.
    pub fn new(chain: impl Into<String>, chain_id: Option<u64>) -> Self {
        EvmConfig { chain: chain.into(), chain_id, rpc: RpcConfig::default(), traces: TraceSetting::Auto }
    }
}

/// A connected node: reads blocks, receipts and traces and normalises them into
/// [`BlockData`]. Connect with [`EvmAdapter::connect`].
pub struct EvmAdapter {
    rpc: Rpc,
    cfg: EvmConfig,
    trace_mode: OnceCell<TraceMode>,
    receipts_per_tx: AtomicBool,
    /// The first block whose internal transfers could not be read, and why.
    trace_gap: Mutex<Option<TraceGap>>,
    /// What besides transfers is recognised (wrappers, bridges, price feeds).
    flows: crate::flows::FlowConfig,
}

pub(crate) fn qty(n: u64) -> String {
    format!("0x{n:x}")
}

impl EvmAdapter {
    /// Connect and check that the node serves the configured chain (`eth_chainId`).
    pub async fn connect(url: &Sensitive, cfg: EvmConfig) -> Result<EvmAdapter, EvmError> {
        let rpc = Rpc::new(url, cfg.rpc.clone())?;
        let adapter = EvmAdapter {
            rpc,
            cfg,
            trace_mode: OnceCell::new(),
            receipts_per_tx: AtomicBool::new(false),
            trace_gap: Mutex::new(None),
            flows: crate::flows::FlowConfig::default(),
        };
        if let Some(expected) = adapter.cfg.chain_id {
            let got = adapter.chain_id().await?;
            if got != expected {
                return Err(EvmError::ChainIdMismatch {
                    chain: adapter.cfg.chain.clone(),
                    endpoint: adapter.rpc.endpoint().to_string(),
                    expected,
                    got,
                });
            }
        }
        Ok(adapter)
    }

    /// Recognise wraps, bridge events and price points as `flows` configures (conversions by
    /// pool events are recognised with any config; see [`crate::flows`]).
    pub fn with_flows(mut self, flows: crate::flows::FlowConfig) -> Self {
        self.flows = flows;
        self
    }

    /// The JSON-RPC client (counters, endpoint, raw calls).
    pub fn rpc(&self) -> &Rpc {
        &self.rpc
    }

    /// The configured chain name.
    pub fn chain(&self) -> &str {
        &self.cfg.chain
    }

    /// The chain id the node reports (`eth_chainId`).
    pub async fn chain_id(&self) -> Result<u64, EvmError> {
        let id: U64 = self.rpc.call("eth_chainId", json!([])).await?;
        Ok(id.to::<u64>())
    }

    /// The node's head height.
    pub async fn head(&self) -> Result<u64, EvmError> {
        let n: U64 = self.rpc.call("eth_blockNumber", json!([])).await?;
        Ok(n.to::<u64>())
    }

    /// Block identities for `heights` (one batch); `None` where the node has no such block.
    pub async fn headers(&self, heights: &[u64]) -> Result<Vec<Option<BlockRef>>, EvmError> {
        let calls: Vec<Call> =
            heights.iter().map(|h| Call::new("eth_getBlockByNumber", json!([qty(*h), false]))).collect();
        let mut out = Vec::with_capacity(heights.len());
        for r in self.rpc.batch(&calls).await {
            let h: Option<RpcHeader> = self.rpc.decode("eth_getBlockByNumber", &r?)?;
            out.push(h.map(|h| BlockRef {
                height: h.number.to::<u64>(),
                hash: decode::hash32(&h.hash),
                parent: decode::hash32(&h.parent_hash),
                time: h.timestamp.to::<u64>(),
            }));
        }
        Ok(out)
    }

    /// The tracing API in use, probing the node on first use (once per adapter).
    pub async fn trace_mode(&self, probe_height: u64) -> Result<TraceMode, EvmError> {
        self.trace_mode
            .get_or_try_init(|| async {
                let mode = match self.cfg.traces {
                    TraceSetting::Off => {
                        self.note_gap(TraceGap {
                            height: probe_height,
                            reason: TraceUnavailable::Off,
                            message: String::new(),
                        });
                        TraceMode::None
                    }
                    TraceSetting::Geth => TraceMode::Geth,
                    TraceSetting::Parity => TraceMode::Parity,
                    TraceSetting::Auto => self.probe_traces(probe_height).await?,
                };
                if mode != TraceMode::None {
                    tracing::info!(chain = %self.cfg.chain, mode = mode.as_str(), "internal transfers from traces");
                }
                Ok::<_, EvmError>(mode)
            })
            .await
            .copied()
    }

    /// The first block whose internal transfers this adapter could not read, and why
    /// (tracing off, no tracing API, or no historical state); `None` while every block so far
    /// was traced.
    pub fn trace_gap(&self) -> Option<TraceGap> {
        self.trace_gap.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Remember the first gap and say exactly what happened, once per adapter.
    fn note_gap(&self, gap: TraceGap) {
        let mut g = self.trace_gap.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_some() {
            return;
        }
        match gap.reason {
            TraceUnavailable::Off => tracing::info!(chain = %self.cfg.chain,
                "tracing is off: internal (contract) ETH transfers are not read; each block is marked, `stats` counts them and `ingest --refill-traces` fills them"),
            TraceUnavailable::NoTracingApi => tracing::warn!(chain = %self.cfg.chain, endpoint = %self.rpc.endpoint(),
                height = gap.height, node_said = %gap.message,
                "the node offers neither trace_block nor debug_traceBlockByNumber (method not found): internal (contract) ETH transfers are not recorded; each block is marked, `stats` counts them and `ingest --refill-traces` against a node with traces fills them"),
            TraceUnavailable::NoHistoricalState => {
                tracing::warn!(chain = %self.cfg.chain, endpoint = %self.rpc.endpoint(),
                height = gap.height, node_said = %gap.message,
                "historical state unavailable: the node is not an archive node and cannot trace block {}; internal (contract) ETH transfers of the blocks it cannot trace are not recorded; each such block is marked, `stats` counts them and `ingest --refill-traces` against an archive node fills them", gap.height)
            }
        }
        *g = Some(gap);
    }

    /// The trace mode if it has been determined.
    pub fn known_trace_mode(&self) -> Option<TraceMode> {
        self.trace_mode.get().copied()
    }

    /// `trace_block` first: where both exist (Erigon, Reth, anvil) it is much cheaper than
    /// re-executing with the callTracer (14x on anvil, see the ingest benchmark); plain Geth
    /// only has `debug_traceBlockByNumber`.
    ///
    /// A method that exists but lacks the block's state (a full, non-archive node) is still
    /// used: blocks it can trace get their internal transfers, the others are marked (see
    /// [`trace_gap`](Self::trace_gap)). Only "method not found" on both means no tracing.
    async fn probe_traces(&self, h: u64) -> Result<TraceMode, EvmError> {
        let parity = match self.rpc.call::<Value>("trace_block", json!([qty(h)])).await {
            Ok(_) => return Ok(TraceMode::Parity),
            Err(e) if e.is_state_unavailable() => {
                self.note_gap(TraceGap {
                    height: h,
                    reason: TraceUnavailable::NoHistoricalState,
                    message: node_message(&e),
                });
                return Ok(TraceMode::Parity);
            }
            Err(e) if !e.is_retryable() => {
                tracing::debug!(error = %e, "trace_block unavailable");
                e
            }
            Err(e) => return Err(e.into()),
        };
        let geth = self.rpc.call::<Value>("debug_traceBlockByNumber", json!([qty(h), {"tracer": "callTracer"}])).await;
        match geth {
            Ok(_) => Ok(TraceMode::Geth),
            Err(e) if e.is_state_unavailable() => {
                self.note_gap(TraceGap {
                    height: h,
                    reason: TraceUnavailable::NoHistoricalState,
                    message: node_message(&e),
                });
                Ok(TraceMode::Geth)
            }
            Err(e) if !e.is_retryable() => {
                self.note_gap(TraceGap {
                    height: h,
                    reason: TraceUnavailable::NoTracingApi,
                    message: format!(
                        "trace_block: {}; debug_traceBlockByNumber: {}",
                        node_message(&parity),
                        node_message(&e)
                    ),
                });
                Ok(TraceMode::None)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn trace_call(mode: TraceMode, h: u64) -> Option<Call> {
        match mode {
            TraceMode::Geth => Some(Call::new("debug_traceBlockByNumber", json!([qty(h), {"tracer": "callTracer"}]))),
            TraceMode::Parity => Some(Call::new("trace_block", json!([qty(h)]))),
            TraceMode::None => None,
        }
    }

    fn decode_traces(
        &self,
        mode: TraceMode,
        h: u64,
        raw: &serde_json::value::RawValue,
    ) -> Result<Vec<TraceRow>, EvmError> {
        Ok(match mode {
            TraceMode::Geth => {
                let t: Option<Vec<GethTxTrace>> = self.rpc.decode("debug_traceBlockByNumber", raw)?;
                let t = t.unwrap_or_default();
                if let Some(err) = t.iter().find_map(|x| x.error.clone()) {
                    return Err(EvmError::Trace { height: h, what: format!("tracing a transaction failed: {err}") });
                }
                decode::geth_rows(&t)
            }
            TraceMode::Parity => {
                let t: Option<Vec<ParityTrace>> = self.rpc.decode("trace_block", raw)?;
                decode::parity_rows(&t.unwrap_or_default())
            }
            TraceMode::None => Vec::new(),
        })
    }

    /// Every frame of every transaction of block `h`, from the node's tracing API.
    pub async fn traces(&self, h: u64) -> Result<Vec<TraceRow>, EvmError> {
        let mode = self.trace_mode(h).await?;
        let Some(call) = Self::trace_call(mode, h) else { return Ok(Vec::new()) };
        let raw = self.rpc.batch(std::slice::from_ref(&call)).await.pop().expect("one result")?;
        self.decode_traces(mode, h, &raw)
    }

    /// Fetch blocks `from..=to` and normalise them. The blocks are checked to link up; a reorg
    /// racing the fetch surfaces as a retryable [`EvmError::Inconsistent`].
    pub async fn fetch_blocks(&self, from: u64, to: u64) -> Result<Vec<BlockData>, EvmError> {
        if to < from {
            return Ok(Vec::new());
        }
        let mode = self.trace_mode(from).await?;
        let heights: Vec<u64> = (from..=to).collect();
        let per_tx = self.receipts_per_tx.load(Ordering::Relaxed);
        let mut calls = Vec::new();
        for h in &heights {
            calls.push(Call::new("eth_getBlockByNumber", json!([qty(*h), true])));
            if !per_tx {
                calls.push(Call::new("eth_getBlockReceipts", json!([qty(*h)])));
            }
            if let Some(c) = Self::trace_call(mode, *h) {
                calls.push(c);
            }
        }
        let mut results = self.rpc.batch(&calls).await.into_iter();
        let mut blocks = Vec::with_capacity(heights.len());
        let mut receipts: Vec<Option<Vec<RpcReceipt>>> = Vec::with_capacity(heights.len());
        let mut traces: Vec<Option<Vec<TraceRow>>> = Vec::with_capacity(heights.len());
        for &h in &heights {
            let b: Option<RpcBlock> = self.rpc.decode("eth_getBlockByNumber", &next(&mut results)?)?;
            let b = match b {
                Some(b) => b,
                None => return Err(EvmError::MissingBlock { height: h, head: self.head().await? }),
            };
            if b.number.to::<u64>() != h {
                return Err(EvmError::Inconsistent {
                    height: h,
                    what: format!("asked for block {h}, got {}", b.number),
                });
            }
            blocks.push(b);
            if !per_tx {
                match next(&mut results) {
                    Ok(raw) => {
                        let r: Option<Vec<RpcReceipt>> = self.rpc.decode("eth_getBlockReceipts", &raw)?;
                        receipts.push(r);
                    }
                    Err(e) if e.is_unsupported() || matches!(e, RpcError::Node { code: -32602, .. }) => {
                        if !self.receipts_per_tx.swap(true, Ordering::Relaxed) {
                            tracing::info!(chain = %self.cfg.chain, error = %e,
                                "eth_getBlockReceipts unavailable; fetching receipts per transaction");
                        }
                        receipts.push(None);
                    }
                    Err(e) => return Err(e.into()),
                }
            } else {
                receipts.push(None);
            }
            if mode != TraceMode::None {
                match next(&mut results) {
                    Ok(raw) => traces.push(Some(self.decode_traces(mode, h, &raw)?)),
                    // A full node: the method exists, this block's state does not. The block is
                    // stored without its internal transfers and marked.
                    Err(e) if e.is_state_unavailable() => {
                        self.note_gap(TraceGap {
                            height: h,
                            reason: TraceUnavailable::NoHistoricalState,
                            message: node_message(&e),
                        });
                        traces.push(None);
                    }
                    Err(e) => return Err(e.into()),
                }
            } else {
                traces.push(None);
            }
        }
        // Per-transaction receipts where the block call was unavailable (or returned null).
        let missing: Vec<usize> = (0..blocks.len()).filter(|i| receipts[*i].is_none()).collect();
        if !missing.is_empty() {
            let mut calls = Vec::new();
            for &i in &missing {
                for tx in &blocks[i].transactions {
                    calls.push(Call::new("eth_getTransactionReceipt", json!([format!("{:#x}", tx.hash)])));
                }
            }
            let mut res = self.rpc.batch(&calls).await.into_iter();
            for &i in &missing {
                let mut rs = Vec::with_capacity(blocks[i].transactions.len());
                for tx in &blocks[i].transactions {
                    let r: Option<RpcReceipt> = self.rpc.decode("eth_getTransactionReceipt", &next(&mut res)?)?;
                    rs.push(r.ok_or_else(|| EvmError::Inconsistent {
                        height: heights[i],
                        what: format!("no receipt for transaction {:#x}", tx.hash),
                    })?);
                }
                receipts[i] = Some(rs);
            }
        }
        let mut out = Vec::with_capacity(blocks.len());
        for (i, b) in blocks.iter().enumerate() {
            let h = heights[i];
            let rs = receipts[i].as_deref().unwrap_or_default();
            if let Some(t) = &traces[i] {
                let txs_traced = t.iter().filter(|r| r.ordinal == 0).count();
                if mode == TraceMode::Geth && txs_traced != b.transactions.len() {
                    return Err(EvmError::Inconsistent {
                        height: h,
                        what: format!("{txs_traced} traces for {} transactions", b.transactions.len()),
                    });
                }
            }
            let mut data = decode::block_data(b, rs, traces[i].as_deref())
                .map_err(|what| EvmError::Inconsistent { height: h, what })?;
            for n in crate::flows::recognise(&mut data, b, rs, &self.flows) {
                tracing::warn!(chain = %self.cfg.chain, height = h, tx = %n.tx, "{}", n.what);
            }
            if let Some(prev) = out.last() {
                let prev: &BlockData = prev;
                if data.block.parent != prev.block.hash {
                    return Err(EvmError::Inconsistent {
                        height: h,
                        what: "parent hash does not match the previous block (reorg during fetch)".into(),
                    });
                }
            }
            out.push(data);
        }
        Ok(out)
    }

    /// Read `decimals()`, `symbol()` and `name()` of `tokens` (one batch, at the latest block).
    pub async fn token_meta(&self, tokens: &[[u8; 20]]) -> Result<Vec<TokenMeta>, EvmError> {
        let mut calls = Vec::with_capacity(tokens.len() * 3);
        for t in tokens {
            let to = format!("0x{}", hex::encode(t));
            calls.push(Call::new("eth_call", json!([{"to": to, "data": tokens::DECIMALS}, "latest"])));
            calls.push(Call::new("eth_call", json!([{"to": to, "data": tokens::SYMBOL}, "latest"])));
            calls.push(Call::new("eth_call", json!([{"to": to, "data": tokens::NAME}, "latest"])));
        }
        let mut res = self.rpc.batch(&calls).await.into_iter();
        let mut out = Vec::with_capacity(tokens.len());
        for _ in tokens {
            let mut answer = || -> Result<Option<String>, EvmError> {
                match next(&mut res) {
                    Ok(raw) => Ok(self.rpc.decode::<Option<String>>("eth_call", &raw)?),
                    // A revert or a missing function is an answer: "no metadata".
                    Err(RpcError::Node { .. }) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            };
            let decimals = answer()?.as_deref().and_then(tokens::decode_decimals);
            let symbol = answer()?.as_deref().and_then(tokens::decode_symbol);
            let name = answer()?.as_deref().and_then(tokens::decode_symbol);
            out.push(TokenMeta { decimals, symbol, name });
        }
        Ok(out)
    }

    /// Make sure every token that appears in `blocks` has metadata in `store`, reading it from
    /// the contract when it is new. Returns how many tokens were read.
    pub async fn resolve_tokens<S: TokenMetaStore>(&self, blocks: &[BlockData], store: &S) -> Result<usize, EvmError> {
        let mut new: Vec<[u8; 20]> = Vec::new();
        for t in blocks.iter().flat_map(|b| &b.transfers) {
            if let Asset::Token(c) = t.asset {
                if !new.contains(&c) && store.get(&c).map_err(|e| EvmError::TokenStore(Box::new(e)))?.is_none() {
                    new.push(c);
                }
            }
        }
        if new.is_empty() {
            return Ok(0);
        }
        let metas = self.token_meta(&new).await?;
        for (t, m) in new.iter().zip(&metas) {
            if tokens::raw_units(m) {
                tracing::info!(token = %format!("0x{}", hex::encode(t)), "token does not answer decimals(); amounts stay in raw units");
            }
            store.put(t, m).map_err(|e| EvmError::TokenStore(Box::new(e)))?;
        }
        Ok(new.len())
    }
}

/// The node's own words in an RPC error (the whole error for other kinds).
fn node_message(e: &RpcError) -> String {
    match e {
        RpcError::Node { code, message, .. } => format!("error {code}: {message}"),
        other => other.to_string(),
    }
}

fn next(
    it: &mut impl Iterator<Item = Result<Box<serde_json::value::RawValue>, RpcError>>,
) -> Result<Box<serde_json::value::RawValue>, RpcError> {
    it.next().expect("one result per call")
}
