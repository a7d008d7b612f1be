//! Internal transfers that an ingest could not read, and `ingest --refill-traces` filling them.
//!
//! Real components: the `chaintrace` binary and a real anvil (chain id 1 stands in for
//! `ethereum`) running the scenario, whose contracts move ETH internally (forwarders). Stand-in:
//! anvil keeps every state, so a full (pruned, non-archive) Geth node is played by
//! [`PrunedNodeProxy`] in front of it, which answers `trace_block` and
//! `debug_traceBlockByNumber` for old blocks with Geth's own error (-32000 "required historical
//! state unavailable (reexec=128)") and forwards everything else to anvil — so anvil itself
//! plays the archive node the gap is filled from. Every "same store" comparison is between the
//! digests and figures `verify --json` recomputes from the rows.

use crate::common;

use chaintrace_testkit::pruned::GETH_STATE_UNAVAILABLE;
use chaintrace_testkit::{scenario, Anvil, Contracts, PrunedNodeProxy};
use common::Workdir;
use serde_json::Value;

fn ingest(w: &Workdir, url: &str, head: u64, extra: &[&str]) -> String {
    let to = head.to_string();
    let mut args = vec!["ingest", "ethereum", "--rpc", url, "--to", &to];
    args.extend_from_slice(extra);
    w.ok(&args)
}

/// `verify --json` of a store: it must pass; returns (digest, the chain's recomputed figures).
fn verified(w: &Workdir) -> (String, Value) {
    let v = w.json(&["verify"]);
    let chain = v["chains"].as_array().and_then(|c| c.first()).cloned().expect("one chain");
    assert_eq!(chain["problems"].as_array().map(Vec::len), Some(0), "{v}");
    (v["digest"].as_str().expect("digest").to_string(), chain["recomputed"].clone())
}

fn gap(w: &Workdir) -> u64 {
    let st = w.json(&["stats"]);
    st["chains"]["ethereum"]["blocks_without_internal_transfers"].as_u64().unwrap_or_else(|| panic!("{st}"))
}

/// Blocks from 1 to `head` that hold transactions (block 0 holds none, so it misses nothing).
fn blocks_with_txs(anvil: &Anvil, head: u64) -> u64 {
    (1..=head)
        .filter(|h| {
            let b = anvil.rpc("eth_getBlockByNumber", serde_json::json!([format!("0x{h:x}"), false]));
            b["transactions"].as_array().is_some_and(|t| !t.is_empty())
        })
        .count() as u64
}

#[test]
fn refilling_traces_gives_the_store_an_ingest_with_traces_gives() {
    let anvil = Anvil::spawn();
    scenario::run(&anvil, &Contracts::compile());
    let head = anvil.block_number();
    let with_txs = blocks_with_txs(&anvil, head);

    let clean = Workdir::new();
    ingest(&clean, &anvil.url(), head, &[]);
    let (clean_digest, clean_figures) = verified(&clean);
    assert_eq!(gap(&clean), 0);

    // Tracing off: every block with transactions is marked, stats shows the gap, verify passes.
    let w = Workdir::new();
    let out = ingest(&w, &anvil.url(), head, &["--traces", "off"]);
    assert!(out.contains(&format!("missing in {with_txs} blocks (tracing off")), "{out}");
    assert_eq!(gap(&w), with_txs);
    let stats_text = w.ok(&["stats"]);
    assert!(stats_text.contains(&format!("{with_txs} blocks without internal transfers")), "{stats_text}");
    let (before, figures) = verified(&w);
    assert_eq!(figures["blocks_without_internal_transfers"].as_u64(), Some(with_txs));
    assert_ne!(before, clean_digest, "the scenario moves ETH internally, so the gap must show in the digest");

    // A refill from a pruned node fails, names the block and the node's words, writes nothing.
    let pruned = PrunedNodeProxy::start(anvil.addr(), u64::MAX);
    let out = w.cmd(&["ingest", "ethereum", "--rpc", &pruned.url(), "--refill-traces"]).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("historical state unavailable: not an archive node"), "{stderr}");
    assert!(stderr.contains(GETH_STATE_UNAVAILABLE) && stderr.contains("archive node"), "{stderr}");
    assert_eq!(verified(&w).0, before);

    // A part of the range first, then the rest: each run fills only its blocks.
    let mid = head / 2;
    let part = w.json(&["ingest", "ethereum", "--rpc", &anvil.url(), "--refill-traces", "--to", &mid.to_string()]);
    let left = part["blocks_without_internal_transfers"].as_u64().expect("left");
    assert!(left > 0 && left < with_txs, "{part}");
    let rest = w.json(&["ingest", "ethereum", "--rpc", &anvil.url(), "--refill-traces"]);
    assert_eq!(rest["blocks_without_internal_transfers"].as_u64(), Some(0), "{rest}");
    assert!(rest["internal_transfers_added"].as_u64().is_some(), "{rest}");

    let (after, figures) = verified(&w);
    assert_eq!(after, clean_digest, "refilled store vs a store ingested with traces");
    assert_eq!(figures, clean_figures);
    assert_eq!(gap(&w), 0);

    // Nothing left to fill: a second refill changes nothing.
    let again = w.json(&["ingest", "ethereum", "--rpc", &anvil.url(), "--refill-traces"]);
    assert_eq!(again["blocks_filled"].as_u64(), Some(0), "{again}");
    assert_eq!(verified(&w).0, clean_digest);
}

