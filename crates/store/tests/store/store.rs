//! The store API end to end: ingest, idempotence, rollback and reorgs, labels, token metadata and
//! the digest over synthetic chains.

use crate::common;

use chaintrace_model::{Address, Category, Direction, ImportRecord, Label, TokenMeta};
use chaintrace_store::{Store, StoreError};

fn digest(s: &Store) -> String {
    s.stats().unwrap().digest
}

fn fresh() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    (dir, store)
}

#[test]
fn applying_the_same_blocks_twice_or_in_other_batch_sizes_gives_the_same_digest() {
    let blocks = common::chain(60);
    let (_d1, one) = fresh();
    for b in &blocks {
        one.apply_blocks("ethereum", std::slice::from_ref(b)).unwrap();
    }
    let first = digest(&one);
    let again = one.apply_blocks("ethereum", &blocks).unwrap();
    assert_eq!(again.blocks, 0);
    assert_eq!(again.skipped, 60);
    assert_eq!(digest(&one), first);

    let (_d2, batched) = fresh();
    for chunk in blocks.chunks(7) {
        batched.apply_blocks("ethereum", chunk).unwrap();
    }
    let (_d3, whole) = fresh();
    whole.apply_blocks("ethereum", &blocks).unwrap();
    assert_eq!(digest(&batched), first);
    assert_eq!(digest(&whole), first);
    let s = whole.stats().unwrap();
    let c = &s.chains["ethereum"];
    assert_eq!(c.blocks, 60);
    assert_eq!(c.tip_height, Some(59));
    assert_eq!(c.transfers, blocks.iter().map(|b| b.transfers.len() as u64).sum::<u64>());
    assert_ne!(first, digest(&fresh().1), "a store with transfers differs from an empty one");
}

#[test]
fn rollback_equals_a_store_that_never_saw_the_removed_blocks() {
    let blocks = common::chain(40);
    for k in [1u64, 5, 17, 39] {
        let (_d, s) = fresh();
        s.apply_blocks("ethereum", &blocks).unwrap();
        let removed = s.rollback_to("ethereum", 39 - k).unwrap();
        assert_eq!(removed, k, "rollback of {k}");
        let (_d2, clean) = fresh();
        clean.apply_blocks("ethereum", &blocks[..(40 - k) as usize]).unwrap();
        assert_eq!(digest(&s), digest(&clean), "rollback of {k}");
        assert_eq!(s.tip("ethereum").unwrap(), clean.tip("ethereum").unwrap());
        // No adjacency row survives: every address's transfers match the clean store.
        for a in 0u8..40 {
            let addr = Address::Evm([a; 20]);
            for dir in [Direction::Out, Direction::In] {
                let history = s.transfers("ethereum", &addr, dir, None, usize::MAX).unwrap();
                assert_eq!(history, clean.transfers("ethereum", &addr, dir, None, usize::MAX).unwrap());
                // The degree counters are rolled back with the rows they count.
                assert_eq!(s.degree("ethereum", &addr, dir, u64::MAX).unwrap(), history.len() as u64);
                assert_eq!(clean.degree("ethereum", &addr, dir, u64::MAX).unwrap(), history.len() as u64);
            }
        }
    }
}

#[test]
fn a_fork_is_refused_until_rolled_back_then_applies() {
    let blocks = common::chain(10);
    let (_d, s) = fresh();
    s.apply_blocks("ethereum", &blocks).unwrap();
    let fork = common::block(8, blocks[7].block.hash, 1);
    let err = s.apply_blocks("ethereum", std::slice::from_ref(&fork)).unwrap_err();
    assert!(matches!(err, StoreError::ParentMismatch { height: 8, .. }), "{err}");
    let gap = common::block(12, blocks[9].block.hash, 0);
    assert!(matches!(s.apply_blocks("ethereum", &[gap]).unwrap_err(), StoreError::Gap { .. }));
    s.rollback_to("ethereum", 7).unwrap();
    s.apply_blocks("ethereum", std::slice::from_ref(&fork)).unwrap();
    assert_eq!(s.tip("ethereum").unwrap().unwrap().hash, fork.block.hash);
    let out = s.output("ethereum", &fork.outputs[0].txid, 0).unwrap();
    assert_eq!(out.as_ref(), Some(&fork.outputs[0]));
    let orphan = &blocks[9].outputs[0];
    assert_eq!(s.output("ethereum", &orphan.txid, 0).unwrap(), None, "orphaned output removed");
}

