//! TRON ingest next to EVM ingest of the same blocks.
//!
//! One anvil node started with TRON mainnet's JSON-RPC chain id (728126428) stands in for a
//! TRON JSON-RPC node. The same blocks are ingested three times by the real binary: as chain
//! `tron` over the JSON-RPC (probe, then the EVM adapter through `TronSink`, TRON keys), as chain
//! `tron` over the HTTP API, and as an EVM chain with that chain id declared in a config
//! (`evm-same`). anvil has no `/wallet` API, so the HTTP path goes through a translating
//! stand-in: every `/wallet/getblockbynum`, `/wallet/getblockbylimitnext` and
//! `/wallet/gettransactioninfobyblocknum` request is answered by asking anvil then and there
//! (`eth_getBlockByNumber`, `eth_getBlockReceipts`) and rewriting the answer in java-tron's shape
//! (`TransferContract`s, `41…` addresses, transaction infos with their logs), so both paths wait
//! on the same node. Best of 3 interleaved runs each, fresh store every run, printed side by
//! side; each TRON path is expected to be at least 0.8× the EVM path.
//!
//! `TRON_BENCH_HTTP_ARGS` adds flags to the HTTP path's runs (e.g. `--max-in-flight 16`).
//! `TRON_BENCH_NO_RANGE=1` makes the stand-in refuse `getblockbylimitnext` (404, as a node
//! without it), to measure the per-block fallback.
//!
//! `cargo bench -p chaintrace-cli --bench tron_ingest` (env `TRON_BENCH_BLOCKS`, default 200,
//! and `TRON_BENCH_TXS` per block, default 20).

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use chaintrace_testkit::http::{post, Reply, Server};
use chaintrace_testkit::Anvil;
use serde_json::{json, Value};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn ingest(
    store: &std::path::Path,
    config: &std::path::Path,
    chain: &str,
    url: &str,
    to: u64,
    extra: &[String],
) -> Duration {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_chaintrace"))
        .arg("--store")
        .arg(store)
        .arg("--config")
        .arg(config)
        .args(["ingest", chain, "--rpc", url, "--from", "0", "--to", &to.to_string()])
        .args(extra)
        .output()
        .expect("run chaintrace");
    let took = t.elapsed();
    assert!(out.status.success(), "ingest {chain} failed: {}", String::from_utf8_lossy(&out.stderr));
    took
}

/// One JSON-RPC call (or batch) to anvil.
fn rpc(anvil: SocketAddr, req: &Value) -> Value {
    let r = post(anvil, &serde_json::to_vec(req).expect("JSON"), Duration::from_secs(30)).expect("anvil answers");
    serde_json::from_slice(&r.body).expect("anvil answers JSON")
}

fn bare(v: &Value) -> String {
    v.as_str().unwrap_or("").trim_start_matches("0x").to_string()
}

fn num(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap_or("0x0").trim_start_matches("0x"), 16).unwrap_or(0)
}

/// An anvil block (with transactions) in `/wallet/getblockbynum`'s shape.
fn as_wallet_block(b: &Value) -> Value {
    if b.is_null() {
        return json!({});
    }
    let txs: Vec<Value> = b["transactions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|t| {
            json!({
                "txID": bare(&t["hash"]),
                "ret": [{"contractRet": "SUCCESS"}],
                "raw_data": {"contract": [{"type": "TransferContract", "parameter": {"value": {
                    "owner_address": format!("41{}", bare(&t["from"])),
                    "to_address": format!("41{}", bare(&t["to"])),
                    "amount": num(&t["value"]),
                }}}]},
            })
        })
        .collect();
    json!({
        "blockID": bare(&b["hash"]),
        "block_header": {"raw_data": {
            "number": num(&b["number"]),
            "parentHash": bare(&b["parentHash"]),
            "timestamp": num(&b["timestamp"]) * 1000,
        }},
        "transactions": txs,
    })
}

/// Receipts in `/wallet/gettransactioninfobyblocknum`'s shape.
fn as_tx_infos(receipts: &Value) -> Value {
    let infos: Vec<Value> = receipts
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|r| {
            let logs: Vec<Value> = r["logs"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .map(|l| {
                    json!({
                        "address": bare(&l["address"]),
                        "topics": l["topics"].as_array().map(|t| t.iter().map(bare).collect::<Vec<_>>()),
                        "data": bare(&l["data"]),
                    })
                })
                .collect();
            json!({
                "id": bare(&r["transactionHash"]),
                "blockNumber": num(&r["blockNumber"]),
                "receipt": {"result": if num(&r["status"]) == 1 { "SUCCESS" } else { "REVERT" }},
                "log": logs,
            })
        })
        .collect();
    Value::Array(infos)
}

