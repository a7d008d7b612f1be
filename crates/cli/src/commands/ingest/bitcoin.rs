//! `chaintrace ingest bitcoin …`: the Bitcoin adapter's ingest loops over the store.
//!
//! Sources: Core's `blk*.dat` files (`--blocks-dir`), Bitcoin Core JSON-RPC (`--rpc`) and an
//! Esplora REST API (`--esplora --address …`). The loops (decoding, batches, reorganisations)
//! live in [`chaintrace_bitcoin::ingest`]; this file picks the source, wires the store in as
//! the sink and UTXO lookup, shows progress and prints the summary.

use anyhow::{bail, Context as _, Result};
use chaintrace_bitcoin::ingest::{check_genesis, ingest_blocks_dir, ingest_node, IngestError, IngestOptions, Progress};
use chaintrace_bitcoin::{
    bitcoin::Network,
    esplora::EsploraClient,
    network::{genesis_hash, network_name},
    parse_network,
    rpc::{NodeFallbackLookup, RpcClient, RpcError},
    to_hash32, BlkError, IngestSummary,
};
use chaintrace_model::{ChainSpec, Sensitive};
use chaintrace_store::Store;
use indicatif::ProgressBar;
use serde::Serialize;

use super::IngestArgs;
use crate::adapters::sink::StoreSink;
use crate::{context::Context, output};

#[derive(Debug, Default, Serialize)]
struct Summary {
    chain: String,
    source: &'static str,
    network: &'static str,
    blocks: u64,
    transactions: u64,
    transfers: u64,
    skipped: u64,
    rolled_back: u64,
    bytes: u64,
    tip_height: Option<u64>,
    tip_hash: Option<String>,
}

impl Summary {
    fn new(chain: &str, source: &'static str, network: Network, s: IngestSummary) -> Summary {
        Summary {
            chain: chain.to_string(),
            source,
            network: network_name(network),
            blocks: s.blocks,
            transactions: s.transactions,
            transfers: s.transfers,
            skipped: s.skipped,
            rolled_back: s.rolled_back,
            bytes: s.bytes,
            tip_height: s.tip.map(|t| t.0),
            tip_hash: s.tip.map(|t| t.1.to_hex()),
        }
    }
}

pub(super) fn run(ctx: &Context, spec: &ChainSpec, args: &IngestArgs) -> Result<()> {
    let network = network_for(spec, args.bitcoin.network.as_deref())?;
    // Block files are the initial sync: its batches' largest families go in as table files
    // (crash safety by an undo record, `Store::open_bulk`).
    let store = if args.bitcoin.blocks_dir.is_some() { ctx.open_store_bulk()? } else { ctx.open_store()? };
    let chain = spec.name.as_str();
    let sink = StoreSink { store: &store, chain };
    let mut opts = IngestOptions::new(chain, network);
    opts.from = args.range.from;
    opts.to = args.range.to;
    if let Some(b) = args.node.batch_blocks {
        opts.batch_blocks = b.max(1);
    }
    let summary = if let Some(dir) = &args.bitcoin.blocks_dir {
        let mut bar = Bar::default();
        let s = ingest_blocks_dir(dir, &sink, sink, &opts, |p| bar.update(p));
        bar.clear();
        let s = s?;
        Summary::new(chain, "blocks-dir", network, s)
    } else if let Some(url) = &args.bitcoin.esplora {
        ingest_esplora(&store, spec, network, &Sensitive::new(url.clone()), args)?
    } else if let Some(url) = args.node.rpc.clone().map(Sensitive::new).or_else(|| spec.rpc.clone()) {
        let mut client = RpcClient::new(&url, args.bitcoin.cookie.as_deref())?;
        client.batch_size = args.node.rpc_batch.unwrap_or(50).max(1);
        // Spent outputs below the stored range come from the node (getrawtransaction), so a
        // range can be ingested on its own; a second connection serves those lookups.
        let mut prev_client = RpcClient::new(&url, args.bitcoin.cookie.as_deref())?;
        let lookup = NodeFallbackLookup::new(sink, &mut prev_client, network);
        let mut bar = Bar::default();
        let s = ingest_node(&mut client, &sink, lookup, &opts, |p| bar.update(p));
        bar.clear();
        Summary::new(chain, "rpc", network, s?)
    } else {
        bail!(
            "ingest {chain} needs a source: --blocks-dir DIR (Bitcoin Core's blocks directory), --rpc URL, or --esplora URL --address ADDR"
        )
    };
    report(ctx, &summary)
}

/// A progress bar on stderr (when it is a terminal): a spinner while the block files are
/// indexed, then blocks done of planned.
#[derive(Default)]
struct Bar(Option<ProgressBar>);

impl Bar {
    fn update(&mut self, p: Progress) {
        match p {
            Progress::Indexing => {
                self.clear();
                self.0 = Some(output::progress(None, "indexing block files"));
            }
            Progress::Blocks { done, total } => {
                if self.0.as_ref().and_then(|b| b.length()) != Some(total) {
                    self.clear();
                    self.0 = Some(output::progress(Some(total), "ingesting blocks"));
                }
                if let Some(b) = &self.0 {
                    b.set_position(done);
                }
            }
        }
    }

