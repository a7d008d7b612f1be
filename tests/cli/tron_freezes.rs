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

/// The frozen set replayed by the test from the node's canonical chain (every log of the
/// contract, `eth_getLogs` from block 0), independently of the ingest's journal.
fn canonical_frozen(anvil: &Anvil, contract: &str) -> std::collections::BTreeSet<String> {
    const ADDED: &str = "0x42e160154868087d6bfdc0ca23d96a1c1cfa32f1b72ba9ba27b69b98a0d819dc"; // keccak("AddedBlackList(address)")
    const REMOVED: &str = "0xd7e9ec6e6ecd65492dce6bf513cd6867560d49544421d0783ddf06e76c24470c"; // keccak("RemovedBlackList(address)")
    let logs =
        anvil.rpc("eth_getLogs", serde_json::json!([{"fromBlock": "0x0", "toBlock": "latest", "address": contract}]));
    let mut frozen = std::collections::BTreeSet::new();
    for l in logs.as_array().unwrap() {
        let who = format!("0x{}", &l["data"].as_str().unwrap()[26..66]);
        let t = Address::parse_tron(&who).unwrap().to_string();
        match l["topics"][0].as_str().unwrap() {
            ADDED => frozen.insert(t),
            REMOVED => frozen.remove(&t),
            other => panic!("unexpected event {other}"),
        };
    }
    frozen
}

