//! Property tests of the walk over random small in-memory graphs, against naive oracles.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use chaintrace_model::{Address, Asset, Category, Hash32, Label, Position, Role, Transfer, U256};
use chaintrace_tracer::{trace, MemGraph, Policy, Trace, TraceOptions};
use proptest::prelude::*;

const TOKEN: [u8; 20] = [0xee; 20];

fn addr(i: u8) -> Address {
    Address::Evm([i; 20])
}

#[derive(Clone, Debug)]
struct Case {
    n_addr: u8,
    /// (from, to, token?, amount, height)
    transfers: Vec<(u8, u8, bool, u64, u64)>,
    seeds: Vec<u8>,
    deposit: Option<u8>,
    hops: u32,
    hub_degree: u64,
    min_amount: u64,
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (3u8..8).prop_flat_map(|n| {
        (
            Just(n),
            prop::collection::vec((0..n, 0..n, prop::bool::weighted(0.25), 0u64..40, 1u64..12), 1..24),
            prop::collection::vec(0..n, 1..3),
            prop::option::of(0..n),
            1u32..5,
            3u64..12,
            prop_oneof![Just(0u64), 1u64..6],
        )
            .prop_map(|(n_addr, transfers, seeds, deposit, hops, hub_degree, min_amount)| Case {
                n_addr,
                transfers,
                seeds,
                deposit,
                hops,
                hub_degree,
                min_amount,
            })
    })
}

fn build(c: &Case) -> (MemGraph, Vec<Transfer>) {
    let mut g = MemGraph::new("ethereum");
    let mut ts = Vec::new();
    for (i, &(f, t, tok, amount, height)) in c.transfers.iter().enumerate() {
        let tr = Transfer {
            tx: Hash32([i as u8; 32]),
            height,
            pos: Position { tx_index: i as u32, sub: 0 },
            time: 1_600_000_000 + height * 12,
            from: addr(f),
            to: addr(t),
            asset: if tok { Asset::Token(TOKEN) } else { Asset::Native },
            amount: U256::from(amount),
        };
        g.add_transfer(tr.clone());
        ts.push(tr);
    }
    if let Some(d) = c.deposit {
        g.add_label(Label {
            chain: None,
            address: addr(d),
            category: Category::ExchangeDeposit,
            entity: "Binance".into(),
            source: "test".into(),
            confidence: 90,
            attrs: Default::default(),
        });
    }
    ts.sort_by_key(|t| t.order());
    (g, ts)
}

fn run(c: &Case, g: &MemGraph, policy: Policy) -> Trace {
    let mut o = TraceOptions::new(c.seeds.iter().map(|&s| addr(s)).collect(), "ETH", 0);
    o.hops = c.hops;
    o.policy = policy;
    o.hub_degree = c.hub_degree;
    if c.min_amount > 0 {
        o.min_amount = Some(c.min_amount.to_string());
    }
    trace(g, &o).expect("trace over a memory graph")
}

/// Addresses the walk must not pass through: labelled pooling addresses and unlabelled hubs.
fn blocked(c: &Case, ts: &[Transfer]) -> BTreeSet<Address> {
    let mut outd: HashMap<Address, u64> = HashMap::new();
    let mut ind: HashMap<Address, u64> = HashMap::new();
    for t in ts {
        *outd.entry(t.from.clone()).or_default() += 1;
        *ind.entry(t.to.clone()).or_default() += 1;
    }
    let seeds: BTreeSet<Address> = c.seeds.iter().map(|&s| addr(s)).collect();
    (0..c.n_addr)
        .map(addr)
        .filter(|a| !seeds.contains(a))
        .filter(|a| {
            Some(a) == c.deposit.map(addr).as_ref()
                || outd.get(a).copied().unwrap_or(0) > c.hub_degree
                || ind.get(a).copied().unwrap_or(0) > c.hub_degree
        })
        .collect()
}

