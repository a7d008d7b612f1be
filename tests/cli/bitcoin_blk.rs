//! `chaintrace ingest bitcoin --blocks-dir` end to end on the real mainnet block files in
//! `tests/data/bitcoin-blocks`, checked against PROVENANCE.md and its oracle CSVs.

use crate::common;

use std::path::{Path, PathBuf};

use common::Workdir;
use serde_json::Value;

fn blocks() -> PathBuf {
    common::shared_data().join("bitcoin-blocks")
}

/// A blocks dir in the workdir holding `files` as blk00000.dat, blk00001.dat…, obfuscated with
/// `key` when given (as Core 28+ writes them).
fn blocks_dir(w: &Workdir, name: &str, files: &[Vec<u8>], key: Option<[u8; 8]>) -> PathBuf {
    let dir = w.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (i, f) in files.iter().enumerate() {
        let mut bytes = f.clone();
        if let Some(k) = key {
            for (o, b) in bytes.iter_mut().enumerate() {
                *b ^= k[o % 8];
            }
        }
        std::fs::write(dir.join(format!("blk{i:05}.dat")), bytes).unwrap();
    }
    if let Some(k) = key {
        std::fs::write(dir.join("xor.dat"), k).unwrap();
    }
    dir
}

fn first_100k() -> Vec<u8> {
    std::fs::read(blocks().join("bitcoinj/first-100k-blocks.dat")).unwrap()
}

