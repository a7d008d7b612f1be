//! `chaintrace ingest <evm chain> --rpc URL [--from N] [--to N]`: the EVM adapter over the store.
//! With `--address ADDR…` it expands only those addresses on demand (token transfers by
//! `eth_getLogs` topic filters, native ones where the node has an address index) and stores them
//! without moving the checkpoint, so a wallet can be traced without indexing the chain.
//!
//! Without `--to` the head is followed until Ctrl-C. Environment knobs (advanced):
//! `CHAINTRACE_EVM_TRACES` = `auto` (default) | `off` | `geth` | `parity`,
//! `CHAINTRACE_EVM_TIMEOUT` = per-request timeout in seconds (default 30),
//! `CHAINTRACE_EVM_POLL` = head polling interval in seconds when following (default 2).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use chaintrace_evm::expand::{expand_address, ExpandOptions, NativeSource};
use chaintrace_evm::{
    ingest, Applied, ChainSink, EvmAdapter, EvmConfig, IngestOptions, RpcConfig, TokenMeta, TokenMetaStore,
    TraceSetting,
};
use chaintrace_model::{Address, BlockData, ChainSpec, Hash32, Sensitive};
use chaintrace_store::{Store, StoreError};

use super::ingest::IngestArgs;
use crate::context::Context;
use crate::output;

/// The store as the adapter's sink.
struct StoreSink<'a> {
    store: &'a Store,
    chain: &'a str,
}

impl ChainSink for StoreSink<'_> {
    type Error = StoreError;
    fn tip(&self) -> Result<Option<(u64, Hash32)>, StoreError> {
        Ok(self.store.tip(self.chain)?.map(|t| (t.height, t.hash)))
    }
    fn block_hash(&self, height: u64) -> Result<Option<Hash32>, StoreError> {
        self.store.block_hash(self.chain, height)
    }
    fn apply(&self, blocks: &[BlockData]) -> Result<Applied, StoreError> {
        match self.store.apply_blocks(self.chain, blocks) {
            Ok(s) => Ok(Applied::Ok { transfers: s.transfers }),
            Err(StoreError::ParentMismatch { .. }) => Ok(Applied::ParentMismatch),
            Err(e) => Err(e),
        }
    }
    fn rollback_to(&self, height: u64) -> Result<u64, StoreError> {
        self.store.rollback_to(self.chain, height)
    }
    fn record_node_info(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.store.put_node_capability(self.chain, key, value)
    }
}

/// The store's token metadata of one chain.
struct StoreTokens<'a> {
    store: &'a Store,
    chain: &'a str,
}

impl TokenMetaStore for StoreTokens<'_> {
    type Error = StoreError;
    fn get(&self, token: &[u8; 20]) -> Result<Option<TokenMeta>, StoreError> {
        self.store.token_meta(self.chain, token)
    }
    fn put(&self, token: &[u8; 20], meta: &TokenMeta) -> Result<(), StoreError> {
        self.store.put_token_meta(self.chain, token, meta)
    }
}

fn env_secs(name: &str, default: f64) -> Result<Duration> {
    match std::env::var(name) {
        Ok(v) => {
            let s: f64 = v.trim().parse().with_context(|| format!("{name}={v:?} is not a number of seconds"))?;
            Ok(Duration::from_secs_f64(s.max(0.0)))
        }
        Err(_) => Ok(Duration::from_secs_f64(default)),
    }
}

