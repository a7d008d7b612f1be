//! Benchmark (not a test): the cold `chaintrace trace` command — a new process, as an
//! investigator runs it — over the generated uniform stores of 1M, 10M and 30M transfers side by
//! side: wall time, CPU time and peak RSS (split into the process's own memory and the mapped
//! snapshot file), so that what grows with the store shows.
//!
//! ```text
//! cargo bench -p chaintrace-cli --bench trace_memory
//! CHAINTRACE_BENCH_ROOT=/work/bench CHAINTRACE_BENCH_GENERATE=1 cargo bench -p chaintrace-cli --bench trace_memory
//! ```
//!
//! For each size it uses the store the `trace` bench generates (same generator, same seeds:
//! `generated::seed_sets`) with a fresh graph snapshot; a size whose store or snapshot is missing
//! is reported and skipped unless `CHAINTRACE_BENCH_GENERATE=1`, which generates it and builds
//! its snapshot (30M transfers: about 4 GB of store and 4 GB of snapshot). Existing stores are
//! only read (opened read-only, as the traced command opens them). Each policy runs once to warm
//! the page cache (reported as "first"), then `CHAINTRACE_BENCH_RUNS` (5) times, each from
//! another seed set of 100 addresses, 6 hops.
//!
//! Environment: `CHAINTRACE_BENCH_SIZES` (1000000,10000000,30000000),
//! `CHAINTRACE_BENCH_ROOT` (stores at `ROOT/1m`, `ROOT/10m`, `ROOT/30m`; default the `trace`
//! bench's directory per size), `CHAINTRACE_BENCH_DIR_<N>M` (one size's directory, e.g.
//! `CHAINTRACE_BENCH_DIR_10M=/work/bench/10m`), `CHAINTRACE_BENCH_GENERATE` (0),
//! `CHAINTRACE_BENCH_RUNS` (5), `CHAINTRACE_BENCH_POLICIES` (poison,haircut,fifo),
//! `CHAINTRACE_BENCH_HOPS` (6), `CHAINTRACE_BENCH_RSS_LIMIT_MIB` (8192: a run whose anonymous
//! memory passes it is killed and reported as such — the generator keeps 1M addresses, so at
//! 30M transfers a 6-hop walk from 100 seeds reaches nearly all of them).
//!
//! Peak RSS and its split into the process's own memory and mapped file pages: see
//! `child.rs`.
// A benchmark reports its figures on stdout and its progress on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use chaintrace_model::Address;
use chaintrace_store::Store;

mod child;
use child::median;
// Not every item of the shared generator is used by each bench.
#[allow(dead_code)]
mod generated;
// Not every shared helper is used by each bench.
#[allow(dead_code)]
mod figures;
use figures::env_u64;
use generated::{open_or_generate_graph, Graph, CHAIN};

#[allow(dead_code, unreachable_pub)]
#[path = "../src/adapters/snapshot.rs"]
mod snapshot;

const HUB_DEGREE: u64 = 1000;

/// Hops of every trace (`CHAINTRACE_BENCH_HOPS`, 6).
fn hops() -> u32 {
    env_u64("CHAINTRACE_BENCH_HOPS", 6) as u32
}

/// A run whose anonymous memory passes this is killed (`CHAINTRACE_BENCH_RSS_LIMIT_MIB`, 8192):
/// the machine is shared, and a trace that reaches the whole graph holds all of it.
fn rss_limit_kib() -> u64 {
    env_u64("CHAINTRACE_BENCH_RSS_LIMIT_MIB", 8192) * 1024
}

/// `1m`, `10m`, `30m`, or the number itself.
fn size_name(n: u64) -> String {
    if n.is_multiple_of(1_000_000) {
        format!("{}m", n / 1_000_000)
    } else {
        n.to_string()
    }
}

fn dir_of(n: u64) -> PathBuf {
    let name = size_name(n);
    if let Ok(d) = std::env::var(format!("CHAINTRACE_BENCH_DIR_{}", name.to_ascii_uppercase())) {
        return PathBuf::from(d);
    }
    match std::env::var("CHAINTRACE_BENCH_ROOT") {
        Ok(root) => Path::new(&root).join(name),
        Err(_) => Graph::Uniform.default_dir(n),
    }
}

