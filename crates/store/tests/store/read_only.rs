//! `Store::open_read_only` (what `chaintrace trace` opens): it reads what the writer stored —
//! also rows that are only in the write-ahead log of a writer that did not close — writes nothing
//! into the directory, shares the store with other readers and excludes writers; and a writer
//! that closes leaves no log for the next open to replay.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use crate::common;

use chaintrace_model::{Address, Category, Direction, Label};
use chaintrace_store::{ReadScope, Store, StoreError};

const CHAIN: &str = "ethereum";

/// Every file under `dir` with its size and modification time: what "nothing was written" means.
fn listing(dir: &Path) -> BTreeMap<String, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let m = e.metadata().unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if m.is_dir() {
            for (k, v) in listing(&e.path()) {
                out.insert(format!("{name}/{k}"), v);
            }
        } else {
            out.insert(name, (m.len(), m.modified().unwrap()));
        }
    }
    out
}

fn log_bytes(dir: &Path) -> u64 {
    listing(dir).iter().filter(|(k, _)| k.ends_with(".log")).map(|(_, (len, _))| len).sum()
}

fn labels() -> Vec<Label> {
    (0u8..5)
        .map(|a| Label {
            chain: None,
            address: Address::Evm([a; 20]),
            category: Category::Exchange,
            entity: format!("Exchange{a}"),
            source: "test".into(),
            confidence: 90,
            attrs: Default::default(),
        })
        .collect()
}

/// The store's answers checked against the blocks themselves (the oracle), not against another
/// open of the same store.
fn assert_reads_the_blocks(s: &Store, blocks: &[chaintrace_model::BlockData]) {
    let tip = blocks.last().unwrap();
    let stored_tip = s.tip(CHAIN).unwrap().unwrap();
    assert_eq!((stored_tip.height, stored_tip.hash), (tip.block.height, tip.block.hash));
    let transfers: Vec<_> = blocks.iter().flat_map(|b| b.transfers.iter()).collect();
    assert_eq!(s.stats().unwrap().chains[CHAIN].transfers, transfers.len() as u64);
    for a in 0u8..40 {
        let addr = Address::Evm([a; 20]);
        for dir in [Direction::Out, Direction::In] {
            let want: Vec<_> = transfers
                .iter()
                .filter(|t| if dir == Direction::Out { t.from == addr } else { t.to == addr })
                .map(|t| (*t).clone())
                .collect();
            assert_eq!(s.transfers(CHAIN, &addr, dir, None, usize::MAX).unwrap(), want, "{addr} {dir:?}");
            assert_eq!(s.degree(CHAIN, &addr, dir, u64::MAX).unwrap(), want.len() as u64, "{addr} {dir:?}");
        }
    }
    let mut got: Vec<String> = s.all_labels().unwrap().iter().map(|l| l.entity.clone()).collect();
    got.sort();
    assert_eq!(got, (0..5).map(|a| format!("Exchange{a}")).collect::<Vec<_>>());
}

#[test]
fn a_read_only_open_reads_what_the_writer_stored_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let blocks = common::chain(80);
    let (digest, labels_hash) = {
        let w = Store::open(&db).unwrap();
        for chunk in blocks.chunks(9) {
            w.apply_blocks(CHAIN, chunk).unwrap();
        }
        w.add_labels(&labels()).unwrap();
        (w.stats().unwrap().digest, w.labels_hash().unwrap())
    };
    let before = listing(&db);
    let next = common::block(80, blocks[79].block.hash, 0);
    // either scope reads everything (it only sizes the table cache)
    for scope in [ReadScope::Graph, ReadScope::Rows] {
        let r = Store::open_read_only(&db, scope).unwrap();
        assert_reads_the_blocks(&r, &blocks);
        assert_eq!(r.stats().unwrap().digest, digest, "{scope:?}");
        assert_eq!(r.labels_hash().unwrap(), labels_hash, "{scope:?}");
        assert!(r.chain_digest(CHAIN).is_some());
        // writes are refused, and nothing of them is stored
        assert!(r.apply_blocks(CHAIN, std::slice::from_ref(&next)).is_err(), "a read-only store refuses writes");
        assert!(r.add_labels(&labels()).is_err());
        drop(r);
        assert_eq!(listing(&db), before, "a read-only open ({scope:?}) wrote into the store directory");
    }
    // and the writer carries on where it stopped
    let w = Store::open(&db).unwrap();
    w.apply_blocks(CHAIN, std::slice::from_ref(&next)).unwrap();
    assert_eq!(w.tip(CHAIN).unwrap().unwrap().height, 80);
}