/// Brute force: every time-respecting single-asset path of at most N transfers from a seed,
/// passing only through non-blocked addresses and only along transfers of at least the minimum.
/// Returns edge key -> fewest transfers on such a path.
fn poison_oracle(c: &Case, ts: &[Transfer]) -> BTreeMap<(u64, Position), u32> {
    let seeds: BTreeSet<Address> = c.seeds.iter().map(|&s| addr(s)).collect();
    let blocked = blocked(c, ts);
    let min = U256::from(c.min_amount);
    let mut best: BTreeMap<(u64, Position), u32> = BTreeMap::new();
    // DFS over (index of last edge, length)
    #[allow(clippy::too_many_arguments)]
    fn dfs(
        ts: &[Transfer],
        last: usize,
        len: u32,
        c: &Case,
        seeds: &BTreeSet<Address>,
        blocked: &BTreeSet<Address>,
        min: U256,
        best: &mut BTreeMap<(u64, Position), u32>,
    ) {
        let e = &ts[last];
        let b = best.entry(e.order()).or_insert(u32::MAX);
        *b = (*b).min(len);
        // continue only from followed edges into expandable, non-seed addresses
        if len >= c.hops || e.amount < min || blocked.contains(&e.to) || seeds.contains(&e.to) {
            return;
        }
        for (j, n) in ts.iter().enumerate() {
            if n.from == e.to && n.asset == e.asset && n.order() > e.order() && !n.amount.is_zero() {
                dfs(ts, j, len + 1, c, seeds, blocked, min, best);
            }
        }
    }
    for (i, t) in ts.iter().enumerate() {
        if seeds.contains(&t.from) && !t.amount.is_zero() {
            dfs(ts, i, 1, c, &seeds, &blocked, min, &mut best);
        }
    }
    best
}

fn edge_map(tr: &Trace) -> BTreeMap<(u64, Position), (u32, U256, bool)> {
    tr.edges.iter().map(|e| (e.transfer.order(), (e.hop, e.traced, e.followed))).collect()
}

/// Traced value never leaves an address faster than it arrived (to the base unit).
fn check_conservation(tr: &Trace, seeds: &BTreeSet<Address>) -> Result<(), TestCaseError> {
    let mut held: HashMap<(Address, Asset), U256> = HashMap::new();
    for e in &tr.edges {
        let t = &e.transfer;
        prop_assert!(e.traced <= t.amount, "traced {} > amount {}", e.traced, t.amount);
        if !seeds.contains(&t.from) {
            let h = held.entry((t.from.clone(), t.asset)).or_default();
            prop_assert!(e.traced <= *h, "{:?} sends {} traced holding {}", t.from, e.traced, h);
            *h -= e.traced;
        }
        if e.followed {
            *held.entry((t.to.clone(), t.asset)).or_default() += e.traced;
        }
    }
    Ok(())
}

