//! `chaintrace`: follow illicit crypto payments hop by hop to the exchanges that cashed them out.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

mod adapters;
mod alloc;
mod commands;
mod config;
mod context;
mod files;
mod memory;
mod output;
mod serve;

use std::{path::PathBuf, process::ExitCode};

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::context::Context;

/// glibc's allocator, or mimalloc for `ingest bitcoin` (`alloc.rs`).
#[global_allocator]
static ALLOCATOR: alloc::PerCommand = alloc::PerCommand;

/// Environment variables chaintrace reads, listed in `--help` and in `configs/default.toml`.
/// Each one but `CHAINTRACE_LOG` is also a flag's `env` (clap shows it beside the flag).
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("CHAINTRACE_STORE", "the store directory (--store)"),
    ("CHAINTRACE_CONFIG", "a config file (--config)"),
    ("CHAINTRACE_LOG", "log filter on stderr, e.g. debug or chaintrace=info (overrides -v)"),
    (
        "CHAINTRACE_EVM_TRACES",
        "EVM ingest: internal transfers from auto (probe), off, geth or parity traces (--traces)",
    ),
    ("CHAINTRACE_EVM_TIMEOUT", "EVM ingest: per-request timeout in seconds, default 30 (--timeout)"),
    ("CHAINTRACE_EVM_POLL", "EVM ingest without --to: head polling interval in seconds, default 2 (--poll)"),
];

/// The `Environment:` section of `chaintrace --help` (kept equal to [`ENVIRONMENT`] by a test).
const ENV_HELP: &str = "\
Environment:
  CHAINTRACE_STORE        the store directory (--store)
  CHAINTRACE_CONFIG       a config file (--config)
  CHAINTRACE_LOG          log filter on stderr, e.g. debug or chaintrace=info (overrides -v)
  CHAINTRACE_EVM_TRACES   EVM ingest: internal transfers from auto (probe), off, geth or parity traces (--traces)
  CHAINTRACE_EVM_TIMEOUT  EVM ingest: per-request timeout in seconds, default 30 (--timeout)
  CHAINTRACE_EVM_POLL     EVM ingest without --to: head polling interval in seconds, default 2 (--poll)";

/// The command line: global flags and one subcommand.
#[derive(Parser, Debug)]
#[command(
    name = "chaintrace",
    version,
    about = "Trace crypto payments hop by hop to the exchanges that cashed them out",
    after_help = ENV_HELP
)]
pub(crate) struct Cli {
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
    /// Recompute every chain's digest and counts from the stored rows and compare them with the checkpoint.
    Verify(commands::verify::VerifyArgs),
    /// Export a case file: graphml, gexf, dot, json (Cytoscape.js), csv (Neo4j), html.
    Export(commands::export::ExportArgs),
    /// Labels: import watchlists and attributions, list, show, infer exchange deposit addresses.
    Labels(commands::labels::LabelsArgs),
    /// Walk from seed addresses hop by hop; print a summary or write the case file (--out).
    Trace(commands::trace::TraceArgs),
    /// Compact the whole store (every level into the Zstd-compressed bottom one): the smallest size on disk.
    Compact,
    /// Build the tracer's graph snapshot of each chain beside the store (traces read it while it is fresh or caught up), or fold a caught-up one into its file.
    Snapshot(commands::snapshot::SnapshotArgs),
    /// The flagged exchange deposits of a case file (CSV or JSON).
    Deposits(commands::trace::DepositsArgs),
    /// The main job end to end on the embedded demo case (offline): ingest, labels, trace, deposits, exports.
    Demo(commands::demo::DemoArgs),
    /// Bitcoin: group addresses into entities by common-input ownership (CoinJoins excluded).
    Cluster(commands::cluster::ClusterArgs),
    /// The investigator's workbench: a JSON API and an interactive graph in the browser.
    Serve(serve::ServeArgs),
}