/// `transfers(.., limit)` returns at most `limit` rows, and none for a limit of 0 (it returned
/// one: the scan pushed a row before checking the limit).
#[test]
fn transfers_with_limit_zero_returns_none() {
    let blocks = common::chain(50);
    let (_d, s) = fresh();
    s.apply_blocks("ethereum", &blocks).unwrap();
    let addr = blocks[10].transfers[0].from.clone();
    for dir in [Direction::Out, Direction::In] {
        let all = s.transfers("ethereum", &addr, dir, None, usize::MAX).unwrap();
        assert!(dir == Direction::In || !all.is_empty(), "the address sent in block 10");
        for limit in 0..=all.len() + 1 {
            let got = s.transfers("ethereum", &addr, dir, None, limit).unwrap();
            assert_eq!(got, all[..limit.min(all.len())], "{dir:?} limit {limit}");
        }
        if let Some(first) = all.first() {
            let got = s.transfers("ethereum", &addr, dir, Some(first.order()), 0).unwrap();
            assert!(got.is_empty(), "{dir:?} after a position, limit 0: {got:?}");
        }
    }
}

#[test]
fn transfers_come_back_in_chain_order_after_a_position() {
    let blocks = common::chain(50);
    let (_d, s) = fresh();
    s.apply_blocks("ethereum", &blocks).unwrap();
    let addr = blocks[10].transfers[0].from.clone();
    let all = s.transfers("ethereum", &addr, Direction::Out, None, usize::MAX).unwrap();
    let expected: Vec<_> = blocks.iter().flat_map(|b| b.transfers.iter()).filter(|t| t.from == addr).cloned().collect();
    assert_eq!(all, expected);
    let cut = all[all.len() / 2].order();
    let later = s.transfers("ethereum", &addr, Direction::Out, Some(cut), usize::MAX).unwrap();
    assert!(later.iter().all(|t| t.order() > cut));
    assert_eq!(later.len(), all.iter().filter(|t| t.order() > cut).count());
    assert_eq!(s.degree("ethereum", &addr, Direction::Out, 3).unwrap(), 3.min(all.len() as u64));
    // unlinked data (an on-demand fetch) is idempotent and counted once
    let (_d2, u) = fresh();
    let first = u.put_unlinked("ethereum", &blocks[..5]).unwrap();
    let second = u.put_unlinked("ethereum", &blocks[..5]).unwrap();
    assert_eq!(second.transfers, 0);
    assert_eq!(second.skipped, first.transfers);
}

#[test]
fn labels_replace_by_source_and_report_the_difference() {
    let (_d, s) = fresh();
    let label = |a: u8, entity: &str| Label {
        chain: None,
        address: Address::Evm([a; 20]),
        category: Category::Sanctioned,
        entity: entity.into(),
        source: "ofac-sdn".into(),
        confidence: 100,
        attrs: Default::default(),
    };
    let d1 = s.replace_labels("ofac-sdn", &[label(1, "A"), label(2, "B")]).unwrap();
    assert_eq!(d1.added.len(), 2);
    let h1 = s.labels_hash().unwrap();
    let again = s.replace_labels("ofac-sdn", &[label(1, "A"), label(2, "B")]).unwrap();
    assert_eq!((again.added.len(), again.removed.len(), again.unchanged), (0, 0, 2));
    assert_eq!(s.labels_hash().unwrap(), h1);
    let d2 = s.replace_labels("ofac-sdn", &[label(1, "A"), label(3, "C")]).unwrap();
    assert_eq!(d2.added, vec![label(3, "C")]);
    assert_eq!(d2.removed, vec![label(2, "B")]);
    assert!(s.labels_of(&Address::Evm([2; 20])).unwrap().is_empty());
    assert_eq!(s.labels_of(&Address::Evm([3; 20])).unwrap(), vec![label(3, "C")]);
    assert_eq!(s.stats().unwrap().labels, 2);
}

#[test]
fn bad_store_paths_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let e = Store::open(&file).err().unwrap();
    assert!(matches!(e, StoreError::NotADirectory { .. }), "{e}");
    assert!(e.to_string().contains("a-file"));
    let under_file = file.join("db");
    let e = Store::open(&under_file).err().unwrap();
    assert!(e.to_string().contains("a-file"), "{e}");
    let other = dir.path().join("photos");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("cat.jpg"), b"meow").unwrap();
    let e = Store::open(&other).err().unwrap();
    assert!(matches!(e, StoreError::NotAStore { .. }), "{e}");
    assert_eq!(std::fs::read(other.join("cat.jpg")).unwrap(), b"meow", "nothing touched");
    // A store whose files cannot be read as a store: a clear error, and the files are left alone.
    let damaged = dir.path().join("damaged");
    std::fs::create_dir(&damaged).unwrap();
    std::fs::write(damaged.join("CURRENT"), b"\xff\xfe garbage").unwrap();
    let e = Store::open(&damaged).err().unwrap();
    assert!(matches!(e, StoreError::Open { .. }), "{e}");
    assert!(e.to_string().contains("damaged"), "{e}");
    assert_eq!(std::fs::read(damaged.join("CURRENT")).unwrap(), b"\xff\xfe garbage");
    let db = dir.path().join("db");
    let held = Store::open(&db).unwrap();
    let e = Store::open(&db).err().unwrap();
    assert!(matches!(e, StoreError::Locked { .. }), "{e}");
    drop(held);
    Store::open(&db).unwrap();
}

