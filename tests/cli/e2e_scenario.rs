//! End to end on a live node: the DPRK IT-worker typology (`chaintrace-scenario`) generated on a
//! fresh anvil with a random seed each run, at every size, then the real binary does what an
//! investigator would: ingest the range, import the labels, infer the deposit addresses, trace
//! from the sanctioned seeds under each policy, read the deposits report. Checked against the
//! generator's ground truth: every true deposit flagged with its exact traced amount, no decoy
//! flagged, for poison, haircut and fifo.
//!
//! Reproduce a failure with `CHAINTRACE_SCENARIO_SEED=<seed printed on failure>`.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use chaintrace_scenario::chain::spawn_anvil;
use chaintrace_scenario::{generate, Size, Truth, GENESIS_TIME, LARGE, MEDIUM, POLICIES, SMALL};
use chaintrace_testkit::Contracts;
use common::Workdir;
use serde_json::Value;

fn random_seed() -> u64 {
    if let Ok(s) = std::env::var("CHAINTRACE_SCENARIO_SEED") {
        return s.trim().parse().expect("CHAINTRACE_SCENARIO_SEED is a u64");
    }
    chaintrace_testkit::rng::fresh_seed()
}

/// Decimal text in the asset's units → base units.
fn to_raw(text: &str, decimals: u32) -> u128 {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    assert!(frac.len() <= decimals as usize, "{text} has more than {decimals} decimals");
    let digits = format!("{int}{frac:0<width$}", width = decimals as usize);
    digits.parse().unwrap_or_else(|e| panic!("amount {text:?}: {e}"))
}

/// (tx, address, asset, traced base units) of a deposits report.
fn flagged(report: &Value, truth: &Truth) -> Vec<(String, String, String, String)> {
    let mut v: Vec<_> = report
        .as_array()
        .expect("deposits --format json prints an array")
        .iter()
        .map(|d| {
            let asset = d["asset"].as_str().expect("asset").to_string();
            let decimals = if asset == "ETH" { 18 } else { u32::from(truth.token_decimals) };
            (
                d["tx"].as_str().expect("tx").to_string(),
                d["address"].as_str().expect("address").to_string(),
                asset,
                to_raw(d["amount"].as_str().expect("amount"), decimals).to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// A store built from a generated typology the way an investigator would: the scenario on a
/// fresh anvil, the range ingested, the labels imported, the deposit addresses inferred.
pub(crate) struct TypologyStore {
    /// The node the scenario ran on (kept alive with the store).
    pub(crate) _anvil: chaintrace_testkit::Anvil,
    pub(crate) truth: Truth,
    pub(crate) w: Workdir,
    /// The scenario's config file (its token and exchanges).
    pub(crate) config: String,
    /// `size NAME seed N`, for messages.
    pub(crate) ctx: String,
}

pub(crate) fn typology_store(size: Size) -> TypologyStore {
    let seed = random_seed();
    println!("scenario size {} seed {seed} (rerun with CHAINTRACE_SCENARIO_SEED={seed})", size.name);
    let contracts = Contracts::compile();
    let anvil = spawn_anvil(GENESIS_TIME);
    let truth = generate(&anvil, &contracts, size, seed);
    let ctx = format!("size {} seed {seed}", size.name);
    println!(
        "{ctx}: {} transactions, blocks {}..={}, {} traced deposits, {} decoys, hops {}",
        truth.transactions,
        truth.first_block,
        truth.last_block,
        truth.deposits.len(),
        truth.decoys.len(),
        truth.hops
    );

    let w = Workdir::new();
    let labels = w.path().join("labels.csv");
    let config = w.path().join("config.toml");
    std::fs::write(&labels, truth.labels_csv()).expect("write labels");
    std::fs::write(&config, truth.config_toml()).expect("write config");
    let config = config.to_str().expect("utf-8 path").to_string();
    let to = truth.last_block.to_string();

    let ingest =
        w.json(&["--config", &config, "ingest", "ethereum", "--rpc", &anvil.url(), "--from", "0", "--to", &to]);
    assert_eq!(ingest["tip_height"].as_u64(), Some(truth.last_block), "{ctx}: ingest {ingest}");
    w.ok(&["--config", &config, "labels", "import", labels.to_str().expect("utf-8 path")]);
    w.ok(&["--config", &config, "labels", "infer-deposits", "--chain", "ethereum"]);
    TypologyStore { _anvil: anvil, truth, w, config, ctx }
}

fn run_size(size: Size) {
    let t = typology_store(size);
    let (truth, w, ctx) = (&t.truth, &t.w, &t.ctx);
    let config = t.config.as_str();

    // Every deposit address of the scenario is found from the sweeps alone, and nothing else.
    let listed = w.json(&["--config", config, "labels", "list", "--category", "exchange_deposit"]);
    let inferred: BTreeMap<String, String> = listed
        .as_array()
        .unwrap_or_else(|| panic!("{ctx}: labels list --json is not an array: {listed}"))
        .iter()
        .map(|l| {
            (l["address"].as_str().unwrap_or("").to_ascii_lowercase(), l["entity"].as_str().unwrap_or("").to_string())
        })
        .collect();
    let expected_deps: BTreeMap<String, String> = truth
        .exchanges
        .iter()
        .flat_map(|(name, ex)| ex.deposit_addresses.iter().map(move |a| (a.clone(), name.clone())))
        .collect();
    assert_eq!(
        inferred.keys().collect::<BTreeSet<_>>(),
        expected_deps.keys().collect::<BTreeSet<_>>(),
        "{ctx}: inferred deposit addresses differ from the scenario's"
    );

    let hops = truth.hops.max(1).to_string();
    let mut failures = Vec::new();
    for policy in POLICIES {
        let case = w.path().join(format!("case-{policy}.json"));
        let case_s = case.to_str().expect("utf-8 path");
        w.ok(&[
            "--config",
            config,
            "trace",
            "--chain",
            "ethereum",
            "--seeds-label",
            "sanctioned",
            "--policy",
            policy,
            "--hops",
            &hops,
            "--out",
            case_s,
        ]);
        let report = w.json(&["deposits", case_s, "--format", "json"]);
        let got = flagged(&report, truth);
        let want = truth.expected(policy);
        let decoy_txs: BTreeSet<(&str, &str)> =
            truth.decoys.iter().map(|d| (d.tx.as_str(), d.address.as_str())).collect();
        for g in &got {
            if decoy_txs.contains(&(g.0.as_str(), g.1.as_str())) {
                failures.push(format!("{policy}: decoy flagged: {g:?}"));
            }
        }
        if got != want {
            let gs: BTreeSet<_> = got.iter().collect();
            let ws: BTreeSet<_> = want.iter().collect();
            for m in ws.difference(&gs) {
                let note = truth.deposits.iter().find(|d| d.tx == m.0 && d.address == m.1).map(|d| d.note.as_str());
                failures.push(format!("{policy}: expected {m:?} ({})", note.unwrap_or("")));
            }
            for x in gs.difference(&ws) {
                failures.push(format!("{policy}: got {x:?}"));
            }
        }
        println!("{ctx}: {policy}: {} deposits flagged, {} expected", got.len(), want.len());
    }
    assert!(failures.is_empty(), "{ctx}: the trace disagrees with the ground truth:\n{}", failures.join("\n"));
}

#[test]
fn e2e_scenario_small() {
    run_size(SMALL);
}

#[test]
fn e2e_scenario_medium() {
    run_size(MEDIUM);
}

#[test]
fn e2e_scenario_large() {
    run_size(LARGE);
}
