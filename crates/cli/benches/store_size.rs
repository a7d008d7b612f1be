//! Store size benchmark (not a test): the trace bench's generated graph (see [`generated`]:
//! 1M addresses, exchange deposits and hubs, 80% native coin and 20% one token) written into a
//! fresh store, then its bytes on disk per transfer, as written and after a full compaction.
//!
//! `cargo bench -p chaintrace-cli --bench store_size`. Knobs: `CHAINTRACE_BENCH_TRANSFERS`
//! (default 10000000), `CHAINTRACE_BENCH_DIR` (default: a temp dir, removed afterwards).
// A benchmark reports its figures on stdout and its progress on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use chaintrace_store::Store;

// Not every item of the shared generator is used by each bench.
#[allow(dead_code)]
mod generated;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let total: u64 =
        std::env::var("CHAINTRACE_BENCH_TRANSFERS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = std::env::var_os("CHAINTRACE_BENCH_DIR").map(std::path::PathBuf::from).unwrap_or(tmp.path().into());
    let path = dir.join(format!("store-size-{total}"));
    let _ = std::fs::remove_dir_all(&path);
    let t = Instant::now();
    let store = Store::open(&path).expect("open");
    generated::generate(&store, total);
    let secs = t.elapsed().as_secs_f64();
    let stats = store.stats().expect("stats");
    let n = stats.chains[generated::CHAIN].transfers;
    let written = generated::dir_bytes(&path);
    let t = Instant::now();
    store.compact();
    let compact_secs = t.elapsed().as_secs_f64();
    drop(store);
    let compacted = generated::dir_bytes(&path);
    println!("\nStore size, the trace bench's generated graph, {n} transfers (written in {secs:.1} s)");
    println!("{:<34} {:>12} {:>18}", "state", "MB on disk", "bytes per transfer");
    println!("{:<34} {:>12.1} {:>18.1}", "as written (WAL, L0 files)", written as f64 / 1e6, written as f64 / n as f64);
    println!(
        "{:<34} {:>12.1} {:>18.1}   (compaction {compact_secs:.1} s)",
        "fully compacted",
        compacted as f64 / 1e6,
        compacted as f64 / n as f64
    );
    println!(
        "compression: LZ4 on upper levels, Zstd (level 6; 64 KiB blocks for transfers and adjacency) on the bottom level; goal ≤ 80 bytes per transfer at 10M"
    );
    let _ = std::fs::remove_dir_all(&path);
}
