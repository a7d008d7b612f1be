//! `chaintrace trace` over real mainnet blocks: the first payment chain (block 9 coinbase → 170
//! → 181 → 182 → 183 → 187/221/248), checked hop by hop and amount by amount against
//! `tests/data/bitcoin-blocks/early_spend_chain_heights_9_to_248.csv`, under every policy.

use crate::common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::Workdir;
use serde_json::Value;

const SEED: &str = "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S";

/// One output row of the oracle CSV.
struct Row {
    height: u64,
    txid: String,
    coinbase: bool,
    input: String,
    vout: u32,
    value: u64,
    address: String,
}

fn oracle() -> Vec<Row> {
    let path = common::shared_data().join("bitcoin-blocks/early_spend_chain_heights_9_to_248.csv");
    let text = std::fs::read_to_string(&path).expect("oracle CSV");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("height,block_hash,txid,is_coinbase,inputs,vout,value_sat,script_type,address_p2pkh_of_key,script_pubkey_hex")
    );
    lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            Row {
                height: c[0].parse().unwrap(),
                txid: c[2].to_string(),
                coinbase: c[3] == "1",
                input: c[4].to_string(),
                vout: c[5].parse().unwrap(),
                value: c[6].parse().unwrap(),
                address: c[8].to_string(),
            }
        })
        .collect()
}

/// Expected traced edges (tx, from, to) → (block, sat) and node hops, derived from the CSV alone:
/// every non-coinbase output is paid by the address of the output its single input spends.
/// (tx, from, to) → (block, satoshi)
type EdgeMap = BTreeMap<(String, String, String), (u64, u64)>;

fn expected() -> (EdgeMap, BTreeMap<String, u64>) {
    let rows = oracle();
    let owner: BTreeMap<String, String> =
        rows.iter().map(|r| (format!("{}:{}", r.txid, r.vout), r.address.clone())).collect();
    let mut edges = BTreeMap::new();
    let mut hops: BTreeMap<String, u64> = BTreeMap::from([(SEED.to_string(), 0)]);
    for r in rows.iter().filter(|r| !r.coinbase) {
        assert!(!r.input.contains(' '), "single-input transactions only");
        let from = owner[&r.input].clone();
        let hop = hops[&from] + 1;
        if r.address != SEED {
            let h = hops.entry(r.address.clone()).or_insert(hop);
            *h = (*h).min(hop);
        }
        edges.insert((r.txid.clone(), from, r.address.clone()), (r.height, r.value));
    }
    (edges, hops)
}

fn sat(btc: &str) -> u64 {
    let (i, f) = btc.split_once('.').unwrap_or((btc, ""));
    format!("{i}{f:0<8}").parse().unwrap()
}

fn ingested() -> Workdir {
    let w = Workdir::new();
    let dir = w.path().join("blocks");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        common::shared_data().join("bitcoin-blocks/bitcoinj/first-100k-blocks.dat"),
        dir.join("blk00000.dat"),
    )
    .unwrap();
    w.ok(&["ingest", "bitcoin", "--blocks-dir", dir.to_str().unwrap()]);
    w
}

fn trace_case(w: &Workdir, policy: &str, out: &str) -> (PathBuf, Value) {
    let path = w.path().join(out);
    w.ok(&["trace", "--chain", "bitcoin", SEED, "--policy", policy, "--out", path.to_str().unwrap()]);
    let case: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    (path, case)
}

