//! The tracer's graph snapshots beside the store: `<store>/snapshots/<chain>.snap`, built by
//! `chaintrace snapshot` from the store's rows and used by `chaintrace trace` and the workbench
//! while it is fresh.
//!
//! **Fresh** means built from the store's current state of the chain: the snapshot records the
//! chain's digest accumulator and tip when it was built, and it is used only while the store's
//! checkpoint still says the same ([`open_fresh`]). Any change to the chain's transfers (ingest,
//! rollback, unlinked or refilled transfers) changes the digest, so a snapshot is never used
//! stale: the trace reads the store instead and says so in a warning. RocksDB ignores the
//! directory (it only opens files it named), and `verify` reads only the store.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chaintrace_snapshot::{BuildStats, Snapshot, SnapshotBuilder, SnapshotError, SnapshotKey};
use chaintrace_store::{Store, StoreError};

/// The directory under the store that holds the snapshots.
pub(crate) const DIR: &str = "snapshots";

/// The snapshot file of `chain` in the store at `store_dir`. A chain name that is not a plain
/// file name (`[A-Za-z0-9_-]`, as the shipped chains are) is hex-encoded, so no name can point
/// outside the directory.
pub(crate) fn path_of(store_dir: &Path, chain: &str) -> PathBuf {
    let plain = !chain.is_empty() && chain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let name = if plain { chain.to_string() } else { format!("x-{}", hex::encode(chain)) };
    store_dir.join(DIR).join(format!("{name}.snap"))
}

/// The key of the chain's current state in `store`; `None` when the store has no such chain.
pub(crate) fn key_now(store: &Store, chain: &str) -> Result<Option<SnapshotKey>, StoreError> {
    let Some(digest) = store.chain_digest(chain) else { return Ok(None) };
    let tip = store.tip(chain)?;
    Ok(Some(SnapshotKey {
        chain: chain.to_string(),
        tip_height: tip.map(|t| t.height),
        tip_hash: tip.map(|t| t.hash.to_hex()),
        transfers: 0,
        digest,
    }))
}

/// Whether a snapshot built at `built` answers for the store state `now`.
pub(crate) fn same_state(built: &SnapshotKey, now: &SnapshotKey) -> bool {
    built.chain == now.chain
        && built.digest == now.digest
        && built.tip_height == now.tip_height
        && built.tip_hash == now.tip_hash
}

/// What is known about a chain's snapshot.
pub(crate) enum Status {
    /// Built from the store's current state: use it.
    Fresh(Arc<Snapshot>),
    /// No snapshot file (never built).
    Missing,
    /// Built from an earlier state of the chain (the store changed since).
    Stale(SnapshotKey),
    /// The file is there but cannot be used (damaged, another version).
    Unusable(SnapshotError),
}

/// Snapshots this process has mapped, by file: the workbench traces many times over one map
/// (its pages stay mapped) instead of mapping the file again per request.
static OPEN: Mutex<Option<HashMap<PathBuf, Arc<Snapshot>>>> = Mutex::new(None);

/// The snapshot of `chain` when it is fresh for `store`'s current state.
pub(crate) fn status(store: &Store, chain: &str) -> Result<Status, StoreError> {
    let path = path_of(store.path(), chain);
    let Some(now) = key_now(store, chain)? else { return Ok(Status::Missing) };
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    let cache = open.get_or_insert_with(HashMap::new);
    if let Some(s) = cache.get(&path) {
        if same_state(s.key(), &now) && path.is_file() {
            return Ok(Status::Fresh(s.clone()));
        }
        cache.remove(&path);
    }
    if !path.is_file() {
        return Ok(Status::Missing);
    }
    let snap = match Snapshot::open(&path) {
        Ok(s) => s,
        Err(e) => return Ok(Status::Unusable(e)),
    };
    if !same_state(snap.key(), &now) {
        return Ok(Status::Stale(snap.key().clone()));
    }
    let snap = Arc::new(snap);
    cache.insert(path, snap.clone());
    Ok(Status::Fresh(snap))
}

/// The snapshot to trace `chain` over, when there is a fresh one; a stale or unusable one is
/// reported as a warning (the trace then reads the store, with the same result, slower).
pub(crate) fn open_fresh(store: &Store, chain: &str) -> Result<Option<Arc<Snapshot>>, StoreError> {
    Ok(match status(store, chain)? {
        Status::Fresh(s) => Some(s),
        Status::Missing => None,
        Status::Stale(built) => {
            tracing::warn!(
                chain,
                built_at_height = built.tip_height,
                "the graph snapshot is older than the store: tracing over the store (run `chaintrace snapshot` to rebuild it)"
            );
            None
        }
        Status::Unusable(e) => {
            tracing::warn!(chain, error = %e, "the graph snapshot cannot be used: tracing over the store (run `chaintrace snapshot` to rebuild it)");
            None
        }
    })
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BuildError {
    /// Reading the store.
    #[error("reading the store")]
    Store(#[from] StoreError),
    /// Writing the snapshot.
    #[error("writing the snapshot")]
    Snapshot(#[from] SnapshotError),
    /// The chain's state moved while it was read (a secondary that caught up).
    #[error("chain {0} changed while its snapshot was built")]
    Moved(String),
}

/// Build (or rebuild) the snapshot of `chain` from `store`'s rows, replacing the file only when
/// the new one is complete. `None` when the store has no such chain.
pub(crate) fn build(store: &Store, chain: &str) -> Result<Option<BuildStats>, BuildError> {
    let Some(mut key) = key_now(store, chain)? else { return Ok(None) };
    key.transfers = store.stats()?.chains.get(chain).map_or(0, |c| c.transfers);
    let path = path_of(store.path(), chain);
    let mut b = SnapshotBuilder::create(&path, key.clone())?;
    let mut failed = None;
    store.scan_transfers(chain, 0, u64::MAX, |t| match b.push(&t) {
        Ok(()) => true,
        Err(e) => {
            failed = Some(e);
            false
        }
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    if key_now(store, chain)?.is_none_or(|now| !same_state(&key, &now)) || b.transfers() != key.transfers {
        return Err(BuildError::Moved(chain.to_string()));
    }
    Ok(Some(b.finish()?))
}
