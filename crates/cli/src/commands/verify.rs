//! `chaintrace verify`: recompute each chain's digest and counts from the stored rows and
//! compare them with the checkpoint; exit 1 on any mismatch.

use anyhow::{bail, Result};
use clap::Args;

use crate::{context::Context, output};

#[derive(Args, Debug)]
pub(crate) struct VerifyArgs {
    /// Verify only this chain (default: every chain in the store).
    #[arg(long)]
    chain: Option<String>,
}

pub(crate) fn run(ctx: &Context, args: VerifyArgs) -> Result<()> {
    let store = ctx.open_store()?;
    let report = store.verify(args.chain.as_deref())?;
    if ctx.json {
        output::json(&report)?;
    } else {
        if report.chains.is_empty() {
            output::line("verify  (no chains in the store)")?;
        }
        for c in &report.chains {
            let r = &c.recomputed;
            let status = if c.ok() { "ok" } else { "MISMATCH" };
            output::line(format!(
                "{:<10} {status}: {} blocks, {} transfers, {} addresses, digest {}",
                c.chain, r.blocks, r.transfers, r.addresses, r.digest
            ))?;
            for p in &c.problems {
                output::line(format!("{:<10}   {p}", ""))?;
            }
        }
        output::line(format!("digest  {}", report.digest))?;
    }
    let bad: Vec<&str> = report.chains.iter().filter(|c| !c.ok()).map(|c| c.chain.as_str()).collect();
    if !bad.is_empty() {
        bail!("the stored rows of {} disagree with the checkpoint (see the lines above)", bad.join(", "));
    }
    Ok(())
}