/// Run the parsed command; `matches` are what clap parsed it from (the ingest command asks them
/// which flags were given on the command line rather than taken from the environment).
fn run(cli: Cli, matches: &ArgMatches) -> anyhow::Result<()> {
    let ctx = Context::new(&cli)?;
    match cli.command {
        Command::Ingest(args) => {
            let ingest = matches.subcommand_matches("ingest").expect("clap parsed the ingest subcommand");
            commands::ingest::run(&ctx, args, ingest)
        }
        Command::Transfers(args) => commands::transfers::run(&ctx, args),
        Command::Stats => commands::stats::run(&ctx),
        Command::Verify(args) => commands::verify::run(&ctx, args),
        Command::Export(args) => commands::export::run(&ctx, args),
        Command::Labels(args) => commands::labels::run(&ctx, args),
        Command::Trace(args) => commands::trace::run(&ctx, args),
        Command::Compact => commands::compact::run(&ctx),
        Command::Snapshot(args) => commands::snapshot::run(&ctx, args),
        Command::Deposits(args) => commands::trace::run_deposits(&ctx, args),
        Command::Demo(args) => commands::demo::run(&ctx, args),
        Command::Cluster(args) => commands::cluster::run(&ctx, args),
        Command::Serve(args) => serve::run(ctx, args),
    }
}

// The binary's one error report: a single line on stderr (libraries never print).
#[allow(clippy::print_stderr)]
fn main() -> ExitCode {
    // A panic is a bug. Its message may quote user input (a URL with a password, a file's
    // bytes), so only the code location is printed, never the message.
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("error: internal error{at} (this is a bug in chaintrace; please report it)");
    }));
    let parsed = Cli::command().try_get_matches().and_then(|m| Ok((Cli::from_arg_matches(&m)?, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return usage_error(e),
    };
    output::init_logging(cli.verbose);
    tracing::debug!(allocator = alloc::name(), purge_delay_ms = alloc::purge_delay(), "memory allocator");
    match run(cli, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        // A usage mistake found after parsing (e.g. a flag of the other chain kind).
        Err(e) if e.is::<clap::Error>() => match e.downcast::<clap::Error>() {
            Ok(usage) => usage_error(usage),
            Err(e) => {
                eprintln!("error: {}", output::one_line(&e));
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: {}", output::one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// Help and version go out as clap prints them; a usage mistake becomes one line on stderr
/// (what was wrong, and where to look) with exit status 2.
#[allow(clippy::print_stderr)]
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `env = "..."` of an argument anywhere in the command tree, with the argument's long
    /// flag.
    fn arg_envs(cmd: &clap::Command, out: &mut Vec<(String, String)>) {
        for arg in cmd.get_arguments() {
            if let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) {
                out.push((env.to_string_lossy().into_owned(), format!("--{long}")));
            }
        }
        for sub in cmd.get_subcommands() {
            arg_envs(sub, out);
        }
    }

    #[test]
    fn environment_help_lists_every_variable() {
        for (name, what) in ENVIRONMENT {
            let line = ENV_HELP.lines().find(|l| l.trim_start().starts_with(name));
            assert!(line.is_some_and(|l| l.ends_with(what)), "--help must list {name}: {what}");
        }
        assert_eq!(ENV_HELP.lines().count(), ENVIRONMENT.len() + 1);
        // Each flag's variable is listed, naming that flag; each listed variable but the log
        // filter is some flag's.
        let mut envs = Vec::new();
        arg_envs(&Cli::command(), &mut envs);
        for (env, long) in &envs {
            let listed = ENVIRONMENT.iter().find(|(name, _)| name == env);
            assert!(listed.is_some_and(|(_, what)| what.contains(&format!("({long})"))), "{env} ({long}) unlisted");
        }
        for (name, _) in ENVIRONMENT.iter().filter(|(name, _)| *name != "CHAINTRACE_LOG") {
            assert!(envs.iter().any(|(env, _)| env == name), "{name} is no flag's env");
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }
}