#[test]
fn a_pruned_node_is_named_and_its_gap_recorded_per_block_then_filled_from_an_archive_node() {
    let anvil = Anvil::spawn();
    scenario::run(&anvil, &Contracts::compile());
    let head = anvil.block_number();
    // The "full node" keeps the state of the newest quarter of the blocks only.
    let keep_from = head - head / 4;
    let pruned = PrunedNodeProxy::start(anvil.addr(), keep_from);
    let old_with_txs = blocks_with_txs(&anvil, keep_from - 1);

    let w = Workdir::new();
    let out = w.cmd(&["ingest", "ethereum", "--rpc", &pruned.url(), "--to", &head.to_string()]).output().expect("run");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(pruned.refused() > 0);
    // The warning says which: historical state, not a missing method, with the height and the
    // node's own words.
    assert!(stderr.contains("historical state unavailable: the node is not an archive node"), "{stderr}");
    assert!(stderr.contains(GETH_STATE_UNAVAILABLE) && stderr.contains("cannot trace block 0"), "{stderr}");
    assert!(!stderr.contains("method not found"), "{stderr}");
    assert!(stdout.contains("historical state unavailable: not an archive node"), "{stdout}");

    // Exactly the old blocks with transactions are marked; the recent ones were traced.
    assert_eq!(gap(&w), old_with_txs);
    let stats_text = w.ok(&["stats"]);
    assert!(
        stats_text.contains("internal_transfers=incomplete: historical state unavailable from block"),
        "{stats_text}"
    );
    verified(&w);

    // anvil itself, with every state, plays the archive node.
    w.ok(&["ingest", "ethereum", "--rpc", &anvil.url(), "--refill-traces"]);
    let clean = Workdir::new();
    ingest(&clean, &anvil.url(), head, &[]);
    let (clean_digest, clean_figures) = verified(&clean);
    let (digest, figures) = verified(&w);
    assert_eq!(digest, clean_digest, "pruned ingest + refill vs an archive ingest");
    assert_eq!(figures, clean_figures);
}

#[test]
fn a_refill_with_traces_off_is_refused_and_a_complete_store_needs_none() {
    let anvil = Anvil::spawn();
    scenario::native_blocks(&anvil, 0, 3, 1);
    let head = anvil.block_number();
    let w = Workdir::new();
    ingest(&w, &anvil.url(), head, &[]);
    let err = w.fails(&["ingest", "ethereum", "--rpc", &anvil.url(), "--refill-traces", "--traces", "off"]);
    assert!(err.contains("--traces off"), "{err}");
    let r = w.json(&["ingest", "ethereum", "--rpc", &anvil.url(), "--refill-traces"]);
    assert_eq!((r["blocks_missing_before"].as_u64(), r["blocks_filled"].as_u64()), (Some(0), Some(0)), "{r}");
}
