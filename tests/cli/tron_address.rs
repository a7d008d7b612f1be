//! `chaintrace ingest tron --address T…`: one wallet's history on demand from TronGrid's account
//! endpoints (`/v1/accounts/{address}/transactions`, `…/transactions/trc20`), paged.
//!
//! **No recording of these endpoints exists** in the shared data (PROVENANCE.md: the Ledger
//! fixtures were not copied). So the listings here stand in for a recording: they are built in
//! TronGrid's documented shape (`data`, `success`, `meta.fingerprint`, `meta.links.next`;
//! transactions with `txID`/`blockNumber`/`raw_data`, internal ones with `tx_id`/`from_address`/
//! `to_address`/`data.call_value`, TRC-20 transfers with `transaction_id`/`token_info`/`from`/
//! `to`/`value`) from the REAL block 50000011 (tests/data/tron/block-50000011, graphsense's rows),
//! by this test, without the code under test. The blocks themselves are served from the same rows
//! at the HTTP API's paths (`tron_ingest::graphsense_as_http_api`). Every stored transfer is
//! compared with the expected CSV derived from the recording (tests/data/tron/expected).

use crate::common;
use crate::tron_ingest::graphsense_as_http_api;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chaintrace_model::Address;
use chaintrace_testkit::http::{Reply, Server};
use common::{shared_data, Workdir};
use serde_json::{json, Value};

/// `(tx, from, to, asset, amount_raw, block)`.
type Row = (String, String, String, String, String, u64);

const BLOCK: u64 = 50_000_011;
const USDT: &str = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";
/// Two wallets with TRX and USDT transfers in the block, and one paid by an internal transfer.
const WALLETS: [&str; 3] =
    ["TSFa2foJ75NmiTPfVwnyJdrvWVH5Bzz3YF", "TJbHp48Shg4tTD5x6fKkU7PodggL5mjcJP", "TLpBVhduFt7ouvcvXgDk5E3y7b4fAjixUY"];
/// Items per page the stand-in serves (TronGrid's `limit` is a maximum), so every wallet pages.
const PAGE: usize = 1;
const API_KEY: &str = "k3y-never-printed-5f1e";