pub fn run(ctx: &Context, spec: &ChainSpec, args: &IngestArgs) -> Result<()> {
    let url = match (&args.rpc, &spec.rpc) {
        (Some(u), _) => Sensitive::new(u.clone()),
        (None, Some(u)) => u.clone(),
        (None, None) => bail!("no RPC URL for chain {}: pass --rpc URL or set rpc in the config", spec.name),
    };
    if let (Some(f), Some(t)) = (args.from, args.to) {
        if f > t {
            bail!("--from {f} is above --to {t}: give a range with from <= to");
        }
    }
    let traces = match std::env::var("CHAINTRACE_EVM_TRACES").as_deref() {
        Err(_) | Ok("auto") | Ok("") => TraceSetting::Auto,
        Ok("off") => TraceSetting::Off,
        Ok("geth") => TraceSetting::Geth,
        Ok("parity") => TraceSetting::Parity,
        Ok(other) => bail!("CHAINTRACE_EVM_TRACES={other:?}: use auto, off, geth or parity"),
    };
    let rpc = RpcConfig {
        max_in_flight: args.max_in_flight.max(1),
        rate_per_sec: (args.rate > 0.0).then_some(args.rate),
        batch_size: args.rpc_batch.max(1),
        timeout: env_secs("CHAINTRACE_EVM_TIMEOUT", 30.0)?,
        ..RpcConfig::default()
    };
    let cfg = EvmConfig { chain: spec.name.clone(), chain_id: spec.chain_id, rpc, traces };
    let opts = IngestOptions {
        from: args.from,
        to: args.to,
        chunk_blocks: (args.batch_blocks.max(1) as u64).min(1000),
        parallel_chunks: 2,
        poll_interval: env_secs("CHAINTRACE_EVM_POLL", 2.0)?,
        ..IngestOptions::default()
    };
    let addresses = args
        .address
        .iter()
        .map(|a| Address::parse_evm(a).with_context(|| format!("--address {a}")))
        .collect::<Result<Vec<_>>>()?;
    let store = ctx.open_store()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    if !addresses.is_empty() {
        return runtime.block_on(expand(ctx, spec, args, &store, &url, cfg, &addresses));
    }
    let summary = runtime.block_on(async {
        let adapter = EvmAdapter::connect(&url, cfg).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop2.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
        let sink = StoreSink { store: &store, chain: &spec.name };
        let toks = StoreTokens { store: &store, chain: &spec.name };
        let start = store.tip(&spec.name)?.map(|t| t.height + 1).or(args.from).unwrap_or(0);
        let bar = output::progress(
            args.to.map(|t| t.saturating_add(1).saturating_sub(start)),
            &format!("ingest {}", spec.name),
        );
        let res = ingest(&adapter, &sink, Some(&toks), &opts, &stop, |p| {
            bar.set_position(p.blocks);
            bar.set_message(format!(
                "ingest {} height {} / head {}, {} transfers",
                spec.name, p.height, p.head, p.transfers
            ));
        })
        .await;
        bar.finish_and_clear();
        anyhow::Ok(res?)
    })?;
    let tip = summary.tip.map(|(h, hash)| (h, format!("0x{hash}")));
    if ctx.json {
        output::json(&serde_json::json!({
            "chain": spec.name,
            "blocks": summary.blocks,
            "transfers": summary.transfers,
            "reorgs": summary.reorgs,
            "rolled_back_blocks": summary.rolled_back,
            "tokens_read": summary.tokens_read,
            "internal_transfers": summary.trace_mode,
            "tip_height": tip.as_ref().map(|t| t.0),
            "tip_hash": tip.as_ref().map(|t| t.1.clone()),
            "stopped": summary.stopped,
        }))?;
    } else {
        let traces = match summary.trace_mode {
            Some("none") | None => "not available from this node".to_string(),
            Some(m) => format!("from {m}"),
        };
        output::line(format!(
            "{}: ingested {} blocks, {} transfers ({} reorgs, {} blocks rolled back); tip {}; internal transfers {traces}{}",
            spec.name,
            summary.blocks,
            summary.transfers,
            summary.reorgs,
            summary.rolled_back,
            tip.map(|(h, hash)| format!("{h} {hash}")).unwrap_or_else(|| "none".into()),
            if summary.stopped { "; stopped on request" } else { "" },
        ))?;
    }
    Ok(())
}

/// `--address`: fetch and store the transfers of the given addresses only.
async fn expand(
    ctx: &Context,
    spec: &ChainSpec,
    args: &IngestArgs,
    store: &Store,
    url: &Sensitive,
    cfg: EvmConfig,
    addresses: &[Address],
) -> Result<()> {
    let adapter = EvmAdapter::connect(url, cfg).await?;
    let toks = StoreTokens { store, chain: &spec.name };
    let opts =
        ExpandOptions { from: args.from.unwrap_or(0), to: args.to.unwrap_or(u64::MAX), ..ExpandOptions::default() };
    let mut rows = Vec::new();
    for addr in addresses {
        let exp = expand_address(&adapter, addr, &opts).await.with_context(|| format!("expanding {addr}"))?;
        adapter.resolve_tokens(&exp.blocks, &toks).await?;
        let stored = store.put_unlinked(&spec.name, &exp.blocks)?;
        let native = match exp.native {
            NativeSource::TraceFilter => "trace_filter",
            NativeSource::Otterscan => "ots_searchTransactionsBefore",
            NativeSource::Unavailable => "unavailable",
        };
        let found: usize = exp.blocks.iter().map(|b| b.transfers.len()).sum();
        rows.push(serde_json::json!({
            "address": addr.to_string(),
            "transfers": found,
            "new_transfers": stored.transfers,
            "blocks": exp.blocks.len(),
            "native_transfers_from": native,
            "log_queries": exp.log_queries,
        }));
        if !ctx.json {
            output::line(format!(
                "{}: {addr}: {found} transfers in {} blocks ({} new); native transfers {}",
                spec.name,
                exp.blocks.len(),
                stored.transfers,
                if native == "unavailable" {
                    "not available from this node".to_string()
                } else {
                    format!("via {native}")
                }
            ))?;
        }
    }
    if ctx.json {
        output::json(&serde_json::json!({ "chain": spec.name, "addresses": rows }))?;
    }
    Ok(())
}
