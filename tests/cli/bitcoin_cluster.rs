//! `chaintrace cluster --chain bitcoin` on a generated regtest chain whose ownership is known:
//! every cluster must lie inside one owner (CoinJoins, which mix owners, are skipped), and the
//! clusters must be found and persisted.

use crate::common;

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

/// Regression: `cluster` wrote a chain's clusters under that chain's name, but
/// `labels infer-deposits` read them back under the constant name `bitcoin`, so a Bitcoin chain
/// configured under any other name (here `btcreg`) never had exchange labels inherited through
/// its clusters.
#[test]
fn cluster_inheritance_on_a_bitcoin_chain_not_named_bitcoin() {
    let w = Workdir::new();
    let blocks = w.path().join("blocks");
    std::fs::create_dir_all(&blocks).unwrap();
    // Mainnet encoding, so the addresses are ones a TagPack can list.
    let p = SynthParams {
        txs: 1_500,
        txs_per_block: 150,
        entities: 60,
        seed: 7,
        network: chaintrace_bitcoin::bitcoin::Network::Bitcoin,
        max_file_bytes: 2 << 20,
        keep_truth: true,
        ..SynthParams::default()
    };
    let truth = generate(&blocks, &p).unwrap();
    let cfg = w.path().join("btcreg.toml");
    std::fs::write(
        &cfg,
        "[chains.btcreg]\nkind = \"bitcoin\"\nnetwork = \"mainnet\"\nnative_symbol = \"BTC\"\nnative_decimals = 8\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    w.ok(&["--config", cfg, "ingest", "btcreg", "--blocks-dir", blocks.to_str().unwrap()]);
    let c = w.json(&["--config", cfg, "cluster", "--chain", "btcreg"]);
    assert!(c["clusters"].as_u64().unwrap() > 0, "{c}");

    // An address in a cluster of two or more, and the cluster's size.
    let mut addrs: Vec<&String> = truth.owner.keys().collect();
    addrs.sort();
    let (wallet, size) = addrs
        .iter()
        .take(400)
        .find_map(|a| {
            let text = w.ok(&["--config", cfg, "transfers", a, "--chain", "btcreg"]);
            let line = text.lines().find(|l| l.starts_with("cluster "))?;
            // "cluster cXXXX (N addresses by common inputs)"
            let size: u64 = line.split('(').nth(1)?.split_whitespace().next()?.parse().ok()?;
            (size >= 2).then(|| (a.to_string(), size))
        })
        .expect("a clustered address among the first 400");

    let pack = w.path().join("exchange.yaml");
    std::fs::write(
        &pack,
        format!(
            "title: t\ncreator: c\nconfidence: service_data\ncategory: exchange\nsource: https://example.org\n\
             label: Binance\ntags:\n- address: {wallet}\n  currency: BTC\n"
        ),
    )
    .unwrap();
    w.ok(&["--config", cfg, "labels", "import", pack.to_str().unwrap()]);
    let r = w.json(&["--config", cfg, "labels", "infer-deposits", "--chain", "btcreg"]);
    assert_eq!(r["cluster_inherited"].as_u64(), Some(size - 1), "{r}");
}
