//! Swaps whose logs are missing, through the real binary (issue 13, bad input): a pool that
//! emits Uniswap V2- and V3-style `Swap` events without moving anything, and one that takes the
//! caller's tokens and emits a `Swap` claiming an output it never paid (`HollowPool` in
//! `crates/testkit/contracts/Flows.sol`). Ingest succeeds, stores the transfers that did happen,
//! records no conversion (never one with a zero or invented amount) and says why on stderr.

use crate::common::Workdir;

use chaintrace_testkit::{encode_call, erc20_transfer, Anvil, Contracts, Word, U256};
use serde_json::Value;

#[test]
fn swap_events_without_their_transfers_are_noted_never_zero_conversions() {
    let c = Contracts::compile();
    let anvil = Anvil::builder().chain_id(1).accounts(3).spawn();
    let acc = anvil.accounts();
    let (owner, user) = (acc[0].as_str(), acc[1].as_str());
    let token = anvil.deploy(owner, c.bytecode("Gold18"));
    let pool = anvil.deploy(owner, c.bytecode("HollowPool"));
    let gas = 1_000_000;
    let amount = U256::from(3u64) * U256::from(10u64).pow(U256::from(18));
    anvil.send_confirmed(owner, Some(&token), 0, &erc20_transfer(user, amount), gas);
    anvil.send_confirmed(
        user,
        Some(&token),
        0,
        &encode_call("approve(address,uint256)", &[Word::Address(pool.clone()), Word::Uint(amount)]),
        gas,
    );
    let nothing = anvil.send_confirmed(user, Some(&pool), 0, &encode_call("swapNothing()", &[]), gas);
    let taking = anvil.send_confirmed(
        user,
        Some(&pool),
        0,
        &encode_call("swapTaking(address,uint256)", &[Word::Address(token.clone()), Word::Uint(amount)]),
        gas,
    );

    let w = Workdir::new();
    let head = anvil.block_number().to_string();
    let out = w.cmd(&["ingest", "ethereum", "--rpc", &anvil.url(), "--to", &head]).output().expect("run chaintrace");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for tx in [&nothing, &taking] {
        let line = stderr
            .lines()
            .find(|l| l.contains(tx.trim_start_matches("0x")))
            .unwrap_or_else(|| panic!("no warning names {tx}:\n{stderr}"));
        assert!(line.contains("without a conversion"), "{line}");
    }
    let st: Value = serde_json::from_str(&w.ok(&["stats", "--json"])).expect("stats JSON");
    assert!(st["chains"]["ethereum"].get("conversions").is_none(), "no conversion stored: {st}");
    // The token movement that did happen is a plain transfer from the user to the pool.
    let edges: Vec<Value> = serde_json::from_str(&w.ok(&["transfers", user, "--json"])).expect("transfers JSON");
    let paid: Vec<&Value> =
        edges.iter().filter(|e| e["to"] == pool.as_str() && e["amount_raw"] == amount.to_string()).collect();
    assert_eq!(paid.len(), 1, "{edges:?}");
    assert_eq!(paid[0]["tx"].as_str().map(|t| t.trim_start_matches("0x")), Some(taking.trim_start_matches("0x")));
    w.verified();
}