/// One cold run's figures.
#[derive(Clone, Copy, Default)]
struct Run {
    wall_ms: f64,
    cpu_ms: f64,
    peak_kib: u64,
    anon_kib: u64,
    file_kib: u64,
    nodes: u64,
    edges: u64,
    /// Killed for passing [`rss_limit_kib`].
    killed: bool,
}

/// Run `chaintrace trace` as a new process and measure it.
fn cold_trace(store: &Path, seeds: &[Address], policy: &str, out: &Path) -> Run {
    let bin = env!("CARGO_BIN_EXE_chaintrace");
    let mut cmd = std::process::Command::new(bin);
    cmd.arg("--store")
        .arg(store)
        .args(["--json", "trace", "--chain", CHAIN, "--hops", &hops().to_string()])
        .args(["--hub-degree", &HUB_DEGREE.to_string(), "--policy", policy, "--out"])
        .arg(out)
        .args(seeds.iter().map(|a| a.to_string()))
        .env_remove("CHAINTRACE_CONFIG")
        .env("CHAINTRACE_LOG", "warn")
        .env("NO_COLOR", "1");
    let m = child::run(&mut cmd, rss_limit_kib());
    assert!(m.killed || m.success, "cold chaintrace trace failed: {}", m.stderr);
    let v: serde_json::Value = serde_json::from_str(m.stdout.trim()).unwrap_or_default();
    Run {
        wall_ms: m.wall_ms,
        cpu_ms: m.cpu_ms,
        peak_kib: m.peak_kib,
        anon_kib: m.anon_kib,
        file_kib: m.file_kib,
        nodes: v["nodes"].as_u64().unwrap_or(0),
        edges: v["edges"].as_u64().unwrap_or(0),
        killed: m.killed,
    }
}

