//! `chaintrace ingest CHAIN …`: dispatch to the adapter of the chain's kind.
//!
//! Flags come in groups by the kind they apply to; a flag of the other kind is a usage error
//! (exit status 2), not silently ignored. Both kinds write through one [`StoreSink`](crate::adapters::sink::StoreSink).

mod bitcoin;
mod evm;
mod freezes;
mod tron;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use chaintrace_model::{ChainKind, ChainSpec};
use clap::parser::ValueSource;
use clap::{error::ErrorKind, ArgMatches, Args, CommandFactory, ValueEnum};

use crate::context::Context;
use crate::output;

/// `chaintrace ingest`'s arguments, in groups by the chain kind they apply to.
#[derive(Args, Debug, Clone)]
pub(crate) struct IngestArgs {
    /// Chain name from the config (`bitcoin`, `ethereum`, or any EVM chain you add).
    pub chain: String,
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub range: RangeArgs,
    #[command(flatten)]
    pub bitcoin: BitcoinArgs,
    #[command(flatten)]
    pub evm: EvmArgs,
    /// The addresses whose history to fetch: with --esplora (Bitcoin), or on their own on an EVM
    /// or TRON chain (its transfers on demand, without indexing the chain).
    #[arg(long, num_args = 1.., help_heading = "Addresses")]
    pub address: Vec<String>,
    /// After the ingest, compact the whole store (every level into the Zstd-compressed bottom
    /// one): the smallest store on disk, at the cost of a rewrite. Any chain; on an EVM chain
    /// with --to (a follow of the head has no end). `chaintrace compact` does the same alone.
    #[arg(long, help_heading = "Store")]
    pub compact: bool,
}

/// A node: EVM JSON-RPC or Bitcoin Core RPC, by the chain's kind.
#[derive(Args, Debug, Clone)]
pub(crate) struct NodeArgs {
    /// Node RPC URL (EVM JSON-RPC or Bitcoin Core RPC); defaults to the config's `rpc`.
    #[arg(long, help_heading = "Node (EVM JSON-RPC or Bitcoin Core RPC)", conflicts_with_all = ["blocks_dir", "esplora"])]
    pub rpc: Option<String>,
    /// JSON-RPC requests per batch [default: 50].
    #[arg(long, help_heading = "Node (EVM JSON-RPC or Bitcoin Core RPC)", conflicts_with_all = ["blocks_dir", "esplora"])]
    pub rpc_batch: Option<usize>,
    /// Blocks written per atomic batch [default: 100].
    #[arg(long, help_heading = "Node (EVM JSON-RPC or Bitcoin Core RPC)", conflicts_with = "esplora")]
    pub batch_blocks: Option<usize>,
}

/// Which blocks.
#[derive(Args, Debug, Clone)]
pub(crate) struct RangeArgs {
    /// First block height to ingest (default: after the stored tip, or 0). Not with --blocks-dir:
    /// block files are read from genesis, then after the stored tip.
    #[arg(long, help_heading = "Range", conflicts_with_all = ["blocks_dir", "esplora"])]
    pub from: Option<u64>,
    /// Last block height to ingest (default: the source's head; EVM without --to follows the head).
    #[arg(long, help_heading = "Range", conflicts_with = "esplora")]
    pub to: Option<u64>,
}

/// Sources only a Bitcoin chain has.
#[derive(Args, Debug, Clone)]
pub(crate) struct BitcoinArgs {
    /// Read Bitcoin Core's blk*.dat files from this directory.
    #[arg(long, help_heading = "Bitcoin", conflicts_with = "esplora")]
    pub blocks_dir: Option<PathBuf>,
    /// Network the source must serve (mainnet, testnet, signet, regtest); must agree with the
    /// chain's config.
    #[arg(long, help_heading = "Bitcoin")]
    pub network: Option<String>,
    /// Fetch the history of --address ADDR… from this Esplora API base URL.
    #[arg(long, help_heading = "Bitcoin", requires = "address")]
    pub esplora: Option<String>,
    /// Bitcoin Core RPC cookie file (instead of user:password in the URL).
    #[arg(long, help_heading = "Bitcoin", conflicts_with_all = ["blocks_dir", "esplora"])]
    pub cookie: Option<PathBuf>,
}

/// Knobs only the EVM adapter has. The last three can also be set with `CHAINTRACE_EVM_*`
/// environment variables; a flag wins over its variable, and a variable set while ingesting a
/// Bitcoin chain is ignored (only a flag given there is a usage error).
#[derive(Args, Debug, Clone)]
pub(crate) struct EvmArgs {
    /// Most RPC requests in flight at once [default: 8].
    #[arg(long, help_heading = "EVM")]
    pub(crate) max_in_flight: Option<usize>,
    /// Most RPC requests per second [default: 0, unlimited].
    #[arg(long, help_heading = "EVM")]
    pub(crate) rate: Option<f64>,
    /// Where internal (contract) value transfers come from: auto probes the node for trace_block,
    /// then debug_traceBlockByNumber (geth); off skips them.
    #[arg(long, help_heading = "EVM", env = "CHAINTRACE_EVM_TRACES", value_enum, default_value_t = Traces::Auto)]
    pub(crate) traces: Traces,
    /// Per-request timeout, in seconds (fractions allowed).
    #[arg(
        long,
        help_heading = "EVM",
        env = "CHAINTRACE_EVM_TIMEOUT",
        value_name = "SECONDS",
        default_value = "30",
        value_parser = parse_seconds
    )]
    pub(crate) timeout: Duration,
    /// Without --to: how often the node's head is polled, in seconds (fractions allowed).
    #[arg(
        long,
        help_heading = "EVM",
        env = "CHAINTRACE_EVM_POLL",
        value_name = "SECONDS",
        default_value = "2",
        value_parser = parse_seconds
    )]
    pub(crate) poll: Duration,
    /// Instead of ingesting new blocks: read the stored blocks of --from..--to that lack internal
    /// transfers (`stats` counts them) again with traces, and add those transfers. Needs a node
    /// that traces them (an archive node).
    #[arg(long, help_heading = "EVM", conflicts_with = "address")]
    pub(crate) refill_traces: bool,
}

