//! Benchmark (not a test): the workbench's API under load. The real `chaintrace serve` on a
//! free loopback port over the generated store of the `trace` bench (see [`generated`]), driven
//! by 1 and by 100 concurrent clients (threads with ureq). Prints p50/p99 latency of the address
//! summary, a history page (limit 100) and a 6-hop trace (`POST /api/trace`, one seed).
//!
//! ```text
//! cargo bench -p chaintrace-cli --bench serve_api
//! CHAINTRACE_BENCH_TRANSFERS=10000000 CHAINTRACE_BENCH_DIR=/path cargo bench -p chaintrace-cli --bench serve_api
//! ```
//!
//! The store is generated once per size (deterministically) and reused, shared with the `trace`
//! bench at the same size. `CHAINTRACE_BENCH_REQUESTS` (default 2000) requests per endpoint and
//! setting for the summary and history, a tenth of that (at least 2 per client) for the trace.
// A benchmark reports its figures on stdout and its progress on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chaintrace_model::Address;
use chaintrace_testkit::rng::Rng;

// Not every item of the shared generator is used by each bench.
#[allow(dead_code)]
mod generated;
// Not every shared helper is used by each bench.
#[allow(dead_code)]
mod figures;
use figures::percentile;
use generated::{hub, open_or_generate, ScanFirst, CHAIN, HUBS};

/// The running server, killed on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(store: &std::path::Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chaintrace"))
            .arg("--store")
            .arg(store)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chaintrace serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read serve's address");
        let Some(url) = line.split("http://").nth(1).map(|u| format!("http://{}", u.trim().trim_end_matches('/')))
        else {
            let _ = child.kill();
            panic!("serve did not print its address: {line:?}");
        };
        Server { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Summary,
    History,
    HubHistory,
    Trace,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Summary => "address summary",
            Kind::History => "history page (limit 100)",
            Kind::HubHistory => "history page of a hub (limit 100)",
            Kind::Trace => "6-hop trace (POST /api/trace)",
        }
    }
}

/// One request; its latency in ms. Anything but a 2xx fails the bench.
fn request(agent: &ureq::Agent, url: &str, kind: Kind, a: &Address) -> f64 {
    let t0 = Instant::now();
    let r = match kind {
        Kind::Summary => agent.get(&format!("{url}/api/address/{CHAIN}/{a}")).call(),
        Kind::History | Kind::HubHistory => {
            agent.get(&format!("{url}/api/address/{CHAIN}/{a}/transfers?limit=100")).call()
        }
        Kind::Trace => agent
            .post(&format!("{url}/api/trace"))
            .set("Content-Type", "application/json")
            .send_string(&format!(r#"{{"chain": "{CHAIN}", "seeds": ["{a}"], "hops": 6, "policy": "haircut"}}"#)),
    };
    let body = match r {
        Ok(r) => r.into_string().expect("read body"),
        Err(e) => panic!("{} for {a}: {e}", kind.name()),
    };
    assert!(body.starts_with('{'), "{}: {body}", kind.name());
    t0.elapsed().as_secs_f64() * 1000.0
}

/// `total` requests of `kind` spread over `clients` threads, each on its own connection; the
/// sorted latencies and the wall time.
fn run(url: &str, kind: Kind, addrs: &Arc<Vec<Address>>, clients: usize, total: usize) -> (Vec<f64>, Duration) {
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (url, addrs, next) = (url.to_string(), addrs.clone(), next.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(600)).build();
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return lat;
                    }
                    lat.push(request(&agent, &url, kind, &addrs[i % addrs.len()]));
                }
            })
        })
        .collect();
    let mut lat: Vec<f64> = threads.into_iter().flat_map(|t| t.join().expect("client thread")).collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    (lat, t0.elapsed())
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a list
    }
    let total: u64 = std::env::var("CHAINTRACE_BENCH_TRANSFERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let requests: usize =
        std::env::var("CHAINTRACE_BENCH_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000).max(10);
    let dir = std::env::var("CHAINTRACE_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join(format!("chaintrace-bench-{total}")));
    let store = open_or_generate(&dir, total);
    let stats = store.stats().expect("stats");
    let chain = &stats.chains[CHAIN];
    println!("store: {} transfers, {} addresses, {} blocks", chain.transfers, chain.addresses, chain.blocks);
    let tip = chain.tip_height.unwrap_or(0);
    // Ordinary addresses active in the first half of the chain (senders of random transfers).
    let mut rng = Rng::new(11);
    let mut addrs = Vec::new();
    while addrs.len() < 200 {
        if let Some(a) = store.scan_first(CHAIN, rng.below(tip / 2 + 1)) {
            if !addrs.contains(&a) {
                addrs.push(a);
            }
        }
    }
    drop(store);
    let addrs = Arc::new(addrs);
    let hubs = Arc::new((0..HUBS).map(hub).collect::<Vec<_>>());

    let server = Server::start(&dir.join("store"));
    println!("server: {} (release build of chaintrace serve)", server.url);
    // What one of the traces amounts to.
    let (mut nodes, mut edges, mut deposits) = (0, 0, 0);
    for a in addrs.iter().take(20) {
        let body = format!(r#"{{"chain": "{CHAIN}", "seeds": ["{a}"], "hops": 6, "policy": "haircut"}}"#);
        let r = ureq::post(&format!("{}/api/trace", server.url))
            .set("Content-Type", "application/json")
            .send_string(&body)
            .expect("trace");
        let v: serde_json::Value = serde_json::from_str(&r.into_string().expect("body")).expect("JSON");
        let len = |k: &str| v["case"][k].as_array().map_or(0, Vec::len);
        (nodes, edges, deposits) = (nodes + len("nodes"), edges + len("edges"), deposits + len("deposits"));
    }
    println!(
        "6-hop haircut trace from one ordinary address: mean {} nodes, {} edges, {} deposits (20 seeds)",
        nodes / 20,
        edges / 20,
        deposits / 20
    );
    println!();
    println!("| endpoint | clients | requests | p50 ms | p99 ms | max ms | req/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for kind in [Kind::Summary, Kind::History, Kind::HubHistory, Kind::Trace] {
        let set = if matches!(kind, Kind::HubHistory) { &hubs } else { &addrs };
        for clients in [1, 100] {
            let n = if matches!(kind, Kind::Trace) { (requests / 10).max(clients * 2) } else { requests };
            let (lat, wall) = run(&server.url, kind, set, clients, n);
            println!(
                "| {} | {clients} | {} | {:.1} | {:.1} | {:.1} | {:.0} |",
                kind.name(),
                lat.len(),
                percentile(&lat, 0.5),
                percentile(&lat, 0.99),
                lat.last().copied().unwrap_or(0.0),
                lat.len() as f64 / wall.as_secs_f64()
            );
        }
    }
}
