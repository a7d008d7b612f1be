//! `chaintrace snapshot`: build the tracer's graph snapshot of each chain beside the store.

use anyhow::{bail, Context as _, Result};
use clap::Args;

use crate::adapters::snapshot::{self, Status};
use crate::{context::Context, output};

/// `chaintrace snapshot`'s arguments.
#[derive(Args, Debug)]
pub(crate) struct SnapshotArgs {
    /// Only this chain (default: every chain in the store).
    #[arg(long)]
    chain: Option<String>,
    /// Build from the store even when the snapshot is fresh or could be folded.
    #[arg(long)]
    rebuild: bool,
}

pub(crate) fn run(ctx: &Context, args: SnapshotArgs) -> Result<()> {
    let store = ctx.open_store()?;
    let stats = store.stats()?;
    let chains: Vec<String> = match &args.chain {
        Some(c) if stats.chains.contains_key(c) => vec![c.clone()],
        Some(c) => bail!("the store holds no chain named {c:?}: check --chain (chaintrace stats lists them)"),
        None => stats.chains.keys().cloned().collect(),
    };
    let mut report = Vec::new();
    for chain in chains {
        let path = snapshot::path_of(store.path(), &chain);
        let (fresh, caught) = match snapshot::status(&store, &chain)? {
            Status::Fresh(s) if !args.rebuild => (Some(s), None),
            Status::CaughtUp(s) if !args.rebuild => (None, Some(s)),
            _ => (None, None),
        };
        // a fresh snapshot is left as it is, but cached in read order again when some of it
        // was evicted (traces read a fragmented cache slower: `Snapshot::recache`)
        let mut recache = None;
        let (state, transfers, addresses, bytes, seconds) = match fresh {
            Some(s) => {
                let r = s.recache();
                recache = Some(r);
                ("fresh", s.transfer_count(), s.address_count(), s.file_len(), r.seconds)
            }
            None => {
                let started = std::time::Instant::now();
                // a snapshot caught up with a grown store: its file and the later transfers
                // written as one, without reading the whole chain again
                let folded = match &caught {
                    Some(s) => snapshot::fold(&store, &chain, s)
                        .with_context(|| format!("writing the graph snapshot of {chain} at {}", path.display()))?,
                    None => None,
                };
                let (state, built) = match folded {
                    Some(b) => ("folded", Some(b)),
                    None => (
                        "built",
                        snapshot::build(&store, &chain)
                            .with_context(|| format!("building the graph snapshot of {chain} at {}", path.display()))?,
                    ),
                };
                let Some(b) = built else { continue };
                (state, b.transfers, b.addresses, b.bytes, started.elapsed().as_secs_f64())
            }
        };
        if !ctx.json {
            output::line(format!(
                "{chain:<10} {state}: {transfers} transfers, {addresses} addresses, {:.1} MiB{} ({}){}",
                bytes as f64 / (1024.0 * 1024.0),
                if state == "fresh" { String::new() } else { format!(" in {seconds:.1} s") },
                path.display(),
                recache.map(|r| format!("; page cache: {r}")).unwrap_or_default()
            ))?;
        }
        report.push(serde_json::json!({
            "chain": chain, "state": state, "transfers": transfers, "addresses": addresses,
            "bytes": bytes, "seconds": seconds, "path": path.display().to_string(),
            "recached": recache.is_some_and(|r| r.reread),
        }));
    }
    if ctx.json {
        return output::json(&report);
    }
    Ok(())
}
