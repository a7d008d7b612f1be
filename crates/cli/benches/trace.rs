//! Benchmark (not a test): a 6-hop trace from 100 seeds over a generated store of 10 million
//! transfers, through the chain's graph snapshot (what `chaintrace trace` reads when it is
//! fresh), next to the same time-respecting poison reachability in DuckDB and ladybug.
//!
//! Prints, per policy (poison, haircut, fifo): p50/p99/max latency (after one untimed warm-up
//! trace from other seeds, whose time is printed beside them), phases and peak RSS; the
//! same first trace over the store (no snapshot) with its time and a byte-for-byte comparison of
//! the two case files; the snapshot's build time and size; the cold `chaintrace trace` process
//! (a new process on the same store, page cache warm, then with the snapshot file evicted); when
//! poison ran, the peers' question alone (`chaintrace_tracer::reach`) over every seed set, each
//! answer checked against the poison trace's nodes and hops; then the peers' load and query times
//! on an edge export of the same store, each checked to reach exactly chaintrace's poison node
//! set and reach's, and both of chaintrace's ratios to the faster peer (reach, and the trace).
//! After each policy's runs, the floor under its traces on this machine ([`read_floor`]): the
//! reads a trace made, as the kernel counted them, priced at what a random read of the snapshot
//! file costs here with `pread` and from memory.
//!
//! ```text
//! cargo bench -p chaintrace-cli --bench trace
//! CHAINTRACE_BENCH_TRANSFERS=1000000 CHAINTRACE_BENCH_RUNS=30 CHAINTRACE_BENCH_GRAPH=powerlaw cargo bench …
//! ```
//!
//! Environment: `CHAINTRACE_BENCH_DIR` (the generated store; default a temp dir per size and
//! graph), `CHAINTRACE_BENCH_TRANSFERS` (10,000,000), `CHAINTRACE_BENCH_RUNS` (30),
//! `CHAINTRACE_BENCH_POLICIES` (poison,haircut,fifo), `CHAINTRACE_BENCH_GRAPH` (uniform or
//! powerlaw), `CHAINTRACE_BENCH_PEERS` (1; 0 skips them), `CHAINTRACE_BENCH_PEER_RUNS` (3),
//! `CHAINTRACE_BENCH_GROW` (none; e.g. `10,100,1000`: for each, the uniform store grows by that
//! many blocks of 1,000 transfers, the snapshot is caught up with them and traced over, then
//! the store is rolled back to its tip: [`grown_runs`]), `CHAINTRACE_BENCH_FLOOR` (1; 0 skips
//! the read floor), `CHAINTRACE_BENCH_RESIDENT` (0; 1 holds the snapshot file in the process,
//! [`chaintrace_snapshot::Snapshot::hold_resident`]: what the memory goal refuses, measured).
//! The peers are installed from PyPI into a venv under `$CHAINTRACE_TOOLS/bench-peers` on the
//! first run (`duckdb`, `ladybug`); a peer that cannot be installed or run is reported loudly and
//! the chaintrace figures still print.
// A benchmark reports its figures on stdout and its progress on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chaintrace_model::{Address, Asset, Direction, Provenance};
use chaintrace_store::Store;
use chaintrace_tracer::case::{case_file, CaseContext, ChainCase};
use chaintrace_tracer::{reach_by, trace, Policy, PriceBook, ReachBy, Trace, TraceOptions};

// Not every item of the shared generator is used by each bench.
#[allow(dead_code)]
mod generated;
// Not every shared helper is used by each bench.
#[allow(dead_code)]
mod figures;
use figures::{env_u64, percentile, process_cpu_ns};
use generated::{open_or_generate_graph, Graph, CHAIN};

#[path = "../src/memory.rs"]
mod memory;
#[allow(dead_code, unreachable_pub)]
#[path = "../src/adapters/snapshot.rs"]
mod snapshot;
/// The binary's store adapter and snapshot glue, compiled into the bench as they are into the
/// binary (their `pub(crate)` items are the binary's; not all are used here).
#[allow(dead_code, unreachable_pub)]
#[path = "../src/adapters/source.rs"]
mod source;
use source::StoreSource;

const HOPS: u32 = 6;
const HUB_DEGREE: u64 = 1000;

fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

fn status_kib(field: &str) -> u64 {
    proc_field(&std::fs::read_to_string("/proc/self/status").unwrap_or_default(), field)
}

