//! Store size benchmark (not a test): the trace bench's generated graph (see [`generated`]:
//! 1M addresses, exchange deposits and hubs, 80% native coin and 20% one token) written into a
//! fresh store, then its bytes on disk per transfer: as written (store still open: write-ahead
//! log and memtables not yet flushed), after a clean close (memtables flushed, logs deleted),
//! and after a full compaction (`Store::compact`, what `chaintrace compact` and `ingest
//! --compact` run). Times are wall clock and this process's CPU time (every thread, RocksDB's
//! flushes and compactions included), which is the steadier figure on a shared machine.
//!
//! `cargo bench -p chaintrace-cli --bench store_size`. Knobs: `CHAINTRACE_BENCH_TRANSFERS`
//! (default 10000000), `CHAINTRACE_BENCH_DIR` (default: a temp dir; the store is removed
//! afterwards either way).
// A benchmark reports its figures on stdout and its progress on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::time::Instant;

use chaintrace_store::Store;

// Not every item of the shared generator is used by each bench.
#[allow(dead_code)]
mod generated;

/// This process's user + system CPU time so far, in seconds (all threads).
fn cpu_secs() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the zeroed struct we own.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage");
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// (write-ahead log bytes, table file bytes, everything) under a store directory.
fn split(path: &Path) -> (u64, u64, u64) {
    let (mut wal, mut sst) = (0, 0);
    for e in std::fs::read_dir(path).expect("store dir").flatten() {
        let len = e.metadata().map(|m| m.len()).unwrap_or(0);
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".log") && name != "LOG" {
            wal += len;
        } else if name.ends_with(".sst") {
            sst += len;
        }
    }
    (wal, sst, generated::dir_bytes(path))
}

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
    let (t, c) = (Instant::now(), cpu_secs());
    let store = Store::open(&path).expect("open");
    generated::generate(&store, total);
    let (write_secs, write_cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - c);
    let stats = store.stats().expect("stats");
    let n = stats.chains[generated::CHAIN].transfers;
    let written = split(&path);
    let (t, c) = (Instant::now(), cpu_secs());
    drop(store);
    let (close_secs, close_cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - c);
    let closed = split(&path);
    let store = Store::open(&path).expect("reopen");
    let (t, c) = (Instant::now(), cpu_secs());
    store.compact().expect("compact");
    let (compact_secs, compact_cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - c);
    drop(store);
    let compacted = split(&path);
    println!(
        "\nStore size, the trace bench's generated graph, {n} transfers (written in {write_secs:.1} s, {write_cpu:.1} s CPU)"
    );
    println!(
        "{:<36} {:>10} {:>10} {:>10} {:>14}   time (wall / CPU)",
        "state", "MB total", "MB WAL", "MB tables", "bytes/transfer"
    );
    let mb = |b: u64| b as f64 / 1e6;
    for (state, (wal, sst, all), secs, cpu) in [
        ("as written (store open)", written, write_secs, write_cpu),
        ("closed (memtables flushed)", closed, close_secs, close_cpu),
        ("fully compacted", compacted, compact_secs, compact_cpu),
    ] {
        println!(
            "{:<36} {:>10.1} {:>10.1} {:>10.1} {:>14.1}   {secs:.1} s / {cpu:.1} s",
            state,
            mb(all),
            mb(wal),
            mb(sst),
            all as f64 / n as f64
        );
    }
    println!("compression: LZ4 on the upper levels, Zstd (level 6; 64 KiB blocks for the adjacency, 16 KiB for the rest) on the bottom level; goal ≤ 80 bytes per transfer at 10M");
    let _ = std::fs::remove_dir_all(&path);
}
