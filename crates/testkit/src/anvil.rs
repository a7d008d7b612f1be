//! A real anvil node for tests.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alloy_primitives::U256;
use serde_json::{json, Value};

use crate::http;

/// Options for [`Anvil`].
#[derive(Clone, Debug)]
pub struct AnvilBuilder {
    chain_id: u64,
    accounts: u32,
    block_time: Option<u64>,
    extra: Vec<String>,
}

impl Default for AnvilBuilder {
    fn default() -> Self {
        AnvilBuilder { chain_id: 1, accounts: 20, block_time: None, extra: Vec::new() }
    }
}

impl AnvilBuilder {
    /// The chain id anvil reports (default 1).
    pub fn chain_id(mut self, id: u64) -> Self {
        self.chain_id = id;
        self
    }
    /// How many funded, unlocked accounts anvil creates (default 20).
    pub fn accounts(mut self, n: u32) -> Self {
        self.accounts = n;
        self
    }
    /// Mine a block every `secs` seconds (default: mine on every transaction).
    pub fn block_time(mut self, secs: u64) -> Self {
        self.block_time = Some(secs);
        self
    }
    /// One more command-line argument passed to anvil as is.
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.extra.push(a.into());
        self
    }

    /// Start anvil on a free loopback port and wait until it answers. Panics on failure.
    pub fn spawn(self) -> Anvil {
        let bin = crate::tools::anvil();
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = http::free_port();
            // anvil keeps the states it swaps out of memory under $HOME/.foundry/anvil/tmp and
            // removes them only on a clean exit; a killed node left ~860 MB behind per test run.
            // A home of its own, removed on drop, keeps them from piling up.
            let home = std::env::temp_dir().join(format!("chaintrace-anvil-{}-{port}", std::process::id()));
            let _ = std::fs::create_dir_all(&home);
            let mut cmd = Command::new(&bin);
            cmd.env("HOME", &home);
            cmd.arg("--host")
                .arg("127.0.0.1")
                .arg("--port")
                .arg(port.to_string())
                .arg("--chain-id")
                .arg(self.chain_id.to_string())
                .arg("--accounts")
                .arg(self.accounts.to_string())
                .arg("--balance")
                .arg("1000000")
                .args(&self.extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            if let Some(t) = self.block_time {
                cmd.arg("--block-time").arg(t.to_string());
            }
            let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start anvil {}: {e}", bin.display()));
            let mut anvil = Anvil {
                child,
                home,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                next_id: AtomicU64::new(1),
                chain_id: self.chain_id,
            };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                if let Ok(Some(status)) = anvil.child.try_wait() {
                    last_err = format!("anvil exited with {status}");
                    break;
                }
                if anvil.try_rpc("eth_chainId", json!([])).is_ok() {
                    return anvil;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if last_err.is_empty() {
                last_err = "anvil did not answer within 30 s".into();
            }
        }
        panic!("could not start anvil on a loopback port: {last_err}");
    }
}

/// A running anvil; killed on drop.
pub struct Anvil {
    child: Child,
    home: std::path::PathBuf,
    addr: SocketAddr,
    next_id: AtomicU64,
    chain_id: u64,
}

impl Anvil {
    /// A builder with the defaults (chain id 1, 20 accounts, mine on every transaction).
    pub fn builder() -> AnvilBuilder {
        AnvilBuilder::default()
    }

    /// anvil with chain id 1 (stands in for `ethereum`) and 20 funded accounts.
    pub fn spawn() -> Anvil {
        AnvilBuilder::default().spawn()
    }

    /// The JSON-RPC URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The loopback address anvil listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The anvil process's id (benchmarks read its CPU time from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The chain id it was started with.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// One JSON-RPC call; `Err` carries the node's error object or the I/O failure.
    pub fn try_rpc(&self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let req = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let body = serde_json::to_vec(&req).expect("serialise a JSON value");
        let resp = http::post(self.addr, &body, Duration::from_secs(60)).map_err(|e| format!("{method}: {e}"))?;
        let v: Value = serde_json::from_slice(&resp.body)
            .map_err(|e| format!("{method}: bad JSON ({e}): {}", String::from_utf8_lossy(&resp.body)))?;
        if let Some(err) = v.get("error") {
            return Err(format!("{method}: {err}"));
        }
        Ok(v.get("result").cloned().unwrap_or(Value::Null))
    }

    /// One JSON-RPC call that must succeed.
    pub fn rpc(&self, method: &str, params: Value) -> Value {
        self.try_rpc(method, params).unwrap_or_else(|e| panic!("anvil rpc failed: {e}"))
    }

    /// The funded dev accounts, as lower-case `0x` hex.
    pub fn accounts(&self) -> Vec<String> {
        let v = self.rpc("eth_accounts", json!([]));
        v.as_array()
            .expect("eth_accounts returns an array")
            .iter()
            .map(|a| a.as_str().expect("address string").to_ascii_lowercase())
            .collect()
    }

    /// The latest block height (`eth_blockNumber`).
    pub fn block_number(&self) -> u64 {
        hex_u64(&self.rpc("eth_blockNumber", json!([])))
    }