/// The number after `field` (`VmHWM:`, `syscr:` …) in the text of a `/proc` file, 0 when absent.
fn proc_field(text: &str, field: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn reset_peak_rss() {
    // Linux: writing 5 to clear_refs resets VmHWM to the current RSS
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn options(seeds: &[Address], policy: Policy) -> TraceOptions {
    let mut o = TraceOptions::new(seeds.to_vec(), "ETH", 18);
    o.hops = HOPS;
    o.policy = policy;
    o.hub_degree = HUB_DEGREE;
    o
}

/// The case file's bytes, as `chaintrace trace --out` would write them (no prices).
fn case_bytes(t: &Trace) -> String {
    let prices = PriceBook::new(None);
    let symbols = BTreeMap::new();
    let ctx = CaseContext {
        chains: vec![ChainCase { name: CHAIN, evm: true, price_symbols: &symbols }],
        prices: &prices,
        provenance: Provenance::default(),
        seeds_label: None,
        since_text: None,
        until_text: None,
    };
    case_file(t, &ctx).to_json()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a list
    }
    // as the binary does (CHAINTRACE_BENCH_MALLOPT=0: the allocator's defaults, to compare)
    if env_u64("CHAINTRACE_BENCH_MALLOPT", 1) == 1 {
        memory::keep_freed_memory();
    }
    let total = env_u64("CHAINTRACE_BENCH_TRANSFERS", 10_000_000);
    let runs = env_u64("CHAINTRACE_BENCH_RUNS", 30) as usize;
    let graph = Graph::from_env();
    let dir = std::env::var("CHAINTRACE_BENCH_DIR").map(PathBuf::from).unwrap_or_else(|_| graph.default_dir(total));
    let store = open_or_generate_graph(&dir, total, graph);
    if graph == Graph::Uniform {
        // blocks above the generated ones are a CHAINTRACE_BENCH_GROW run's that did not finish
        let last = total.div_ceil(generated::PER_BLOCK) - 1;
        let tip = store.stats().expect("stats").chains.get(CHAIN).and_then(|c| c.tip_height);
        if tip.is_some_and(|t| t > last) {
            eprintln!("rolling back the blocks above {last} a grown-store run left");
            store.rollback_to(CHAIN, last).expect("roll back to the generated blocks");
        }
    }
    let stats = store.stats().expect("stats");
    let chain = &stats.chains[CHAIN];
    println!(
        "store ({graph:?} graph): {} transfers, {} addresses, {} blocks; {:.0} MiB on disk",
        chain.transfers,
        chain.addresses,
        chain.blocks,
        generated::dir_bytes(&dir.join("store")) as f64 / 1048576.0
    );
    let tip = chain.tip_height.unwrap_or(0);

    // the snapshot: built once per store state, as `chaintrace snapshot` does
    let snap = match snapshot::status(&store, CHAIN).expect("snapshot status") {
        snapshot::Status::Fresh(s) => s,
        _ => {
            let t0 = Instant::now();
            let b = snapshot::build(&store, CHAIN).expect("build snapshot").expect("chain");
            println!(
                "snapshot built in {:.1} s: {} transfers, {} addresses, {:.0} MiB ({:.0} bytes per transfer)",
                t0.elapsed().as_secs_f64(),
                b.transfers,
                b.addresses,
                b.bytes as f64 / 1048576.0,
                b.bytes as f64 / b.transfers.max(1) as f64
            );
            match snapshot::status(&store, CHAIN).expect("status") {
                snapshot::Status::Fresh(s) => s,
                _ => panic!("the snapshot just built is not fresh"),
            }
        }
    };
    println!("snapshot: {} ({:.0} MiB)", snap.path(), snap.file_len() as f64 / 1048576.0);
    // as the workbench does at start: a file partly evicted since it was built is cached in read
    // order again (the traces' random reads would bring it back fragmented, and slower)
    println!("snapshot page cache: {}", snap.recache());
    // (what the memory goal refuses, measured: the whole file in the process, read from memory)
    if env_u64("CHAINTRACE_BENCH_RESIDENT", 0) == 1 {
        let at = Instant::now();
        let bytes = snap.hold_resident();
        println!(
            "snapshot held resident (CHAINTRACE_BENCH_RESIDENT=1): {:.0} MiB mapped into the process in {:.2} s; \
             its reads copy from memory, and peak RSS grows by the file's size (over the memory goal at 10M)",
            bytes as f64 / 1048576.0,
            at.elapsed().as_secs_f64()
        );
    }

    let over_snap = StoreSource::new(&store, CHAIN, false).with_snapshot(Some(&snap));
    let over_store = StoreSource::new(&store, CHAIN, false);
    // one set more than the timed runs: each policy's warm-up trace (the same sets as before
    // come first: the generator draws them in order)
    let mut seeds = generated::seed_sets(&store, CHAIN, runs.max(1) + 1, tip);
    let warm_up = seeds.pop().expect("a warm-up seed set");
    // the first set beside the store, to run `chaintrace trace` by hand on the same seeds
    let first: Vec<String> = seeds[0].iter().map(|a| a.to_string()).collect();
    std::fs::write(dir.join("seeds.txt"), first.join(" ") + "\n").expect("write seeds.txt");
    let policies: Vec<Policy> = std::env::var("CHAINTRACE_BENCH_POLICIES")
        .unwrap_or_else(|_| "poison,haircut,fifo".into())
        .split(',')
        .map(|p| p.parse().expect("CHAINTRACE_BENCH_POLICIES: poison, haircut, fifo"))
        .collect();
    let mut poison_nodes: Vec<BTreeSet<Address>> = Vec::new();
    let mut cold_policy = Vec::new();
    let mut poison_p50 = None;
    for policy in policies {
        reset_peak_rss();
        let base = peak_rss_kib();
        let mut lat = Vec::new();
        let mut cpu = Vec::new();
        let (mut nodes, mut edges, mut deps, mut read) = (0usize, 0usize, 0usize, 0u64);
        let mut phases = [0u64; 4];
        // the walk over ids' parts: discovery's reads and its sequential passes, the edges, the
        // addresses and nodes, the hash reads (summed over threads)
        let mut parts = [0u64; 5];
        // runs whose replay opened holdings as traced funds reached them (FIFO, unless too many)
        let mut opening = 0;
        // "warm, in process": one untimed trace from other seeds first, so the timed runs do not
        // pay the process's first touch of the snapshot's mapped index and of fresh heap (in a
        // process that has just generated the store, that first trace took 2.6× the p50)
        let t0 = Instant::now();
        trace(&over_snap, &options(&warm_up, policy)).expect("warm-up trace");
        let warm_ms = t0.elapsed().as_secs_f64() * 1000.0;
        let io_before = io_counts();
        for s in &seeds {
            let (t0, c0) = (Instant::now(), process_cpu_ns());
            let r = trace(&over_snap, &options(s, policy)).expect("trace");
            lat.push(t0.elapsed().as_secs_f64() * 1000.0);
            cpu.push(process_cpu_ns().saturating_sub(c0) as f64 / 1e6);
            nodes += r.nodes.len();
            edges += r.edges.len();
            deps += r.deposits.len();
            read += r.stats.transfers_read;
            phases[0] += r.stats.discover_us;
            phases[1] += r.stats.replay_us;
            phases[2] += r.stats.assemble_us;
            phases[3] += r.stats.lookups;
            let st = &r.stats;
            for (p, us) in parts.iter_mut().zip([
                st.discover_reads_us,
                st.discover_pass_us,
                st.edges_us,
                st.nodes_us,
                st.hashes_us,
            ]) {
                *p += us;
            }
            opening += usize::from(r.stats.opening_replay);
            if policy == Policy::Poison && poison_nodes.len() < env_u64("CHAINTRACE_BENCH_PEER_RUNS", 3) as usize {
                poison_nodes.push(r.nodes.keys().map(|(_, a)| a.clone()).collect());
            }
        }
        let io_after = io_counts();
        // the timed runs' memory (the walks over the store come after every timed run, below)
        let (peak, over_base) = (peak_rss_kib(), peak_rss_kib().saturating_sub(base));

        // which run was the slowest (the first, in a process that just generated the store?)
        let slowest = (0..lat.len()).max_by(|&a, &b| lat[a].total_cmp(&lat[b])).map_or(0, |i| i + 1);
        lat.sort_by(|a, b| a.total_cmp(b));
        cpu.sort_by(|a, b| a.total_cmp(b));
        let n = lat.len() as f64;
        if policy == Policy::Poison {
            poison_p50 = Some(percentile(&lat, 0.5));
        }
        println!(
            "{policy:>7}: {} runs of {HOPS} hops from 100 seeds over the snapshot: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (run {slowest}); \
             mean {:.0} nodes, {:.0} traced edges, {:.0} deposits, {:.0} transfers read; peak RSS {} MiB (+{} MiB over the open store); \
             the warm-up trace before them (other seeds, not counted) {warm_ms:.1} ms",
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat.last().copied().unwrap_or(0.0),
            nodes as f64 / n,
            edges as f64 / n,
            deps as f64 / n,
            read as f64 / n,
            peak / 1024,
            over_base / 1024,
        );
        println!(
            "         CPU time per trace, both threads (excludes waiting for a core): p50 {:.1} ms, p99 {:.1} ms",
            percentile(&cpu, 0.5),
            percentile(&cpu, 0.99)
        );
        println!(
            "         mean phases: discover {:.1} ms, replay {:.1} ms, assemble {:.1} ms; {:.0} label/degree look-ups; \
             replay opened holdings as traced funds reached them in {opening} of {} runs",
            phases[0] as f64 / n / 1000.0,
            phases[1] as f64 / n / 1000.0,
            phases[2] as f64 / n / 1000.0,
            phases[3] as f64 / n,
            lat.len()
        );
        let [reads, pass, edges_us, nodes_us, hashes_us] = parts.map(|us| us as f64 / n / 1000.0);
        println!(
            "         of them (mean): discovery's list reads {reads:.1} ms and its sequential passes {pass:.1} ms; \
             the edges {edges_us:.1} ms; the nodes (and poison's edges made) {nodes_us:.1} ms beside the \
             addresses and hash reads ({hashes_us:.1} ms of hash reads summed over both threads)"
        );
        if env_u64("CHAINTRACE_BENCH_FLOOR", 1) == 1 {
            let per = |i: usize| (io_after[i].saturating_sub(io_before[i])) as f64 / n;
            read_floor(Path::new(snap.path()), policy, per(0), per(1), percentile(&cpu, 0.5));
        }
        cold_policy.push(policy);
    }

    // the peers' question alone: poison reachability (`reach`: the discovery and one pass over
    // its rows, no edges, hashes, roles or deposits), each answer checked after its timing
    // against the poison trace's nodes and hops on the same seeds
    let (mut reach_p50, mut reach_nodes) = (None, Vec::new());
    if cold_policy.contains(&Policy::Poison) {
        let check = env_u64("CHAINTRACE_BENCH_CHECK", 1) == 1;
        // what each answer is checked against: the poison trace's nodes and hops
        let wants: Vec<Vec<(Address, u32)>> = if check {
            let nodes = |s: &Vec<Address>| {
                let t = trace(&over_snap, &options(s, Policy::Poison)).expect("trace");
                t.nodes.iter().map(|((_, a), n)| (a.clone(), n.hop)).collect()
            };
            seeds.iter().map(nodes).collect()
        } else {
            Vec::new()
        };
        // how `reach` picks (the figure the peers are compared with), then each way alone: the
        // lists level by level, one pass over the chain-order stream
        for by in [ReachBy::Auto, ReachBy::Lists, ReachBy::Chain] {
            let (mut lat, mut nodes, mut phases, mut scans) = (Vec::new(), 0usize, [0u64; 3], 0);
            let mut equal = 0;
            for (i, s) in seeds.iter().enumerate() {
                let t0 = Instant::now();
                let r = reach_by(&over_snap, &options(s, Policy::Poison), by).expect("reach");
                lat.push(t0.elapsed().as_secs_f64() * 1000.0);
                assert!(r.stats.dense, "reach over the snapshot ran over ids");
                nodes += r.nodes.len();
                if by == ReachBy::Auto && reach_nodes.len() < poison_nodes.len() {
                    reach_nodes.push(r.nodes.iter().map(|(a, _)| a.clone()).collect());
                }
                phases[0] += r.stats.discover_us;
                phases[1] += r.stats.replay_us;
                phases[2] += r.stats.discover_lists_us;
                scans += usize::from(r.stats.chain_scan);
                if let Some(want) = wants.get(i) {
                    if &r.nodes != want {
                        // what differs, in short (the lists are long)
                        let got: BTreeMap<&Address, u32> = r.nodes.iter().map(|(a, h)| (a, *h)).collect();
                        let exp: BTreeMap<&Address, u32> = want.iter().map(|(a, h)| (a, *h)).collect();
                        let diff: Vec<String> = exp
                            .iter()
                            .filter(|(a, h)| got.get(*a) != Some(*h))
                            .map(|(a, h)| format!("{a}: want {h}, got {:?}", got.get(*a)))
                            .chain(
                                got.iter()
                                    .filter(|(a, _)| !exp.contains_key(*a))
                                    .map(|(a, h)| format!("{a}: extra {h}")),
                            )
                            .take(12)
                            .collect();
                        // the walk over addresses (the store's own reads) as the referee
                        let t = trace(&over_store, &options(s, Policy::Poison)).expect("trace over the store");
                        let store_nodes: Vec<(Address, u32)> =
                            t.nodes.iter().map(|((_, a), n)| (a.clone(), n.hop)).collect();
                        panic!(
                            "reach ({by:?}) differs from the poison trace's nodes (seed set {i}; the walk over the store \
                             agrees with the trace: {}, with reach: {}): {diff:#?}",
                            &store_nodes == want,
                            store_nodes == r.nodes
                        );
                    }
                    equal += 1;
                }
            }
            lat.sort_by(|a, b| a.total_cmp(b));
            let n = lat.len() as f64;
            if by == ReachBy::Auto {
                reach_p50 = Some(percentile(&lat, 0.5));
            }
            let how = match by {
                ReachBy::Auto => "reach",
                ReachBy::Lists => "reach over the lists alone",
                ReachBy::Chain => "reach over the chain alone",
            };
            println!(
                "  {how}: {} runs of poison reachability ({HOPS} hops, 100 seeds, over the snapshot): p50 {:.1} ms, \
                 p99 {:.1} ms; mean {:.0} addresses; {scans} runs by one pass over the chain-order stream; mean \
                 discovery {:.1} ms (of it the lists read before a pass over the chain took over {:.1} ms), the \
                 reached addresses {:.1} ms; equal to the poison trace's nodes and hops in {}",
                lat.len(),
                percentile(&lat, 0.5),
                percentile(&lat, 0.99),
                nodes as f64 / n,
                phases[0] as f64 / n / 1000.0,
                phases[2] as f64 / n / 1000.0,
                phases[1] as f64 / n / 1000.0,
                if check { format!("{equal}/{} runs", lat.len()) } else { "(not checked)".into() }
            );
        }
    }
    // the first seed set traced over the store too, for each policy, and the case files compared
    // byte for byte — after every timed run: a walk over the store allocates hundreds of MiB
    // that the allocator keeps, and done between the policies it slowed the next one's runs
    // (FIFO p50 83–95 ms after the poison and haircut walks, 54–66 ms without them)
    // (CHAINTRACE_BENCH_CHECK=0 skips it, e.g. under a profiler)
    if env_u64("CHAINTRACE_BENCH_CHECK", 1) == 1 {
        for &policy in &cold_policy {
            let t0 = Instant::now();
            let reference = trace(&over_store, &options(&seeds[0], policy)).expect("trace over the store");
            let store_ms = t0.elapsed().as_secs_f64() * 1000.0;
            let first = trace(&over_snap, &options(&seeds[0], policy)).expect("trace over the snapshot");
            let same = case_bytes(&reference) == case_bytes(&first);
            assert!(same, "{policy}: the case file over the snapshot differs from the one over the store");
            println!(
                "{policy:>7}: the first seed set over the store: {store_ms:.0} ms; case files over the snapshot \
                 and over the store identical: {same}"
            );
            // hand the walk over the store's memory back (the heap keeps freed blocks for the next
            // trace: `memory::keep_freed_memory`)
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            // SAFETY: malloc_trim only releases free heap memory.
            unsafe {
                libc::malloc_trim(0);
            }
        }
    }
    if let Ok(grow) = std::env::var("CHAINTRACE_BENCH_GROW") {
        assert_eq!(graph, Graph::Uniform, "CHAINTRACE_BENCH_GROW grows the uniform graph");
        let blocks = grow.split(',').map(|n| n.trim().parse().expect("CHAINTRACE_BENCH_GROW: numbers of blocks"));
        for n in blocks {
            grown_runs(&store, total, tip, n, &seeds, &cold_policy);
        }
    }

    let peers = env_u64("CHAINTRACE_BENCH_PEERS", 1) == 1 && !poison_nodes.is_empty();
    let export = if peers { Some(export_edges(&store, &dir, &seeds[..poison_nodes.len()])) } else { None };
    let snap_path = PathBuf::from(snap.path());
    drop(over_snap);
    drop(over_store);
    drop(snap);
    drop(store);

    // cold process: `chaintrace trace` started afresh on the store (page cache warm), then
    // again with the snapshot file dropped from the page cache (as after a reboot, or after
    // the kernel paged it out; the store's own files stay cached)
    for policy in &cold_policy {
        cold_trace(&dir, &seeds[0], *policy, "page cache warm");
    }
    for policy in &cold_policy {
        if evict(&snap_path) {
            cold_trace(&dir, &seeds[0], *policy, "snapshot file evicted from the page cache");
        }
    }

    if let Some(ex) = export {
        run_peers(&ex, &poison_nodes, &reach_nodes, poison_p50.unwrap_or(f64::NAN), reach_p50.unwrap_or(f64::NAN));
    } else {
        println!("peers: skipped (CHAINTRACE_BENCH_PEERS=0 or no poison runs)");
    }
}

/// Read system calls and bytes this process has made so far (`syscr`, `rchar` of
/// `/proc/self/io`: the kernel's own count; reading the file is one call more).
fn io_counts() -> [u64; 2] {
    let s = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    [proc_field(&s, "syscr:"), proc_field(&s, "rchar:")]
}

/// What reading the snapshot's bytes costs on this machine, measured on its file: `(ns per
/// read, ns per byte)` fitted from random reads of two sizes, with `pread` (how the traces read
/// it) and from a mapping of the whole file whose pages are all mapped before the clock starts
/// (what a copy held in memory could give at best: no system call, no page fault, only the
/// memory's own latency). `None` for a file too small to read at random at those sizes.
fn read_costs(path: &Path) -> Option<([f64; 2], [f64; 2])> {
    use std::os::unix::fs::FileExt;
    const READS: usize = 20_000;
    const SIZES: [usize; 2] = [256, 16 << 10];
    let file = std::fs::File::open(path).expect("open the snapshot file");
    let len = file.metadata().expect("snapshot file size").len() as usize;
    if len <= 4 * SIZES[1] {
        return None;
    }
    // SAFETY: a read-only mapping of a file nothing writes while the bench runs (a snapshot
    // file is replaced by a rename, never written in place).
    let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) }.expect("map the snapshot file");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    // fresh random offsets for every measurement (nothing read is still in the CPU's caches),
    // read in ascending order as a trace reads a hop's lists (by id, so by place in the file):
    // the kinder order, so the figures are a floor
    let mut offsets = |size: usize| -> Vec<usize> {
        let mut at: Vec<usize> = (0..READS)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % (len - size) as u64) as usize
            })
            .collect();
        at.sort_unstable();
        at
    };
    let mut buf = vec![0u8; SIZES[1]];
    let mut timed = |size: usize, mapped: bool| -> f64 {
        let at = offsets(size);
        let t0 = Instant::now();
        let mut sum = 0u64;
        for &a in &at {
            let bytes: &[u8] = if mapped {
                &map[a..a + size]
            } else {
                file.read_exact_at(&mut buf[..size], a as u64).expect("pread the snapshot file");
                &buf[..size]
            };
            // every cache line of the span read
            sum = bytes.iter().step_by(64).fold(sum, |s, &b| s.wrapping_add(u64::from(b)));
        }
        std::hint::black_box(sum);
        t0.elapsed().as_nanos() as f64 / READS as f64
    };
    let mut fit = |mapped: bool| -> [f64; 2] {
        // the least of three tries at each size: a floor, and steadier on a shared machine
        let [small, large] = SIZES.map(|size| (0..3).map(|_| timed(size, mapped)).fold(f64::INFINITY, f64::min));
        let per_byte = ((large - small) / (SIZES[1] - SIZES[0]) as f64).max(0.0);
        [(small - per_byte * SIZES[0] as f64).max(0.0), per_byte]
    };
    Some((fit(false), fit(true)))
}

