//! Benchmark (not a test): a 6-hop trace from 100 seeds over a generated store of at least
//! 10 million transfers. Prints p50/p99 latency per policy and the process's peak RSS during
//! the traces.
//!
//! ```text
//! cargo bench -p chaintrace-cli --bench trace
//! CHAINTRACE_BENCH_DIR=/path CHAINTRACE_BENCH_TRANSFERS=10000000 CHAINTRACE_BENCH_RUNS=30 cargo bench …
//! ```
//!
//! The store is generated once (deterministically) and reused on later runs: see [`generated`].
// A benchmark reports its figures on stdout and its progress on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use chaintrace_testkit::rng::Rng;
use chaintrace_tracer::{trace, Policy, TraceOptions};

// Not every item of the shared generator is used by each bench.
#[allow(dead_code)]
mod generated;
use generated::{open_or_generate, ordinary, ScanFirst, CHAIN, ORDINARY};

/// The binary's store adapter, compiled into the bench as it is into the binary (its `pub`
/// items are the binary's; here they are unreachable, and not all are used).
#[allow(dead_code, unreachable_pub)]
#[path = "../src/adapters/source.rs"]
mod source;
use source::StoreSource;

fn peak_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn reset_peak_rss() {
    // Linux: writing 5 to clear_refs resets VmHWM to the current RSS
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a list
    }
    let total: u64 =
        std::env::var("CHAINTRACE_BENCH_TRANSFERS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let runs: usize = std::env::var("CHAINTRACE_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let dir = std::env::var("CHAINTRACE_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join(format!("chaintrace-bench-{total}")));
    let store = open_or_generate(&dir, total);
    let stats = store.stats().expect("stats");
    let chain = &stats.chains[CHAIN];
    println!("store: {} transfers, {} addresses, {} blocks", chain.transfers, chain.addresses, chain.blocks);
    let tip = chain.tip_height.unwrap_or(0);

    let src = StoreSource::new(&store, CHAIN, false);
    let mut rng = Rng::new(7);
    let policies: Vec<Policy> = std::env::var("CHAINTRACE_BENCH_POLICIES")
        .unwrap_or_else(|_| "poison,haircut,fifo".into())
        .split(',')
        .map(|p| p.parse().expect("CHAINTRACE_BENCH_POLICIES: poison, haircut, fifo"))
        .collect();
    for policy in policies {
        reset_peak_rss();
        let base = peak_rss_kib();
        let mut lat = Vec::new();
        let (mut nodes, mut edges, mut deps, mut read) = (0usize, 0usize, 0usize, 0u64);
        let mut phases = [0u64; 4];
        for _ in 0..runs {
            // 100 seeds active in the first half of the chain: senders of random early transfers
            let mut seeds = Vec::new();
            while seeds.len() < 100 {
                let h = rng.below(tip / 2 + 1);
                let t = store.scan_first(CHAIN, h).unwrap_or_else(|| ordinary(rng.below(ORDINARY)));
                if !seeds.contains(&t) {
                    seeds.push(t);
                }
            }
            let mut o = TraceOptions::new(seeds, "ETH", 18);
            o.hops = 6;
            o.policy = policy;
            o.hub_degree = 1000;
            let t0 = Instant::now();
            let r = trace(&src, &o).expect("trace");
            lat.push(t0.elapsed().as_secs_f64() * 1000.0);
            nodes += r.nodes.len();
            edges += r.edges.len();
            deps += r.deposits.len();
            read += r.stats.transfers_read;
            phases[0] += r.stats.discover_us;
            phases[1] += r.stats.replay_us;
            phases[2] += r.stats.assemble_us;
            phases[3] += r.stats.lookups;
        }
        lat.sort_by(|a, b| a.total_cmp(b));
        let n = runs as f64;
        println!(
            "{policy:>7}: {runs} runs of 6 hops from 100 seeds: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; \
             mean {:.0} nodes, {:.0} traced edges, {:.0} deposits, {:.0} transfers read; peak RSS {} MiB (+{} MiB over the open store)",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat.last().copied().unwrap_or(0.0),
            nodes as f64 / n,
            edges as f64 / n,
            deps as f64 / n,
            read as f64 / n,
            peak_rss_kib() / 1024,
            peak_rss_kib().saturating_sub(base) / 1024,
        );
        println!(
            "         mean phases: discover {:.0} ms, replay {:.0} ms, assemble {:.0} ms; {:.0} label/degree look-ups",
            phases[0] as f64 / n / 1000.0,
            phases[1] as f64 / n / 1000.0,
            phases[2] as f64 / n / 1000.0,
            phases[3] as f64 / n
        );
    }
}
