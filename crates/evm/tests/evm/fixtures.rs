//! The EVM adapter against real Ethereum mainnet JSON-RPC responses recorded by
//! blockchain-etl/ethereum-etl (`tests/data/ethereum-etl`), served from a local HTTP server
//! with upstream's file-name rule. Oracles: upstream's `expected_*` files.

use std::path::PathBuf;

use chaintrace_evm::decode::TraceKind;
use chaintrace_evm::{EvmAdapter, EvmConfig, TraceSetting};
use chaintrace_model::{Address, Asset, Sensitive, Transfer};
use chaintrace_testkit::FixtureServer;
use serde_json::Value;

fn res(dir: &str) -> PathBuf {
    chaintrace_testkit::test_data("ethereum-etl/tests/resources").join(dir)
}

fn csv(path: PathBuf) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else { return Vec::new() };
    let header: Vec<String> = header.split(',').map(str::to_string).collect();
    lines.map(|l| header.iter().cloned().zip(l.split(',').map(str::to_string)).collect()).collect()
}

async fn adapter(server: &FixtureServer, traces: TraceSetting) -> EvmAdapter {
    let mut cfg = EvmConfig::new("ethereum", None);
    cfg.traces = traces;
    cfg.rpc.max_attempts = 2;
    EvmAdapter::connect(&Sensitive::new(server.url()), cfg).await.expect("connect to the fixture server")
}

fn token_rows(ts: &[Transfer]) -> Vec<(String, String, String, String, String)> {
    ts.iter()
        .filter_map(|t| match t.asset {
            Asset::Token(c) => Some((
                format!("0x{}", hex::encode(c)),
                t.from.to_string(),
                t.to.to_string(),
                t.amount.to_string(),
                format!("0x{}", t.tx),
            )),
            Asset::Native | Asset::TronToken(_) | Asset::Trc10(_) => None,
        })
        .collect()
}

#[tokio::test]
async fn block_483920_decodes_to_the_expected_token_transfers_and_values() {
    let server = FixtureServer::start(vec![
        res("test_export_blocks_job/block_with_logs"),
        res("test_export_receipts_job/receipts_with_logs"),
    ]);
    let a = adapter(&server, TraceSetting::Auto).await;
    let blocks = a.fetch_blocks(483920, 483920).await.expect("fetch block 483920");
    assert_eq!(blocks.len(), 1);
    let b = &blocks[0];
    // The node offers neither tracing API here; that is detected, not an error.
    assert_eq!(a.known_trace_mode(), Some(chaintrace_evm::TraceMode::None));
    // eth_getBlockReceipts is not in the recording: receipts were fetched per transaction.
    assert!(server.requested().iter().any(|n| n.starts_with("web3_response.eth_getTransactionReceipt_")));

    let expected: Vec<_> =
        csv(res("test_export_token_transfers_job/block_with_transfers/expected_token_transfers.csv"))
            .into_iter()
            .map(|r| {
                (
                    r["token_address"].clone(),
                    r["from_address"].clone(),
                    r["to_address"].clone(),
                    r["value"].clone(),
                    r["transaction_hash"].clone(),
                )
            })
            .collect();
    assert_eq!(expected.len(), 2);
    assert_eq!(token_rows(&b.transfers), expected);
    // Positions of token transfers follow the log index.
    let subs: Vec<u32> = b.transfers.iter().filter(|t| t.asset != Asset::Native).map(|t| t.pos.sub).collect();
    let logs: Vec<u32> = csv(res("test_export_token_transfers_job/block_with_transfers/expected_token_transfers.csv"))
        .iter()
        .map(|r| r["log_index"].parse::<u32>().expect("log index"))
        .collect();
    assert_eq!(subs, logs.iter().map(|l| chaintrace_evm::decode::LOG_SUB_BASE + l).collect::<Vec<_>>());

    // Native value transfers: exactly the transactions with value > 0 (all succeeded).
    let txs = csv(res("test_export_blocks_job/block_with_logs/expected_transactions.csv"));
    let mut native_expected: Vec<(String, String, String, String)> = txs
        .iter()
        .filter(|r| r["value"] != "0")
        .map(|r| (r["hash"].clone(), r["from_address"].clone(), r["to_address"].clone(), r["value"].clone()))
        .collect();
    native_expected.sort();
    let mut native: Vec<_> = b
        .transfers
        .iter()
        .filter(|t| t.asset == Asset::Native)
        .map(|t| (format!("0x{}", t.tx), t.from.to_string(), t.to.to_string(), t.amount.to_string()))
        .collect();
    native.sort();
    assert_eq!(native, native_expected);
    assert_eq!(b.tx_count as usize, txs.len());
    let blocks_csv = csv(res("test_export_blocks_job/block_with_logs/expected_blocks.csv"));
    assert_eq!(format!("0x{}", b.block.hash), blocks_csv[0]["hash"]);
    assert_eq!(format!("0x{}", b.block.parent), blocks_csv[0]["parent_hash"]);
    assert_eq!(b.block.time.to_string(), blocks_csv[0]["timestamp"]);
}

