//! `chaintrace labels …` end to end: the real binary on the real public fixtures
//! (`tests/data/ofac`, `tests/data/labels`) and on transfers made on a real anvil node.

use crate::common;

use std::collections::BTreeSet;

use chaintrace_testkit::Anvil;
use common::{shared_data, Workdir};
use serde_json::Value;

const LAZARUS: &str = "0x098b716b8aaf21512996dc57eb0615e2383e2f96";
const LAZARUS_AS_LISTED: &str = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96";
const SIM: &str = "0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c";
const BINANCE_14: &str = "0x28c6c06298d514db089934071355e5743bf21d60";
const BINANCE: &str = "0x3f5ce5fbfe3e9af3971dd833d26ba9b5c936f0be";
const COINBASE_1: &str = "0x71660c4005ba85c37ccec55d0c4493e66fe775d3";

fn p(rel: &str) -> String {
    shared_data().join(rel).display().to_string()
}

fn show(w: &Workdir, addr: &str) -> Vec<Value> {
    w.json(&["labels", "show", addr]).as_array().expect("show --json prints an array").clone()
}

fn stats(w: &Workdir) -> (u64, String) {
    let s = w.json(&["stats"]);
    (s["labels"].as_u64().unwrap(), s["digest"].as_str().unwrap().to_string())
}

/// Tornado Cash addresses of the 2025-03-10 ETH list, from the derived annotated CSV.
fn tornado_addresses() -> BTreeSet<String> {
    let mut rdr = csv_reader(&p("ofac/eth_evm_addresses_annotated.csv"));
    let headers: Vec<String> = rdr.next().unwrap();
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
    let (a, e, s) = (col("address"), col("entity"), col("in_sambacha_ETH_2025_03_10"));
    rdr.filter(|r| r[e] == "Tornado Cash" && r[s] == "1").map(|r| r[a].clone()).collect()
}

/// A minimal CSV reader for the derived fixture (quoted fields, no embedded newlines).
fn csv_reader(path: &str) -> impl Iterator<Item = Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<Vec<String>> = text
        .lines()
        .map(|line| {
            let mut fields = Vec::new();
            let (mut cur, mut quoted) = (String::new(), false);
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '"' if quoted && chars.peek() == Some(&'"') => {
                        cur.push('"');
                        chars.next();
                    }
                    '"' => quoted = !quoted,
                    ',' if !quoted => fields.push(std::mem::take(&mut cur)),
                    c => cur.push(c),
                }
            }
            fields.push(cur);
            fields
        })
        .collect();
    rows.into_iter()
}

#[test]
fn lazarus_is_sanctioned_dprk3_in_every_snapshot() {
    for snapshot in [
        "ofac/0xB10C-lists/sanctioned_addresses_ETH.txt",
        "ofac/sambacha-ofac-list-2025-03-10/sanctioned_addresses_ETH.txt",
        "ofac/ultrasoundmoney/data.csv",
        "ofac/ultrasoundmoney/ofac_sanction_list_2023-02-13.csv",
    ] {
        let w = Workdir::new();
        w.ok(&["labels", "import", &p(snapshot)]);
        // Any letter case finds it.
        let labels = show(&w, LAZARUS_AS_LISTED);
        assert_eq!(labels.len(), 1, "{snapshot}");
        assert_eq!(labels[0]["category"], "sanctioned", "{snapshot}");
        assert_eq!(labels[0]["source"], "ofac-sdn", "{snapshot}");
    }
    // Entity names, programs and the ETH address together: the 2026 list names it, the SDN CSV
    // (DPRK3) names its DPRK-linked persons' Bitcoin addresses.
    let w = Workdir::new();
    w.ok(&["labels", "import", &p("ofac/ultrasoundmoney/data.csv"), "--format", "ofac-sdn"]);
    assert_eq!(show(&w, LAZARUS)[0]["entity"], "LAZARUS GROUP");
    let w2 = Workdir::new();
    w2.ok(&["labels", "import", &p("ofac/sdn-csv-excerpts/sdn_2021-07_digital_currency_rows.csv")]);
    let tian = show(&w2, "134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak");
    assert_eq!(tian[0]["entity"], "TIAN, Yinyin");
    assert_eq!(tian[0]["attrs"]["programs"], "CYBER2,DPRK3");
    assert_eq!(tian[0]["attrs"]["sdn_uid"], "28263");
}

