//! USD at every step (SPEC v2 "USD"): a trace on a real anvil node whose deposits are valued
//! by each source in turn — a Chainlink-style feed ingested from the chain (`AnswerUpdated` of a
//! `[[price_feeds]]` aggregator), the daily table that ships with the binary, the `--prices`
//! table over both, the 1.00 peg of a stablecoin no source prices — and an asset no source
//! prices stays unknown, never zero. Every expected figure is recomputed here from the CSV
//! rows (tests/data/prices/daily_usd.csv is the shipped table's source) and the feed answers,
//! with integer arithmetic of this file's own.

use crate::common;

use chaintrace_testkit::{encode_call, erc20_transfer, Anvil, Contracts, Word, U256};
use common::Workdir;
use serde_json::Value;

const ETH: u128 = 1_000_000_000_000_000_000;
const USDT: u128 = 1_000_000;
/// 2022-11-09T12:00:00Z
const DAY1: u64 = 1_667_995_200;
/// 2023-01-01T12:00:00Z (more than a day after the feed's last round: the feed is stale)
const DAY2: u64 = 1_672_574_400;
/// 2026-06-01T00:00:00Z (after the shipped table's last row)
const DAY3: u64 = 1_780_272_000;

/// `raw / 10^decimals × price`, rounded half-up to cents, as `"123.45"`: this test's own
/// arithmetic on the price's decimal text.
fn cents(raw: u128, decimals: u32, price: &str) -> String {
    let (int, frac) = price.split_once('.').unwrap_or((price, ""));
    let mantissa: u128 = format!("{int}{frac}").parse().unwrap();
    let den = 10u128.pow(decimals + frac.len() as u32);
    let c = (raw * mantissa * 100 + den / 2) / den;
    format!("{}.{:02}", c / 100, c % 100)
}

