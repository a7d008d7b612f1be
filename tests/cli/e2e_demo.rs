//! `chaintrace demo` through the built binary, like a new user's first command: it must run
//! offline in seconds, write every export, and flag exactly the deposits the embedded
//! scenario's ground truth (`crates/cli/demo/truth.json`, written by `record-demo` from the
//! generator's ledger) lists, with the exact traced amounts, under each policy.

use crate::common;

use std::path::Path;

use chaintrace_scenario::{Truth, POLICIES};
use common::assert_clean_failure;
use serde_json::Value;

fn truth() -> Truth {
    let p = chaintrace_testkit::checkout().join("crates/cli/demo/truth.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    serde_json::from_str(&text).expect("truth.json parses as the scenario's Truth")
}

fn to_raw(text: &str, decimals: usize) -> String {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    assert!(frac.len() <= decimals, "{text} has more than {decimals} decimals");
    let n: u128 = format!("{int}{frac:0<decimals$}").parse().unwrap_or_else(|e| panic!("amount {text:?}: {e}"));
    n.to_string()
}

/// `raw / 10^decimals × price`, rounded half-up to cents (`"123.45"`).
fn cents(raw: &str, decimals: usize, price: &str) -> String {
    let (int, frac) = price.split_once('.').unwrap_or((price, ""));
    let p: u128 = format!("{int}{frac}").parse().expect("price");
    let den = 10u128.pow((decimals + frac.len()) as u32);
    let c = (raw.parse::<u128>().expect("raw") * p * 100 + den / 2) / den;
    format!("{}.{:02}", c / 100, c % 100)
}

fn demo(dir: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_chaintrace"))
        .args(["demo", "--dir"])
        .arg(dir)
        .env_remove("CHAINTRACE_STORE")
        .env_remove("CHAINTRACE_CONFIG")
        // no network: a proxy that does not exist, so any outside request would fail
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .expect("run chaintrace demo")
}

#[test]
fn demo_flags_exactly_the_ground_truth_deposits() {
    let truth = truth();
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("demo");
    let out = demo(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for want in ["Seeds: ", "Walk: ", "Cash-out: ", "Alpha Exchange", "Bravo Exchange", "Stops", "case.html", "Done in"]
    {
        assert!(stdout.contains(want), "demo output lacks {want:?}:\n{stdout}");
    }
    for s in &truth.seeds {
        assert!(stdout.contains(s.as_str()), "demo output lacks seed {s}");
    }
    for f in ["case.json", "deposits.csv", "case.html", "case.graphml", "case.gexf", "case.dot", "case.cytoscape.json"]
    {
        let p = dir.join(f);
        assert!(p.is_file() && std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0) > 0, "{f} was not written");
    }
    assert!(std::fs::read_to_string(dir.join("case.html")).expect("html").contains("<svg"), "the picture has no SVG");
    let csv = std::fs::read_to_string(dir.join("deposits.csv")).expect("deposits.csv");
    assert!(csv
        .starts_with("chain,deposit_address,exchange,asset,amount,usd,tx_hash,block,timestamp,hops,seed,usd_source\n"));

    assert!(stdout.contains("(USD from price table prices.csv)"), "the demo names its USD source:\n{stdout}");
    let prices_text = std::fs::read_to_string(dir.join("prices.csv")).expect("prices.csv");
    let prices: Vec<Vec<&str>> = prices_text.lines().skip(1).map(|l| l.split(',').collect()).collect();
    for policy in POLICIES {
        let name = if policy == "haircut" { "case.json".to_string() } else { format!("case-{policy}.json") };
        let case: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(&name)).expect("case file"))
            .expect("case file is JSON");
        assert_eq!(case["params"]["policy"], policy, "{name}");
        let mut got: Vec<(String, String, String, String)> = case["deposits"]
            .as_array()
            .expect("deposits array")
            .iter()
            .map(|d| {
                let asset = d["asset"].as_str().expect("asset").to_string();
                let dec = if asset == "ETH" { 18 } else { usize::from(truth.token_decimals) };
                let raw = to_raw(d["amount"].as_str().expect("amount"), dec);
                // Every deposit is valued from the demo's price table (ETH and USDT columns),
                // recomputed here from its row for the deposit's day, and says so.
                let day = &d["time"].as_str().expect("time")[..10];
                let col = if asset == "ETH" { 1 } else { 2 };
                let price = prices.iter().find(|r| r[0] == day).unwrap_or_else(|| panic!("no price row {day}"))[col];
                assert_eq!(d["usd"].as_str(), Some(cents(&raw, dec, price).as_str()), "{policy}: {d}");
                assert_eq!(d["usd_source"], "table:prices.csv", "{policy}: {d}");
                (
                    d["tx"].as_str().expect("tx").to_string(),
                    d["address"].as_str().expect("address").to_string(),
                    asset,
                    raw,
                )
            })
            .collect();
        got.sort();
        let want = truth.expected(policy);
        assert_eq!(got, want, "{policy}: the demo's deposits differ from the scenario's ground truth");
        for decoy in &truth.decoys {
            assert!(!got.iter().any(|g| g.0 == decoy.tx && g.1 == decoy.address), "{policy}: decoy flagged: {decoy:?}");
        }
    }

    // The cross-chain trail: USDC bridged ethereum → arbitrum, swapped to ETH there and
    // cashed out, with the amounts the scenario read from the nodes (truth.json's trail).
    let t = truth.trail.as_ref().expect("the demo truth has the cross-chain trail");
    for want in ["bridge ethereum → arbitrum", "swap on arbitrum", "Charlie Exchange", "arbitrum"] {
        assert!(stdout.contains(want), "demo output lacks {want:?}:\n{stdout}");
    }
    let case: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).expect("case")).expect("json");
    let mut chains: Vec<&str> = case["chains"].as_array().expect("chains").iter().filter_map(Value::as_str).collect();
    chains.sort_unstable();
    assert_eq!(chains, ["arbitrum", "ethereum"]);
    let edges = case["edges"].as_array().expect("edges");
    let bridge = edges.iter().find(|e| e["kind"] == "bridge").expect("a bridge edge");
    assert_eq!((bridge["chain_from"].as_str(), bridge["chain_to"].as_str()), (Some("ethereum"), Some("arbitrum")));
    assert_eq!(to_raw(bridge["traced_amount"].as_str().expect("amount"), 6), t.bridged, "{bridge}");
    assert_eq!(bridge["to"].as_str(), Some(t.recipient.as_str()));
    let swap = edges.iter().find(|e| e["kind"] == "swap").expect("a swap edge");
    assert_eq!((swap["chain"].as_str(), swap["asset_in"].as_str()), (Some("arbitrum"), Some(t.usdc.1.as_str())));
    assert_eq!((swap["asset_out"].as_str(), swap["via"].as_str()), (Some("ETH"), Some("uniswap_v2")));
    assert_eq!(to_raw(swap["traced_amount"].as_str().expect("amount"), 18), t.swapped_eth, "{swap}");
    let cash = t.steps.iter().find(|s| s.0.starts_with("cash-out")).expect("cash-out step");
    let dep = case["deposits"].as_array().expect("deposits").iter().find(|d| d["tx"] == cash.2.as_str());
    let dep = dep.expect("the cross-chain cash-out is flagged");
    assert_eq!((dep["chain"].as_str(), dep["address"].as_str()), (Some("arbitrum"), Some(t.deposit_address.as_str())));

    // A second run starts from a fresh store in the same directory.
    let again = demo(&dir);
    assert!(again.status.success(), "second demo run failed: {}", String::from_utf8_lossy(&again.stderr));
}

#[test]
fn demo_refuses_a_directory_it_did_not_make() {
    let tmp = tempfile::tempdir().expect("temp dir");
    std::fs::write(tmp.path().join("notes.txt"), "mine").expect("write");
    let out = demo(tmp.path());
    assert_clean_failure(&out, &["demo", "--dir", "<non-empty dir>"]);
    assert!(tmp.path().join("notes.txt").is_file(), "the demo deleted a user's file");
}

#[test]
fn embedded_demo_data_stays_small() {
    let dir = chaintrace_testkit::checkout().join("crates/cli/demo");
    let total: u64 =
        std::fs::read_dir(&dir).expect("demo dir").flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum();
    assert!(total < 300_000, "crates/cli/demo is {total} bytes: keep the embedded demo well under 1 MB");
}
