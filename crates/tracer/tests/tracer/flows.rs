//! Taint through conversions (swaps, wraps) and bridge crossings, and one walk over several
//! chains: hand-built cases with amounts worked out by hand, and property tests against a
//! brute-force reachability oracle extended with conversion edges.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chaintrace_model::{
    Address, Asset, BridgeEvent, BridgeKey, BridgeSide, Category, ChainKind, Conversion, ConversionKind, Hash32, Label,
    Position, Role, Transfer, U256,
};
use chaintrace_tracer::case::{case_file, summary_text, CaseContext, ChainCase};
use chaintrace_tracer::{
    trace, trace_chains, EdgeKind, MemGraph, Policy, PriceBook, Trace, TraceOptions, TracedEdge, WalkChain,
};
use proptest::prelude::*;
use ruint::aliases::U512;

const USDC: [u8; 20] = [0xcc; 20];
const POOL: u8 = 200;
const BRIDGE: u8 = 201;

fn a(i: u8) -> Address {
    Address::Evm([i; 20])
}

fn u(x: u64) -> U256 {
    U256::from(x)
}

fn tx(i: u32) -> Hash32 {
    let mut h = [0u8; 32];
    h[..4].copy_from_slice(&i.to_be_bytes());
    Hash32(h)
}

/// A chain under construction: transfers, conversions and bridge events with their legs.
struct G {
    g: MemGraph,
    next: u32,
}

impl G {
    fn new(name: &str) -> G {
        G { g: MemGraph::new(name), next: 0 }
    }

    fn time(height: u64) -> u64 {
        1_700_000_000 + height * 12
    }

    /// A plain transfer in its own transaction.
    fn t(&mut self, from: u8, to: u8, asset: Asset, amount: u64, height: u64) -> &mut Self {
        self.next += 1;
        let i = self.next;
        self.leg(i, 0, from, to, asset, amount, height);
        self
    }

    #[allow(clippy::too_many_arguments)]
    fn leg(&mut self, i: u32, sub: u32, from: u8, to: u8, asset: Asset, amount: u64, height: u64) {
        self.g.add_transfer(Transfer {
            tx: tx(i),
            height,
            pos: Position { tx_index: i, sub },
            time: G::time(height),
            from: a(from),
            to: a(to),
            asset,
            amount: u(amount),
        });
    }

    /// `owner` swaps `x` of `ain` for `y` of `aout` through the pool, legs included.
    #[allow(clippy::too_many_arguments)]
    fn swap(&mut self, owner: u8, ain: Asset, x: u64, aout: Asset, y: u64, height: u64) -> &mut Self {
        self.next += 1;
        let i = self.next;
        self.leg(i, 0, owner, POOL, ain, x, height);
        self.leg(i, 1, POOL, owner, aout, y, height);
        self.g.add_conversion(Conversion {
            tx: tx(i),
            height,
            pos: Position { tx_index: i, sub: 0 },
            time: G::time(height),
            owner: a(owner),
            asset_in: ain,
            amount_in: u(x),
            asset_out: aout,
            amount_out: u(y),
            venue: Some(a(POOL)),
            kind: ConversionKind::UniswapV2,
        });
        self
    }

    /// `owner` deposits `amount` of `asset` into the bridge under CCTP nonce `nonce`.
    fn deposit(&mut self, owner: u8, asset: Asset, amount: u64, nonce: u64, height: u64) -> &mut Self {
        self.next += 1;
        let i = self.next;
        self.leg(i, 0, owner, BRIDGE, asset, amount, height);
        self.g.add_bridge_event(BridgeEvent {
            tx: tx(i),
            height,
            pos: Position { tx_index: i, sub: 0 },
            time: G::time(height),
            key: BridgeKey::cctp(0, nonce),
            asset,
            amount: u(amount),
            side: BridgeSide::Deposit { owner: a(owner), recipient: vec![0; 32], dest_domain: Some(3) },
            contract: a(BRIDGE),
        });
        self
    }

