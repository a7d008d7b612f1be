//! On-chain valuation from a Chainlink-style feed, end to end: 200 consecutive real ETH/USD
//! rounds of `tests/data/chainlink-eth-usd` (a random slice, seed printed) are replayed on anvil
//! as `AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt)` events
//! of an aggregator (`AnswerFeed` in `crates/testkit/contracts/Flows.sol`: `@chainlink/contracts`
//! ships no bytecode, and its `MockV3Aggregator` emits no events, so the event is emitted by a
//! contract of ours with Chainlink's layout), one round per block at the round's own time.
//! `chaintrace ingest` with a `[[price_feeds]]` config stores the points; the `PriceBook` built
//! from `Store::price_points` must value amounts exactly as the CSV says, computed here without
//! the tracer: the newest round at or before the time while it is at most a day old
//! (`FEED_MAX_AGE`), else the shipped daily table's ETH price of that UTC date (read from
//! `tests/data/prices/daily_usd.csv`), and no value at all for a symbol only the feed prices.

use crate::common::{shared_data, Workdir};

use chaintrace_model::{Address, U256};
use chaintrace_store::Store;
use chaintrace_testkit::rng::{fresh_seed, Rng};
use chaintrace_testkit::{encode_call, Anvil, Contracts, Word};
use chaintrace_tracer::price::{PriceBook, PriceSource, FEED_MAX_AGE};
use serde_json::{json, Value};

/// Chainlink's proxy round ids are `(phase << 64) | aggregator round`; every row here is phase 6
/// and an aggregator emits the aggregator round.
const PHASE_6: u128 = 6 << 64;
const SLICE: usize = 200;

#[derive(Clone, Copy, Debug)]
struct Round {
    round: u64,
    answer: i128,
    updated_at: u64,
}

fn rounds() -> Vec<Round> {
    let path = shared_data().join("chainlink-eth-usd/0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419.csv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out: Vec<Round> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let n = |i: usize| f[i].parse::<u128>().unwrap_or_else(|e| panic!("{l}: column {i}: {e}"));
            (n(1), n(2), n(4))
        })
        .filter(|r| r.2 != 0) // the all-zero row of a round that does not exist
        .map(|(round, answer, at)| Round {
            round: u64::try_from(round - PHASE_6).expect("aggregator round"),
            answer: i128::try_from(answer).expect("answer"),
            updated_at: u64::try_from(at).expect("time"),
        })
        .collect();
    out.sort_by_key(|r| r.round);
    assert_eq!(out.len(), 11_106, "the fixture's valid rounds");
    out
}

