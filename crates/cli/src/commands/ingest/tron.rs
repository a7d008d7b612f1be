//! `chaintrace ingest tron --rpc URL [--from N] [--to N]`: TRON from whichever API the endpoint
//! offers. The endpoint is probed once (JSON-RPC `eth_chainId` at the URL or `/jsonrpc`, the
//! HTTP API's `/wallet/getnowblock`); the answer is recorded as node capabilities and shown by
//! `stats`. The chain id is checked when the JSON-RPC answers, the genesis block when the config
//! names one. The HTTP API is preferred (it gives TRC-10 and internal transfers); without it the
//! EVM adapter reads the JSON-RPC and [`TronSink`] re-keys its blocks as TRON's.
//!
//! `--address T…`: one wallet's history from TronGrid's account listings
//! ([`chaintrace_tron::account`]), its blocks decoded like a range ingest and stored unlinked.
//!
//! Environment (advanced): `CHAINTRACE_TRON_API` = `auto` (default) | `http` | `jsonrpc`;
//! `CHAINTRACE_TRON_API_KEY` = a TronGrid key, sent as `TRON-PRO-API-KEY` and never printed.

use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context as _, Result};
use chaintrace_evm::{EvmAdapter, EvmConfig, RpcConfig, TokenMetaStore, TraceSetting};
use chaintrace_model::sink::ChainSink;
use chaintrace_model::{Address, ChainSpec, Sensitive, TokenMeta};
use chaintrace_store::Store;
use chaintrace_tron::{account_history, probe, AccountOptions, HttpApi, HttpConfig, TronError, TronSink};
use serde_json::json;

use super::IngestArgs;
use crate::adapters::sink::{StoreSink, StoreTokens};
use crate::context::Context;
use crate::output;

/// Known TRC-20 tokens' metadata, so amounts render without asking the chain.
fn seed_known_tokens(store: &Store, chain: &str) -> Result<()> {
    let toks = StoreTokens::new(store, chain);
    for (t, symbol, decimals) in chaintrace_tron::KNOWN_TOKENS {
        if let Ok(Address::Tron(c)) = Address::parse_tron(t) {
            if toks.get(&c)?.is_none() {
                let meta = TokenMeta { symbol: Some(symbol.into()), name: None, decimals: Some(decimals) };
                toks.put(&c, &meta)?;
            }
        }
    }
    Ok(())
}