    /// The release of nonce `nonce`: a mint from the zero address to `to`.
    fn release(&mut self, to: u8, asset: Asset, amount: u64, nonce: u64, height: u64) -> &mut Self {
        self.next += 1;
        let i = self.next;
        self.leg(i, 0, 0, to, asset, amount, height);
        self.g.add_bridge_event(BridgeEvent {
            tx: tx(i),
            height,
            pos: Position { tx_index: i, sub: 0 },
            time: G::time(height),
            key: BridgeKey::cctp(0, nonce),
            asset,
            amount: u(amount),
            side: BridgeSide::Release { recipient: a(to) },
            contract: a(BRIDGE + 1),
        });
        self
    }

    fn label(&mut self, i: u8, category: Category, entity: &str) -> &mut Self {
        self.g.add_label(Label {
            chain: None,
            address: a(i),
            category,
            entity: entity.into(),
            source: "test".into(),
            confidence: 90,
            attrs: Default::default(),
        });
        self
    }
}

fn opts(seeds: &[u8], policy: Policy) -> TraceOptions {
    let mut o = TraceOptions::new(seeds.iter().map(|&s| a(s)).collect(), "ETH", 18);
    o.policy = policy;
    o
}

fn usdc() -> Asset {
    Asset::Token(USDC)
}

fn swaps(t: &Trace) -> Vec<&TracedEdge> {
    t.edges.iter().filter(|e| matches!(e.kind, EdgeKind::Swap { .. })).collect()
}

/// Seed pays 1000 USDC to A; A swaps it for 0.5 ETH (as 500 wei here) through the pool; A pays
/// the exchange deposit D. Every policy follows the swap, the pool is never reached, and the
/// swap adds no hop (D is at hop 2).
#[test]
fn a_swap_carries_taint_to_the_other_asset_without_a_hop() {
    let mut g = G::new("ethereum");
    g.t(1, 2, usdc(), 1000, 10).swap(2, usdc(), 1000, Asset::Native, 500, 11).t(2, 9, Asset::Native, 500, 12);
    g.label(9, Category::ExchangeDeposit, "Binance");
    for policy in [Policy::Poison, Policy::Haircut, Policy::Fifo] {
        let t = trace(&g.g, &opts(&[1], policy)).unwrap();
        assert!(t.node(&a(POOL)).is_none(), "{policy}: the pool is not tainted by the swap's legs");
        let d = &t.deposits;
        assert_eq!(d.len(), 1, "{policy}: {:?}", t.edges);
        assert_eq!((t.edges[d[0].edge].traced, d[0].hops), (u(500), 2), "{policy}");
        assert_eq!(d[0].path, vec![a(1), a(2), a(9)], "{policy}: the path shows each address once");
        assert_eq!(t.node(&a(9)).unwrap().hop, 2);
        let s = swaps(&t);
        assert_eq!(s.len(), 1, "{policy}");
        assert_eq!((s[0].traced, s[0].hop), (u(500), 1), "{policy}");
        match &s[0].kind {
            EdgeKind::Swap { traced_in, conversion } => {
                assert_eq!((*traced_in, conversion.asset_in), (u(1000), usdc()));
            }
            k => panic!("{k:?}"),
        }
    }
}

/// A holds 600 clean and 400 traced USDC and swaps 700 for 333 wei. Haircut: traced in =
/// floor(700 × 400 / 1000) = 280, traced out = floor(333 × 280 / 700) = 133. FIFO (clean
/// first): the 700 leave as 600 clean then 100 traced; the traced run converts to
/// floor(100 × 333 / 700) = 47. Poison: all 333.
#[test]
fn swap_amounts_follow_the_integer_rules_of_each_policy() {
    let mut g = G::new("ethereum");
    g.t(5, 2, usdc(), 600, 9).t(1, 2, usdc(), 400, 10).swap(2, usdc(), 700, Asset::Native, 333, 11);
    g.t(2, 9, Asset::Native, 333, 12).label(9, Category::ExchangeDeposit, "Binance");
    for (policy, traced_in, traced_out) in
        [(Policy::Haircut, 280u64, 133u64), (Policy::Fifo, 100, 47), (Policy::Poison, 700, 333)]
    {
        let t = trace(&g.g, &opts(&[1], policy)).unwrap();
        let s = swaps(&t);
        assert_eq!(s.len(), 1, "{policy}");
        let EdgeKind::Swap { traced_in: got_in, .. } = &s[0].kind else { panic!() };
        assert_eq!((*got_in, s[0].traced), (u(traced_in), u(traced_out)), "{policy}");
        assert_eq!(t.edges[t.deposits[0].edge].traced, u(traced_out), "{policy}: the deposit gets the swap's output");
    }
}