#[test]
fn sim_hyon_sop_found_from_the_arb_list_alone() {
    let w = Workdir::new();
    w.ok(&["labels", "import", &p("ofac/0xB10C-lists/sanctioned_addresses_ARB.txt")]);
    let l = show(&w, SIM);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["category"], "sanctioned");
    assert_eq!(l[0]["attrs"]["tickers"], "ARB");
    assert!(l[0]["chain"].is_null(), "an EVM address is the same wallet on every EVM chain");
    let on_eth = w.json(&["labels", "list", "--chain", "ethereum", "--category", "sanctioned"]);
    assert!(on_eth.as_array().unwrap().iter().any(|l| l["address"] == SIM));
    // Bitcoin labels are not EVM labels.
    let on_btc = w.json(&["labels", "list", "--chain", "bitcoin"]);
    assert!(on_btc.as_array().unwrap().is_empty());
}

#[test]
fn tornado_cash_delisting_is_reported_as_a_diff() {
    let w = Workdir::new();
    w.ok(&["labels", "import", &p("ofac/sambacha-ofac-list-2025-03-10")]);
    let tornado = tornado_addresses();
    assert_eq!(tornado.len(), 90);
    for a in &tornado {
        assert_eq!(show(&w, a)[0]["category"], "sanctioned", "{a}");
    }
    let before = stats(&w).0;
    let out = w.ok(&["labels", "import", &p("ofac/ultrasoundmoney/data.csv")]);
    assert!(out.contains("source ofac-sdn: 34 added, 90 removed"), "{out}");
    let changes = w.json(&["labels", "list", "--changes", "--source", "ofac-sdn"]);
    let c = &changes[0];
    let removed: BTreeSet<String> =
        c["removed"].as_array().unwrap().iter().map(|r| r["address"].as_str().unwrap().to_string()).collect();
    assert_eq!(removed, tornado);
    assert_eq!(c["added"].as_array().unwrap().len(), 34);
    for a in &tornado {
        assert!(show(&w, a).is_empty(), "{a} is still labelled after the delisting");
    }
    assert_eq!(stats(&w).0, before + 34 - 90);
    let text = w.ok(&["labels", "list", "--changes"]);
    assert!(text.contains("ofac-sdn: import #") && text.contains("90 removed"), "{text}");
    assert_eq!(show(&w, LAZARUS)[0]["entity"], "LAZARUS GROUP");
}

#[test]
fn importing_twice_changes_nothing() {
    let w = Workdir::new();
    let files = [
        p("ofac/0xB10C-lists"),
        p("labels/graphsense-tagpacks/packs/exchange-wallets-binance.yaml"),
        p("labels/etherscan-labels-brianleect/etherscan/accounts/coinbase.csv"),
    ];
    let mut args = vec!["labels", "import"];
    args.extend(files.iter().map(String::as_str));
    w.ok(&args);
    let first = stats(&w);
    let hash_list = w.ok(&["labels", "list", "--json"]);
    let report = w.json(&args);
    for file in report.as_array().unwrap() {
        for s in file["sources"].as_array().unwrap() {
            assert!(s["added"].as_array().unwrap().is_empty() && s["removed"].as_array().unwrap().is_empty(), "{s}");
        }
    }
    assert_eq!(stats(&w), first);
    assert_eq!(w.ok(&["labels", "list", "--json"]), hash_list);
}

