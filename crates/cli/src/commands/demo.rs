//! `chaintrace demo [--dir DIR]`: the main job end to end on the embedded case, with no network.
//!
//! The embedded case is a DPRK IT-worker revenue-laundering typology that the project's own
//! generator ran on a local anvil node (`crates/scenario`; regenerate it with
//! `cargo run -p chaintrace-scenario --bin record-demo`), and its cross-chain trail on a second
//! node (chain id 42161, ingested as `arbitrum`): USDC payroll bridged by CCTP-style contracts,
//! swapped to ETH on a real Uniswap V2 pool and cashed out at an exchange there. What ships is
//! both nodes' JSON-RPC responses, recorded while the EVM adapter ingested the chains, plus a
//! labels CSV (the seeds as sanctioned, the exchanges' wallets), a config (the tokens' price
//! symbols, the bridge contracts, the second chain's WETH) and a price table. The walk runs
//! over both chains (`trace --chain ethereum,arbitrum`).
//!
//! The demo serves the recording on a loopback port from this process and runs the real
//! pipeline, each step as the `chaintrace` command a user would type (this same executable):
//! ingest through the EVM adapter → labels import → labels infer-deposits → trace → deposits →
//! exports. Then it prints what an investigator looks at first.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use chaintrace_evm::rpc::canonical_key;
use chaintrace_loopback::Reply;
use chaintrace_model::{CaseDeposit, EdgeKind, Role};
use chaintrace_tracer::case::source_label;
use clap::Args;
use serde_json::{json, Value};

use crate::{context::Context, files, output};

const RECORDING: &[u8] = include_bytes!("../../demo/ethereum-rpc.json.gz");
const RECORDING_SECOND: &[u8] = include_bytes!("../../demo/arbitrum-rpc.json.gz");
/// The walk's chains: the scenario's and the trail's second chain.
const CHAINS: &str = "ethereum,arbitrum";
const LABELS: &str = include_str!("../../demo/labels.csv");
const CONFIG: &str = include_str!("../../demo/config.toml");
const PRICES: &str = include_str!("../../demo/prices.csv");
const TRUTH: &str = include_str!("../../demo/truth.json");

/// Marks a directory the demo created, so a later run may clear it.
const MARKER: &str = ".chaintrace-demo";
/// The demo's hop limit (the recording is checked to need no more when it is made).
const HOPS: &str = "12";

#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Build the demo case here (a fresh store, the case file and the exports). Default: the
    /// data directory, `$XDG_DATA_HOME/chaintrace/demo` (or `~/.local/share/chaintrace/demo`).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

fn default_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("chaintrace").join("demo"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".local").join("share").join("chaintrace").join("demo")),
        None => bail!("no data directory (neither XDG_DATA_HOME nor HOME is set): pass --dir DIR"),
    }
}

/// Make `dir` an empty demo directory: create it, or clear a previous demo run; refuse to touch
/// anything else.
fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}: choose another --dir", dir.display()))?
            .peekable();
        if entries.peek().is_some() {
            if !dir.join(MARKER).is_file() {
                bail!(
                    "{} is not empty and was not made by `chaintrace demo`: choose another --dir (the demo never deletes other files)",
                    dir.display()
                );
            }
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot clear the previous demo in {}", dir.display()))?;
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the demo directory {}", dir.display()))?;
    std::fs::write(dir.join(MARKER), "made by `chaintrace demo`; the next run clears this directory\n")
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    Ok(())
}

/// The recorded answers, by canonical key.
struct Recording {
    answers: HashMap<String, Value>,
}

impl Recording {
    fn load(gz: &[u8]) -> Result<Recording> {
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(gz).read_to_end(&mut text).context("the embedded recording is not valid gzip")?;
        let doc: Value = serde_json::from_slice(&text).context("the embedded recording is not valid JSON")?;
        if doc["format"] != "chaintrace-rpc-recording" || doc["version"] != 1 {
            bail!("the embedded recording has an unknown format");
        }
        let mut answers = HashMap::new();
        for c in doc["calls"].as_array().context("the embedded recording has no calls")? {
            let method = c["method"].as_str().unwrap_or_default();
            let mut answer = serde_json::Map::new();
            match c.get("error") {
                Some(e) => answer.insert("error".into(), e.clone()),
                None => answer.insert("result".into(), c.get("result").cloned().unwrap_or(Value::Null)),
            };
            answers.insert(canonical_key(method, &c["params"]), Value::Object(answer));
        }
        Ok(Recording { answers })
    }