/// Decoys around a swap: an unrelated user swaps through the same pool in the same block, and
/// funds arrive at A only after A's swap. Neither is traced.
#[test]
fn unrelated_swaps_and_later_arrivals_are_not_traced() {
    let mut g = G::new("ethereum");
    g.t(5, 2, usdc(), 1000, 9); // A's own clean money
    g.swap(2, usdc(), 1000, Asset::Native, 500, 10); // swapped before the traced funds arrive
    g.t(1, 2, usdc(), 300, 11); // traced funds arrive after the swap
    g.swap(6, usdc(), 50, Asset::Native, 25, 11); // unrelated user, same block, same pool
    g.t(2, 9, Asset::Native, 500, 12); // A's ETH to the exchange: it came from clean USDC
    g.t(6, 9, Asset::Native, 25, 12);
    g.label(9, Category::ExchangeDeposit, "Binance");
    for policy in [Policy::Poison, Policy::Haircut, Policy::Fifo] {
        let t = trace(&g.g, &opts(&[1], policy)).unwrap();
        assert!(swaps(&t).is_empty(), "{policy}: {:?}", t.edges);
        assert!(t.deposits.is_empty(), "{policy}");
        assert!(t.node(&a(6)).is_none() && t.node(&a(POOL)).is_none(), "{policy}");
    }
}

/// Two chains: the seed deposits 1000 USDC into CCTP on ethereum; the release mints 1000 to R
/// on arbitrum later; R pays the exchange deposit D there. A second deposit's release goes to
/// someone else's address (not traced further than that recipient), and a third has no
/// release at all (a `bridge` stop, named in the summary).
#[test]
fn bridge_crossings_carry_the_traced_share_to_the_other_chain() {
    let usdc_arb = Asset::Token([0xac; 20]);
    let mut eth = G::new("ethereum");
    eth.t(1, 2, usdc(), 1000, 10).deposit(2, usdc(), 1000, 7, 11);
    eth.t(1, 3, usdc(), 50, 12).deposit(3, usdc(), 50, 8, 13);
    let mut arb = G::new("arbitrum");
    arb.release(4, usdc_arb, 1000, 7, 500).t(4, 9, usdc_arb, 1000, 501).label(9, Category::ExchangeDeposit, "OKX");
    // a release before its deposit in time is not a release of it
    arb.release(6, usdc_arb, 50, 8, 1);
    arb.t(6, 9, usdc_arb, 50, 2);
    // the chains' clocks: ethereum block 11 is at +132 s, arbitrum block 500 at +6000 s
    let chains = [
        WalkChain {
            name: "ethereum".into(),
            kind: Some(ChainKind::Evm),
            source: &eth.g,
            native_symbol: "ETH".into(),
            native_decimals: 18,
        },
        WalkChain {
            name: "arbitrum".into(),
            kind: Some(ChainKind::Evm),
            source: &arb.g,
            native_symbol: "ETH".into(),
            native_decimals: 18,
        },
    ];
    for policy in [Policy::Poison, Policy::Haircut, Policy::Fifo] {
        let t = trace_chains(&chains, &opts(&[1], policy)).unwrap();
        // chains are indexed by name: arbitrum 0, ethereum 1
        assert_eq!(t.chains.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["arbitrum", "ethereum"]);
        assert_eq!(t.deposits.len(), 1, "{policy}: {:#?}", t.edges);
        let d = &t.deposits[0];
        let e = &t.edges[d.edge];
        assert_eq!((e.chain, e.transfer.to.clone(), e.traced, d.hops), (0, a(9), u(1000), 2), "{policy}");
        assert_eq!(d.path, vec![a(1), a(2), a(4), a(9)], "{policy}");
        // the seed is a seed on both chains
        assert_eq!(t.nodes[&(0, a(1))].role, Role::Seed);
        assert_eq!(t.nodes[&(1, a(1))].role, Role::Seed);
        assert_eq!(t.nodes[&(0, a(4))].hop, 1, "{policy}: the bridge adds no hop");
        assert!(!t.nodes.contains_key(&(0, a(6))), "{policy}: a release before the deposit is not its release");
        assert_eq!(t.nodes[&(1, a(BRIDGE))].role, Role::Bridge, "{policy}: unmatched deposit");
        let crossing = t.edges.iter().find(|e| matches!(e.kind, EdgeKind::Bridge { to_chain: Some(0), .. }));
        assert!(crossing.is_some_and(|c| c.chain == 1 && c.transfer.to == a(4)), "{policy}");

        let prices = PriceBook::new(None);
        let syms = BTreeMap::new();
        let ctx = CaseContext {
            chains: vec![
                ChainCase { name: "ethereum", evm: true, price_symbols: &syms },
                ChainCase { name: "arbitrum", evm: true, price_symbols: &syms },
            ],
            prices: &prices,
            provenance: Default::default(),
            seeds_label: None,
            since_text: None,
            until_text: None,
        };
        let case = case_file(&t, &ctx);
        assert_eq!(case.chain, "arbitrum,ethereum");
        assert_eq!(case.deposits[0].chain, "arbitrum");
        let b: Vec<_> = case.edges.iter().filter(|e| e.kind == chaintrace_model::EdgeKind::Bridge).collect();
        assert_eq!(b.len(), 2, "{policy}");
        assert!(b
            .iter()
            .any(|e| e.chain_from.as_deref() == Some("ethereum") && e.chain_to.as_deref() == Some("arbitrum")));
        assert!(b.iter().any(|e| e.chain_to.is_none() && e.to == a(BRIDGE).to_string()));
        let text = summary_text(&case);
        assert!(text.contains("unmatched bridge deposit") && text.contains("1 bridge"), "{text}");
        // written as its edges are rendered (`chaintrace trace --out`): the same bytes and summary
        crate::rules::assert_written_as_the_case_file(&t, &ctx);
        // the case reads back
        assert_eq!(chaintrace_model::CaseFile::from_json_str(&case.to_json()).unwrap(), case);
    }
}

