//! Labels across the new chains, end to end through the real binary:
//! - OFAC's TRX and USDT lists (tests/data/ofac, 0xB10C snapshots) label TRON addresses, shown
//!   as `T…`; the EVM address OFAC lists for ETH, ARB and BSC at once labels that key on every
//!   EVM chain, and `trace --seeds-label` seeds it on ethereum, arbitrum and bsc (each an anvil
//!   node started with that chain's id, where the listed address sends funds by impersonation);
//! - a TRON trace over TRON mainnet's recorded block 43811922 from a labelled sender to a
//!   labelled deposit address, with every address of the case file in `T…` form.

use crate::common;

use std::collections::BTreeSet;

use chaintrace_testkit::http::{Reply, Server};
use chaintrace_testkit::Anvil;
use common::{shared_data, Workdir};
use serde_json::{json, Value};

const LISTED: &str = "0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c";

fn list(name: &str) -> String {
    shared_data().join("ofac/0xB10C-lists").join(name).to_string_lossy().into_owned()
}

fn read_case(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("case file written")).expect("case file is JSON")
}

#[test]
fn ofac_trx_and_usdt_lists_label_tron_addresses() {
    let w = Workdir::new();
    w.ok(&["labels", "import", &list("sanctioned_addresses_TRX.txt"), &list("sanctioned_addresses_USDT.txt")]);
    let v = w.json(&["labels", "list", "--chain", "tron"]);
    let got: BTreeSet<String> =
        v.as_array().expect("array").iter().map(|l| l["address"].as_str().expect("address").to_string()).collect();
    let file = |n: &str| std::fs::read_to_string(list(n)).expect("read list");
    let expected: BTreeSet<String> = file("sanctioned_addresses_TRX.txt")
        .lines()
        .chain(file("sanctioned_addresses_USDT.txt").lines())
        .map(str::trim)
        .filter(|l| l.starts_with('T'))
        .map(str::to_string)
        .collect();
    assert_eq!(expected.len(), 17, "6 TRX + 11 USDT-on-TRON addresses in the snapshot");
    assert_eq!(got, expected);
    // The EVM addresses of the USDT list are not TRON labels.
    assert!(got.iter().all(|a| a.starts_with('T')));
}

fn send_from_listed(anvil: &Anvil, to: &str, wei: u64) {
    anvil.rpc("anvil_impersonateAccount", json!([LISTED]));
    anvil.rpc("anvil_setBalance", json!([LISTED, "0x56bc75e2d63100000"]));
    let tx = anvil.send(LISTED, Some(to), alloy_primitives::U256::from(wei), &[]);
    anvil.receipt(&tx);
}

#[test]
fn an_address_listed_on_eth_arb_and_bsc_seeds_three_chains_traces() {
    let w = Workdir::new();
    w.ok(&[
        "labels",
        "import",
        &list("sanctioned_addresses_ETH.txt"),
        &list("sanctioned_addresses_ARB.txt"),
        &list("sanctioned_addresses_BSC.txt"),
    ]);
    let mut nodes = Vec::new();
    for (chain, id) in [("ethereum", 1u64), ("arbitrum", 42161), ("bsc", 56)] {
        let anvil = Anvil::builder().chain_id(id).spawn();
        let to = anvil.accounts()[2].clone();
        send_from_listed(&anvil, &to, 7_000 + id);
        w.ok(&["ingest", chain, "--rpc", &anvil.url(), "--to", &anvil.block_number().to_string()]);
        nodes.push((chain, id, to, anvil));
    }
    for (chain, id, to, _anvil) in &nodes {
        let out = w.path().join(format!("{chain}.json"));
        w.ok(&["trace", "--chain", chain, "--seeds-label", "sanctioned", "--out", out.to_str().unwrap()]);
        let case = read_case(&out);
        let seeds: Vec<&str> = case["seeds"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        assert!(seeds.contains(&LISTED), "{chain}: seeds {seeds:?}");
        let edge = case["edges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["from"] == LISTED)
            .unwrap_or_else(|| panic!("{chain}: no edge from the listed address in {case}"));
        assert_eq!(
            (edge["to"].as_str(), edge["amount_raw"].as_str()),
            (Some(to.as_str()), Some(&*(7_000 + id).to_string()))
        );
    }
}

#[test]
fn a_tron_trace_from_a_listed_sender_reaches_a_deposit_address_in_t_form() {
    let block: Value = serde_json::from_slice(
        &std::fs::read(shared_data().join("tron/wallet-getblockbynum/43811922.json")).expect("read the recording"),
    )
    .expect("JSON");
    let server = Server::start_routed(move |path, _| match path {
        "/wallet/getnowblock" | "/wallet/getblockbynum" => Reply::json(serde_json::to_vec(&block).unwrap()),
        _ => Reply::Send { status: 404, body: b"{}".to_vec(), content_length: None },
    });
    let w = Workdir::new();
    w.ok(&["ingest", "tron", "--rpc", &server.url(), "--from", "43811922", "--to", "43811922"]);
    // Labels for the test graph (not real attributions): the sender of position 1 as
    // sanctioned, its recipient (given as 41… hex) as an exchange deposit address.
    let labels = w.path().join("labels.csv");
    let hex41 =
        chaintrace_model::Address::parse_tron("TYna4T3BXHZiqRMr6YhVLKqgaTtqQmaR3f").unwrap().tron_hex().unwrap();
    std::fs::write(
        &labels,
        format!(
            "chain,address,category,entity,source,confidence\n\
             tron,TH2DJurYvmLGApguMsSigCYFz5aMrvoWdA,sanctioned,TEST NETWORK,test,100\n\
             tron,{hex41},exchange_deposit,TestExchange,test,100\n"
        ),
    )
    .unwrap();
    w.ok(&["labels", "import", labels.to_str().unwrap(), "--format", "csv"]);
    let out = w.path().join("case.json");
    w.ok(&["trace", "--chain", "tron", "--seeds-label", "TEST NETWORK", "--out", out.to_str().unwrap()]);
    let case = read_case(&out);
    assert_eq!(case["seeds"], json!(["TH2DJurYvmLGApguMsSigCYFz5aMrvoWdA"]));
    let d = &case["deposits"][0];
    assert_eq!(d["address"], "TYna4T3BXHZiqRMr6YhVLKqgaTtqQmaR3f", "{case}");
    assert_eq!((d["asset"].as_str(), d["amount"].as_str()), (Some("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"), Some("2000")));
    assert_eq!(d["tx"], "d057c8aa75c5267a6d723be4c28bf8e2b486d363d70713508a50c57c829313de");
    for n in case["nodes"].as_array().unwrap() {
        let a = n["address"].as_str().unwrap();
        assert!(a.starts_with('T') && a.len() == 34, "{a}");
    }
    // The deposits CSV carries the T-address too.
    let csv = w.ok(&["deposits", out.to_str().unwrap(), "--format", "csv"]);
    assert!(
        csv.contains("tron,TYna4T3BXHZiqRMr6YhVLKqgaTtqQmaR3f,TestExchange,TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,2000"),
        "{csv}"
    );
}
