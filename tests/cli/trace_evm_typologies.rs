//! Hand-built laundering typologies on a real anvil node, ingested through the EVM adapter and
//! traced with the binary: payroll to worker wallets, consolidation, a peel chain, a split
//! through several hops to two exchanges' deposit addresses that sweep to hot wallets, and
//! decoys (an unrelated user paying the same exchange; a payment to a deposit address before
//! tainted funds could have arrived). Every true deposit must be flagged with its exact amount
//! under each policy, and no decoy.

use crate::common;

use std::collections::BTreeSet;

use chaintrace_testkit::{erc20_transfer, Anvil, Contracts, U256};
use common::Workdir;
use serde_json::{json, Value};

const USDT: u64 = 1_000_000; // 6 decimals

struct Chain<'a> {
    anvil: &'a Anvil,
}

impl Chain<'_> {
    /// Send and wait; returns the lower-case tx hash.
    fn send(&self, from: &str, to: Option<&str>, value_wei: u128, data: &[u8], gas: u64) -> String {
        self.anvil.send_confirmed(from, to, value_wei, data, gas)
    }

    fn usdt(&self, token: &str, from: &str, to: &str, units: u64) -> String {
        self.send(from, Some(token), 0, &erc20_transfer(to, U256::from(units)), 200_000)
    }

    fn eth(&self, from: &str, to: &str, wei: u128) -> String {
        self.send(from, Some(to), wei, &[], 21_000)
    }
}

/// (deposit address, exchange, asset, amount, tx, hops)
type Dep = (String, String, String, String, String, u64);