    /// Send a transaction from an unlocked account; returns its hash. Gas is given explicitly
    /// (default 1,000,000) so transactions that will revert are still sent, not refused by
    /// gas estimation.
    pub fn send(&self, from: &str, to: Option<&str>, value: U256, data: &[u8]) -> String {
        self.send_with_gas(from, to, value, data, 1_000_000)
    }

    /// [`Anvil::send`] with an explicit gas limit; returns the transaction hash.
    pub fn send_with_gas(&self, from: &str, to: Option<&str>, value: U256, data: &[u8], gas: u64) -> String {
        let mut tx = json!({
            "from": from,
            "value": format!("0x{value:x}"),
            "gas": format!("0x{gas:x}"),
            "data": format!("0x{}", hex::encode(data)),
        });
        if let Some(to) = to {
            tx["to"] = json!(to);
        }
        let h = self.rpc("eth_sendTransaction", json!([tx]));
        h.as_str().expect("tx hash string").to_string()
    }

    /// Send a transaction with `gas` and `value_wei` (wei), wait for its receipt and assert that
    /// it succeeded (panics naming the hash and receipt otherwise); returns the lower-case
    /// transaction hash. For test steps that must not fail.
    pub fn send_confirmed(&self, from: &str, to: Option<&str>, value_wei: u128, data: &[u8], gas: u64) -> String {
        let h = self.send_with_gas(from, to, U256::from(value_wei), data, gas).to_ascii_lowercase();
        let r = self.receipt(&h);
        assert_eq!(r["status"].as_str(), Some("0x1"), "tx {h} failed: {r}");
        h
    }

    /// The receipt of a mined transaction (panics when it is not mined).
    /// Automine runs in the background in anvil, so this waits up to 20 s for the receipt.
    pub fn receipt(&self, tx: &str) -> Value {
        let start = Instant::now();
        loop {
            let r = self.rpc("eth_getTransactionReceipt", json!([tx]));
            if !r.is_null() {
                return r;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "transaction {tx} is not mined");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The ETH balance of `who` in wei at the latest block.
    pub fn eth_balance(&self, who: &str) -> U256 {
        let r = self.rpc("eth_getBalance", json!([who, "latest"]));
        U256::from_str_radix(r.as_str().expect("eth_getBalance returns hex").trim_start_matches("0x"), 16)
            .expect("eth_getBalance returns a uint")
    }

    /// The fee a mined transaction paid in wei (`gasUsed · effectiveGasPrice` of its receipt).
    pub fn gas_paid(&self, tx: &str) -> U256 {
        let r = self.receipt(tx);
        let n = |k: &str| {
            U256::from_str_radix(r[k].as_str().expect(k).trim_start_matches("0x"), 16).expect("the receipt's uint")
        };
        n("gasUsed") * n("effectiveGasPrice")
    }

    /// Whether the mined transaction succeeded.
    pub fn succeeded(&self, tx: &str) -> bool {
        self.receipt(tx)["status"].as_str() == Some("0x1")
    }

    /// Deploy `bytecode` from `from`; returns the contract address (lower-case hex).
    pub fn deploy(&self, from: &str, bytecode: &[u8]) -> String {
        let h = self.send_with_gas(from, None, U256::ZERO, bytecode, 5_000_000);
        self.mine_if_manual();
        let r = self.receipt(&h);
        assert_eq!(r["status"].as_str(), Some("0x1"), "deploying a contract failed: {r}");
        r["contractAddress"].as_str().expect("contractAddress").to_ascii_lowercase()
    }

    fn mine_if_manual(&self) {
        if self.rpc("anvil_getAutomine", json!([])) == json!(false) {
            self.mine(1);
        }
    }

    /// Turn mining on every transaction on or off (`evm_setAutomine`).
    pub fn set_automine(&self, on: bool) {
        self.rpc("evm_setAutomine", json!([on]));
    }

    /// Mine `blocks` blocks now (`anvil_mine`).
    pub fn mine(&self, blocks: u64) {
        self.rpc("anvil_mine", json!([format!("0x{blocks:x}")]));
    }

    /// Snapshot the chain state (`evm_snapshot`); returns the id for [`Anvil::revert`].
    pub fn snapshot(&self) -> String {
        self.rpc("evm_snapshot", json!([])).as_str().expect("snapshot id").to_string()
    }

    /// Go back to a snapshot (`evm_revert`); panics if anvil refuses.
    pub fn revert(&self, id: &str) {
        assert_eq!(self.rpc("evm_revert", json!([id])), json!(true), "evm_revert {id} failed");
    }

    /// `anvil_reorg(depth, txs)`: replace the last `depth` blocks by new ones (same height).
    pub fn reorg(&self, depth: u64, txs: Value) {
        self.rpc("anvil_reorg", json!([depth, txs]));
    }

    /// The `0x`-hex hash of the block at `height`.
    pub fn block_hash(&self, height: u64) -> String {
        let b = self.rpc("eth_getBlockByNumber", json!([format!("0x{height:x}"), false]));
        b["hash"].as_str().expect("block hash").to_string()
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// Parse a JSON `"0x…"` quantity.
pub fn hex_u64(v: &Value) -> u64 {
    let s = v.as_str().expect("hex quantity string");
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex quantity")
}