fn rows(file: &str) -> Vec<Value> {
    std::fs::read_to_string(shared_data().join("tron/block-50000011").join(file))
        .expect("read jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn bare(v: &Value) -> String {
    v.as_str().expect("a hex string").trim_start_matches("0x").to_string()
}

fn h41(v: &Value) -> Value {
    v.as_str().map(|a| Value::String(format!("41{}", a.trim_start_matches("0x")))).unwrap_or(Value::Null)
}

fn t_of_word(topic: &Value) -> String {
    let w = bare(topic);
    Address::parse_tron(&format!("41{}", &w[24..])).expect("an address word").to_string()
}

/// The two listings of `wallet` in TronGrid's shape, built from the block's rows.
fn listings(wallet: &str) -> (Vec<Value>, Vec<Value>) {
    let ts_ms = rows("blocks.jsonl")[0]["timestamp"].as_u64().unwrap() * 1000;
    let mut txs = Vec::new();
    for t in rows("transactions.jsonl") {
        if t["from_address_base58"] != wallet && t["to_address_base58"] != wallet {
            continue;
        }
        let value: u64 = t["value"].as_str().unwrap().parse().unwrap();
        let (kind, v) = match t["transaction_type"].as_u64().unwrap() {
            1 => (
                "TransferContract",
                json!({"owner_address": h41(&t["from_address"]), "to_address": h41(&t["to_address"]), "amount": value}),
            ),
            31 => (
                "TriggerSmartContract",
                json!({"owner_address": h41(&t["from_address"]), "contract_address": h41(&t["to_address"]), "data": bare(&t["input"])}),
            ),
            other => panic!("no listing shape written for contract type {other}"),
        };
        txs.push(json!({
            "ret": [{"contractRet": "SUCCESS", "fee": 0}],
            "signature": [],
            "txID": bare(&t["tx_hash"]),
            "net_usage": 0,
            "raw_data_hex": "",
            "net_fee": 0,
            "energy_usage": 0,
            "blockNumber": BLOCK,
            "block_timestamp": ts_ms,
            "energy_fee": 0,
            "energy_usage_total": 0,
            "raw_data": {"contract": [{"parameter": {"value": v, "type_url": format!("type.googleapis.com/protocol.{kind}")}, "type": kind}],
                "timestamp": ts_ms},
            "internal_transactions": [],
        }));
    }
    for x in rows("traces.jsonl") {
        if x["caller_address_base58"] != wallet && x["transferto_address_base58"] != wallet {
            continue;
        }
        let cv: u64 = x["call_value"].as_str().unwrap().parse().unwrap();
        txs.push(json!({
            "internal_tx_id": format!("{:064x}", x["trace_index"].as_u64().unwrap() + 1),
            "data": {"note": "63616c6c", "rejected": x["rejected"], "call_value": {"_": cv}},
            "block_timestamp": ts_ms,
            "to_address": h41(&x["transferto_address"]),
            "tx_id": bare(&x["tx_hash"]),
            "from_address": h41(&x["caller_address"]),
        }));
    }
    let transfer_topic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
    let mut trc20 = Vec::new();
    for l in rows("logs.jsonl") {
        let topics = l["topics"].as_array().unwrap();
        if topics.len() != 3 || topics[0] != transfer_topic {
            continue;
        }
        let (from, to) = (t_of_word(&topics[1]), t_of_word(&topics[2]));
        if from != wallet && to != wallet {
            continue;
        }
        let token = l["address_base58"].as_str().unwrap();
        let info = if token == USDT {
            json!({"symbol": "USDT", "address": token, "decimals": 6, "name": "Tether USD"})
        } else {
            json!({"address": token})
        };
        let value = u128::from_str_radix(&bare(&l["data"]), 16).unwrap();
        trc20.push(json!({
            "transaction_id": bare(&l["tx_hash"]),
            "token_info": info,
            "block_timestamp": ts_ms,
            "from": from,
            "to": to,
            "type": "Transfer",
            "value": value.to_string(),
        }));
    }
    (txs, trc20)
}

/// One page of a listing: items `offset..offset+PAGE`, and the next page's fingerprint (in
/// `meta.fingerprint` and `meta.links.next` on `/transactions`, only in the link on `/trc20`,
/// as both forms exist). The fingerprint carries `+`, `/` and `=` so it must be URL-encoded.
fn page(url: &str, path: &str, items: &[Value], offset: usize, with_meta_fingerprint: bool) -> Value {
    let end = items.len().min(offset + PAGE);
    let mut meta = json!({"at": 1_680_612_900_000u64, "page_size": end - offset});
    if end < items.len() {
        let fp = format!("off+{end}/x==");
        let enc = fp.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
        meta["links"] = json!({"next": format!("{url}{path}?limit=200&fingerprint={enc}")});
        if with_meta_fingerprint {
            meta["fingerprint"] = fp.into();
        }
    }
    json!({"data": items[offset..end], "success": true, "meta": meta})
}

fn query_param(path: &str, key: &str) -> Option<String> {
    let q = path.split_once('?')?.1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .map(|v| v.replace("%2B", "+").replace("%2F", "/").replace("%3D", "=").replace("%2C", ","))
}

/// What the stand-in saw.
#[derive(Default)]
struct Seen {
    /// Requests to `/v1/…` and whether each carried the API key.
    v1: Vec<(String, bool)>,
    /// 429s injected.
    throttled: u64,
}

/// A TronGrid stand-in: the HTTP API's block paths (block 50000011 and its transaction infos,
/// from the recording) and the two account listings (built above), with a 429 before every
/// third listing page.
fn trongrid() -> (Server, Arc<Mutex<Seen>>) {
    let (block, infos) = graphsense_as_http_api();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    let n = AtomicU64::new(0);
    let url = Arc::new(Mutex::new(String::new()));
    let u = url.clone();
    let server = Server::start_with_headers(move |path, headers, body| {
        let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let answer = |v: &Value| Reply::json(serde_json::to_vec(v).unwrap());
        let route = path.split('?').next().unwrap_or(path);
        if let Some(rest) = route.strip_prefix("/v1/accounts/") {
            let keyed = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("TRON-PRO-API-KEY") && v == API_KEY);
            s.lock().unwrap().v1.push((path.to_string(), keyed));
            if n.fetch_add(1, Ordering::Relaxed) % 3 == 1 {
                s.lock().unwrap().throttled += 1;
                return Reply::Send {
                    status: 429,
                    body: br#"{"Error":"request rate exceeded the allowed_rps(15)"}"#.to_vec(),
                    content_length: None,
                };
            }
            let (wallet, kind) = rest.split_once('/').unwrap_or((rest, ""));
            let (txs, trc20) = listings(wallet);
            let offset = query_param(path, "fingerprint")
                .map(|f| {
                    f.trim_start_matches("off+").trim_end_matches("/x==").parse::<usize>().expect("our fingerprint")
                })
                .unwrap_or(0);
            let base = u.lock().unwrap().clone();
            return match kind {
                "transactions" => answer(&page(&base, route, &txs, offset, true)),
                "transactions/trc20" => answer(&page(&base, route, &trc20, offset, false)),
                _ => Reply::Send { status: 404, body: b"{}".to_vec(), content_length: None },
            };
        }
        match route {
            "/wallet/getnowblock" => answer(&block),
            "/wallet/getblockbynum" if req["num"] == BLOCK => answer(&block),
            "/wallet/getblockbynum" => answer(&json!({})),
            "/wallet/gettransactioninfobyblocknum" if req["num"] == BLOCK => answer(&infos),
            "/wallet/gettransactioninfobyblocknum" => answer(&json!([])),
            "/wallet/gettransactioninfobyid" => answer(
                &infos.as_array().unwrap().iter().find(|i| i["id"] == req["value"]).cloned().unwrap_or(json!({})),
            ),
            _ => Reply::Send { status: 404, body: b"{}".to_vec(), content_length: None },
        }
    });
    *url.lock().unwrap() = server.url();
    (server, seen)
}

