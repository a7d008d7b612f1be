//! EVM ingest benchmark (not a test): blocks/s and transfers/s ingesting the same anvil range
//! with chaintrace-evm and, side by side, with `ethereum-etl` (PyPI) and `cryo` when they are
//! installed.
//!
//! Run: `cargo bench -p chaintrace-evm --bench ingest` (env: `BENCH_BLOCKS` default 300,
//! `BENCH_TXS` transactions per block default 20, `BENCH_ROUNDS` runs of each tool, alternating,
//! default 1 (the table shows each tool's median run), `BENCH_PEERS=0` chaintrace's default
//! mode alone; chaintrace's settings `BENCH_CHUNK` blocks per chunk (50), `BENCH_PARALLEL`
//! chunks ahead (4), `BENCH_IN_FLIGHT` requests in flight (8), `BENCH_BATCH` calls per batch (50); `ETHEREUMETL` / `CRYO_PYTHON` paths to the tools;
//! by default they are looked for in `~/.cache/chaintrace-tools/{etl-venv,cryo-venv}/bin`, where
//! `pip install ethereum-etl==2.4.2 && pip install --no-deps parsimonious==0.10.0 regex` (eth-abi
//! pins parsimonious 0.8, which does not import on Python 3.11; one resolver run refuses both) /
//! `pip install cryo` put them).
//!
//! Besides wall time each row gives CPU seconds: the client's (this process for chaintrace, the
//! tool's processes for the peers) and the node's (anvil's, from `/proc/<pid>/stat`), so runs
//! on a machine shared with other work can be compared by what they cost, not only by how long
//! they waited.
// A benchmark reports its figures on stdout and its progress on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use alloy_primitives::U256;
use chaintrace_evm::{ingest, EvmAdapter, EvmConfig, IngestOptions, MemorySink, MemoryTokenMeta, TraceSetting};
use chaintrace_model::Sensitive;
use chaintrace_testkit::contracts::{encode_call, Word};
use chaintrace_testkit::{scenario, Anvil, Contracts};

fn env_u64(k: &str, d: u64) -> u64 {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d)
}

fn tool(env: &str, venv: &str, bin: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    let p = chaintrace_testkit::tools::tools_dir().join(venv).join("bin").join(bin);
    p.is_file().then_some(p)
}

/// CPU seconds (user + system) of this process (`RUSAGE_SELF`) or of its waited-for children
/// (`RUSAGE_CHILDREN`).
fn rusage_cpu(who: libc::c_int) -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(who, &mut ru) };
    assert_eq!(rc, 0, "getrusage");
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU seconds (user + system) a running process has used so far, from `/proc/<pid>/stat`.
fn proc_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/<pid>/stat");
    // Fields after the command name (which is in parentheses and may hold spaces): state is
    // field 3, utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().expect("utime") + f[12].parse::<f64>().expect("stime");
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / hz
}

struct Row {
    name: String,
    secs: f64,
    cpu: f64,
    node_cpu: f64,
    blocks: u64,
    items: u64,
    what: &'static str,
}