#[test]
fn a_bad_file_imports_nothing_and_names_its_line() {
    let w = Workdir::new();
    w.ok(&["labels", "import", &p("labels/graphsense-tagpacks/packs/lazarus.yaml")]);
    let before = stats(&w);
    // ofac.yaml breaks the TagPack schema (no confidence): nothing of the command is imported.
    let err = w.fails(&[
        "labels",
        "import",
        &p("labels/graphsense-tagpacks/packs/ronin_bridge.yaml"),
        &p("labels/graphsense-tagpacks/packs/ofac.yaml"),
    ]);
    assert!(err.contains("ofac.yaml: line 9 (tag 1): mandatory field confidence is missing"), "{err}");
    assert_eq!(stats(&w), before);
    // A CSV with an unknown category: its line.
    let bad = w.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!("chain,address,category,entity\nethereum,{BINANCE},exchange,Binance\nethereum,{BINANCE},bank,X\n"),
    )
    .unwrap();
    let err = w.fails(&["labels", "import", bad.to_str().unwrap()]);
    assert!(err.contains("bad.csv: line 3: unknown label category \"bank\""), "{err}");
    // Broken XML: the element.
    let xml = w.path().join("SDN.XML");
    std::fs::write(&xml, "<sdnList>\n<sdnEntry><uid>1</uid>\n<idList><id><idType>x</idType></idList>").unwrap();
    let err = w.fails(&["labels", "import", xml.to_str().unwrap()]);
    assert!(err.contains("SDN.XML: line 3") && err.contains("sdnList/sdnEntry/idList/id"), "{err}");
    assert_eq!(stats(&w), before);
    // Invalid addresses are reported and skipped; the rest of the file is imported.
    let mixed = w.path().join("mixed.csv");
    std::fs::write(
        &mixed,
        "chain,address,category,entity,source,confidence\n\
         ethereum,0x28C6c06298d514Db089934071355E5743bf21d60,exchange,Binance,mine,80\n\
         ethereum,0x28C6c06298d514Db089934071355E5743bf21d61,exchange,Binance,mine,80\n\
         bitcoin,tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx,exchange,Binance,mine,80\n",
    )
    .unwrap();
    let out = w.ok(&["labels", "import", mixed.to_str().unwrap()]);
    assert!(out.contains("skipped: 2 invalid") && out.contains("line 3") && out.contains("line 4"), "{out}");
    assert_eq!(stats(&w).0, before.0 + 1);
    // Unknown format: a clear message.
    let junk = w.path().join("junk.txt");
    std::fs::write(&junk, "hello world\n").unwrap();
    let err = w.fails(&["labels", "import", junk.to_str().unwrap()]);
    assert!(err.contains("junk.txt") && err.contains("--format"), "{err}");
}

#[test]
fn show_lists_every_label_with_its_source_and_exchange_sources_agree() {
    let w = Workdir::new();
    w.ok(&[
        "labels",
        "import",
        &p("ofac/ultrasoundmoney/data.csv"),
        &p("labels/graphsense-tagpacks/packs/lazarus.yaml"),
        &p("labels/graphsense-tagpacks/packs/ronin_bridge.yaml"),
        &p("labels/graphsense-tagpacks/packs/exchange-wallets-binance.yaml"),
        &p("labels/graphsense-tagpacks/packs/etherscan-wordcloud-exchange.yaml"),
        &p("labels/etherscan-labels-brianleect/etherscan/accounts"),
        &p("labels/eth-labels-dawsbot/etherscan/coinbase/accounts.json"),
    ]);
    let laz = show(&w, LAZARUS);
    let sources: BTreeSet<&str> = laz.iter().map(|l| l["source"].as_str().unwrap()).collect();
    for s in ["ofac-sdn", "tagpack:lazarus", "tagpack:ronin_bridge"] {
        assert!(sources.contains(s), "{sources:?}");
    }
    let text = w.ok(&["labels", "show", LAZARUS]);
    for s in &sources {
        assert!(text.contains(&format!("source={s}")), "{text}");
    }
    for (addr, name, min_sources) in [(BINANCE_14, "binance", 3), (BINANCE, "binance", 2), (COINBASE_1, "coinbase", 2)]
    {
        let labels = show(&w, addr);
        let srcs: BTreeSet<&str> = labels.iter().map(|l| l["source"].as_str().unwrap()).collect();
        assert!(srcs.len() >= min_sources, "{addr}: {srcs:?}");
        for l in &labels {
            assert_eq!(l["category"], "exchange", "{addr}: {l}");
            let entity = l["entity"].as_str().unwrap().to_lowercase();
            let label = l["attrs"]["label"].as_str().unwrap_or("").to_lowercase();
            assert!(entity.contains(name) || label.contains(name), "{addr}: {l}");
        }
    }
    let ex = w.json(&["labels", "list", "--category", "exchange", "--chain", "ethereum"]);
    let ex: BTreeSet<&str> = ex.as_array().unwrap().iter().map(|l| l["address"].as_str().unwrap()).collect();
    assert!(ex.contains(BINANCE_14) && ex.contains(COINBASE_1));
}