/// The floor under a policy's traces on this machine, measured right after them (the machine's
/// speed drifts): the `reads` system calls and `bytes` a trace made (means, counted by the
/// kernel) priced at what reading the snapshot costs here ([`read_costs`]), with `pread` and as
/// if the file were all in memory — beside the trace's CPU time and what the goal allows on this
/// machine's cores.
fn read_floor(path: &Path, policy: Policy, reads: f64, bytes: f64, cpu_p50: f64) {
    let Some(([pr_read, pr_byte], [mem_read, mem_byte])) = read_costs(path) else {
        println!("         read floor: skipped (the snapshot file is too small to read at random)");
        return;
    };
    let cost = |per_read: f64, per_byte: f64| (reads * per_read + bytes * per_byte) / 1e6;
    // the issue's goals for the 10M benchmark graph, p50 wall clock
    let goal = match policy {
        Policy::Poison => 20.0,
        Policy::Haircut => 50.0,
        Policy::Fifo => 80.0,
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "         read floor: {reads:.0} reads of {:.1} MB a trace (/proc/self/io); a random read of the snapshot file \
         here costs {:.2} µs + {:.2} ns a byte with pread, {:.2} µs + {:.2} ns a byte from memory already mapped: \
         {:.1} ms of CPU with pread, {:.1} ms from memory, against the trace's CPU p50 {cpu_p50:.1} ms and the \
         {goal:.0} ms goal's {:.0} ms of CPU on this machine's {cores} core(s)",
        bytes / 1e6,
        pr_read / 1000.0,
        pr_byte,
        mem_read / 1000.0,
        mem_byte,
        cost(pr_read, pr_byte),
        cost(mem_read, mem_byte),
        goal * cores as f64
    );
}