/// The translating HTTP-API stand-in in front of anvil.
fn http_api(anvil: SocketAddr, range: bool) -> Server {
    Server::start_routed(move |path, body| {
        let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let call = |method: &str, params: Value| {
            rpc(anvil, &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))["result"].clone()
        };
        let answer = |v: &Value| Reply::json(serde_json::to_vec(v).expect("JSON"));
        match path {
            "/wallet/getnowblock" => answer(&as_wallet_block(&call("eth_getBlockByNumber", json!(["latest", true])))),
            "/wallet/getblockbynum" => {
                let n = req["num"].as_u64().unwrap_or(0);
                answer(&as_wallet_block(&call("eth_getBlockByNumber", json!([format!("0x{n:x}"), true]))))
            }
            "/wallet/getblockbylimitnext" if range => {
                let (s, e) = (req["startNum"].as_u64().unwrap_or(0), req["endNum"].as_u64().unwrap_or(0));
                let batch: Vec<Value> = (s..e.min(s + 100))
                    .map(|n| json!({"jsonrpc": "2.0", "id": n, "method": "eth_getBlockByNumber", "params": [format!("0x{n:x}"), true]}))
                    .collect();
                if batch.is_empty() {
                    return answer(&json!({}));
                }
                let mut got: Vec<Value> = rpc(anvil, &Value::Array(batch)).as_array().cloned().unwrap_or_default();
                got.sort_by_key(|r| r["id"].as_u64());
                let blocks: Vec<Value> =
                    got.iter().filter(|r| !r["result"].is_null()).map(|r| as_wallet_block(&r["result"])).collect();
                answer(&json!({"block": blocks}))
            }
            "/wallet/gettransactioninfobyblocknum" => {
                let n = req["num"].as_u64().unwrap_or(0);
                answer(&as_tx_infos(&call("eth_getBlockReceipts", json!([format!("0x{n:x}")]))))
            }
            _ => Reply::Send { status: 404, body: b"{}".to_vec(), content_length: None },
        }
    })
}

fn main() {
    let blocks = env_or("TRON_BENCH_BLOCKS", 200);
    let per_block = env_or("TRON_BENCH_TXS", 20);
    let anvil = Anvil::builder().chain_id(728_126_428).spawn();
    let acc = anvil.accounts();
    anvil.set_automine(false);
    for b in 0..blocks {
        for i in 0..per_block {
            let from = &acc[(i as usize) % acc.len()];
            let to = &acc[(i as usize + 1 + b as usize) % acc.len()];
            anvil.send(from, Some(to), alloy_primitives::U256::from(1_000 + b * per_block + i), &[]);
        }
        anvil.mine(1);
    }
    let head = anvil.block_number();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("bench.toml");
    std::fs::write(
        &config,
        "[chains.evm-same]\nkind = \"evm\"\nchain_id = 728126428\nnative_symbol = \"TRX\"\nnative_decimals = 6\n",
    )
    .expect("write config");
    let stand_in = http_api(anvil.addr(), std::env::var_os("TRON_BENCH_NO_RANGE").is_none());
    // Interleaved (evm, tron, tron-http, evm, …) so no path gets the warmer node.
    let (mut evm, mut tron, mut tron_http) = (Duration::MAX, Duration::MAX, Duration::MAX);
    // Extra flags for the HTTP path's runs (`TRON_BENCH_HTTP_ARGS="--max-in-flight 16"`).
    let http_args: Vec<String> =
        std::env::var("TRON_BENCH_HTTP_ARGS").unwrap_or_default().split_whitespace().map(String::from).collect();
    for run in 0..3 {
        for (name, chain, url, extra, best) in [
            ("evm", "evm-same", anvil.url(), &[][..], &mut evm),
            ("tron-rpc", "tron", anvil.url(), &[][..], &mut tron),
            ("tron-http", "tron", stand_in.url(), &http_args[..], &mut tron_http),
        ] {
            let store = dir.path().join(format!("{name}-{run}"));
            *best = (*best).min(ingest(&store, &config, chain, &url, head, extra));
        }
    }
    // The stand-in's own floor: every block and transaction-info request the HTTP path needs,
    // sent by 16 threads on keep-alive connections, without chaintrace.
    let floor = {
        let url = stand_in.url();
        let t = Instant::now();
        std::thread::scope(|s| {
            for k in 0..16u64 {
                let url = &url;
                s.spawn(move || {
                    let agent = ureq::agent();
                    for h in (k..=head).step_by(16) {
                        for path in ["/wallet/getblockbynum", "/wallet/gettransactioninfobyblocknum"] {
                            agent
                                .post(&format!("{url}{path}"))
                                .send_string(&json!({"num": h}).to_string())
                                .expect("the stand-in answers");
                        }
                    }
                });
            }
        });
        t.elapsed()
    };
    let transfers = blocks * per_block;
    let rate = |d: Duration| transfers as f64 / d.as_secs_f64();
    let mut out = String::new();
    out.push_str(&format!(
        "\nTRON vs EVM ingest of the same {blocks} blocks ({transfers} transfers) from one anvil (chain id 728126428), best of 3\n"
    ));
    out.push_str(&format!("{:<28} {:>10} {:>16}\n", "path", "seconds", "transfers/s"));
    out.push_str(&format!("{:<28} {:>10.3} {:>16.0}\n", "evm (ingest evm-same)", evm.as_secs_f64(), rate(evm)));
    out.push_str(&format!(
        "{:<28} {:>10.3} {:>16.0}\n",
        "tron (ingest tron, JSON-RPC)",
        tron.as_secs_f64(),
        rate(tron)
    ));
    out.push_str(&format!(
        "{:<28} {:>10.3} {:>16.0}\n",
        "tron (ingest tron, HTTP API)",
        tron_http.as_secs_f64(),
        rate(tron_http)
    ));
    out.push_str(&format!(
        "{:<28} {:>10.3}   (the stand-in answering every block and transaction info alone, 16 threads)\n",
        "http stand-in floor",
        floor.as_secs_f64()
    ));
    for (path, d) in [("JSON-RPC", tron), ("HTTP API", tron_http)] {
        let ratio = rate(d) / rate(evm);
        out.push_str(&format!(
            "tron ({path})/evm throughput {ratio:.2}× ({})\n",
            if ratio >= 0.8 { "meets the 0.8× floor" } else { "BELOW the 0.8× floor" }
        ));
    }
    use std::io::Write as _;
    std::io::stdout().write_all(out.as_bytes()).expect("write to stdout");
}