/// Unit-level FIFO oracle: every base unit is a coin in a per-address queue.
fn fifo_oracle(c: &Case, ts: &[Transfer]) -> BTreeMap<(u64, Position), (u32, U256)> {
    let seeds: BTreeSet<Address> = c.seeds.iter().map(|&s| addr(s)).collect();
    let blocked = blocked(c, ts);
    let min = c.min_amount;
    let mut queues: HashMap<(Address, Asset), VecDeque<Option<u32>>> = HashMap::new();
    let mut out = BTreeMap::new();
    for t in ts {
        let amount = t.amount.to::<u64>();
        let coins: Vec<Option<u32>> = if seeds.contains(&t.from) {
            vec![Some(0); amount as usize]
        } else {
            let q = queues.entry((t.from.clone(), t.asset)).or_default();
            while (q.len() as u64) < amount {
                q.push_front(None);
            }
            let taken: Vec<Option<u32>> = q.drain(..amount as usize).collect();
            if blocked.contains(&t.from) {
                vec![None; amount as usize]
            } else {
                taken
            }
        };
        let coins: Vec<Option<u32>> = coins.into_iter().map(|s| s.filter(|&s| s < c.hops).map(|s| s + 1)).collect();
        let traced = coins.iter().filter(|s| s.is_some()).count() as u64;
        let coins = if traced > 0 {
            let hop = coins.iter().flatten().copied().min().unwrap_or(0);
            out.insert(t.order(), (hop, U256::from(traced)));
            if traced < min {
                vec![None; amount as usize]
            } else {
                coins
            }
        } else {
            coins
        };
        if !seeds.contains(&t.to) {
            queues.entry((t.to.clone(), t.asset)).or_default().extend(coins);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn poison_equals_time_respecting_reachability(c in case_strategy()) {
        let (g, ts) = build(&c);
        let tr = run(&c, &g, Policy::Poison);
        let oracle = poison_oracle(&c, &ts);
        let got: BTreeMap<(u64, Position), u32> = edge_map(&tr).into_iter().map(|(k, (h, _, _))| (k, h)).collect();
        prop_assert_eq!(&got, &oracle);
        for e in &tr.edges {
            prop_assert_eq!(e.traced, e.transfer.amount);
            prop_assert_eq!(e.followed, e.transfer.amount >= U256::from(c.min_amount));
        }
        // node hops: fewest transfers on any traced path
        let seeds: BTreeSet<Address> = c.seeds.iter().map(|&s| addr(s)).collect();
        let mut hops: BTreeMap<Address, u32> = seeds.iter().map(|s| (s.clone(), 0)).collect();
        for t in &ts {
            if let Some(&h) = oracle.get(&t.order()) {
                if !seeds.contains(&t.to) {
                    let e = hops.entry(t.to.clone()).or_insert(h);
                    *e = (*e).min(h);
                }
            }
        }
        let got_hops: BTreeMap<Address, u32> = tr.nodes.iter().map(|((_, a), n)| (a.clone(), n.hop)).collect();
        prop_assert_eq!(got_hops, hops);
        // every traced arrival at the deposit address is flagged, nothing else
        let dep = c.deposit.map(addr);
        let expect: Vec<(u64, Position)> = tr.edges.iter()
            .filter(|e| e.followed && Some(&e.transfer.to) == dep.as_ref() && !seeds.contains(&e.transfer.to))
            .map(|e| e.transfer.order()).collect();
        let flagged: Vec<(u64, Position)> = tr.deposits.iter().map(|d| tr.edges[d.edge].transfer.order()).collect();
        prop_assert_eq!(flagged, expect);
        for d in &tr.deposits {
            prop_assert_eq!(d.path.len() as u32, d.hops + 1, "path {:?}", d.path);
            prop_assert!(seeds.contains(&d.path[0]));
            prop_assert_eq!(tr.node(&tr.edges[d.edge].transfer.to).unwrap().role, Role::ExchangeDeposit);
        }
    }

    #[test]
    fn haircut_conserves_value(c in case_strategy()) {
        let (g, _) = build(&c);
        let seeds: BTreeSet<Address> = c.seeds.iter().map(|&s| addr(s)).collect();
        let hair = run(&c, &g, Policy::Haircut);
        check_conservation(&hair, &seeds)?;
        // haircut traces a subset of poison, never at fewer hops
        let poison = edge_map(&run(&c, &g, Policy::Poison));
        for (k, (h, _, _)) in edge_map(&hair) {
            let p = poison.get(&k);
            prop_assert!(p.is_some_and(|p| p.0 <= h), "edge {:?} hop {} vs poison {:?}", k, h, p);
        }
    }

    #[test]
    fn fifo_matches_unit_queue_oracle(c in case_strategy()) {
        let (g, ts) = build(&c);
        let seeds: BTreeSet<Address> = c.seeds.iter().map(|&s| addr(s)).collect();
        let fifo = run(&c, &g, Policy::Fifo);
        check_conservation(&fifo, &seeds)?;
        let got: BTreeMap<(u64, Position), (u32, U256)> =
            edge_map(&fifo).into_iter().map(|(k, (h, t, _))| (k, (h, t))).collect();
        prop_assert_eq!(got, fifo_oracle(&c, &ts));
    }

    #[test]
    fn same_input_same_result(c in case_strategy()) {
        let (g, _) = build(&c);
        for p in [Policy::Poison, Policy::Haircut, Policy::Fifo] {
            let a = run(&c, &g, p);
            let b = run(&c, &g, p);
            prop_assert_eq!(a.edges, b.edges);
            prop_assert_eq!(a.nodes, b.nodes);
            prop_assert_eq!(a.deposits, b.deposits);
        }
    }
}