/// The store grown by `n` blocks above its tip `tip`: the time the first look-up takes to catch
/// the snapshot up with them (reading them from the store into memory) and the memory that
/// holds them, then per policy the traces over the caught-up snapshot (p50, and how many of
/// each case's edges lie in the grown blocks), the first one's case file compared byte for byte
/// with the same trace over the store; a fold of the caught-up snapshot beside a build of the
/// grown store; and one block more, caught up further. The store is rolled back to `tip`
/// afterwards, which makes the snapshot fresh again.
fn grown_runs(store: &Store, total: u64, tip: u64, n: u64, seeds: &[Vec<Address>], policies: &[Policy]) {
    let t0 = Instant::now();
    let rolled_back = RollBack(store, tip);
    generated::grow(store, total, tip, n);
    let grow_s = t0.elapsed().as_secs_f64();
    let (t0, rss0) = (Instant::now(), status_kib("VmRSS:"));
    let snap = match snapshot::status(store, CHAIN).expect("snapshot status") {
        snapshot::Status::CaughtUp(s) => s,
        _ => panic!("the snapshot of the grown store is not caught up"),
    };
    let catch_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let held = status_kib("VmRSS:").saturating_sub(rss0);
    println!(
        "grown by {n} blocks ({} transfers, stored in {grow_s:.1} s): the snapshot caught up in {catch_ms:.0} ms, \
         holding them in {} MiB",
        snap.later_transfers(),
        held / 1024
    );
    let over_snap = StoreSource::new(store, CHAIN, false).with_snapshot(Some(&snap));
    let over_store = StoreSource::new(store, CHAIN, false);
    for &policy in policies {
        let mut lat = Vec::new();
        let (mut edges, mut later) = (0usize, 0usize);
        for s in seeds {
            let t0 = Instant::now();
            let r = trace(&over_snap, &options(s, policy)).expect("trace over the caught-up snapshot");
            lat.push(t0.elapsed().as_secs_f64() * 1000.0);
            edges += r.edges.len();
            later += r.edges.iter().filter(|e| e.transfer.height > tip).count();
        }
        let mut same = None;
        if env_u64("CHAINTRACE_BENCH_CHECK", 1) == 1 {
            let reference = trace(&over_store, &options(&seeds[0], policy)).expect("trace over the store");
            let first = trace(&over_snap, &options(&seeds[0], policy)).expect("trace over the snapshot");
            same = Some(case_bytes(&reference) == case_bytes(&first));
            assert_eq!(
                same,
                Some(true),
                "{policy}: the case file over the caught-up snapshot differs from the store's"
            );
        }
        lat.sort_by(|a, b| a.total_cmp(b));
        let runs = lat.len() as f64;
        println!(
            "{policy:>7} over the caught-up snapshot: p50 {:.1} ms, p99 {:.1} ms; mean {:.0} traced edges, {:.0} of them \
             in the grown blocks; case files identical with the store's: {}",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            edges as f64 / runs,
            later as f64 / runs,
            same.map_or("not checked".into(), |s| s.to_string())
        );
    }
    // `chaintrace snapshot` on it: the file and the later transfers written as one (here beside
    // the snapshot, which stays the base state's), against a build from the grown store
    let folded = PathBuf::from(format!("{}.folded", snap.path()));
    let t0 = Instant::now();
    let f = snap.write_folded(&folded).expect("fold");
    let fold_s = t0.elapsed().as_secs_f64();
    let mut check = String::from("not checked");
    if env_u64("CHAINTRACE_BENCH_CHECK", 1) == 1 {
        let built = PathBuf::from(format!("{}.built", snap.path()));
        let t0 = Instant::now();
        snapshot::build_at(store, CHAIN, &built).expect("build the grown store's snapshot").expect("chain");
        let build_s = t0.elapsed().as_secs_f64();
        let same = std::fs::read(&folded).expect("read") == std::fs::read(&built).expect("read");
        assert!(same, "the folded snapshot differs from a build of the grown store");
        check = format!("a build from the store took {build_s:.1} s; the files are identical: {same}");
        std::fs::remove_file(&built).expect("remove the built file");
    }
    std::fs::remove_file(&folded).expect("remove the folded file");
    println!(
        "        folded into one file in {fold_s:.1} s ({} transfers, {:.0} MiB); {check}",
        f.transfers,
        f.bytes as f64 / 1048576.0
    );
    // one block more, as the workbench sees the store grow again between two requests: the
    // snapshot it keeps is caught up further (in place: no trace holds it), reading the new
    // block only
    drop(over_snap);
    drop(snap);
    generated::grow(store, total, tip + n, 1);
    let t0 = Instant::now();
    let status = snapshot::status(store, CHAIN).expect("snapshot status");
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    match status {
        snapshot::Status::CaughtUp(s) => println!(
            "        one block more: caught up further in {ms:.0} ms (now {} later transfers)",
            s.later_transfers()
        ),
        _ => println!("        one block more: over the catch-up budget, stale ({ms:.0} ms)"),
    }
    drop(rolled_back);
    assert!(
        matches!(snapshot::status(store, CHAIN).expect("snapshot status"), snapshot::Status::Fresh(_)),
        "rolled back, the snapshot is fresh again"
    );
}

