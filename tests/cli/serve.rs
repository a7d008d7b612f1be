//! `chaintrace serve`, the workbench: the real server on a free loopback port, driven over HTTP
//! (every endpoint with good and bad input, paging a 100,000-transfer address, 100 clients
//! while `chaintrace ingest` writes in another process) and in the system Chromium.

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chaintrace_model::{Address, Asset, BlockData, BlockRef, Hash32, Position, Transfer, U256};
use serde_json::{json, Value};

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_chaintrace")
}

/// A running `chaintrace serve`, killed on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    /// `chaintrace --store STORE GLOBAL… serve --listen 127.0.0.1:0 SERVE…`.
    fn start(store: &Path, global: &[&str], serve: &[&str]) -> Server {
        Server::spawn(
            Command::new(exe())
                .arg("--store")
                .arg(store)
                .args(global)
                .args(["serve", "--listen", "127.0.0.1:0"])
                .args(serve),
        )
    }

    /// Start `cmd` (a `chaintrace … serve` command) and wait for the line with its address.
    fn spawn(cmd: &mut Command) -> Server {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start chaintrace serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.split("http://").nth(1).map(|u| format!("http://{}", u.trim().trim_end_matches('/')));
        let Some(url) = url else {
            let _ = child.kill();
            panic!("serve did not print its address: {line:?}");
        };
        Server { child, url }
    }
}

