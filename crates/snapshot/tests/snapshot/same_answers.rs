//! The snapshot answers every query the tracer makes (`transfers` in both directions, with and
//! without `after` and `limit`, `degree`) exactly as the store it was built from, on random
//! graphs of every address kind, with amounts across the `u128` boundary — and so does a
//! snapshot built before the store grew, caught up with the later transfers.

use chaintrace_model::{Address, Asset, BlockData, BlockRef, Direction, Hash32, Position, Transfer, U256};
use chaintrace_snapshot::{ListRequest, Snapshot, SnapshotBuilder, SnapshotError, SnapshotKey};
use chaintrace_store::Store;
use proptest::prelude::*;

const CHAIN: &str = "testchain";

fn addr(kind: u8, i: u8) -> Address {
    match kind % 4 {
        0 => Address::Evm([i; 20]),
        1 => Address::Tron([i; 20]),
        2 => Address::Bitcoin(format!("bc1q{i:03}x")),
        _ => Address::Coinbase,
    }
}

fn block_hash(h: u64) -> Hash32 {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&h.to_be_bytes());
    b[31] = 0xcc;
    Hash32(b)
}

/// One generated transfer: (block, from, to, asset, amount kind, amount, same tx as previous).
type Spec = (u8, (u8, u8), (u8, u8), u8, u8, u64, bool);

fn blocks_of(specs: &[Spec]) -> Vec<BlockData> {
    let mut by_height: std::collections::BTreeMap<u64, Vec<&Spec>> = Default::default();
    for s in specs {
        by_height.entry(u64::from(s.0 % 12)).or_default().push(s);
    }
    let top = by_height.keys().max().copied().unwrap_or(0);
    let mut out = Vec::new();
    let mut txn = 0u32;
    for h in 0..=top {
        let parent = if h == 0 { Hash32::ZERO } else { block_hash(h - 1) };
        let mut d = BlockData::new(BlockRef { height: h, hash: block_hash(h), parent, time: 1_700_000_000 + h * 600 });
        let mut tx_index = 0u32;
        let mut sub = 0u32;
        for (i, (_, f, t, asset, kind, amount, same_tx)) in by_height.get(&h).into_iter().flatten().enumerate() {
            if i > 0 && *same_tx {
                sub += 1;
            } else if i > 0 {
                tx_index += 1 + u32::from(*kind % 3);
                sub = 0;
                txn += 1;
            }
            let mut tx = [0u8; 32];
            tx[..4].copy_from_slice(&txn.to_be_bytes());
            tx[4..12].copy_from_slice(&h.to_be_bytes());
            let amount = match kind % 4 {
                // (a quarter of them moving nothing)
                0 => U256::from(if amount % 4 == 0 { 0 } else { *amount }),
                1 => U256::from(u128::MAX) - U256::from(*amount),
                2 => U256::from(u128::MAX) + U256::from(*amount) + U256::from(1u8),
                _ => U256::MAX - U256::from(*amount),
            };
            let asset = match asset % 4 {
                0 => Asset::Native,
                1 => Asset::Token([asset % 7; 20]),
                2 => Asset::TronToken([asset % 5; 20]),
                _ => Asset::Trc10(u64::from(*asset) * 1_000_003),
            };
            d.transfers.push(Transfer {
                tx: Hash32(tx),
                height: h,
                pos: Position { tx_index, sub },
                time: d.block.time,
                from: addr(f.0, f.1 % 9),
                to: addr(t.0, t.1 % 9),
                asset,
                amount,
            });
        }
        d.tx_count = tx_index + 1;
        out.push(d);
    }
    out
}

fn key_of(store: &Store) -> SnapshotKey {
    let digest = store.chain_digest(CHAIN).unwrap_or_default();
    let transfers = store.stats().expect("stats").chains.get(CHAIN).map_or(0, |c| c.transfers);
    SnapshotKey { chain: CHAIN.into(), tip_height: None, tip_hash: None, transfers, digest }
}

fn build(store: &Store, path: &std::path::Path) -> Result<Snapshot, SnapshotError> {
    let key = key_of(store);
    let mut b = SnapshotBuilder::create(path, key)?;
    let mut err = None;
    store
        .scan_transfers(CHAIN, 0, u64::MAX, |t| match b.push(&t) {
            Ok(()) => true,
            Err(e) => {
                err = Some(e);
                false
            }
        })
        .expect("scan");
    if let Some(e) = err {
        return Err(e);
    }
    b.finish()?;
    Snapshot::open(path)
}