#[test]
fn typologies_flag_every_true_deposit_and_no_decoy() {
    let anvil = Anvil::builder().chain_id(1).accounts(20).spawn();
    let contracts = Contracts::compile();
    let c = Chain { anvil: &anvil };
    let a: Vec<String> = anvil.accounts().iter().map(|s| s.to_ascii_lowercase()).collect();
    let (minter, seed) = (&a[0], &a[1]);
    let (w1, w2, w3, cons, p1, p2) = (&a[2], &a[3], &a[4], &a[5], &a[6], &a[7]);
    let (d1, h1, d2, h2, user) = (&a[8], &a[9], &a[10], &a[11], &a[12]);
    let (x1, x2, x3) = (&a[13], &a[14], &a[15]);

    let deploy = c.send(minter, None, 0, contracts.bytecode("TetherLike"), 5_000_000);
    let token = anvil.receipt(&deploy)["contractAddress"].as_str().unwrap().to_ascii_lowercase();

    // funding (incoming to the seed and to future decoys; nothing here is traced)
    c.usdt(&token, minter, seed, 100_000 * USDT);
    c.usdt(&token, minter, user, 5_000 * USDT);
    c.usdt(&token, minter, p2, 2_000 * USDT);
    // decoy: p2 pays the Kraken deposit address before any tainted funds could reach p2
    let early = c.usdt(&token, p2, d2, 500 * USDT);

    // payroll to three worker wallets (hop 1), consolidation (hop 2)
    for w in [w1, w2, w3] {
        c.usdt(&token, seed, w, 10_000 * USDT);
    }
    for w in [w1, w2, w3] {
        c.usdt(&token, w, cons, 10_000 * USDT);
    }
    // peel chain: cons -> p1 (hop 3), p1 peels 1,000 to Binance (hop 4), rest to p2 (hop 4),
    // p2 (holding 1,500 clean + 29,000 tainted) pays 10,000 to Kraken (hop 5)
    c.usdt(&token, cons, p1, 30_000 * USDT);
    let peel1 = c.usdt(&token, p1, d1, 1_000 * USDT);
    c.usdt(&token, p1, p2, 29_000 * USDT);
    let peel2 = c.usdt(&token, p2, d2, 10_000 * USDT);
    // the deposit addresses sweep to their exchanges' hot wallets (not followed)
    c.usdt(&token, d1, h1, 1_000 * USDT);
    c.usdt(&token, d2, h2, 10_500 * USDT);
    // decoy: an unrelated user pays the same Binance deposit address
    c.usdt(&token, user, d1, 5_000 * USDT);
    // split through several hops to both exchanges
    c.usdt(&token, seed, x1, 20_000 * USDT);
    c.usdt(&token, x1, x2, 12_000 * USDT);
    c.usdt(&token, x1, x3, 8_000 * USDT);
    let split1 = c.usdt(&token, x2, d1, 12_000 * USDT);
    let split2 = c.usdt(&token, x3, d2, 8_000 * USDT);
    // native ETH leg through a fresh wallet funded only by the seed (per asset: ETH stays ETH)
    let fresh = "0x00000000000000000000000000000000000e1e1e";
    anvil.rpc("anvil_impersonateAccount", json!([fresh]));
    c.eth(seed, fresh, 3_000_000_000_000_000_000);
    let eth_dep = c.eth(fresh, d1, 2_000_000_000_000_000_000);
    let head = anvil.block_number();

    let w = Workdir::new();
    let cfg = w.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[chains.ethereum]\nkind = \"evm\"\nchain_id = 1\nnative_symbol = \"ETH\"\nnative_decimals = 18\n\n[chains.ethereum.price_symbols]\n\"{token}\" = \"USDT\"\n"
        ),
    )
    .unwrap();
    let cfgs = cfg.to_str().unwrap();
    w.ok(&["--config", cfgs, "ingest", "ethereum", "--rpc", &anvil.url(), "--to", &head.to_string()]);
    let labels = w.path().join("labels.csv");
    std::fs::write(
        &labels,
        format!(
            "chain,address,category,entity,source,confidence\n\
             ethereum,{d1},exchange_deposit,Binance,test,90\nethereum,{h1},exchange,Binance,test,100\n\
             ethereum,{d2},exchange_deposit,Kraken,test,90\nethereum,{h2},exchange,Kraken,test,100\n\
             ethereum,{seed},sanctioned,TEST DPRK FACILITATOR,test,100\n"
        ),
    )
    .unwrap();
    w.ok(&["--config", cfgs, "labels", "import", labels.to_str().unwrap(), "--format", "csv"]);
    let prices = common::shared_data().join("prices/daily_usd.csv");

    let expect = |policy: &str| -> BTreeSet<Dep> {
        let kraken_peel = match policy {
            "poison" => "10000",
            // 10,000 × 29,000 / 30,500, floored to the base unit
            "haircut" => "9508.196721",
            // queue at p2: 1,500 clean first, then 29,000 tainted
            _ => "8500",
        };
        [
            (d1, "Binance", &token, "1000", &peel1, 4),
            (d2, "Kraken", &token, kraken_peel, &peel2, 5),
            (d1, "Binance", &token, "12000", &split1, 3),
            (d2, "Kraken", &token, "8000", &split2, 3),
            (d1, "Binance", &"ETH".to_string(), "2", &eth_dep, 2),
        ]
        .into_iter()
        .map(|(d, ex, asset, amt, tx, hops)| {
            (d.clone(), ex.to_string(), asset.clone(), amt.to_string(), tx.clone(), hops)
        })
        .collect()
    };

    let trace_to = |policy: &str, out: &std::path::Path| {
        let args = ["--config", cfgs, "trace", "--chain", "ethereum", seed, "--policy", policy, "--prices"];
        let mut args = args.to_vec();
        args.extend([prices.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        w.ok(&args);
    };
    for policy in ["poison", "haircut", "fifo"] {
        let out = w.path().join(format!("{policy}.json"));
        trace_to(policy, &out);
        let case: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let deps = case["deposits"].as_array().unwrap();
        let got: BTreeSet<Dep> = deps
            .iter()
            .map(|d| {
                (
                    d["address"].as_str().unwrap().to_string(),
                    d["exchange"].as_str().unwrap().to_string(),
                    d["asset"].as_str().unwrap().to_string(),
                    d["amount"].as_str().unwrap().to_string(),
                    d["tx"].as_str().unwrap().to_string(),
                    d["hops"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got.len(), deps.len(), "{policy}: one row per deposit transfer");
        assert_eq!(got, expect(policy), "{policy}: deposits");
        // decoys are not flagged, sweeps are not followed
        let txs: BTreeSet<&str> = deps.iter().map(|d| d["tx"].as_str().unwrap()).collect();
        assert!(!txs.contains(early.as_str()), "{policy}: pre-taint payment flagged");
        for d in deps {
            assert_eq!(d["seed"].as_str(), Some(seed.as_str()));
            let path: Vec<&str> = d["path"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
            assert_eq!(path.len() as u64, d["hops"].as_u64().unwrap() + 1);
            assert_eq!((path[0], *path.last().unwrap()), (seed.as_str(), d["address"].as_str().unwrap()));
            // USDT at 1.00 via price_symbols; ETH has no price after 2024-12-20
            if d["asset"] == "ETH" {
                assert!(d["usd"].is_null());
            } else {
                let amt = d["amount"].as_str().unwrap();
                let cents = format!("{:.2}", amt.parse::<f64>().unwrap());
                assert_eq!(d["usd"].as_str(), Some(cents.as_str()), "{policy}: {d}");
            }
        }
        let peel = deps.iter().find(|d| d["tx"] == peel1.as_str()).unwrap();
        assert_eq!(
            peel["path"],
            json!([seed, w1, cons, p1, d1]),
            "{policy}: the path back through the earliest payroll"
        );
        let node = |addr: &str| case["nodes"].as_array().unwrap().iter().find(|n| n["address"] == addr).cloned();
        assert_eq!(node(d1).unwrap()["role"], "exchange_deposit");
        assert!(node(h1).is_none() && node(h2).is_none(), "{policy}: sweeps to hot wallets are not followed");
        assert!(node(user).is_none(), "{policy}: unrelated user is not in the case");
        // the same inputs give the same bytes
        let again = w.path().join(format!("{policy}-2.json"));
        trace_to(policy, &again);
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap(), "{policy}: reproducible");
    }

    // the off-ramp CSV of the haircut case
    let csv = w.ok(&["deposits", w.path().join("haircut.json").to_str().unwrap(), "--format", "csv"]);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "chain,deposit_address,exchange,asset,amount,usd,tx_hash,block,timestamp,hops,seed,usd_source");
    assert_eq!(rows.len(), 6);
    assert!(
        rows.iter().any(|r| r.starts_with(&format!("ethereum,{d2},Kraken,{token},9508.196721,9508.20,{peel2},"))),
        "{csv}"
    );

    // seeds by label: the same deposits as seeding the address itself
    let by_label = w.json(&[
        "--config",
        cfgs,
        "trace",
        "--chain",
        "ethereum",
        "--seeds-label",
        "TEST DPRK FACILITATOR",
        "--policy",
        "poison",
    ]);
    assert_eq!(by_label["seeds"], json!([seed]));
    assert_eq!(by_label["params"]["seeds_label"], "TEST DPRK FACILITATOR");
    assert_eq!(by_label["deposits"].as_array().unwrap().len(), 5);

    // a backward trace from the Kraken deposit address finds the seed within 5 hops
    let back = w.json(&[
        "--config",
        cfgs,
        "trace",
        "--chain",
        "ethereum",
        d2,
        "--direction",
        "backward",
        "--policy",
        "poison",
        "--hops",
        "5",
    ]);
    let addrs: BTreeSet<&str> =
        back["nodes"].as_array().unwrap().iter().map(|n| n["address"].as_str().unwrap()).collect();
    assert!(addrs.contains(seed.as_str()) && addrs.contains(p2.as_str()) && addrs.contains(x3.as_str()), "{addrs:?}");
}
