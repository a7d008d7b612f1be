//! Exports of a chaintrace case file into the tools investigators already use.
//!
//! | format | output | for |
//! |---|---|---|
//! | [`Format::Graphml`] | one `.graphml` file | yEd, Gephi, networkx, Cytoscape desktop |
//! | [`Format::Gexf`] | one GEXF 1.3 file, edges timed for Gephi's timeline | Gephi |
//! | [`Format::Dot`] | one Graphviz file, left to right by hop | `dot -Tsvg`, `dot -Tpdf` |
//! | [`Format::Json`] | Cytoscape.js elements JSON | Cytoscape.js, Cytoscape desktop, scripts |
//! | [`Format::Csv`] | a directory with `nodes.csv` and `edges.csv` in `neo4j-admin database import` form | Neo4j, spreadsheets, Maltego |
//! | [`Format::Html`] | one self-contained HTML page with an SVG picture and the deposits table | people, reports |
//!
//! The deposits CSV of SPEC (`chaintrace deposits --format csv`) is [`deposits::deposits_csv`].
//!
//! Every node and edge carries the attributes listed in [`graph`]; text is made safe for
//! each syntax by the rules in [`text`] (control characters become visible Control Pictures,
//! spreadsheet formulas are neutralised in CSV). Nothing here prints: the CLI reports.
//!
//! Files are written by [`atomic`] (a temporary name in the output's directory, fsync, rename),
//! so a failed export never leaves a half-written file under the final name, and an existing
//! output is replaced only when [`ExportOptions::force`] is set. Case files are read with the
//! model's codec, [`CaseFile::from_json_bytes`].

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

use std::{
    fmt,
    path::{Path, PathBuf},
    str::FromStr,
};

use chaintrace_model::CaseFile;

pub mod atomic;
pub mod csv;
pub mod deposits;
pub mod dot;
pub mod gexf;
pub mod graph;
pub mod graphml;
pub mod html;
pub mod json;
pub mod layout;
pub mod text;

pub use graph::Graph;

