//! `chaintrace export`: every format parsed back by a real consumer.
//!
//! - GraphML and GEXF: networkx from PyPI (installed with pip into a cache `--target` dir when
//!   missing; the test fails loudly if it cannot be installed);
//! - DOT: Debian's graphviz (`dot -Tsvg`);
//! - JSON: the Cytoscape.js elements shape;
//! - CSV: Python's `csv` module, checked against Neo4j's import header rules;
//! - HTML: Debian's headless Chromium (`--dump-dom` and `--screenshot`).
//!
//! The case is built with the model types and carries hostile label text (quotes, `<`, `&`,
//! leading `=`, newlines, control characters, and a byte that is not UTF-8 in the file).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use chaintrace_export::text::clean;
use chaintrace_model::{CaseDeposit, CaseEdge, CaseFile, CaseNode, NodeLabel, Provenance, Role, TipRef, TraceParams};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_chaintrace");
const NETWORKX_VERSION: &str = "3.6.1";
/// Replaced in the case file's bytes by `caf` + 0xE9 (Latin-1 é, invalid UTF-8).
const NON_UTF8_MARKER: &str = "@@NONUTF8@@";

const USDT: &str = "0xdac17f958d2ee523a2206206994597c13d831ec7";

fn addr(n: u8) -> String {
    format!("0x{}", format!("{n:02x}").repeat(20))
}

fn label(category: &str, entity: &str, source: &str) -> NodeLabel {
    NodeLabel { category: category.into(), entity: entity.into(), source: source.into() }
}

fn node(n: u8, hop: u32, role: Role, labels: Vec<NodeLabel>) -> CaseNode {
    CaseNode { address: addr(n), chain: "ethereum".into(), hop, role, labels, stop_reason: None, cluster: None }
}

#[allow(clippy::too_many_arguments)]
fn edge(from: u8, to: u8, tx: u8, block: u64, time: &str, token: bool, amount: &str, traced: &str) -> CaseEdge {
    let (asset, symbol, decimals) =
        if token { (USDT.to_string(), Some("USDT".to_string()), 6) } else { ("ETH".to_string(), None, 18) };
    let raw = chaintrace_model::parse_units(amount, decimals).expect("fixture amount").to_string();
    CaseEdge {
        from: addr(from),
        to: addr(to),
        tx: format!("0x{}", format!("{tx:02x}").repeat(32)),
        block,
        time: time.into(),
        asset,
        symbol,
        amount: amount.into(),
        amount_raw: raw,
        traced_amount: traced.into(),
        usd: token.then(|| traced.to_string()),
        // Where the figure came from, with text every syntax must escape.
        usd_source: token.then(|| "table:prices & <co>.csv".to_string()),
        chain: "ethereum".into(),
        ..Default::default()
    }
}

/// Label texts an attacker controls (they come from imported tag files).
const EVIL_ENTITY: &str = "LAZARUS \"GROUP\" <script>alert('x')</script> & co";
const FORMULA_ENTITY: &str = "=HYPERLINK(\"http://evil.invalid\",\"click\")";
const MULTILINE_ENTITY: &str = "line one\nline two\r\nline\tthree";
const CONTROL_ENTITY: &str = "ctl\u{1}\u{1b}[31mred\u{7f}end";