#[tokio::test]
async fn stream_blocks_1755634_1755635_decode_to_the_expected_token_transfers() {
    let dir = res("test_stream/blocks_1755634_1755635");
    let server = FixtureServer::start(vec![dir.clone()]);
    let a = adapter(&server, TraceSetting::Auto).await;
    let blocks = a.fetch_blocks(1755634, 1755635).await.expect("fetch the two blocks");
    let all: Vec<Transfer> = blocks.iter().flat_map(|b| b.transfers.clone()).collect();
    let text = std::fs::read_to_string(dir.join("expected_token_transfers.json")).expect("read expected");
    let expected: Vec<_> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("json line");
            let s = |k: &str| match &v[k] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (s("token_address"), s("from_address"), s("to_address"), s("value"), s("transaction_hash"))
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(token_rows(&all), expected);
    // Block identities and parent links.
    let eb = std::fs::read_to_string(dir.join("expected_blocks.json")).expect("read blocks");
    for (b, line) in blocks.iter().zip(eb.lines()) {
        let v: Value = serde_json::from_str(line).expect("json");
        assert_eq!(format!("0x{}", b.block.hash), v["hash"].as_str().expect("hash"));
        assert_eq!(format!("0x{}", b.block.parent), v["parent_hash"].as_str().expect("parent"));
    }
    assert_eq!(blocks[1].block.parent, blocks[0].block.hash);
}

/// Compare the adapter's normalised trace rows with upstream's traces.csv (rewards excluded:
/// issuance is not a transfer). Empty expected fields are not compared (upstream's Geth
/// extractor leaves `suicide` addresses blank).
async fn check_traces(job: &str, block: &str, height: u64, setting: TraceSetting) {
    let dir = res(&format!("{job}/{block}"));
    let server = FixtureServer::start(vec![dir.clone()]);
    let a = adapter(&server, setting).await;
    let rows = a.traces(height).await.unwrap_or_else(|e| panic!("{job}/{block}: {e}"));
    let expected: Vec<_> =
        csv(dir.join("expected_traces.csv")).into_iter().filter(|r| r["trace_type"] != "reward").collect();
    assert_eq!(rows.len(), expected.len(), "{job}/{block}: {rows:?}");
    for (row, exp) in rows.iter().zip(&expected) {
        let ctx = format!("{job}/{block} {exp:?} vs {row:?}");
        assert_eq!(row.tx_index.to_string(), exp["transaction_index"], "{ctx}");
        let ta: Vec<String> = row.trace_address.iter().map(|x| x.to_string()).collect();
        assert_eq!(ta.join(","), exp["trace_address"].replace(' ', ""), "{ctx}");
        assert_eq!(row.kind.as_str(), exp["trace_type"], "{ctx}");
        if row.kind == TraceKind::Call {
            assert_eq!(row.call_type.as_deref(), Some(exp["call_type"].as_str()), "{ctx}");
        }
        let fmt =
            |a: Option<alloy_primitives::Address>| a.map(|a| Address::Evm(a.0 .0).to_string()).unwrap_or_default();
        if !exp["from_address"].is_empty() {
            assert_eq!(fmt(row.from), exp["from_address"], "{ctx}");
        }
        if !exp["to_address"].is_empty() {
            assert_eq!(fmt(row.to), exp["to_address"], "{ctx}");
        }
        if !exp["value"].is_empty() {
            assert_eq!(row.value.to_string(), exp["value"], "{ctx}");
        }
        assert_eq!(
            row.error.as_deref().map(str::to_lowercase),
            Some(exp["error"].to_lowercase()).filter(|e| !e.is_empty()),
            "{ctx}"
        );
        if !exp["status"].is_empty() {
            assert_eq!(!row.failed, exp["status"] == "1", "{ctx}");
        }
    }
}

