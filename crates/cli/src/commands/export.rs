//! `chaintrace export CASE.json --format F --output PATH [--force]`: render a case file for
//! Gephi, yEd, Graphviz, Neo4j, Cytoscape, spreadsheets, or as a self-contained HTML page.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use chaintrace_export::{ExportOptions, Format};
use chaintrace_model::CaseFile;
use clap::Args;

use crate::{context::Context, output};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The case file written by `chaintrace trace --out CASE.json`.
    #[arg(value_name = "CASE.json")]
    pub case: PathBuf,

    /// Output format: graphml (yEd, Gephi, networkx), gexf (Gephi, with a timeline), dot
    /// (Graphviz), json (Cytoscape.js), csv (Neo4j import / spreadsheets: PATH is a directory
    /// that receives nodes.csv and edges.csv), html (one self-contained page with the picture
    /// and the deposits table).
    #[arg(long, short = 'f', value_name = "F", value_parser = parse_format, help_heading = "Output")]
    pub format: Format,

    /// Where to write: a file, or for csv a directory.
    #[arg(long, short = 'o', value_name = "PATH", help_heading = "Output")]
    pub output: PathBuf,

    /// Replace an existing output.
    #[arg(long, help_heading = "Output")]
    pub force: bool,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

/// Read a case file robustly: bytes that are not UTF-8 become U+FFFD rather than failing the
/// whole file; invalid JSON is reported with its line and column.
pub fn read_case_file(path: &std::path::Path) -> Result<CaseFile> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read case file {}", path.display()))?;
    chaintrace_export::read_case(&bytes)
        .with_context(|| format!("cannot load case file {} (write one with `chaintrace trace --out`)", path.display()))
}

pub fn run(ctx: &Context, args: ExportArgs) -> Result<()> {
    let case = read_case_file(&args.case)?;
    let written = chaintrace_export::export(&case, args.format, &args.output, ExportOptions { force: args.force })
        .with_context(|| format!("cannot export {} as {}", args.case.display(), args.format))?;
    tracing::info!(format = %written.format, nodes = written.nodes, edges = written.edges, "export written");
    let files: Vec<String> = written.files.iter().map(|p| p.display().to_string()).collect();
    if ctx.json {
        output::json(&serde_json::json!({
            "format": written.format.as_str(),
            "files": files,
            "nodes": written.nodes,
            "edges": written.edges,
        }))
    } else {
        output::line(format_args!(
            "wrote {} ({} addresses, {} transfers): {}",
            written.format,
            written.nodes,
            written.edges,
            files.join(", ")
        ))
    }
}