/// An export format (`--format`); see the table in the crate docs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    /// GraphML (`graph.graphml`).
    Graphml,
    /// GEXF 1.3 (`graph.gexf`).
    Gexf,
    /// Graphviz DOT (`graph.dot`).
    Dot,
    /// Cytoscape.js elements JSON (`graph.json`).
    Json,
    /// Neo4j import CSV: a directory with `nodes.csv` and `edges.csv`.
    Csv,
    /// Self-contained HTML with SVG (`graph.html`).
    Html,
}

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 6] = [Format::Graphml, Format::Gexf, Format::Dot, Format::Json, Format::Csv, Format::Html];

    /// The lower-case name accepted by `--format`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Graphml => "graphml",
            Format::Gexf => "gexf",
            Format::Dot => "dot",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Html => "html",
        }
    }

    /// Whether the output path names a directory (CSV) rather than a file.
    pub fn is_directory(self) -> bool {
        self == Format::Csv
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase();
        Format::ALL.into_iter().find(|f| f.as_str() == norm).ok_or_else(|| {
            format!("unknown export format {s:?}: expected one of {}", Format::ALL.map(Format::as_str).join(", "))
        })
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Writing the output failed (it exists, or the filesystem refused).
    #[error(transparent)]
    Write(#[from] atomic::WriteError),
    /// The case file is inconsistent (an edge names an address the case does not have, …).
    #[error("invalid case file: {0}")]
    InvalidCase(String),
    /// The CSV encoder failed.
    #[error("cannot encode CSV")]
    Csv(#[source] ::csv::Error),
}

/// How [`export`] writes its output.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExportOptions {
    /// Replace an existing output.
    pub force: bool,
}

/// What an export wrote.
#[derive(Clone, Debug)]
pub struct Written {
    /// The format written.
    pub format: Format,
    /// The files written, in order.
    pub files: Vec<PathBuf>,
    /// Nodes in the case file.
    pub nodes: usize,
    /// Edges in the case file.
    pub edges: usize,
}

/// Render one format into memory: one `(file name, bytes)` per file. Single-file formats
/// return one entry named after the format; CSV returns `nodes.csv` and `edges.csv`.
pub fn render(case: &CaseFile, format: Format) -> Result<Vec<(&'static str, Vec<u8>)>, ExportError> {
    let graph = Graph::new(case)?;
    Ok(match format {
        Format::Graphml => vec![("graph.graphml", graphml::render(&graph))],
        Format::Gexf => vec![("graph.gexf", gexf::render(&graph))],
        Format::Dot => vec![("graph.dot", dot::render(&graph).into_bytes())],
        Format::Json => vec![("graph.json", json::render(&graph))],
        Format::Csv => {
            let (nodes, edges) = csv::render(&graph)?;
            vec![(csv::NODES_FILE, nodes), (csv::EDGES_FILE, edges)]
        }
        Format::Html => vec![("graph.html", html::render(&graph).into_bytes())],
    })
}

/// Render `case` as `format` and write it to `output` (a directory for CSV).
pub fn export(case: &CaseFile, format: Format, output: &Path, options: ExportOptions) -> Result<Written, ExportError> {
    let rendered = render(case, format)?;
    let replace = if options.force { atomic::Replace::Yes } else { atomic::Replace::No };
    let files = if format.is_directory() {
        atomic::write_dir(output, &rendered, replace)?
    } else {
        let (_, bytes) = rendered.first().expect("single-file formats render one file");
        atomic::write_file(output, bytes, replace)?;
        vec![output.to_path_buf()]
    };
    Ok(Written { format, files, nodes: case.nodes.len(), edges: case.edges.len() })
}

/// An empty one-chain case on `ethereum` with one seed, a forward trace under `policy` of `hops`
/// hops: the fixture the formats' unit tests fill in.
#[cfg(test)]
pub(crate) fn test_case(version: u32, seed: &str, policy: &str, hops: u32) -> CaseFile {
    CaseFile {
        version,
        chain: "ethereum".into(),
        chains: vec!["ethereum".into()],
        seeds: vec![seed.into()],
        params: chaintrace_model::TraceParams {
            direction: "forward".into(),
            hops,
            policy: policy.into(),
            min_amount: None,
            asset: None,
            since: None,
            until: None,
            seeds_label: None,
            hub_degree: 1,
        },
        provenance: chaintrace_model::Provenance::default(),
        nodes: vec![],
        edges: vec![],
        deposits: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>(), Ok(f));
        }
        assert!("pdf".parse::<Format>().unwrap_err().contains("graphml, gexf, dot, json, csv, html"));
    }

    fn empty_case() -> CaseFile {
        let json = r#"{"version": 1, "chain": "bitcoin", "seeds": [],
            "params": {"direction": "forward", "hops": 6, "policy": "haircut", "min_amount": null,
                       "asset": null, "since": null, "until": null, "seeds_label": null, "hub_degree": 1000},
            "provenance": {"tool_version": "0", "store_tips": {}, "labels_hash": ""},
            "nodes": [], "edges": [], "deposits": []}"#;
        CaseFile::from_json_str(json).unwrap()
    }

    /// A walk over two chains with a swap and a bridge.
    fn two_chain_case() -> CaseFile {
        let json = r##"{"version": 2, "chain": "arbitrum,ethereum", "chains": ["arbitrum", "ethereum"],
            "seeds": ["0x1111111111111111111111111111111111111111"],
            "params": {"direction": "forward", "hops": 6, "policy": "haircut", "min_amount": null,
                       "asset": null, "since": null, "until": null, "seeds_label": null, "hub_degree": 1000},
            "provenance": {"tool_version": "0", "store_tips": {}, "labels_hash": ""},
            "nodes": [
              {"address": "0x1111111111111111111111111111111111111111", "chain": "ethereum", "hop": 0, "role": "seed", "labels": []},
              {"address": "0x2222222222222222222222222222222222222222", "chain": "ethereum", "hop": 1, "role": "intermediate", "labels": []},
              {"address": "0x2222222222222222222222222222222222222222", "chain": "arbitrum", "hop": 1, "role": "intermediate", "labels": []},
              {"address": "0x9999999999999999999999999999999999999999", "chain": "arbitrum", "hop": 2, "role": "exchange_deposit",
               "labels": [{"category": "exchange_deposit", "entity": "OKX", "source": "t"}]}],
            "edges": [
              {"from": "0x1111111111111111111111111111111111111111", "to": "0x2222222222222222222222222222222222222222",
               "chain": "ethereum", "kind": "transfer", "tx": "0x01", "block": 1, "time": "2024-06-01T00:00:00Z",
               "asset": "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48", "symbol": "USDC", "amount": "1000", "amount_raw": "1000000000",
               "traced_amount": "1000", "usd": "1000.00"},
              {"from": "0x2222222222222222222222222222222222222222", "to": "0x2222222222222222222222222222222222222222",
               "chain": "ethereum", "kind": "swap", "tx": "0x02", "block": 2, "time": "2024-06-01T00:01:00Z",
               "asset": "ETH", "symbol": "ETH", "amount": "0.3", "amount_raw": "300000000000000000",
               "traced_amount": "0.3", "usd": null, "asset_in": "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
               "asset_out": "ETH", "symbol_in": "USDC", "amount_in": "1000", "amount_out": "0.3", "traced_in": "1000",
               "via": "uniswap_v2"},
              {"from": "0x2222222222222222222222222222222222222222", "to": "0x2222222222222222222222222222222222222222",
               "chain": "ethereum", "kind": "bridge", "tx": "0x03", "block": 3, "time": "2024-06-01T00:02:00Z",
               "asset": "ETH", "symbol": "ETH", "amount": "0.3", "amount_raw": "300000000000000000",
               "traced_amount": "0.3", "usd": null, "chain_from": "ethereum", "chain_to": "arbitrum", "amount_out": "0.3"},
              {"from": "0x2222222222222222222222222222222222222222", "to": "0x9999999999999999999999999999999999999999",
               "chain": "arbitrum", "kind": "transfer", "tx": "0x04", "block": 9, "time": "2024-06-01T00:09:00Z",
               "asset": "ETH", "symbol": "ETH", "amount": "0.3", "amount_raw": "300000000000000000",
               "traced_amount": "0.3", "usd": null}],
            "deposits": []}"##;
        CaseFile::from_json_str(json).unwrap()
    }

    /// A walk over two chains: the same EVM key on both is two nodes, a swap is a labelled
    /// conversion and a bridge joins the chains; every format keeps them apart and says which
    /// is which.
    #[test]
    fn every_format_shows_chains_swaps_and_bridges() {
        let case = two_chain_case();
        let a2 = "0x2222222222222222222222222222222222222222";
        for f in Format::ALL {
            let files = render(&case, f).unwrap_or_else(|e| panic!("{f}: {e}"));
            let text: String = files.iter().map(|(_, b)| String::from_utf8_lossy(b).into_owned()).collect();
            // the same key on two chains is two nodes, named with their chain
            assert!(text.contains(&format!("ethereum:{a2}")) && text.contains(&format!("arbitrum:{a2}")), "{f}");
            match f {
                Format::Html => {
                    assert!(text.contains("swap USDC → ETH"), "html draws the swap as a labelled conversion");
                    assert!(
                        text.contains("swap: 1000 USDC → 0.3 ETH") && text.contains("ETH bridged ethereum → arbitrum")
                    );
                    assert!(
                        text.contains(r#"data-kind="bridge""#) && text.contains("bridge → arbitrum"),
                        "html bridge"
                    );
                    assert!(text.contains("chain arbitrum") && text.contains("chain ethereum"), "html chain legend");
                    assert!(
                        text.contains(crate::graph::chain_colour(0)) && text.contains(crate::graph::chain_colour(1))
                    );
                }
                Format::Csv => {
                    assert!(
                        text.contains(",SWAP,") && text.contains(",BRIDGE,") && text.contains(",TRANSFER,"),
                        "{text}"
                    );
                }
                Format::Dot => {
                    assert!(text.contains("swap\\n1000 USDC → 0.3 ETH"), "{text}");
                    assert!(text.contains("bridge ethereum → arbitrum"), "{text}");
                }
                _ => {
                    for needle in ["swap", "bridge", "chain_to", "asset_in", "amount_out"] {
                        assert!(text.contains(needle), "{f}: {needle}");
                    }
                }
            }
        }
    }

    /// The Cytoscape.js JSON, written an element at a time, is exactly `serde_json`'s pretty
    /// text of the document it holds (read back and printed again: same bytes), with no
    /// element, with nodes and no edges, and with both.
    #[test]
    fn json_is_serde_jsons_own_pretty_text() {
        let mut lone = empty_case();
        lone.nodes.push(chaintrace_model::CaseNode {
            address: "bc1qlone".into(),
            chain: String::new(),
            hop: 0,
            role: chaintrace_model::Role::Seed,
            labels: Vec::new(),
            stop_reason: None,
            cluster: None,
        });
        for case in [empty_case(), lone, two_chain_case()] {
            let text = render(&case, Format::Json).unwrap().remove(0).1;
            let value: serde_json::Value = serde_json::from_slice(&text).unwrap();
            let mut again = serde_json::to_vec_pretty(&value).unwrap();
            again.push(b'\n');
            assert_eq!(String::from_utf8(text).unwrap(), String::from_utf8(again).unwrap());
            let elements = &value["elements"];
            assert_eq!(elements["nodes"].as_array().unwrap().len(), case.nodes.len());
            assert_eq!(elements["edges"].as_array().unwrap().len(), case.edges.len());
        }
    }

    #[test]
    fn every_format_renders_an_empty_case_and_a_lone_node() {
        let mut case = empty_case();
        for f in Format::ALL {
            assert!(!render(&case, f).unwrap()[0].1.is_empty(), "{f}");
        }
        case.nodes.push(chaintrace_model::CaseNode {
            address: "bc1qlone".into(),
            chain: String::new(),
            hop: 0,
            role: chaintrace_model::Role::Seed,
            labels: vec![],
            stop_reason: None,
            cluster: None,
        });
        for f in Format::ALL {
            let out = render(&case, f).unwrap();
            assert!(String::from_utf8_lossy(&out[0].1).contains("bc1qlone"), "{f}");
        }
    }

    #[test]
    fn inconsistent_cases_are_errors_not_panics() {
        let mut case = empty_case();
        let node = chaintrace_model::CaseNode {
            address: "a".into(),
            chain: String::new(),
            hop: 0,
            role: chaintrace_model::Role::Seed,
            labels: vec![],
            stop_reason: None,
            cluster: None,
        };
        case.nodes = vec![node.clone(), node];
        let err = render(&case, Format::Json).unwrap_err().to_string();
        assert!(err.contains("appears twice"), "{err}");
    }

    #[test]
    fn export_into_a_missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("missing/sub/out.graphml");
        let err = export(&empty_case(), Format::Graphml, &out, ExportOptions::default()).unwrap_err();
        assert!(matches!(err, ExportError::Write(atomic::WriteError::Io { .. })), "{err}");
        assert!(!out.exists());
    }
}
