//! Bitcoin ingest benchmark (not a test): generates a large regtest chain in Core's blk format
//! (≥ 1 million transactions by default) with the project's generator, then measures
//!
//! 1. decoding alone (blk index + read + decode to `BlockData`, no store),
//! 2. the full `chaintrace ingest bitcoin --blocks-dir` run into a fresh store, and
//! 3. the peer parser: the PyPI `blockchain-parser` package reading the same files (blocks,
//!    transactions, outputs and their addresses),
//!
//! printing blocks/s, tx/s and MB/s side by side.
//!
//! `cargo bench -p chaintrace-cli --bench bitcoin_ingest`. Knobs: `CHAINTRACE_BENCH_TXS`
//! (default 1000000), `CHAINTRACE_BENCH_DIR` (default ~/.cache/chaintrace-bench). The peer runs
//! in a venv under ~/.cache/chaintrace-tools (created with pip when missing); set
//! `CHAINTRACE_BENCH_PEER=0` to skip it.
// A benchmark reports its figures on stdout and its progress on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use chaintrace_bitcoin::{
    bitcoin::Network,
    synth::{generate, SynthParams},
    BlockDecoder, BlocksDir, NoLookup,
};

struct Row {
    what: String,
    secs: f64,
    blocks: u64,
    txs: u64,
    bytes: u64,
}

fn print(rows: &[Row]) {
    println!("{:<44} {:>9} {:>11} {:>11} {:>9}", "run", "seconds", "blocks/s", "tx/s", "MB/s");
    for r in rows {
        println!(
            "{:<44} {:>9.2} {:>11.0} {:>11.0} {:>9.1}",
            r.what,
            r.secs,
            r.blocks as f64 / r.secs,
            r.txs as f64 / r.secs,
            r.bytes as f64 / 1e6 / r.secs
        );
    }
}

fn home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
}

fn chain(txs: u64) -> PathBuf {
    let base = std::env::var_os("CHAINTRACE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache/chaintrace-bench"));
    let dir = base.join(format!("regtest-{txs}"));
    let done = dir.join("GENERATED");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("bench dir");
        eprintln!("generating a regtest chain of {txs} transactions in {} …", dir.display());
        let t = Instant::now();
        let p = SynthParams { txs, ..SynthParams::default() };
        let r = generate(&dir, &p).expect("generate");
        eprintln!(
            "generated {} blocks ({} stale), {} txs, {} CoinJoins, {:.1} MB in {} files in {:.1} s",
            r.blocks,
            r.stale_blocks,
            r.txs,
            r.coinjoins,
            r.block_bytes as f64 / 1e6,
            r.files,
            t.elapsed().as_secs_f64()
        );
        std::fs::write(&done, format!("{} {} {}\n", r.blocks, r.txs, r.block_bytes)).expect("marker");
    }
    dir
}

fn decode_only(dir: &Path) -> Row {
    let t = Instant::now();
    let bd = BlocksDir::open(dir, Network::Regtest).expect("open");
    let idx = bd.scan().expect("scan");
    let chain = idx.best_chain_from_genesis(Network::Regtest).expect("chain");
    let mut reader = bd.reader();
    let mut dec = BlockDecoder::new(Network::Regtest, NoLookup);
    let mut buf = Vec::new();
    let (mut txs, mut bytes, mut transfers) = (0u64, 0u64, 0u64);
    for cb in &chain {
        let block = reader.read_block(&cb.loc, &mut buf).expect("read");
        let d = dec.decode(&block, cb.height).expect("decode");
        txs += u64::from(d.tx_count);
        transfers += d.transfers.len() as u64;
        bytes += u64::from(cb.loc.len);
    }
    let secs = t.elapsed().as_secs_f64();
    eprintln!("decode only: {} blocks, {txs} txs, {transfers} transfers", chain.len());
    Row { what: "chaintrace decode (blk → BlockData, no store)".into(), secs, blocks: chain.len() as u64, txs, bytes }
}

fn ingest(dir: &Path) -> Row {
    let work = tempfile::tempdir().expect("tmp");
    let cfg = work.path().join("regtest.toml");
    std::fs::write(
        &cfg,
        "[chains.bitcoin]\nkind = \"bitcoin\"\nnetwork = \"regtest\"\nnative_symbol = \"BTC\"\nnative_decimals = 8\n",
    )
    .expect("config");
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_chaintrace"))
        .arg("--store")
        .arg(work.path().join("store"))
        .arg("--config")
        .arg(&cfg)
        .args(["ingest", "bitcoin", "--json", "--blocks-dir"])
        .arg(dir)
        .output()
        .expect("run chaintrace");
    let secs = t.elapsed().as_secs_f64();
    assert!(out.status.success(), "ingest failed: {}", String::from_utf8_lossy(&out.stderr));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    eprintln!("ingest: {s}");
    Row {
        what: "chaintrace ingest --blocks-dir (RocksDB)".into(),
        secs,
        blocks: s["blocks"].as_u64().unwrap_or(0),
        txs: s["transactions"].as_u64().unwrap_or(0),
        bytes: s["bytes"].as_u64().unwrap_or(0),
    }
}

const PEER: &str = r#"
import sys, time
import blockchain_parser.blockchain as bc
bc.BITCOIN_CONSTANT = b"\xfa\xbf\xb5\xda"  # the package hard-codes mainnet's magic; the chain is regtest
blocks = txs = outs = size = 0
t = time.time()
for block in bc.Blockchain(sys.argv[1]).get_unordered_blocks():
    blocks += 1
    size += block.size
    for tx in block.transactions:
        txs += 1
        for o in tx.outputs:
            outs += 1
            o.addresses
print(blocks, txs, size, time.time() - t)
"#;

fn peer(dir: &Path) -> Option<Row> {
    if std::env::var("CHAINTRACE_BENCH_PEER").is_ok_and(|v| v == "0") {
        return None;
    }
    let venv = home().join(".cache/chaintrace-tools/bp-venv");
    let py = venv.join("bin/python");
    if !py.exists() {
        let ok = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args(["install", "-q", "blockchain-parser==0.1.6"])
                .status()
                .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("could not install blockchain-parser into {}: peer skipped", venv.display());
            return None;
        }
    }
    let out = Command::new(&py).arg("-c").arg(PEER).arg(dir).output().expect("run python");
    if !out.status.success() {
        eprintln!("blockchain-parser failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    Some(Row {
        what: "blockchain-parser 0.1.6 (PyPI, CPython)".into(),
        blocks: f[0].parse().ok()?,
        txs: f[1].parse().ok()?,
        bytes: f[2].parse().ok()?,
        secs: f[3].parse().ok()?,
    })
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run only as a bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let txs: u64 = std::env::var("CHAINTRACE_BENCH_TXS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = chain(txs);
    let mut rows = vec![decode_only(&dir), ingest(&dir)];
    rows.extend(peer(&dir));
    println!("\nBitcoin ingest, regtest chain of {txs} generated transactions ({})", dir.display());
    print(&rows);
    println!("(the peer counts stale blocks too: it reads every record, unordered; chaintrace reads the best chain)");
}
