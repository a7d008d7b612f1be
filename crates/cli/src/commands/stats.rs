use anyhow::Result;

use crate::{context::Context, output};

pub(crate) fn run(ctx: &Context) -> Result<()> {
    let store = ctx.open_store()?;
    let stats = store.stats()?;
    if ctx.json {
        return output::json(&stats);
    }
    output::line(format!("store   {}", ctx.store_path.display()))?;
    if stats.chains.is_empty() {
        output::line("chains  (none ingested yet)")?;
    }
    for (name, c) in &stats.chains {
        let tip = match (c.tip_height, &c.tip_hash) {
            (Some(h), Some(hash)) => format!("tip {h} {hash}"),
            _ => "no linked blocks".to_string(),
        };
        output::line(format!(
            "{name:<10} {tip}, {} blocks, {} transfers, {} addresses",
            c.blocks, c.transfers, c.addresses
        ))?;
        if c.blocks_without_internal_transfers > 0 {
            output::line(format!(
                "{:<10} {} blocks without internal transfers (fill with: ingest {name} --rpc ARCHIVE_NODE --refill-traces)",
                "", c.blocks_without_internal_transfers
            ))?;
        }
        // What the EVM adapter learnt of the node (e.g. that it offers no traces, so internal
        // transfers are missing from this chain).
        let node = store.node_capabilities(name)?;
        if !node.is_empty() {
            let facts: Vec<String> = node.iter().map(|(k, v)| format!("{k}={v}")).collect();
            output::line(format!("{:<10} node: {}", "", facts.join(", ")))?;
        }
    }
    output::line(format!("labels  {}", stats.labels))?;
    output::line(format!("digest  {}", stats.digest))
}
