//! `chaintrace compact`: compact the whole store (every level into the Zstd-compressed bottom
//! one), the smallest size on disk for any chain; `ingest … --compact` runs the same after an
//! ingest.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::{context::Context, output};

/// What a compaction did, as `chaintrace compact --json` prints it.
#[derive(Debug, Serialize)]
pub(crate) struct Compacted {
    pub(crate) store: String,
    pub(crate) bytes_before: u64,
    pub(crate) bytes_after: u64,
    pub(crate) seconds: f64,
}

/// `chaintrace compact`: the store must exist (a compaction never creates one).
pub(crate) fn run(ctx: &Context) -> Result<()> {
    if !ctx.store_path.join("CURRENT").is_file() {
        bail!("{} holds no chaintrace store: nothing to compact; pass --store DIR", ctx.store_path.display());
    }
    let done = compact_store(ctx)?;
    if ctx.json {
        output::json(&done)
    } else {
        output::line(format!(
            "compacted {}: {:.1} MB -> {:.1} MB on disk in {:.1} s",
            done.store,
            done.bytes_before as f64 / 1e6,
            done.bytes_after as f64 / 1e6,
            done.seconds
        ))
    }
}

/// Open the store (as the one writer), compact it fully and close it; sizes are of the whole
/// directory, before the open and after the close.
pub(crate) fn compact_store(ctx: &Context) -> Result<Compacted> {
    let bytes_before = dir_bytes(&ctx.store_path);
    let started = Instant::now();
    tracing::info!(store = %ctx.store_path.display(), "compacting the store");
    let store = ctx.open_store()?;
    store.compact()?;
    drop(store);
    Ok(Compacted {
        store: ctx.store_path.display().to_string(),
        bytes_before,
        bytes_after: dir_bytes(&ctx.store_path),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Bytes of every file under `dir` (unreadable entries count as empty).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
