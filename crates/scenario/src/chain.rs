//! Driving anvil: gas-free transactions from any address, blocks mined at chosen times.
//!
//! anvil runs with a zero base fee and zero gas price, and auto-impersonation, so a fresh
//! address can send as soon as it holds something: gas is never paid, which keeps every
//! wallet's balance equal to the sum of its recorded transfers (what the tracer sees). Automine
//! is off and the mempool is FIFO-ordered, so the transactions of one step land in one block in
//! the order they were sent.

use alloy_primitives::U256;
use chaintrace_testkit::{encode_call, Anvil, Word};
use serde_json::{json, Value};

/// anvil's arguments for a scenario node (chain id 1 stands in for `ethereum`).
pub fn anvil_args(genesis_time: u64) -> Vec<String> {
    ["--base-fee", "0", "--gas-price", "0", "--order", "fifo", "--timestamp", &genesis_time.to_string(), "--silent"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Start anvil for a scenario.
pub fn spawn_anvil(genesis_time: u64) -> Anvil {
    spawn_anvil_with_id(1, genesis_time)
}

/// Start anvil for a scenario with another chain id (the demo trail's second chain).
pub fn spawn_anvil_with_id(chain_id: u64, genesis_time: u64) -> Anvil {
    let mut b = Anvil::builder().chain_id(chain_id).accounts(3);
    for a in anvil_args(genesis_time) {
        b = b.arg(a);
    }
    b.spawn()
}

/// A transaction sent in the current step.
#[derive(Clone, Debug)]
pub struct SentTx {
    /// Transaction hash, `0x`-hex.
    pub hash: String,
    /// The step that sent it (named in panic messages).
    pub what: String,
}

/// The chain as the generator drives it.
pub struct Chain<'a> {
    /// The node the scenario runs on.
    pub anvil: &'a Anvil,
    pending: Vec<SentTx>,
    /// Every mined transaction: (hash, block, index).
    pub mined: Vec<(String, u64, u64)>,
    /// Timestamp of the next block, Unix seconds (advanced per step).
    pub time: u64,
}

impl<'a> Chain<'a> {
    /// Turn automine off and impersonate every address.
    pub fn new(anvil: &'a Anvil, start_time: u64) -> Chain<'a> {
        anvil.rpc("anvil_autoImpersonateAccount", json!([true]));
        anvil.set_automine(false);
        Chain { anvil, pending: Vec::new(), mined: Vec::new(), time: start_time }
    }

    fn send_raw(&mut self, from: &str, to: Option<&str>, value: U256, data: &[u8], gas: u64, what: &str) -> String {
        let mut tx = json!({
            "from": from,
            "value": format!("0x{value:x}"),
            "gas": format!("0x{gas:x}"),
            "gasPrice": "0x0",
            "data": format!("0x{}", hex::encode(data)),
        });
        if let Some(to) = to {
            tx["to"] = json!(to);
        }
        let hash = self
            .anvil
            .try_rpc("eth_sendTransaction", json!([tx]))
            .unwrap_or_else(|e| panic!("scenario step {what:?} was refused by anvil: {e}"));
        let hash = hash.as_str().expect("tx hash string").to_ascii_lowercase();
        self.pending.push(SentTx { hash: hash.clone(), what: what.to_string() });
        hash
    }

    /// Plain ETH payment.
    pub fn send_eth(&mut self, from: &str, to: &str, wei: U256, what: &str) -> String {
        self.send_raw(from, Some(to), wei, &[], 21_000, what)
    }

    /// ERC-20 `transfer(to, amount)`.
    pub fn send_token(&mut self, token: &str, from: &str, to: &str, amount: U256, what: &str) -> String {
        let data = encode_call("transfer(address,uint256)", &[Word::Address(to.into()), Word::Uint(amount)]);
        self.send_raw(from, Some(token), U256::ZERO, &data, 100_000, what)
    }

    /// A contract call carrying ETH.
    pub fn call(&mut self, from: &str, to: &str, value: U256, data: &[u8], what: &str) -> String {
        self.send_raw(from, Some(to), value, data, 300_000, what)
    }

    /// Deploy creation code; mines it at once and returns the contract address.
    pub fn deploy(&mut self, from: &str, code: &[u8], what: &str) -> String {
        let h = self.send_raw(from, None, U256::ZERO, code, 5_000_000, what);
        self.mine(60);
        let r = self.anvil.receipt(&h);
        r["contractAddress"].as_str().expect("contractAddress").to_ascii_lowercase()
    }

    /// Mine the pending transactions into one block `advance` seconds after the previous one;
    /// every one of them must succeed, in the order sent.
    pub fn mine(&mut self, advance: u64) {
        self.time += advance.max(1);
        self.anvil.rpc("evm_setNextBlockTimestamp", json!([self.time]));
        self.anvil.rpc("evm_mine", json!([]));
        let pending = std::mem::take(&mut self.pending);
        let mut last: Option<(u64, u64)> = None;
        for tx in pending {
            let r: Value = self.anvil.rpc("eth_getTransactionReceipt", json!([tx.hash]));
            assert!(!r.is_null(), "scenario step {:?} ({}) was not mined in the step's block", tx.what, tx.hash);
            assert_eq!(r["status"].as_str(), Some("0x1"), "scenario step {:?} ({}) reverted: {r}", tx.what, tx.hash);
            let block = chaintrace_testkit::anvil::hex_u64(&r["blockNumber"]);
            let index = chaintrace_testkit::anvil::hex_u64(&r["transactionIndex"]);
            if let Some(prev) = last {
                assert!((block, index) > prev, "scenario step {:?} was mined out of order", tx.what);
            }
            last = Some((block, index));
            self.mined.push((tx.hash, block, index));
        }
    }

    /// The node's latest block height.
    pub fn head(&self) -> u64 {
        self.anvil.block_number()
    }
}
