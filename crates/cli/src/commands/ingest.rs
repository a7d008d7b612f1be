//! `chaintrace ingest CHAIN …`: dispatch to the adapter of the chain's kind.

use std::path::PathBuf;

use anyhow::Result;
use chaintrace_model::ChainKind;
use clap::Args;

use crate::context::Context;

#[derive(Args, Debug, Clone)]
pub struct IngestArgs {
    /// Chain name from the config (`bitcoin`, `ethereum`, or any EVM chain you add).
    pub chain: String,
    /// Node RPC URL (EVM JSON-RPC or Bitcoin Core RPC); defaults to the config's `rpc`.
    #[arg(long, help_heading = "Source")]
    pub rpc: Option<String>,
    /// First block height to ingest (default: after the stored tip, or 0).
    #[arg(long, help_heading = "Range")]
    pub from: Option<u64>,
    /// Last block height to ingest (default: the node's head; EVM without --to follows the head).
    #[arg(long, help_heading = "Range")]
    pub to: Option<u64>,
    /// Bitcoin: read Bitcoin Core's blk*.dat files from this directory.
    #[arg(long, help_heading = "Source")]
    pub blocks_dir: Option<PathBuf>,
    /// Bitcoin: network of the blk files (mainnet, testnet, signet, regtest).
    #[arg(long, help_heading = "Source")]
    pub network: Option<String>,
    /// Bitcoin: fetch address histories from this Esplora API base URL.
    #[arg(long, help_heading = "Source")]
    pub esplora: Option<String>,
    /// Bitcoin (with --esplora): the addresses whose history to fetch.
    #[arg(long, num_args = 1.., help_heading = "Source")]
    pub address: Vec<String>,
    /// Bitcoin Core RPC cookie file (instead of user:password in the URL).
    #[arg(long, help_heading = "Source")]
    pub cookie: Option<PathBuf>,
    /// Blocks written per atomic batch.
    #[arg(long, default_value_t = 100, help_heading = "Tuning")]
    pub batch_blocks: usize,
    /// Most RPC requests in flight at once.
    #[arg(long, default_value_t = 8, help_heading = "Tuning")]
    pub max_in_flight: usize,
    /// Most RPC requests per second (0: unlimited).
    #[arg(long, default_value_t = 0.0, help_heading = "Tuning")]
    pub rate: f64,
    /// JSON-RPC requests per batch.
    #[arg(long, default_value_t = 50, help_heading = "Tuning")]
    pub rpc_batch: usize,
}

pub fn run(ctx: &Context, args: IngestArgs) -> Result<()> {
    let spec = ctx.config.chain(&args.chain)?.clone();
    match spec.kind {
        ChainKind::Bitcoin => super::ingest_bitcoin::run(ctx, &spec, &args),
        ChainKind::Evm => super::ingest_evm::run(ctx, &spec, &args),
    }
}
