//! The walk over a source's dense view gives the same trace as the walk over addresses: random
//! graphs with several assets, multi-transfer transactions, zero amounts, labels (pooling and
//! not, on this chain and on another), hubs, time and height bounds, `--asset`, `--min-amount`,
//! every policy, forward and backward, compared field by field. The walk over addresses is
//! itself checked against brute-force oracles (`props`, `rules`).

use chaintrace_model::{
    Address, Asset, BridgeEvent, BridgeKey, BridgeSide, Category, Conversion, ConversionKind, Hash32, Label, Position,
    Transfer, U256,
};
use chaintrace_tracer::{
    reach, reach_by, trace, Bound, MemGraph, Policy, ReachBy, Trace, TraceDirection, TraceOptions,
};
use proptest::prelude::*;

const TOKENS: [[u8; 20]; 2] = [[0xaa; 20], [0xbb; 20]];

fn addr(i: u8) -> Address {
    Address::Evm([i; 20])
}

fn asset(i: u8) -> Asset {
    match i {
        0 => Asset::Native,
        i => Asset::Token(TOKENS[usize::from(i - 1) % 2]),
    }
}

/// One transaction: its legs `(from, to, asset, amount)`.
type Tx = Vec<(u8, u8, u8, u64)>;

#[derive(Clone, Debug)]
struct Case {
    txs: Vec<(u64, Tx)>,
    labels: Vec<(u8, u8, bool)>,
    seeds: Vec<u8>,
    hops: u32,
    hub_degree: u64,
    min_amount: u64,
    only: Option<u8>,
    since: Option<(bool, u64)>,
    until: Option<(bool, u64)>,
    backward: bool,
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (3u8..10).prop_flat_map(|n| {
        let leg = (0..n, 0..n, 0u8..3, prop_oneof![Just(0u64), 1u64..60]);
        (
            prop::collection::vec((0u64..16, prop::collection::vec(leg, 1..4)), 1..40),
            prop::collection::vec((0..n, 0u8..4, prop::bool::weighted(0.8)), 0..4),
            prop::collection::vec(0..n + 1, 1..4),
            1u32..7,
            2u64..14,
            prop_oneof![3 => Just(0u64), 1 => 1u64..9],
            prop_oneof![3 => Just(None), 1 => (0u8..4).prop_map(Some)],
            prop::option::of((any::<bool>(), 0u64..10)),
            prop::option::of((any::<bool>(), 4u64..16)),
            prop::bool::weighted(0.3),
        )
            .prop_map(|(txs, labels, seeds, hops, hub_degree, min_amount, only, since, until, backward)| {
                Case { txs, labels, seeds, hops, hub_degree, min_amount, only, since, until, backward }
            })
    })
}

fn graph(c: &Case) -> MemGraph {
    let mut g = MemGraph::new("ethereum");
    for (i, (height, legs)) in c.txs.iter().enumerate() {
        for (sub, &(f, t, a, amount)) in legs.iter().enumerate() {
            g.add_transfer(Transfer {
                tx: Hash32([i as u8 + 1; 32]),
                height: *height,
                pos: Position { tx_index: i as u32, sub: sub as u32 },
                time: 1_600_000_000 + height * 12,
                from: addr(f),
                to: addr(t),
                asset: asset(a),
                amount: U256::from(amount),
            });
        }
    }
    for &(a, cat, here) in &c.labels {
        let category =
            [Category::ExchangeDeposit, Category::Exchange, Category::Mixer, Category::Sanctioned][usize::from(cat)];
        g.add_label(Label {
            chain: Some(if here { "ethereum" } else { "tron" }.into()),
            address: addr(a),
            category,
            entity: format!("entity-{cat}"),
            source: "test".into(),
            confidence: 80,
            attrs: Default::default(),
        });
    }
    g
}

fn options(c: &Case, policy: Policy) -> TraceOptions {
    // seed `n` (one past the graph's addresses) has no transfers at all
    let mut o = TraceOptions::new(c.seeds.iter().map(|&s| addr(s)).collect(), "ETH", 0);
    o.hops = c.hops;
    o.policy = policy;
    o.hub_degree = c.hub_degree;
    o.min_amount = (c.min_amount > 0).then(|| c.min_amount.to_string());
    // index 3: a token the graph never moved
    o.asset = c.only.map(|i| if i == 3 { Asset::Token([0xcc; 20]) } else { asset(i) });
    let bound =
        |(by_time, v): (bool, u64)| if by_time { Bound::Time(1_600_000_000 + v * 12) } else { Bound::Height(v) };
    o.since = c.since.map(bound);
    o.until = c.until.map(bound);
    if c.backward {
        o.direction = TraceDirection::Backward;
    }
    o
}