/// The snapshot's chain-order stream (`scan_chain_by` with `chunk` transfers per read), each
/// transfer in the store's terms: height, time, sender, receiver, asset, moved anything.
fn chain_order(snap: &Snapshot, fwd: bool, chunk: u64) -> Vec<(u64, u64, Address, Address, Asset, bool)> {
    let mut got = Vec::new();
    snap.scan_chain_by(fwd, chunk, |b, edges| {
        let one = |e: &chaintrace_model::ChainEdge| {
            let name = |id| snap.address(id).expect("an id of the stream has an address");
            (b.height, b.time, name(e.from), name(e.to), snap.assets()[e.asset as usize], e.moved)
        };
        // a reverse scan's slices are in chain order, read from their ends
        if fwd {
            got.extend(edges.iter().map(one));
        } else {
            got.extend(edges.iter().rev().map(one));
        }
    })
    .expect("scan the chain");
    got
}

fn spec() -> impl Strategy<Value = Spec> {
    (any::<u8>(), (0u8..4, any::<u8>()), (0u8..3, any::<u8>()), any::<u8>(), any::<u8>(), any::<u64>(), any::<bool>())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn snapshot_answers_like_the_store(specs in proptest::collection::vec(spec(), 0..120), cuts in proptest::collection::vec((any::<u8>(), any::<u8>(), 1usize..6), 8), one_kind in any::<bool>(), grown in proptest::option::of(any::<proptest::sample::Index>()), resident in any::<bool>()) {
        // one address kind (all keys of one length: the file's fixed-width keys) or several
        let specs: Vec<Spec> = if one_kind {
            specs.into_iter().map(|mut s| { s.1.0 = 0; s.2.0 = 0; s }).collect()
        } else {
            specs
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("store")).expect("store");
        let blocks = blocks_of(&specs);
        // built from the store as it is, or from its first blocks and caught up with the rest
        // (a snapshot is of a chain the store has: one block at least)
        let split = grown.filter(|_| !blocks.is_empty()).map_or(blocks.len(), |i| 1 + i.index(blocks.len()));
        if split > 0 {
            store.apply_blocks(CHAIN, &blocks[..split]).expect("apply");
        }
        let mut snap = build(&store, &dir.path().join("snap/testchain.snap")).expect("build");
        if split < blocks.len() {
            store.apply_blocks(CHAIN, &blocks[split..]).expect("apply the later blocks");
            let mut later = Vec::new();
            let without = store.scan_transfers_since(CHAIN, split as u64, |t| { later.push(t); true }).expect("scan");
            // the store without the later transfers is the snapshot's state
            prop_assert_eq!(without.as_deref(), Some(snap.key().digest.as_str()));
            let n = later.len() as u64;
            snap = snap.caught_up(key_of(&store), later).expect("caught up");
            let added: usize = blocks[split..].iter().map(|b| b.transfers.len()).sum();
            prop_assert_eq!(snap.later_transfers(), added as u64);
            prop_assert_eq!(n, added as u64);
            prop_assert_eq!(&snap.key().digest, &store.chain_digest(CHAIN).expect("digest"));
            // folded into one file, it is the file a build from the grown store writes
            let folded = dir.path().join("snap/folded.snap");
            snap.write_folded(&folded).expect("fold");
            let built = dir.path().join("snap/built.snap");
            build(&store, &built).expect("build from the grown store");
            let (f, b) = (std::fs::read(&folded).expect("read"), std::fs::read(&built).expect("read"));
            prop_assert!(f == b, "the folded file differs from a build ({} and {} bytes)", f.len(), b.len());
            let folded = Snapshot::open(&folded).expect("open the folded file");
            prop_assert_eq!(chain_order(&folded, true, 1 + cuts[0].2 as u64), chain_order(&snap, true, 1 << 16));
        }
        // read through `pread` or, held resident, from the mapping: the same answers
        if resident {
            prop_assert_eq!(snap.hold_resident(), snap.file_len());
            prop_assert!(snap.is_resident());
        }
        let all: Vec<Transfer> = blocks.iter().flat_map(|b| b.transfers.clone()).collect();
        prop_assert_eq!(snap.transfer_count(), all.len() as u64);
        // the chain-order stream: the store's transfers in chain order, forward and reversed,
        // whatever the number decoded per read
        let mut want = Vec::new();
        store.scan_transfers_since(CHAIN, 0, |t| {
            want.push((t.height, t.time, t.from.clone(), t.to.clone(), t.asset, !t.amount.is_zero()));
            true
        }).expect("scan");
        for chunk in [1u64, 2, 3, 1 << 16] {
            prop_assert_eq!(&chain_order(&snap, true, chunk), &want);
            let mut back = chain_order(&snap, false, chunk);
            back.reverse();
            prop_assert_eq!(&back, &want);
        }
        // every address of every kind, including ones the chain never saw
        let mut addrs: Vec<Address> = (0..4).flat_map(|k| (0..10).map(move |i| addr(k, i))).collect();
        addrs.dedup();
        // many lists in one call, their hashes read together, as the walk over addresses asks:
        // the store's lists, request by request (every address, whole and cut)
        for dir in [Direction::Out, Direction::In] {
            let mut reqs: Vec<ListRequest> = addrs.iter().map(|a| (a.clone(), None, usize::MAX)).collect();
            for (i, (h, p, limit)) in cuts.iter().enumerate() {
                let after = Some((u64::from(*h % 14), Position { tx_index: u32::from(*p % 6), sub: u32::from(*p / 64) }));
                reqs.push((addrs[i % addrs.len()].clone(), after, *limit));
            }
            let want: Vec<Vec<Transfer>> = reqs.iter().map(|(a, after, limit)| store.transfers(CHAIN, a, dir, *after, *limit).expect("store")).collect();
            prop_assert_eq!(snap.transfers_batch(&reqs, dir).expect("snap batch"), want);
        }
        for a in &addrs {
            let both = (store.degree(CHAIN, a, Direction::Out, u64::MAX).expect("degree"), store.degree(CHAIN, a, Direction::In, u64::MAX).expect("degree"));
            prop_assert_eq!(snap.degrees(a).expect("degrees"), both);
            // both lists of an id in one read: the store's sends then its receipts, each in
            // chain order, with the counterparty and amount the store has
            if let Some(id) = snap.id_of(a) {
                let mut got = Vec::new();
                snap.records_both(id, |dir, r| got.push((dir, r.height, r.tx_index, r.sub, r.other, r.amount))).expect("records_both");
                let mut want = Vec::new();
                for dir in [Direction::Out, Direction::In] {
                    for t in store.transfers(CHAIN, a, dir, None, usize::MAX).expect("store") {
                        let other = if dir == Direction::Out { &t.to } else { &t.from };
                        want.push((dir, t.height, t.pos.tx_index, t.pos.sub, snap.id_of(other).expect("other's id"), t.amount));
                    }
                }
                prop_assert_eq!(got, want);
            }
            for dir in [Direction::Out, Direction::In] {
                let want = store.transfers(CHAIN, a, dir, None, usize::MAX).expect("store");
                prop_assert_eq!(&snap.transfers(a, dir, None, usize::MAX).expect("snap"), &want);
                prop_assert_eq!(snap.degree(a, dir).expect("degree"), store.degree(CHAIN, a, dir, u64::MAX).expect("degree"));
                // `after` at, between and beyond stored positions; limits from 1 (the tracer asks
                // for 1 or all)
                for (h, p, limit) in &cuts {
                    let after = Some((u64::from(*h % 14), Position { tx_index: u32::from(*p % 6), sub: u32::from(*p / 64) }));
                    let w = store.transfers(CHAIN, a, dir, after, *limit).expect("store");
                    prop_assert_eq!(&snap.transfers(a, dir, after, *limit).expect("snap"), &w);
                    // the tracer's "anything after?" question, answered without reading a transfer
                    let any = !store.transfers(CHAIN, a, dir, after, 1).expect("store").is_empty();
                    prop_assert_eq!(snap.has_transfers_after(a, dir, after).expect("snap"), any);
                }
                prop_assert_eq!(snap.has_transfers_after(a, dir, None).expect("snap"), !want.is_empty());
                for t in &want {
                    let after = Some(t.order());
                    let w = store.transfers(CHAIN, a, dir, after, usize::MAX).expect("store");
                    prop_assert_eq!(&snap.transfers(a, dir, after, usize::MAX).expect("snap"), &w);
                    prop_assert_eq!(snap.has_transfers_after(a, dir, after).expect("snap"), !w.is_empty());
                }
                // the id-level reads the tracer's dense walk makes: records rebuilt into transfers
                // with the counterparty, transaction and asset they name are the store's
                match snap.id_of(a) {
                    None => prop_assert!(want.is_empty(), "{a:?} has transfers but no id"),
                    Some(id) => {
                        prop_assert_eq!(&snap.address(id).expect("address"), a);
                        // a prefetch is a hint: any id, in range or not, and the answers stay
                        snap.prefetch(id);
                        snap.prefetch(u32::MAX);
                        prop_assert_eq!(snap.degrees_of(id).expect("degrees"), both);
                        let mut cut_points: Vec<Option<(u64, Position)>> = vec![None];
                        cut_points.extend(want.iter().map(|t| Some(t.order())));
                        cut_points.extend(cuts.iter().map(|(h, p, _)| Some((u64::from(*h % 14), Position { tx_index: u32::from(*p % 6), sub: u32::from(*p / 64) }))));
                        for after in cut_points {
                            let w = store.transfers(CHAIN, a, dir, after, usize::MAX).expect("store");
                            let mut got = Vec::new();
                            let mut txs = Vec::new();
                            let mut err = None;
                            snap.records(id, dir, after, |r| {
                                txs.push(r.tx);
                                let other = match snap.address(r.other) {
                                    Ok(x) => x,
                                    Err(e) => { err = Some(e); return; }
                                };
                                let (from, to) = match dir { Direction::Out => (a.clone(), other), Direction::In => (other, a.clone()) };
                                got.push(Transfer {
                                    tx: snap.tx_hash(r.tx).expect("tx"),
                                    height: r.height,
                                    pos: Position { tx_index: r.tx_index, sub: r.sub },
                                    time: r.time,
                                    from,
                                    to,
                                    asset: snap.assets()[r.asset as usize],
                                    amount: r.amount,
                                });
                            }).expect("records");
                            prop_assert!(err.is_none(), "{err:?}");
                            prop_assert_eq!(&got, &w);
                            // the batched read, in the records' order and reversed
                            let hashes: Vec<Hash32> = w.iter().map(|t| t.tx).collect();
                            prop_assert_eq!(&snap.tx_hashes(&txs).expect("tx hashes"), &hashes);
                            txs.reverse();
                            let back: Vec<Hash32> = hashes.iter().rev().copied().collect();
                            prop_assert_eq!(snap.tx_hashes(&txs).expect("tx hashes"), back);
                            prop_assert_eq!(snap.has_records_after(id, dir, after).expect("snap"), !w.is_empty());
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn transfers_out_of_chain_order_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.snap");
    let key = SnapshotKey { chain: CHAIN.into(), tip_height: None, tip_hash: None, transfers: 0, digest: "x".into() };
    let mut b = SnapshotBuilder::create(&path, key).expect("create");
    let t = blocks_of(&[(3, (0, 1), (0, 2), 0, 0, 5, false)]).pop().expect("block").transfers[0].clone();
    b.push(&t).expect("first");
    let err = b.push(&t).expect_err("same position twice");
    assert!(err.to_string().contains("not after"), "{err}");
    assert!(!path.exists(), "nothing under the final name before finish");
}

#[test]
fn damaged_files_are_refused_not_misread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("store")).expect("store");
    store
        .apply_blocks(CHAIN, &blocks_of(&[(0, (0, 1), (0, 2), 0, 0, 5, false), (1, (0, 2), (1, 3), 1, 2, 9, false)]))
        .expect("apply");
    let path = dir.path().join("t.snap");
    build(&store, &path).expect("build");
    let bytes = std::fs::read(&path).expect("read");
    // truncated
    std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("write");
    assert!(matches!(Snapshot::open(&path), Err(SnapshotError::Corrupt { .. })));
    // another file
    std::fs::write(&path, b"not a snapshot at all, but long enough to have a header........").expect("write");
    assert!(matches!(Snapshot::open(&path), Err(SnapshotError::NotASnapshot { .. })));
    // another version
    let mut v = bytes.clone();
    v[8] = 99;
    std::fs::write(&path, &v).expect("write");
    assert!(matches!(Snapshot::open(&path), Err(SnapshotError::Version { found: 99, .. })));
}

#[test]
fn heights_and_times_past_32_bits_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SnapshotKey { chain: CHAIN.into(), tip_height: None, tip_hash: None, transfers: 0, digest: "x".into() };
    let t = blocks_of(&[(3, (0, 1), (0, 2), 0, 0, 5, false)]).pop().expect("block").transfers[0].clone();
    for (height, time) in [(1u64 << 32, t.time), (t.height, 1u64 << 32)] {
        let path = dir.path().join(format!("{height}-{time}.snap"));
        let mut b = SnapshotBuilder::create(&path, key.clone()).expect("create");
        let err = b.push(&Transfer { height, time, ..t.clone() }).expect_err("past 32 bits");
        assert!(err.to_string().contains("past what the snapshot format holds"), "{err}");
        // the largest values that fit are kept exactly
        let max = Transfer { height: u64::from(u32::MAX), time: u64::from(u32::MAX), ..t.clone() };
        b.push(&max).expect("u32::MAX fits");
        b.finish().expect("finish");
        let snap = Snapshot::open(&path).expect("open");
        let got = snap.transfers(&max.from, Direction::Out, None, 10).expect("read");
        assert_eq!(got, vec![max]);
    }
}