fn main() {
    let blocks = env_u64("BENCH_BLOCKS", 300);
    let per_block = env_u64("BENCH_TXS", 20);
    eprintln!("building an anvil chain: {blocks} blocks x {per_block} transactions (token + native transfers)…");
    let anvil = Anvil::spawn();
    let contracts = Contracts::compile();
    let sc = scenario::run(&anvil, &contracts);
    let a = anvil.accounts();
    anvil.set_automine(false);
    for b in 0..blocks {
        for i in 0..per_block {
            let from = &a[1 + ((b + i) % 19) as usize];
            let to = &a[1 + ((b + i + 1) % 19) as usize];
            if i % 2 == 0 {
                let data = encode_call(
                    "transfer(address,uint256)",
                    &[Word::Address(to.clone()), Word::Uint(U256::from(1 + i))],
                );
                anvil.send_with_gas(from, Some(&sc.usdt), U256::ZERO, &data, 100_000);
            } else {
                anvil.send_with_gas(from, Some(to), U256::from(1000 + b), &[], 21_000);
            }
        }
        anvil.mine(1);
    }
    anvil.set_automine(true);
    let head = anvil.block_number();
    eprintln!("chain head {head}; benchmarking 0..={head}");

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let tmp = std::env::temp_dir().join(format!("chaintrace-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    // BENCH_PEERS=0: chaintrace's default mode only (for comparing its own settings).
    let peers = env_u64("BENCH_PEERS", 1) != 0;
    let etl = tool("ETHEREUMETL", "etl-venv", "ethereumetl").filter(|_| peers);
    if etl.is_none() && peers {
        eprintln!("ethereum-etl not found (pip install ethereum-etl==2.4.2, then pip install --no-deps parsimonious==0.10.0 regex, into ~/.cache/chaintrace-tools/etl-venv; or set ETHEREUMETL)");
    }
    let cryo = tool("CRYO_PYTHON", "cryo-venv", "python").filter(|_| peers);
    if cryo.is_none() && peers {
        eprintln!("cryo not found (pip install cryo into ~/.cache/chaintrace-tools/cryo-venv, or set CRYO_PYTHON)");
    }
    // Rounds alternate the tools (chaintrace's default mode, ethereum-etl, cryo) so that load
    // from elsewhere on the machine falls on all of them; the other tracing modes run once.
    let rounds = env_u64("BENCH_ROUNDS", 1).max(1);
    let mut runs: Vec<Vec<Row>> = Vec::new();
    let mut record = |row: Row| match runs.iter_mut().find(|r| r[0].name == row.name) {
        Some(r) => r.push(row),
        None => runs.push(vec![row]),
    };
    for round in 0..rounds {
        eprintln!("round {} of {rounds}", round + 1);
        record(run_chaintrace(&rt, &anvil, head, "chaintrace-evm (trace_block, the default)", TraceSetting::Auto));
        if round == 0 && peers {
            record(run_chaintrace(&rt, &anvil, head, "chaintrace-evm (debug_traceBlockByNumber)", TraceSetting::Geth));
            record(run_chaintrace(&rt, &anvil, head, "chaintrace-evm (no traces)", TraceSetting::Off));
        }
        if let Some(row) = etl.as_ref().and_then(|etl| run_etl(etl, &anvil, head, &tmp)) {
            record(row);
        }
        if let Some(row) = cryo.as_ref().and_then(|py| run_cryo(py, &anvil, head, &tmp.join(format!("cryo-{round}")))) {
            record(row);
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);

    // Each tool's median run (by wall time); with several rounds, every round's times follow.
    let median = |r: &[Row]| -> usize {
        let mut idx: Vec<usize> = (0..r.len()).collect();
        idx.sort_by(|&a, &b| r[a].secs.total_cmp(&r[b].secs));
        idx[idx.len() / 2]
    };
    let base = runs[0][median(&runs[0])].secs;
    println!(
        "\n{:<46} {:>8} {:>8} {:>8} {:>8} {:>10} {:>12} {:>8}  items",
        "tool (median run)", "blocks", "secs", "cpu s", "node s", "blocks/s", "items/s", "time x"
    );
    for r in &runs {
        let r = &r[median(r)];
        println!(
            "{:<46} {:>8} {:>8.2} {:>8.2} {:>8.2} {:>10.1} {:>12.1} {:>8.2}  {} {}",
            r.name,
            r.blocks,
            r.secs,
            r.cpu,
            r.node_cpu,
            r.blocks as f64 / r.secs,
            r.items as f64 / r.secs,
            r.secs / base,
            r.items,
            r.what
        );
    }
    if rounds > 1 {
        println!("\nper round: seconds (time relative to chaintrace's default mode in the same round)");
        for r in runs.iter().filter(|r| r.len() > 1) {
            let times: Vec<String> =
                r.iter().zip(&runs[0]).map(|(x, c)| format!("{:.2} ({:.2}x)", x.secs, x.secs / c.secs)).collect();
            println!("{:<46} {}", r[0].name, times.join("  "));
        }
    }
}

/// One ingest of `0..=head` by chaintrace-evm into a memory sink.
fn run_chaintrace(rt: &tokio::runtime::Runtime, anvil: &Anvil, head: u64, label: &str, traces: TraceSetting) -> Row {
    let mut cfg = EvmConfig::new("ethereum", Some(1));
    cfg.traces = traces;
    cfg.rpc.max_in_flight = env_u64("BENCH_IN_FLIGHT", cfg.rpc.max_in_flight as u64) as usize;
    cfg.rpc.batch_size = env_u64("BENCH_BATCH", cfg.rpc.batch_size as u64) as usize;
    let sink = MemorySink::default();
    let (cpu0, node0) = (rusage_cpu(libc::RUSAGE_SELF), proc_cpu(anvil.pid()));
    let t = Instant::now();
    let sum = rt.block_on(async {
        let adapter = EvmAdapter::connect(&Sensitive::new(anvil.url()), cfg).await.expect("connect");
        let opts = IngestOptions {
            to: Some(head),
            chunk_blocks: env_u64("BENCH_CHUNK", 50),
            parallel_chunks: env_u64("BENCH_PARALLEL", 4) as usize,
            ..IngestOptions::default()
        };
        let sum = ingest(&adapter, &sink, Some(&MemoryTokenMeta::default()), &opts, &AtomicBool::new(false), |p| {
            if std::env::var_os("BENCH_TIMELINE").is_some() {
                eprintln!("  {:>6.3} s  height {}", t.elapsed().as_secs_f64(), p.height);
            }
        })
        .await
        .expect("ingest");
        let (calls, retries) = adapter.rpc().counters();
        eprintln!("{label}: {calls} JSON-RPC calls, {retries} retried");
        sum
    });
    let secs = t.elapsed().as_secs_f64();
    Row {
        name: label.into(),
        secs,
        cpu: rusage_cpu(libc::RUSAGE_SELF) - cpu0,
        node_cpu: proc_cpu(anvil.pid()) - node0,
        blocks: sum.blocks,
        items: sum.transfers,
        what: "transfers (native+internal+ERC-20)",
    }
}

/// ethereum-etl's blocks + transactions export, then its token transfers export.
fn run_etl(etl: &Path, anvil: &Anvil, head: u64, tmp: &Path) -> Option<Row> {
    let (cpu0, node0) = (rusage_cpu(libc::RUSAGE_CHILDREN), proc_cpu(anvil.pid()));
    let t = Instant::now();
    // one of ethereum-etl's exports over the whole range, its outputs added by the caller
    let export = |what: &str| {
        let mut c = Command::new(etl);
        c.args([what, "--start-block", "0", "--end-block", &head.to_string(), "--provider-uri", &anvil.url()]);
        c.args(["--batch-size", "50", "--max-workers", "4"]);
        c
    };
    let s1 = export("export_blocks_and_transactions")
        .arg("--blocks-output")
        .arg(tmp.join("blocks.csv"))
        .arg("--transactions-output")
        .arg(tmp.join("transactions.csv"))
        .output()
        .expect("run ethereumetl");
    let s2 = export("export_token_transfers")
        .arg("--output")
        .arg(tmp.join("token_transfers.csv"))
        .output()
        .expect("run ethereumetl");
    let secs = t.elapsed().as_secs_f64();
    let (cpu, node_cpu) = (rusage_cpu(libc::RUSAGE_CHILDREN) - cpu0, proc_cpu(anvil.pid()) - node0);
    if !(s1.status.success() && s2.status.success()) {
        eprintln!(
            "ethereum-etl failed:\n{}\n{}",
            String::from_utf8_lossy(&s1.stderr),
            String::from_utf8_lossy(&s2.stderr)
        );
        return None;
    }
    let lines =
        |f: &str| std::fs::read_to_string(tmp.join(f)).map(|s| s.lines().count().saturating_sub(1) as u64).unwrap_or(0);
    Some(Row {
        name: "ethereum-etl (blocks+txs, token transfers)".into(),
        secs,
        cpu,
        node_cpu,
        blocks: head + 1,
        items: lines("transactions.csv") + lines("token_transfers.csv"),
        what: "transactions + token transfers",
    })
}

/// cryo's PyPI package (Rust core with Python bindings): blocks, transactions, ERC-20
/// transfers, into `out_dir` (fresh per run: cryo skips chunks it finds there).
fn run_cryo(py: &Path, anvil: &Anvil, head: u64, out_dir: &Path) -> Option<Row> {
    std::fs::create_dir_all(out_dir).expect("cryo dir");
    let script = format!(
        "import cryo\ncryo.freeze(['blocks','transactions','erc20_transfers'], start_block=0, end_block={}, rpc='{}', output_dir='{}', file_format='csv', verbose=False)\n",
        head + 1,
        anvil.url(),
        out_dir.display()
    );
    let (cpu0, node0) = (rusage_cpu(libc::RUSAGE_CHILDREN), proc_cpu(anvil.pid()));
    let t = Instant::now();
    let out = Command::new(py).arg("-c").arg(&script).output().expect("run cryo");
    let secs = t.elapsed().as_secs_f64();
    let (cpu, node_cpu) = (rusage_cpu(libc::RUSAGE_CHILDREN) - cpu0, proc_cpu(anvil.pid()) - node0);
    if !out.status.success() {
        eprintln!("cryo failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let mut items = 0;
    for e in std::fs::read_dir(out_dir).expect("cryo output").flatten() {
        let n = e.file_name().to_string_lossy().to_string();
        if n.contains("__transactions__") || n.contains("__erc20_transfers__") {
            items += std::fs::read_to_string(e.path()).map(|s| s.lines().count().saturating_sub(1) as u64).unwrap_or(0);
        }
    }
    Some(Row {
        name: "cryo 0.3 (blocks, txs, erc20_transfers)".into(),
        secs,
        cpu,
        node_cpu,
        blocks: head + 1,
        items,
        what: "transactions + ERC-20 transfers",
    })
}
