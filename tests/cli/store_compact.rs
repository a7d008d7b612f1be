//! Compaction (`chaintrace compact`, `ingest … --compact`) on stores of real data: Bitcoin
//! mainnet block files, a TRON mainnet block from its HTTP API, and an Ethereum mainnet block
//! from JSON-RPC answers recorded by ethereum-etl (all in `tests/data`). A compacted store must
//! give what the uncompacted one gave: the figures `verify` recomputes from the rows, the
//! digest, and a trace's case file byte for byte.

use crate::common;

use std::path::{Path, PathBuf};

use chaintrace_testkit::http::{Reply, Server};
use chaintrace_testkit::FixtureServer;
use common::{shared_data, Verified, Workdir};
use serde_json::Value;

/// What a store answers: `verify`'s recomputed figures, `stats`' digest and the case file of
/// one trace (`trace_args` without `--out`).
fn answers(w: &Workdir, trace_args: &[&str]) -> (Verified, Value, Vec<u8>) {
    let verified = w.verified();
    let digest = w.json(&["stats"])["digest"].clone();
    let case = w.path().join("case.json");
    let _ = std::fs::remove_file(&case);
    let mut args = trace_args.to_vec();
    args.extend_from_slice(&["--out", case.to_str().expect("UTF-8 path")]);
    w.ok(&args);
    let bytes = std::fs::read(&case).expect("the case file");
    let v: Value = serde_json::from_slice(&bytes).expect("the case file is JSON");
    assert!(!v["edges"].as_array().expect("edges").is_empty(), "the trace found edges: {v}");
    (verified, digest, bytes)
}

/// `chaintrace compact --json` on the workdir's store: (bytes before, bytes after).
/// `ingest` with `--compact` added, into a new work dir, gives `plain`'s answers (verify's
/// figures, digest, the case file of `trace`).
fn same_with_compact(ingest: &[&str], trace: &[&str], plain: &(Verified, Value, Vec<u8>)) {
    let c = Workdir::new();
    let mut args = ingest.to_vec();
    args.push("--compact");
    c.ok(&args);
    let b = answers(&c, trace);
    assert_eq!(b.0, plain.0, "verify's figures");
    assert_eq!(b.1, plain.1, "digest");
    assert!(b.2 == plain.2, "the case file differs after ingest --compact");
}

fn compact(w: &Workdir) -> (u64, u64) {
    let v = w.json(&["compact"]);
    assert_eq!(v["store"], w.store().display().to_string(), "{v}");
    (v["bytes_before"].as_u64().expect("bytes_before"), v["bytes_after"].as_u64().expect("bytes_after"))
}