/// Rolls the store back to block `.1` when dropped: a grown-store run leaves the store as it
/// found it, a failed check included.
struct RollBack<'s>(&'s Store, u64);

impl Drop for RollBack<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.rollback_to(CHAIN, self.1) {
            eprintln!("rolling the grown blocks back failed: {e}");
        }
    }
}

/// Drops `path`'s pages from the page cache (`POSIX_FADV_DONTNEED`); false where that cannot be
/// asked (then the evicted runs are not made, and say so).
fn evict(path: &Path) -> bool {
    #[cfg(target_os = "linux")]
    if let Ok(f) = std::fs::File::open(path) {
        use std::os::fd::AsRawFd;
        // SAFETY: an advice on an open descriptor
        if unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) } == 0 {
            return true;
        }
    }
    println!(
        "cold `chaintrace trace` with the snapshot evicted: not measured (cannot drop {} from the page cache here)",
        path.display()
    );
    false
}

fn cold_trace(dir: &Path, seeds: &[Address], policy: Policy, cache: &str) {
    let bin = env!("CARGO_BIN_EXE_chaintrace");
    let out = std::env::temp_dir().join(format!("chaintrace-bench-cold-{}.json", std::process::id()));
    let mut cmd = std::process::Command::new(bin);
    cmd.arg("--store")
        .arg(dir.join("store"))
        .args(["trace", "--chain", CHAIN, "--hops", &HOPS.to_string(), "--hub-degree", &HUB_DEGREE.to_string()])
        .args(["--policy", &policy.to_string(), "--out"])
        .arg(&out)
        .args(seeds.iter().map(|a| a.to_string()))
        .env_remove("CHAINTRACE_CONFIG")
        .env("CHAINTRACE_LOG", "info")
        .env("NO_COLOR", "1");
    let t0 = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run chaintrace trace");
    // its peak RSS: VmHWM only grows, so the last reading before it exits is (nearly) the peak
    let status = PathBuf::from(format!("/proc/{}/status", child.id()));
    let watch = std::thread::spawn(move || {
        let mut peak = 0u64;
        while let Ok(s) = std::fs::read_to_string(&status) {
            if let Some(v) = s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)) {
                peak = peak.max(v.parse().unwrap_or(0));
            }
            if s.lines().any(|l| l.starts_with("State:") && l.contains("zombie")) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        peak
    });
    let o = child.wait_with_output().expect("run chaintrace trace");
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    let peak_kib = watch.join().unwrap_or(0);
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "cold chaintrace trace failed: {log}");
    let source =
        if log.contains("source=\"snapshot\"") || log.contains("source=snapshot") { "snapshot" } else { "store" };
    println!(
        "cold `chaintrace trace --policy {policy}` (new process, 100 seeds, {HOPS} hops, over the {source}, {cache}): {ms:.0} ms, peak RSS {} MiB",
        peak_kib / 1024
    );
    let _ = std::fs::remove_file(out);
}

