//! `chaintrace ingest bitcoin …`: the Bitcoin adapter over the store.
//!
//! Sources: Core's `blk*.dat` files (`--blocks-dir`), Bitcoin Core JSON-RPC (`--rpc`) and an
//! Esplora REST API (`--esplora --address …`). Blocks are decoded by `chaintrace-bitcoin`,
//! whose inputs are resolved through the store's [`UtxoLookup`](chaintrace_model::UtxoLookup)
//! plus the decoder's overlay of outputs not yet written, and written with
//! [`Store::apply_blocks`] one atomic batch at a time, so a crash or a bad block leaves the
//! store at the last complete batch.

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use chaintrace_bitcoin::{
    bitcoin::Network,
    network::{genesis_hash, network_name},
    parse_network, to_hash32, BlockDecoder, BlocksDir, ChainBlock,
};
use chaintrace_bitcoin::{
    esplora::EsploraClient,
    parse_block,
    rpc::{NodeFallbackLookup, RpcClient},
};
use chaintrace_model::{BlockData, ChainSpec, Sensitive};
use chaintrace_store::{Store, StoreError};
use serde::Serialize;

use super::ingest::IngestArgs;
use crate::{context::Context, output};

/// Unspent outputs kept in memory between batches (a cache in front of the store).
const OVERLAY_MAX: usize = 4_000_000;

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