/// The expected CSV's rows that touch `wallet`.
fn expected(wallet: &str) -> BTreeSet<Row> {
    let text = std::fs::read_to_string(shared_data().join("tron/expected/50000011_transfers.csv")).unwrap();
    let mut out = BTreeSet::new();
    for line in text.lines().skip(1) {
        // transaction_index,log_index,tx_hash,kind,asset,from,to,amount_raw,source
        let f: Vec<&str> = line.splitn(9, ',').collect();
        if f[3] == "WithdrawBalanceContract" || (f[5] != wallet && f[6] != wallet) {
            continue;
        }
        let asset = f[4].strip_prefix("TRC20:").map(|a| a.split('(').next().unwrap()).unwrap_or(f[4]).to_string();
        let tx = f[2].trim_start_matches("0x").to_string();
        out.insert((tx, f[5].to_string(), f[6].to_string(), asset, f[7].to_string(), BLOCK));
    }
    out
}

fn stored(w: &Workdir, wallet: &str) -> BTreeSet<Row> {
    let v = w.json(&["transfers", wallet, "--chain", "tron"]);
    v.as_array()
        .expect("an array of edges")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_else(|| panic!("edge field {k} in {e}")).to_string();
            (s("tx"), s("from"), s("to"), s("asset"), s("amount_raw"), e["block"].as_u64().expect("block"))
        })
        .collect()
}

