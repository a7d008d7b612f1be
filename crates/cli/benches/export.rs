//! Benchmark (not a test): what an investigator does with a wide case file after the trace —
//! `chaintrace export` in every format and `chaintrace deposits` — each a new process, as it is
//! run, on the case of a 6-hop poison trace from 100 seeds over the `trace` bench's generated
//! store (10M transfers: ~71k nodes and ~77k edges, a 59 MB case file; the power-law graph's
//! 1M-transfer case has ~540k edges, 342 MB).
//!
//! Prints per command: wall and CPU time (median of `CHAINTRACE_BENCH_RUNS`), peak RSS, the
//! bytes written and the case's elements per second, and checks each output against the case
//! file, read here with `serde_json` (not with the code under test): the Cytoscape.js JSON holds
//! as many nodes and edges as the case, the Neo4j CSV one row per node and edge, the GraphML,
//! GEXF and DOT files one element or statement per node and per edge, the HTML page one
//! `<g class="node">` per node, the deposits CSV one row per deposit.
//!
//! ```text
//! cargo bench -p chaintrace-cli --bench export
//! CHAINTRACE_BENCH_GRAPH=powerlaw CHAINTRACE_BENCH_TRANSFERS=1000000 cargo bench -p chaintrace-cli --bench export
//! ```
//!
//! Environment: `CHAINTRACE_BENCH_DIR`, `CHAINTRACE_BENCH_TRANSFERS` (10,000,000) and
//! `CHAINTRACE_BENCH_GRAPH` (uniform or powerlaw) as in the `trace` bench (its store is used,
//! or generated the same way), `CHAINTRACE_BENCH_RUNS` (3), `CHAINTRACE_BENCH_FORMATS`
//! (graphml,gexf,dot,json,csv,html).
// A benchmark reports its figures on stdout and its progress on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;

// Not every item of the shared modules is used by each bench.
#[allow(dead_code)]
mod child;
use child::{median, Measured};
#[allow(dead_code)]
mod generated;
// Not every shared helper is used by each bench.
#[allow(dead_code)]
mod figures;
use figures::env_u64;
use generated::{open_or_generate_graph, Graph, CHAIN};

/// No limit on a command's memory here: its peak is what is measured.
const NO_LIMIT: u64 = u64::MAX;

fn chaintrace() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chaintrace"));
    cmd.env_remove("CHAINTRACE_CONFIG").env("CHAINTRACE_LOG", "warn").env("NO_COLOR", "1");
    cmd
}

/// Bytes under `path` (a file, or a directory's files).
fn bytes_at(path: &Path) -> u64 {
    if path.is_dir() {
        std::fs::read_dir(path).map(|d| d.flatten().map(|e| bytes_at(&e.path())).sum()).unwrap_or(0)
    } else {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }
}

/// What the case file holds, counted from its JSON here.
struct Counts {
    nodes: usize,
    edges: usize,
    deposits: usize,
}

fn counts(case: &Path) -> Counts {
    let text = std::fs::read(case).expect("read the case file");
    let v: serde_json::Value = serde_json::from_slice(&text).expect("the case file is JSON");
    let len = |k: &str| v[k].as_array().map_or(0, Vec::len);
    Counts { nodes: len("nodes"), edges: len("edges"), deposits: len("deposits") }
}

/// Occurrences of `needle` in `text`.
fn occurrences(text: &[u8], needle: &str) -> usize {
    let n = needle.as_bytes();
    text.windows(n.len()).filter(|w| *w == n).count()
}

fn lines(path: &Path) -> usize {
    std::fs::read(path).expect("read the export").iter().filter(|&&b| b == b'\n').count()
}

/// Checks `format`'s output at `out` against the case's counts; the reason when it does not hold.
fn check(format: &str, out: &Path, c: &Counts) -> Result<(), String> {
    let want = |what: &str, got: usize, want: usize| {
        if got == want {
            Ok(())
        } else {
            Err(format!("{format}: {got} {what}, the case has {want}"))
        }
    };
    if format == "csv" {
        // a header line, then a line per node or edge (no cell holds a newline here)
        want("node rows", lines(&out.join("nodes.csv")).saturating_sub(1), c.nodes)?;
        return want("edge rows", lines(&out.join("edges.csv")).saturating_sub(1), c.edges);
    }
    let text = std::fs::read(out).map_err(|e| format!("{format}: cannot read {}: {e}", out.display()))?;
    match format {
        "json" => {
            let v: serde_json::Value = serde_json::from_slice(&text).map_err(|e| format!("json: {e}"))?;
            let len = |k: &str| v["elements"][k].as_array().map_or(0, Vec::len);
            want("nodes", len("nodes"), c.nodes)?;
            want("edges", len("edges"), c.edges)
        }
        "graphml" | "gexf" => {
            want("<node> elements", occurrences(&text, "<node id="), c.nodes)?;
            want("<edge> elements", occurrences(&text, "<edge "), c.edges)
        }
        // a node statement is a quoted id and its attributes, an edge one two ids and an arrow
        "dot" => {
            let lines = std::str::from_utf8(&text).map_err(|e| format!("dot: {e}"))?.lines();
            let statements =
                lines.filter(|l| l.starts_with("  \"") && l.contains("\" [") && !l.contains("\" -> \"")).count();
            want("node statements", statements, c.nodes)?;
            want("edge statements", occurrences(&text, "\" -> \""), c.edges)
        }
        "html" => want("drawn nodes", occurrences(&text, "<g class=\"node\""), c.nodes),
        _ => Err(format!("{format}: no check")),
    }
}

