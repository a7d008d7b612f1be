//! `chaintrace ingest <evm chain> --rpc URL [--from N] [--to N]`: the EVM adapter over the store.
//! With `--address ADDR…` it expands only those addresses on demand (token transfers by
//! `eth_getLogs` topic filters, native ones where the node has an address index) and stores them
//! without moving the checkpoint, so a wallet can be traced without indexing the chain.
//!
//! Without `--to` the head is followed until Ctrl-C. `--traces`, `--timeout` and `--poll` (or
//! `CHAINTRACE_EVM_TRACES`, `_TIMEOUT`, `_POLL`) are parsed and checked by clap ([`EvmArgs`]).
//!
//! [`EvmArgs`]: super::EvmArgs

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use chaintrace_evm::expand::{expand_address, ExpandOptions, NativeSource};
use chaintrace_evm::{
    ingest, refill_traces, EvmAdapter, EvmConfig, EvmError, IngestOptions, RpcConfig, TraceSetting, TraceUnavailable,
};
use chaintrace_model::{Address, ChainSpec, Sensitive};
use chaintrace_store::Store;

use super::{IngestArgs, Traces};
use crate::adapters::sink::{StoreSink, StoreTokens};
use crate::context::Context;
use crate::output;

pub(super) fn run(ctx: &Context, spec: &ChainSpec, args: &IngestArgs) -> Result<()> {
    let url = match (&args.node.rpc, &spec.rpc) {
        (Some(u), _) => Sensitive::new(u.clone()),
        (None, Some(u)) => u.clone(),
        (None, None) => bail!("no RPC URL for chain {}: pass --rpc URL or set rpc in the config", spec.name),
    };
    if let (Some(f), Some(t)) = (args.range.from, args.range.to) {
        if f > t {
            bail!("--from {f} is above --to {t}: give a range with from <= to");
        }
    }
    let traces = match args.evm.traces {
        Traces::Auto => TraceSetting::Auto,
        Traces::Off => TraceSetting::Off,
        Traces::Geth => TraceSetting::Geth,
        Traces::Parity => TraceSetting::Parity,
    };
    let rpc = RpcConfig {
        max_in_flight: args.evm.max_in_flight.unwrap_or(8).max(1),
        rate_per_sec: args.evm.rate.filter(|r| *r > 0.0),
        batch_size: args.node.rpc_batch.unwrap_or(50).max(1),
        timeout: args.evm.timeout,
        ..RpcConfig::default()
    };
    let cfg = EvmConfig { chain: spec.name.clone(), chain_id: spec.chain_id, rpc, traces };
    let opts = IngestOptions {
        from: args.range.from,
        to: args.range.to,
        chunk_blocks: (args.node.batch_blocks.unwrap_or(100).max(1) as u64).min(1000),
        parallel_chunks: 2,
        poll_interval: args.evm.poll,
        ..IngestOptions::default()
    };
    let addresses = args
        .address
        .iter()
        .map(|a| Address::parse_evm(a).with_context(|| format!("--address {a}")))
        .collect::<Result<Vec<_>>>()?;
    let flows = ctx.config.flows(&spec.name)?;
    let store = ctx.open_store()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    if !addresses.is_empty() {
        return runtime.block_on(expand(ctx, spec, args, &store, &url, cfg, &addresses));
    }
    if args.evm.refill_traces {
        if cfg.traces == TraceSetting::Off {
            bail!("--refill-traces reads traces: it cannot run with --traces off");
        }
        return runtime.block_on(refill(ctx, spec, args, &store, &url, cfg, opts.chunk_blocks));
    }
    let summary = runtime.block_on(async {
        let adapter = EvmAdapter::connect(&url, cfg).await?.with_flows(flows);
        let stop = stop_on_ctrl_c();
        let sink = StoreSink { store: &store, chain: &spec.name };
        let toks = StoreTokens::new(&store, &spec.name);
        let start = store.tip(&spec.name)?.map(|t| t.height + 1).or(args.range.from).unwrap_or(0);
        let bar = output::progress(
            args.range.to.map(|t| t.saturating_add(1).saturating_sub(start)),
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
        let summary = res?;
        // Stablecoin freezes of the ingested range become `frozen` labels.
        let frozen = match summary.tip {
            Some((tip, _)) => {
                super::freezes::scan_or_warn(super::freezes::EventSource::Rpc(&adapter), &store, spec, start, tip)
                    .await?
            }
            None => None,
        };
        anyhow::Ok((summary, frozen))
    })?;
    let (summary, frozen) = summary;
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
            "blocks_without_internal_transfers": summary.blocks_without_internal_transfers,
            "internal_transfers_gap": summary.trace_gap.as_ref().map(|g| g.to_string()),
            "tip_height": tip.as_ref().map(|t| t.0),
            "tip_hash": tip.as_ref().map(|t| t.1.clone()),
            "stopped": summary.stopped,
            "freeze_events": frozen.map(|f| f.0),
            "frozen_addresses": frozen.map(|f| f.1),
        }))?;
    } else {
        let off = summary.trace_gap.as_ref().is_some_and(|g| g.reason == TraceUnavailable::Off);
        let mut traces = match summary.trace_mode {
            _ if off => "not read (--traces off)".to_string(),
            Some("none") | None => "not available from this node".to_string(),
            Some(m) => format!("from {m}"),
        };
        if summary.blocks_without_internal_transfers > 0 {
            let why = summary.trace_gap.as_ref().map_or("not read", |g| match g.reason {
                TraceUnavailable::Off => "tracing off",
                TraceUnavailable::NoTracingApi => "no tracing API on the node",
                TraceUnavailable::NoHistoricalState => "historical state unavailable: not an archive node",
            });
            traces = format!(
                "{traces}, missing in {} blocks ({why}; `stats` counts them, `--refill-traces` fills them)",
                summary.blocks_without_internal_transfers
            );
        }
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
        if let Some((events, now)) = frozen {
            output::line(format!("{}: {events} freeze events; {now} addresses frozen (labels frozen)", spec.name))?;
        }
    }
    Ok(())
}

