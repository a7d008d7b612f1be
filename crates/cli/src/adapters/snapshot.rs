//! The tracer's graph snapshots beside the store: `<store>/snapshots/<chain>.snap`, built by
//! `chaintrace snapshot` from the store's rows and used by `chaintrace trace` and the workbench
//! while it is fresh.
//!
//! **Fresh** means built from the store's current state of the chain: the snapshot records the
//! chain's digest accumulator and tip when it was built, and it is used as it is while the
//! store's checkpoint still says the same ([`open_fresh`]). A store that only grew since (an
//! ingest of later blocks) is **caught up**: the transfers above the snapshot's tip are read
//! from the store into memory beside the file ([`Snapshot::caught_up`]), once the store's digest
//! without them is found equal to the file's — so the file still holds exactly the rest. Any
//! other change (a rollback below the snapshot's tip, refilled or unlinked transfers there)
//! fails that check, and so does a tail of more than [`CATCH_UP_MAX`] transfers: a snapshot is
//! never used stale; the trace reads the store instead and says so in a warning. RocksDB ignores
//! the directory (it only opens files it named), and `verify` reads only the store.

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

/// The most later transfers a snapshot is caught up with in memory (about 200 bytes each):
/// past it, rebuilding is the better answer.
pub(crate) const CATCH_UP_MAX: usize = 1_000_000;

/// What is known about a chain's snapshot.
pub(crate) enum Status {
    /// Built from the store's current state: use it.
    Fresh(Arc<Snapshot>),
    /// Built from an earlier state that the store only added transfers to, and caught up with
    /// them in memory: use it (a rebuild folds them into the file).
    CaughtUp(Arc<Snapshot>),
    /// No snapshot file (never built).
    Missing,
    /// Built from an earlier state of the chain that it cannot be caught up from (the store
    /// changed below its tip, or grew by more than [`CATCH_UP_MAX`] transfers).
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
    if let Some(s) = cache.remove(&path) {
        if same_state(s.key(), &now) && path.is_file() {
            cache.insert(path, s.clone());
            return Ok(usable(s));
        }
        // the store moved on from the state this process's snapshot answers for: when it only
        // grew, that snapshot is caught up further (the workbench, as blocks keep coming),
        // reading only what came since — in place when no trace holds it any more, else a copy
        // (not when the file was rebuilt or folded since: the new file is read instead)
        let budget = CATCH_UP_MAX.saturating_sub(s.later_transfers() as usize);
        let again = match Arc::try_unwrap(s) {
            Ok(own) if own.file_is_current() => Some(own),
            Ok(_) => None,
            Err(shared) => shared.reopened().ok().flatten(),
        };
        let further = match again {
            Some(again) => catch_up(store, again, &now, budget)?,
            None => None,
        };
        if let Some(s) = further {
            let s = Arc::new(s);
            cache.insert(path, s.clone());
            return Ok(usable(s));
        }
    }
    if !path.is_file() {
        return Ok(Status::Missing);
    }
    let snap = match Snapshot::open(&path) {
        Ok(s) => s,
        Err(e) => return Ok(Status::Unusable(e)),
    };
    let snap = if same_state(snap.key(), &now) {
        snap
    } else {
        let built = snap.key().clone();
        match catch_up(store, snap, &now, CATCH_UP_MAX)? {
            Some(s) => s,
            None => return Ok(Status::Stale(built)),
        }
    };
    let snap = Arc::new(snap);
    cache.insert(path, snap.clone());
    Ok(usable(snap))
}

/// A snapshot that answers for the store's current state, as built or caught up.
fn usable(s: Arc<Snapshot>) -> Status {
    if s.built_key() == s.key() {
        Status::Fresh(s)
    } else {
        Status::CaughtUp(s)
    }
}

/// `snap` caught up with the transfers the store holds above its tip, when the store holds
/// exactly the file's transfers below them (the store's digest without them is the file's) and
/// they are at most `max`; `None` otherwise (stale).
fn catch_up(store: &Store, snap: Snapshot, now: &SnapshotKey, max: usize) -> Result<Option<Snapshot>, StoreError> {
    let built = snap.key().clone();
    if built.chain != now.chain {
        return Ok(None);
    }
    let from = built.tip_height.map_or(0, |h| h + 1);
    let mut later = Vec::new();
    let without = store.scan_transfers_since(&now.chain, from, |t| {
        later.push(t);
        later.len() <= max
    })?;
    if without.as_deref() != Some(built.digest.as_str()) {
        return Ok(None);
    }
    // (read from one store state: a secondary may have caught up while the rows were read)
    if key_now(store, &now.chain)?.is_none_or(|k| !same_state(&k, now)) {
        return Ok(None);
    }
    match snap.caught_up(now.clone(), later) {
        Ok(s) => Ok(Some(s)),
        Err(e) => {
            tracing::warn!(chain = %now.chain, error = %e, "the graph snapshot could not be caught up with the store");
            Ok(None)
        }
    }
}