    fn answer_one(&self, req: &Value) -> Value {
        let id = req.get("id").cloned().unwrap_or(Value::Null);
        let method = req["method"].as_str().unwrap_or_default();
        let params = req.get("params").cloned().unwrap_or(json!([]));
        let mut out = json!({"jsonrpc": "2.0", "id": id});
        match self.answers.get(&canonical_key(method, &params)) {
            Some(Value::Object(a)) => {
                for (k, v) in a {
                    out[k] = v.clone();
                }
            }
            _ => {
                out["error"] = json!({"code": -32601, "message": format!("{method} with these parameters is not in the demo recording")})
            }
        }
        out
    }

    fn answer(&self, body: &[u8]) -> Value {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Array(reqs)) => Value::Array(reqs.iter().map(|r| self.answer_one(r)).collect()),
            Ok(req) => self.answer_one(&req),
            Err(_) => json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "parse error"}}),
        }
    }
}

/// The recording served over HTTP/1.1 on a loopback port, from threads of this process (the
/// shared keep-alive server of `chaintrace-loopback`); it stops when dropped.
struct Replay {
    url: String,
    _server: chaintrace_loopback::Server,
}

impl Replay {
    fn start(rec: Recording) -> Result<Replay> {
        let server = chaintrace_loopback::Server::start(move |body| {
            Reply::json(serde_json::to_vec(&rec.answer(body)).unwrap_or_default())
        })
        .context("cannot open a loopback port for the demo node")?;
        Ok(Replay { url: server.url(), _server: server })
    }
}

/// One step of the pipeline: this executable with `args`, output captured.
struct Step<'a> {
    exe: &'a Path,
    store: &'a Path,
    config: &'a Path,
}

impl Step<'_> {
    fn run(&self, shown: &str, args: &[&str]) -> Result<String> {
        let started = Instant::now();
        let out = Command::new(self.exe)
            .arg("--store")
            .arg(self.store)
            .arg("--config")
            .arg(self.config)
            .args(args)
            .env_remove("CHAINTRACE_STORE")
            .env_remove("CHAINTRACE_CONFIG")
            .output()
            .with_context(|| format!("cannot run {}", self.exe.display()))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            bail!("demo step `chaintrace {shown}` failed: {}", err.trim().trim_start_matches("error: "));
        }
        output::line(format!("  $ chaintrace {shown}   ({} ms)", started.elapsed().as_millis()))?;
        String::from_utf8(out.stdout).context("a demo step printed non-UTF-8 output")
    }
}