fn same(dense: &Trace, general: &Trace) -> Result<(), TestCaseError> {
    prop_assert_eq!(&dense.nodes, &general.nodes);
    prop_assert_eq!(&dense.edges, &general.edges);
    prop_assert_eq!(&dense.deposits, &general.deposits);
    prop_assert_eq!(&dense.assets, &general.assets);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn dense_walk_equals_walk_over_addresses(c in case_strategy()) {
        let g = graph(&c);
        let general = g.clone().without_dense_view();
        for policy in [Policy::Poison, Policy::Haircut, Policy::Fifo] {
            let o = options(&c, policy);
            let d = trace(&g, &o).expect("dense walk");
            let a = trace(&general, &o).expect("walk over addresses");
            prop_assert!(d.stats.dense && !a.stats.dense, "the two walks ran: {:?} / {:?}", d.stats, a.stats);
            // a small graph: FIFO opens the holdings traced funds reach, to the end
            prop_assert_eq!(d.stats.opening_replay, policy == Policy::Fifo);
            same(&d, &a)?;
        }
    }
}

/// A poison trace's nodes, each with its hop, in address order: what `reach` must answer.
fn poison_reach(t: &Trace) -> Vec<(Address, u32)> {
    t.nodes.iter().map(|((_, a), n)| (a.clone(), n.hop)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// `reach` over the dense view (the discovery and one pass over its rows) answers the walk
    /// over addresses' poison trace — its nodes and their hops — whatever policy the options
    /// name; without the dense view it is that trace's.
    #[test]
    fn reach_equals_poison_trace_nodes(c in case_strategy(), policy in prop_oneof![Just(Policy::Poison), Just(Policy::Haircut), Just(Policy::Fifo)]) {
        let g = graph(&c);
        let general = g.clone().without_dense_view();
        let want = poison_reach(&trace(&general, &options(&c, Policy::Poison)).expect("walk over addresses"));
        let o = options(&c, policy);
        let d = reach(&g, &o).expect("reach over ids");
        let a = reach(&general, &o).expect("reach over addresses");
        prop_assert!(d.stats.dense && !a.stats.dense, "both ran: {:?} / {:?}", d.stats, a.stats);
        prop_assert_eq!(&d.nodes, &want);
        prop_assert_eq!(&a.nodes, &want);
        // every way over the dense view: the lists level by level, one pass over the chain in
        // time order (where it applies: no `--min-amount`), and the lists until their budget
        for by in [ReachBy::Lists, ReachBy::Chain, ReachBy::Auto] {
            let r = reach_by(&g, &o, by).expect("reach over ids");
            prop_assert_eq!(&r.nodes, &want, "{:?}", by);
            match by {
                ReachBy::Lists => prop_assert!(!r.stats.chain_scan),
                ReachBy::Chain => prop_assert_eq!(r.stats.chain_scan, c.min_amount == 0),
                ReachBy::Auto => {}
            }
        }
        // found by address: every reached one, and none of the graph's others
        for i in 0..=u8::MAX {
            let at = want.iter().find(|(x, _)| *x == addr(i)).map(|&(_, h)| h);
            prop_assert_eq!(d.hops(&addr(i)), at);
        }
    }
}

/// Transfers `(height, from, to, amount)`, seeds, hops, backward, `--min-amount`.
type LongHistory = (Vec<(u64, u8, u8, U256)>, Vec<u8>, u32, bool, u64);

/// The dense walk over `g` and the walk over addresses over the same graph without its dense
/// view give the same trace from `seeds`, for each of `policies`.
fn dense_equals_general(
    g: &MemGraph,
    seeds: &[u8],
    hops: u32,
    policies: &[Policy],
    hub_degree: u64,
    min_amount: u64,
    backward: bool,
) -> Result<(), TestCaseError> {
    let general = g.clone().without_dense_view();
    for &policy in policies {
        let mut o = TraceOptions::new(seeds.iter().map(|&s| addr(s)).collect(), "ETH", 0);
        o.hops = hops;
        o.policy = policy;
        o.hub_degree = hub_degree;
        o.min_amount = (min_amount > 0).then(|| min_amount.to_string());
        if backward {
            o.direction = TraceDirection::Backward;
        }
        let d = trace(g, &o).expect("dense walk");
        let a = trace(&general, &o).expect("walk over addresses");
        prop_assert!(d.stats.dense && !a.stats.dense);
        same(&d, &a)?;
    }
    Ok(())
}

/// Long histories on few addresses: most of what a holding sends and receives happens before
/// traced funds can first reach it (what the dense replay folds into an opening balance), with
/// amounts from zero to past 2^128 (where the replay's 128-bit events keep the exact amount
/// aside), seeds that send at the chain's first key, haircut and FIFO, both directions.
fn long_history_strategy() -> impl Strategy<Value = LongHistory> {
    let amount = prop_oneof![
        4 => (0u64..1_000).prop_map(U256::from),
        1 => (0u64..3).prop_map(|d| U256::from(u128::MAX - u128::from(d))),
        1 => (1u64..1_000).prop_map(|x| (U256::from(1u8) << 130) * U256::from(x)),
    ];
    (
        prop::collection::vec((0u64..30, 0u8..5, 0u8..5, amount), 10..90),
        prop::collection::vec(0u8..5, 1..3),
        1u32..7,
        any::<bool>(),
        prop_oneof![3 => Just(0u64), 1 => 1u64..400],
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn dense_walk_equals_walk_over_addresses_on_long_histories(
        (legs, seeds, hops, backward, min_amount) in long_history_strategy()
    ) {
        let mut g = MemGraph::new("ethereum");
        for (i, &(height, f, t, amount)) in legs.iter().enumerate() {
            g.add_transfer(Transfer {
                tx: Hash32([i as u8 + 1; 32]),
                height,
                // one transfer per transaction here, several per block
                pos: Position { tx_index: i as u32, sub: 0 },
                time: 1_600_000_000 + height * 12,
                from: addr(f),
                to: addr(t),
                asset: Asset::Native,
                amount,
            });
        }
        dense_equals_general(&g, &seeds, hops, &[Policy::Haircut, Policy::Fifo], 1_000, min_amount, backward)?;
    }
}

/// A wide graph: thousands of addresses and seeds, so the dense walk reads its frontiers and
/// its replay's histories on two threads (`stats.split_reads`; FIFO after opening holdings one
/// by one for a while: here traced funds reach nearly all of them); the same trace as the walk
/// over addresses, every policy, both directions (forward: with deposits into labelled
/// exchanges).
#[test]
fn dense_walk_on_two_threads_equals_walk_over_addresses() {
    let seed = chaintrace_testkit::rng::seed_from_env("CHAINTRACE_SEED");
    // the seed in every failure message below, to replay with CHAINTRACE_SEED
    let mut rng = chaintrace_testkit::rng::Rng::new(seed);
    let wide = |i: u32| {
        Address::Evm({
            let mut b = [0u8; 20];
            b[..4].copy_from_slice(&i.to_be_bytes());
            b[19] = 1;
            b
        })
    };
    const ADDRS: u32 = 6_000;
    let mut g = MemGraph::new("ethereum");
    for i in 0..40_000u32 {
        let height = u64::from(i / 50);
        g.add_transfer(Transfer {
            tx: Hash32({
                let mut h = [0u8; 32];
                h[..4].copy_from_slice(&i.to_be_bytes());
                h
            }),
            height,
            pos: Position { tx_index: i % 50, sub: 0 },
            time: 1_600_000_000 + height * 12,
            from: wide(rng.below(u64::from(ADDRS)) as u32),
            to: wide(rng.below(u64::from(ADDRS)) as u32),
            asset: asset(rng.below(3) as u8),
            amount: U256::from(1 + rng.below(1_000)),
        });
    }
    // exchanges and their deposit addresses among them: deposits with paths back to the seeds
    for i in 0..60 {
        g.add_label(Label {
            chain: Some("ethereum".into()),
            address: wide(rng.below(u64::from(ADDRS)) as u32),
            category: if i % 3 == 0 { Category::Exchange } else { Category::ExchangeDeposit },
            entity: format!("exchange-{}", i % 7),
            source: "test".into(),
            confidence: 50 + i as u8,
            attrs: Default::default(),
        });
    }
    let general = g.clone().without_dense_view();
    let seeds: Vec<Address> = (0..1_500).map(|_| wide(rng.below(u64::from(ADDRS)) as u32)).collect();
    for backward in [false, true] {
        for policy in [Policy::Poison, Policy::Haircut, Policy::Fifo] {
            let mut o = TraceOptions::new(seeds.clone(), "ETH", 0);
            o.hops = 3;
            o.policy = policy;
            o.hub_degree = 1_000;
            if backward {
                o.direction = TraceDirection::Backward;
            }
            let d = trace(&g, &o).expect("dense walk");
            let a = trace(&general, &o).expect("walk over addresses");
            assert!(d.stats.dense && !a.stats.dense, "the two walks ran: {:?} / {:?}", d.stats, a.stats);
            assert!(
                d.stats.split_reads >= 2,
                "{policy} backward={backward}: reads not split (seed {seed}): {:?}",
                d.stats
            );
            assert!(d.edges.len() > 1_000, "{policy}: a wide trace ({} edges)", d.edges.len());
            // traced funds reach nearly every holding here: FIFO stops opening them one by one
            // and reads every list instead (as haircut always does)
            assert!(!d.stats.opening_replay, "{policy}: the replay read every list: {:?}", d.stats);
            assert_eq!(d.nodes, a.nodes, "{policy} backward={backward}: nodes (seed {seed})");
            assert_eq!(d.edges, a.edges, "{policy} backward={backward}: edges (seed {seed})");
            assert_eq!(d.deposits, a.deposits, "{policy} backward={backward}: deposits (seed {seed})");
            assert!(backward || d.deposits.len() > 10, "{policy}: deposits ({}) (seed {seed})", d.deposits.len());
            if policy == Policy::Poison {
                // and `reach`, its addresses decoded on two threads: the trace's nodes
                let r = reach(&g, &o).expect("reach");
                assert!(r.stats.dense && r.nodes.len() > 1_000, "reach over ids: {:?}", r.stats);
                assert_eq!(r.nodes, poison_reach(&a), "reach backward={backward} (seed {seed})");
            }
        }
    }
}

/// A trace with thousands of edges and deposits: its edges' hashes and addresses are filled in
/// on two threads and its deposits' paths found on two threads. The edges equal the walk over
/// addresses' (which fills nothing in); the deposits are checked against the edges and nodes
/// directly: one per followed edge into an exchange or deposit address that is not a seed, in
/// edge order, each path running from a seed to that edge's receiver.
#[test]
fn wide_trace_fills_edges_and_finds_deposits_on_two_threads() {
    let seed = chaintrace_testkit::rng::seed_from_env("CHAINTRACE_SEED");
    let mut rng = chaintrace_testkit::rng::Rng::new(seed);
    let addr = |i: u32| {
        let mut b = [0u8; 20];
        b[16..].copy_from_slice(&i.to_be_bytes());
        b[0] = 7;
        Address::Evm(b)
    };
    const ADDRS: u32 = 3_000;
    let mut g = MemGraph::new("ethereum");
    for i in 0..30_000u32 {
        let height = u64::from(i / 40);
        g.add_transfer(Transfer {
            tx: Hash32({
                let mut h = [0u8; 32];
                h[28..].copy_from_slice(&i.to_be_bytes());
                h[0] = 9;
                h
            }),
            height,
            pos: Position { tx_index: i % 40, sub: 0 },
            time: 1_600_000_000 + height * 12,
            from: addr(rng.below(u64::from(ADDRS)) as u32),
            to: addr(rng.below(u64::from(ADDRS)) as u32),
            asset: Asset::Native,
            amount: U256::from(1 + rng.below(1_000)),
        });
    }
    for i in 0..300u32 {
        g.add_label(Label {
            chain: Some("ethereum".into()),
            address: addr(rng.below(u64::from(ADDRS)) as u32),
            category: if i % 4 == 0 { Category::Exchange } else { Category::ExchangeDeposit },
            entity: format!("exchange-{}", i % 5),
            source: "test".into(),
            confidence: 60,
            attrs: Default::default(),
        });
    }
    let general = g.clone().without_dense_view();
    let seeds: Vec<Address> = (0..400).map(|_| addr(rng.below(u64::from(ADDRS)) as u32)).collect();
    let mut o = TraceOptions::new(seeds.clone(), "ETH", 0);
    o.hops = 3;
    o.policy = Policy::Poison;
    o.hub_degree = 1_000;
    let d = trace(&g, &o).expect("dense walk");
    let a = trace(&general, &o).expect("walk over addresses");
    assert!(d.stats.dense && !a.stats.dense, "the two walks ran (seed {seed})");
    assert!(d.edges.len() >= 4_096, "a wide trace: {} edges (seed {seed})", d.edges.len());
    assert!(d.deposits.len() >= 512, "many deposits: {} (seed {seed})", d.deposits.len());
    assert_eq!(d.edges, a.edges, "edges (seed {seed})");
    assert_eq!(d.nodes, a.nodes, "nodes (seed {seed})");
    // the deposits from the edges and nodes alone
    let is_seed = |x: &Address| seeds.contains(x);
    let want: Vec<usize> = d
        .edges
        .iter()
        .enumerate()
        .filter(|(_, e)| e.followed && !is_seed(&e.transfer.to))
        .filter(|(_, e)| {
            d.node(&e.transfer.to).is_some_and(|n| {
                n.labels.iter().any(|l| matches!(l.category, Category::Exchange | Category::ExchangeDeposit))
            })
        })
        .map(|(i, _)| i)
        .collect();
    let got: Vec<usize> = d.deposits.iter().map(|x| x.edge).collect();
    assert_eq!(got, want, "deposit edges (seed {seed})");
    for x in &d.deposits {
        let e = &d.edges[x.edge];
        assert_eq!(x.path.last(), Some(&e.transfer.to), "path ends at the receiver (seed {seed})");
        assert_eq!(x.path.first(), Some(&x.seed), "path starts at its seed (seed {seed})");
        assert!(is_seed(&x.seed), "a seed (seed {seed})");
        assert_eq!(x.path.len(), e.hop as usize + 1, "a transfer per hop (seed {seed})");
        assert_eq!(x.hops, e.hop, "hops (seed {seed})");
    }
    assert_eq!(d.deposits, a.deposits, "deposits (seed {seed})");
}

/// A label making `a` an exchange deposit address on ethereum (a pool: not expanded).
fn exchange_deposit(a: u8) -> Label {
    Label {
        chain: Some("ethereum".into()),
        address: addr(a),
        category: Category::ExchangeDeposit,
        entity: "exchange".into(),
        source: "test".into(),
        confidence: 90,
        attrs: Default::default(),
    }
}

/// Transfers `(height, from, to, asset, amount)` (heights from 0: the chain's first key is
/// `(0, 0, 0)`), seeds, hops, hub degree, `--min-amount`, backward, pooling labels.
type Dense = (Vec<(u64, u8, u8, u8, u64)>, Vec<u8>, u32, u64, u64, bool, Vec<u8>);

/// Few addresses and many transfers: holdings reached again and again with different hop
/// counts (strata with several bits, later arrivals with more hops), transfers to oneself,
/// zero amounts, a seed's transfer at the chain's first key, two assets, hubs, pools.
fn dense_strategy() -> impl Strategy<Value = Dense> {
    (
        prop::collection::vec(
            (
                0u64..25,
                0u8..6,
                0u8..6,
                prop_oneof![4 => Just(0u8), 1 => Just(1u8)],
                prop_oneof![1 => Just(0u64), 6 => 1u64..50],
            ),
            5..120,
        ),
        prop::collection::vec(0u8..6, 1..3),
        1u32..9,
        prop_oneof![3 => Just(1_000u64), 1 => 4u64..20],
        prop_oneof![2 => Just(0u64), 1 => 1u64..30],
        any::<bool>(),
        prop::collection::vec(0u8..6, 0..2),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Poison's edges, built from the discovery's rows without a replay, equal the walk over
    /// addresses' (which replays every event through per-holding masks): every edge's strata,
    /// `followed` and order, the nodes and their roles, deposits and assets. Haircut and FIFO
    /// ride along (their discovery skips the last hop's reads).
    #[test]
    fn dense_poison_without_replay_equals_the_replay(
        (legs, seeds, hops, hub_degree, min_amount, backward, pools) in dense_strategy()
    ) {
        let mut g = MemGraph::new("ethereum");
        // keys sorted by height, one transfer per transaction: the first is the chain's
        // first key `(0, 0, 0)` when its height is 0
        let mut legs = legs;
        legs.sort_by_key(|l| l.0);
        let mut per_block = std::collections::BTreeMap::<u64, u32>::new();
        for (i, &(height, f, t, a, amount)) in legs.iter().enumerate() {
            let tx_index = per_block.entry(height).or_default();
            g.add_transfer(Transfer {
                tx: Hash32([i as u8 + 1; 32]),
                height,
                pos: Position { tx_index: *tx_index, sub: 0 },
                time: 1_600_000_000 + height * 12,
                from: addr(f),
                to: addr(t),
                asset: asset(a),
                amount: U256::from(amount),
            });
            *tx_index += 1;
        }
        for &p in &pools {
            g.add_label(exchange_deposit(p));
        }
        dense_equals_general(&g, &seeds, hops, &[Policy::Poison, Policy::Haircut, Policy::Fifo], hub_degree, min_amount, backward)?;
    }
}

/// A send carries every stratum that arrived strictly before it, not only the fewest hops: A
/// (the seed) pays B at block 1 (B holds stratum 1) and C at block 2; C pays B in block 3 (B
/// now holds strata 1 and 2, the second arriving later with more hops, which the discovery's
/// earliest arrivals do not keep). B's payment to D earlier in block 3 carries stratum 1
/// only; its later sends carry both, and a payment to itself adds stratum 3 to what it holds.
#[test]
fn poison_strata_include_later_arrivals_with_more_hops() {
    let mut g = MemGraph::new("ethereum");
    let (a, b, c, d) = (addr(1), addr(2), addr(3), addr(4));
    let legs = [
        (1, 0, &a, &b),
        (2, 0, &a, &c),
        (3, 1, &b, &d),
        (3, 2, &c, &b),
        (4, 0, &b, &d),
        (5, 0, &b, &b),
        (6, 0, &b, &d),
    ];
    for (i, &(height, tx_index, from, to)) in legs.iter().enumerate() {
        g.add_transfer(Transfer {
            tx: Hash32([i as u8 + 1; 32]),
            height,
            pos: Position { tx_index, sub: 0 },
            time: 1_600_000_000 + height * 12,
            from: from.clone(),
            to: to.clone(),
            asset: Asset::Native,
            amount: U256::from(10u8),
        });
    }
    let general = g.clone().without_dense_view();
    let mut o = TraceOptions::new(vec![a.clone()], "ETH", 0);
    o.hops = 6;
    o.policy = Policy::Poison;
    let dense = trace(&g, &o).expect("dense walk");
    let replayed = trace(&general, &o).expect("walk over addresses");
    assert!(dense.stats.dense && !replayed.stats.dense);
    assert_eq!(dense.edges, replayed.edges);
    assert_eq!(dense.nodes, replayed.nodes);
    let strata: Vec<(u64, u32, u64)> =
        dense.edges.iter().map(|e| (e.transfer.height, e.transfer.pos.tx_index, e.strata)).collect();
    assert_eq!(
        strata,
        vec![
            (1, 0, 0b10),    // A → B: stratum 1
            (2, 0, 0b10),    // A → C
            (3, 1, 0b100),   // B → D before C's payment: B holds stratum 1 only
            (3, 2, 0b100),   // C → B: stratum 2
            (4, 0, 0b1100),  // B → D: strata 2 and 3
            (5, 0, 0b1100),  // B → B: the same; B holds strata 1 to 3 after it
            (6, 0, 0b11100), // B → D: strata 2, 3 and 4
        ]
    );
}

/// A swap of [`SwapCase`]: `(height, owner, pool, asset in, amount in, asset out step, amount
/// out, then)`.
type Swap = (u64, u8, u8, u8, u64, u8, u64, Option<(u8, u8, u64)>);

/// A graph with swaps and bridge deposits: plain transactions `(height, legs)` as in [`Case`],
/// swaps `(height, owner, pool, asset in, amount in, asset out step, amount out, then)` — each
/// its own transaction, the owner's leg to the pool first (the conversion's key), the pool's
/// back second, and with `then = (pool, step, amount)` a second conversion in the same
/// transaction of what the first gave (two more legs) — and deposits `(height, owner, asset, amount)` into [`BRIDGE`] (no release: one chain).
#[derive(Clone, Debug)]
struct SwapCase {
    txs: Vec<(u64, Tx)>,
    swaps: Vec<Swap>,
    deposits: Vec<(u64, u8, u8, u64)>,
    /// The bridge contract is labelled an exchange (its deposits still are no exchange deposit).
    bridge_exchange: bool,
    /// Addresses labelled as exchange deposit addresses (pools: not expanded).
    pools: Vec<u8>,
    seeds: Vec<u8>,
    hops: u32,
    hub_degree: u64,
    min_amount: u64,
    since: Option<u64>,
    until: Option<u64>,
}

/// Few addresses, three assets, swaps by seeds and by the addresses traced funds reach (one
/// after another: what a swap gave swapped again), through pools that are labelled (not
/// expanded) or plain addresses the walk expands, zero and small amounts out, hubs, height
/// bounds.
fn swap_case_strategy() -> impl Strategy<Value = SwapCase> {
    (3u8..9).prop_flat_map(|n| {
        let leg = (0..n, 0..n, 0u8..3, prop_oneof![Just(0u64), 1u64..60]);
        let swap = (
            0u64..16,
            0..n,
            0..n + 2,
            0u8..3,
            1u64..60,
            1u8..3,
            prop_oneof![1 => Just(0u64), 6 => 1u64..90],
            prop::option::weighted(0.3, (0..n + 2, 1u8..3, 1u64..90)),
        );
        let deposit = (0u64..16, 0..n, 0u8..3, prop_oneof![1 => Just(0u64), 6 => 1u64..60]);
        (
            prop::collection::vec((0u64..16, prop::collection::vec(leg, 1..4)), 1..30),
            prop::collection::vec(swap, 1..12),
            (prop::collection::vec(deposit, 0..4), any::<bool>()),
            prop::collection::vec(0..n + 2, 0..2),
            prop::collection::vec(0..n, 1..3),
            1u32..7,
            prop_oneof![3 => Just(1_000u64), 1 => 3u64..12],
            prop_oneof![3 => Just(0u64), 1 => 1u64..9],
            prop::option::weighted(0.2, 0u64..8),
            prop::option::weighted(0.2, 8u64..16),
        )
            .prop_map(
                |(
                    txs,
                    swaps,
                    (deposits, bridge_exchange),
                    pools,
                    seeds,
                    hops,
                    hub_degree,
                    min_amount,
                    since,
                    until,
                )| SwapCase {
                    txs,
                    swaps,
                    deposits,
                    bridge_exchange,
                    pools,
                    seeds,
                    hops,
                    hub_degree,
                    min_amount,
                    since,
                    until,
                },
            )
    })
}

/// The bridge contract of [`SwapCase`]'s deposits.
const BRIDGE: u8 = 100;

fn swap_graph(c: &SwapCase) -> MemGraph {
    let mut g = MemGraph::new("ethereum");
    // (a flow's kind: `Some(true)` a swap, `Some(false)` a deposit)
    let mut txs: Vec<(u64, Tx, Option<bool>)> = c.txs.iter().map(|(h, legs)| (*h, legs.clone(), None)).collect();
    for &(h, owner, pool, ain, x, aout_step, y, then) in &c.swaps {
        // the pool is never the owner, the assets always differ
        let other = |pool: u8| if pool == owner { owner + 1 } else { pool };
        let aout = (ain + aout_step) % 3;
        let mut legs = vec![(owner, other(pool), ain, x), (other(pool), owner, aout, y)];
        if let Some((pool, step, y2)) = then {
            legs.extend([(owner, other(pool), aout, y), (other(pool), owner, (aout + step) % 3, y2)]);
        }
        txs.push((h, legs, Some(true)));
    }
    for &(h, owner, a, x) in &c.deposits {
        txs.push((h, vec![(owner, BRIDGE, a, x)], Some(false)));
    }
    // chain order: by height, the swaps among the plain transactions
    txs.sort_by_key(|(h, _, _)| *h);
    for (i, (height, legs, swap)) in txs.iter().enumerate() {
        let tx = Hash32([i as u8 + 1; 32]);
        for (sub, &(f, t, a, amount)) in legs.iter().enumerate() {
            g.add_transfer(Transfer {
                tx,
                height: *height,
                pos: Position { tx_index: i as u32, sub: sub as u32 },
                time: 1_600_000_000 + height * 12,
                from: addr(f),
                to: addr(t),
                asset: asset(a),
                amount: U256::from(amount),
            });
        }
        if *swap == Some(false) {
            let (owner, bridge, a, x) = legs[0];
            g.add_bridge_event(BridgeEvent {
                tx,
                height: *height,
                pos: Position { tx_index: i as u32, sub: 0 },
                time: 1_600_000_000 + height * 12,
                key: BridgeKey::cctp(0, i as u64),
                asset: asset(a),
                amount: U256::from(x),
                side: BridgeSide::Deposit { owner: addr(owner), recipient: vec![0; 32], dest_domain: Some(3) },
                contract: addr(bridge),
            });
        }
        if *swap == Some(true) {
            // a conversion per pair of legs, at its first leg
            for (k, pair) in legs.chunks(2).enumerate() {
                let ((owner, pool, ain, x), (_, _, aout, y)) = (pair[0], pair[1]);
                g.add_conversion(Conversion {
                    tx,
                    height: *height,
                    pos: Position { tx_index: i as u32, sub: 2 * k as u32 },
                    time: 1_600_000_000 + height * 12,
                    owner: addr(owner),
                    asset_in: asset(ain),
                    amount_in: U256::from(x),
                    asset_out: asset(aout),
                    amount_out: U256::from(y),
                    venue: Some(addr(pool)),
                    kind: ConversionKind::UniswapV2,
                });
            }
        }
    }
    let bridge = c.bridge_exchange.then_some(BRIDGE);
    for &p in c.pools.iter().chain(&bridge) {
        g.add_label(exchange_deposit(p));
    }
    g
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    /// Forward walks follow conversions and bridge deposits: the walk over ids reads those of
    /// the addresses it expands, masks their legs and replays them beside the transfers, and
    /// gives the walk over addresses' trace — swap and bridge edges, traced amounts, nodes (the
    /// bridge a `bridge` stop), deposits and assets — under every policy.
    #[test]
    fn dense_walk_through_swaps_equals_walk_over_addresses(c in swap_case_strategy()) {
        let g = swap_graph(&c);
        let general = g.clone().without_dense_view();
        for policy in [Policy::Poison, Policy::Haircut, Policy::Fifo] {
            let mut o = TraceOptions::new(c.seeds.iter().map(|&s| addr(s)).collect(), "ETH", 0);
            o.hops = c.hops;
            o.policy = policy;
            o.hub_degree = c.hub_degree;
            o.min_amount = (c.min_amount > 0).then(|| c.min_amount.to_string());
            o.since = c.since.map(Bound::Height);
            o.until = c.until.map(Bound::Height);
            let d = trace(&g, &o).expect("dense walk");
            let a = trace(&general, &o).expect("walk over addresses");
            prop_assert!(d.stats.dense && !a.stats.dense, "the two walks ran: {:?} / {:?}", d.stats, a.stats);
            same(&d, &a)?;
            // reach: the poison trace's nodes, whatever walk answers it
            let r = reach(&g, &o).expect("reach");
            let want = poison_reach(&trace(&general, &TraceOptions { policy: Policy::Poison, ..o.clone() }).expect("poison"));
            prop_assert_eq!(&r.nodes, &want);
        }
    }
}

/// A small chain of plain transactions `txs` (no swaps, deposits or labels), for a conversion
/// added by hand.
fn plain_chain(txs: Vec<(u64, Tx)>) -> MemGraph {
    swap_graph(&SwapCase {
        txs,
        swaps: vec![],
        deposits: vec![],
        bridge_exchange: false,
        pools: vec![],
        seeds: vec![],
        hops: 6,
        hub_degree: 1_000,
        min_amount: 0,
        since: None,
        until: None,
    })
}

/// Traces of `g` from `seeds` under every policy, which the walk over ids leaves to the walk
/// over addresses: the same edges, nodes and assets as without the dense view.
fn left_to_walk_over_addresses(g: &MemGraph, seeds: &[u8]) -> Vec<Trace> {
    let general = g.clone().without_dense_view();
    [Policy::Poison, Policy::Haircut, Policy::Fifo]
        .into_iter()
        .map(|policy| {
            let mut o = TraceOptions::new(seeds.iter().map(|&s| addr(s)).collect(), "ETH", 0);
            o.policy = policy;
            let d = trace(g, &o).expect("walk");
            let a = trace(&general, &o).expect("walk over addresses");
            assert!(!d.stats.dense, "{policy:?}: left to the walk over addresses");
            assert_eq!(d.edges, a.edges, "{policy:?}");
            assert_eq!(d.nodes, a.nodes, "{policy:?}");
            assert_eq!(d.assets, a.assets, "{policy:?}");
            d
        })
        .collect()
}

/// Where a conversion gives an asset no transfer of the chain moves (the view has no index for
/// it), the walk over ids gives up part-way and the walk over addresses answers, from scratch:
/// the same trace as without the view.
#[test]
fn a_conversion_into_an_asset_no_transfer_moves_is_walked_over_addresses() {
    let mut g = plain_chain(vec![(1, vec![(0, 1, 0, 50)]), (3, vec![(1, 2, 0, 20)])]);
    // 1 converts 30 of the native coin into a token that never moves in a transfer (its legs
    // are not recorded: an internal mint)
    let unseen = Asset::Token([0xee; 20]);
    g.add_conversion(Conversion {
        tx: Hash32([0x77; 32]),
        height: 2,
        pos: Position { tx_index: 0, sub: 0 },
        time: 1_600_000_024,
        owner: addr(1),
        asset_in: Asset::Native,
        amount_in: U256::from(30u8),
        asset_out: unseen,
        amount_out: U256::from(600u16),
        venue: None,
        kind: ConversionKind::UniswapV2,
    });
    for d in left_to_walk_over_addresses(&g, &[0]) {
        // the swap is there, into the unseen token
        assert!(d.edges.iter().any(|e| e.transfer.asset == unseen), "{:?}: {:?}", d.options.policy, d.edges);
    }
}

/// A seed with no transfer on the chain (no id in the view) that converts all the same (an
/// unwrap whose legs were not recorded): the walk over addresses follows its swap, and the walk
/// over ids leaves the trace to it.
#[test]
fn a_seed_that_only_converts_is_walked_over_addresses() {
    let mut g = plain_chain(vec![(1, vec![(1, 2, 0, 50)]), (3, vec![(2, 3, 0, 20)])]);
    g.add_conversion(Conversion {
        tx: Hash32([0x66; 32]),
        height: 2,
        pos: Position { tx_index: 0, sub: 0 },
        time: 1_600_000_024,
        owner: addr(9),
        asset_in: asset(1),
        amount_in: U256::from(30u8),
        asset_out: Asset::Native,
        amount_out: U256::from(3u8),
        venue: None,
        kind: ConversionKind::UniswapV2,
    });
    for d in left_to_walk_over_addresses(&g, &[1, 9]) {
        let policy = d.options.policy;
        assert!(d.edges.iter().any(|e| e.transfer.from == addr(9)), "{policy:?}: the seed's swap: {:?}", d.edges);
        // without the conversion's seed, the walk over ids runs
        let mut o = TraceOptions::new(vec![addr(1)], "ETH", 0);
        o.policy = policy;
        assert!(trace(&g, &o).expect("walk").stats.dense, "{policy:?}: the walk over ids ran");
    }
}

/// The chain's very first transfer (height 0, position 0/0) sits where the seeds' "before
/// everything" was: funds that arrive in it are followed on like any others, by every walk.
/// (The pass over the chain in time order found the walks missing them on the trace bench's
/// generated chain, whose first transfer's sender one seed set holds.)
#[test]
fn funds_that_arrive_in_the_chains_first_transfer_are_followed() {
    let mut g = MemGraph::new("ethereum");
    for (i, (h, f, t)) in [(0u64, 1u8, 2u8), (1, 2, 3), (2, 3, 4)].into_iter().enumerate() {
        g.add_transfer(Transfer {
            tx: Hash32([i as u8 + 1; 32]),
            height: h,
            pos: Position { tx_index: 0, sub: 0 },
            time: 1_600_000_000 + h * 12,
            from: addr(f),
            to: addr(t),
            asset: Asset::Native,
            amount: U256::from(5u8),
        });
    }
    // a chain 1 → 2 → 3 → 4, one hop each, the first at height 0, position 0/0
    let want: Vec<(Address, u32)> = (1..=4).map(|i| (addr(i), u32::from(i) - 1)).collect();
    let general = g.clone().without_dense_view();
    for policy in [Policy::Poison, Policy::Haircut, Policy::Fifo] {
        let mut o = TraceOptions::new(vec![addr(1)], "ETH", 18);
        o.policy = policy;
        assert_eq!(poison_reach(&trace(&general, &o).expect("walk over addresses")), want, "{policy:?}");
        assert_eq!(poison_reach(&trace(&g, &o).expect("walk over ids")), want, "{policy:?}");
    }
    let o = TraceOptions::new(vec![addr(1)], "ETH", 18);
    for by in [ReachBy::Lists, ReachBy::Chain, ReachBy::Auto] {
        assert_eq!(reach_by(&g, &o, by).expect("reach").nodes, want, "{by:?}");
    }
    // backward from the last receiver: the same chain, back to its first sender
    let mut o = TraceOptions::new(vec![addr(4)], "ETH", 18);
    o.direction = TraceDirection::Backward;
    let back: Vec<(Address, u32)> = (1..=4).map(|i| (addr(i), 4 - u32::from(i))).collect();
    assert_eq!(poison_reach(&trace(&general, &o).expect("walk over addresses")), back);
    assert_eq!(poison_reach(&trace(&g, &o).expect("walk over ids")), back);
    assert_eq!(reach_by(&g, &o, ReachBy::Chain).expect("reach").nodes, back);
}