/// The snapshot to trace `chain` over, when there is a fresh one; a stale or unusable one is
/// reported as a warning (the trace then reads the store, with the same result, slower).
pub(crate) fn open_fresh(store: &Store, chain: &str) -> Result<Option<Arc<Snapshot>>, StoreError> {
    Ok(match status(store, chain)? {
        Status::Fresh(s) => Some(s),
        Status::CaughtUp(s) => {
            tracing::info!(
                chain,
                built_at_height = s.built_key().tip_height,
                later_transfers = s.later_transfers(),
                "the graph snapshot was caught up with the store's later transfers in memory (`chaintrace snapshot` folds them into the file)"
            );
            Some(s)
        }
        Status::Missing => None,
        Status::Stale(built) => {
            tracing::warn!(
                chain,
                built_at_height = built.tip_height,
                "the graph snapshot is older than the store and cannot be caught up (the store changed below its tip, or grew by more than {CATCH_UP_MAX} transfers): tracing over the store (run `chaintrace snapshot` to rebuild it)"
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
    build_at(store, chain, &path_of(store.path(), chain))
}

/// [`build`], writing the file at `path` instead of the chain's snapshot place (the trace bench
/// builds one beside it to compare with a fold).
pub(crate) fn build_at(store: &Store, chain: &str, path: &Path) -> Result<Option<BuildStats>, BuildError> {
    let Some(mut key) = key_now(store, chain)? else { return Ok(None) };
    key.transfers = store.stats()?.chains.get(chain).map_or(0, |c| c.transfers);
    let mut b = SnapshotBuilder::create(path, key.clone())?;
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

/// Write `caught`, a caught-up snapshot of `chain`, as its snapshot file: the file it mapped and
/// the later transfers in one, without reading the chain from the store again (the file a build
/// would write, byte for byte). `None` when the store moved since it was caught up or its count
/// of transfers disagrees: then a build is the answer.
pub(crate) fn fold(store: &Store, chain: &str, caught: &Snapshot) -> Result<Option<BuildStats>, BuildError> {
    let Some(now) = key_now(store, chain)? else { return Ok(None) };
    let transfers = store.stats()?.chains.get(chain).map_or(0, |c| c.transfers);
    if !same_state(caught.key(), &now) || caught.transfer_count() != transfers {
        return Ok(None);
    }
    Ok(Some(caught.write_folded(&path_of(store.path(), chain))?))
}

#[cfg(test)]
mod tests {
    // (the benches include this file too, and their harness compiles `#[test]` functions out)
    #[allow(unused_imports)]
    use super::*;
    use chaintrace_model::{Address, Asset, BlockData, BlockRef, Hash32, Position, Transfer, U256};

    /// Blocks `from..to` of one transfer each, between addresses taking turns; `branch` 0 is the
    /// main chain, another value `(branch, fork)` a fork above height `fork` with other hashes
    /// and amounts.
    fn blocks(from: u64, to: u64, (branch, fork): (u8, u64)) -> Vec<BlockData> {
        let hash = |h: u64| {
            let mut b = [h as u8 + 1; 32];
            if branch != 0 && h > fork {
                b[1..].fill(branch);
            }
            Hash32(b)
        };
        (from..to)
            .map(|h| {
                let parent = if h == 0 { Hash32::ZERO } else { hash(h - 1) };
                let mut d = BlockData::new(BlockRef { height: h, hash: hash(h), parent, time: 1_700_000_000 + h });
                let (a, b) = (Address::Evm([1; 20]), Address::Evm([2 + (h % 3) as u8; 20]));
                let (from, to) = if h % 2 == 0 { (a, b) } else { (b, a) };
                d.transfers.push(Transfer {
                    tx: Hash32([0x40 + h as u8 + branch; 32]),
                    height: h,
                    pos: Position { tx_index: 0, sub: 0 },
                    time: d.block.time,
                    from,
                    to,
                    asset: Asset::Native,
                    amount: U256::from(h + 1 + 1000 * u64::from(branch)),
                });
                d.tx_count = 1;
                d
            })
            .collect()
    }

    const MAIN: (u8, u64) = (0, 0);

    /// Every read of the two-address graph equals the store's.
    fn answers_like(s: &Snapshot, store: &Store) {
        for i in 1..=4u8 {
            let a = Address::Evm([i; 20]);
            for dir in [chaintrace_model::Direction::Out, chaintrace_model::Direction::In] {
                let want = store.transfers("ethereum", &a, dir, None, usize::MAX).expect("store");
                assert_eq!(s.transfers(&a, dir, None, usize::MAX).expect("snapshot"), want, "{a:?} {dir:?}");
            }
        }
    }

    #[test]
    fn a_snapshot_is_caught_up_with_at_most_max_later_transfers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("store")).expect("store");
        store.apply_blocks("ethereum", &blocks(0, 10, MAIN)).expect("apply");
        build(&store, "ethereum").expect("build").expect("a chain");
        store.apply_blocks("ethereum", &blocks(10, 16, MAIN)).expect("grow");
        let now = key_now(&store, "ethereum").expect("key").expect("a chain");
        let open = || Snapshot::open(&path_of(store.path(), "ethereum")).expect("open");
        // six later transfers: caught up under a budget of six, not of five
        assert!(catch_up(&store, open(), &now, 5).expect("read").is_none());
        let s = catch_up(&store, open(), &now, 6).expect("read").expect("caught up");
        assert_eq!((s.later_transfers(), s.transfer_count()), (6, 16));
        assert_eq!(s.key(), &now);
        assert_eq!(s.built_key().tip_height, Some(9));
        answers_like(&s, &store);
        // grown again: the caught-up snapshot is caught up further from where it stood
        store.apply_blocks("ethereum", &blocks(16, 20, MAIN)).expect("grow again");
        let later = key_now(&store, "ethereum").expect("key").expect("a chain");
        let again = s.reopened().expect("reopen").expect("the same file");
        let further = catch_up(&store, again, &later, 4).expect("read").expect("the four since");
        assert_eq!((further.later_transfers(), further.transfer_count()), (10, 20));
        answers_like(&further, &store);
        let Status::CaughtUp(kept) = status(&store, "ethereum").expect("status") else { panic!("not caught up") };
        assert_eq!(kept.later_transfers(), 10);
        // a fork replacing those four: not a growth of the state it answers for, but still one
        // of the file's
        store.rollback_to("ethereum", 15).expect("rollback");
        store.apply_blocks("ethereum", &blocks(16, 21, (7, 15))).expect("fork above 15");
        let forked = key_now(&store, "ethereum").expect("key").expect("a chain");
        let again = further.reopened().expect("reopen").expect("the same file");
        assert!(catch_up(&store, again, &forked, 100).expect("read").is_none());
        // through `status`, which keeps the snapshot for the next trace and falls back to the
        // file when the one it keeps cannot be caught up
        let Status::CaughtUp(kept) = status(&store, "ethereum").expect("status") else { panic!("not caught up") };
        assert_eq!(kept.later_transfers(), 11);
        answers_like(&kept, &store);
        store.apply_blocks("ethereum", &blocks(21, 23, (7, 15))).expect("grow the fork");
        let Status::CaughtUp(kept) = status(&store, "ethereum").expect("status") else { panic!("not caught up") };
        assert_eq!(kept.later_transfers(), 13);
        answers_like(&kept, &store);
        // (held above: caught up on a copy; let go, as between two workbench requests: in place)
        drop(kept);
        store.apply_blocks("ethereum", &blocks(23, 24, (7, 15))).expect("grow the fork again");
        let Status::CaughtUp(kept) = status(&store, "ethereum").expect("status") else { panic!("not caught up") };
        assert_eq!(kept.later_transfers(), 14);
        answers_like(&kept, &store);
        // folded (as another process's `chaintrace snapshot` would), then grown: the new file is
        // read and caught up, not the one this process kept
        fold(&store, "ethereum", &kept).expect("fold").expect("folded");
        drop(kept);
        store.apply_blocks("ethereum", &blocks(24, 25, (7, 15))).expect("grow after the fold");
        let Status::CaughtUp(kept) = status(&store, "ethereum").expect("status") else { panic!("not caught up") };
        assert_eq!((kept.later_transfers(), kept.built_key().tip_height), (1, Some(23)));
        answers_like(&kept, &store);
        // a fork below the file's tip: stale
        store.rollback_to("ethereum", 5).expect("rollback");
        store.apply_blocks("ethereum", &blocks(6, 12, (9, 5))).expect("fork above 5");
        assert!(matches!(status(&store, "ethereum").expect("status"), Status::Stale(_)));
        // rebuilt, it is fresh as built
        build(&store, "ethereum").expect("build");
        assert!(matches!(status(&store, "ethereum").expect("status"), Status::Fresh(_)));
    }
}