#[test]
fn first_payment_chain_every_hop_and_amount_under_each_policy() {
    let w = ingested();
    let (want_edges, want_hops) = expected();
    assert_eq!(want_edges.len(), 12, "the CSV's 12 non-coinbase outputs");
    for policy in ["poison", "haircut", "fifo"] {
        let (path, case) = trace_case(&w, policy, &format!("{policy}.json"));
        assert_eq!(case["version"], 2);
        assert_eq!(case["chain"], "bitcoin");
        assert_eq!(case["params"]["policy"], policy);
        assert_eq!(case["seeds"], serde_json::json!([SEED]));
        let mut got = BTreeMap::new();
        for e in case["edges"].as_array().unwrap() {
            let key = (
                e["tx"].as_str().unwrap().to_string(),
                e["from"].as_str().unwrap().to_string(),
                e["to"].as_str().unwrap().to_string(),
            );
            assert_eq!(e["asset"], "BTC");
            assert_eq!(e["amount_raw"].as_str().unwrap(), sat(e["amount"].as_str().unwrap()).to_string());
            assert_eq!(e["traced_amount"], e["amount"], "{policy}: the seed's coins are traced in full: {e}");
            got.insert(key, (e["block"].as_u64().unwrap(), sat(e["traced_amount"].as_str().unwrap())));
        }
        assert_eq!(got, want_edges, "{policy}: traced edges");
        let hops: BTreeMap<String, u64> = case["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| (n["address"].as_str().unwrap().to_string(), n["hop"].as_u64().unwrap()))
            .collect();
        assert_eq!(hops, want_hops, "{policy}: node hops");
        let seed = case["nodes"].as_array().unwrap().iter().find(|n| n["address"] == SEED).unwrap();
        assert_eq!(seed["role"], "seed");
        assert!(case["provenance"]["store_tips"]["bitcoin"]["height"].as_u64() == Some(438));

        // byte-identical on a second run
        let (again, _) = trace_case(&w, policy, &format!("{policy}-again.json"));
        assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&again).unwrap(), "{policy}: reproducible case file");
    }
}

#[test]
fn hop_limit_and_deposit_report() {
    let w = ingested();
    // 1BDvQZ… (hop 2, block 221) as an exchange deposit address of a made-up exchange
    let labels = w.path().join("labels.csv");
    std::fs::write(
        &labels,
        "chain,address,category,entity,source,confidence\nbitcoin,1BDvQZjaAJH4ecZ8aL3fYgTi7rnn3o2thE,exchange_deposit,Test Exchange,test,90\n",
    )
    .unwrap();
    w.ok(&["labels", "import", labels.to_str().unwrap(), "--format", "csv"]);
    let path = w.path().join("case.json");
    let prices = common::shared_data().join("prices/daily_usd.csv");
    let summary = w.ok(&[
        "trace",
        "--chain",
        "bitcoin",
        SEED,
        "--policy",
        "fifo",
        "--prices",
        prices.to_str().unwrap(),
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(summary.contains("Test Exchange"), "{summary}");
    let csv = w.ok(&["deposits", path.to_str().unwrap(), "--format", "csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "chain,deposit_address,exchange,asset,amount,usd,tx_hash,block,timestamp,hops,seed,usd_source"
    );
    assert_eq!(lines.len(), 2, "{csv}");
    let f: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(&f[..5], &["bitcoin", "1BDvQZjaAJH4ecZ8aL3fYgTi7rnn3o2thE", "Test Exchange", "BTC", "1"]);
    assert_eq!(f[5], "", "no BTC price in 2009: usd is null");
    assert_eq!(f[6], "298ca2045d174f8a158961806ffc4ef96fad02d71a6b84d9fa0491813a776160");
    assert_eq!((f[7], f[9], f[10]), ("221", "2", SEED));
    assert_eq!(f[11], "", "no price, no usd_source");
    let json: Value = serde_json::from_str(&w.ok(&["deposits", path.to_str().unwrap(), "--format", "json"])).unwrap();
    assert_eq!(
        json[0]["path"],
        serde_json::json!([SEED, "1LzBzVqEeuQyjD2mRWHes3dgWrT9titxvq", "1BDvQZjaAJH4ecZ8aL3fYgTi7rnn3o2thE"])
    );
    assert!(json[0]["usd"].is_null());

    // one hop: only the seed's own payments; the hop-1 receivers that paid on are stops
    let case = w.json(&["trace", "--chain", "bitcoin", SEED, "--hops", "1"]);
    let edges = case["edges"].as_array().unwrap();
    assert!(edges.iter().all(|e| e["from"] == SEED), "{edges:?}");
    assert_eq!(edges.len(), 10, "two outputs in each of 170, 181, 182, 183, 248");
    let stop = |a: &str| case["nodes"].as_array().unwrap().iter().find(|n| n["address"] == a).unwrap().clone();
    assert_eq!(stop("13HtsYzne8xVPdGDnmJX8gHgBZerAfJGEf")["role"], "stop");
    assert_eq!(stop("13HtsYzne8xVPdGDnmJX8gHgBZerAfJGEf")["stop_reason"], "hops");
    assert_eq!(stop("1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3")["role"], "intermediate", "Hal never paid on in these blocks");
}
