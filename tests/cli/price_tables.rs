//! Bad `--prices` tables through the real binary (issue 13, bad input): garbage rows are one
//! clear line on stderr naming the file and the line, with exit status 1, from `trace` and
//! `serve` alike, and leave the store as it was; a table with gaps values what falls in a gap
//! as unknown (`usd` null), never 0. Over the real first Bitcoin blocks (the payment chain of
//! `trace_bitcoin`, whose deposit at block 221 is 1 BTC on 2009-01-12).

use crate::common::{self, Workdir};

use serde_json::Value;

const SEED: &str = "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S";
const DEPOSIT: &str = "1BDvQZjaAJH4ecZ8aL3fYgTi7rnn3o2thE";

fn ingested() -> Workdir {
    let w = Workdir::new();
    let dir = w.path().join("blocks");
    std::fs::create_dir_all(&dir).expect("blocks dir");
    std::fs::copy(
        common::shared_data().join("bitcoin-blocks/bitcoinj/first-100k-blocks.dat"),
        dir.join("blk00000.dat"),
    )
    .expect("copy blocks");
    w.ok(&["ingest", "bitcoin", "--blocks-dir", dir.to_str().expect("utf-8")]);
    let labels = w.path().join("labels.csv");
    std::fs::write(
        &labels,
        format!("chain,address,category,entity,source,confidence\nbitcoin,{DEPOSIT},exchange_deposit,Test Exchange,test,90\n"),
    )
    .expect("labels");
    w.ok(&["labels", "import", labels.to_str().expect("utf-8"), "--format", "csv"]);
    w
}

/// The deposit report's one row after a fifo trace valued with `prices`.
fn deposit_row(w: &Workdir, prices: &std::path::Path) -> Value {
    let case = w.path().join("case.json");
    let (p, c) = (prices.to_str().expect("utf-8"), case.to_str().expect("utf-8"));
    w.ok(&["trace", "--chain", "bitcoin", SEED, "--policy", "fifo", "--prices", p, "--out", c]);
    let rows: Value = serde_json::from_str(&w.ok(&["deposits", c, "--format", "json"])).expect("deposits JSON");
    let rows = rows.as_array().expect("an array");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["address"], DEPOSIT, "{rows:?}");
    rows[0].clone()
}

#[test]
fn garbage_price_tables_are_one_line_errors_and_gaps_are_unknown_never_zero() {
    let w = ingested();
    let before = w.verified();
    let file = |name: &str, text: &[u8]| {
        let p = w.path().join(name);
        std::fs::write(&p, text).expect("write table");
        p
    };
    // (file contents, what the one line must say)
    let bad: Vec<(&str, &[u8], Vec<&str>)> = vec![
        ("noheader.csv", b"2009-01-12,1\n", vec!["noheader.csv", "header"]),
        (
            "word.csv",
            b"date,btc_usd\n2009-01-11,1\n2009-01-12,abc\n",
            vec!["word.csv line 3", "invalid price \"abc\" for BTC"],
        ),
        ("negative.csv", b"date,btc_usd\n2009-01-12,-3\n", vec!["negative.csv line 2", "invalid price"]),
        ("exponent.csv", b"date,btc_usd\n\n2009-01-12,1e3\n", vec!["exponent.csv line 3", "invalid price"]),
        ("zero.csv", b"date,btc_usd\n2009-01-12,0\n", vec!["zero.csv line 2", "leave the cell empty"]),
        ("month.csv", b"date,btc_usd\n2009-13-12,1\n", vec!["month.csv line 2", "invalid date"]),
        ("day.csv", b"date,btc_usd\n2009-02-29,1\n", vec!["day.csv line 2", "invalid date"]),
        (
            "twice.csv",
            b"date,btc_usd\n2009-01-12,1\n2009-01-13,1\n2009-01-12,2\n",
            vec!["twice.csv line 4", "appears twice"],
        ),
        ("cells.csv", b"date,btc_usd\n2009-01-12,1,2\n", vec!["cells.csv line 2", "cells"]),
        ("columns.csv", b"date,btc_usd,BTC_USD\n", vec!["columns.csv line 1", "twice"]),
        ("binary.csv", b"date,btc_usd\n\xff\xfe\x00garbage\n", vec!["binary.csv"]),
    ];
    for (name, text, says) in &bad {
        let p = file(name, text);
        let p = p.to_str().expect("utf-8");
        for args in [
            vec!["trace", "--chain", "bitcoin", SEED, "--prices", p],
            vec!["serve", "--listen", "127.0.0.1:0", "--prices", p],
        ] {
            let err = w.fails(&args);
            for s in says {
                assert!(err.contains(s), "{args:?}: {err:?} should say {s:?}");
            }
        }
    }
    let missing = w.path().join("no-such-prices.csv");
    let err = w.fails(&["trace", "--chain", "bitcoin", SEED, "--prices", missing.to_str().expect("utf-8")]);
    assert!(err.contains("no-such-prices.csv") && err.contains("--prices"), "{err}");
    assert_eq!(w.verified(), before, "a refused table changes no stored row");

    // Gaps. The deposit happened on 2009-01-12 (no table that ships with the binary goes back
    // that far, so only the user's table can price it).
    let row = deposit_row(&w, &file("priced.csv", b"date,btc_usd\n2009-01-11,0.25\n2009-01-12,0.5\n"));
    assert_eq!(row["time"].as_str().map(|t| &t[..10]), Some("2009-01-12"), "{row}");
    assert_eq!(row["amount"], "1", "{row}");
    assert_eq!(row["usd"], "0.50", "1 BTC at 0.5: {row}");
    // The day's cell is empty: unknown.
    let row = deposit_row(
        &w,
        &file("empty-cell.csv", b"date,btc_usd,eth_usd\n2009-01-11,0.25,\n2009-01-12,,1\n2009-01-13,0.75,\n"),
    );
    assert!(row["usd"].is_null(), "an empty cell is unknown, not 0: {row}");
    // The day is missing between two priced days: unknown (no interpolation).
    let row = deposit_row(&w, &file("missing-day.csv", b"date,btc_usd\n2009-01-11,0.25\n2009-01-13,0.75\n"));
    assert!(row["usd"].is_null(), "a missing day is unknown, not 0 nor a neighbour's price: {row}");
    // A short row (fewer cells than columns) is the same as empty cells.
    let row = deposit_row(&w, &file("short-row.csv", b"date,eth_usd,btc_usd\n2009-01-12,1\n"));
    assert!(row["usd"].is_null(), "{row}");
}