/// The edge export the peers load, and what the reach sets are compared in.
struct Export {
    dir: PathBuf,
    /// Layered node id → address (node = address id × assets + asset id).
    addr_of: Vec<Address>,
    assets: u64,
    /// Export time, seconds.
    seconds: f64,
    edges: u64,
}

/// Write `edges.csv`, `nodes.csv` and `seeds-R.csv` (see `peers.py`) from the store's rows.
fn export_edges(store: &Store, dir: &Path, seed_sets: &[Vec<Address>]) -> Export {
    let t0 = Instant::now();
    let out = dir.join("peers");
    std::fs::create_dir_all(&out).expect("peers dir");
    let mut ids: HashMap<Address, u64> = HashMap::new();
    let mut addrs: Vec<Address> = Vec::new();
    let mut assets: HashMap<Asset, u64> = HashMap::new();
    let mut rows: Vec<(u64, u64, u64, u64)> = Vec::new();
    let mut rank = 0u64;
    let id = |a: &Address, ids: &mut HashMap<Address, u64>, addrs: &mut Vec<Address>| -> u64 {
        *ids.entry(a.clone()).or_insert_with(|| {
            addrs.push(a.clone());
            addrs.len() as u64 - 1
        })
    };
    store
        .scan_transfers(CHAIN, 0, u64::MAX, |t| {
            // chain order is scan order: the rank is the time-respecting key
            rank += 1;
            let n = assets.len() as u64;
            let asset = *assets.entry(t.asset).or_insert(n);
            let (f, to) = (id(&t.from, &mut ids, &mut addrs), id(&t.to, &mut ids, &mut addrs));
            if !t.amount.is_zero() {
                rows.push((f, to, asset, rank));
            }
            true
        })
        .expect("scan transfers");
    let na = assets.len().max(1) as u64;
    let labels = store.all_labels().expect("labels");
    let mut labelled: HashMap<&Address, Vec<&chaintrace_model::Label>> = HashMap::new();
    for l in &labels {
        if l.applies_to(CHAIN) {
            labelled.entry(&l.address).or_default().push(l);
        }
    }
    let mut edges = std::io::BufWriter::new(std::fs::File::create(out.join("edges.csv")).expect("edges.csv"));
    writeln!(edges, "src,dst,k").expect("write");
    for (f, t, a, k) in &rows {
        writeln!(edges, "{},{},{k}", f * na + a, t * na + a).expect("write");
    }
    edges.flush().expect("flush");
    let mut nodes = std::io::BufWriter::new(std::fs::File::create(out.join("nodes.csv")).expect("nodes.csv"));
    writeln!(nodes, "id,stop").expect("write");
    for (i, a) in addrs.iter().enumerate() {
        // the walk's stops: a labelled pool (exchange, deposit, service …), or an unlabelled
        // address with more than HUB_DEGREE transfers either way (the store's degree counters)
        let ls = labelled.get(a).map(Vec::as_slice).unwrap_or(&[]);
        let pool = ls.iter().any(|l| l.category.is_pooling());
        let hub = ls.is_empty()
            && [Direction::Out, Direction::In]
                .iter()
                .any(|d| store.degree(CHAIN, a, *d, HUB_DEGREE + 1).expect("degree") > HUB_DEGREE);
        // (a seed is expanded whatever it is: the peers make that exception per run)
        let stop = pool || hub;
        for asset in 0..na {
            writeln!(nodes, "{},{stop}", i as u64 * na + asset).expect("write");
        }
    }
    nodes.flush().expect("flush");
    for (r, set) in seed_sets.iter().enumerate() {
        let mut f = std::io::BufWriter::new(std::fs::File::create(out.join(format!("seeds-{r}.csv"))).expect("seeds"));
        writeln!(f, "id").expect("write");
        for s in set {
            if let Some(i) = ids.get(s) {
                for asset in 0..na {
                    writeln!(f, "{}", i * na + asset).expect("write");
                }
            }
        }
        f.flush().expect("flush");
    }
    let seconds = t0.elapsed().as_secs_f64();
    println!(
        "edge export for the peers: {} edges, {} addresses × {na} assets, {seconds:.1} s",
        rows.len(),
        addrs.len()
    );
    Export { dir: out, addr_of: addrs, assets: na, seconds, edges: rows.len() as u64 }
}