// ---------------------------------------------------------------------------------------------
// Property tests: random graphs with swaps
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Step {
    /// (from, to, token?, amount)
    Transfer(u8, u8, bool, u64),
    /// (owner, token in?, amount in, amount out): token→native or native→token
    Swap(u8, bool, u64, u64),
}

#[derive(Clone, Debug)]
struct Case {
    /// (step, height); the chain-order key is (height, index).
    steps: Vec<(Step, u64)>,
    seeds: BTreeSet<u8>,
    deposit: Option<u8>,
    hops: u32,
}

fn asset_of(token: bool) -> Asset {
    if token {
        usdc()
    } else {
        Asset::Native
    }
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (3u8..7).prop_flat_map(|n| {
        let step = prop_oneof![
            3 => (0..n, 0..n, any::<bool>(), 1u64..200).prop_map(|(f, t, k, x)| Step::Transfer(f, t, k, x)),
            1 => (0..n, any::<bool>(), 1u64..300, 0u64..300).prop_map(|(o, k, x, y)| Step::Swap(o, k, x, y)),
        ];
        (
            prop::collection::vec((step, 1u64..10), 1..24),
            prop::collection::btree_set(0..n, 1..3),
            prop::option::of(0..n),
            1u32..5,
        )
            .prop_map(|(steps, seeds, deposit, hops)| {
                let deposit = deposit.filter(|d| !seeds.contains(d));
                Case { steps, seeds, deposit, hops }
            })
    })
}

fn build(c: &Case) -> MemGraph {
    let mut g = G::new("ethereum");
    for (i, (step, h)) in c.steps.iter().enumerate() {
        let i = i as u32 + 1;
        g.next = i;
        match *step {
            Step::Transfer(f, t, k, x) => g.leg(i, 0, f, t, asset_of(k), x, *h),
            Step::Swap(o, k, x, y) => {
                g.next = i - 1;
                g.swap(o, asset_of(k), x, asset_of(!k), y, *h);
            }
        }
    }
    if let Some(d) = c.deposit {
        g.label(d, Category::ExchangeDeposit, "Binance");
    }
    g.g
}

/// The key of a step (edge key of a transfer or a swap).
type Key = (u64, u32);