/// The hostile case, as the model types (what a correct reader must produce from the file).
fn hostile_case() -> CaseFile {
    let mut stop = node(9, 2, Role::Stop, vec![]);
    stop.stop_reason = Some("hub".into());
    let mut lossy = node(4, 1, Role::Intermediate, vec![label("other", CONTROL_ENTITY, "caf\u{fffd}.csv")]);
    lossy.cluster = Some("cluster-<7>".into());
    let nodes = vec![
        node(1, 0, Role::Seed, vec![label("sanctioned", EVIL_ENTITY, "OFAC SDN 2024-05-16")]),
        node(2, 0, Role::Seed, vec![label("sanctioned", FORMULA_ENTITY, "-2+3"), label("scam", "@SUM(A1)", "+tags")]),
        node(3, 1, Role::Intermediate, vec![label("other", MULTILINE_ENTITY, "@import")]),
        lossy,
        node(5, 2, Role::Intermediate, vec![]),
        node(6, 2, Role::ExchangeDeposit, vec![label("exchange_deposit", "Binance", "inferred:deposit-sweeps")]),
        node(
            7,
            3,
            Role::ExchangeDeposit,
            vec![label("exchange_deposit", "Kraken's <b>desk</b> & \"OTC\"", "tags.csv")],
        ),
        node(8, 2, Role::Exchange, vec![label("exchange", "Binance", "tagpack:binance")]),
        stop,
    ];
    let edges = vec![
        edge(1, 3, 1, 100, "2024-01-01T10:00:00Z", true, "5000", "5000"),
        edge(1, 3, 2, 101, "2024-01-01T11:00:00Z", true, "2500.5", "2500.5"),
        edge(1, 4, 3, 102, "2024-01-02T09:30:00Z", false, "3.5", "3.5"),
        edge(2, 4, 4, 103, "2024-01-02T10:00:00Z", true, "1200", "1200"),
        edge(3, 6, 5, 110, "2024-01-03T08:00:00Z", true, "7000", "6999.25"),
        edge(3, 5, 6, 111, "2024-01-03T09:00:00Z", false, "1.25", "0.75"),
        edge(5, 7, 7, 120, "2024-01-04T12:00:00Z", false, "0.75", "0.75"),
        edge(4, 9, 8, 121, "2024-01-04T13:00:00Z", false, "2", "2"),
        edge(4, 8, 9, 122, "2024-01-04T14:00:00Z", false, "1.5", "1.5"),
        // Backwards in hop order: a later payment back to an earlier address.
        edge(5, 3, 10, 123, "2024-01-05T00:00:00Z", false, "0.1", "0.1"),
    ];
    let deposit = |to: u8, exchange: &str, e: &CaseEdge, hops: u32, seed: u8, path: &[u8]| CaseDeposit {
        address: addr(to),
        chain: "ethereum".into(),
        exchange: exchange.into(),
        asset: e.asset.clone(),
        symbol: e.symbol.clone(),
        amount: e.traced_amount.clone(),
        usd: e.usd.clone(),
        usd_source: e.usd_source.clone(),
        tx: e.tx.clone(),
        block: e.block,
        time: e.time.clone(),
        hops,
        seed: addr(seed),
        path: path.iter().map(|n| addr(*n)).collect(),
    };
    let deposits = vec![
        deposit(6, "Binance", &edges[4], 2, 1, &[1, 3, 6]),
        deposit(7, "Kraken's <b>desk</b> & \"OTC\"", &edges[6], 3, 1, &[1, 3, 5, 7]),
        deposit(8, "Binance", &edges[8], 2, 1, &[1, 4, 8]),
    ];
    CaseFile {
        version: 2,
        chain: "ethereum".into(),
        chains: vec!["ethereum".into()],
        seeds: vec![addr(1), addr(2)],
        params: TraceParams {
            direction: "forward".into(),
            hops: 6,
            policy: "haircut".into(),
            min_amount: None,
            asset: None,
            since: None,
            until: None,
            seeds_label: Some("LAZARUS".into()),
            hub_degree: 10_000,
        },
        provenance: Provenance {
            tool_version: "0.1.0".into(),
            store_tips: BTreeMap::from([("ethereum".to_string(), TipRef { height: 130, hash: "0xabc".into() })]),
            labels_hash: "deadbeef".into(),
            prices: None,
            price_sources: Vec::new(),
        },
        nodes,
        edges,
        deposits,
    }
}

/// Write the case file with one byte that is not UTF-8 (where the `caf\u{fffd}` source is).
fn write_case(dir: &Path) -> PathBuf {
    let mut case = hostile_case();
    case.nodes[3].labels[0].source = format!("{NON_UTF8_MARKER}.csv");
    let json = serde_json::to_string_pretty(&case).unwrap();
    let (before, after) = json.split_once(NON_UTF8_MARKER).unwrap();
    let mut bytes = before.as_bytes().to_vec();
    bytes.extend_from_slice(b"caf\xe9");
    bytes.extend_from_slice(after.as_bytes());
    assert!(std::str::from_utf8(&bytes).is_err(), "the fixture really is not UTF-8");
    let path = dir.join("case.json");
    std::fs::write(&path, &bytes).unwrap();
    // For looking at the outputs by hand: `CHAINTRACE_EXPORT_FIXTURE=/tmp/case.json cargo test …`.
    if let Some(keep) = std::env::var_os("CHAINTRACE_EXPORT_FIXTURE") {
        std::fs::write(keep, &bytes).unwrap();
    }
    path
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run chaintrace")
}

