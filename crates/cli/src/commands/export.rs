//! `chaintrace export CASE.json --format F --output PATH [--force]`: render a case file for
//! Gephi, yEd, Graphviz, Neo4j, Cytoscape, spreadsheets, or as a self-contained HTML page.

use std::path::PathBuf;

use anyhow::{anyhow, Result};
use chaintrace_export::atomic::WriteError;
use chaintrace_export::{ExportError, ExportOptions, Format};
use clap::Args;

use crate::{context::Context, files, output};

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
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

pub(crate) fn run(ctx: &Context, args: ExportArgs) -> Result<()> {
    let case = files::read_case(&args.case)?;
    let written = chaintrace_export::export(&case, args.format, &args.output, ExportOptions { force: args.force })
        .map_err(|e| match e {
            // The library states the fact; the flag that overrides it is ours to name.
            ExportError::Write(WriteError::Exists(p)) => {
                anyhow!("{} already exists: pass --force to overwrite it", p.display())
            }
            ExportError::Write(WriteError::NotADirectory(p)) => anyhow!(
                "{} exists and is not a directory: --format csv writes nodes.csv and edges.csv into the directory --output names",
                p.display()
            ),
            e => anyhow::Error::new(e).context(format!("cannot export {} as {}", args.case.display(), args.format)),
        })?;
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
