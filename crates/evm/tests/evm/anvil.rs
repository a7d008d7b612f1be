//! The EVM adapter and ingest loop against a real anvil node (installed from npm by the
//! test kit): every transfer a scripted scenario made, reorgs of depth 1 to 10 (through the shared fork search of `chaintrace-model`), head following,
//! and a fault-injecting proxy.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chaintrace_evm::{
    ingest, EvmAdapter, EvmConfig, IngestOptions, MemorySink, MemoryTokenMeta, TokenMetaStore, TraceMode, TraceSetting,
};
use chaintrace_model::Sensitive;
use chaintrace_testkit::scenario::{self, ExpectedTransfer};
use chaintrace_testkit::{Anvil, Contracts, FaultConfig, FaultProxy};
use serde_json::json;

use crate::common::as_expected;

fn stored(sink: &MemorySink) -> Vec<ExpectedTransfer> {
    let mut v: Vec<_> = sink.all_transfers().iter().map(as_expected).collect();
    v.sort();
    v
}

fn config(traces: TraceSetting) -> EvmConfig {
    let mut cfg = EvmConfig::new("ethereum", Some(1));
    cfg.traces = traces;
    cfg
}

async fn ingest_to(
    url: &str,
    cfg: EvmConfig,
    sink: &MemorySink,
    tokens: &MemoryTokenMeta,
    to: u64,
) -> chaintrace_evm::IngestSummary {
    let adapter = EvmAdapter::connect(&Sensitive::new(url), cfg).await.expect("connect");
    let opts = IngestOptions { to: Some(to), chunk_blocks: 4, ..IngestOptions::default() };
    ingest(&adapter, sink, Some(tokens), &opts, &AtomicBool::new(false), |_| {}).await.expect("ingest")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_is_ingested_exactly_with_either_tracing_api() {
    let anvil = Anvil::spawn();
    let contracts = Contracts::compile();
    let sc = scenario::run(&anvil, &contracts);
    let head = anvil.block_number();
    for setting in [TraceSetting::Auto, TraceSetting::Geth, TraceSetting::Parity] {
        let sink = MemorySink::default();
        let tokens = MemoryTokenMeta::default();
        let sum = ingest_to(&anvil.url(), config(setting), &sink, &tokens, head).await;
        // anvil offers both; the probe prefers the cheaper trace_block.
        let mode = if setting == TraceSetting::Geth { TraceMode::Geth } else { TraceMode::Parity };
        assert_eq!(sum.trace_mode, Some(mode.as_str()));
        assert_eq!(sum.blocks, head + 1);
        let got = stored(&sink);
        let missing: Vec<_> = sc.expected.iter().filter(|e| !got.contains(e)).collect();
        let extra: Vec<_> = got.iter().filter(|g| !sc.expected.contains(g)).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{setting:?}: missing {missing:#?}\nextra {extra:#?}");
        // Reverted transactions contribute nothing.
        assert!(got.iter().all(|g| !sc.reverted.contains(&g.tx)));
        // Positions are unique per block.
        let mut seen = BTreeSet::new();
        for t in sink.all_transfers() {
            assert!(seen.insert((t.height, t.pos)), "duplicate position {:?}", t.pos);
        }
        // Token metadata was read once per contract: decimals and symbol, or raw units.
        let meta = |addr: &str| {
            let mut b = [0u8; 20];
            hex::decode_to_slice(addr.trim_start_matches("0x"), &mut b).expect("token address hex");
            tokens.get(&b).expect("infallible").expect("token metadata stored")
        };
        assert_eq!((meta(&sc.usdt).decimals, meta(&sc.usdt).symbol.as_deref()), (Some(6), Some("USDT")));
        assert_eq!((meta(&sc.gold).decimals, meta(&sc.gold).symbol.as_deref()), (Some(18), Some("GLD")));
        assert_eq!((meta(&sc.mute).decimals, meta(&sc.mute).symbol.clone()), (None, None));
        assert_eq!(sum.tokens_read, 3);
    }
    // Sanity of the oracle itself: it has many accounts, both tokens and internal transfers.
    assert!(sc.expected.len() > 50);
    assert!(sc.expected.iter().any(|e| e.from == sc.forwarder2 && e.asset == "ETH"));
}

/// Every stored block is the node's block at that height, and every stored transfer's
/// transaction is in the node's chain in that block.
fn assert_matches_node(anvil: &Anvil, sink: &MemorySink) {
    let blocks = sink.blocks.lock().unwrap().clone();
    assert_eq!(blocks.keys().last().copied(), Some(anvil.block_number()));
    for (h, b) in &blocks {
        assert_eq!(format!("0x{}", b.block.hash), anvil.block_hash(*h), "block {h}");
        for t in &b.transfers {
            let r = anvil.receipt(&format!("0x{}", t.tx));
            assert_eq!(r["blockHash"].as_str().unwrap(), anvil.block_hash(*h), "orphaned transfer in block {h}: {t:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorgs_of_depth_1_to_10_leave_no_orphaned_transfer() {
    for depth in 1..=10u64 {
        // anvil_reorg: the last `depth` blocks are replaced by blocks with other transactions.
        let anvil = Anvil::spawn();
        let a = anvil.accounts();
        scenario::native_blocks(&anvil, 0, 12, 1);
        let sink = MemorySink::default();
        let tokens = MemoryTokenMeta::default();
        ingest_to(&anvil.url(), config(TraceSetting::Auto), &sink, &tokens, anvil.block_number()).await;
        let before = stored(&sink);
        let txs: Vec<_> =
            (0..depth).map(|i| json!([{"from": a[5], "to": a[6], "value": format!("0x{:x}", 7777 + i)}, i])).collect();
        anvil.reorg(depth, json!(txs));
        let sum = ingest_to(&anvil.url(), config(TraceSetting::Auto), &sink, &tokens, anvil.block_number()).await;
        assert_eq!(sum.reorgs, 1, "depth {depth}");
        assert_eq!(sum.rolled_back, depth, "depth {depth}");
        assert_matches_node(&anvil, &sink);
        let after = stored(&sink);
        assert!(after.iter().any(|t| t.amount == "7777"), "the replacement transfers are stored");
        assert_eq!(after.iter().filter(|t| !before.contains(t)).count() as u64, depth);
        // Same store contents as a fresh ingest of the new chain.
        let fresh = MemorySink::default();
        ingest_to(&anvil.url(), config(TraceSetting::Auto), &fresh, &tokens, anvil.block_number()).await;
        assert_eq!(stored(&fresh), after, "depth {depth}");

        // evm_snapshot / evm_revert: the chain falls back `depth` blocks and grows a different,
        // longer branch.
        let snap = anvil.snapshot();
        scenario::native_blocks(&anvil, 2, depth, 2);
        ingest_to(&anvil.url(), config(TraceSetting::Auto), &sink, &tokens, anvil.block_number()).await;
        anvil.revert(&snap);
        scenario::native_blocks(&anvil, 3, depth + 1, 3);
        let sum = ingest_to(&anvil.url(), config(TraceSetting::Auto), &sink, &tokens, anvil.block_number()).await;
        assert_eq!(sum.rolled_back, depth, "snapshot depth {depth}");
        assert_matches_node(&anvil, &sink);
        let fresh = MemorySink::default();
        ingest_to(&anvil.url(), config(TraceSetting::Auto), &fresh, &tokens, anvil.block_number()).await;
        assert_eq!(stored(&fresh), stored(&sink), "snapshot depth {depth}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_the_head_picks_up_new_blocks_and_stops_on_request() {
    let anvil = Anvil::spawn();
    scenario::native_blocks(&anvil, 0, 3, 1);
    let sink = MemorySink::default();
    let stop = Arc::new(AtomicBool::new(false));
    let url = anvil.url();
    let (sink2, stop2) = (sink.clone(), stop.clone());
    let task = tokio::spawn(async move {
        let adapter = EvmAdapter::connect(&Sensitive::new(url), config(TraceSetting::Auto)).await.expect("connect");
        let opts = IngestOptions { poll_interval: Duration::from_millis(100), ..IngestOptions::default() };
        ingest(&adapter, &sink2, None::<&MemoryTokenMeta>, &opts, &stop2, |_| {}).await
    });
    let wait_for = |h: u64| {
        let sink = sink.clone();
        async move {
            for _ in 0..200 {
                if sink.blocks.lock().unwrap().keys().last().copied() == Some(h) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("ingest did not reach height {h}");
        }
    };
    wait_for(3).await;
    let more = scenario::native_blocks(&anvil, 1, 2, 2);
    wait_for(5).await;
    // A reorg at the tip without a new height is noticed while caught up.
    anvil.reorg(1, json!([]));
    let new_hash = anvil.block_hash(5);
    for _ in 0..200 {
        if sink.blocks.lock().unwrap().get(&5).map(|b| format!("0x{}", b.block.hash)) == Some(new_hash.clone()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let sum = task.await.expect("join").expect("ingest");
    assert!(sum.stopped);
    assert_matches_node(&anvil, &sink);
    let got = stored(&sink);
    assert!(got.contains(&more[0]));
    assert!(!got.contains(&more[1]), "the transfer of the orphaned tip block is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_between_adapter_and_node_do_not_change_the_result() {
    let anvil = Anvil::spawn();
    let contracts = Contracts::compile();
    let sc = scenario::run(&anvil, &contracts);
    let head = anvil.block_number();
    let clean = MemorySink::default();
    ingest_to(&anvil.url(), config(TraceSetting::Auto), &clean, &MemoryTokenMeta::default(), head).await;
    assert_eq!(stored(&clean), sc.expected);

    let proxy = FaultProxy::start(
        anvil.addr(),
        FaultConfig { rate: 0.35, delay: Duration::from_millis(1500), seed: 11, max_faults_per_call: None },
    );
    let mut cfg = config(TraceSetting::Auto);
    cfg.rpc.timeout = Duration::from_millis(700);
    cfg.rpc.backoff_base = Duration::from_millis(10);
    cfg.rpc.backoff_max = Duration::from_millis(200);
    cfg.rpc.max_attempts = 30;
    cfg.rpc.batch_size = 1; // one call per HTTP request, so many requests meet a fault
    let faulty = MemorySink::default();
    let tokens = MemoryTokenMeta::default();
    ingest_to(&proxy.url(), cfg, &faulty, &tokens, head).await;
    assert_eq!(stored(&faulty), stored(&clean));
    assert_eq!(faulty.blocks.lock().unwrap().clone(), clean.blocks.lock().unwrap().clone());
    let st = proxy.stats();
    assert!(st.faults() >= 6, "too few faults injected to mean anything: {st:?}");
    for (kind, n) in [
        ("drop", &st.dropped),
        ("429", &st.http_429),
        ("503", &st.http_503),
        ("truncated", &st.truncated),
        ("rate-limit code", &st.rpc_rate_limited),
        ("delay", &st.delayed),
    ] {
        assert!(n.load(Ordering::Relaxed) > 0, "no {kind} fault was injected: {st:?}");
    }
}

#[tokio::test]
async fn errors_show_the_endpoint_only_as_scheme_and_host() {
    let mut cfg = config(TraceSetting::Auto);
    cfg.rpc.max_attempts = 2;
    cfg.rpc.backoff_base = Duration::from_millis(1);
    let url = Sensitive::new("http://user:pw@127.0.0.1:1/v2/SECRETKEY?apikey=SECRET2");
    let err = EvmAdapter::connect(&url, cfg).await.err().expect("nothing listens on port 1");
    let msg = format!("{err} {err:?}");
    assert!(!msg.contains("SECRET") && !msg.contains("pw@"), "{msg}");
    assert!(msg.contains("http://127.0.0.1:1"), "{msg}");
}

/// Regression (the ingest benchmark hung for 15 minutes with every worker idle and responses
/// unread in its sockets): the ingest loop awaited token metadata, an RPC call that needs an
/// in-flight permit, while the chunks fetched ahead held the permits and were not polled, so
/// their responses were never read and no permit came back. With one request in flight and two
/// chunks ahead that was a certain deadlock; the loop must finish, with every transfer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_reads_while_chunks_are_fetched_ahead_do_not_deadlock() {
    let anvil = Anvil::spawn();
    let contracts = Contracts::compile();
    let sc = scenario::run(&anvil, &contracts);
    let head = anvil.block_number();
    let mut cfg = config(TraceSetting::Auto);
    cfg.rpc.max_in_flight = 1;
    cfg.rpc.batch_size = 2;
    let adapter = EvmAdapter::connect(&Sensitive::new(anvil.url()), cfg).await.expect("connect");
    let sink = MemorySink::default();
    let tokens = MemoryTokenMeta::default();
    let opts = IngestOptions { to: Some(head), chunk_blocks: 2, parallel_chunks: 4, ..IngestOptions::default() };
    let stop = AtomicBool::new(false);
    let run = ingest(&adapter, &sink, Some(&tokens), &opts, &stop, |_| {});
    let sum = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("ingest finished (no deadlock between token reads and chunks fetched ahead)")
        .expect("ingest");
    assert_eq!(sum.blocks, head + 1);
    assert_eq!(sum.tokens_read, 3);
    assert_eq!(stored(&sink), {
        let mut e = sc.expected.clone();
        e.sort();
        e
    });
}

/// Chunks fetched ahead of the writer that the plan no longer wants are thrown away. Blocks
/// 21..=40 are replaced while block 21 is being stored, with the chunks fetched ahead of it
/// read from the old branch: the first chunk read from the new branch has its parent refused,
/// whatever was fetched ahead of it is dropped, the fork search rolls back to 20 and the rest
/// is read again; the store ends exactly as a fresh ingest of the new chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_while_chunks_are_fetched_ahead_discards_them() {
    let anvil = Anvil::spawn();
    let a = anvil.accounts();
    scenario::native_blocks(&anvil, 0, 40, 1);
    let head = anvil.block_number();
    assert_eq!(head, 40);
    let adapter = EvmAdapter::connect(&Sensitive::new(anvil.url()), config(TraceSetting::Auto)).await.expect("connect");
    let sink = MemorySink::default();
    let tokens = MemoryTokenMeta::default();
    let opts = IngestOptions { to: Some(head), chunk_blocks: 2, parallel_chunks: 4, ..IngestOptions::default() };
    let depth = 20; // replaces blocks 21..=40
    let mut reorged = false;
    let sum = ingest(&adapter, &sink, Some(&tokens), &opts, &AtomicBool::new(false), |p| {
        if p.height == 21 && !reorged {
            let txs: Vec<_> = (0..depth)
                .map(|i| json!([{"from": a[5], "to": a[6], "value": format!("0x{:x}", 9000 + i)}, i]))
                .collect();
            anvil.reorg(depth, json!(txs));
            reorged = true;
        }
    })
    .await
    .expect("ingest");
    assert!(reorged, "the progress report of block 21 came");
    assert_eq!(sum.reorgs, 1);
    // Block 21 was stored from the old branch, and the chunks fetched ahead with it (the old
    // branch's blocks up to 29 at most: 4 chunks of 2).
    assert!((1..=9).contains(&sum.rolled_back), "rolled back {}", sum.rolled_back);
    assert_matches_node(&anvil, &sink);
    let fresh = MemorySink::default();
    ingest_to(&anvil.url(), config(TraceSetting::Auto), &fresh, &tokens, head).await;
    assert_eq!(stored(&sink), stored(&fresh));
    assert_eq!(stored(&sink).iter().filter(|t| t.amount.starts_with("90")).count() as u64, depth);
}

/// A stop request after a chunk is stored ends the run there: the chunks already fetched
/// ahead are not stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_leaves_the_chunks_fetched_ahead_unstored() {
    let anvil = Anvil::spawn();
    scenario::native_blocks(&anvil, 0, 20, 1);
    let head = anvil.block_number();
    let adapter = EvmAdapter::connect(&Sensitive::new(anvil.url()), config(TraceSetting::Auto)).await.expect("connect");
    let sink = MemorySink::default();
    let stop = AtomicBool::new(false);
    let opts = IngestOptions { to: Some(head), chunk_blocks: 3, parallel_chunks: 4, ..IngestOptions::default() };
    let sum = ingest(&adapter, &sink, None::<&MemoryTokenMeta>, &opts, &stop, |p| {
        if p.height >= 5 {
            stop.store(true, Ordering::Relaxed);
        }
    })
    .await
    .expect("ingest");
    assert!(sum.stopped);
    assert_eq!(sum.blocks, 6);
    assert_eq!(sink.blocks.lock().unwrap().keys().copied().collect::<Vec<_>>(), (0..=5).collect::<Vec<_>>());
    assert_eq!(sum.tip.map(|t| t.0), Some(5));
}
