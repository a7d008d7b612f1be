//! `chaintrace cluster --chain bitcoin`: group addresses into entities by common-input
//! ownership (CoinJoin-like transactions excluded), from the UTXO rows in the store, and
//! persist the result with [`Store::replace_clusters`] (cluster ids are `c` + 16 hex digits;
//! only clusters of two or more addresses are kept).
//!
//! Each run recomputes everything from the stored spends and replaces the chain's clusters in
//! one atomic batch.

use anyhow::{bail, Context as _, Result};
use chaintrace_bitcoin::cluster::Clusterer;
use chaintrace_model::{Address, ChainKind, Hash32};
use chaintrace_store::Store;
use clap::Args;
use serde::Serialize;

use crate::{context::Context, output};

#[derive(Args, Debug)]
pub(crate) struct ClusterArgs {
    /// Bitcoin chain name from the config.
    #[arg(long, default_value = "bitcoin")]
    chain: String,
}

#[derive(Serialize)]
struct Summary {
    chain: String,
    transactions_joined: u64,
    coinjoins_skipped: u64,
    clusters: usize,
    clustered_addresses: usize,
    largest: usize,
}

/// The cluster of `addr` and its size, when `cluster` has run and the address is in a cluster
/// of two or more (for `transfers` and case files).
pub(crate) fn cluster_of(store: &Store, chain: &str, addr: &Address) -> Result<Option<(String, u64)>> {
    let Some(id) = store.cluster_of(chain, addr)? else { return Ok(None) };
    let size = store.cluster_size(chain, &id)?;
    Ok(Some((id, size)))
}

pub(crate) fn run(ctx: &Context, args: ClusterArgs) -> Result<()> {
    let spec = ctx.config.chain(&args.chain)?;
    if spec.kind != ChainKind::Bitcoin {
        bail!("clustering by common inputs applies to Bitcoin chains; {:?} is an EVM chain", args.chain);
    }
    let chain = spec.name.as_str();
    let store = ctx.open_store()?;
    let bar = output::progress(None, "clustering");
    let mut cl = Clusterer::new();
    let mut current: Option<Hash32> = None;
    let mut inputs: Vec<Address> = Vec::new();
    let mut failure: Option<anyhow::Error> = None;
    let mut n = 0u64;
    store.scan_spends(chain, |s| {
        if current != Some(s.txid) {
            if let Some(txid) = current {
                if let Err(e) = feed(&store, chain, &mut cl, &txid, &inputs) {
                    failure = Some(e);
                    return false;
                }
            }
            current = Some(s.txid);
            inputs.clear();
            n += 1;
            if n.is_multiple_of(10_000) {
                bar.set_position(n);
            }
        }
        match store.output(chain, &s.prev_txid, s.prev_vout) {
            Ok(Some(o)) => inputs.extend(o.address),
            Ok(None) => {}
            Err(e) => {
                failure = Some(e.into());
                return false;
            }
        }
        true
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(txid) = current {
        feed(&store, chain, &mut cl, &txid, &inputs)?;
    }
    bar.finish_and_clear();
    let clusters = cl.clusters();
    store
        .replace_clusters(chain, clusters.iter().map(|c| (c.id.as_str(), c.members.as_slice())))
        .context("storing clusters")?;
    let summary = Summary {
        chain: chain.to_string(),
        transactions_joined: cl.joined_txs,
        coinjoins_skipped: cl.coinjoins_skipped,
        clusters: clusters.len(),
        clustered_addresses: clusters.iter().map(|c| c.members.len()).sum(),
        largest: clusters.iter().map(|c| c.members.len()).max().unwrap_or(0),
    };
    if ctx.json {
        return output::json(&summary);
    }
    output::line(format!(
        "{}: {} addresses in {} clusters (largest {}), from {} multi-address spends; {} likely CoinJoins skipped",
        summary.chain,
        summary.clustered_addresses,
        summary.clusters,
        summary.largest,
        summary.transactions_joined,
        summary.coinjoins_skipped
    ))
}

fn feed(store: &Store, chain: &str, cl: &mut Clusterer, txid: &Hash32, inputs: &[Address]) -> Result<()> {
    if inputs.len() < 2 || inputs.iter().all(|a| *a == inputs[0]) {
        return Ok(());
    }
    let values: Vec<u64> = store.tx_outputs(chain, txid)?.iter().map(|o| o.value).collect();
    let refs: Vec<&Address> = inputs.iter().collect();
    cl.add_tx(&refs, &values);
    Ok(())
}