#[test]
fn typed_meta_rows_round_trip_per_chain() {
    let (_d, s) = fresh();
    let usdt = [0xdau8; 20];
    let meta = TokenMeta { symbol: Some("USDT".into()), name: Some("Tether USD".into()), decimals: Some(6) };
    assert_eq!(s.token_meta("ethereum", &usdt).unwrap(), None);
    s.put_token_meta("ethereum", &usdt, &meta).unwrap();
    assert_eq!(s.token_meta("ethereum", &usdt).unwrap(), Some(meta));
    assert_eq!(s.token_meta("bsc", &usdt).unwrap(), None, "token rows are per chain");

    let a = Address::Bitcoin("1A".into());
    let b = Address::Bitcoin("1B".into());
    let c = Address::Bitcoin("1C".into());
    let pair = [a.clone(), b.clone()];
    let lone = [c.clone()];
    s.replace_clusters("btcreg", [("c01", &pair[..]), ("c02", &lone[..])]).unwrap();
    assert_eq!(s.cluster_of("btcreg", &a).unwrap().as_deref(), Some("c01"));
    assert_eq!(s.cluster_of("btcreg", &c).unwrap(), None, "clusters of one are not kept");
    assert_eq!(s.cluster_of("bitcoin", &a).unwrap(), None, "clusters are per chain");
    assert_eq!(s.cluster_size("btcreg", "c01").unwrap(), 2);
    assert_eq!(s.clusters("btcreg").unwrap().len(), 2);
    // Replacing drops the old clustering whole.
    let other = [b.clone(), c.clone()];
    s.replace_clusters("btcreg", [("c03", &other[..])]).unwrap();
    assert_eq!(s.cluster_of("btcreg", &a).unwrap(), None);
    assert_eq!(s.cluster_size("btcreg", "c01").unwrap(), 0);
    assert_eq!(s.cluster_of("btcreg", &c).unwrap().as_deref(), Some("c03"));

    let rec = |f: &str| ImportRecord {
        seq: 0,
        files: vec![f.into()],
        format: "csv".into(),
        list_date: None,
        labels: 1,
        sources: vec![],
        skipped_invalid: 0,
        skipped_unsupported: 0,
    };
    assert_eq!(s.record_label_import(rec("a.csv")).unwrap().seq, 1);
    assert_eq!(s.record_label_import(rec("b.csv")).unwrap().seq, 2);
    let all = s.label_imports().unwrap();
    assert_eq!(all.iter().map(|r| (r.seq, r.files[0].as_str())).collect::<Vec<_>>(), [(1, "a.csv"), (2, "b.csv")]);

    s.put_node_capability("ethereum", "trace_mode", "none").unwrap();
    s.put_node_capability("ethereum", "internal_transfers", "missing").unwrap();
    assert_eq!(
        s.node_capabilities("ethereum").unwrap(),
        [("internal_transfers".to_string(), "missing".to_string()), ("trace_mode".into(), "none".into())]
    );
    assert!(s.node_capabilities("ethereum2").unwrap().is_empty());
}

/// Regression (issue 12): ids allocated for a batch were cached before the batch committed, so
/// a batch that failed later (here: a parent mismatch in its second block) left cached ids with
/// no dictionary row, and the transfers of those addresses written by the next batch could not
/// be found by address.
#[test]
fn addresses_of_a_failed_batch_are_not_cached_without_their_dictionary_rows() {
    let blocks = common::chain(3);
    let (_d, s) = fresh();
    s.apply_blocks("ethereum", &blocks[..1]).unwrap();
    // Block 1 brings addresses of its own; block 2 of another branch does not follow it.
    let stranger = common::block(2, chaintrace_model::Hash32([9; 32]), 1);
    let err = s.apply_blocks("ethereum", &[blocks[1].clone(), stranger]).unwrap_err();
    assert!(matches!(err, StoreError::ParentMismatch { height: 2, .. }), "{err}");
    s.apply_blocks("ethereum", &blocks[1..]).unwrap();
    let (_d2, clean) = fresh();
    clean.apply_blocks("ethereum", &blocks).unwrap();
    assert_eq!(digest(&s), digest(&clean));
    for t in &blocks[1].transfers {
        for (addr, dir) in [(&t.from, Direction::Out), (&t.to, Direction::In)] {
            let got = s.transfers("ethereum", addr, dir, None, usize::MAX).unwrap();
            assert!(got.contains(t), "{addr}: transfer of block 1 missing after the failed batch");
            assert_eq!(got, clean.transfers("ethereum", addr, dir, None, usize::MAX).unwrap());
        }
    }
}
