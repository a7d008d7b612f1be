//! The investigator's own labels (source `user`), kept beside the store.
//!
//! The workbench reads the store through a RocksDB secondary instance, which cannot write, while
//! `chaintrace ingest` may hold the store's lock. So user labels go to an append-only JSON-lines
//! file, `<store>/workbench/labels.jsonl`, one [`Label`] per line, appended with one `write` and
//! an fsync. Every reader (the workbench's address summary and traces, `chaintrace trace`) merges
//! the file into the store's labels. A line that does not parse (a write torn by a crash) is
//! skipped with a warning.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use chaintrace_model::Label;

/// The source name of labels added in the workbench.
pub(crate) const SOURCE: &str = "user";

/// `<store>/workbench`: the workbench's files beside RocksDB's (saved cases, user labels).
pub(crate) fn workbench_dir(store: &Path) -> PathBuf {
    store.join("workbench")
}

fn file(store: &Path) -> PathBuf {
    workbench_dir(store).join("labels.jsonl")
}

/// Every user label of the store at `store` (none when the file does not exist).
pub(crate) fn read(store: &Path) -> Result<Vec<Label>> {
    let path = file(store);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read user labels {}", path.display())),
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Label>(line) {
            Ok(l) => out.push(l),
            Err(e) => tracing::warn!(file = %path.display(), line = i + 1, error = %e, "skipping a user label line"),
        }
    }
    Ok(out)
}

/// Append one label (one line, one write, fsync).
pub(crate) fn append(store: &Path, label: &Label) -> Result<()> {
    let path = file(store);
    std::fs::create_dir_all(workbench_dir(store))
        .with_context(|| format!("cannot create {}", workbench_dir(store).display()))?;
    let mut line = serde_json::to_string(label).context("encoding a user label")?;
    line.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open user labels {}", path.display()))?;
    f.write_all(line.as_bytes()).with_context(|| format!("cannot append to {}", path.display()))?;
    f.sync_all().with_context(|| format!("cannot sync {}", path.display()))?;
    Ok(())
}