/// `--traces` / `CHAINTRACE_EVM_TRACES`: which node API internal value transfers are read from.
/// (Plain comments on the variants: doc comments would switch `ingest --help` to its long form.)
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Traces {
    // Probe the node: trace_block (Parity/Erigon/Reth), then debug_traceBlockByNumber (Geth).
    Auto,
    // Do not read internal transfers.
    Off,
    // Geth's debug_traceBlockByNumber with the call tracer.
    Geth,
    // Parity-style trace_block.
    Parity,
}

/// A non-negative, finite number of seconds (`0.5`, `30`) as a [`Duration`].
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if secs.is_nan() || secs < 0.0 {
        return Err(format!("{text} is negative: give a number of seconds >= 0"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{text} seconds is too long"))
}

impl IngestArgs {
    /// Flags given that do not apply to a chain of `kind`. `matches` are `ingest`'s own, to
    /// tell a flag on the command line from a value taken from the environment or a default.
    fn foreign_flags(&self, kind: ChainKind, matches: &ArgMatches) -> Vec<&'static str> {
        let mut out = Vec::new();
        match kind {
            ChainKind::Evm | ChainKind::Tron => {
                let b = &self.bitcoin;
                for (given, flag) in [
                    (b.blocks_dir.is_some(), "--blocks-dir"),
                    (b.network.is_some(), "--network"),
                    (b.esplora.is_some(), "--esplora"),
                    (b.cookie.is_some(), "--cookie"),
                ] {
                    if given {
                        out.push(flag);
                    }
                }
            }
            ChainKind::Bitcoin => {
                let on_command_line = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
                for (given, flag) in [
                    (self.evm.max_in_flight.is_some(), "--max-in-flight"),
                    (self.evm.rate.is_some(), "--rate"),
                    (on_command_line("traces"), "--traces"),
                    (on_command_line("timeout"), "--timeout"),
                    (on_command_line("poll"), "--poll"),
                    (self.evm.refill_traces, "--refill-traces"),
                ] {
                    if given {
                        out.push(flag);
                    }
                }
                if !self.address.is_empty() && self.bitcoin.esplora.is_none() {
                    out.push("--address without --esplora");
                }
            }
        }
        out
    }
}

/// A usage mistake found after parsing (it needs the config): exit status 2, like clap's own.
fn usage(message: String) -> anyhow::Error {
    anyhow::Error::new(crate::Cli::command().error(ErrorKind::ArgumentConflict, message))
}

/// Ingest into the store from the source the flags and the chain's config name. `matches` are
/// the `ingest` subcommand's parsed arguments (see [`IngestArgs::foreign_flags`]).
pub(crate) fn run(ctx: &Context, args: IngestArgs, matches: &ArgMatches) -> Result<()> {
    let spec = ctx.config.chain(&args.chain)?.clone();
    if let Some(flag) = args.foreign_flags(spec.kind, matches).first() {
        let kind = match spec.kind {
            ChainKind::Evm => "an EVM chain",
            ChainKind::Bitcoin => "a Bitcoin chain",
            ChainKind::Tron => "a TRON chain",
        };
        return Err(usage(format!("{flag} does not apply to chain '{}', which is {kind}", spec.name)));
    }
    let follows =
        spec.kind == ChainKind::Evm && args.range.to.is_none() && args.address.is_empty() && !args.evm.refill_traces;
    if args.compact && follows {
        return Err(usage(format!(
            "--compact needs --to on chain '{}': without it ingest follows the head until Ctrl-C; run `chaintrace compact` after stopping it",
            spec.name
        )));
    }
    let res = match spec.kind {
        ChainKind::Bitcoin => bitcoin::run(ctx, &spec, &args),
        ChainKind::Evm => evm::run(ctx, &spec, &args),
        ChainKind::Tron => tron::run(ctx, &spec, &args),
    };
    res.map_err(|e| with_hint(e, &spec))?;
    if args.compact {
        // After the kind's ingest has closed its handle (a bulk load's last batches are then
        // flushed): a fresh writer compacts every family.
        let done = super::compact::compact_store(ctx)?;
        tracing::info!(
            bytes_before = done.bytes_before,
            bytes_after = done.bytes_after,
            seconds = done.seconds,
            "compacted the store"
        );
    }
    Ok(())
}

/// The library errors state facts; what the user can do about them (which flag to pass) is
/// added here, at the end of the one-line message.
fn with_hint(e: anyhow::Error, spec: &ChainSpec) -> anyhow::Error {
    match bitcoin::hint(&e, spec).or_else(|| evm::hint(&e, spec)).or_else(|| tron::hint(&e, spec)) {
        Some(hint) => anyhow::anyhow!("{}; {hint}", output::one_line(&e)),
        None => e,
    }
}