/// The cell of `column` on `date` in the shipped table's source CSV.
fn table_price(date: &str, column: &str) -> String {
    let text = std::fs::read_to_string(chaintrace_testkit::test_data("prices/daily_usd.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == column).unwrap();
    let row = lines.find(|l| l.starts_with(date)).unwrap_or_else(|| panic!("no row {date}"));
    row.split(',').nth(col).unwrap().to_string()
}

#[test]
fn every_deposit_is_valued_by_the_first_source_that_knows_it_and_says_which() {
    // Genesis the day before DAY1, so the chain's block times can be set to the valued days.
    let anvil = Anvil::builder().chain_id(1).accounts(5).arg("--timestamp").arg((DAY1 - 86_400).to_string()).spawn();
    let contracts = Contracts::compile();
    let a: Vec<String> = anvil.accounts().iter().map(|s| s.to_ascii_lowercase()).collect();
    let (minter, seed, dep, hot) = (&a[0], &a[1], &a[2], &a[3]);
    let at = |t: u64| {
        anvil.rpc("evm_setNextBlockTimestamp", serde_json::json!([t]));
    };
    let send =
        |from: &str, to: &str, value: u128, data: &[u8]| anvil.send_confirmed(from, Some(to), value, data, 300_000);

    let token_tx = anvil.send_confirmed(minter, None, 0, contracts.bytecode("TetherLike"), 5_000_000);
    let token = anvil.receipt(&token_tx)["contractAddress"].as_str().unwrap().to_ascii_lowercase();
    // The project's AnswerFeed (crates/testkit/contracts/Flows.sol) emits AnswerUpdated as
    // Chainlink's aggregators do; its constructor takes the answers' decimals (8).
    let mut feed_code = contracts.bytecode("AnswerFeed").to_vec();
    feed_code.extend(U256::from(8u8).to_be_bytes::<32>());
    let feed_tx = anvil.send_confirmed(minter, None, 0, &feed_code, 1_000_000);
    let feed = anvil.receipt(&feed_tx)["contractAddress"].as_str().unwrap().to_ascii_lowercase();
    send(minter, &token, 0, &erc20_transfer(seed, U256::from(10_000 * USDT)));
    let update = |round: u64, answer: u128, t: u64| {
        at(t);
        let words = [Word::Uint(U256::from(round)), Word::Uint(U256::from(answer)), Word::Uint(U256::from(t))];
        let data = encode_call("transmit(uint256,int256,uint256)", &words);
        send(minter, &feed, 0, &data);
    };

    // Feed round 1 an hour before DAY1 ($1,500.12345678), round 2 just after it ($1,600).
    let (answer1, answer2) = (150_012_345_678u128, 160_000_000_000u128);
    update(1, answer1, DAY1 - 3_600);
    at(DAY1);
    let t_eth1 = send(seed, dep, ETH, &[]); // feed round 1
    update(2, answer2, DAY1 + 5);
    at(DAY1 + 10);
    let t_usdt1 = send(seed, &token, 0, &erc20_transfer(dep, U256::from(1_000 * USDT))); // shipped USDT
    at(DAY2);
    let t_eth2 = send(seed, dep, 2 * ETH, &[]); // feed stale: shipped ETH
    at(DAY2 + 10);
    let t_usdt2 = send(seed, &token, 0, &erc20_transfer(dep, U256::from(500 * USDT))); // shipped USDT
    at(DAY3);
    let t_usdt3 = send(seed, &token, 0, &erc20_transfer(dep, U256::from(100 * USDT))); // peg
    at(DAY3 + 10);
    let t_eth3 = send(seed, dep, ETH / 2, &[]); // nothing prices ETH: unknown
    send(dep, hot, ETH / 4, &[]); // a sweep, not followed
    let head = anvil.block_number();

    let w = Workdir::new();
    let cfg = w.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[chains.ethereum]\nkind = \"evm\"\nchain_id = 1\nnative_symbol = \"ETH\"\nnative_decimals = 18\n\n\
             [chains.ethereum.price_symbols]\n\"{token}\" = \"USDT\"\n\n\
             [[price_feeds]]\nchain = \"ethereum\"\naggregator = \"{feed}\"\nsymbol = \"ETH\"\ndecimals = 8\n"
        ),
    )
    .unwrap();
    let cfgs = cfg.to_str().unwrap();
    w.ok(&["--config", cfgs, "ingest", "ethereum", "--rpc", &anvil.url(), "--to", &head.to_string()]);
    let labels = w.path().join("labels.csv");
    std::fs::write(
        &labels,
        format!(
            "chain,address,category,entity,source,confidence\nethereum,{dep},exchange_deposit,Binance,test,90\n\
             ethereum,{hot},exchange,Binance,test,100\n"
        ),
    )
    .unwrap();
    w.ok(&["--config", cfgs, "labels", "import", labels.to_str().unwrap(), "--format", "csv"]);

    let trace = |extra: &[&str], name: &str| -> Value {
        let out = w.path().join(name);
        let mut args = vec!["--config", cfgs, "trace", "--chain", "ethereum", seed.as_str(), "--hops", "2"];
        args.extend(extra);
        args.extend(["--out", out.to_str().unwrap()]);
        w.ok(&args);
        serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
    };
    let by_tx = |case: &Value, tx: &str| -> (Option<String>, Option<String>) {
        let d = case["deposits"].as_array().unwrap().iter().find(|d| d["tx"] == tx).unwrap_or_else(|| {
            panic!("no deposit {tx} in {}", case["deposits"]);
        });
        (d["usd"].as_str().map(str::to_string), d["usd_source"].as_str().map(str::to_string))
    };
    let some = |usd: String, src: &str| (Some(usd), Some(src.to_string()));
    let feed_src = |round: u64| format!("feed:{feed}:{round}");
    let (d1, d2) = ("2022-11-09", "2023-01-01");

    // No --prices: feed, then shipped table, then peg; unknown stays null.
    let case = trace(&[], "default.json");
    assert_eq!(case["deposits"].as_array().unwrap().len(), 6, "{}", case["deposits"]);
    assert_eq!(by_tx(&case, &t_eth1), some(cents(ETH, 18, "1500.12345678"), &feed_src(1)));
    assert_eq!(answer1, 150_012_345_678, "the feed answer the figure above spells");
    assert_eq!(by_tx(&case, &t_usdt1), some(cents(1_000 * USDT, 6, &table_price(d1, "usdt_usd")), "shipped"));
    assert_eq!(by_tx(&case, &t_eth2), some(cents(2 * ETH, 18, &table_price(d2, "eth_usd")), "shipped"));
    assert_eq!(by_tx(&case, &t_usdt2), some(cents(500 * USDT, 6, &table_price(d2, "usdt_usd")), "shipped"));
    assert_eq!(by_tx(&case, &t_usdt3), some("100.00".into(), "peg"));
    assert_eq!(by_tx(&case, &t_eth3), (None, None), "no source prices ETH on 2026-06-01: unknown, not 0");
    // A USDT depeg in the table shows (0.9986 on 2022-11-09).
    assert_ne!(by_tx(&case, &t_usdt1).0.as_deref(), Some("1000.00"));
    // Edges carry the same valuation as the deposits they are.
    for e in case["edges"].as_array().unwrap() {
        assert_eq!(e["usd"].is_null(), e["usd_source"].is_null(), "{e}");
    }
    // Provenance names every source: the feed with its chain and rounds, the shipped table.
    let sources = case["provenance"]["price_sources"].as_array().unwrap();
    let feed_ref = sources.iter().find(|s| s["kind"] == "feed").unwrap();
    assert_eq!((feed_ref["name"].as_str(), feed_ref["chain"].as_str()), (Some(feed.as_str()), Some("ethereum")));
    assert_eq!((feed_ref["symbol"].as_str(), feed_ref["points"].as_u64()), (Some("ETH"), Some(2)));
    let shipped = sources.iter().find(|s| s["kind"] == "shipped").unwrap();
    let shipped_csv = std::fs::read(chaintrace_testkit::checkout().join("crates/tracer/data/daily_usd.csv")).unwrap();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&shipped_csv));
    assert_eq!(shipped["sha256"].as_str(), Some(sha.as_str()));
    assert!(shipped["name"].as_str().unwrap().contains("CoinGecko"), "{shipped}");
    assert!(case["provenance"]["prices"].is_null());

    // --prices over both: its rows win; its gaps (empty cells) fall through to the next source.
    let user = w.path().join("mine.csv");
    let user_text = format!("date,eth_usd,usdt_usd\n{d1},,\n{d2},1200.5,0.95\n");
    std::fs::write(&user, &user_text).unwrap();
    let case = trace(&["--prices", user.to_str().unwrap()], "user.json");
    assert_eq!(by_tx(&case, &t_eth1), some(cents(ETH, 18, "1500.12345678"), &feed_src(1)), "a gap: the feed");
    assert_eq!(by_tx(&case, &t_usdt1), some(cents(1_000 * USDT, 6, &table_price(d1, "usdt_usd")), "shipped"));
    assert_eq!(by_tx(&case, &t_eth2), some(cents(2 * ETH, 18, "1200.5"), "table:mine.csv"));
    assert_eq!(by_tx(&case, &t_usdt2), some("475.00".into(), "table:mine.csv"), "a depeg in the user's table");
    assert_eq!(by_tx(&case, &t_usdt3), some("100.00".into(), "peg"));
    assert_eq!(by_tx(&case, &t_eth3), (None, None));
    let user_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(user_text.as_bytes()));
    let table_ref = case["provenance"]["price_sources"].as_array().unwrap().iter().find(|s| s["kind"] == "table");
    assert_eq!(table_ref.unwrap()["sha256"].as_str(), Some(user_sha.as_str()));
    assert_eq!(case["provenance"]["prices"].as_str(), Some(format!("mine.csv sha256:{user_sha}").as_str()));

    // The summary prints USD with its source; the deposits JSON keeps the source, the CSV keeps
    // SPEC's columns and adds `usd_source` last (an unknown value is an empty cell, never 0).
    let summary = w.ok(&["--config", cfgs, "trace", "--chain", "ethereum", seed, "--hops", "2"]);
    assert!(summary.contains(&format!("chainlink feed {feed}")), "{summary}");
    assert!(summary.contains("shipped daily table") && summary.contains("stablecoin peg 1.00"), "{summary}");
    assert!(summary.contains("1 unknown (no price)"), "{summary}");
    let json = w.json(&["deposits", w.path().join("user.json").to_str().unwrap()]);
    assert!(json.as_array().unwrap().iter().any(|d| d["usd_source"] == "table:mine.csv"), "{json}");
    let csv = w.ok(&["deposits", w.path().join("user.json").to_str().unwrap(), "--format", "csv"]);
    // SPEC's columns, then `usd_source`: each row's source is the case's for that deposit.
    assert!(csv
        .starts_with("chain,deposit_address,exchange,asset,amount,usd,tx_hash,block,timestamp,hops,seed,usd_source\n"));
    let row = csv.lines().find(|l| l.contains(&t_eth3)).unwrap();
    assert_eq!(row.split(',').nth(5), Some(""), "{row}");
    assert_eq!(row.split(',').nth(11), Some(""), "no price, no source: {row}");
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let deps = json.as_array().unwrap();
    assert_eq!(rows.len(), deps.len(), "{csv}");
    for (r, d) in rows.iter().zip(deps) {
        assert_eq!((r[1], r[6]), (d["address"].as_str().unwrap(), d["tx"].as_str().unwrap()), "{csv}");
        assert_eq!(r[11], d["usd_source"].as_str().unwrap_or(""), "{csv}");
    }
    assert!(rows.iter().any(|r| r[11] == "table:mine.csv"), "{csv}");

    // A table with garbage rows: one line naming the file and the line, nothing written.
    for (text, line) in [
        ("date,eth_usd\n2022-11-09,1500\n2023-01-01,12e3\n", "line 3"),
        ("date,eth_usd\n2022-11-09,1500,7\n", "line 2"),
        ("date,eth_usd\n2022-11-09,1500\n2022-11-09,1501\n", "line 3"),
        ("date,eth_usd\n09/11/2022,1500\n", "line 2"),
        ("eth_usd\n1500\n", "header"),
    ] {
        let bad = w.path().join("bad.csv");
        std::fs::write(&bad, text).unwrap();
        let out = w.path().join("bad-case.json");
        let err = w.fails(&[
            "--config",
            cfgs,
            "trace",
            "--chain",
            "ethereum",
            seed,
            "--prices",
            bad.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(err.contains("bad.csv") && err.contains(line), "{text:?}: {err}");
        assert!(!out.exists(), "{text:?}: no case file from a bad table");
    }
}