/// Brute force over every time-respecting path from a seed: a transfer step adds a hop and
/// moves to its receiver in the same asset; a swap by the holder of its input asset moves to
/// its output asset at the same address without a hop; the legs of a swap are never followed
/// as transfers; exchange deposit addresses and seeds are not walked through. Returns each
/// traced step's key with the fewest hops of the funds it carries.
fn reach_oracle(c: &Case) -> BTreeMap<Key, u32> {
    let mut best: BTreeMap<Key, u32> = BTreeMap::new();
    let steps: Vec<(Key, &Step)> = c.steps.iter().enumerate().map(|(i, (s, h))| ((*h, i as u32 + 1), s)).collect();
    // memo: (address, asset, after key, hops) already explored
    let mut seen: BTreeSet<(u8, bool, Key, u32)> = BTreeSet::new();
    #[allow(clippy::too_many_arguments)]
    fn walk(
        c: &Case,
        steps: &[(Key, &Step)],
        at: u8,
        tok: bool,
        after: Key,
        hops: u32,
        best: &mut BTreeMap<Key, u32>,
        seen: &mut BTreeSet<(u8, bool, Key, u32)>,
    ) {
        if !seen.insert((at, tok, after, hops)) {
            return;
        }
        for &(k, s) in steps {
            if k <= after {
                continue;
            }
            match *s {
                Step::Transfer(f, t, tk, x) if f == at && tk == tok && hops < c.hops && x > 0 => {
                    let b = best.entry(k).or_insert(u32::MAX);
                    *b = (*b).min(hops + 1);
                    if !c.seeds.contains(&t) && Some(t) != c.deposit {
                        walk(c, steps, t, tok, k, hops + 1, best, seen);
                    }
                }
                // a holding at the hop limit is a stop: nothing more is done with it
                Step::Swap(o, tk, _, y) if o == at && tk == tok && y > 0 && hops < c.hops => {
                    let b = best.entry(k).or_insert(u32::MAX);
                    *b = (*b).min(hops);
                    walk(c, steps, o, !tok, k, hops, best, seen);
                }
                _ => {}
            }
        }
    }
    for &s in &c.seeds {
        for tok in [false, true] {
            walk(c, &steps, s, tok, (0, 0), 0, &mut best, &mut seen);
        }
    }
    best
}

fn run(c: &Case, g: &MemGraph, policy: Policy) -> Trace {
    let mut o = opts(&c.seeds.iter().copied().collect::<Vec<_>>(), policy);
    o.hops = c.hops;
    o.hub_degree = 10_000;
    trace(g, &o).expect("trace over a memory graph")
}

fn edge_key(e: &TracedEdge) -> Key {
    (e.transfer.height, e.transfer.pos.tx_index)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, .. ProptestConfig::default() })]

    /// Conservation through conversions: every swap's traced output is at most its traced input
    /// at the pool's rate (haircut: exactly floor(Y × traced X / X)), and no holding sends
    /// more traced value than it received.
    #[test]
    fn traced_value_is_conserved_through_swaps(c in case_strategy()) {
        let g = build(&c);
        for policy in [Policy::Haircut, Policy::Fifo] {
            let t = run(&c, &g, policy);
            let mut held: HashMap<(Address, Asset), U256> = HashMap::new();
            let seeds: BTreeSet<Address> = c.seeds.iter().map(|&s| a(s)).collect();
            for e in &t.edges {
                match &e.kind {
                    EdgeKind::Swap { conversion: v, traced_in } => {
                        prop_assert!(*traced_in <= v.amount_in);
                        // traced out × X ≤ traced in × Y
                        let lhs = U512::from(e.traced) * U512::from(v.amount_in);
                        let rhs = U512::from(*traced_in) * U512::from(v.amount_out);
                        prop_assert!(lhs <= rhs, "{}: {} out of {} in at {}/{}", policy, e.traced, traced_in, v.amount_out, v.amount_in);
                        if policy == Policy::Haircut {
                            prop_assert_eq!(U512::from(e.traced), rhs / U512::from(v.amount_in));
                        }
                        if !seeds.contains(&v.owner) {
                            let h = held.entry((v.owner.clone(), v.asset_in)).or_default();
                            prop_assert!(*traced_in <= *h, "{}: swap of {} traced holding {}", policy, traced_in, h);
                            *h -= *traced_in;
                        }
                        if e.followed {
                            *held.entry((v.owner.clone(), v.asset_out)).or_default() += e.traced;
                        }
                    }
                    _ => {
                        let tr = &e.transfer;
                        prop_assert!(e.traced <= tr.amount);
                        if !seeds.contains(&tr.from) {
                            let h = held.entry((tr.from.clone(), tr.asset)).or_default();
                            prop_assert!(e.traced <= *h, "{}: {:?} sends {} holding {}", policy, tr.from, e.traced, h);
                            *h -= e.traced;
                        }
                        if e.followed {
                            *held.entry((tr.to.clone(), tr.asset)).or_default() += e.traced;
                        }
                    }
                }
            }
            // every policy traces a subset of poison, never at fewer hops
            let poison: BTreeMap<Key, u32> = run(&c, &g, Policy::Poison).edges.iter().map(|e| (edge_key(e), e.hop)).collect();
            for e in &t.edges {
                let p = poison.get(&edge_key(e));
                prop_assert!(p.is_some_and(|&p| p <= e.hop), "{}: edge {:?} hop {} vs poison {:?}", policy, edge_key(e), e.hop, p);
            }
        }
    }
}