#[tokio::test]
async fn parity_trace_block_fixtures_decode_to_the_expected_traces() {
    for (block, h) in [
        ("block_with_create", 1000690),
        ("block_with_error", 1000895),
        ("block_with_subtraces", 1000000),
        ("block_with_suicide", 1011973),
        ("block_without_transactions", 0),
    ] {
        check_traces("test_export_traces_job", block, h, TraceSetting::Parity).await;
    }
}

#[tokio::test]
async fn geth_calltracer_fixtures_decode_to_the_expected_traces() {
    for (block, h) in [
        ("block_with_create", 1000690),
        ("block_with_error", 1000895),
        ("block_with_subtraces", 1000000),
        ("block_with_suicide", 1011973),
        ("block_without_transactions", 1),
    ] {
        check_traces("test_extract_geth_traces_job", block, h, TraceSetting::Geth).await;
    }
}

#[tokio::test]
async fn internal_transfers_from_traces_are_exactly_the_successful_value_frames() {
    // Block 1000000 (Parity format): tx 0 calls with 100 ETH and the callee CALLCODEs itself
    // (no value moves between accounts); block 1011973: a SELFDESTRUCT sends 0.05 ETH back.
    let server = FixtureServer::start(vec![res("test_export_traces_job/block_with_suicide")]);
    let a = adapter(&server, TraceSetting::Parity).await;
    let rows = a.traces(1011973).await.expect("traces");
    let internal: Vec<_> = rows.iter().filter(|r| r.is_internal_transfer()).collect();
    assert_eq!(internal.len(), 1);
    assert_eq!(internal[0].kind, TraceKind::Suicide);
    assert_eq!(internal[0].value.to_string(), "50000000000000000");
    let server = FixtureServer::start(vec![res("test_export_traces_job/block_with_subtraces")]);
    let a = adapter(&server, TraceSetting::Parity).await;
    let rows = a.traces(1000000).await.expect("traces");
    assert!(rows.iter().all(|r| !r.is_internal_transfer()), "a callcode to itself is not a transfer: {rows:?}");
}

#[tokio::test]
async fn token_metadata_matches_the_expected_tokens() {
    for (dir, token) in [
        ("test_export_tokens_job/token_with_alternative_return_type", "86fa049857e0209aa7d9e616f7eb3b3b78ecfdb0"),
        ("test_export_tokens_job/token_with_invalid_data", "f763be8b3263c268e9789abfb3934564a7b80054"),
    ] {
        let server = FixtureServer::start(vec![res(dir)]);
        let a = adapter(&server, TraceSetting::Off).await;
        let mut t = [0u8; 20];
        t.copy_from_slice(
            &(0..20).map(|i| u8::from_str_radix(&token[2 * i..2 * i + 2], 16).unwrap()).collect::<Vec<_>>(),
        );
        let meta = a.token_meta(&[t]).await.expect("token meta").pop().unwrap();
        let exp = &csv(res(dir).join("expected_tokens.csv"))[0];
        assert_eq!(meta.symbol.as_deref().unwrap_or(""), exp["symbol"], "{dir}");
        assert_eq!(meta.decimals.map(|d| d.to_string()).unwrap_or_default(), exp["decimals"], "{dir}");
        assert_eq!(meta.name.as_deref().unwrap_or(""), exp["name"], "{dir}");
    }
}

#[tokio::test]
async fn chain_id_mismatch_is_refused_with_a_clear_error() {
    let server = FixtureServer::start(vec![res("test_export_tokens_job/token_with_invalid_data")]);
    let cfg = EvmConfig::new("ethereum", Some(5));
    let err = EvmAdapter::connect(&Sensitive::new(server.url()), cfg).await.err().expect("mismatch refused");
    let msg = err.to_string();
    assert!(msg.contains("chain id") && msg.contains("ethereum") && msg.contains('5'), "{msg}");
}
