//! `chaintrace cluster --chain bitcoin` on a generated regtest chain whose ownership is known:
//! every cluster must lie inside one owner (CoinJoins, which mix owners, are skipped), and the
//! clusters must be found and persisted.

mod common;

use chaintrace_bitcoin::synth::{generate, SynthParams};
use common::Workdir;

#[test]
fn clusters_respect_ownership_and_skip_coinjoins() {
    let w = Workdir::new();
    let blocks = w.path().join("blocks");
    std::fs::create_dir_all(&blocks).unwrap();
    let p = SynthParams {
        txs: 4_000,
        txs_per_block: 200,
        entities: 150,
        seed: 42,
        max_file_bytes: 2 << 20,
        keep_truth: true,
        ..SynthParams::default()
    };
    let truth = generate(&blocks, &p).unwrap();
    assert!(truth.coinjoins > 10);
    let cfg = w.path().join("regtest.toml");
    std::fs::write(
        &cfg,
        "[chains.bitcoin]\nkind = \"bitcoin\"\nnetwork = \"regtest\"\nnative_symbol = \"BTC\"\nnative_decimals = 8\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let s = w.json(&["--config", cfg, "ingest", "bitcoin", "--blocks-dir", blocks.to_str().unwrap()]);
    assert_eq!(s["blocks"].as_u64(), Some(truth.blocks));
    assert_eq!(s["transactions"].as_u64(), Some(truth.txs + truth.blocks));

    let c = w.json(&["--config", cfg, "cluster", "--chain", "bitcoin"]);
    assert!(c["clusters"].as_u64().unwrap() > 10, "{c}");
    assert!(c["transactions_joined"].as_u64().unwrap() > 100, "{c}");
    // Every generated CoinJoin has 5 owners and equal outputs: all of them are recognised.
    assert_eq!(c["coinjoins_skipped"].as_u64(), Some(truth.coinjoins), "{c}");

    // Precision against the ground truth: read the persisted clusters back through `transfers`
    // for a sample of addresses, and check that no cluster spans two owners.
    let mut by_cluster: std::collections::HashMap<String, std::collections::BTreeSet<u32>> = Default::default();
    let mut checked = 0;
    let mut addrs: Vec<(&String, &u32)> = truth.owner.iter().collect();
    addrs.sort();
    for (addr, owner) in addrs.iter().step_by(25).take(120) {
        let text = w.ok(&["--config", cfg, "transfers", addr, "--chain", "bitcoin"]);
        if let Some(line) = text.lines().find(|l| l.starts_with("cluster ")) {
            let id = line.split_whitespace().nth(1).unwrap().to_string();
            by_cluster.entry(id).or_default().insert(**owner);
            checked += 1;
        }
    }
    assert!(checked > 20, "too few clustered addresses in the sample: {checked}");
    for (id, owners) in &by_cluster {
        assert_eq!(owners.len(), 1, "cluster {id} mixes owners {owners:?}");
    }
    // Case files carry the cluster of each node.
    let (seed, _) = addrs
        .iter()
        .step_by(25)
        .take(120)
        .find(|(a, _)| {
            w.ok(&["--config", cfg, "transfers", a, "--chain", "bitcoin"]).lines().any(|l| l.starts_with("cluster "))
        })
        .unwrap();
    let case_path = w.path().join("case.json");
    w.ok(&["--config", cfg, "trace", "--chain", "bitcoin", seed, "--hops", "1", "--out", case_path.to_str().unwrap()]);
    let case: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&case_path).unwrap()).unwrap();
    let node = case["nodes"].as_array().unwrap().iter().find(|n| n["address"] == seed.as_str()).unwrap();
    assert!(node["cluster"].as_str().is_some_and(|c| c.starts_with('c')), "{node}");
    // Rerunning replaces the result with the same one.
    let again = w.json(&["--config", cfg, "cluster", "--chain", "bitcoin"]);
    assert_eq!(again, c);
}
