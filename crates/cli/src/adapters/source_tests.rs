//! The store adapter's dense view over a real snapshot file, against the store's own reads.

use super::snapshot::{self, Status};
use super::source::StoreSource;
use chaintrace_model::{Address, Asset, BlockData, BlockRef, Category, Hash32, Label, Position, Transfer, U256};
use chaintrace_store::Store;
use chaintrace_tracer::{reach_by, trace, Policy, ReachBy, TraceDirection, TraceOptions};

const CHAIN: &str = "ethereum";

fn addr(i: u64) -> Address {
    let mut b = [0u8; 20];
    b[12..].copy_from_slice(&i.to_be_bytes());
    Address::Evm(b)
}

/// Blocks `from..to` of a small random chain over `people` addresses: a few transfers
/// each, in two assets, some moving nothing.
fn blocks(state: &mut u64, people: u64, from: u64, to: u64) -> Vec<BlockData> {
    let mut next = |m: u64| {
        *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (*state >> 33) % m
    };
    let hash = |h: u64| {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&(h + 1).to_be_bytes());
        Hash32(b)
    };
    (from..to)
        .map(|h| {
            let parent = if h == 0 { Hash32::ZERO } else { hash(h - 1) };
            let mut d = BlockData::new(BlockRef { height: h, hash: hash(h), parent, time: 1_700_000_000 + 12 * h });
            for i in 0..1 + next(6) as u32 {
                let mut tx = [0u8; 32];
                tx[..8].copy_from_slice(&h.to_be_bytes());
                tx[8..12].copy_from_slice(&i.to_be_bytes());
                d.transfers.push(Transfer {
                    tx: Hash32(tx),
                    height: h,
                    pos: Position { tx_index: i, sub: 0 },
                    time: d.block.time,
                    from: addr(next(people)),
                    to: addr(next(people)),
                    asset: if next(4) == 0 { Asset::Token([7; 20]) } else { Asset::Native },
                    amount: U256::from(if next(8) == 0 { 0 } else { 1 + next(1000) }),
                });
            }
            d.tx_count = d.transfers.len() as u32;
            d
        })
        .collect()
}

/// Over a real snapshot file — as built, and caught up with blocks the store gained after —
/// reach answers the poison trace over the store's own reads, every way it can walk: the
/// lists, one pass over the chain-order stream, and the lists until their budget.
#[test]
fn reach_over_a_snapshot_every_way_is_the_poison_trace_over_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("store")).expect("store");
    let mut rng = 7u64;
    store.apply_blocks(CHAIN, &blocks(&mut rng, 40, 0, 60)).expect("apply");
    let exchange = Label {
        chain: None,
        address: addr(3),
        category: Category::Exchange,
        entity: "an exchange".into(),
        source: "test".into(),
        confidence: 90,
        attrs: Default::default(),
    };
    store.add_labels(&[exchange]).expect("labels");
    snapshot::build(&store, CHAIN).expect("build").expect("a chain to build");
    for grown in [false, true] {
        if grown {
            store.apply_blocks(CHAIN, &blocks(&mut rng, 45, 60, 80)).expect("apply the later blocks");
        }
        let snap = match snapshot::status(&store, CHAIN).expect("status") {
            Status::Fresh(s) if !grown => s,
            Status::CaughtUp(s) if grown => s,
            _ => panic!("the snapshot is not fresh{}", if grown { " and caught up" } else { "" }),
        };
        let over_snap = StoreSource::new(&store, CHAIN, false).with_snapshot(Some(&snap));
        let over_store = StoreSource::new(&store, CHAIN, false);
        for (seeds, hops, backward, hub) in
            [(vec![0, 1], 3, false, 100), (vec![5], 6, true, 100), (vec![2, 9], 4, false, 12)]
        {
            let mut o = TraceOptions::new(seeds.into_iter().map(addr).collect(), "ETH", 18);
            o.policy = Policy::Poison;
            o.hops = hops;
            o.hub_degree = hub;
            if backward {
                o.direction = TraceDirection::Backward;
            }
            let t = trace(&over_store, &o).expect("trace over the store");
            assert!(!t.stats.dense);
            let want: Vec<(Address, u32)> = t.nodes.iter().map(|((_, a), n)| (a.clone(), n.hop)).collect();
            assert!(want.len() > 3, "a reach worth comparing: {want:?}");
            for by in [ReachBy::Lists, ReachBy::Chain, ReachBy::Auto] {
                let r = reach_by(&over_snap, &o, by).expect("reach over the snapshot");
                assert!(r.stats.dense);
                assert_eq!(r.stats.chain_scan, by != ReachBy::Lists, "{by:?}");
                assert_eq!(r.nodes, want, "{by:?}, grown: {grown}");
            }
        }
    }
}