/// Send `value_wei` from `from` to `to` on anvil and wait for it; returns the tx hash.
fn pay(anvil: &Anvil, from: &str, to: &str, value_wei: u128) -> String {
    anvil.send_confirmed(from, Some(to), value_wei, &[], 21_000)
}

const ETH: u128 = 1_000_000_000_000_000_000;
const GAS: u128 = 21_000 * 2_000_000_000;

#[test]
fn deposit_addresses_inferred_from_sweeps_on_anvil() {
    let anvil = Anvil::spawn();
    let acc = anvil.accounts();
    let (exchange, dep1, dep2, c1, c2, c3, user, shop, user2) =
        (&acc[0], &acc[1], &acc[2], &acc[3], &acc[4], &acc[5], &acc[6], &acc[7], &acc[8]);
    let mut sweeps1 = Vec::new();
    let mut sweeps2 = Vec::new();
    // Customers pay deposit address 1; it is swept (minus gas) soon after, three times.
    for (c, v) in [(c1, ETH), (c2, 2 * ETH), (c3, ETH / 2)] {
        pay(&anvil, c, dep1, v);
        sweeps1.push(pay(&anvil, dep1, exchange, v - GAS));
    }
    // Deposit address 2: two arrivals swept together, then one more.
    pay(&anvil, c1, dep2, 3 * ETH);
    pay(&anvil, c2, dep2, ETH);
    sweeps2.push(pay(&anvil, dep2, exchange, 4 * ETH - GAS));
    pay(&anvil, c3, dep2, 7 * ETH);
    sweeps2.push(pay(&anvil, dep2, exchange, 7 * ETH));
    // An ordinary user who once paid the exchange (all of what they had just received) and
    // otherwise pays others.
    pay(&anvil, c1, user, 2 * ETH);
    pay(&anvil, user, exchange, 2 * ETH);
    pay(&anvil, user, shop, ETH / 10);
    pay(&anvil, user, c2, ETH / 10);
    // A user who paid the exchange twice, small parts of a large balance.
    pay(&anvil, c3, user2, 50 * ETH);
    pay(&anvil, user2, exchange, ETH);
    pay(&anvil, user2, exchange, ETH);
    let head = anvil.block_number().to_string();

    let w = Workdir::new();
    w.ok(&["ingest", "ethereum", "--rpc", &anvil.url(), "--from", "0", "--to", &head]);
    let labels = w.path().join("exchange.csv");
    std::fs::write(
        &labels,
        format!("chain,address,category,entity,source,confidence\nethereum,{exchange},exchange,Binance,test,90\n"),
    )
    .unwrap();
    w.ok(&["labels", "import", labels.to_str().unwrap()]);

    let report = w.json(&["labels", "infer-deposits", "--chain", "ethereum"]);
    let found: BTreeSet<&str> =
        report["deposits"].as_array().unwrap().iter().map(|d| d["address"].as_str().unwrap()).collect();
    assert_eq!(found, BTreeSet::from([dep1.as_str(), dep2.as_str()]), "{report}");
    for d in report["deposits"].as_array().unwrap() {
        let expected = if d["address"] == dep1.as_str() { &sweeps1 } else { &sweeps2 };
        let evidence: Vec<&str> = d["evidence"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
        assert_eq!(evidence, expected.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(d["exchange"], "Binance");
    }
    // Stored with source, evidence and a confidence.
    let l = show(&w, dep1);
    assert_eq!(l.len(), 1);
    assert_eq!(
        (l[0]["category"].as_str(), l[0]["source"].as_str()),
        (Some("exchange_deposit"), Some("inferred:deposit-sweeps"))
    );
    assert_eq!(l[0]["attrs"]["evidence"], sweeps1.join(","));
    assert!(l[0]["confidence"].as_u64().unwrap() > 0);
    for u in [user, user2, c1, shop] {
        assert!(show(&w, u).is_empty(), "{u} flagged");
    }
    // Running it again changes nothing.
    let before = stats(&w);
    w.ok(&["labels", "infer-deposits", "--chain", "ethereum"]);
    assert_eq!(stats(&w), before);
    // Stricter thresholds: three sweeps needed, so only deposit address 1 remains.
    let strict = w.json(&["labels", "infer-deposits", "--chain", "ethereum", "--min-sweeps", "3"]);
    assert_eq!(strict["deposits"].as_array().unwrap().len(), 1);
    assert!(show(&w, dep2).is_empty());
}