/// The store of `n` transfers ready to trace (with a fresh snapshot), and its seed sets; `None`
/// (with the reason printed) when it is missing and generation was not asked for.
fn prepare(n: u64, runs: usize, generate: bool) -> Option<(PathBuf, Vec<Vec<Address>>, u64)> {
    let dir = dir_of(n);
    let store_dir = dir.join("store");
    let have = dir.join("GENERATED").is_file();
    if !have && !generate {
        println!(
            "{:>4}: no generated store at {} (CHAINTRACE_BENCH_GENERATE=1 generates it)",
            size_name(n),
            dir.display()
        );
        return None;
    }
    if generate {
        // generate what is missing and (re)build a missing or stale snapshot: a writer's open
        let store = open_or_generate_graph(&dir, n, Graph::Uniform);
        if !matches!(snapshot::status(&store, CHAIN).expect("snapshot status"), snapshot::Status::Fresh(_)) {
            let t0 = Instant::now();
            let b = snapshot::build(&store, CHAIN).expect("build snapshot").expect("chain");
            eprintln!(
                "{}: snapshot of {} transfers built in {:.0} s",
                size_name(n),
                b.transfers,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    // From here on the store is only read, as the traced command reads it.
    let store = match Store::open_read_only(&store_dir, chaintrace_store::ReadScope::Rows) {
        Ok(s) => s,
        Err(e) => {
            println!("{:>4}: cannot open {} read-only: {e}", size_name(n), store_dir.display());
            return None;
        }
    };
    let snap = match snapshot::status(&store, CHAIN).expect("snapshot status") {
        snapshot::Status::Fresh(s) => s,
        _ => {
            println!(
                "{:>4}: the store at {} has no fresh snapshot (CHAINTRACE_BENCH_GENERATE=1 builds it)",
                size_name(n),
                dir.display()
            );
            return None;
        }
    };
    // "page cache warm": the whole file cached in read order, as `chaintrace snapshot` and the
    // workbench leave it (other work on the machine may have evicted part of it since)
    println!("{:>4}: snapshot page cache: {}", size_name(n), snap.recache());
    let stats = store.stats().expect("stats");
    let chain = &stats.chains[CHAIN];
    let tip = chain.tip_height.unwrap_or(0);
    let seeds = generated::seed_sets(&store, CHAIN, runs + 1, tip);
    let snap_bytes = std::fs::metadata(snapshot::path_of(&store_dir, CHAIN)).map(|m| m.len()).unwrap_or(0);
    Some((store_dir, seeds, snap_bytes))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a list
    }
    let sizes: Vec<u64> = std::env::var("CHAINTRACE_BENCH_SIZES")
        .unwrap_or_else(|_| "1000000,10000000,30000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("CHAINTRACE_BENCH_SIZES: transfer counts, comma-separated"))
        .collect();
    let runs = env_u64("CHAINTRACE_BENCH_RUNS", 5).max(1) as usize;
    let generate = env_u64("CHAINTRACE_BENCH_GENERATE", 0) == 1;
    let policies: Vec<String> = std::env::var("CHAINTRACE_BENCH_POLICIES")
        .unwrap_or_else(|_| "poison,haircut,fifo".into())
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    let out = std::env::temp_dir().join(format!("chaintrace-bench-memory-{}.json", std::process::id()));

    // size name, snapshot bytes, policy, first run, the runs
    let mut rows: Vec<(String, u64, String, Run, Vec<Run>)> = Vec::new();
    for &n in &sizes {
        let Some((store, seeds, snap_bytes)) = prepare(n, runs, generate) else { continue };
        for policy in &policies {
            // the first run warms the page cache (the snapshot's pages, RocksDB's files)
            let first = cold_trace(&store, &seeds[0], policy, &out);
            if first.killed {
                // no use repeating it: the line says where it was stopped
                println!(
                    "{:>5} {policy}: killed after {:.0} s (CPU {:.0} s) at {:.0} MiB of anonymous memory \
                     (CHAINTRACE_BENCH_RSS_LIMIT_MIB), {:.0} MiB of mapped file",
                    size_name(n),
                    first.wall_ms / 1000.0,
                    first.cpu_ms / 1000.0,
                    first.anon_kib as f64 / 1024.0,
                    first.file_kib as f64 / 1024.0
                );
                continue;
            }
            let all: Vec<Run> = (0..runs).map(|r| cold_trace(&store, &seeds[r + 1], policy, &out)).collect();
            let m = |f: fn(&Run) -> f64| median(all.iter().map(f).collect());
            eprintln!(
                "{} {policy}: wall p50 {:.0} ms, CPU p50 {:.0} ms, peak RSS p50 {:.0} MiB",
                size_name(n),
                m(|r| r.wall_ms),
                m(|r| r.cpu_ms),
                m(|r| r.peak_kib as f64) / 1024.0
            );
            rows.push((size_name(n), snap_bytes, policy.clone(), first, all));
        }
    }
    let _ = std::fs::remove_file(&out);

    println!(
        "cold `chaintrace trace` (new process, 100 seeds, {} hops, hub degree {HUB_DEGREE}, over the fresh snapshot, page cache warm; p50 of {runs} runs, each another seed set):",
        hops()
    );
    println!(
        "{:>5} {:>9} {:>8} {:>10} {:>9} {:>10} {:>11} {:>10} {:>10} {:>9} {:>9} {:>12}",
        "store",
        "snapshot",
        "policy",
        "wall p50",
        "CPU p50",
        "peak RSS",
        "(max)",
        "anon p50",
        "file p50",
        "nodes",
        "edges",
        "first run"
    );
    for (size, snap, policy, first, all) in &rows {
        let m = |f: fn(&Run) -> f64| median(all.iter().map(f).collect());
        let max_peak = all.iter().map(|r| r.peak_kib).max().unwrap_or(0);
        println!(
            "{:>5} {:>5} MiB {:>8} {:>7.0} ms {:>6.0} ms {:>6.0} MiB {:>7.0} MiB {:>6.0} MiB {:>6.0} MiB {:>9.0} {:>9.0} {:>9.0} ms",
            size,
            snap / 1048576,
            policy,
            m(|r| r.wall_ms),
            m(|r| r.cpu_ms),
            m(|r| r.peak_kib as f64) / 1024.0,
            max_peak as f64 / 1024.0,
            m(|r| r.anon_kib as f64) / 1024.0,
            m(|r| r.file_kib as f64) / 1024.0,
            m(|r| r.nodes as f64),
            m(|r| r.edges as f64),
            first.wall_ms
        );
    }
    println!(
        "peak RSS counts mapped file pages: `anon` is the process's own memory, `file` the snapshot's pages it \
         mapped (page cache, shared and reclaimable) plus the binary's"
    );
}