impl Server {
    /// Send SIGTERM and wait up to `within` for the process to exit; its exit status, or `None`
    /// if it is still running.
    fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        if let Ok(Some(st)) = self.child.try_wait() {
            return Some(st);
        }
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).stderr(Stdio::null()).status();
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM first, so the server removes its secondary directory; SIGKILL if it lingers.
        if self.terminate(Duration::from_secs(10)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// (status, JSON body) of one request.
fn call(agent: &ureq::Agent, method: &str, url: &str, body: Option<&str>, token: Option<&str>) -> (u16, Value) {
    let mut r = agent.request(method, url);
    if let Some(t) = token {
        r = r.set("Authorization", &format!("Bearer {t}"));
    }
    let resp = match body {
        Some(b) => r.set("Content-Type", "application/json").send_string(b),
        None => r.call(),
    };
    let resp = match resp {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn get(s: &Server, path: &str) -> (u16, Value) {
    call(&ureq::agent(), "GET", &format!("{}{path}", s.url), None, None)
}

fn post(s: &Server, path: &str, body: &str) -> (u16, Value) {
    call(&ureq::agent(), "POST", &format!("{}{path}", s.url), Some(body), None)
}

fn assert_error(got: (u16, Value), status: u16, contains: &str) {
    assert_eq!(got.0, status, "{:?}", got.1);
    let msg = got.1["error"].as_str().unwrap_or_else(|| panic!("no JSON error: {:?}", got.1));
    assert!(msg.contains(contains), "{msg:?} lacks {contains:?}");
}

/// The demo's store, config and case (saved in the workbench as `demo`).
fn demo(dir: &Path) -> (PathBuf, Vec<String>) {
    let out = Command::new(exe()).args(["demo", "--dir"]).arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("?case=demo"), "the demo does not say how to open the workbench:\n{text}");
    let config = dir.join("config.toml").display().to_string();
    let prices = dir.join("prices.csv").display().to_string();
    (dir.join("store"), vec!["--config".into(), config, "--prices".into(), prices])
}

fn demo_server(dir: &Path) -> (Server, Value) {
    let (store, flags) = demo(dir);
    let s = Server::start(&store, &[&flags[0], &flags[1]], &[&flags[2], &flags[3]]);
    let case: Value = serde_json::from_slice(&std::fs::read(dir.join("case.json")).unwrap()).unwrap();
    (s, case)
}

/// `serve` killed with SIGTERM (or SIGINT) removes its RocksDB secondary directory
/// (`$TMPDIR/chaintrace-serve-<pid>`); one killed without a chance to clean up (SIGKILL) leaves
/// it, and the next `serve` removes it because no process has that pid any more. A directory of
/// a live process, or with a name that is not a pid, is kept.
#[test]
fn serve_removes_its_secondary_dir_on_sigterm_and_the_next_start_sweeps_dead_servers_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let (store, flags) = demo(&dir.path().join("demo"));
    let serve = |tmp: &Path| {
        let mut cmd = Command::new(exe());
        cmd.arg("--store").arg(&store).args(&flags[..2]).args(["serve", "--listen", "127.0.0.1:0"]).args(&flags[2..]);
        Server::spawn(cmd.env("TMPDIR", tmp))
    };
    let secondary = |pid: u32| tmp.join(format!("chaintrace-serve-{pid}"));
    let entries = || -> BTreeSet<String> {
        std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    };

    // SIGTERM: the directory is there while it serves and gone once it exited cleanly.
    let mut s = serve(&tmp);
    let pid = s.child.id();
    assert!(secondary(pid).is_dir(), "the running server's secondary dir: {:?}", entries());
    assert_eq!(get(&s, "/api/stats").0, 200);
    let st = s.terminate(Duration::from_secs(20)).expect("serve exits within 20 s of SIGTERM");
    assert!(st.success(), "serve exited with {st} on SIGTERM");
    assert!(!secondary(pid).exists(), "left behind after SIGTERM: {:?}", entries());
    drop(s);

    // SIGKILL leaves the directory; so would a crash.
    let mut killed = serve(&tmp);
    let dead = killed.child.id();
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    drop(killed);
    assert!(secondary(dead).is_dir(), "SIGKILL gives no chance to clean up: {:?}", entries());
    // A live process's directory (this test's pid) and names that are no pid are not touched.
    let live = secondary(std::process::id());
    std::fs::create_dir(&live).unwrap();
    for other in ["chaintrace-serve-", "chaintrace-serve-12ab", "chaintrace-serve-0123", "other-999999999"] {
        std::fs::create_dir(tmp.join(other)).unwrap();
    }

    let mut next = serve(&tmp);
    let next_pid = next.child.id();
    let want: BTreeSet<String> = [
        format!("chaintrace-serve-{}", std::process::id()),
        format!("chaintrace-serve-{next_pid}"),
        "chaintrace-serve-".into(),
        "chaintrace-serve-12ab".into(),
        "chaintrace-serve-0123".into(),
        "other-999999999".into(),
    ]
    .into();
    assert_eq!(entries(), want, "the dead server's dir {dead} is swept, nothing else");
    assert!(next.terminate(Duration::from_secs(20)).expect("exits on SIGTERM").success());
    assert!(!secondary(next_pid).exists());
}

#[test]
fn every_endpoint_answers_good_input_and_refuses_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, case) = demo_server(&tmp.path().join("demo"));
    let seed = case["seeds"][0].as_str().unwrap().to_string();

    // stats: the store's figures and the view's freshness.
    let (st, stats) = get(&s, "/api/stats");
    assert_eq!(st, 200);
    assert_eq!(stats["chains"]["ethereum"]["tip_height"], stats["tips"]["ethereum"]["height"]);
    assert_eq!(stats["view"]["mode"], "secondary");
    assert!(stats["view"]["age_ms"].as_u64().unwrap() < 10_000);

    // address summary.
    let (st, a) = get(&s, &format!("/api/address/ethereum/{seed}"));
    assert_eq!(st, 200, "{a}");
    assert_eq!(a["address"], seed.as_str());
    assert!(a["labels"].as_array().unwrap().iter().any(|l| l["category"] == "sanctioned"));
    assert!(a["degree"]["in"].as_u64().unwrap() > 0 && a["degree"]["out"].as_u64().unwrap() > 0);
    assert!(a["totals"]["ETH"]["in"].is_string());
    assert!(a["totals"]["ETH"]["usd"]["in"].is_string(), "ETH is priced in the demo: {a}");
    assert_error(get(&s, &format!("/api/address/dogecoin/{seed}")), 404, "unknown chain");
    assert_error(get(&s, "/api/address/ethereum/0xnothex"), 400, "invalid address");
    assert_error(get(&s, "/api/address/ethereum/bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"), 400, "invalid address");

    // history: every transfer once, pages chained by cursors, filters.
    let (st, all) = get(&s, &format!("/api/address/ethereum/{seed}/transfers?limit=1000"));
    assert_eq!(st, 200);
    let all = all["transfers"].as_array().unwrap().clone();
    let deg = a["degree"]["in"].as_u64().unwrap() + a["degree"]["out"].as_u64().unwrap();
    assert_eq!(all.len() as u64, deg);
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let (st, p) = get(&s, &format!("/api/address/ethereum/{seed}/transfers?limit=1&cursor={cursor}"));
        assert_eq!(st, 200, "{p}");
        paged.extend(p["transfers"].as_array().unwrap().iter().cloned());
        match p["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(paged, all);
    // The workbench values a transfer with the case's price sources: where the demo case carried
    // a whole transfer out of the seed (traced = amount), both give the same USD and source.
    let mut compared = 0;
    for e in case["edges"].as_array().unwrap() {
        if e["from"] != seed.as_str() || e["traced_amount"] != e["amount"] || e["chain"] != "ethereum" {
            continue;
        }
        let t = all.iter().find(|t| t["tx"] == e["tx"] && t["to"] == e["to"] && t["asset"] == e["asset"]).unwrap();
        assert_eq!((&t["usd"], &t["usd_source"]), (&e["usd"], &e["usd_source"]), "workbench {t} vs case {e}");
        compared += 1;
    }
    assert!(compared > 0, "no whole transfer out of the seed in the demo case");
    assert!(all.iter().all(|t| t["usd"].is_null() == t["usd_source"].is_null()), "usd without its source");
    let (_, ins) = get(&s, &format!("/api/address/ethereum/{seed}/transfers?direction=in"));
    assert!(ins["transfers"].as_array().unwrap().iter().all(|t| t["direction"] == "in" && t["to"] == seed.as_str()));
    let (_, eth) = get(&s, &format!("/api/address/ethereum/{seed}/transfers?asset=ETH"));
    assert!(eth["transfers"].as_array().unwrap().iter().all(|t| t["asset"] == "ETH"));
    let first_time = all[0]["time"].as_str().unwrap();
    let (_, late) = get(&s, &format!("/api/address/ethereum/{seed}/transfers?since=2100-01-01T00:00:00Z"));
    assert!(late["transfers"].as_array().unwrap().is_empty());
    let (_, early) = get(&s, &format!("/api/address/ethereum/{seed}/transfers?until={first_time}"));
    assert!(!early["transfers"].as_array().unwrap().is_empty());
    let base = format!("/api/address/ethereum/{seed}/transfers");
    assert_error(get(&s, &format!("{base}?limit=100000")), 400, "1000");
    assert_error(get(&s, &format!("{base}?limit=ten")), 400, "invalid limit");
    assert_error(get(&s, &format!("{base}?cursor=abc")), 400, "invalid cursor");
    assert_error(get(&s, &format!("{base}?direction=sideways")), 400, "invalid direction");
    assert_error(get(&s, &format!("{base}?since=yesterday")), 400, "since");
    assert_error(get(&s, &format!("{base}?asset=DOGE")), 400, "asset");
    assert_error(get(&s, &format!("{base}?colour=red")), 400, "unknown parameter");

    // trace: same engine and case file as the CLI.
    // The demo's own trace: its seeds, its chains (ethereum and arbitrum), 12 hops, haircut.
    let body = json!({"chain": case["chain"], "seeds": case["seeds"], "hops": 12, "policy": "haircut"}).to_string();
    let (st, t) = post(&s, "/api/trace", &body);
    assert_eq!(st, 201, "{t}");
    let id = t["id"].as_str().unwrap().to_string();
    assert_eq!(t["case"]["deposits"], case["deposits"], "the API's trace differs from `chaintrace trace`");
    assert_eq!(t["case"]["edges"], case["edges"]);
    assert_error(post(&s, "/api/trace", "{\"chain\": \"ethereum\", \"seeds\": ["), 400, "malformed JSON");
    assert_error(post(&s, "/api/trace", r#"{"chain": "nochain", "seeds": []}"#), 404, "unknown chain");
    assert_error(post(&s, "/api/trace", r#"{"chain": "ethereum", "seeds": ["0x12"]}"#), 400, "seed");
    assert_error(
        post(&s, "/api/trace", &json!({"chain": "ethereum", "seeds": [seed], "hops": 99}).to_string()),
        400,
        "hops",
    );
    assert_error(
        post(&s, "/api/trace", &json!({"chain": "ethereum", "seeds": [seed], "policy": "magic"}).to_string()),
        400,
        "policy",
    );
    assert_error(
        post(&s, "/api/trace", r#"{"chain": "ethereum", "seeds_label": "nobody at all"}"#),
        400,
        "matches no address",
    );
    assert_error(post(&s, "/api/trace", r#"{"chain": "ethereum", "sneaky": 1}"#), 400, "unknown field");
    let big = format!("{{\"chain\": \"ethereum\", \"seeds\": [\"{}\"]}}", "a".repeat(200_000));
    // Refused by size before it is read: a 413, or (when the server closes while the client
    // is still sending) a connection the server reset.
    match ureq::post(&format!("{}/api/trace", s.url)).set("Content-Type", "application/json").send_string(&big) {
        Err(ureq::Error::Status(413, _)) => {}
        Err(ureq::Error::Transport(t)) => {
            assert!(t.to_string().contains("Broken pipe") || t.to_string().contains("reset"), "{t}")
        }
        other => panic!("a 200 KB body was not refused: {other:?}"),
    }
    let (st, _) = call(&ureq::agent(), "POST", &format!("{}/api/trace", s.url), None, None);
    assert_eq!(st, 415, "a POST that is not JSON is refused");

    // cases: listed, read back, exported in every format.
    let (st, list) = get(&s, "/api/cases");
    assert_eq!(st, 200);
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"demo") && ids.contains(&id.as_str()), "{list}");
    assert!(list[0]["created"].is_string() && list[0]["seeds"].is_array() && list[0]["chain"] == case["chain"]);
    let (st, c) = get(&s, &format!("/api/cases/{id}"));
    assert_eq!(st, 200);
    assert_eq!(c["deposits"], t["case"]["deposits"]);
    assert_eq!(c, t["case"], "the saved case is the one the trace replied with");
    for (format, magic) in [
        ("graphml", "<?xml"),
        ("gexf", "<?xml"),
        ("dot", "digraph"),
        ("json", "{"),
        ("html", "<!DOCTYPE html>"),
        ("csv", "PK\u{3}\u{4}"),
    ] {
        let r = ureq::get(&format!("{}/api/cases/{id}/export/{format}", s.url)).call().unwrap();
        assert!(r.header("Content-Disposition").unwrap().contains(&format!("case-{id}")), "{format}");
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut r.into_reader(), &mut bytes).unwrap();
        assert!(String::from_utf8_lossy(&bytes).starts_with(magic), "{format}");
    }
    assert_error(get(&s, "/api/cases/1-2-3"), 404, "no case");
    assert_error(get(&s, "/api/cases/..%2F..%2Fetc%2Fpasswd"), 400, "invalid case id");
    assert_error(get(&s, &format!("/api/cases/{id}/export/pdf")), 400, "unknown export format");
    assert_error(get(&s, "/api/cases/nope/export/..%2Fx"), 400, "unknown export format");

    // path: from the seed to a deposit the case found, in time order.
    let dep = &case["deposits"][0];
    let target = dep["address"].as_str().unwrap();
    let from = dep["seed"].as_str().unwrap();
    let (st, p) = get(&s, &format!("/api/path?chain=ethereum&from={from}&to={target}&hops=6"));
    assert_eq!(st, 200, "{p}");
    let paths = p["paths"].as_array().unwrap();
    assert!(!paths.is_empty(), "no path from the seed to a found deposit: {p}");
    let want: Vec<Value> = dep["path"].as_array().unwrap().clone();
    assert!(paths.iter().any(|x| x.as_array().unwrap() == &want), "{p} lacks the case's path {want:?}");
    for path in paths {
        let path = path.as_array().unwrap();
        assert_eq!(path[0], from);
        assert_eq!(path.last().unwrap(), target);
        assert!(path.len() <= 7);
    }
    assert_error(get(&s, &format!("/api/path?chain=ethereum&from={seed}")), 400, "missing parameter");
    assert_error(get(&s, &format!("/api/path?chain=ethereum&from={seed}&to={target}&hops=50")), 400, "hops");
    assert_error(get(&s, &format!("/api/path?chain=ethereum&from=xyz&to={target}")), 400, "invalid address");

    // labels: a user label is shown and used by the next trace at once.
    let hostile = "<script>alert(1)</script> \"quoted\" \u{7}";
    let b = json!({"chain": "ethereum", "address": target, "category": "exchange", "entity": hostile}).to_string();
    let (st, l) = post(&s, "/api/labels", &b);
    assert_eq!(st, 201, "{l}");
    assert_eq!(l["source"], "user");
    let (_, a2) = get(&s, &format!("/api/address/ethereum/{target}"));
    assert!(a2["labels"].as_array().unwrap().iter().any(|l| l["entity"] == hostile && l["source"] == "user"));
    let (_, t2) = post(&s, "/api/trace", &body);
    let node = t2["case"]["nodes"].as_array().unwrap().iter().find(|n| n["address"] == target).unwrap().clone();
    assert!(node["labels"].as_array().unwrap().iter().any(|l| l["source"] == "user"), "{node}");
    let (_, found) = get(&s, "/api/labels?q=script");
    assert!(!found["labels"].as_array().unwrap().is_empty());
    assert_error(
        post(&s, "/api/labels", r#"{"chain": "ethereum", "address": "0x1", "category": "exchange", "entity": "x"}"#),
        400,
        "invalid address",
    );
    let b = json!({"chain": "ethereum", "address": target, "category": "wizard", "entity": "x"}).to_string();
    assert_error(post(&s, "/api/labels", &b), 400, "unknown label category");
    let b = json!({"chain": "ethereum", "address": target, "category": "exchange", "entity": " "}).to_string();
    assert_error(post(&s, "/api/labels", &b), 400, "entity");
    assert_error(post(&s, "/api/labels", "not json"), 400, "malformed JSON");

    // the rest: unknown endpoints and methods are JSON errors; the UI is served with a CSP.
    assert_error(get(&s, "/api/nothing"), 404, "no such API endpoint");
    assert_error(post(&s, "/api/stats", "{}"), 405, "method not allowed");
    let r = ureq::get(&format!("{}/", s.url)).call().unwrap();
    assert!(r.header("Content-Security-Policy").unwrap().contains("script-src 'self'"));
    assert!(r.header("Access-Control-Allow-Origin").is_none());
    assert!(r.into_string().unwrap().contains("/cytoscape.min.js"));
    let js = ureq::get(&format!("{}/cytoscape.min.js", s.url)).call().unwrap().into_string().unwrap();
    assert!(js.len() > 100_000, "cytoscape.js is embedded");
}

#[test]
fn a_token_guards_the_api_and_other_addresses_need_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, flags) = demo(&tmp.path().join("demo"));
    let out = Command::new(exe()).arg("--store").arg(&store).args(["serve", "--listen", "0.0.0.0:0"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--token"), "{err}");

    let token = "s3cret-token-0123456789";
    let s = Server::start(&store, &[&flags[0], &flags[1]], &["--token", token]);
    let agent = ureq::agent();
    let u = format!("{}/api/stats", s.url);
    let (st, v) = call(&agent, "GET", &u, None, None);
    assert_eq!(st, 401, "{v}");
    assert!(v["error"].as_str().unwrap().contains("Bearer"));
    let (st, _) = call(&agent, "GET", &u, None, Some("wrong-token-0123456789"));
    assert_eq!(st, 403);
    assert_eq!(call(&agent, "GET", &u, None, Some(token)).0, 200);
    assert_eq!(call(&agent, "GET", &format!("{}/api/cases", s.url), None, None).0, 401);
    let b = r#"{"chain": "ethereum", "address": "0x0000000000000000000000000000000000000001", "category": "other", "entity": "x"}"#;
    assert_eq!(call(&agent, "POST", &format!("{}/api/labels", s.url), Some(b), None).0, 401);
    // The page itself loads without the token (it asks for one).
    assert_eq!(call(&agent, "GET", &format!("{}/", s.url), None, None).0, 200);
}

fn evm(n: u64) -> Address {
    let mut b = [0u8; 20];
    b[12..].copy_from_slice(&n.to_be_bytes());
    Address::parse_evm(&format!("0x{}", hex::encode(b))).unwrap()
}

/// A store of `blocks` Ethereum blocks of 100 transfers each, a third of them sent by `hub`
/// and the rest received by it, from and to 5,000 other addresses.
fn hub_store(store_dir: &Path, hub: &Address, blocks: u64) {
    let store = chaintrace_store::Store::open(store_dir).unwrap();
    let mut parent = Hash32::ZERO;
    let mut batch = Vec::new();
    for h in 0..blocks {
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&(h + 1).to_be_bytes());
        let hash = Hash32(hash);
        let mut b = BlockData::new(BlockRef { height: h, hash, parent, time: 1_700_000_000 + h * 12 });
        b.tx_count = 100;
        for i in 0..100u32 {
            let other = evm(1000 + (h * 100 + i as u64) % 5000);
            let (from, to) = if i % 3 == 0 { (hub.clone(), other) } else { (other, hub.clone()) };
            let mut tx = [0u8; 32];
            tx[..8].copy_from_slice(&h.to_be_bytes());
            tx[8..12].copy_from_slice(&i.to_be_bytes());
            b.transfers.push(Transfer {
                tx: Hash32(tx),
                height: h,
                pos: Position { tx_index: i, sub: 0 },
                time: b.block.time,
                from,
                to,
                asset: Asset::Native,
                amount: U256::from(1_000_000_000u64 + i as u64),
            });
        }
        parent = hash;
        batch.push(b);
        if batch.len() == 100 || h + 1 == blocks {
            store.apply_blocks("ethereum", &batch).unwrap();
            batch.clear();
        }
    }
}

#[test]
fn paging_a_100k_transfer_address_returns_each_once_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let store_dir = tmp.path().join("store");
    let hub = evm(1);
    hub_store(&store_dir, &hub, 1000);
    let s = Server::start(&store_dir, &[], &[]);
    let agent = ureq::agent();
    let a = hub.to_string();
    let (_, summary) = call(&agent, "GET", &format!("{}/api/address/ethereum/{a}", s.url), None, None);
    assert_eq!(summary["degree"]["in"].as_u64().unwrap() + summary["degree"]["out"].as_u64().unwrap(), 100_000);

    let started = Instant::now();
    let mut seen = HashSet::new();
    let mut last: Option<(u64, u64, u64)> = None;
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let u = format!("{}/api/address/ethereum/{a}/transfers?limit=1000&cursor={cursor}", s.url);
        let (st, p) = call(&agent, "GET", &u, None, None);
        assert_eq!(st, 200, "{p}");
        pages += 1;
        for t in p["transfers"].as_array().unwrap() {
            let key = (
                t["block"].as_u64().unwrap(),
                t["position"]["tx_index"].as_u64().unwrap(),
                u64::from(t["direction"] == "out"),
            );
            assert!(last.is_none_or(|l| l < key), "out of order: {last:?} then {key:?}");
            assert!(seen.insert(key), "{key:?} twice");
            last = Some(key);
        }
        match p["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 100_000);
    assert!(pages <= 101, "{pages} pages");
    assert!(started.elapsed() < Duration::from_secs(600), "paging took {:?}", started.elapsed());

    // One direction with an odd page size ends on the same set.
    let mut ins = 0;
    let mut cursor = String::new();
    loop {
        let u = format!("{}/api/address/ethereum/{a}/transfers?direction=in&limit=777&cursor={cursor}", s.url);
        let (_, p) = call(&agent, "GET", &u, None, None);
        ins += p["transfers"].as_array().unwrap().len();
        match p["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(ins as u64, summary["degree"]["in"].as_u64().unwrap());
}

#[test]
fn a_hundred_clients_are_answered_while_ingest_writes() {
    use chaintrace_bitcoin::synth::{generate, SynthParams};
    let tmp = tempfile::tempdir().unwrap();
    let blocks = tmp.path().join("blocks");
    std::fs::create_dir_all(&blocks).unwrap();
    let p = SynthParams {
        txs: 30_000,
        txs_per_block: 150,
        entities: 400,
        seed: 7,
        max_file_bytes: 4 << 20,
        keep_truth: true,
        ..SynthParams::default()
    };
    let truth = generate(&blocks, &p).unwrap();
    let mut addrs: Vec<String> = truth.owner.keys().cloned().collect();
    addrs.sort();
    addrs.truncate(200);
    let cfg = tmp.path().join("regtest.toml");
    std::fs::write(
        &cfg,
        "[chains.bitcoin]\nkind = \"bitcoin\"\nnetwork = \"regtest\"\nnative_symbol = \"BTC\"\nnative_decimals = 8\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let store = tmp.path().join("store");
    // An empty store for the server to open; then ingest writes it from another process.
    let st = Command::new(exe()).arg("--store").arg(&store).args(["--config", &cfg, "stats"]).output().unwrap();
    assert!(st.status.success());
    let s = Server::start(&store, &["--config", &cfg], &[]);
    let mut ingest = Command::new(exe())
        .arg("--store")
        .arg(&store)
        .args(["--config", &cfg, "ingest", "bitcoin", "--blocks-dir"])
        .arg(&blocks)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let addrs = Arc::new(addrs);
    let clients: Vec<_> = (0..100)
        .map(|i| {
            let (stop, ok, addrs, url) = (stop.clone(), ok.clone(), addrs.clone(), s.url.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
                let mut n = i;
                let mut errors = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let a = &addrs[n % addrs.len()];
                    let paths = [
                        "/api/stats".to_string(),
                        format!("/api/address/bitcoin/{a}"),
                        format!("/api/address/bitcoin/{a}/transfers?limit=50"),
                    ];
                    let (st, v) = call(&agent, "GET", &format!("{url}{}", paths[n % 3]), None, None);
                    if st == 200 {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        errors.push(format!("{} -> {st} {v}", paths[n % 3]));
                    }
                    n += 7;
                }
                errors
            })
        })
        .collect();
    let status = ingest.wait().unwrap();
    // Keep the clients going a little after the last batch.
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    let errors: Vec<String> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut ingest.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "ingest failed: {err}");
    assert!(errors.is_empty(), "{} failed requests, first: {:?}", errors.len(), errors.first());
    assert!(ok.load(Ordering::Relaxed) > 500, "only {} answers", ok.load(Ordering::Relaxed));

    // Afterwards the server's view equals the store as `stats` and `verify` see it.
    let cli: Value = serde_json::from_slice(
        &Command::new(exe())
            .arg("--store")
            .arg(&store)
            .args(["--config", &cfg, "--json", "stats"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, v) = get(&s, "/api/stats");
        if v["digest"] == cli["digest"] && v["chains"] == cli["chains"] {
            break;
        }
        assert!(Instant::now() < deadline, "the server's view never caught up: {v} vs {cli}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let verify = Command::new(exe()).arg("--store").arg(&store).args(["--config", &cfg, "verify"]).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    // Each sampled address's history is what the primary's own `transfers` prints.
    let agent = ureq::agent();
    for a in addrs.iter().take(20) {
        let (_, h) =
            call(&agent, "GET", &format!("{}/api/address/bitcoin/{a}/transfers?limit=1000", s.url), None, None);
        let cli = Command::new(exe())
            .arg("--store")
            .arg(&store)
            .args(["--config", &cfg, "--json", "transfers", a, "--chain", "bitcoin"])
            .output()
            .unwrap();
        let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
        let api: HashSet<(String, String, String)> = h["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["tx"].to_string(), t["to"].to_string(), t["amount_raw"].to_string()))
            .collect();
        let want: HashSet<(String, String, String)> = cli
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["tx"].to_string(), t["to"].to_string(), t["amount_raw"].to_string()))
            .collect();
        assert_eq!(api, want, "{a}");
        // The degree agrees with the history (a secondary's merge counters may not: see
        // Store::open_secondary).
        let (_, sum) = call(&agent, "GET", &format!("{}/api/address/bitcoin/{a}", s.url), None, None);
        let deg = sum["degree"]["in"].as_u64().unwrap() + sum["degree"]["out"].as_u64().unwrap();
        assert_eq!(deg, h["transfers"].as_array().unwrap().len() as u64, "{a}: {sum}");
    }
}

/// The browser flow in the system Chromium through playwright-core (both installed by
/// `./scripts/setup`; a missing one fails the test).
/// The node modules of `./scripts/setup` with playwright-core; the system Chromium exists.
fn browser_modules() -> PathBuf {
    let chromium = Path::new("/usr/bin/chromium");
    assert!(chromium.exists(), "/usr/bin/chromium is missing: run ./scripts/setup");
    let tools = std::env::var_os("CHAINTRACE_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/chaintrace-tools"));
    let modules = tools.join("node_modules");
    assert!(
        modules.join("playwright-core").is_dir(),
        "playwright-core is missing in {}: run ./scripts/setup",
        modules.display()
    );
    modules
}

/// Runs the playwright script `js` against the server with `envs` (and URL, PROFILE, SHOT);
/// its stdout once it printed `browser flow ok`, and the screenshot is a real picture.
fn run_browser(dir: &Path, s: &Server, js: &str, shot: &Path, envs: &[(&str, String)]) -> String {
    let script = dir.join("browser.js");
    std::fs::write(&script, js).unwrap();
    let out = Command::new("node")
        .arg(&script)
        .env("NODE_PATH", browser_modules())
        .env("URL", &s.url)
        .env("PROFILE", dir.join("profile"))
        .env("SHOT", shot)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run node (install Node.js)");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "browser flow failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("browser flow ok"), "{stdout}");
    let png = std::fs::read(shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "screenshot {}", shot.display());
    stdout
}

/// The browser flow in the system Chromium through playwright-core (both installed by
/// `./scripts/setup`; a missing one fails the test).
#[test]
fn the_workbench_works_in_chromium() {
    browser_modules();
    let tmp = tempfile::tempdir().unwrap();
    let (s, case) = demo_server(&tmp.path().join("demo"));
    let shot = std::env::var_os("CHAINTRACE_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("workbench.png"));
    let deposits = case["deposits"].as_array().unwrap().len().to_string();
    let downloads = tmp.path().display().to_string();
    run_browser(tmp.path(), &s, BROWSER_JS, &shot, &[("DEPOSITS", deposits), ("DOWNLOADS", downloads)]);
}

/// The same flow on a store built from a generated typology (`chaintrace-scenario` on anvil):
/// find the sanctioned workers by their label, expand a hop, open an edge's transactions,
/// filter, trace from a seed, and see the typology's true deposit addresses in the deposits
/// table (the seed's own, then the case of every sanctioned seed).
#[test]
fn the_workbench_works_in_chromium_on_a_generated_typology() {
    browser_modules();
    let t = crate::e2e_scenario::typology_store(chaintrace_scenario::SMALL);
    let (truth, ctx) = (&t.truth, &t.ctx);
    let s = Server::start(&t.w.store(), &["--config", &t.config], &[]);
    let hops = truth.hops.max(1);
    // The case of every sanctioned seed, traced by the API as the CLI does in e2e_scenario.
    let body = json!({"chain": "ethereum", "seeds_label": "sanctioned", "hops": hops, "policy": "haircut"});
    let (st, full) = post(&s, "/api/trace", &body.to_string());
    assert_eq!(st, 201, "{ctx}: {full}");
    let want: BTreeSet<String> = truth.expected("haircut").into_iter().map(|d| d.1).collect();
    assert!(!want.is_empty(), "{ctx}: the typology has no traced deposit");
    let shot = t.w.path().join("typology.png");
    let out = run_browser(
        t.w.path(),
        &s,
        TYPOLOGY_JS,
        &shot,
        &[
            ("ENTITY", truth.sanctioned_entity.clone()),
            ("HOPS", hops.to_string()),
            ("FULLCASE", full["id"].as_str().unwrap().to_string()),
        ],
    );
    let table = |tag: &str| -> BTreeSet<String> {
        let line = out.lines().find_map(|l| l.strip_prefix(tag)).unwrap_or_else(|| panic!("{ctx}: no {tag}in {out}"));
        serde_json::from_str::<Vec<String>>(line).unwrap().into_iter().map(|a| a.to_ascii_lowercase()).collect()
    };
    let seed_deps = table("SEED ");
    assert!(!seed_deps.is_empty(), "{ctx}: the trace from one seed shows no deposit");
    assert!(seed_deps.is_subset(&want), "{ctx}: the seed's deposits {seed_deps:?} are not all true ones {want:?}");
    assert_eq!(table("FULL "), want, "{ctx}: the deposits table of every seed's case differs from the truth");
}

const BROWSER_JS: &str = r#"
const { chromium } = require('playwright-core');
const assert = (c, m) => { if (!c) throw new Error('assertion failed: ' + m); };
(async () => {
  const ctx = await chromium.launchPersistentContext(process.env.PROFILE, {
    executablePath: '/usr/bin/chromium', headless: true, acceptDownloads: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    viewport: { width: 1500, height: 950 },
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('dialog', (d) => { problems.push('a dialog opened: ' + d.message()); d.dismiss(); });
  const url = process.env.URL;
  // Loaded, and cytoscape has drawn (two animation frames) before anything is clicked.
  const ready = async () => {
    await page.waitForSelector('body[data-ready="1"]');
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await page.waitForTimeout(200);
  };

  // The demo case: graph, deposits table with USD.
  await page.goto(url + '/?case=demo');
  await ready();
  const rows = await page.locator('#deposits tbody tr').count();
  assert(rows === parseInt(process.env.DEPOSITS, 10), 'deposit rows ' + rows);
  const usd = await page.locator('#deposits tbody tr td:nth-child(5)').first().textContent();
  assert(/^\d+\.\d+$/.test(usd), 'USD in the deposits table: ' + usd);
  const count = () => page.evaluate(() => ({ nodes: cy.nodes().length, edges: cy.edges().length }));
  const before = await count();
  assert(before.nodes > 5, 'nodes drawn: ' + before.nodes);

  // Real mouse clicks at the element's place on the canvas (the header may wrap, so the
  // graph's box is measured at each click).
  const clickAt = async (p) => {
    const box = await page.locator('#graph').boundingBox();
    await page.mouse.click(box.x + p.x, box.y + p.y);
  };
  const clickNode = async (id) => clickAt(await page.evaluate((id) => cy.getElementById(id).renderedPosition(), id));
  // Expand a deposit address (a stop: its sweep to the exchange is not in the case), collapse it.
  const dep = await page.evaluate(() => cy.nodes('[kind = "deposit"]')[0].id());
  await clickNode(dep);
  await page.waitForFunction((dep) => document.querySelector('#panel h3') && document.querySelector('#panel h3').textContent === dep, dep);
  const expanded = await count();
  assert(expanded.nodes > before.nodes, 'expanding added nodes: ' + JSON.stringify([before, expanded]));
  // The collapse redraws the node's panel after its address summary arrives; wait for that
  // answer, or the panel would replace the edge's transactions opened next.
  await Promise.all([page.waitForResponse((r) => r.url().includes('/api/address/')), clickNode(dep)]);
  await page.waitForFunction((n) => cy.nodes().length === n, before.nodes);

  // An edge's transactions (clicked again if a click lands while the graph still moves).
  for (let i = 0; ; i++) {
    await clickAt(await page.evaluate(() => cy.edges()[0].renderedMidpoint()));
    try { await page.waitForSelector('#edge-transactions tr:nth-child(2)', { timeout: 5000 }); break; } catch (e) { if (i === 4) throw e; }
  }

  // Filters: a minimum USD nothing reaches hides every edge; clearing shows them again.
  await page.fill('#f-usd', '100000000');
  await page.click('#f-apply');
  assert(await page.getAttribute('#graph', 'data-visible-edges') === '0', 'min USD filter');
  await page.click('#f-clear');
  assert(parseInt(await page.getAttribute('#graph', 'data-visible-edges'), 10) === before.edges, 'filters cleared');

  // A late answer for a node must not replace a panel opened since. The test holds the node's
  // address summary in the browser's network layer (playwright's route: nothing in the server
  // or the page waits on purpose) until another panel is open, then lets it through.
  const holdSummary = async (id) => {
    let arrived;
    const got = new Promise((r) => { arrived = r; });
    const match = (u) => u.pathname.includes('/api/address/') && u.pathname.endsWith('/' + encodeURIComponent(id));
    await page.route(match, (route) => arrived(route));
    // Click the node until its summary is asked for (a click while the graph moves can miss).
    const click = async () => {
      for (let i = 0; ; i++) {
        await clickNode(id);
        const r = await Promise.race([got, new Promise((t) => setTimeout(() => t(null), 5000))]);
        if (r) return;
        if (i === 4) throw new Error('no address request for ' + id);
      }
    };
    const release = async () => {
      const route = await got;
      await Promise.all([page.waitForResponse((r) => r.url() === route.request().url()), route.continue()]);
      await page.unroute(match);
      // The page has read the answer and run what follows it.
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      await page.waitForTimeout(200);
    };
    return { click, release };
  };
  // Node, then an edge: the edge's transactions stay.
  let late = await holdSummary(dep);
  await late.click();
  for (let i = 0; ; i++) {
    await clickAt(await page.evaluate(() => cy.edges()[0].renderedMidpoint()));
    try { await page.waitForSelector('#edge-transactions tr:nth-child(2)', { timeout: 5000 }); break; } catch (e) { if (i === 4) throw e; }
  }
  await late.release();
  assert(await page.locator('#edge-transactions').count() === 1, 'a late node answer replaced the edge panel: ' + await page.locator('#panel h3').textContent());

  // Node, then another node (the seed, whose panel has the label form used next): the seed's
  // panel stays. Click until the seed's own panel is open: an earlier node's panel also has a
  // label form, and a click while the graph still moves after the collapse can land beside the
  // node (the position is read before the click). A user clicks again; so does the test, at
  // most 5 times.
  const seed = await page.evaluate(() => cy.nodes('[kind = "seed"]')[0].id());
  late = await holdSummary(dep);
  await late.click();
  await page.waitForFunction((n) => cy.nodes().length === n, before.nodes);
  const panelOf = (id) => page.waitForFunction((id) => { const h = document.querySelector('#panel h3'); return h && h.textContent === id && document.querySelector('#label-form'); }, id, { timeout: 5000 });
  for (let i = 0; ; i++) {
    await clickNode(seed);
    try { await panelOf(seed); break; } catch (e) { if (i === 4) throw new Error('the seed panel never opened: ' + e.message); }
  }
  await late.release();
  const h3 = await page.locator('#panel h3').textContent();
  assert(h3 === seed, 'a late answer for ' + dep + ' replaced the seed panel: ' + h3);

  // A label from the seed's panel, hostile text shown as text.
  const hostile = '<img src=x onerror=alert(1)><script>alert(2)</script>"\'';
  await page.fill('#l-entity', hostile);
  await page.selectOption('#l-category', 'other');
  await page.click('#label-form button');
  await page.waitForFunction((h) => [...document.querySelectorAll('#node-labels .label-chip')].some((c) => c.textContent.includes(h)), hostile);
  assert(await page.locator('#node-labels img').count() === 0, 'label text became markup');

  // Run a trace from the selected seed with a policy.
  await page.selectOption('#t-policy', 'poison');
  await page.click('#t-run');
  await page.waitForFunction(() => /case=\d/.test(location.search));
  await page.waitForFunction(() => /^case /.test(document.getElementById('status').textContent));
  assert(await page.locator('#deposits tbody tr').count() > 0, 'the new case has deposits');

  // Export the case.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#exports button[data-format="html"]')]);
  const name = download.suggestedFilename();
  assert(/^case-.*\.html$/.test(name), 'download name ' + name);
  await download.saveAs(process.env.DOWNLOADS + '/' + name);

  // Back to the demo case for the picture.
  await page.goto(url + '/?case=demo');
  await ready();
  await clickNode(dep);
  await page.waitForFunction((dep) => document.querySelector('#panel h3') && document.querySelector('#panel h3').textContent === dep, dep);
  await page.screenshot({ path: process.env.SHOT });
  assert(problems.length === 0, problems.join('\n'));
  console.log('browser flow ok');
  await ctx.close();
})().catch((e) => { console.log(String(e.stack || e)); process.exit(1); });
"#;

const TYPOLOGY_JS: &str = r#"
const { chromium } = require('playwright-core');
const assert = (c, m) => { if (!c) throw new Error('assertion failed: ' + m); };
(async () => {
  const ctx = await chromium.launchPersistentContext(process.env.PROFILE, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    viewport: { width: 1500, height: 950 },
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('dialog', (d) => { problems.push('a dialog opened: ' + d.message()); d.dismiss(); });
  const url = process.env.URL;
  const ready = async () => {
    await page.waitForSelector('body[data-ready="1"]');
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await page.waitForTimeout(200);
  };
  const count = () => page.evaluate(() => ({ nodes: cy.nodes().length, edges: cy.edges().length }));
  const clickAt = async (p) => {
    const box = await page.locator('#graph').boundingBox();
    await page.mouse.click(box.x + p.x, box.y + p.y);
  };
  const clickNode = async (id) => clickAt(await page.evaluate((id) => cy.getElementById(id).renderedPosition(), id));
  const panelIs = (id) => page.waitForFunction((id) => { const h = document.querySelector('#panel h3'); return h && h.textContent === id; }, id);
  const depositAddresses = () => page.$$eval('#deposits tbody tr td:nth-child(2)', (tds) => tds.map((td) => td.textContent));

  // Search the sanctioned entity by its label and open one of its addresses.
  await page.goto(url + '/');
  await ready();
  await page.selectOption('#chain', 'ethereum');
  await page.fill('#q', process.env.ENTITY);
  await page.press('#q', 'Enter');
  await page.waitForSelector('#search-results div');
  // The UI first asks for the text as an address: that 400 is how it falls back to labels.
  assert(problems.length === 1 && /status of 400/.test(problems[0]), problems.join('\n'));
  problems.length = 0;
  const hit = await page.locator('#search-results div').first().textContent();
  const seed = hit.split(' — ').pop();
  await page.locator('#search-results div').first().click();
  await panelIs(seed);
  await page.waitForFunction(() => cy.nodes().length > 1);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const before = await count();

  // Expand a next-hop address that pays on (asked of the API), then collapse it.
  const next = await page.evaluate(async (seed) => {
    for (const n of cy.nodes()) {
      if (n.id() === seed) continue;
      const r = await fetch('/api/address/ethereum/' + n.id() + '/transfers?direction=out&limit=200');
      const j = await r.json();
      if (j.transfers.some((t) => cy.getElementById(t.to).empty())) return n.id();
    }
    return null;
  }, seed);
  assert(next, 'no next-hop address pays anyone new');
  await clickNode(next);
  await panelIs(next);
  const expanded = await count();
  assert(expanded.nodes > before.nodes, 'expanding added nodes: ' + JSON.stringify([before, expanded]));
  await clickNode(next);
  await page.waitForFunction((n) => cy.nodes().length === n, before.nodes);

  // An edge's transactions: a click on an edge in view where no node covers it, beside its
  // amount label (the generated graph's layout differs with each seed).
  const mids = await page.evaluate(() => {
    const w = cy.width(), h = cy.height();
    const free = (p) => p.x > 5 && p.y > 5 && p.x < w - 5 && p.y < h - 5 && cy.nodes().every((n) => {
      const b = n.renderedBoundingBox(); return p.x < b.x1 - 4 || p.x > b.x2 + 4 || p.y < b.y1 - 4 || p.y > b.y2 + 4;
    });
    const along = (e, f) => {
      const a = e.renderedSourceEndpoint(), b = e.renderedTargetEndpoint();
      return { x: a.x + (b.x - a.x) * f, y: a.y + (b.y - a.y) * f };
    };
    return cy.edges().flatMap((e) => [along(e, 0.2), along(e, 0.8), e.renderedMidpoint()]).filter(free);
  });
  assert(mids.length > 0, 'no edge to click');
  let opened = false;
  for (const m of mids) {
    await clickAt(m);
    opened = await page.waitForSelector('#edge-transactions tr:nth-child(2)', { timeout: 2000 }).then(() => true, () => false);
    if (opened) break;
  }
  assert(opened, 'no edge click showed its transactions');

  // Filters: a minimum USD nothing reaches hides every edge; clearing shows them again.
  const edges = (await count()).edges;
  await page.fill('#f-usd', '100000000000');
  await page.click('#f-apply');
  assert(await page.getAttribute('#graph', 'data-visible-edges') === '0', 'min USD filter');
  await page.click('#f-clear');
  assert(parseInt(await page.getAttribute('#graph', 'data-visible-edges'), 10) === edges, 'filters cleared');

  // Trace from the seed (selected by clicking it) with haircut over the typology's hops.
  await clickNode(seed);
  await panelIs(seed);
  await page.selectOption('#t-policy', 'haircut');
  await page.fill('#t-hops', process.env.HOPS);
  await page.click('#t-run');
  await page.waitForFunction(() => /case=\d/.test(location.search));
  await page.waitForFunction(() => /^case /.test(document.getElementById('status').textContent));
  console.log('SEED ' + JSON.stringify(await depositAddresses()));

  // The case of every sanctioned seed, opened from its link.
  await page.goto(url + '/?case=' + process.env.FULLCASE);
  await ready();
  console.log('FULL ' + JSON.stringify(await depositAddresses()));
  await page.screenshot({ path: process.env.SHOT });
  assert(problems.length === 0, problems.join('\n'));
  console.log('browser flow ok');
  await ctx.close();
})().catch((e) => { console.log(String(e.stack || e)); process.exit(1); });
"#;

/// Evicts `path` from the page cache; whether the kernel dropped any of its pages, measured with
/// the test's own `mmap` + `mincore` (a file system that keeps every page reports false).
#[cfg(target_os = "linux")]
fn evict(path: &Path) -> bool {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path).unwrap();
    let len = file.metadata().unwrap().len() as usize;
    // SAFETY: advice on an open descriptor, a read-only private map of its whole length that is
    // unmapped before return, and one byte per page for mincore.
    unsafe {
        assert_eq!(libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED), 0);
        let map = libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, file.as_raw_fd(), 0);
        assert_ne!(map, libc::MAP_FAILED);
        let mut pages = vec![0u8; len.div_ceil(4096)];
        assert_eq!(libc::mincore(map, len, pages.as_mut_ptr()), 0);
        libc::munmap(map, len);
        pages.iter().any(|p| p & 1 == 0)
    }
}

/// A graph snapshot partly evicted from the page cache is read back in order (`recache`) by
/// `chaintrace snapshot` when it is fresh, and by the workbench at start, which says so in its
/// log; one the cache holds whole is left alone.
#[cfg(target_os = "linux")]
#[test]
fn evicted_snapshots_are_cached_again_by_snapshot_and_at_the_workbench_start() {
    // on the target directory's disk: a tmpfs never evicts
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    // 20,000 transfers: a file of many pages, of which opening it touches a few
    let store = dir.path().join("store");
    hub_store(&store, &evm(1), 200);
    let snapshot = |args: &[&str]| -> Vec<Value> {
        let out =
            Command::new(exe()).arg("--store").arg(&store).args(["--json", "snapshot"]).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
    };
    let built = snapshot(&[]);
    assert!(!built.is_empty() && built.iter().all(|c| c["state"] == "built"), "{built:?}");
    let files: Vec<PathBuf> = built.iter().map(|c| PathBuf::from(c["path"].as_str().unwrap())).collect();

    // fresh and cached whole (a build reads its file back): left alone
    let again = snapshot(&[]);
    assert!(again.iter().all(|c| c["state"] == "fresh" && c["recached"] == false), "{again:?}");
    // evicted: read back
    let dropped: Vec<bool> = files.iter().map(|f| evict(f)).collect();
    let after = snapshot(&[]);
    for (c, d) in after.iter().zip(&dropped) {
        assert_eq!(c["state"], "fresh");
        assert_eq!(c["recached"], *d, "evicted {d}: {c}");
    }

    // the workbench at start, logging at info level
    let dropped: Vec<bool> = files.iter().map(|f| evict(f)).collect();
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(exe())
        .arg("--store")
        .arg(&store)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("CHAINTRACE_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let want = dropped.iter().filter(|d| **d).count();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut text = String::new();
    while Instant::now() < deadline {
        text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.matches("graph snapshot:").count() >= files.len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    assert_eq!(text.matches("graph snapshot:").count(), files.len(), "one line per snapshot:\n{text}");
    assert_eq!(text.matches("re-read in order").count(), want, "{text}");
    assert_eq!(text.matches("cached whole").count(), files.len() - want, "{text}");
}