/// Sum decimal strings exactly at 18 decimals.
fn sum_decimal(values: &[&str]) -> String {
    let mut total: u128 = 0;
    for v in values {
        let (int, frac) = v.split_once('.').unwrap_or((v, ""));
        let frac: String = frac.chars().chain(std::iter::repeat('0')).take(18).collect();
        let n: u128 = format!("{int}{frac}").parse().unwrap_or(0);
        total = total.saturating_add(n);
    }
    let s = format!("{total:019}");
    let (int, frac) = s.split_at(s.len() - 18);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

fn group(int: &str) -> String {
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    grouped
}

/// An exact amount with thousands separators: `1234567.891` → `1,234,567.891`.
fn amount(text: &str) -> String {
    match text.split_once('.') {
        Some((int, frac)) => format!("{}.{frac}", group(int)),
        None => group(text),
    }
}

/// USD rounded half up to cents: `1234567.895` → `1,234,567.90`.
fn money(text: &str) -> String {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(3).collect();
    let mills: u128 = format!("{int}{digits}").parse().unwrap_or(0);
    let cents = (mills + 5) / 10;
    format!("{}.{:02}", group(&(cents / 100).to_string()), cents % 100)
}

fn short(addr: &str) -> String {
    if addr.len() > 14 {
        format!("{}…{}", &addr[..8], &addr[addr.len() - 4..])
    } else {
        addr.to_string()
    }
}

/// A deposit line's USD source in one word: `table`, `feed`, `shipped`, `peg`.
fn short_source(code: &str) -> String {
    code.split(':').next().unwrap_or(code).to_string()
}

pub(crate) fn run(_ctx: &Context, args: DemoArgs) -> Result<()> {
    let started = Instant::now();
    let dir = match args.dir {
        Some(d) => d,
        None => default_dir()?,
    };
    fresh_dir(&dir)?;
    let dir = dir.canonicalize().with_context(|| format!("cannot resolve {}", dir.display()))?;
    let truth: Value = serde_json::from_str(TRUTH).context("the embedded truth.json is not valid JSON")?;
    let last_block = truth["last_block"].as_u64().context("the embedded truth.json has no last_block")?;
    let second_last =
        truth["trail"]["last_block"].as_u64().context("the embedded truth.json has no trail.last_block")?;
    let (labels, config, prices) = (dir.join("labels.csv"), dir.join("config.toml"), dir.join("prices.csv"));
    for (path, text) in [(&labels, LABELS), (&config, CONFIG), (&prices, PRICES)] {
        files::write_file(path, text.as_bytes())?;
    }
    let store = dir.join("store");
    let exe = std::env::current_exe().context("cannot find the chaintrace executable to run the demo steps")?;
    let step = Step { exe: &exe, store: &store, config: &config };
    let p = |x: &Path| x.display().to_string();

    output::line("chaintrace demo: a DPRK IT-worker revenue-laundering case across two chains, end to end, offline")?;
    output::line(
        "  (a synthetic case the project generated on two local anvil nodes, chain ids 1 and 42161: payroll in USDT and USDC,\n   peel chains and splits to exchanges on ethereum, and USDC bridged (CCTP-style) to arbitrum, swapped to ETH on a\n   Uniswap V2 pool and cashed out there; the nodes' JSON-RPC responses ship with chaintrace)",
    )?;
    output::line(format!("  demo directory: {}", dir.display()))?;
    output::line("")?;
    let replay = Replay::start(Recording::load(RECORDING)?)?;
    let replay2 = Replay::start(Recording::load(RECORDING_SECOND)?)?;
    output::line(format!(
        "Pipeline (the embedded recordings are served at {} (ethereum) and {} (arbitrum)):",
        replay.url, replay2.url
    ))?;

    let to = last_block.to_string();
    let ing = step.run(
        &format!("ingest ethereum --rpc {} --from 0 --to {to}", replay.url),
        &["--json", "ingest", "ethereum", "--rpc", &replay.url, "--from", "0", "--to", &to],
    )?;
    drop(replay);
    let to2 = second_last.to_string();
    let ing2 = step.run(
        &format!("ingest arbitrum --rpc {} --from 0 --to {to2}", replay2.url),
        &["--json", "ingest", "arbitrum", "--rpc", &replay2.url, "--from", "0", "--to", &to2],
    )?;
    drop(replay2);
    let ing: Value = serde_json::from_str(&ing).unwrap_or(Value::Null);
    let ing2: Value = serde_json::from_str(&ing2).unwrap_or(Value::Null);
    step.run(&format!("labels import {}", p(&labels)), &["labels", "import", &p(&labels)])?;
    let inf = step.run(
        "labels infer-deposits --chain ethereum",
        &["--json", "labels", "infer-deposits", "--chain", "ethereum"],
    )?;
    let inf: Value = serde_json::from_str(&inf).unwrap_or(Value::Null);

    let case = dir.join("case.json");
    let trace_args = |policy: &'static str, out: String| -> Vec<String> {
        ["trace", "--chain", CHAINS, "--seeds-label", "sanctioned", "--policy", policy, "--hops", HOPS, "--prices"]
            .iter()
            .map(|s| s.to_string())
            .chain([p(&prices), "--out".into(), out])
            .collect()
    };
    let run_trace = |policy: &'static str, out: &Path| -> Result<()> {
        let a = trace_args(policy, p(out));
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let shown = format!(
            "trace --chain {CHAINS} --seeds-label sanctioned --policy {policy} --hops {HOPS} --prices {} --out {}",
            p(&prices),
            p(out)
        );
        step.run(&shown, &refs).map(|_| ())
    };
    run_trace("haircut", &case)?;
    let deposits_csv =
        step.run(&format!("deposits {} --format csv", p(&case)), &["deposits", &p(&case), "--format", "csv"])?;
    let deposits_path = dir.join("deposits.csv");
    files::write_file(&deposits_path, deposits_csv.as_bytes())?;
    let mut exports = vec![("case file", case.clone()), ("deposits (CSV)", deposits_path.clone())];
    for (format, name, what) in [
        ("html", "case.html", "the picture: open it in a browser"),
        ("graphml", "case.graphml", "yEd, Gephi"),
        ("gexf", "case.gexf", "Gephi (with a timeline)"),
        ("dot", "case.dot", "Graphviz"),
        ("json", "case.cytoscape.json", "Cytoscape.js"),
        ("csv", "neo4j", "Neo4j import: nodes.csv and edges.csv"),
    ] {
        let out = dir.join(name);
        step.run(
            &format!("export {} --format {format} --output {}", p(&case), p(&out)),
            &["export", &p(&case), "--format", format, "--output", &p(&out)],
        )?;
        exports.push((what, out));
    }
    let mut other = BTreeMap::new();
    for policy in ["poison", "fifo"] {
        let out = dir.join(format!("case-{policy}.json"));
        run_trace(policy, &out)?;
        other.insert(policy, out);
    }

    // What an investigator wants first.
    let c = files::read_case(&case)?;
    let (nodes, edges, deposits) = (&c.nodes, &c.edges, &c.deposits);
    output::line("")?;
    output::line(format!(
        "Ingested ethereum: {} blocks, {} transfers (native, internal from call traces, USDT- and USDC-like tokens); arbitrum: {} blocks, {} transfers; {} exchange deposit addresses inferred from their sweeps.",
        ing["blocks"].as_u64().unwrap_or(0),
        ing["transfers"].as_u64().unwrap_or(0),
        ing2["blocks"].as_u64().unwrap_or(0),
        ing2["transfers"].as_u64().unwrap_or(0),
        inf["deposits"].as_array().map_or(0, |d| d.len()),
    ))?;
    output::line(format!(
        "\nSeeds: {} addresses labelled sanctioned ({})",
        c.seeds.len(),
        truth["sanctioned_entity"].as_str().unwrap_or("sanctioned")
    ))?;
    for s in &c.seeds {
        output::line(format!("  {s}"))?;
    }
    let max_hop = nodes.iter().map(|n| n.hop).max().unwrap_or(0);
    let dep_hops: Vec<u32> = deposits.iter().map(|d| d.hops).collect();
    let mut roles: BTreeMap<&str, usize> = BTreeMap::new();
    for n in nodes {
        *roles.entry(n.role.as_str()).or_default() += 1;
    }
    output::line(format!(
        "\nWalk: forward in time order, policy haircut, up to {HOPS} hops: {} addresses reached, {} transfers carried traced funds, farthest address {max_hop} hops out",
        nodes.len(),
        edges.len()
    ))?;

    output::line(format!(
        "\nCash-out: {} deposits of traced funds flagged, {} to {} hops from the seeds",
        deposits.len(),
        dep_hops.iter().min().unwrap_or(&0),
        dep_hops.iter().max().unwrap_or(&0)
    ))?;
    let mut per: BTreeMap<(&str, String), Vec<&CaseDeposit>> = BTreeMap::new();
    for d in deposits {
        let asset = format!("{} on {}", d.symbol.as_deref().unwrap_or(&d.asset), d.chain);
        per.entry((&d.exchange, asset)).or_default().push(d);
    }
    for ((exchange, asset), ds) in &per {
        let amounts: Vec<&str> = ds.iter().map(|d| d.amount.as_str()).collect();
        let usd: Vec<&str> = ds.iter().filter_map(|d| d.usd.as_deref()).collect();
        let usd_text =
            if usd.len() == ds.len() { format!("${}", money(&sum_decimal(&usd))) } else { "USD unknown".into() };
        let sources: std::collections::BTreeSet<String> =
            ds.iter().filter_map(|d| d.usd_source.as_deref()).map(source_label).collect();
        let from = if sources.is_empty() {
            String::new()
        } else {
            format!("  (USD from {})", sources.into_iter().collect::<Vec<_>>().join(", "))
        };
        output::line(format!(
            "  {exchange:<16} {:>2} deposit(s)  {:>24} {asset:<16} {usd_text:>14}{from}",
            ds.len(),
            amount(&sum_decimal(&amounts))
        ))?;
    }
    output::line("  each one (what goes to the exchange with a freeze or records request; USD source: table = the demo's prices.csv, shipped = the daily table built in, peg = stablecoin at 1.00):")?;
    for d in deposits {
        output::line(format!(
            "    {}  {:<16} {:<8} {} {:>24} {:<4} {:>12} {:<8} hops {}  tx {}",
            d.time,
            d.exchange,
            d.chain,
            short(&d.address),
            amount(&d.amount),
            d.symbol.as_deref().unwrap_or(&d.asset),
            d.usd.as_deref().map(|u| format!("${}", money(u))).unwrap_or_else(|| "USD unknown".into()),
            d.usd_source.as_deref().map(short_source).unwrap_or_default(),
            d.hops,
            short(&d.tx),
        ))?;
    }
    // The trail across assets and chains: swaps and bridge crossings the walk followed.
    let crossings: Vec<_> = edges.iter().filter(|e| e.kind != EdgeKind::Transfer).collect();
    if !crossings.is_empty() {
        output::line("\nAcross assets and chains (each followed without adding a hop):")?;
    }
    for e in crossings {
        let usd = match (&e.usd, &e.usd_source) {
            (Some(u), Some(src)) => format!("${} from {}", money(u), source_label(src)),
            (Some(u), None) => format!("${}", money(u)),
            _ => "USD unknown".into(),
        };
        let sym = e.symbol.as_deref().unwrap_or(&e.asset);
        let line = match e.kind {
            EdgeKind::Swap => format!(
                "    {}  swap on {}: {} gave {} {} for {} {} ({}, {usd})  tx {}",
                e.time,
                e.chain,
                short(&e.from),
                amount(e.traced_in.as_deref().unwrap_or("?")),
                e.symbol_in.as_deref().or(e.asset_in.as_deref()).unwrap_or("?"),
                amount(&e.traced_amount),
                sym,
                e.via.as_deref().unwrap_or("swap"),
                short(&e.tx),
            ),
            _ => format!(
                "    {}  bridge {} → {}: {} {} from {} to {} ({usd})  deposit tx {}, release tx {}",
                e.time,
                e.chain,
                e.chain_to.as_deref().unwrap_or("(no release found)"),
                amount(&e.traced_amount),
                sym,
                short(&e.from),
                short(&e.to),
                short(&e.tx),
                e.release_tx.as_deref().map(short).unwrap_or_else(|| "none".into()),
            ),
        };
        output::line(line)?;
    }
    let stops: Vec<String> = ["exchange", "exchange_deposit", "service", "stop"]
        .iter()
        .filter_map(|r| roles.get(r).map(|n| format!("{n} {}", r.replace('_', " "))))
        .collect();
    let reasons: BTreeMap<&str, usize> =
        nodes.iter().filter(|n| n.role == Role::Stop).fold(BTreeMap::new(), |mut m, n| {
            *m.entry(n.stop_reason.as_deref().unwrap_or("limit")).or_default() += 1;
            m
        });
    let reason_text: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    output::line(format!(
        "\nStops (not walked through): {}{}",
        if stops.is_empty() { "none".to_string() } else { stops.join(", ") },
        if reason_text.is_empty() { String::new() } else { format!(" (limits: {})", reason_text.join(", ")) }
    ))?;
    let mut cmp = Vec::new();
    for (policy, path) in &other {
        cmp.push(format!("{policy} flags {}", files::read_case(path)?.deposits.len()));
    }
    output::line(format!("Same walk under the other policies: {} (case-poison.json, case-fifo.json)", cmp.join(", ")))?;

    output::line(format!("\nExports in {}:", dir.display()))?;
    for (what, path) in &exports {
        output::line(format!(
            "  {:<40} {what}",
            path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
        ))?;
    }
    // The workbench lists the demo case as `demo`.
    crate::serve::cases::save_as(&store, "demo", &c)?;
    output::line(format!(
        "\nDone in {:.1} s. Explore further: chaintrace --store {} stats | transfers ADDRESS | labels list",
        started.elapsed().as_secs_f64(),
        store.display()
    ))?;
    output::line(format!(
        "Open the case in the workbench:\n  chaintrace --store {} --config {} serve --prices {}\n  then browse to http://127.0.0.1:8000/?case=demo",
        store.display(),
        config.display(),
        prices.display()
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_and_formats_money() {
        assert_eq!(sum_decimal(&["1.5", "2.25", "3"]), "6.75");
        assert_eq!(money("1234567.895"), "1,234,567.90");
        assert_eq!(money("12"), "12.00");
        assert_eq!(amount("1234.5"), "1,234.5");
    }

    #[test]
    fn embedded_recording_answers_by_canonical_key() {
        let rec = Recording::load(RECORDING).expect("embedded recording");
        let a = rec.answer(br#"{"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]}"#);
        assert_eq!(a["id"], 7);
        assert_eq!(a["result"], "0x1");
        let b = rec.answer(br#"[{"jsonrpc":"2.0","id":1,"method":"nope","params":[]}]"#);
        assert!(b[0]["error"]["message"].as_str().is_some_and(|m| m.contains("not in the demo recording")));
    }
}
