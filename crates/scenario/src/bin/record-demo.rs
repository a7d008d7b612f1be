//! Regenerate `chaintrace demo`'s embedded data (`crates/cli/demo/`):
//!
//! ```sh
//! cargo run -p chaintrace-scenario --bin record-demo [-- OUT_DIR [SIZE [SEED]]]
//! ```
//!
//! Runs the DPRK IT-worker typology (size `medium`, a fixed seed) on a fresh anvil, ingests the
//! chain through the EVM adapter behind a recording proxy, and writes:
//! `ethereum-rpc.json.gz` (every JSON-RPC response the adapter asked for), then runs the
//! cross-chain trail ([`chaintrace_scenario::trail`]: USDC payroll, a CCTP-style bridge to a
//! second node with chain id 42161, a Uniswap V2 swap to ETH there, a cash-out) and records that
//! node as `arbitrum-rpc.json.gz`; `labels.csv` (the
//! seeds as sanctioned, the exchanges' hot wallets), `config.toml` (the token's price symbol),
//! `prices.csv` (an illustrative ETH price table for the scenario's days) and `truth.json` (the
//! ground truth the end-to-end test checks the demo against).

#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use chaintrace_evm::{
    ingest, EvmAdapter, EvmConfig, IngestOptions, MemorySink, MemoryTokenMeta, RpcConfig, TraceSetting,
};
use chaintrace_model::Sensitive;
use chaintrace_scenario::chain::{spawn_anvil, spawn_anvil_with_id};
use chaintrace_scenario::record::{canonical_key, write_recording, Recorder};
use chaintrace_scenario::trail;
use chaintrace_scenario::{generate, Size, GENESIS_TIME, MEDIUM};
use chaintrace_testkit::Contracts;
use serde_json::{json, Value};

/// The demo's RNG seed (any value works; this one is what ships).
const DEMO_SEED: u64 = 0x00d9_4b1c_2024_0401;
/// Largest `--hops` the demo uses; the recording must not need more.
const DEMO_HOPS: u32 = 12;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../cli/demo")));
    let size = args.get(1).map(|s| Size::by_name(s).unwrap_or_else(|| panic!("unknown size {s}"))).unwrap_or(MEDIUM);
    let seed = args.get(2).map(|s| s.parse().expect("seed is a u64")).unwrap_or(DEMO_SEED);
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("create {}: {e}", out.display()));

    let contracts = Contracts::compile();
    let anvil = spawn_anvil(GENESIS_TIME);
    let started = std::time::Instant::now();
    let mut truth = generate(&anvil, &contracts, size, seed);
    assert!(truth.hops <= DEMO_HOPS, "the demo scenario needs {} hops, more than the demo's {DEMO_HOPS}", truth.hops);
    println!(
        "scenario {} size {} seed {seed}: {} transactions in blocks {}..={} ({:.1}s)",
        truth.scenario,
        truth.size,
        truth.transactions,
        truth.first_block,
        truth.last_block,
        started.elapsed().as_secs_f64()
    );

    // The cross-chain trail on a second node (chain id 42161), after the scenario.
    let arb = spawn_anvil_with_id(trail::SECOND_CHAIN_ID, truth.end_time);
    let t = trail::run(&anvil, &arb, &contracts, &mut truth);
    println!(
        "trail: {} USDC bridged to {}, swapped for {} wei, cashed out at {} ({} blocks there)",
        t.bridged,
        t.chain,
        t.swapped_eth,
        trail::EXCHANGE,
        t.last_block
    );
    assert!(truth.hops <= DEMO_HOPS, "with the trail the demo needs {} hops, more than {DEMO_HOPS}", truth.hops);
    let arb_last = t.last_block;
    truth.trail = Some(t);
    record(&anvil, "ethereum", 1, truth.first_block, truth.last_block, &out.join("ethereum-rpc.json.gz"));
    record(&arb, trail::SECOND_CHAIN, trail::SECOND_CHAIN_ID, 0, arb_last, &out.join("arbitrum-rpc.json.gz"));

    let write = |name: &str, text: &str| {
        std::fs::write(out.join(name), text).unwrap_or_else(|e| panic!("write {name}: {e}"));
    };
    write("labels.csv", &truth.labels_csv());
    write("config.toml", &truth.config_toml());
    write("prices.csv", &prices_csv(truth.start_time, truth.end_time));
    write("truth.json", &(serde_json::to_string_pretty(&truth).expect("truth json") + "\n"));
    let per = |p: &str| truth.expected(p).len();
    println!(
        "ground truth: {} traced deposits (poison {}, haircut {}, fifo {}), {} decoys, hops {}",
        truth.deposits.len(),
        per("poison"),
        per("haircut"),
        per("fifo"),
        truth.decoys.len(),
        truth.hops
    );
    println!("wrote {}", out.display());
    let _keep = Arc::new(anvil);
}