#[test]
fn address_history_from_the_account_listings_matches_the_recorded_block() {
    let (server, seen) = trongrid();
    let w = Workdir::new();
    let url = server.url();
    let mut args = vec!["ingest", "tron", "--rpc", &url, "--address"];
    args.extend(WALLETS);
    let out = w.cmd(&args).env("CHAINTRACE_TRON_API_KEY", API_KEY).output().expect("run chaintrace");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(!stdout.contains(API_KEY) && !stderr.contains(API_KEY), "the API key is never printed");

    let mut total = 0;
    for wallet in WALLETS {
        let want = expected(wallet);
        assert!(!want.is_empty(), "{wallet} has transfers in the block");
        let got = stored(&w, wallet);
        let missing: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{wallet}: missing {missing:#?}\nextra {extra:#?}");
        assert!(stdout.contains(&format!("{wallet}: {} transfers in 1 blocks", want.len())), "{stdout}");
        total += want.len();
    }
    // The two wallets with TRX and USDT, and the internal transfer.
    assert!(expected(WALLETS[0]).iter().any(|r| r.3 == "TRX") && expected(WALLETS[0]).iter().any(|r| r.3 == USDT));
    assert!(expected(WALLETS[2]).iter().any(|r| r.4 == "76107578"));

    let seen = seen.lock().unwrap();
    assert!(seen.throttled >= 2, "429s were injected and retried: {}", seen.throttled);
    assert!(seen.v1.iter().all(|(_, keyed)| *keyed), "every listing request carried the key: {:?}", seen.v1);
    let second_pages = seen.v1.iter().filter(|(p, _)| p.contains("fingerprint=off%2B")).count();
    assert!(second_pages >= 3, "later pages asked with the URL-encoded fingerprint: {:?}", seen.v1);
    drop(seen);

    // Stored unlinked: no tip; the same again stores nothing new.
    let st = w.json(&["stats"]);
    assert_eq!(st["chains"]["tron"]["transfers"], total as u64, "{st}");
    assert!(st["chains"]["tron"]["tip_height"].is_null(), "{st}");
    let again = w.ok(&args);
    assert!(again.contains("(0 new)"), "{again}");
    assert_eq!(w.json(&["stats"])["digest"], st["digest"]);

    // Positions are a range ingest's: ingesting the block afterwards stores each transfer once
    // and gives the digest of a store that only ingested the block.
    w.ok(&["ingest", "tron", "--rpc", &server.url(), "--from", "50000011", "--to", "50000011"]);
    let fresh = Workdir::new();
    fresh.ok(&["ingest", "tron", "--rpc", &server.url(), "--from", "50000011", "--to", "50000011"]);
    let (a, b) = (w.json(&["stats"]), fresh.json(&["stats"]));
    assert_eq!(a["chains"]["tron"]["transfers"], 270);
    assert_eq!(a["digest"], b["digest"]);
}

#[test]
fn address_ingest_bad_input_is_one_line_and_changes_nothing() {
    let (server, _) = trongrid();
    let w = Workdir::new();
    w.ok(&["ingest", "tron", "--rpc", &server.url(), "--address", WALLETS[0]]);
    let before = w.json(&["stats"]);
    // A bad checksum (last character changed).
    let bad = "TSFa2foJ75NmiTPfVwnyJdrvWVH5Bzz3YG";
    let err = w.fails(&["ingest", "tron", "--rpc", &server.url(), "--address", bad]);
    assert!(err.contains(bad) && err.contains("checksum"), "{err}");
    // An endpoint without TronGrid's account API (a bare java-tron HTTP API).
    let bare_node = Server::start_routed(move |path, _| match path {
        "/wallet/getnowblock" | "/wallet/getblockbynum" => {
            Reply::json(serde_json::to_vec(&graphsense_as_http_api().0).unwrap())
        }
        _ => Reply::Send { status: 404, body: br#"{"Error":"not found"}"#.to_vec(), content_length: None },
    });
    let out = w
        .cmd(&["ingest", "tron", "--rpc", &bare_node.url(), "--address", WALLETS[0]])
        .env("CHAINTRACE_TRON_API_KEY", API_KEY)
        .output()
        .unwrap();
    common::assert_clean_failure(&out, &["ingest", "tron", "--address"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("offers no account history") && err.contains("trongrid"), "{err}");
    assert!(!err.contains(API_KEY));
    assert_eq!(w.json(&["stats"]), before, "store unchanged");
}

#[test]
fn address_ingest_needs_the_http_api_not_only_the_json_rpc() {
    // anvil with TRON's chain id: a TRON JSON-RPC stand-in without /wallet or /v1.
    let anvil = chaintrace_testkit::Anvil::builder().chain_id(728_126_428).spawn();
    let w = Workdir::new();
    let err = w.fails(&["ingest", "tron", "--rpc", &anvil.url(), "--address", WALLETS[0]]);
    assert!(err.contains("offers only TRON's JSON-RPC") && err.contains("--rpc"), "{err}");
}