fn ingest(w: &Workdir, dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["ingest", "bitcoin", "--blocks-dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    w.json(&args)
}

fn random_key() -> [u8; 8] {
    let mut k = chaintrace_testkit::rng::fresh_seed().to_le_bytes();
    k[7] |= 0x80;
    k
}

#[test]
fn first_100k_blocks_counts_tip_and_xor_digest() {
    let w = Workdir::new();
    let dir = blocks_dir(&w, "plain", &[first_100k()], None);
    let s = ingest(&w, &dir, &[]);
    assert_eq!(s["blocks"], 439);
    assert_eq!(s["transactions"], 446);
    let stats = w.json(&["stats"]);
    let btc = &stats["chains"]["bitcoin"];
    assert_eq!(btc["blocks"], 439);
    assert_eq!(btc["tip_height"], 438);
    assert_eq!(btc["tip_hash"], "0000000025c6b644f8add734be7e666fa4afa43ca0204d623a0c0b1fd2104c7a");
    // Genesis is the first block: its coinbase pays the famous genesis address.
    let g = w.json(&["transfers", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"]);
    assert_eq!(g[0]["block"], 0);
    assert_eq!(g[0]["from"], "coinbase");
    assert_eq!(g[0]["amount_raw"], "5000000000");

    // Idempotent: a second run adds nothing and changes no row.
    let plain = w.verified();
    assert_eq!(plain.chain("bitcoin")["blocks"], 439);
    let again = ingest(&w, &dir, &[]);
    assert_eq!(again["blocks"], 0);
    assert_eq!(w.verified(), plain);

    // The same file obfuscated with a random xor.dat key: the same rows.
    let x = Workdir::new();
    let xdir = blocks_dir(&x, "xor", &[first_100k()], Some(random_key()));
    let xs = ingest(&x, &xdir, &[]);
    assert_eq!(xs["blocks"], 439);
    assert_eq!(x.verified(), plain);
}

#[test]
fn resumes_after_the_stored_tip() {
    let full = Workdir::new();
    let dir = blocks_dir(&full, "b", &[first_100k()], None);
    ingest(&full, &dir, &[]);

    let w = Workdir::new();
    let dir = blocks_dir(&w, "b", &[first_100k()], None);
    let first = ingest(&w, &dir, &["--to", "200", "--batch-blocks", "7"]);
    assert_eq!(first["blocks"], 201);
    assert_eq!(w.json(&["stats"])["chains"]["bitcoin"]["tip_height"], 200);
    let rest = ingest(&w, &dir, &[]);
    assert_eq!(rest["blocks"], 238);
    assert_eq!(w.verified(), full.verified());
}

/// The first payment chain 9 → 170 → 181 → 182 → 183 → 187/221/248, hop by hop, from
/// `early_spend_chain_heights_9_to_248.csv` (in first-100k-blocks.dat, heights 0..438).
#[test]
fn first_payment_chain_hop_by_hop() {
    let w = Workdir::new();
    let dir = blocks_dir(&w, "b", &[first_100k()], None);
    ingest(&w, &dir, &[]);
    let csv = std::fs::read_to_string(blocks().join("early_spend_chain_heights_9_to_248.csv")).unwrap();
    let rows: Vec<Vec<String>> = csv.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect();
    // Address of each output, by "txid:vout".
    let addr_of =
        |outpoint: &str| rows.iter().find(|r| format!("{}:{}", r[2], r[5]) == outpoint).map(|r| r[8].clone()).unwrap();
    let mut hops = 0;
    for r in rows.iter().filter(|r| r[3] == "0") {
        let (height, txid, value, to) = (&r[0], &r[2], &r[6], &r[8]);
        let from = addr_of(&r[4]);
        let edges = w.json(&["transfers", to, "--direction", "in"]);
        let hit = edges
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["tx"] == txid.as_str() && e["from"] == from.as_str())
            .unwrap_or_else(|| panic!("no edge {from} -> {to} in tx {txid}: {edges}"));
        assert_eq!(hit["amount_raw"], value.as_str(), "{txid}");
        assert_eq!(hit["block"].to_string(), *height);
        assert_eq!(hit["asset"], "BTC");
        // And the sender's outgoing list shows the same edge.
        let out = w.json(&["transfers", &from, "--direction", "out"]);
        assert!(out.as_array().unwrap().iter().any(|e| e["tx"] == txid.as_str() && e["to"] == to.as_str()));
        hops += 1;
    }
    assert_eq!(hops, 12);
    // Hal Finney's 10 BTC in block 170, as the human-readable line shows it.
    let text = w.ok(&["transfers", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"]);
    assert!(
        text.contains("12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S -> 1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3  10 BTC"),
        "{text}"
    );
}

#[test]
fn corrupt_block_stops_cleanly_and_keeps_the_store() {
    let src = first_100k();
    // Flip a byte inside the block at height 300 (inside its coinbase script).
    let mut off = 0usize;
    for _ in 0..300 {
        off += 8 + u32::from_le_bytes(src[off + 4..off + 8].try_into().unwrap()) as usize;
    }
    let mut bad = src.clone();
    bad[off + 8 + 80 + 1 + 4 + 1 + 36 + 2] ^= 0x40;
    let w = Workdir::new();
    let dir = blocks_dir(&w, "bad", &[bad], None);
    let err = w.fails(&["ingest", "bitcoin", "--blocks-dir", dir.to_str().unwrap()]);
    assert!(err.contains("blk00000.dat") && err.contains(&format!("offset {off}")), "{err}");
    assert!(err.contains("height 300"), "{err}");
    // Everything before the bad block is stored, consistently: the same rows as a clean
    // ingest that stops at 299.
    let stats = w.json(&["stats"]);
    assert_eq!(stats["chains"]["bitcoin"]["tip_height"], 299);
    let clean = Workdir::new();
    let cdir = blocks_dir(&clean, "b", std::slice::from_ref(&src), None);
    ingest(&clean, &cdir, &["--to", "299"]);
    assert_eq!(w.verified(), clean.verified());
    // With the file repaired, a rerun continues to the tip.
    std::fs::write(dir.join("blk00000.dat"), &src).unwrap();
    assert_eq!(ingest(&w, &dir, &[])["blocks"], 139);

    // Truncated file: clean error naming the file and offset; nothing stored from it.
    let t = Workdir::new();
    let tdir = blocks_dir(&t, "t", &[src[..src.len() - 50].to_vec()], None);
    let err = t.fails(&["ingest", "bitcoin", "--blocks-dir", tdir.to_str().unwrap()]);
    assert!(err.contains("blk00000.dat") && err.contains("truncated"), "{err}");
}

#[test]
fn network_mismatch_is_refused() {
    let w = Workdir::new();
    let dir = blocks_dir(&w, "b", &[first_100k()], None);
    let cfg = w.path().join("regtest.toml");
    std::fs::write(
        &cfg,
        "[chains.btcreg]\nkind = \"bitcoin\"\nnetwork = \"regtest\"\nnative_symbol = \"BTC\"\nnative_decimals = 8\n",
    )
    .unwrap();
    let err = w.fails(&["--config", cfg.to_str().unwrap(), "ingest", "btcreg", "--blocks-dir", dir.to_str().unwrap()]);
    assert!(err.contains("mainnet") && err.contains("regtest"), "{err}");
    let err = w.fails(&["ingest", "bitcoin", "--blocks-dir", dir.to_str().unwrap(), "--network", "testnet"]);
    assert!(err.contains("does not match"), "{err}");
    assert!(w.json(&["stats"])["chains"].get("btcreg").is_none_or(|c| c["blocks"] == 0));
}

/// Reorganisation across runs: the store followed a branch the block files later abandon.
/// The next run rolls back to the fork point and follows the heavier chain; the result is the
/// same store as a clean ingest of that chain.
#[test]
fn reorg_between_runs_rolls_back_to_the_fork() {
    let genesis_file = first_100k();
    let genesis_len = 8 + u32::from_le_bytes(genesis_file[4..8].try_into().unwrap()) as usize;
    let genesis = genesis_file[..genesis_len].to_vec();
    let chain = std::fs::read(blocks().join("btcd/blocks1-256")).unwrap();
    // Records of blocks 1..=255.
    let mut recs = Vec::new();
    let mut p = 0;
    while p + 8 <= chain.len() {
        let len = u32::from_le_bytes(chain[p + 4..p + 8].try_into().unwrap()) as usize;
        recs.push(chain[p..p + 8 + len].to_vec());
        p += 8 + len;
    }
    // A competing block 101': block 101 with another nonce (same parent, same work).
    let mut fork = recs[100].clone();
    fork[8 + 76] ^= 0x01;
    let short: Vec<u8> = [genesis.clone(), recs[..100].concat(), fork.clone()].concat();
    let full: Vec<u8> = [genesis.clone(), recs.concat(), fork].concat();

    let w = Workdir::new();
    let d1 = blocks_dir(&w, "short", &[short], None);
    assert_eq!(ingest(&w, &d1, &[])["blocks"], 102);
    let stale_tip = w.json(&["stats"])["chains"]["bitcoin"]["tip_hash"].clone();
    let d2 = blocks_dir(&w, "full", std::slice::from_ref(&full), None);
    let s = ingest(&w, &d2, &[]);
    assert_eq!(s["rolled_back"], 1);
    assert_eq!(s["blocks"], 155);
    let stats = w.json(&["stats"]);
    assert_eq!(
        stats["chains"]["bitcoin"]["tip_hash"],
        "00000000d0a75c861fabf9ff7b92022f60e4afeed9331fe5aa073d8e4706fe3c"
    );
    assert_ne!(stats["chains"]["bitcoin"]["tip_hash"], stale_tip);

    let clean = Workdir::new();
    let d3 = blocks_dir(&clean, "full", &[full], None);
    ingest(&clean, &d3, &[]);
    assert_eq!(w.verified(), clean.verified());
}

#[test]
fn verify_recomputes_the_checkpoint_of_a_real_blk_ingest_from_its_rows() {
    let w = Workdir::new();
    let dir = blocks_dir(&w, "plain", &[first_100k()], None);
    ingest(&w, &dir, &[]);
    let out = w.cmd(&["verify", "--json"]).output().unwrap();
    assert!(out.status.success(), "verify failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let btc = &v["chains"][0];
    assert_eq!(btc["chain"], "bitcoin");
    assert_eq!(btc["problems"], serde_json::json!([]));
    // The figures come from the rows: 439 blocks up to the documented tip (PROVENANCE.md),
    // and the same transfers and digest as the checkpoint that ingest wrote.
    assert_eq!(btc["recomputed"]["blocks"], 439);
    assert_eq!(btc["recomputed"]["tip_height"], 438);
    let stats = w.json(&["stats"]);
    assert_eq!(btc["recomputed"]["transfers"], stats["chains"]["bitcoin"]["transfers"]);
    assert_eq!(v["digest"], stats["digest"]);
    // An unknown chain is a one-line error.
    let err = w.fails(&["verify", "--chain", "dogecoin"]);
    assert!(err.contains("dogecoin"), "{err}");
}

/// `ingest bitcoin` allocates through mimalloc, every other command through glibc's allocator
/// (the binary's per-command allocator, chosen before `main`: `crates/cli/src/alloc.rs`); the
/// ingest's rows are checked by the tests above, which all run under it. Under mimalloc freed
/// memory is never handed back (purge delay -1), unless `MIMALLOC_PURGE_DELAY` says otherwise:
/// mimalloc reading that variable into the option the binary sets is what shows the binary set
/// the right one.
#[test]
fn only_the_bitcoin_ingest_runs_on_mimalloc() {
    let w = Workdir::new();
    let dir = blocks_dir(&w, "b", &[first_100k()], None);
    // the log line's `allocator` and `purge_delay_ms` fields (the second absent under glibc)
    let allocator = |args: &[&str], purge: Option<&str>| {
        let mut cmd = w.cmd(args);
        cmd.env("CHAINTRACE_LOG", "chaintrace=debug").env_remove("MIMALLOC_PURGE_DELAY");
        if let Some(p) = purge {
            cmd.env("MIMALLOC_PURGE_DELAY", p);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        let line = log.lines().find(|l| l.contains("memory allocator")).unwrap_or_else(|| panic!("{args:?}: {log}"));
        let field =
            |name: &str| line.split(' ').find_map(|f| f.strip_prefix(name)).map(|v| v.trim_matches('"').to_string());
        (field("allocator=").unwrap_or_else(|| panic!("{line}")), field("purge_delay_ms="))
    };
    let blocks = dir.to_str().unwrap();
    let ingest =
        |to: &str, purge| allocator(&["--json", "ingest", "bitcoin", "--blocks-dir", blocks, "--to", to], purge);
    assert_eq!(ingest("50", None), ("mimalloc".to_string(), Some("-1".to_string())));
    assert_eq!(ingest("60", Some("250")), ("mimalloc".to_string(), Some("250".to_string())));
    assert_eq!(allocator(&["--json", "stats"], None), ("system".to_string(), None));
    assert_eq!(
        allocator(&["--json", "transfers", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"], None),
        ("system".to_string(), None)
    );
    // (heights 0..=60 stored: the rows themselves are checked by the tests above, all on mimalloc)
    assert_eq!(w.json(&["stats"])["chains"]["bitcoin"]["blocks"], 61);
}
