//! `chaintrace`: follow illicit crypto payments hop by hop to the exchanges that cashed them out.

mod adapters;
mod commands;
mod config;
mod context;
mod output;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

use crate::context::Context;

#[derive(Parser, Debug)]
#[command(
    name = "chaintrace",
    version,
    about = "Trace crypto payments hop by hop to the exchanges that cashed them out"
)]
pub struct Cli {
    /// The store directory (RocksDB).
    #[arg(long, global = true, env = "CHAINTRACE_STORE", default_value = "./chaintrace-data", help_heading = "Global")]
    store: PathBuf,
    /// A TOML config overlaying the embedded default (chains, RPC endpoints, tracer defaults).
    #[arg(long, global = true, env = "CHAINTRACE_CONFIG", help_heading = "Global")]
    config: Option<PathBuf>,
    /// Machine-readable JSON on stdout.
    #[arg(long, global = true, help_heading = "Global")]
    json: bool,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Global")]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Ingest blocks from a node, Bitcoin Core's blk files, or an Esplora API.
    Ingest(commands::ingest::IngestArgs),
    /// The stored transfers into and out of one address, oldest first.
    Transfers(commands::transfers::TransfersArgs),
    /// What the store holds: tips, blocks, transfers, addresses, labels and the digest.
    Stats,
    /// Export a case file: graphml, gexf, dot, json (Cytoscape.js), csv (Neo4j), html.
    Export(commands::export::ExportArgs),
    /// Labels: import watchlists and attributions, list, show, infer exchange deposit addresses.
    Labels(commands::labels::LabelsArgs),
    /// Walk from seed addresses hop by hop; print a summary or write the case file (--out).
    Trace(commands::trace::TraceArgs),
    /// The flagged exchange deposits of a case file (CSV or JSON).
    Deposits(commands::trace::DepositsArgs),
    /// The main job end to end on the embedded demo case (offline): ingest, labels, trace, deposits, exports.
    Demo(commands::demo::DemoArgs),
    /// Bitcoin: group addresses into entities by common-input ownership (CoinJoins excluded).
    Cluster(commands::cluster::ClusterArgs),
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = Context::new(&cli)?;
    match cli.command {
        Command::Ingest(args) => commands::ingest::run(&ctx, args),
        Command::Transfers(args) => commands::transfers::run(&ctx, args),
        Command::Stats => commands::stats::run(&ctx),
        Command::Export(args) => commands::export::run(&ctx, args),
        Command::Labels(args) => commands::labels::run(&ctx, args),
        Command::Trace(args) => commands::trace::run(&ctx, args),
        Command::Deposits(args) => commands::trace::run_deposits(&ctx, args),
        Command::Demo(args) => commands::demo::run(&ctx, args),
        Command::Cluster(args) => commands::cluster::run(&ctx, args),
    }
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("error: internal error{at}: {msg} (this is a bug in chaintrace; please report it)");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    output::init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", output::one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// Help and version go out as clap prints them; a usage mistake becomes one line on stderr
/// (what was wrong, and where to look) with exit status 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
    }
    let text = e.render().to_string();
    let what: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    let line = what.join(" ");
    let line = line.strip_prefix("error: ").unwrap_or(&line);
    eprintln!("error: {line} (see chaintrace --help)");
    ExitCode::from(2)
}
