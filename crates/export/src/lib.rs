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