fn report(what: &str, runs: &[Measured], bytes: u64, elements: usize) {
    let wall = median(runs.iter().map(|r| r.wall_ms).collect());
    let cpu = median(runs.iter().map(|r| r.cpu_ms).collect());
    let peak = runs.iter().map(|r| r.peak_kib).max().unwrap_or(0);
    println!(
        "{what:<22} wall p50 {:>8.0} ms  CPU p50 {:>8.0} ms  peak RSS {:>6.0} MiB  {:>8.1} MB written  {:>9.0} elements/s",
        wall,
        cpu,
        peak as f64 / 1024.0,
        bytes as f64 / 1e6,
        elements as f64 / (wall / 1000.0)
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a list
    }
    let total = env_u64("CHAINTRACE_BENCH_TRANSFERS", 10_000_000);
    let runs = env_u64("CHAINTRACE_BENCH_RUNS", 3).max(1) as usize;
    let graph = Graph::from_env();
    let dir = std::env::var("CHAINTRACE_BENCH_DIR").map(PathBuf::from).unwrap_or_else(|_| graph.default_dir(total));
    let formats: Vec<String> = std::env::var("CHAINTRACE_BENCH_FORMATS")
        .unwrap_or_else(|_| "graphml,gexf,dot,json,csv,html".into())
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    let seeds = {
        let store = open_or_generate_graph(&dir, total, graph);
        let tip = store.stats().expect("stats").chains.get(CHAIN).and_then(|c| c.tip_height).unwrap_or(0);
        generated::seed_sets(&store, CHAIN, 1, tip).remove(0)
        // (closed here: the commands below open it themselves)
    };
    let work = tempfile::tempdir().expect("temp dir");
    let case = work.path().join("case.json");
    let mut trace = chaintrace();
    trace
        .arg("--store")
        .arg(dir.join("store"))
        .args(["trace", "--chain", CHAIN, "--hops", "6", "--hub-degree", "1000", "--policy", "poison", "--out"])
        .arg(&case)
        .args(seeds.iter().map(|a| a.to_string()));
    trace.env("CHAINTRACE_LOG", "info");
    let t = child::run(&mut trace, NO_LIMIT);
    assert!(t.success, "chaintrace trace failed: {}", t.stderr);
    let source = if t.stderr.contains("source=\"snapshot\"") { "its snapshot" } else { "the store" };
    // (why not the snapshot, when it was not: the command's warnings)
    for warning in t.stderr.lines().filter(|l| l.contains("WARN")) {
        eprintln!("chaintrace trace: {warning}");
    }
    let c = counts(&case);
    let elements = c.nodes + c.edges;
    println!(
        "case ({graph:?} graph, {total} transfers; poison, 6 hops, 100 seeds): {} nodes, {} edges, {} deposits, {:.1} MB \
         (written by `chaintrace trace --out` over {source} in {:.0} ms, the page cache as it was: the trace bench times traces)",
        c.nodes,
        c.edges,
        c.deposits,
        bytes_at(&case) as f64 / 1e6,
        t.wall_ms
    );

    for format in &formats {
        let out = work.path().join(format!("out.{format}"));
        let mut all = Vec::new();
        for _ in 0..runs {
            let mut cmd = chaintrace();
            cmd.args(["export", "--force", "--format", format, "--output"]).arg(&out).arg(&case);
            let m = child::run(&mut cmd, NO_LIMIT);
            assert!(m.success, "chaintrace export --format {format} failed: {}", m.stderr);
            all.push(m);
        }
        if let Err(e) = check(format, &out, &c) {
            panic!("the {format} export does not hold the case: {e}");
        }
        report(&format!("export {format}"), &all, bytes_at(&out), elements);
        let _ = if out.is_dir() { std::fs::remove_dir_all(&out) } else { std::fs::remove_file(&out) };
    }

    let mut all = Vec::new();
    let mut written = 0;
    for _ in 0..runs {
        let mut cmd = chaintrace();
        cmd.arg("deposits").arg(&case);
        let m = child::run(&mut cmd, NO_LIMIT);
        assert!(m.success, "chaintrace deposits failed: {}", m.stderr);
        let rows = m.stdout.lines().count().saturating_sub(1);
        assert_eq!(rows, c.deposits, "chaintrace deposits: one row per deposit of the case");
        written = m.stdout.len() as u64;
        all.push(m);
    }
    report("deposits (CSV)", &all, written, c.deposits);
}