    fn clear(&mut self) {
        if let Some(b) = self.0.take() {
            b.finish_and_clear();
        }
    }
}

/// The network of the chain: the config's `network`; `--network` must agree with it.
fn network_for(spec: &ChainSpec, flag: Option<&str>) -> Result<Network> {
    let configured = spec.network.as_deref().unwrap_or("mainnet");
    let net = parse_network(configured).with_context(|| format!("config of chain {:?}", spec.name))?;
    if let Some(f) = flag {
        let given = parse_network(f)?;
        if given != net {
            bail!(
                "--network {} does not match chain {:?}, which the config sets to {}: use a chain whose config says network = \"{}\" (--config FILE with a [chains.NAME] table)",
                network_name(given),
                spec.name,
                network_name(net),
                network_name(given)
            );
        }
    }
    Ok(net)
}

/// What the user can do about a Bitcoin ingest error, naming the flags.
pub(super) fn hint(e: &anyhow::Error, spec: &ChainSpec) -> Option<String> {
    let blk = |b: &BlkError| match b {
        BlkError::NoFiles(_) => Some("point --blocks-dir at Bitcoin Core's blocks directory".to_string()),
        BlkError::NetworkMismatch { .. } | BlkError::GenesisMismatch { .. } => {
            Some(format!("check --network or the network of chain {:?} in the config", spec.name))
        }
        _ => None,
    };
    e.chain().find_map(|c| {
        if let Some(ie) = c.downcast_ref::<IngestError>() {
            return match ie {
                IngestError::Blk(b) => blk(b),
                IngestError::OtherNetwork { .. } => Some("use another --store or chain name".into()),
                IngestError::NodeNetwork { network, .. } => {
                    Some(format!("point --rpc at a {network} node or use another chain name"))
                }
                IngestError::Gap { tip, .. } => Some(format!("pass --from {} or lower", tip + 1)),
                IngestError::AboveHead { head, .. } => Some(format!("pass --to {head} or lower")),
                IngestError::Fork { .. } => Some("ingest into a new --store".into()),
                IngestError::Stopped { .. } => Some("a rerun continues from there".into()),
                _ => None,
            };
        }
        if let Some(RpcError::Unauthorized { .. }) = c.downcast_ref::<RpcError>() {
            return Some("check the user:password in the --rpc URL, or pass --cookie FILE".into());
        }
        blk(c.downcast_ref::<BlkError>()?)
    })
}

fn ingest_esplora(
    store: &Store,
    spec: &ChainSpec,
    network: Network,
    url: &Sensitive,
    args: &IngestArgs,
) -> Result<Summary> {
    let chain = spec.name.as_str();
    let sink = StoreSink { store, chain };
    check_genesis(&sink, &IngestOptions::new(chain, network))?;
    let mut summary =
        Summary { chain: chain.to_string(), source: "esplora", network: network_name(network), ..Summary::default() };
    let mut addresses = Vec::with_capacity(args.address.len());
    for a in &args.address {
        let parsed: chaintrace_bitcoin::bitcoin::Address<_> =
            a.parse().with_context(|| format!("{a:?} is not a Bitcoin address"))?;
        let checked = parsed.require_network(network).map_err(|_| {
            anyhow::anyhow!(
                "{a} is not a {} address (chain {chain:?} is {} in the config)",
                network_name(network),
                network_name(network)
            )
        })?;
        addresses.push(checked.to_string());
    }
    let mut client = EsploraClient::new(url)?;
    let genesis = client.genesis()?;
    if genesis != to_hash32(&genesis_hash(network)) {
        bail!(
            "the Esplora server at {} has genesis {genesis}, not the {} genesis: chain {chain:?} is {} in the config",
            client.endpoint(),
            network_name(network),
            network_name(network)
        );
    }
    let bar = output::progress(Some(addresses.len() as u64), "fetching address histories");
    let mut txs = Vec::new();
    for a in &addresses {
        let h = client.address_history(a)?;
        tracing::info!(chain, address = %a, txs = h.len(), "fetched address history");
        txs.extend(h);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let blocks = client.to_block_data(network, &txs)?;
    let s = store.put_unlinked(chain, &blocks).context("storing the fetched transactions")?;
    summary.blocks = blocks.len() as u64;
    summary.transactions = blocks
        .iter()
        .map(|b| b.transfers.iter().map(|t| t.tx).collect::<std::collections::HashSet<_>>().len() as u64)
        .sum();
    summary.transfers = s.transfers;
    summary.skipped = s.skipped;
    if let Some(t) = store.tip(chain)? {
        summary.tip_height = Some(t.height);
        summary.tip_hash = Some(t.hash.to_hex());
    }
    Ok(summary)
}

fn report(ctx: &Context, s: &Summary) -> Result<()> {
    if ctx.json {
        return output::json(s);
    }
    let tip = match (&s.tip_height, &s.tip_hash) {
        (Some(h), Some(hash)) => format!("tip {h} {hash}"),
        _ => "no tip".into(),
    };
    output::line(format!(
        "{}: ingested {} blocks ({} txs, {} transfers, {} already stored) from {} ({}); {tip}",
        s.chain, s.blocks, s.transactions, s.transfers, s.skipped, s.source, s.network
    ))
}