/// Bytes of the store's table files (`*.sst`).
fn table_bytes(store: &Path) -> u64 {
    std::fs::read_dir(store)
        .expect("store dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".sst"))
        .map(|e| e.metadata().expect("metadata").len())
        .sum()
}

fn bitcoin_blocks_dir(w: &Workdir) -> PathBuf {
    let dir = w.path().join("blocks");
    std::fs::create_dir_all(&dir).expect("blocks dir");
    std::fs::copy(shared_data().join("bitcoin-blocks/bitcoinj/first-100k-blocks.dat"), dir.join("blk00000.dat"))
        .expect("copy the block file");
    dir
}

#[test]
fn compacting_a_bitcoin_store_keeps_verify_digest_and_trace_and_shrinks_it() {
    let trace = ["trace", "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S", "--chain", "bitcoin", "--policy", "fifo"];
    let w = Workdir::new();
    let dir = bitcoin_blocks_dir(&w);
    // The initial sync writes LZ4 table files (ingested); compaction rewrites them.
    w.json(&["ingest", "bitcoin", "--blocks-dir", dir.to_str().unwrap()]);
    let before = answers(&w, &trace);
    assert_eq!(before.0.chain("bitcoin")["blocks"], 439, "PROVENANCE.md: 439 blocks");
    let snap = w.json(&["snapshot"]);
    assert_eq!(snap[0]["state"], "built", "{snap}");
    let tables_before = table_bytes(&w.store());
    let (bytes_before, bytes_after) = compact(&w);
    assert!(bytes_before > 0 && bytes_after > 0, "{bytes_before} -> {bytes_after}");
    // The table files shrink (LZ4 → Zstd); the directory as a whole need not, on a store this
    // small: RocksDB's info log and options files are a good part of it.
    let tables_after = table_bytes(&w.store());
    assert!(tables_after < tables_before, "compaction shrank the table files: {tables_before} -> {tables_after}");
    let after = answers(&w, &trace);
    assert_eq!(after.0, before.0, "verify's figures");
    assert_eq!(after.1, before.1, "digest");
    assert!(after.2 == before.2, "the case file differs after compaction");
    // The same rows, the same checkpoint: the graph snapshot built before is still fresh.
    let snap = w.json(&["snapshot"]);
    assert_eq!(snap[0]["state"], "fresh", "{snap}");

    // `ingest --compact` gives the same store as ingest then compact.
    let c = Workdir::new();
    let dir = bitcoin_blocks_dir(&c);
    c.json(&["ingest", "bitcoin", "--blocks-dir", dir.to_str().unwrap(), "--compact"]);
    let compacted = answers(&c, &trace);
    assert_eq!(compacted.0, before.0);
    assert_eq!(compacted.1, before.1);
    assert!(compacted.2 == before.2, "the case file of an ingest --compact store differs");
    assert!(table_bytes(&c.store()) < tables_before, "ingest --compact compacted the store");
    // A compacted store compacts again to the same size, give or take RocksDB's own files
    // (LOG, MANIFEST, OPTIONS): the table files are already in the bottom level.
    let tables = table_bytes(&c.store());
    compact(&c);
    let again = table_bytes(&c.store());
    assert!(again.abs_diff(tables) * 100 <= tables, "{tables} -> {again}");
}

/// A java-tron HTTP API answering from the recording of TRON mainnet block 43811922 (other
/// paths 404, as in `tron_ingest`).
fn recorded_tron_api() -> Server {
    let block: Value = serde_json::from_slice(
        &std::fs::read(shared_data().join("tron/wallet-getblockbynum/43811922.json")).expect("read the recording"),
    )
    .expect("the recording is JSON");
    Server::start_routed(move |path, body| {
        let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let answer = || Reply::json(serde_json::to_vec(&block).expect("JSON"));
        match path {
            "/wallet/getnowblock" => answer(),
            "/wallet/getblockbynum" if req["num"].as_u64() == Some(43_811_922) => answer(),
            "/wallet/getblockbynum" => Reply::json(b"{}".to_vec()),
            _ => Reply::Send { status: 404, body: b"{\"Error\":\"not found\"}".to_vec(), content_length: None },
        }
    })
}

#[test]
fn ingest_tron_with_compact_gives_the_store_of_a_plain_ingest() {
    let server = recorded_tron_api();
    let ingest = ["ingest", "tron", "--rpc", &server.url(), "--from", "43811922", "--to", "43811922"];
    let trace = ["trace", "TH2DJurYvmLGApguMsSigCYFz5aMrvoWdA", "--chain", "tron", "--policy", "poison"];
    let plain = Workdir::new();
    plain.ok(&ingest);
    let a = answers(&plain, &trace);
    assert_eq!(a.0.chain("tron")["transfers"], 197, "the 196 expected rows and the TJFLkw… transfer()");

    same_with_compact(&ingest, &trace, &a);
    // And `chaintrace compact` on the plain store changes none of it.
    compact(&plain);
    let after = answers(&plain, &trace);
    assert_eq!(after.0, a.0);
    assert!(after.2 == a.2, "the case file differs after chaintrace compact");
}

fn etl(dir: &str) -> PathBuf {
    shared_data().join("ethereum-etl/tests/resources").join(dir)
}

#[test]
fn ingest_ethereum_with_compact_gives_the_store_of_a_plain_ingest() {
    // Ethereum mainnet block 483920 and its receipts, as ethereum-etl recorded them: two
    // ERC-20 transfers (expected_token_transfers.csv). The recording has no `eth_chainId` or
    // `eth_blockNumber` answer: mainnet's id (1, which the `ethereum` chain checks) and the
    // recorded block as the head are served beside it.
    let w = Workdir::new();
    let extra = w.path().join("chain-id");
    std::fs::create_dir_all(&extra).expect("dir");
    std::fs::write(extra.join("web3_response.eth_chainId_.json"), r#"{"jsonrpc":"2.0","id":1,"result":"0x1"}"#)
        .expect("chain id answer");
    std::fs::write(extra.join("web3_response.eth_blockNumber_.json"), r#"{"jsonrpc":"2.0","id":1,"result":"0x76250"}"#)
        .expect("head answer");
    let server = FixtureServer::start(vec![
        etl("test_export_blocks_job/block_with_logs"),
        etl("test_export_receipts_job/receipts_with_logs"),
        extra,
    ]);
    let url = server.url();
    let ingest = ["ingest", "ethereum", "--rpc", &url, "--from", "483920", "--to", "483920"];
    let trace = ["trace", "0x1b63142628311395ceafeea5667e7c9026c862ca", "--chain", "ethereum", "--policy", "poison"];
    let plain = Workdir::new();
    plain.ok(&ingest);
    let a = answers(&plain, &trace);
    // The oracle, from ethereum-etl's expected files: transactions that carry value, and
    // ERC-20 `Transfer` logs (topic 0xddf252ad…).
    let read = |f: &str| std::fs::read_to_string(etl(f)).unwrap_or_else(|e| panic!("read {f}: {e}"));
    let txs = read("test_export_blocks_job/block_with_logs/expected_transactions.csv");
    let header: Vec<&str> = txs.lines().next().expect("header").split(',').collect();
    let value = header.iter().position(|h| *h == "value").expect("value column");
    let valued = txs.lines().skip(1).filter(|l| l.split(',').nth(value).is_some_and(|v| v != "0")).count();
    let logs = read("test_export_receipts_job/receipts_with_logs/expected_logs.csv");
    let transfer_logs = logs
        .lines()
        .skip(1)
        .filter(|l| l.contains("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"))
        .count();
    assert_eq!((valued, transfer_logs), (2, 2));
    assert_eq!(
        a.0.chain("ethereum")["transfers"].as_u64(),
        Some((valued + transfer_logs) as u64),
        "every value transfer and token transfer of the block: {:?}",
        a.0
    );

    same_with_compact(&ingest, &trace, &a);
}

#[test]
fn compact_refuses_a_directory_without_a_store_and_creates_nothing() {
    let w = Workdir::new();
    let err = w.fails(&["compact"]);
    assert!(err.contains("holds no chaintrace store") && err.contains("--store"), "{err}");
    assert!(!Path::new(&w.store()).exists(), "compact created a store");
}

#[test]
fn compact_on_an_evm_follow_without_to_is_a_usage_error() {
    let w = Workdir::new();
    let out = w.cmd(&["ingest", "ethereum", "--rpc", "http://127.0.0.1:9", "--compact"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--compact needs --to") && err.contains("chaintrace compact"), "{err}");
    assert!(!w.store().exists(), "a usage error created the store");
}
