//! Stablecoin freezes through the ingest path: contracts with the issuers' real event
//! signatures (Tether's `AddedBlackList(address)`/`RemovedBlackList(address)`, Circle's
//! `Blacklisted(address indexed)`/`UnBlacklisted(address indexed)`, crates/testkit/contracts/
//! Freezes.sol) on anvil, declared as the chain's issuer contracts in a user config. A freeze
//! labels its address `frozen` (issuer entity, tx evidence), a later unfreeze removes it, a
//! look-alike contract is ignored, and a trace shows the frozen address it reaches. On TRON
//! (anvil with chain id 728126428) the label is on the T-address.

use crate::common;

use chaintrace_model::Address;
use chaintrace_testkit::{encode_call, Anvil, Contracts, Word};
use common::Workdir;
use serde_json::Value;

fn call(anvil: &Anvil, from: &str, to: &str, sig: &str, who: &str) -> String {
    let tx = anvil.send(from, Some(to), alloy_primitives::U256::ZERO, &encode_call(sig, &[Word::Address(who.into())]));
    assert!(anvil.succeeded(&tx), "{sig} failed");
    tx
}

fn frozen(w: &Workdir, config: &str, chain: &str) -> Vec<Value> {
    w.json(&["--config", config, "labels", "list", "--category", "frozen", "--chain", chain])
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_freeze_labels_its_address_and_a_later_unfreeze_removes_it() {
    let contracts = Contracts::compile();
    let anvil = Anvil::spawn();
    let acc = anvil.accounts();
    let tether = anvil.deploy(&acc[0], contracts.bytecode("TetherFreezes"));
    let circle = anvil.deploy(&acc[0], contracts.bytecode("CircleFreezes"));
    let lookalike = anvil.deploy(&acc[0], contracts.bytecode("TetherFreezes"));
    let w = Workdir::new();
    let config = w.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[chains.ethereum]\nkind = \"evm\"\nchain_id = 1\nnative_symbol = \"ETH\"\nnative_decimals = 18\n\
             [chains.ethereum.freeze_contracts]\n\"{tether}\" = \"Tether\"\n\"{circle}\" = \"Circle\"\n"
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let (x, y, z, seed) = (acc[5].clone(), acc[6].clone(), acc[7].clone(), acc[1].clone());
    // The seed pays y, which Circle then freezes; Tether freezes x; a look-alike "freezes" z.
    let pay = anvil.send(&seed, Some(&y), alloy_primitives::U256::from(5_000u64), &[]);
    anvil.receipt(&pay);
    let tx_x = call(&anvil, &acc[0], &tether, "addBlackList(address)", &x);
    let tx_y = call(&anvil, &acc[0], &circle, "blacklist(address)", &y);
    call(&anvil, &acc[0], &lookalike, "addBlackList(address)", &z);
    let out = w.ok(&[
        "--config",
        cfg,
        "ingest",
        "ethereum",
        "--rpc",
        &anvil.url(),
        "--to",
        &anvil.block_number().to_string(),
    ]);
    assert!(out.contains("2 freeze events; 2 addresses frozen"), "{out}");
    let labels = frozen(&w, cfg, "ethereum");
    let find = |a: &str| labels.iter().find(|l| l["address"] == a).cloned();
    let lx = find(&x).unwrap_or_else(|| panic!("{x} not frozen: {labels:?}"));
    assert_eq!((lx["entity"].as_str(), lx["category"].as_str()), (Some("Tether"), Some("frozen")));
    assert_eq!(lx["attrs"]["evidence"].as_str(), Some(tx_x.as_str()), "{lx}");
    let ly = find(&y).unwrap_or_else(|| panic!("{y} not frozen: {labels:?}"));
    assert_eq!((ly["entity"].as_str(), ly["attrs"]["evidence"].as_str()), (Some("Circle"), Some(tx_y.as_str())));
    assert!(find(&z).is_none(), "a look-alike contract's event is ignored");
    assert_eq!(labels.len(), 2);

    // A trace from the seed reaches y and shows it frozen.
    let labels_csv = w.path().join("seed.csv");
    std::fs::write(&labels_csv, format!("chain,address,category,entity\nethereum,{seed},sanctioned,TEST\n")).unwrap();
    w.ok(&["--config", cfg, "labels", "import", labels_csv.to_str().unwrap()]);
    let case_path = w.path().join("case.json");
    let out = w.ok(&["--config", cfg, "trace", "--chain", "ethereum", &seed, "--out", case_path.to_str().unwrap()]);
    assert!(out.contains(&format!("frozen: {y} (by Circle)")), "{out}");
    let case: Value = serde_json::from_slice(&std::fs::read(&case_path).unwrap()).unwrap();
    let node = case["nodes"].as_array().unwrap().iter().find(|n| n["address"] == y.as_str()).expect("y reached");
    assert!(
        node["labels"].as_array().unwrap().iter().any(|l| l["category"] == "frozen" && l["entity"] == "Circle"),
        "{node}"
    );

    // Tether unfreezes x: the label ends; y stays frozen.
    call(&anvil, &acc[0], &tether, "removeBlackList(address)", &x);
    w.ok(&["--config", cfg, "ingest", "ethereum", "--rpc", &anvil.url(), "--to", &anvil.block_number().to_string()]);
    let labels = frozen(&w, cfg, "ethereum");
    assert!(labels.iter().all(|l| l["address"] != x.as_str()), "{labels:?}");
    assert!(labels.iter().any(|l| l["address"] == y.as_str()));
}

#[test]
fn a_freeze_on_the_tron_stand_in_labels_the_t_address() {
    let contracts = Contracts::compile();
    let anvil = Anvil::builder().chain_id(728_126_428).spawn();
    let acc = anvil.accounts();
    let tether = anvil.deploy(&acc[0], contracts.bytecode("TetherFreezes"));
    let tether_t = Address::parse_tron(&tether).unwrap().to_string();
    let w = Workdir::new();
    let config = w.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[chains.tron]\nkind = \"tron\"\nchain_id = 728126428\nnative_symbol = \"TRX\"\nnative_decimals = 6\n\
             [chains.tron.freeze_contracts]\n\"{tether_t}\" = \"Tether\"\n"
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let tx = call(&anvil, &acc[0], &tether, "addBlackList(address)", &acc[3]);
    w.ok(&["--config", cfg, "ingest", "tron", "--rpc", &anvil.url(), "--to", &anvil.block_number().to_string()]);
    let labels = frozen(&w, cfg, "tron");
    assert_eq!(labels.len(), 1, "{labels:?}");
    assert_eq!(labels[0]["address"].as_str(), Some(Address::parse_tron(&acc[3]).unwrap().to_string().as_str()));
    assert_eq!(labels[0]["attrs"]["evidence"].as_str(), Some(tx.trim_start_matches("0x")));
}