#[test]
fn freeze_label_changes_in_rolled_back_blocks_are_undone() {
    let contracts = Contracts::compile();
    let anvil = Anvil::builder().chain_id(728_126_428).spawn();
    let acc = anvil.accounts();
    let tether = anvil.deploy(&acc[0], contracts.bytecode("TetherFreezes"));
    let w = Workdir::new();
    let config = w.path().join("config.toml");
    let tether_t = Address::parse_tron(&tether).unwrap().to_string();
    std::fs::write(
        &config,
        format!(
            "[chains.tron]\nkind = \"tron\"\nchain_id = 728126428\nnative_symbol = \"TRX\"\nnative_decimals = 6\n\
             [chains.tron.freeze_contracts]\n\"{tether_t}\" = \"Tether\"\n"
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let t = |a: &str| Address::parse_tron(a).unwrap().to_string();
    let (x, y) = (t(&acc[3]), t(&acc[4]));
    let ingest =
        || w.ok(&["--config", cfg, "ingest", "tron", "--rpc", &anvil.url(), "--to", &anvil.block_number().to_string()]);
    let labelled = || -> std::collections::BTreeSet<String> {
        frozen(&w, cfg, "tron").iter().map(|l| l["address"].as_str().unwrap().to_string()).collect()
    };
    let filler = |n: u64| serde_json::json!([[{"from": acc[5], "to": acc[6], "value": format!("0x{n:x}")}, 0]]);

    // y is frozen in a block that stays.
    let tx_y = call(&anvil, &acc[0], &tether, "addBlackList(address)", &acc[4]);
    ingest();
    assert_eq!(labelled(), [y.clone()].into());

    // x is frozen, one more block is mined, and both blocks are replaced by a branch without the
    // freeze: x's label goes.
    call(&anvil, &acc[0], &tether, "addBlackList(address)", &acc[3]);
    anvil.mine(1);
    ingest();
    assert_eq!(labelled(), [x.clone(), y.clone()].into());
    anvil.reorg(2, filler(7));
    let out = ingest();
    assert!(out.contains("1 reorgs"), "{out}");
    assert_eq!(labelled(), [y.clone()].into(), "the freeze of x was rolled back");
    assert_eq!(labelled(), canonical_frozen(&anvil, &tether));

    // y is unfrozen, then that block is rolled back: y is frozen again, with its first evidence.
    call(&anvil, &acc[0], &tether, "removeBlackList(address)", &acc[4]);
    ingest();
    assert!(labelled().is_empty());
    anvil.reorg(1, filler(9));
    let out = ingest();
    assert!(out.contains("1 reorgs"), "{out}");
    assert_eq!(labelled(), [y.clone()].into(), "the unfreeze of y was rolled back");
    assert_eq!(labelled(), canonical_frozen(&anvil, &tether));
    let l = frozen(&w, cfg, "tron");
    assert_eq!(l[0]["attrs"]["evidence"].as_str(), Some(tx_y.trim_start_matches("0x")));

    // A freeze of x replaced by a branch in which x is frozen by another transaction in a later
    // block: the label's evidence is the new branch's.
    call(&anvil, &acc[0], &tether, "addBlackList(address)", &acc[3]);
    ingest();
    assert_eq!(labelled(), [x.clone(), y.clone()].into());
    anvil.reorg(1, filler(11));
    let tx_x2 = call(&anvil, &acc[0], &tether, "addBlackList(address)", &acc[3]);
    ingest();
    assert_eq!(labelled(), canonical_frozen(&anvil, &tether));
    let l = frozen(&w, cfg, "tron");
    let lx = l.iter().find(|l| l["address"] == x.as_str()).expect("x frozen on the new branch");
    assert_eq!(lx["attrs"]["evidence"].as_str(), Some(tx_x2.trim_start_matches("0x")));
}

/// TRON's USDT contract as the HTTP API writes a log's address (20 bytes, no `41`).
const TRON_USDT_HEX: &str = "a614f803b6fd780986a42c78ec9c7f77e6ded13c";
/// keccak256 of the event signatures (computed with js-sha3, not with the code under test).
const ADDED_BLACKLIST: &str = "42e160154868087d6bfdc0ca23d96a1c1cfa32f1b72ba9ba27b69b98a0d819dc";

fn word_of(t_address: &str) -> String {
    let hex41 = Address::parse_tron(t_address).unwrap().tron_hex().unwrap();
    format!("{:0>64}", &hex41[2..])
}

fn not_found() -> chaintrace_testkit::http::Reply {
    chaintrace_testkit::http::Reply::Send { status: 404, body: b"{}".to_vec(), content_length: None }
}

/// An endpoint with only the HTTP API (no JSON-RPC): freezes come from the transaction infos'
/// logs. The recorded TRON data holds no `AddedBlackList` (tests/data/tron), so the event is
/// added to the real block 50000011 in the recorded shape (a `TriggerSmartContract` calling
/// USDT's `addBlackList(address)`, selector `0ecb93c0`, and its transaction info with the log as
/// `gettransactioninfobyblocknum` writes logs: bare hex address, topics and data), next to a
/// look-alike event from another contract. Everything else in the block is the recording.
#[test]
fn http_api_only_endpoint_reads_tether_freezes_from_transaction_info() {
    use chaintrace_testkit::http::{Reply, Server};
    let (mut block, mut infos) = crate::tron_ingest::graphsense_as_http_api();
    let target = "TSFa2foJ75NmiTPfVwnyJdrvWVH5Bzz3YF";
    let bystander = "TJbHp48Shg4tTD5x6fKkU7PodggL5mjcJP";
    let (freeze_tx, lookalike_tx) = (format!("{:0>64}", "f1"), format!("{:0>64}", "f2"));
    let owner = "41c81107148e5fa4b4a2edf3d5354db6c6be5b5549";
    let other_contract = Address::parse_tron("THk5qH79SoAaUnUh8JVdRarSESTZpqPjSQ").unwrap().tron_hex().unwrap();
    for (tx, contract, who) in
        [(&freeze_tx, format!("41{TRON_USDT_HEX}"), target), (&lookalike_tx, other_contract.clone(), bystander)]
    {
        block["transactions"].as_array_mut().unwrap().push(serde_json::json!({
            "txID": tx,
            "ret": [{"contractRet": "SUCCESS"}],
            "raw_data": {"contract": [{"type": "TriggerSmartContract", "parameter": {"value": {
                "owner_address": owner, "contract_address": contract, "data": format!("0ecb93c0{}", word_of(who)),
            }}}]},
        }));
        infos.as_array_mut().unwrap().push(serde_json::json!({
            "id": tx,
            "blockNumber": 50_000_011,
            "receipt": {"result": "SUCCESS"},
            "log": [{"address": &contract[2..], "topics": [ADDED_BLACKLIST], "data": word_of(who)}],
        }));
    }
    let server = Server::start_routed(move |path, _| match path {
        "/wallet/getnowblock" | "/wallet/getblockbynum" => Reply::json(serde_json::to_vec(&block).unwrap()),
        "/wallet/gettransactioninfobyblocknum" => Reply::json(serde_json::to_vec(&infos).unwrap()),
        _ => not_found(), // no JSON-RPC at / or /jsonrpc
    });
    let w = Workdir::new();
    w.ok(&["ingest", "tron", "--rpc", &server.url(), "--from", "50000011", "--to", "50000011"]);
    let stats = w.ok(&["stats"]);
    assert!(stats.contains("api=http,") || stats.contains("api=http "), "{stats}");
    assert!(stats.contains("freeze_events=transaction info"), "{stats}");
    let labels = w.json(&["labels", "list", "--category", "frozen", "--chain", "tron"]);
    let labels = labels.as_array().unwrap();
    assert_eq!(labels.len(), 1, "only USDT's event counts: {labels:?}");
    assert_eq!(labels[0]["address"], target);
    assert_eq!(labels[0]["entity"], "Tether");
    assert_eq!(labels[0]["attrs"]["evidence"].as_str(), Some(freeze_tx.as_str()));
    // The block's transfers are still every expected one (270) — the added calls move nothing.
    assert_eq!(w.json(&["stats"])["chains"]["tron"]["transfers"], 270);
}

/// Over the HTTP API, a freeze in a block that a reorganisation replaces is undone. The chain is
/// `tron_ingest::http_chain` (made-up heights and ids for the fork logic: nothing real forks over
/// HTTP); block 105 of the first branch carries a USDT `AddedBlackList` in its transaction info.
#[test]
fn http_api_freeze_in_a_replaced_block_is_undone() {
    use chaintrace_testkit::http::{Reply, Server};
    use std::sync::{Arc, Mutex};
    let target = "TSFa2foJ75NmiTPfVwnyJdrvWVH5Bzz3YF";
    let chain = Arc::new(Mutex::new(crate::tron_ingest::http_chain(0, 105, 105)));
    let c = chain.clone();
    let server = Server::start_routed(move |path, body| {
        let blocks = c.lock().unwrap().clone();
        let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let at = |n: u64| blocks.iter().find(|b| b["block_header"]["raw_data"]["number"] == n).cloned();
        let num = req["num"].as_u64().unwrap_or(0);
        match path {
            "/wallet/getnowblock" => Reply::json(serde_json::to_vec(blocks.last().unwrap()).unwrap()),
            "/wallet/getblockbynum" => {
                Reply::json(serde_json::to_vec(&at(num).unwrap_or(serde_json::json!({}))).unwrap())
            }
            "/wallet/gettransactioninfobyblocknum" => {
                let infos = match at(num) {
                    Some(b) if num == 105 && b["transactions"][0]["txID"].as_str().unwrap().ends_with("00") => {
                        serde_json::json!([{
                            "id": b["transactions"][0]["txID"],
                            "blockNumber": 105,
                            "log": [{"address": TRON_USDT_HEX, "topics": [ADDED_BLACKLIST], "data": word_of(target)}],
                        }])
                    }
                    _ => serde_json::json!([]),
                };
                Reply::json(serde_json::to_vec(&infos).unwrap())
            }
            _ => not_found(),
        }
    });
    let w = Workdir::new();
    let list = || w.json(&["labels", "list", "--category", "frozen", "--chain", "tron"]).as_array().unwrap().len();
    w.ok(&["ingest", "tron", "--rpc", &server.url(), "--from", "100", "--to", "105"]);
    assert_eq!(list(), 1, "frozen in block 105");
    *chain.lock().unwrap() = crate::tron_ingest::http_chain(1, 106, 103);
    let out = w.ok(&["ingest", "tron", "--rpc", &server.url(), "--to", "106"]);
    assert!(out.contains("1 reorgs, 2 blocks rolled back"), "{out}");
    assert_eq!(list(), 0, "block 105 was replaced: the freeze is undone");
}