/// Poison through swaps equals the brute-force reachability oracle extended with conversion
/// edges, edge by edge and hop by hop; and the generated graphs do exercise swaps (traced swaps,
/// swaps whose output reaches the deposit address) in a good share of the cases.
#[test]
fn poison_through_swaps_equals_reachability() {
    use proptest::test_runner::{Config, TestRunner};
    use std::cell::Cell;
    let (cases, swapped, deposited) = (Cell::new(0u32), Cell::new(0u32), Cell::new(0u32));
    let mut runner = TestRunner::new(Config { cases: 400, failure_persistence: None, ..Config::default() });
    let result = runner.run(&case_strategy(), |c| {
        let g = build(&c);
        let t = run(&c, &g, Policy::Poison);
        let got: BTreeMap<Key, u32> = t.edges.iter().map(|e| (edge_key(e), e.hop)).collect();
        prop_assert_eq!(got.len(), t.edges.len(), "one edge per step");
        prop_assert_eq!(&got, &reach_oracle(&c));
        prop_assert!(t.node(&a(POOL)).is_none(), "the pool is never reached through a swap's legs");
        cases.set(cases.get() + 1);
        if !swaps(&t).is_empty() {
            swapped.set(swapped.get() + 1);
            // a deposit paid out of a holding a swap fed
            let fed = |e: &TracedEdge| {
                swaps(&t).iter().any(|s| s.transfer.to == e.transfer.from && s.transfer.asset == e.transfer.asset)
            };
            if t.deposits.iter().any(|d| fed(&t.edges[d.edge])) {
                deposited.set(deposited.get() + 1);
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (n, s, d) = (cases.get(), swapped.get(), deposited.get());
    assert!(s * 4 >= n, "only {s} of {n} cases traced a swap");
    assert!(d * 100 >= n, "only {d} of {n} cases flagged a deposit right after a swap");
}

/// A bridge release straight into an exchange deposit address is a deposit on the release's
/// chain, with the released asset and traced amount (here 1000 deposited, 990 released:
/// haircut and fifo scale the traced 400 to floor(990 × 400 / 1000) = 396).
#[test]
fn a_bridge_release_into_an_exchange_is_a_deposit_on_the_other_chain() {
    let usdc_arb = Asset::Token([0xac; 20]);
    let mut eth = G::new("ethereum");
    eth.t(5, 2, usdc(), 600, 9).t(1, 2, usdc(), 400, 10).deposit(2, usdc(), 1000, 1, 11);
    let mut arb = G::new("arbitrum");
    arb.release(9, usdc_arb, 990, 1, 500).label(9, Category::ExchangeDeposit, "OKX");
    let chains = [
        WalkChain {
            name: "ethereum".into(),
            kind: None,
            source: &eth.g,
            native_symbol: "ETH".into(),
            native_decimals: 18,
        },
        WalkChain {
            name: "arbitrum".into(),
            kind: None,
            source: &arb.g,
            native_symbol: "ETH".into(),
            native_decimals: 18,
        },
    ];
    for (policy, want) in [(Policy::Poison, 990u64), (Policy::Haircut, 396), (Policy::Fifo, 396)] {
        let t = trace_chains(&chains, &opts(&[1], policy)).unwrap();
        assert_eq!(t.deposits.len(), 1, "{policy}: {:#?}", t.edges);
        let e = &t.edges[t.deposits[0].edge];
        let EdgeKind::Bridge { to_chain: Some(0), release: Some(r), traced_out } = &e.kind else { panic!("{e:?}") };
        assert_eq!((*traced_out, r.asset), (u(want), usdc_arb), "{policy}");
        assert_eq!(t.nodes[&(0, a(9))].role, Role::ExchangeDeposit);
        let prices = PriceBook::new(None);
        let syms = BTreeMap::new();
        let ctx = CaseContext {
            chains: vec![
                ChainCase { name: "ethereum", evm: true, price_symbols: &syms },
                ChainCase { name: "arbitrum", evm: true, price_symbols: &syms },
            ],
            prices: &prices,
            provenance: Default::default(),
            seeds_label: None,
            since_text: None,
            until_text: None,
        };
        let case = case_file(&t, &ctx);
        let d = &case.deposits[0];
        assert_eq!(
            (d.chain.as_str(), d.amount.as_str(), d.asset.as_str()),
            ("arbitrum", want.to_string().as_str(), "0xacacacacacacacacacacacacacacacacacacacac")
        );
    }
}

/// Odd flows never panic and never trace more than arrived: conversions with zero amounts or
/// the same asset on both sides, bridge events whose keys repeat, releases before their
/// deposits or with nothing to release, seeds on both chains, every policy.
#[test]
fn odd_swaps_and_bridges_never_panic_and_conserve() {
    use proptest::test_runner::{Config, TestRunner};
    let step = (0u8..5, 0u8..5, 0u8..4, 0u64..50, 0u64..50, 1u64..8, 0u64..4, any::<bool>());
    let strategy = (prop::collection::vec(step, 1..30), 0u8..5, 1u32..4);
    let mut runner = TestRunner::new(Config { cases: 300, failure_persistence: None, ..Config::default() });
    let result = runner.run(&strategy, |(steps, seed, hops)| {
        let mut eth = G::new("ethereum");
        let mut arb = G::new("arbitrum");
        for (f, t, kind, x, y, h, nonce, on_eth) in steps {
            let g = if on_eth { &mut eth } else { &mut arb };
            let asset = if x % 2 == 0 { usdc() } else { Asset::Native };
            match kind {
                0 => {
                    g.t(f, t, asset, x, h);
                }
                1 => {
                    let out = if y % 3 == 0 {
                        asset
                    } else if asset == Asset::Native {
                        usdc()
                    } else {
                        Asset::Native
                    };
                    g.swap(f, asset, x, out, y, h);
                }
                2 => {
                    g.deposit(f, asset, x, nonce, h);
                }
                _ => {
                    g.release(t, asset, y, nonce, h);
                }
            }
        }
        let chains = [
            WalkChain {
                name: "ethereum".into(),
                kind: Some(ChainKind::Evm),
                source: &eth.g,
                native_symbol: "ETH".into(),
                native_decimals: 0,
            },
            WalkChain {
                name: "arbitrum".into(),
                kind: Some(ChainKind::Evm),
                source: &arb.g,
                native_symbol: "ETH".into(),
                native_decimals: 0,
            },
        ];
        for policy in [Policy::Poison, Policy::Haircut, Policy::Fifo] {
            let mut o = opts(&[seed], policy);
            o.hops = hops;
            let t = trace_chains(&chains, &o).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for e in &t.edges {
                match &e.kind {
                    EdgeKind::Swap { conversion, traced_in } => {
                        prop_assert!(*traced_in <= conversion.amount_in && e.traced <= conversion.amount_out);
                    }
                    EdgeKind::Bridge { release, traced_out, .. } => {
                        prop_assert!(e.traced <= e.transfer.amount);
                        if let Some(r) = release {
                            prop_assert!(*traced_out <= r.amount);
                            // the walk orders chains by time first: a release is never earlier
                            prop_assert!(r.time >= e.transfer.time, "a release before its deposit");
                        }
                    }
                    EdgeKind::Transfer => prop_assert!(e.traced <= e.transfer.amount),
                }
                prop_assert!(e.hop <= hops);
            }
            for d in &t.deposits {
                prop_assert!(d.hops <= hops);
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
