use anyhow::{Context as _, Result};
use chaintrace_model::{Address, ChainKind, Direction};
use clap::{Args, ValueEnum};

use crate::{commands::render, context::Context, output};

/// `--direction`: one side of the address, or both (maps onto the model's [`Direction`]).
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Dir {
    In,
    Out,
    Both,
}

impl Dir {
    fn directions(self) -> &'static [Direction] {
        match self {
            Dir::In => &[Direction::In],
            Dir::Out => &[Direction::Out],
            Dir::Both => &Direction::BOTH,
        }
    }
}

#[derive(Args, Debug)]
pub(crate) struct TransfersArgs {
    /// The address (EVM 0x…, or a Bitcoin address).
    address: String,
    /// Chain name from the config (default: ethereum for 0x addresses, bitcoin otherwise).
    #[arg(long)]
    chain: Option<String>,
    #[arg(long, value_enum, default_value = "both")]
    direction: Dir,
    /// At most this many transfers per direction.
    #[arg(long, default_value_t = 10_000)]
    limit: usize,
}

pub(crate) fn run(ctx: &Context, args: TransfersArgs) -> Result<()> {
    let given_kind = args.chain.as_deref().map(|c| ctx.config.chain(c).map(|s| s.kind)).transpose()?;
    let address = match given_kind {
        // On TRON, 41… and 0x… hex are TRON accounts too.
        Some(ChainKind::Tron) => Address::parse_tron(&args.address),
        _ => Address::parse_any(&args.address),
    }
    .context("check the address")?;
    let default_chain = match address {
        Address::Evm(_) => "ethereum",
        Address::Tron(_) => "tron",
        Address::Bitcoin(_) | Address::Coinbase => "bitcoin",
    };
    let chain = args.chain.clone().unwrap_or_else(|| default_chain.to_string());
    let spec = ctx.config.chain(&chain)?;
    if !address.fits(spec.kind) {
        anyhow::bail!("{address} is not an address of chain {chain:?} (kind {:?}): pass --chain", spec.kind);
    }
    let store = ctx.open_store()?;
    let mut all = Vec::new();
    for &dir in args.direction.directions() {
        all.extend(store.transfers(&chain, &address, dir, None, args.limit)?);
    }
    all.sort_by_key(|t| t.order());
    all.dedup_by_key(|t| t.order());
    let edges: Vec<_> = all.iter().map(|t| render::edge(&store, spec, t)).collect();
    if ctx.json {
        return output::json(&edges);
    }
    if edges.is_empty() {
        return output::line(format!("no stored transfers for {address} on {chain}"));
    }
    for e in &edges {
        let dir = if e.from == address.to_string() { "out" } else { "in " };
        output::line(format!(
            "{} block {:>9} {dir} {} -> {}  {} {}  tx {}",
            e.time,
            e.block,
            e.from,
            e.to,
            e.amount,
            e.symbol.as_deref().unwrap_or(&e.asset),
            e.tx
        ))?;
    }
    if spec.kind == ChainKind::Bitcoin {
        if let Some((id, size)) = super::cluster::cluster_of(&store, &chain, &address)? {
            output::line(format!("cluster {id} ({size} addresses by common inputs)"))?;
        }
    }
    Ok(())
}