pub(super) fn run(ctx: &Context, spec: &ChainSpec, args: &IngestArgs) -> Result<()> {
    let url = match (&args.node.rpc, &spec.rpc) {
        (Some(u), _) => Sensitive::new(u.clone()),
        (None, Some(u)) => u.clone(),
        (None, None) => bail!("no endpoint for chain {}: pass --rpc URL or set rpc in the config", spec.name),
    };
    if let (Some(f), Some(t)) = (args.range.from, args.range.to) {
        if f > t {
            bail!("--from {f} is above --to {t}: give a range with from <= to");
        }
    }
    let addresses = args
        .address
        .iter()
        .map(|a| Address::parse_tron(a).with_context(|| format!("--address {a}")))
        .collect::<Result<Vec<_>>>()?;
    let prefer = std::env::var("CHAINTRACE_TRON_API").unwrap_or_default();
    if !["", "auto", "http", "jsonrpc"].contains(&prefer.as_str()) {
        bail!("CHAINTRACE_TRON_API={prefer:?}: use auto, http or jsonrpc");
    }
    let http_cfg = HttpConfig {
        api_key: std::env::var("CHAINTRACE_TRON_API_KEY").ok().filter(|k| !k.is_empty()).map(Sensitive::new),
        max_in_flight: args.evm.max_in_flight.unwrap_or(8).max(1),
        rate_per_sec: args.evm.rate.filter(|r| *r > 0.0),
        ..HttpConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Probe and check identity before the store is opened: a wrong endpoint changes nothing.
    let api = HttpApi::new(&url, http_cfg)?;
    let caps = runtime.block_on(probe(&api))?;
    if let (Some(expected), Some(got)) = (spec.chain_id, caps.chain_id) {
        if expected != got {
            return Err(TronError::ChainIdMismatch { chain: spec.name.clone(), expected, got }.into());
        }
    }
    if let (Some(expected), true) = (&spec.genesis, caps.http_api) {
        let b = runtime.block_on(api.block(0))?;
        let got = b.get("blockID").and_then(|v| v.as_str()).unwrap_or("").to_string();
        if !got.eq_ignore_ascii_case(expected.trim_start_matches("0x")) {
            return Err(TronError::GenesisMismatch { chain: spec.name.clone(), expected: expected.clone(), got }.into());
        }
    }
    if !addresses.is_empty() {
        if !caps.http_api {
            bail!(
                "--address reads TronGrid's account API and the /wallet HTTP API, but {} offers only TRON's JSON-RPC; point --rpc at https://api.trongrid.io or a node that serves them",
                url.redacted_url()
            );
        }
        let store = ctx.open_store()?;
        let sink = StoreSink { store: &store, chain: &spec.name };
        sink.record_node_info("api", caps.api())?;
        sink.record_node_info("tx_info", if caps.tx_info { "yes" } else { "no: TRC-20 from calldata" })?;
        seed_known_tokens(&store, &spec.name)?;
        return runtime.block_on(by_address(ctx, spec, args, &store, &api, caps.tx_info, &addresses));
    }
    let use_http = match prefer.as_str() {
        "http" if !caps.http_api => bail!("CHAINTRACE_TRON_API=http but {} offers no HTTP API", url.redacted_url()),
        "jsonrpc" if caps.jsonrpc_path.is_none() => {
            bail!("CHAINTRACE_TRON_API=jsonrpc but {} offers no JSON-RPC", url.redacted_url())
        }
        "http" => true,
        "jsonrpc" => false,
        _ => caps.http_api,
    };
    let store = ctx.open_store()?;
    let sink = StoreSink { store: &store, chain: &spec.name };
    sink.record_node_info("api", caps.api())?;
    sink.record_node_info("ingest_via", if use_http { "http" } else { "jsonrpc" })?;
    if let Some(id) = caps.chain_id {
        sink.record_node_info("jsonrpc_chain_id", &id.to_string())?;
    }
    if caps.http_api {
        sink.record_node_info("tx_info", if caps.tx_info { "yes" } else { "no: TRC-20 from calldata" })?;
    }
    seed_known_tokens(&store, &spec.name)?;
    let start = store.tip(&spec.name)?.map(|t| t.height + 1).or(args.range.from).unwrap_or(0);
    let bar = output::progress(
        args.range.to.map(|t| t.saturating_add(1).saturating_sub(start)),
        &format!("ingest {}", spec.name),
    );
    let (blocks, transfers, reorgs, rolled_back, tip) = if use_http {
        let opts = chaintrace_tron::IngestOptions {
            from: args.range.from,
            to: args.range.to,
            chunk_blocks: (args.node.batch_blocks.unwrap_or(100).max(1) as u64).min(1000),
            tx_info: caps.tx_info,
            keep_logs_of: if caps.tx_info { super::freezes::contract_set(spec)? } else { Default::default() },
            parallel: 2 * args.evm.max_in_flight.unwrap_or(8).max(1),
            ..Default::default()
        };
        let s = runtime.block_on(chaintrace_tron::ingest_http(&api, &spec.name, &sink, &opts, |h, head| {
            bar.set_position(h.saturating_add(1).saturating_sub(start));
            bar.set_message(format!("ingest {} height {h} / {head}", spec.name));
        }))?;
        if let Some(r) = s.block_ranges {
            sink.record_node_info("getblockbylimitnext", if r { "yes" } else { "no" })?;
        }
        // Freeze events: from the transaction infos the ingest read, else through the JSON-RPC's
        // eth_getLogs when the endpoint has it.
        if let Some((tip, _)) = s.tip {
            if caps.tx_info {
                let source =
                    super::freezes::EventSource::Http { api: &api, kept: &s.logs, applied_from: s.applied_from };
                runtime.block_on(super::freezes::scan_or_warn(source, &store, spec, start, tip))?;
            } else if let Some(rpc_url) = caps.jsonrpc_url(&url) {
                let cfg = EvmConfig {
                    chain: spec.name.clone(),
                    chain_id: spec.chain_id,
                    rpc: RpcConfig::default(),
                    traces: TraceSetting::Off,
                };
                runtime.block_on(async {
                    let adapter = EvmAdapter::connect(&rpc_url, cfg).await?;
                    let source = super::freezes::EventSource::Rpc(&adapter);
                    super::freezes::scan_or_warn(source, &store, spec, start, tip).await
                })?;
            } else {
                sink.record_node_info("freeze_events", "unavailable: no transaction info and no JSON-RPC")?;
            }
        }
        (s.blocks, s.transfers, s.reorgs, s.rolled_back, s.tip)
    } else {
        let rpc_url = caps.jsonrpc_url(&url).expect("the JSON-RPC answered the probe");
        let cfg = EvmConfig {
            chain: spec.name.clone(),
            chain_id: spec.chain_id,
            rpc: RpcConfig {
                max_in_flight: args.evm.max_in_flight.unwrap_or(8).max(1),
                rate_per_sec: args.evm.rate.filter(|r| *r > 0.0),
                batch_size: args.node.rpc_batch.unwrap_or(50).max(1),
                ..RpcConfig::default()
            },
            traces: TraceSetting::Auto,
        };
        let opts = chaintrace_evm::IngestOptions {
            from: args.range.from,
            to: args.range.to,
            chunk_blocks: (args.node.batch_blocks.unwrap_or(100).max(1) as u64).min(1000),
            parallel_chunks: 2,
            ..chaintrace_evm::IngestOptions::default()
        };
        let tron_sink = TronSink::new(&sink);
        let toks = StoreTokens::new(&store, &spec.name);
        let stop = AtomicBool::new(false);
        let s = runtime.block_on(async {
            let adapter = EvmAdapter::connect(&rpc_url, cfg).await?;
            let s = chaintrace_evm::ingest(&adapter, &tron_sink, Some(&toks), &opts, &stop, |p| {
                bar.set_position(p.blocks);
                bar.set_message(format!("ingest {} height {} / head {}", spec.name, p.height, p.head));
            })
            .await?;
            // Tether/Circle freezes on TRON's stablecoin contracts become `frozen` labels.
            if let Some((tip, _)) = s.tip {
                super::freezes::scan_or_warn(super::freezes::EventSource::Rpc(&adapter), &store, spec, start, tip)
                    .await?;
            }
            anyhow::Ok(s)
        })?;
        (s.blocks, s.transfers, s.reorgs, s.rolled_back, s.tip)
    };
    bar.finish_and_clear();
    let tip = tip.map(|(h, hash)| (h, hash.to_hex()));
    if ctx.json {
        output::json(&json!({
            "chain": spec.name,
            "api": caps.api(),
            "ingest_via": if use_http { "http" } else { "jsonrpc" },
            "blocks": blocks,
            "transfers": transfers,
            "reorgs": reorgs,
            "rolled_back_blocks": rolled_back,
            "tip_height": tip.as_ref().map(|t| t.0),
            "tip_hash": tip.as_ref().map(|t| t.1.clone()),
        }))
    } else {
        output::line(format!(
            "{}: ingested {blocks} blocks, {transfers} transfers ({reorgs} reorgs, {rolled_back} blocks rolled back) via the {} ({} offered); tip {}",
            spec.name,
            if use_http { "HTTP API" } else { "JSON-RPC" },
            caps.api(),
            tip.map(|(h, hash)| format!("{h} {hash}")).unwrap_or_else(|| "none".into()),
        ))
    }
}

/// `--address`: each account's history from TronGrid's account listings, its blocks decoded
/// like a range ingest and stored unlinked (the checkpoint does not move).
async fn by_address(
    ctx: &Context,
    spec: &ChainSpec,
    args: &IngestArgs,
    store: &Store,
    api: &HttpApi,
    tx_info: bool,
    addresses: &[Address],
) -> Result<()> {
    let opts = AccountOptions {
        from: args.range.from.unwrap_or(0),
        to: args.range.to.unwrap_or(u64::MAX),
        tx_info,
        parallel: args.evm.max_in_flight.unwrap_or(8).max(1),
        ..AccountOptions::default()
    };
    let mut rows = Vec::new();
    for addr in addresses {
        let hist =
            account_history(api, addr, &opts).await.with_context(|| format!("fetching the history of {addr}"))?;
        let stored = store.put_unlinked(&spec.name, &hist.blocks)?;
        let found: usize = hist.blocks.iter().map(|b| b.transfers.len()).sum();
        rows.push(json!({
            "address": addr.to_string(),
            "transfers": found,
            "new_transfers": stored.transfers,
            "blocks": hist.blocks.len(),
            "listed_transactions": hist.listed_txs,
            "pages": hist.pages,
            "trc20_from": if tx_info { "logs" } else { "calldata" },
            "unmatched_trc20": hist.unmatched_trc20,
        }));
        if !ctx.json {
            output::line(format!(
                "{}: {addr}: {found} transfers in {} blocks ({} new) from {} listed transactions ({} pages){}",
                spec.name,
                hist.blocks.len(),
                stored.transfers,
                hist.listed_txs,
                hist.pages,
                if hist.unmatched_trc20 > 0 {
                    format!(
                        "; {} listed TRC-20 transfers not found in their blocks{}",
                        hist.unmatched_trc20,
                        if tx_info { "" } else { " (no transaction info: TRC-20 read from calldata)" }
                    )
                } else {
                    String::new()
                }
            ))?;
        }
    }
    if ctx.json {
        output::json(&json!({ "chain": spec.name, "addresses": rows }))?;
    }
    Ok(())
}

/// What the user can do about a TRON ingest error, naming the flags.
pub(super) fn hint(e: &anyhow::Error, spec: &ChainSpec) -> Option<String> {
    e.chain().find_map(|c| match c.downcast_ref::<TronError>()? {
        TronError::ChainIdMismatch { chain, .. } | TronError::GenesisMismatch { chain, .. } => {
            Some(format!("point --rpc at a {chain} node or fix the config"))
        }
        TronError::Gap { tip, .. } => Some(format!("pass --from {} or lower, or use a new --store", tip + 1)),
        TronError::Fork(_) => Some(format!("ingest chain {} into a new --store", spec.name)),
        TronError::NoAccountApi { .. } => {
            Some("--address needs TronGrid's account API (/v1/accounts): point --rpc at https://api.trongrid.io or a node that serves it".into())
        }
        TronError::Html { .. } | TronError::NoApi { .. } => {
            Some("pass --rpc the base URL of a TRON node (JSON-RPC or /wallet HTTP API)".into())
        }
        _ => None,
    })
}
