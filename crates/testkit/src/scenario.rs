//! A scripted set of EVM transfers on anvil, with the exact list of transfers it made — the
//! oracle the EVM ingest tests compare a store against.

use alloy_primitives::U256;
use serde_json::Value;

use crate::anvil::{hex_u64, Anvil};
use crate::contracts::{encode_call, erc20_transfer, Contracts, Word};

/// One transfer the scenario made, in the adapter's terms.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExpectedTransfer {
    /// Block height.
    pub block: u64,
    /// `0x`-prefixed lower-case hex.
    pub tx: String,
    /// Sender, `0x`-prefixed lower-case hex.
    pub from: String,
    /// Recipient, `0x`-prefixed lower-case hex.
    pub to: String,
    /// `ETH` or the token contract (lower-case hex).
    pub asset: String,
    /// Base units, decimal.
    pub amount: String,
}

/// What the scenario deployed and did.
pub struct Scenario {
    /// anvil's unlocked accounts, lower-case hex.
    pub accounts: Vec<String>,
    /// `TetherLike`: a 6-decimal USDT-like token.
    pub usdt: String,
    /// `Gold18`: an 18-decimal token.
    pub gold: String,
    /// `MuteToken`: emits `Transfer` but answers neither `decimals()` nor `symbol()`.
    pub mute: String,
    /// `NftLike`: an ERC-721-style `Transfer` (4 topics) the adapter must ignore.
    pub nft: String,
    /// A `Forwarder`: passes `msg.value` on with an internal call.
    pub forwarder: String,
    /// A second `Forwarder`, for two-hop internal transfers.
    pub forwarder2: String,
    /// `Rejecter`: reverts any value sent to it.
    pub rejecter: String,
    /// Every transfer the scenario made, sorted.
    pub expected: Vec<ExpectedTransfer>,
    /// Transactions that reverted (they must contribute nothing).
    pub reverted: Vec<String>,
}

const ZERO: &str = "0x0000000000000000000000000000000000000000";

/// A transfer a transaction should make: (from, to, asset, amount).
type Move = (String, String, String, U256);

struct Ctx<'a> {
    anvil: &'a Anvil,
    expected: Vec<ExpectedTransfer>,
    reverted: Vec<String>,
    /// Sent but not yet mined (manual mining): (tx, transfers it should make).
    pending: Vec<(String, Vec<Move>, bool)>,
}

impl Ctx<'_> {
    /// Send a transaction; `moves` are the transfers it makes if it succeeds, `must_revert`
    /// whether the scenario expects it to fail.
    fn tx(
        &mut self,
        from: &str,
        to: &str,
        value: U256,
        data: Vec<u8>,
        moves: Vec<(String, String, String, U256)>,
        must_revert: bool,
    ) {
        let h = self.anvil.send(from, Some(to), value, &data);
        self.pending.push((h, moves, must_revert));
    }

    /// Settle sent transactions (mining first when automine is off).
    fn settle(&mut self, mine: bool) {
        if mine {
            self.anvil.mine(1);
        }
        for (h, moves, must_revert) in std::mem::take(&mut self.pending) {
            let r = self.anvil.receipt(&h);
            let ok = r["status"].as_str() == Some("0x1");
            assert_eq!(ok, !must_revert, "transaction {h} status {:?}, expected revert={must_revert}", r["status"]);
            if !ok {
                self.reverted.push(h);
                continue;
            }
            let block = hex_u64(&r["blockNumber"]);
            for (from, to, asset, amount) in moves {
                self.expected.push(ExpectedTransfer {
                    block,
                    tx: h.to_ascii_lowercase(),
                    from: from.to_ascii_lowercase(),
                    to: to.to_ascii_lowercase(),
                    asset,
                    amount: amount.to_string(),
                });
            }
        }
    }
}

fn eth(x: u64) -> U256 {
    U256::from(x) * U256::from(10u64).pow(U256::from(18u64))
}