pub fn run(ctx: &Context, spec: &ChainSpec, args: &IngestArgs) -> Result<()> {
    let network = network_for(spec, args.network.as_deref())?;
    let sources = [args.blocks_dir.is_some(), args.esplora.is_some(), args.rpc.is_some()];
    if sources.iter().filter(|s| **s).count() > 1 {
        bail!("give one source: --blocks-dir, --rpc or --esplora");
    }
    let store = ctx.open_store()?;
    check_genesis(&store, &spec.name, network)?;
    let summary = if let Some(dir) = &args.blocks_dir {
        ingest_blocks_dir(&store, spec, network, dir, args)?
    } else if let Some(url) = &args.esplora {
        ingest_esplora(&store, spec, network, &Sensitive::new(url.clone()), args)?
    } else if let Some(url) = args.rpc.clone().map(Sensitive::new).or_else(|| spec.rpc.clone()) {
        ingest_rpc(&store, spec, network, &url, args)?
    } else {
        bail!(
            "ingest bitcoin needs a source: --blocks-dir DIR (Bitcoin Core's blocks directory), --rpc URL, or --esplora URL --address ADDR"
        )
    };
    report(ctx, &summary)
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

/// Refuse to mix networks in one stored chain.
fn check_genesis(store: &Store, chain: &str, network: Network) -> Result<()> {
    let expected = to_hash32(&genesis_hash(network));
    if let Some(stored) = store.block_hash(chain, 0)? {
        if stored != expected {
            bail!(
                "the store's chain {chain:?} starts with block {stored}, not the {} genesis {expected}: it holds another network; use another --store or chain name",
                network_name(network)
            );
        }
    }
    Ok(())
}

fn ingest_blocks_dir(
    store: &Store,
    spec: &ChainSpec,
    network: Network,
    dir: &Path,
    args: &IngestArgs,
) -> Result<Summary> {
    let chain = spec.name.as_str();
    if let Some(f) = args.from {
        bail!(
            "--from {f} does not apply to --blocks-dir: block files are ingested from genesis, then after the stored tip (use --to to stop early)"
        );
    }
    let mut summary = Summary {
        chain: chain.to_string(),
        source: "blocks-dir",
        network: network_name(network),
        ..Summary::default()
    };
    let bd = BlocksDir::open(dir, network)?;
    let scan = output::progress(None, "indexing block files");
    let index = bd.scan()?;
    scan.finish_and_clear();
    tracing::info!(
        chain,
        files = bd.files().len(),
        blocks = index.len(),
        xor = bd.xor_key().is_some(),
        "indexed block files"
    );
    let tip = store.tip(chain)?;
    let best = index.best_chain_from_genesis(network)?;
    let todo: Vec<ChainBlock> = match (&tip, best.is_empty()) {
        (None, true) => bail!(
            "{}: no {} genesis block in the block files ({} blocks found); a pruned node's files cannot start a new store",
            dir.display(),
            network_name(network),
            index.len()
        ),
        (None, false) => best,
        // Pruned files without genesis: continue from the stored tip if it is there.
        (Some(t), true) => {
            if !index.contains(&t.hash) && index.best_chain_after(&t.hash, t.height).is_empty() {
                bail!("{}: the stored tip {} (height {}) is not in the block files and nothing extends it", dir.display(), t.hash, t.height);
            }
            index.best_chain_after(&t.hash, t.height)
        }
        (Some(t), false) => {
            let h = t.height as usize;
            if best.get(h).is_some_and(|b| b.hash == t.hash) {
                best[h + 1..].to_vec()
            } else if (best.len() as u64) <= t.height {
                bail!(
                    "{}: the stored tip {} (height {}) is not on the block files' best chain, which ends at height {}; refusing to roll back to a shorter chain",
                    dir.display(),
                    t.hash,
                    t.height,
                    best.len().saturating_sub(1)
                );
            } else {
                // A reorganisation: roll back to the last block both agree on.
                let mut fork = h.min(best.len() - 1);
                loop {
                    if store.block_hash(chain, fork as u64)? == Some(best[fork].hash) {
                        break;
                    }
                    if fork == 0 {
                        bail!("the stored chain {chain:?} shares no block with the block files");
                    }
                    fork -= 1;
                }
                summary.rolled_back = store.rollback_to(chain, fork as u64)?;
                tracing::warn!(chain, fork, rolled_back = summary.rolled_back, "reorganisation: rolled back");
                best[fork + 1..].to_vec()
            }
        }
    };
    let todo: Vec<ChainBlock> = match args.to {
        Some(to) => todo.into_iter().take_while(|b| b.height <= to).collect(),
        None => todo,
    };
    let bar = output::progress(Some(todo.len() as u64), "ingesting blocks");
    let mut reader = bd.reader();
    let mut decoder = BlockDecoder::new(network, store.utxo_lookup(chain));
    let mut buf = Vec::new();
    let batch_max = args.batch_blocks.max(1);
    let mut batch: Vec<BlockData> = Vec::with_capacity(batch_max);
    let mut failure: Option<anyhow::Error> = None;
    for cb in &todo {
        let decoded = reader
            .read_block(&cb.loc, &mut buf)
            .map_err(anyhow::Error::from)
            .and_then(|block| {
                decoder.decode(&block, cb.height).map_err(|e| {
                    anyhow::anyhow!("{} at offset {}: {e}", reader.path(&cb.loc).display(), cb.loc.offset - 8)
                })
            })
            .with_context(|| format!("block {} at height {}", cb.hash, cb.height));
        match decoded {
            Ok(data) => {
                summary.bytes += u64::from(cb.loc.len);
                summary.transactions += u64::from(data.tx_count);
                batch.push(data);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
        if batch.len() >= batch_max {
            flush(store, chain, &mut batch, &mut summary)?;
            decoder.trim_overlay(OVERLAY_MAX);
            bar.set_position(summary.blocks + summary.skipped);
        }
    }
    // Blocks decoded before a failure are complete: keep them, then report the failure.
    flush(store, chain, &mut batch, &mut summary)?;
    bar.finish_and_clear();
    if let Some(e) = failure {
        return Err(e.context(format!(
            "ingest stopped; the store holds every block up to height {} and a rerun continues from there",
            store.tip(chain)?.map(|t| t.height.to_string()).unwrap_or_else(|| "(none)".into())
        )));
    }
    summary.with_tip(store, chain)
}

fn ingest_rpc(
    store: &Store,
    spec: &ChainSpec,
    network: Network,
    url: &Sensitive,
    args: &IngestArgs,
) -> Result<Summary> {
    let chain = spec.name.as_str();
    let mut summary =
        Summary { chain: chain.to_string(), source: "rpc", network: network_name(network), ..Summary::default() };
    let mut client = RpcClient::new(url, args.cookie.as_deref())?;
    client.batch_size = args.rpc_batch.max(1);
    let (node_net, head) = client.chain_info()?;
    let genesis = client.block_hashes(&[0])?[0];
    if node_net != Some(network) || genesis != genesis_hash(network) {
        bail!(
            "the node at {} serves {} (genesis {genesis}), but chain {chain:?} is {} in the config: point --rpc at a {} node or use another chain name",
            client.endpoint(),
            node_net.map(network_name).unwrap_or("an unknown network"),
            network_name(network),
            network_name(network)
        );
    }
    let to = args.to.unwrap_or(head);
    if to > head {
        bail!("--to {to} is above the node's best height {head}");
    }
    let mut next = match (store.tip(chain)?, args.from) {
        (None, from) => from.unwrap_or(0),
        (Some(t), from) => {
            if let Some(f) = from.filter(|f| *f > t.height + 1) {
                bail!(
                    "--from {f} would leave a gap after the stored tip {}: start at {} or lower",
                    t.height,
                    t.height + 1
                );
            }
            let (fork, rolled) = reconcile(store, chain, &mut client, t.height)?;
            summary.rolled_back = rolled;
            fork + 1
        }
    };
    let batch_max = args.batch_blocks.max(1) as u64;
    let bar = output::progress(Some((to + 1).saturating_sub(next)), "ingesting blocks");
    // Spent outputs below the stored range come from the node (getrawtransaction), so a range
    // can be ingested on its own; a second connection serves those lookups.
    let mut prev_client = RpcClient::new(url, args.cookie.as_deref())?;
    let mut decoder =
        BlockDecoder::new(network, NodeFallbackLookup::new(store.utxo_lookup(chain), &mut prev_client, network));
    while next <= to {
        let heights: Vec<u64> = (next..=to.min(next + batch_max - 1)).collect();
        let hashes = client.block_hashes(&heights)?;
        let raws = client.raw_blocks(&hashes)?;
        let mut batch = Vec::with_capacity(heights.len());
        for ((h, hash), raw) in heights.iter().zip(&hashes).zip(&raws) {
            let block =
                parse_block(raw).with_context(|| format!("block {hash} at height {h} from {}", client.endpoint()))?;
            if block.block_hash() != *hash {
                bail!(
                    "the node sent block {} for height {h}, but its hash at that height is {hash}",
                    block.block_hash()
                );
            }
            let data = decoder.decode(&block, *h).with_context(|| format!("block {hash} at height {h}"))?;
            summary.bytes += raw.len() as u64;
            summary.transactions += u64::from(data.tx_count);
            batch.push(data);
        }
        match store.apply_blocks(chain, &batch) {
            Ok(s) => {
                summary.blocks += s.blocks;
                summary.transfers += s.transfers;
                summary.skipped += s.skipped;
                next = heights[heights.len() - 1] + 1;
                decoder.trim_overlay(OVERLAY_MAX);
                bar.set_position(summary.blocks + summary.skipped);
            }
            Err(StoreError::ParentMismatch { height, .. }) => {
                // The node reorganised under us: roll back to the common block and go on.
                decoder.clear_overlay();
                let tip = store.tip(chain)?.map(|t| t.height).unwrap_or(0);
                let (fork, rolled) = reconcile(store, chain, &mut client, tip.min(height))?;
                summary.rolled_back += rolled;
                next = fork + 1;
            }
            Err(e) => return Err(e).context(format!("storing blocks {}..={}", heights[0], heights[heights.len() - 1])),
        }
    }
    bar.finish_and_clear();
    let fetched = decoder.lookup().fetched.get();
    if fetched > 0 {
        tracing::info!(chain, fetched, "spent outputs fetched from the node");
    }
    summary.with_tip(store, chain)
}

fn ingest_esplora(
    store: &Store,
    spec: &ChainSpec,
    network: Network,
    url: &Sensitive,
    args: &IngestArgs,
) -> Result<Summary> {
    let chain = spec.name.as_str();
    if args.address.is_empty() {
        bail!("--esplora needs the addresses whose history to fetch: --address ADDR…");
    }
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
    summary.with_tip(store, chain)
}

/// Find the highest stored block at or below `from` that the node also has at that height,
/// roll the store back to it, and return it with the number of blocks removed.
fn reconcile(store: &Store, chain: &str, client: &mut RpcClient, from: u64) -> Result<(u64, u64)> {
    let mut h = from;
    loop {
        let stored = store.block_hash(chain, h)?;
        let node = client.block_hashes(&[h]).ok().map(|v| to_hash32(&v[0]));
        if stored.is_some() && stored == node {
            let rolled = store.rollback_to(chain, h)?;
            if rolled > 0 {
                tracing::warn!(chain, fork = h, rolled, "reorganisation: rolled back");
            }
            return Ok((h, rolled));
        }
        if h == 0 {
            bail!("the stored chain {chain:?} shares no block with the node at {}", client.endpoint());
        }
        h -= 1;
    }
}

fn flush(store: &Store, chain: &str, batch: &mut Vec<BlockData>, summary: &mut Summary) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let first = batch[0].block.height;
    let s = store
        .apply_blocks(chain, batch)
        .with_context(|| format!("storing blocks {first}..={} of chain {chain:?}", first + batch.len() as u64 - 1))?;
    summary.blocks += s.blocks;
    summary.transfers += s.transfers;
    summary.skipped += s.skipped;
    batch.clear();
    Ok(())
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

impl Summary {
    /// The summary with the store's tip after the run.
    fn with_tip(mut self, store: &Store, chain: &str) -> Result<Summary> {
        if let Some(t) = store.tip(chain)? {
            self.tip_height = Some(t.height);
            self.tip_hash = Some(t.hash.to_hex());
        }
        Ok(self)
    }
}