/// `YYYY-MM-DD` of unix seconds (days → civil date, proleptic Gregorian).
fn utc_date(t: u64) -> String {
    let z = (t / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `raw` wei at `price = mantissa / 10^scale` USD, in cents rounded half up, as `D.CC`.
fn cents(raw: u128, mantissa: u128, scale: u32) -> String {
    let div = 10u128.pow(18 + scale);
    let c = (raw * mantissa * 100 + div / 2) / div;
    format!("{}.{:02}", c / 100, c % 100)
}

/// ETH's price in the daily table on `date`, as (mantissa, scale).
fn daily_eth(table: &str, date: &str) -> Option<(u128, u32)> {
    let row = table.lines().find(|l| l.starts_with(date))?;
    let cell = row.split(',').nth(2).filter(|c| !c.is_empty())?;
    let (i, f) = cell.split_once('.').unwrap_or((cell, ""));
    Some((format!("{i}{f}").parse().expect("price"), f.len() as u32))
}

#[test]
fn replayed_chainlink_rounds_value_amounts_as_the_csv_says() {
    let seed = match std::env::var("CHAINTRACE_TEST_SEED") {
        Ok(s) => s.trim().parse().expect("CHAINTRACE_TEST_SEED is a u64"),
        Err(_) => fresh_seed(),
    };
    println!("price feed slice seed {seed} (rerun with CHAINTRACE_TEST_SEED={seed})");
    let mut rng = Rng::new(seed);
    let all = rounds();
    let start = rng.below((all.len() - SLICE) as u64) as usize;
    let slice = &all[start..start + SLICE];
    let (first, last) = (slice[0], slice[SLICE - 1]);
    println!("rounds {}..={} ({} .. {})", first.round, last.round, first.updated_at, last.updated_at);

    // Genesis a day before the first round, so each round's block can be at its own time.
    let anvil = Anvil::builder().arg("--timestamp").arg((first.updated_at - 86_400).to_string()).spawn();
    let owner = anvil.accounts()[0].clone();
    let c = Contracts::compile();
    let feed = anvil.deploy(&owner, &{
        let mut code = c.bytecode("AnswerFeed").to_vec();
        code.extend_from_slice(&encode_call("x()", &[Word::Uint(U256::from(8u8))])[4..]);
        code
    });
    let other = anvil.deploy(&owner, &{
        let mut code = c.bytecode("AnswerFeed").to_vec();
        code.extend_from_slice(&encode_call("x()", &[Word::Uint(U256::from(8u8))])[4..]);
        code
    });
    let word =
        |v: i128| Word::Uint(if v < 0 { U256::MAX - U256::from(v.unsigned_abs() - 1) } else { U256::from(v as u128) });
    // One round per block at the round's own time (a block's time must grow, so a round sharing
    // its time with the previous one goes one second later; the event keeps the recorded time).
    let mut last_block = 0u64;
    let mut mine_at = |t: u64| {
        last_block = t.max(last_block + 1);
        anvil.rpc("evm_setNextBlockTimestamp", json!([last_block]));
    };
    let transmit = |round: u64, answer: i128, at: u64| {
        encode_call(
            "transmit(uint256,int256,uint256)",
            &[Word::Uint(U256::from(round)), word(answer), Word::Uint(U256::from(at))],
        )
    };
    for (i, r) in slice.iter().enumerate() {
        mine_at(r.updated_at);
        anvil.send_confirmed(&owner, Some(&feed), 0, &transmit(r.round, r.answer, r.updated_at), 200_000);
        if i % 50 == 0 {
            // A feed nobody configured answers too: its points must not be stored.
            mine_at(r.updated_at);
            anvil.send_confirmed(&owner, Some(&other), 0, &transmit(r.round, 1, r.updated_at), 200_000);
        }
    }

    let w = Workdir::new();
    let cfg = w.path().join("feeds.toml");
    std::fs::write(
        &cfg,
        format!("[[price_feeds]]\nchain = \"ethereum\"\naggregator = \"{feed}\"\nsymbol = \"ETH\"\ndecimals = 8\n"),
    )
    .expect("write config");
    let head = anvil.block_number().to_string();
    w.ok(&["--config", cfg.to_str().expect("utf-8"), "ingest", "ethereum", "--rpc", &anvil.url(), "--to", &head]);
    let st: Value = serde_json::from_str(&w.ok(&["stats", "--json"])).expect("stats JSON");
    assert_eq!(st["chains"]["ethereum"]["price_points"].as_u64(), Some(SLICE as u64), "{st}");
    w.verified();

    let store = Store::open(&w.store()).expect("open store");
    let raw20 = |a: &str| -> [u8; 20] { hex::decode(a.trim_start_matches("0x")).expect("hex").try_into().expect("20") };
    let points = store.price_points("ethereum", &Address::Evm(raw20(&feed))).expect("points");
    let stored: Vec<(u64, i128, u64)> = points.iter().map(|p| (p.round, p.answer, p.updated_at)).collect();
    let want: Vec<(u64, i128, u64)> = slice.iter().map(|r| (r.round, r.answer, r.updated_at)).collect();
    let mut sorted = stored.clone();
    sorted.sort_by_key(|p| p.0);
    assert_eq!(sorted, want, "the stored points are the replayed rounds");
    assert!(store.price_points("ethereum", &Address::Evm(raw20(&other))).expect("points").is_empty());

    let mut book = PriceBook::new(None);
    let pts = points.iter().map(|p| (p.updated_at, p.round, p.answer));
    book.add_feed("ETH", &feed, 8, pts.clone());
    // A symbol no table lists: only the feed can price it.
    book.add_feed("FEEDONLY", &feed, 8, pts);

    let table = std::fs::read_to_string(shared_data().join("prices/daily_usd.csv")).expect("daily table");
    // Times: every round's own time and the second before the next; random times across the
    // slice; before the first round; the last round at exactly the staleness limit and past it.
    let mut times: Vec<u64> = slice.iter().flat_map(|r| [r.updated_at, r.updated_at.saturating_sub(1)]).collect();
    for _ in 0..300 {
        times.push(rng.range(first.updated_at - 2 * 86_400, last.updated_at + 2 * 86_400));
    }
    times.extend([
        first.updated_at - 1,
        first.updated_at - 86_400,
        last.updated_at + FEED_MAX_AGE,
        last.updated_at + FEED_MAX_AGE + 1,
    ]);
    let raw: u128 = 1_234_567_890_123_456_789; // 1.234567890123456789 ETH
    let (mut by_feed, mut by_table) = (0, 0);
    for t in times {
        // The oracle: the highest round updated at or before t, while at most a day old.
        let newest = slice.iter().filter(|r| r.updated_at <= t).max_by_key(|r| r.round);
        let fresh = newest.filter(|r| t - r.updated_at <= 86_400);
        let got = book.usd("ETH", t, U256::from(raw), 18);
        let only = book.usd("FEEDONLY", t, U256::from(raw), 18);
        match fresh {
            Some(r) => {
                let want = cents(raw, r.answer as u128, 8);
                assert_eq!(
                    got,
                    Some((want.clone(), PriceSource::Feed { feed: feed.clone(), round: r.round })),
                    "t={t}"
                );
                assert_eq!(only, Some((want, PriceSource::Feed { feed: feed.clone(), round: r.round })), "t={t}");
                by_feed += 1;
            }
            None => {
                let date = utc_date(t);
                let (m, s) = daily_eth(&table, &date).unwrap_or_else(|| panic!("the daily table has ETH on {date}"));
                assert_eq!(got, Some((cents(raw, m, s), PriceSource::Shipped)), "t={t}: before the feed or stale");
                assert_eq!(only, None, "t={t}: unknown, never 0");
                by_table += 1;
            }
        }
    }
    println!("{by_feed} times valued by the feed, {by_table} by the shipped table");
    assert!(by_feed > 300 && by_table >= 3, "{by_feed} {by_table}");
}