/// An illustrative daily ETH price table for the scenario's days (the chain is synthetic, so
/// are its prices; USDT is valued at 1.00 by rule).
fn prices_csv(start: u64, end: u64) -> String {
    let mut s = String::from("date,eth_usd,usdt_usd\n");
    let (d0, d1) = (start / 86_400, end / 86_400 + 1);
    for (i, day) in (d0..=d1).enumerate() {
        let (y, m, d) = civil(day as i64);
        let price = 3_300 + (i as u64 * 37) % 190 - (i as u64 * 11) % 70;
        s.push_str(&format!("{y:04}-{m:02}-{d:02},{price}.{:02},1.00\n", (i * 29) % 100));
    }
    s
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's civil_from_days).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Ingest blocks `first..=last` of `anvil` through the real adapter behind the recording proxy
/// and write every response the adapter asked for (and the per-block calls of every height) to
/// `file`.
fn record(anvil: &chaintrace_testkit::Anvil, name: &str, chain_id: u64, first: u64, last: u64, file: &std::path::Path) {
    // Ingest through the real adapter behind the recording proxy.
    let recorder = Recorder::start(anvil.addr());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio");
    let sink = MemorySink::default();
    let summary = runtime
        .block_on(async {
            let cfg = EvmConfig {
                chain: name.into(),
                chain_id: Some(chain_id),
                rpc: RpcConfig::default(),
                traces: TraceSetting::Auto,
            };
            let adapter = EvmAdapter::connect(&Sensitive::new(recorder.url()), cfg).await?;
            let opts = IngestOptions { from: Some(0), to: Some(last), ..IngestOptions::default() };
            let tokens = MemoryTokenMeta::default();
            ingest(&adapter, &sink, Some(&tokens), &opts, &AtomicBool::new(false), |_| {}).await
        })
        .expect("ingest through the recording proxy");
    println!(
        "adapter ingest: {} blocks, {} transfers, traces {:?}",
        summary.blocks, summary.transfers, summary.trace_mode
    );

    // Complete the per-block calls for every height, whatever chunking a later ingest uses.
    let mut calls = recorder.calls();
    let have: std::collections::BTreeSet<String> =
        calls.iter().map(|c| canonical_key(c["method"].as_str().unwrap_or(""), &c["params"])).collect();
    let mut extra = Vec::new();
    for c in &calls {
        let (Some(method), Some(params)) = (c["method"].as_str(), c["params"].as_array()) else { continue };
        if !matches!(
            method,
            "eth_getBlockByNumber" | "eth_getBlockReceipts" | "debug_traceBlockByNumber" | "trace_block"
        ) {
            continue;
        }
        for h in first..=last {
            let mut p = params.clone();
            p[0] = json!(format!("0x{h:x}"));
            let key = canonical_key(method, &Value::Array(p.clone()));
            if !have.contains(&key) && !extra.iter().any(|(k, _): &(String, Value)| *k == key) {
                extra.push((key, json!({"method": method, "params": p})));
            }
        }
    }
    for (_, call) in extra {
        let method = call["method"].as_str().expect("method").to_string();
        let mut entry = call.clone();
        match anvil.try_rpc(&method, call["params"].clone()) {
            Ok(r) => entry["result"] = r,
            Err(e) => entry["error"] = json!({"code": -32000, "message": e}),
        }
        calls.push(entry);
    }
    calls.sort_by_key(|c| canonical_key(c["method"].as_str().unwrap_or(""), &c["params"]));
    let n = calls.len();
    let bytes = write_recording(file, chain_id, calls).expect("write the recording");
    println!("recording of {name}: {n} calls, {bytes} bytes");
}