fn export(dir: &Path, format: &str) -> PathBuf {
    let case = write_case(dir);
    let out = dir.join(format!("out.{format}"));
    let o = run(&["export", case.to_str().unwrap(), "--format", format, "--output", out.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "export {format} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

// ---- tools ----------------------------------------------------------------------------------

fn have(bin: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {bin}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Find a Debian tool that `scripts/setup` installs; panic loudly when it is missing.
fn debian_tool(bin: &str, package: &str) -> String {
    assert!(have(bin), "`{bin}` is required by this test: run ./scripts/setup (it installs Debian's {package})");
    bin.to_string()
}

/// The `PYTHONPATH` directory holding networkx from PyPI, which `scripts/setup` installs.
fn networkx_path() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let tools = std::env::var_os("CHAINTRACE_TOOLS").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/tmp".into())).join(".cache/chaintrace-tools")
        });
        let dir = tools.join("py");
        let ok = Command::new("python3")
            .args(["-c", &format!("import networkx; assert networkx.__version__ == '{NETWORKX_VERSION}'")])
            .env("PYTHONPATH", &dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "networkx {NETWORKX_VERSION} is missing from {}: run ./scripts/setup", dir.display());
        dir
    })
}

fn python(script: &str, arg: &Path) -> Value {
    let o = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(arg)
        .env("PYTHONPATH", networkx_path())
        .env("PYTHONIOENCODING", "utf-8")
        .output()
        .expect("run python3");
    assert!(o.status.success(), "python failed: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("python printed JSON")
}

// ---- expectations ---------------------------------------------------------------------------

/// What an XML format must carry for a text: the text with controls replaced.
fn xml_expect(s: &str) -> String {
    clean(s).into_owned()
}

fn entities(n: &CaseNode) -> String {
    let mut seen = BTreeSet::new();
    n.labels.iter().map(|l| l.entity.as_str()).filter(|e| seen.insert(*e)).collect::<Vec<_>>().join("; ")
}

/// Check a networkx graph dump (`{"nodes": {id: attrs}, "edges": [[u, v, attrs]]}`).
fn check_networkx_dump(dump: &Value, case: &CaseFile) {
    let nodes = dump["nodes"].as_object().expect("nodes");
    assert_eq!(nodes.len(), case.nodes.len(), "node count");
    let edges = dump["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), case.edges.len(), "edge count (parallel transfers kept)");
    for n in &case.nodes {
        let got = &nodes[&xml_expect(&n.address)];
        assert_eq!(got["role"], n.role.as_str(), "{}", n.address);
        assert_eq!(got["hop"], n.hop, "hop is an integer attribute");
        if !n.labels.is_empty() {
            assert_eq!(got["entities"], xml_expect(&entities(n)), "entities of {}", n.address);
            let labels_json = serde_json::to_string(&n.labels).unwrap();
            assert_eq!(got["labels"], xml_expect(&labels_json), "exact label JSON of {}", n.address);
        }
        assert_eq!(got.get("stop_reason").and_then(Value::as_str), n.stop_reason.as_deref());
        assert_eq!(
            got.get("cluster").and_then(Value::as_str).map(str::to_string),
            n.cluster.as_deref().map(xml_expect)
        );
    }
    let mut got_edges: Vec<(String, String, String)> = edges
        .iter()
        .map(|e| {
            (
                e[0].as_str().unwrap().to_string(),
                e[1].as_str().unwrap().to_string(),
                e[2]["tx"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got_edges.sort();
    let mut want: Vec<(String, String, String)> =
        case.edges.iter().map(|e| (e.from.clone(), e.to.clone(), e.tx.clone())).collect();
    want.sort();
    assert_eq!(got_edges, want);
    for e in edges {
        let tx = e[2]["tx"].as_str().unwrap();
        let want = case.edges.iter().find(|c| c.tx == tx).unwrap();
        let a = &e[2];
        assert_eq!(a["block"], want.block, "block is an integer attribute");
        assert_eq!(a["time"], want.time);
        assert_eq!(a["asset"], want.asset);
        assert_eq!(a.get("symbol").and_then(Value::as_str), want.symbol.as_deref());
        assert_eq!(a["amount"], want.amount);
        assert_eq!(a["amount_raw"], want.amount_raw);
        assert_eq!(a["traced_amount"], want.traced_amount);
        assert_eq!(a.get("usd").and_then(Value::as_str), want.usd.as_deref());
        assert_eq!(a.get("usd_source").and_then(Value::as_str), want.usd_source.as_deref());
        assert!(a["weight"].is_f64(), "weight is a double: {a}");
    }
}

const NX_DUMP: &str = r#"
import json, sys
def dump(G, extra=None):
    out = {"directed": G.is_directed(), "graph": {k: str(v) for k, v in G.graph.items()},
           "nodes": {n: d for n, d in G.nodes(data=True)},
           "edges": [[u, v, d] for u, v, d in G.edges(data=True)]}
    print(json.dumps(out, default=str))
"#;

#[test]
fn graphml_reads_back_in_networkx_with_every_attribute() {
    let dir = tempfile::tempdir().unwrap();
    let out = export(dir.path(), "graphml");
    let script = format!("{NX_DUMP}\nimport networkx as nx\ndump(nx.read_graphml(sys.argv[1]))");
    let dump = python(&script, &out);
    assert_eq!(dump["directed"], true);
    check_networkx_dump(&dump, &hostile_case());
    assert_eq!(dump["graph"]["chain"], "ethereum");
}

#[test]
fn gexf_reads_back_in_networkx_with_edge_times() {
    let dir = tempfile::tempdir().unwrap();
    let out = export(dir.path(), "gexf");
    let script = format!("{NX_DUMP}\nimport networkx as nx\ndump(nx.read_gexf(sys.argv[1]))");
    let dump = python(&script, &out);
    let case = hostile_case();
    check_networkx_dump(&dump, &case);
    assert_eq!(dump["graph"]["mode"], "dynamic", "Gephi's timeline needs a dynamic graph");
    for e in dump["edges"].as_array().unwrap() {
        assert_eq!(e[2]["start"], e[2]["time"], "each edge starts at its transfer's time");
        assert!(e[2]["label"].as_str().unwrap().contains(' '), "edge label carries amount and symbol");
    }
    // A node starts at the first transfer that touches it.
    let seed = &dump["nodes"][&addr(1)];
    assert_eq!(seed["start"], "2024-01-01T10:00:00Z");
    assert_eq!(seed["label"], xml_expect(EVIL_ENTITY));
    assert!(seed["viz"]["position"]["x"].is_number(), "laid out for Gephi");
    // The raw file is GEXF 1.3.
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains(r#"xmlns="http://gexf.net/1.3""#) && text.contains(r#"version="1.3""#));
}

#[test]
fn dot_renders_with_graphviz() {
    let dot = debian_tool("dot", "graphviz");
    let dir = tempfile::tempdir().unwrap();
    let out = export(dir.path(), "dot");
    let o = Command::new(&dot).arg("-Tsvg").arg(&out).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "dot -Tsvg failed: {stderr}");
    assert!(!stderr.contains("rror"), "graphviz reported: {stderr}");
    let svg = String::from_utf8(o.stdout).unwrap();
    let case = hostile_case();
    assert_eq!(svg.matches(r#"class="node""#).count(), case.nodes.len());
    assert_eq!(svg.matches(r#"class="edge""#).count(), case.edges.len());
    assert!(!svg.contains("<script"), "label text is escaped, not markup");
    // Graphviz kept the custom attributes: the canonical form still carries them.
    let o = Command::new(&dot).arg("-Tcanon").arg(&out).output().unwrap();
    let canon = String::from_utf8(o.stdout).unwrap();
    assert!(canon.contains("rankdir=LR"));
    assert!(
        canon.contains("traced_amount=6999.25") || canon.contains("traced_amount=\"6999.25\""),
        "edge attributes survive graphviz"
    );
    assert!(canon.contains("role=exchange_deposit"), "node attributes survive graphviz");
    // The SVG graphviz made is well-formed XML holding the hostile label text intact.
    let svg_path = dir.path().join("out.svg");
    std::fs::write(&svg_path, &svg).unwrap();
    let texts = python(
        "import json,sys,xml.etree.ElementTree as ET\nt=ET.parse(sys.argv[1])\nprint(json.dumps([e.text for e in t.iter() if e.text]))",
        &svg_path,
    );
    let all: String = texts.as_array().unwrap().iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n");
    assert!(all.contains("LAZARUS \"GROUP\" <script>"), "quotes and < survive into the picture");
    assert!(all.contains("6999.25 USDT"), "edge label has amount and symbol");
}

#[test]
fn json_is_cytoscape_elements_and_round_trips_text_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let out = export(dir.path(), "json");
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let case = hostile_case();
    let nodes = doc["elements"]["nodes"].as_array().expect("elements.nodes");
    let edges = doc["elements"]["edges"].as_array().expect("elements.edges");
    assert_eq!(nodes.len(), case.nodes.len());
    assert_eq!(edges.len(), case.edges.len());
    let ids: BTreeSet<&str> = nodes.iter().map(|n| n["data"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), nodes.len(), "unique node ids");
    for (n, want) in nodes.iter().zip(&case.nodes) {
        let d = &n["data"];
        assert_eq!(d["id"], want.address);
        assert_eq!(d["address"], want.address);
        assert_eq!(d["role"], want.role.as_str());
        assert_eq!(d["hop"], want.hop);
        let labels: Vec<NodeLabel> = serde_json::from_value(d["label_list"].clone()).unwrap();
        assert_eq!(labels, want.labels, "label text (including controls and U+FFFD) is exact in JSON");
    }
    let mut edge_ids = BTreeSet::new();
    for (e, want) in edges.iter().zip(&case.edges) {
        let d = &e["data"];
        assert!(edge_ids.insert(d["id"].as_str().unwrap().to_string()));
        assert!(ids.contains(d["source"].as_str().unwrap()) && ids.contains(d["target"].as_str().unwrap()));
        for key in ["tx", "time", "asset", "amount", "amount_raw", "traced_amount"] {
            assert!(d[key].is_string(), "{key} in {d}");
        }
        assert_eq!(d["block"], want.block);
        assert_eq!(d["usd"].as_str(), want.usd.as_deref());
    }
    assert_eq!(doc["data"]["deposits"].as_array().unwrap().len(), case.deposits.len());
}

#[test]
fn csv_follows_neo4j_import_rules_and_neutralises_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let out = export(dir.path(), "csv");
    let read = |name: &str| -> Vec<Vec<String>> {
        let v = python(
            "import csv,json,sys\nwith open(sys.argv[1], newline='', encoding='utf-8') as f:\n    print(json.dumps(list(csv.reader(f))))",
            &out.join(name),
        );
        serde_json::from_value(v).unwrap()
    };
    let nodes = read("nodes.csv");
    let edges = read("edges.csv");
    let case = hostile_case();
    assert_eq!(nodes.len(), case.nodes.len() + 1);
    assert_eq!(edges.len(), case.edges.len() + 1);

    // Neo4j header rules: `name[:type]`, exactly one `:ID`, one `:LABEL`; relationships have
    // `:START_ID`, `:END_ID`, `:TYPE`; types from Neo4j's list; no duplicate property names.
    let types =
        ["int", "long", "double", "float", "boolean", "byte", "short", "char", "string", "datetime", "date", "point"];
    let check_header = |header: &[String], required: &[&str]| {
        let mut names = BTreeSet::new();
        for h in header {
            let (name, ty) = h.split_once(':').map_or((h.as_str(), None), |(n, t)| (n, Some(t)));
            match ty {
                Some("ID" | "LABEL" | "START_ID" | "END_ID" | "TYPE") => {}
                Some(t) => assert!(types.contains(&t), "unknown Neo4j type {t} in {h}"),
                None => {}
            }
            if !name.is_empty() {
                assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "property name {name}");
                assert!(names.insert(name.to_string()), "duplicate property {name}");
            }
        }
        for r in required {
            assert_eq!(header.iter().filter(|h| h.ends_with(r)).count(), 1, "{r} in {header:?}");
        }
    };
    check_header(&nodes[0], &[":ID", ":LABEL"]);
    check_header(&edges[0], &[":START_ID", ":END_ID", ":TYPE"]);
    assert_eq!(nodes[0][0], "address:ID");
    assert!(nodes[0].contains(&"hop:int".to_string()));
    assert!(edges[0].contains(&"block:long".to_string()));

    // Extra columns go last: `usd_source` says where each `usd` came from.
    assert_eq!(edges[0].last().map(String::as_str), Some("usd_source"));
    let tx_col = edges[0].iter().position(|h| h == "tx").unwrap();
    for r in &edges[1..] {
        let want = case.edges.iter().find(|e| e.tx == r[tx_col]).unwrap();
        assert_eq!(r.last().map(String::as_str), Some(want.usd_source.as_deref().unwrap_or("")), "{r:?}");
    }

    let ids: BTreeSet<&str> = nodes[1..].iter().map(|r| r[0].as_str()).collect();
    for r in &edges[1..] {
        assert!(ids.contains(r[0].as_str()) && ids.contains(r[1].as_str()), "relationship ends are node ids");
        assert_eq!(r[2], "TRANSFER");
    }
    for row in nodes.iter().chain(&edges) {
        for cell in row {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "formula cell {cell:?}");
            assert!(!cell.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')), "control in {cell:?}");
        }
    }
    let col = |name: &str| nodes[0].iter().position(|h| h == name).unwrap();
    let row_of = |n: u8| nodes.iter().find(|r| r[0] == addr(n)).unwrap();
    assert_eq!(row_of(2)[col("entities")], format!("'{FORMULA_ENTITY}; @SUM(A1)"));
    assert_eq!(row_of(1)[col("entities")], EVIL_ENTITY, "quotes and < survive CSV quoting");
    assert_eq!(row_of(3)[col("entities")], MULTILINE_ENTITY, "newlines survive CSV quoting");
    assert_eq!(row_of(4)[col("label_sources")], "caf\u{fffd}.csv", "non-UTF-8 arrives as U+FFFD");
    assert_eq!(row_of(6)[col(":LABEL")], "Address;ExchangeDeposit");
}

#[test]
fn html_renders_in_headless_chromium_with_every_node() {
    let chromium = debian_tool("chromium", "chromium");
    let dir = tempfile::tempdir().unwrap();
    let out = export(dir.path(), "html");
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(!html.contains("<script"), "no script, and hostile <script> text is escaped");
    assert!(html.contains("default-src 'none'"), "a CSP keeps the page offline and inert");
    for remote in ["<link", " src=", "<iframe", "<object", "@import url"] {
        assert!(!html.contains(remote), "no remote resource ({remote})");
    }
    assert_eq!(html.matches("url(").count(), html.matches("url(#").count(), "only in-document references");
    let case = hostile_case();
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", out.display());
    let base = |extra: &[&str]| {
        let mut c = Command::new(&chromium);
        c.args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            .args(["--disable-component-update", "--disable-sync", "--no-first-run"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(&url);
        c
    };
    let dom = output_within(base(&["--dump-dom"]), Duration::from_secs(120));
    assert!(dom.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&dom.stderr));
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(dom.matches(r#"<g class="node""#).count(), case.nodes.len(), "one node shape per address");
    assert!(dom.matches(r#"<g class="edge""#).count() >= 1);
    assert_eq!(dom.matches(r#"<g class="node" data-role="exchange_deposit""#).count(), 2, "deposits highlighted");
    let deposit_rows = dom.split("<table class=\"deposits\">").nth(1).unwrap().split("</table>").next().unwrap();
    assert_eq!(deposit_rows.matches("<tr>").count(), case.deposits.len() + 1, "header row + one row per deposit");
    // Each USD figure says where it came from (the kind, and the whole source on hover).
    let priced = case.deposits.iter().filter(|d| d.usd.is_some()).count();
    assert!(priced > 0 && priced < case.deposits.len(), "the fixture has priced and unpriced deposits");
    assert_eq!(
        deposit_rows
            .matches(r#"<span class="src" title="USD from price table prices &amp; &lt;co&gt;.csv">table</span>"#)
            .count(),
        priced,
        "{deposit_rows}"
    );
    let transfer_rows = dom.split("<table class=\"transfers\">").nth(1).unwrap().split("</table>").next().unwrap();
    assert_eq!(
        transfer_rows.matches(r#"<span class="src""#).count(),
        case.edges.iter().filter(|e| e.usd_source.is_some()).count()
    );
    assert!(!dom.contains("<script"), "hostile label did not become an element");
    assert!(dom.contains("LAZARUS \"GROUP\" &lt;script&gt;"), "hostile label shown as text");

    let png = dir.path().join("shot.png");
    let shot = output_within(
        base(&[&format!("--screenshot={}", png.display()), "--window-size=1600,1200", "--hide-scrollbars"]),
        Duration::from_secs(120),
    );
    assert!(shot.status.success(), "chromium --screenshot failed: {}", String::from_utf8_lossy(&shot.stderr));
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
    // The screenshot shows the picture: count pixels in the seed red and the deposit amber.
    let counts = python(PNG_COLOURS, &png);
    let seed_px = counts["seed"].as_u64().unwrap();
    let deposit_px = counts["deposit"].as_u64().unwrap();
    assert!(seed_px > 2_000, "seed boxes visible in the screenshot ({seed_px} red pixels)");
    assert!(deposit_px > 2_000, "deposit boxes visible in the screenshot ({deposit_px} amber pixels)");
}

/// Decode an 8-bit RGB/RGBA PNG with the standard library only and count pixels close to the
/// seed colour (215, 38, 61) and the exchange-deposit colour (244, 163, 0).
const PNG_COLOURS: &str = r#"
import json, struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
pos, idat, w, h, ctype = 8, b'', 0, 0, 0
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos+8]); body = data[pos+8:pos+8+n]; pos += 12 + n
    if kind == b'IHDR':
        w, h, depth, ctype = struct.unpack('>IIBB', body[:10]); assert depth == 8 and ctype in (2, 6), (depth, ctype)
    elif kind == b'IDAT':
        idat += body
raw, bpp = zlib.decompress(idat), (3 if ctype == 2 else 4)
stride, prev, rows, i = w * bpp, bytearray(w * bpp), [], 0
for _ in range(h):
    f, line = raw[i], bytearray(raw[i+1:i+1+stride]); i += 1 + stride
    for x in range(stride):
        a = line[x-bpp] if x >= bpp else 0; b = prev[x]; c = prev[x-bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line); prev = line
def count(rgb):
    return sum(1 for r in rows for x in range(0, stride, bpp)
               if abs(r[x]-rgb[0]) < 14 and abs(r[x+1]-rgb[1]) < 14 and abs(r[x+2]-rgb[2]) < 14)
print(json.dumps({"width": w, "height": h, "seed": count((215, 38, 61)), "deposit": count((244, 163, 0))}))
"#;

fn output_within(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let case = write_case(dir.path());
    for format in ["graphml", "csv"] {
        let out = dir.path().join(format!("again.{format}"));
        let args = ["export", case.to_str().unwrap(), "--format", format, "--output", out.to_str().unwrap()];
        assert!(run(&args).status.success());
        let second = run(&args);
        assert!(!second.status.success(), "second export of {format} must refuse");
        let stderr = String::from_utf8_lossy(&second.stderr);
        assert!(stderr.contains("--force") && stderr.contains("already exists"), "{stderr}");
        let mut forced = args.to_vec();
        forced.push("--force");
        assert!(run(&forced).status.success(), "--force overwrites");
    }
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn invalid_case_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"version\": 1,\n  \"chain\": \"ethereum\",\n  \"nodes\": [ oops ]\n}").unwrap();
    let out = dir.path().join("x.dot");
    let o = run(&["export", bad.to_str().unwrap(), "--format", "dot", "--output", out.to_str().unwrap()]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("bad.json") && stderr.contains("line 3"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.exists(), "nothing written");

    // An edge that names an address the case does not have.
    let mut case = hostile_case();
    case.edges[0].to = "0xnot-a-node".into();
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, serde_json::to_vec(&case).unwrap()).unwrap();
    let o = run(&["export", broken.to_str().unwrap(), "--format", "json", "--output", out.to_str().unwrap()]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("0xnot-a-node"), "{stderr}");

    let o = run(&["export", broken.to_str().unwrap(), "--format", "pdf", "--output", out.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("graphml"), "lists the formats");
}
