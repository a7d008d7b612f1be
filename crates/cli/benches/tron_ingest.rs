//! TRON ingest next to EVM ingest of the same blocks.
//!
//! One anvil node started with TRON mainnet's JSON-RPC chain id (728126428) stands in for a
//! TRON JSON-RPC node. The same blocks are ingested twice by the real binary: as chain `tron`
//! (probe, then the EVM adapter through `TronSink`, TRON keys) and as an EVM chain with that
//! chain id declared in a config (`evm-same`). Best of 3 interleaved runs each, fresh store every run,
//! printed side by side; the TRON path is expected to be at least 0.8× the EVM path.
//!
//! `cargo bench -p chaintrace-cli --bench tron_ingest` (env `TRON_BENCH_BLOCKS`, default 200,
//! and `TRON_BENCH_TXS` per block, default 20).

use std::process::Command;
use std::time::{Duration, Instant};

use chaintrace_testkit::Anvil;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn ingest(store: &std::path::Path, config: &std::path::Path, chain: &str, url: &str, to: u64) -> Duration {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_chaintrace"))
        .arg("--store")
        .arg(store)
        .arg("--config")
        .arg(config)
        .args(["ingest", chain, "--rpc", url, "--from", "0", "--to", &to.to_string()])
        .output()
        .expect("run chaintrace");
    let took = t.elapsed();
    assert!(out.status.success(), "ingest {chain} failed: {}", String::from_utf8_lossy(&out.stderr));
    took
}

fn main() {
    let blocks = env_or("TRON_BENCH_BLOCKS", 200);
    let per_block = env_or("TRON_BENCH_TXS", 20);
    let anvil = Anvil::builder().chain_id(728_126_428).spawn();
    let acc = anvil.accounts();
    anvil.set_automine(false);
    for b in 0..blocks {
        for i in 0..per_block {
            let from = &acc[(i as usize) % acc.len()];
            let to = &acc[(i as usize + 1 + b as usize) % acc.len()];
            anvil.send(from, Some(to), alloy_primitives::U256::from(1_000 + b * per_block + i), &[]);
        }
        anvil.mine(1);
    }
    let head = anvil.block_number();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("bench.toml");
    std::fs::write(
        &config,
        "[chains.evm-same]\nkind = \"evm\"\nchain_id = 728126428\nnative_symbol = \"TRX\"\nnative_decimals = 6\n",
    )
    .expect("write config");
    // Interleaved (evm, tron, evm, tron …) so neither path gets the warmer node.
    let (mut evm, mut tron) = (Duration::MAX, Duration::MAX);
    for run in 0..3 {
        for (chain, best) in [("evm-same", &mut evm), ("tron", &mut tron)] {
            let store = dir.path().join(format!("{chain}-{run}"));
            *best = (*best).min(ingest(&store, &config, chain, &anvil.url(), head));
        }
    }
    let transfers = blocks * per_block;
    let rate = |d: Duration| transfers as f64 / d.as_secs_f64();
    let mut out = String::new();
    out.push_str(&format!(
        "\nTRON vs EVM ingest of the same {blocks} blocks ({transfers} transfers) from one anvil (chain id 728126428), best of 3\n"
    ));
    out.push_str(&format!("{:<28} {:>10} {:>16}\n", "path", "seconds", "transfers/s"));
    out.push_str(&format!("{:<28} {:>10.3} {:>16.0}\n", "evm (ingest evm-same)", evm.as_secs_f64(), rate(evm)));
    out.push_str(&format!(
        "{:<28} {:>10.3} {:>16.0}\n",
        "tron (ingest tron, JSON-RPC)",
        tron.as_secs_f64(),
        rate(tron)
    ));
    let ratio = rate(tron) / rate(evm);
    out.push_str(&format!(
        "tron/evm throughput {ratio:.2}× ({})\n",
        if ratio >= 0.8 { "meets the 0.8× floor" } else { "BELOW the 0.8× floor" }
    ));
    use std::io::Write as _;
    std::io::stdout().write_all(out.as_bytes()).expect("write to stdout");
}