/// A Python with the peers installed (`$CHAINTRACE_TOOLS/bench-peers`), or why not.
fn peers_python() -> Result<PathBuf, String> {
    let tools = std::env::var("CHAINTRACE_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/chaintrace-tools"));
    let venv = tools.join("bench-peers");
    let py = venv.join("bin/python");
    let have = |m: &str| {
        std::process::Command::new(&py).args(["-c", &format!("import {m}")]).output().is_ok_and(|o| o.status.success())
    };
    if py.is_file() && have("duckdb") && have("ladybug") {
        return Ok(py);
    }
    eprintln!("installing the peers (duckdb, ladybug) from PyPI into {}", venv.display());
    let ok = |c: &mut std::process::Command| c.status().is_ok_and(|s| s.success());
    if !py.is_file() && !ok(std::process::Command::new("python3").args(["-m", "venv"]).arg(&venv)) {
        return Err(format!("cannot create a Python venv at {} (is python3 with venv installed?)", venv.display()));
    }
    if !ok(std::process::Command::new(venv.join("bin/pip")).args(["install", "-q", "duckdb", "ladybug"])) {
        eprintln!("pip could not install every peer; running those that are there");
    }
    Ok(py)
}

/// The peers' poison reachability against chaintrace's: the poison trace's node sets and
/// `reach`'s (the first runs' of each), and the p50s of both beside the faster peer's.
fn run_peers(
    ex: &Export,
    poison_nodes: &[BTreeSet<Address>],
    reach_nodes: &[BTreeSet<Address>],
    poison_p50: f64,
    reach_p50: f64,
) {
    let py = match peers_python() {
        Ok(p) => p,
        Err(e) => {
            println!("PEERS MISSING: {e}");
            return;
        }
    };
    let script = chaintrace_testkit::checkout().join("crates/cli/benches/peers.py");
    let o = std::process::Command::new(&py)
        .arg(&script)
        .arg(&ex.dir)
        .arg(HOPS.to_string())
        .arg(poison_nodes.len().to_string())
        .output()
        .expect("run peers.py");
    if !o.status.success() {
        println!("PEERS FAILED: {}", String::from_utf8_lossy(&o.stderr).trim());
    }
    let mut fastest = f64::INFINITY;
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let v: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) => continue,
        };
        let peer = v["peer"].as_str().unwrap_or("?").to_string();
        if let Some(e) = v["error"].as_str() {
            println!("PEER {peer} MISSING OR FAILED: {e}");
            continue;
        }
        let mut q: Vec<f64> = v["query_ms"].as_array().into_iter().flatten().filter_map(|x| x.as_f64()).collect();
        q.sort_by(|a, b| a.total_cmp(b));
        // the peer's reach, mapped back to addresses, against chaintrace's poison node set
        let mut equal = 0;
        for (r, want) in poison_nodes.iter().enumerate() {
            let text = std::fs::read_to_string(ex.dir.join(format!("reach-{peer}-{r}.txt"))).unwrap_or_default();
            let got: BTreeSet<Address> = text
                .lines()
                .filter_map(|l| l.parse::<u64>().ok())
                .filter_map(|n| ex.addr_of.get((n / ex.assets) as usize).cloned())
                .collect();
            // (chaintrace's two answers are the same sets whenever the bench checks: `reach` runs)
            let ours = reach_nodes.get(r);
            if &got == want && ours == Some(want) {
                equal += 1;
            } else if &got != want {
                let missing = want.difference(&got).count();
                let extra = got.difference(want).count();
                println!("PEER {peer} run {r}: reach differs from chaintrace's poison nodes ({missing} missing, {extra} extra)");
            } else {
                println!("PEER {peer} run {r}: chaintrace's reach differs from its poison trace's nodes");
            }
        }
        println!(
            "peer {peer} {}: poison reachability ({HOPS} hops, same 100 seeds, time-respecting, same stops) p50 {:.0} ms over {} runs \
             (load {:.1} s from an edge export of {} edges made in {:.1} s); reached sets equal to chaintrace's in {equal}/{} runs",
            v["version"].as_str().unwrap_or("?"),
            percentile(&q, 0.5),
            q.len(),
            v["load_s"].as_f64().unwrap_or(0.0),
            ex.edges,
            ex.seconds,
            poison_nodes.len()
        );
        if equal == poison_nodes.len() {
            fastest = fastest.min(percentile(&q, 0.5));
        }
    }
    if fastest.is_finite() {
        println!(
            "chaintrace reach (the same question: poison reachability) p50 {reach_p50:.1} ms vs the faster peer's \
             {fastest:.0} ms: chaintrace is {:.2}x as fast",
            fastest / reach_p50
        );
        println!(
            "chaintrace poison trace (the whole case: edges, hashes, roles, deposits) p50 {poison_p50:.1} ms vs the \
             faster peer's {fastest:.0} ms: {:.2}x",
            fastest / poison_p50
        );
    } else {
        println!("no peer answered with chaintrace's reach: no ratio");
    }
}