fn mv(from: &str, to: &str, asset: &str, amount: U256) -> (String, String, String, U256) {
    (from.to_string(), to.to_string(), asset.to_string(), amount)
}

fn transfer(to: &str, amount: U256) -> Vec<u8> {
    erc20_transfer(to, amount)
}

/// Deploy the test contracts and make the transfers; see the module docs. Needs an anvil with
/// at least 20 accounts and automine on.
pub fn run(anvil: &Anvil, contracts: &Contracts) -> Scenario {
    let a = anvil.accounts();
    assert!(a.len() >= 20, "the scenario needs 20 funded accounts");
    let mut c = Ctx { anvil, expected: Vec::new(), reverted: Vec::new(), pending: Vec::new() };

    let deploy = |c: &mut Ctx<'_>, name: &str, mints: Option<U256>| -> String {
        let h = anvil.send_with_gas(&a[0], None, U256::ZERO, contracts.bytecode(name), 5_000_000);
        let r = anvil.receipt(&h);
        assert_eq!(r["status"].as_str(), Some("0x1"), "deploy {name}: {r}");
        let addr = r["contractAddress"].as_str().expect("contract address").to_ascii_lowercase();
        if let Some(supply) = mints {
            c.pending.push((h, vec![mv(ZERO, &a[0], &addr, supply)], false));
            c.settle(false);
        }
        addr
    };
    let usdt = deploy(&mut c, "TetherLike", Some(U256::from(1_000_000_000u64) * U256::from(1_000_000u64)));
    let gold = deploy(&mut c, "Gold18", Some(eth(1_000_000)));
    let mute = deploy(&mut c, "MuteToken", Some(U256::from(10u64).pow(U256::from(30u64))));
    let nft = deploy(&mut c, "NftLike", None);
    let fwd = deploy(&mut c, "Forwarder", None);
    let fwd2 = deploy(&mut c, "Forwarder", None);
    let rej = deploy(&mut c, "Rejecter", None);

    // One block: USDT from a0 to 19 accounts.
    anvil.set_automine(false);
    for (i, to) in a.iter().enumerate().take(20).skip(1) {
        let amt = U256::from(1_000_000_000u64 + i as u64);
        c.tx(&a[0], &usdt, U256::ZERO, transfer(to, amt), vec![mv(&a[0], to, &usdt, amt)], false);
    }
    c.settle(true);
    // One block: a ring of USDT among the accounts, each from a different sender.
    for i in 1..19 {
        let amt = U256::from(i as u64 * 1_000_000);
        c.tx(&a[i], &usdt, U256::ZERO, transfer(&a[i + 1], amt), vec![mv(&a[i], &a[i + 1], &usdt, amt)], false);
    }
    c.settle(true);
    // A mixed block: 18-decimal token, a token without metadata, an NFT-style event, native
    // value, self-transfers, zero-value transfers and reverted ones.
    let g = eth(5) / U256::from(2u64);
    c.tx(&a[0], &gold, U256::ZERO, transfer(&a[5], g), vec![mv(&a[0], &a[5], &gold, g)], false);
    c.tx(
        &a[0],
        &mute,
        U256::ZERO,
        transfer(&a[7], U256::from(12345u64)),
        vec![mv(&a[0], &a[7], &mute, U256::from(12345u64))],
        false,
    );
    let mint = encode_call("mint(address,uint256)", &[Word::Address(a[8].clone()), Word::Uint(U256::from(77u64))]);
    c.tx(&a[0], &nft, U256::ZERO, mint, vec![], false);
    c.tx(&a[1], &a[2], eth(1), vec![], vec![mv(&a[1], &a[2], "ETH", eth(1))], false);
    // Self-transfers: native and token.
    c.tx(
        &a[3],
        &a[3],
        eth(1) / U256::from(2u64),
        vec![],
        vec![mv(&a[3], &a[3], "ETH", eth(1) / U256::from(2u64))],
        false,
    );
    c.tx(
        &a[4],
        &usdt,
        U256::ZERO,
        transfer(&a[4], U256::from(7u64)),
        vec![mv(&a[4], &a[4], &usdt, U256::from(7u64))],
        false,
    );
    // Zero-value: a native call moving nothing is not a transfer; a 0-token Transfer event is.
    c.tx(&a[5], &a[6], U256::ZERO, vec![], vec![], false);
    c.tx(&a[6], &usdt, U256::ZERO, transfer(&a[7], U256::ZERO), vec![mv(&a[6], &a[7], &usdt, U256::ZERO)], false);
    // Reverted: more tokens than the balance; ETH to a contract that refuses it.
    c.tx(&a[9], &usdt, U256::ZERO, transfer(&a[10], U256::from(10u64).pow(U256::from(15u64))), vec![], true);
    c.tx(&a[9], &rej, eth(1), vec![], vec![], true);
    c.settle(true);
    anvil.set_automine(true);

    // Internal transfers, one transaction per block.
    let two = eth(2);
    let data = encode_call("forward(address)", &[Word::Address(a[11].clone())]);
    c.tx(&a[10], &fwd, two, data, vec![mv(&a[10], &fwd, "ETH", two), mv(&fwd, &a[11], "ETH", two)], false);
    c.settle(false);
    let data = encode_call("split(address,address)", &[Word::Address(a[12].clone()), Word::Address(a[13].clone())]);
    c.tx(
        &a[10],
        &fwd,
        U256::from(3u64),
        data,
        vec![
            mv(&a[10], &fwd, "ETH", U256::from(3u64)),
            mv(&fwd, &a[12], "ETH", U256::from(1u64)),
            mv(&fwd, &a[13], "ETH", U256::from(2u64)),
        ],
        false,
    );
    c.settle(false);
    let five = eth(5);
    let data = encode_call("forwardVia(address,address)", &[Word::Address(fwd2.clone()), Word::Address(a[14].clone())]);
    c.tx(
        &a[10],
        &fwd,
        five,
        data,
        vec![mv(&a[10], &fwd, "ETH", five), mv(&fwd, &fwd2, "ETH", five), mv(&fwd2, &a[14], "ETH", five)],
        false,
    );
    c.settle(false);
    // The inner call fails but the transaction succeeds: only the top-level value moves.
    let data = encode_call("tryForward(address)", &[Word::Address(rej.clone())]);
    c.tx(&a[10], &fwd, eth(1), data, vec![mv(&a[10], &fwd, "ETH", eth(1))], false);
    c.settle(false);
    // The inner call fails and the transaction reverts: nothing moves.
    let data = encode_call("forward(address)", &[Word::Address(rej.clone())]);
    c.tx(&a[10], &fwd, eth(1), data, vec![], true);
    c.settle(false);

    let mut expected = c.expected;
    expected.sort();
    Scenario {
        accounts: a,
        usdt,
        gold,
        mute,
        nft,
        forwarder: fwd,
        forwarder2: fwd2,
        rejecter: rej,
        expected,
        reverted: c.reverted,
    }
}

/// Plain native transfers in `blocks` new blocks (for reorg and benchmark ranges): returns
/// the expected transfers.
pub fn native_blocks(anvil: &Anvil, from_account: usize, blocks: u64, tag: u64) -> Vec<ExpectedTransfer> {
    let a = anvil.accounts();
    let mut c = Ctx { anvil, expected: Vec::new(), reverted: Vec::new(), pending: Vec::new() };
    for i in 0..blocks {
        let to = &a[(from_account + 1 + i as usize) % a.len()];
        let v = U256::from(1_000_000 + tag * 1000 + i);
        c.tx(&a[from_account], to, v, vec![], vec![mv(&a[from_account], to, "ETH", v)], false);
        c.settle(false);
    }
    c.expected
}

/// The JSON of a receipt's block number.
pub fn receipt_block(v: &Value) -> u64 {
    hex_u64(&v["blockNumber"])
}