/// `--refill-traces`: add the internal transfers of stored blocks that lack them.
async fn refill(
    ctx: &Context,
    spec: &ChainSpec,
    args: &IngestArgs,
    store: &Store,
    url: &Sensitive,
    cfg: EvmConfig,
    chunk_blocks: u64,
) -> Result<()> {
    // The blocks read again replace their stored flows, so they are recognised the same way.
    let adapter = EvmAdapter::connect(url, cfg).await?.with_flows(ctx.config.flows(&spec.name)?);
    let sink = StoreSink { store, chain: &spec.name };
    let stop = stop_on_ctrl_c();
    let (from, to) = (args.range.from.unwrap_or(0), args.range.to.unwrap_or(u64::MAX));
    let bar = output::progress(None, &format!("refill {}", spec.name));
    let res = refill_traces(&adapter, &sink, from, to, chunk_blocks, &stop, |s| {
        bar.set_position(s.blocks);
        bar.set_message(format!(
            "refill {}: {} of {} blocks, {} transfers",
            spec.name, s.blocks, s.missing_before, s.transfers
        ));
    })
    .await;
    bar.finish_and_clear();
    let sum = res?;
    let left = store.stats()?.chains.get(&spec.name).map_or(0, |c| c.blocks_without_internal_transfers);
    if ctx.json {
        output::json(&serde_json::json!({
            "chain": spec.name,
            "blocks_missing_before": sum.missing_before,
            "blocks_filled": sum.blocks,
            "internal_transfers_added": sum.transfers,
            "internal_transfers": sum.trace_mode,
            "blocks_without_internal_transfers": left,
            "stopped": sum.stopped,
        }))?;
    } else {
        output::line(format!(
            "{}: filled {} of {} blocks without internal transfers, {} transfers added from {}; {left} blocks still without{}",
            spec.name,
            sum.blocks,
            sum.missing_before,
            sum.transfers,
            sum.trace_mode,
            if sum.stopped { "; stopped on request" } else { "" },
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
    let toks = StoreTokens::new(store, &spec.name);
    let opts = ExpandOptions {
        from: args.range.from.unwrap_or(0),
        to: args.range.to.unwrap_or(u64::MAX),
        ..ExpandOptions::default()
    };
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

/// What the user can do about an EVM ingest error, naming the flags.
pub(super) fn hint(e: &anyhow::Error, spec: &ChainSpec) -> Option<String> {
    e.chain().find_map(|c| match c.downcast_ref::<EvmError>()? {
        EvmError::ChainIdMismatch { chain, .. } => Some(format!("point --rpc at a {chain} node or fix the config")),
        EvmError::Gap { tip, .. } => Some(format!("pass --from {} or lower, or use a new --store", tip + 1)),
        EvmError::Fork(_) => Some(format!("ingest chain {} into a new --store", spec.name)),
        EvmError::TracesUnavailable(g) => match g.reason {
            TraceUnavailable::NoHistoricalState => {
                Some("point --rpc at an archive node (one that keeps historical state)".into())
            }
            _ => Some("point --rpc at a node with trace_block or debug_traceBlockByNumber".into()),
        },
        EvmError::Reorged { .. } => Some(format!("run `ingest {}` first to follow the reorganisation", spec.name)),
        _ => None,
    })
}

/// A flag set when the user presses Ctrl-C, so the loop stops cleanly after its current batch
/// (call inside the tokio runtime).
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    stop
}