#[test]
fn readers_share_the_store_and_writers_are_kept_out() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let writer = Store::open(&db).unwrap();
    writer.apply_blocks(CHAIN, &common::chain(5)).unwrap();
    let e = Store::open_read_only(&db, ReadScope::Graph).err().unwrap();
    assert!(matches!(e, StoreError::Locked { .. }), "a store held by a writer: {e}");
    drop(writer);
    let one = Store::open_read_only(&db, ReadScope::Graph).unwrap();
    let two = Store::open_read_only(&db, ReadScope::Graph).unwrap();
    assert_eq!(two.tip(CHAIN).unwrap().unwrap().height, 4);
    let e = Store::open(&db).err().unwrap();
    assert!(matches!(e, StoreError::Locked { .. }), "a writer while readers hold the store: {e}");
    drop(one);
    let e = Store::open(&db).err().unwrap();
    assert!(matches!(e, StoreError::Locked { .. }), "a writer while one reader holds the store: {e}");
    drop(two);
    Store::open(&db).unwrap();
}

#[test]
fn bad_paths_are_refused_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let e = Store::open_read_only(&missing, ReadScope::Rows).err().unwrap();
    assert!(matches!(e, StoreError::NotAStore { .. }), "{e}");
    assert!(!missing.exists(), "a read-only open creates nothing");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let e = Store::open_read_only(&file, ReadScope::Rows).err().unwrap();
    assert!(matches!(e, StoreError::NotADirectory { .. }), "{e}");
    let other = dir.path().join("photos");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("cat.jpg"), b"meow").unwrap();
    let e = Store::open_read_only(&other, ReadScope::Rows).err().unwrap();
    assert!(matches!(e, StoreError::NotAStore { .. }), "{e}");
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1, "nothing created");
}

#[test]
fn a_writer_that_closes_leaves_no_log_to_replay() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let w = Store::open(&db).unwrap();
    w.apply_blocks(CHAIN, &common::chain(60)).unwrap();
    assert!(log_bytes(&db) > 0, "the batches are in the write-ahead log while the writer is open");
    drop(w);
    assert_eq!(log_bytes(&db), 0, "closing flushed the memtables: the log is empty ({:?})", listing(&db));
}

/// The child of [`rows_only_in_the_log_of_a_writer_that_did_not_close_are_read`]: it stores the
/// blocks and exits without closing the store, as a killed ingest would leave it.
const CHILD_ENV: &str = "CHAINTRACE_STORE_TEST_UNCLOSED_WRITER";

#[test]
fn rows_only_in_the_log_of_a_writer_that_did_not_close_are_read() {
    let blocks = common::chain(70);
    if let Ok(db) = std::env::var(CHILD_ENV) {
        let w = Store::open(Path::new(&db)).unwrap();
        w.apply_blocks(CHAIN, &blocks).unwrap();
        w.add_labels(&labels()).unwrap();
        // no drop, no flush: the rows are only in the write-ahead log
        std::process::exit(0);
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "read_only::rows_only_in_the_log_of_a_writer_that_did_not_close_are_read", "--nocapture"])
        .env(CHILD_ENV, &db)
        .status()
        .unwrap();
    assert!(status.success(), "the writer child failed");
    assert!(log_bytes(&db) > 0, "the child's rows are only in its log");
    let before = listing(&db);
    let r = Store::open_read_only(&db, ReadScope::Graph).unwrap();
    assert_reads_the_blocks(&r, &blocks);
    drop(r);
    assert_eq!(listing(&db), before, "the log was read, not replayed into new files");
}
