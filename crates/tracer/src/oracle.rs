//! Oracles for the taint amounts, written from SPEC "Tracing rules" and the documented integer
//! rule, not from the engine's code.
//!
//! 1. **Haircut over random graphs.** An independent replay of every transfer in chain order that
//!    keeps, per `(address, asset)`, the balance and — for every `k` — the traced funds that have
//!    travelled at most `k` transfers from a seed (`within[k]`). A transfer of `amount` out of an
//!    address with balance `b` carries `floor(amount × within[k] / b)` of them, for every `k`
//!    (the documented rule `floor(amount × tainted / balance)`, remainder kept, applied to "the
//!    traced funds a path of the remaining hops may still follow"); what left within `N - 1`
//!    transfers is the edge's traced amount, since `--hops N` follows paths of at most `N`
//!    transfers. A shortfall against the loaded history is an untraced opening balance. Every
//!    edge and every deposit the engine reports is compared to the base unit, and no edge the
//!    oracle traces may be missing.
//! 2. **A real Bitcoin case** (mainnet block 277647 and its spent outputs): poison, haircut and
//!    FIFO amounts of the outputs of a two-transaction chain, computed from the raw prevout
//!    values and decoded outputs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use chaintrace_model::{Address, Asset, Category, Hash32, Label, Position, Transfer, UtxoOutput, U256};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::{trace, MemGraph, Policy, Trace, TraceOptions};

// ---------------------------------------------------------------------------------------------
// 1. Haircut over random graphs
// ---------------------------------------------------------------------------------------------

const TOKEN: [u8; 20] = [0xee; 20];

fn addr(i: u8) -> Address {
    Address::Evm([i; 20])
}

/// A random graph and the trace to run over it.
#[derive(Clone, Debug)]
struct Case {
    /// (from, to, token?, amount, height); the chain-order key is (height, index, 0).
    transfers: Vec<(u8, u8, bool, u64, u64)>,
    seeds: BTreeSet<u8>,
    /// Exchange-deposit (`true`) or exchange (`false`) labels on non-seed addresses: stops.
    labels: BTreeMap<u8, bool>,
    hops: u32,
    /// Base units (both assets have 0 decimals here); 0 means no `--min-amount`.
    min_amount: u64,
}

fn amount() -> impl Strategy<Value = u64> {
    // mostly small (rounding matters), sometimes huge (the 512-bit products), rarely zero
    prop_oneof![8 => 1u64..1_000, 1 => 1u64..(1u64 << 60), 1 => Just(0u64)]
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (3u8..8).prop_flat_map(|n| {
        (
            Just(n),
            prop::collection::vec((0..n, 0..n, prop::bool::weighted(0.3), amount(), 1u64..10), 1..28),
            prop::collection::btree_set(0..n, 1..3),
            prop::collection::btree_map(0..n, any::<bool>(), 0..3),
            1u32..5,
            prop_oneof![3 => Just(0u64), 1 => 1u64..40],
        )
            .prop_map(|(_, transfers, seeds, mut labels, hops, min_amount)| {
                labels.retain(|a, _| !seeds.contains(a));
                Case { transfers, seeds, labels, hops, min_amount }
            })
    })
}

fn asset_of(token: bool) -> Asset {
    if token {
        Asset::Token(TOKEN)
    } else {
        Asset::Native
    }
}

fn build(c: &Case) -> MemGraph {
    let mut g = MemGraph::new("ethereum");
    for (i, &(f, t, tok, amount, height)) in c.transfers.iter().enumerate() {
        g.add_transfer(Transfer {
            tx: Hash32([i as u8; 32]),
            height,
            pos: Position { tx_index: i as u32, sub: 0 },
            time: 1_600_000_000 + height * 12,
            from: addr(f),
            to: addr(t),
            asset: asset_of(tok),
            amount: U256::from(amount),
        });
    }
    for (&a, &deposit) in &c.labels {
        g.add_label(Label {
            chain: None,
            address: addr(a),
            category: if deposit { Category::ExchangeDeposit } else { Category::Exchange },
            entity: format!("Exchange{a}"),
            source: "oracle".into(),
            confidence: 90,
            attrs: Default::default(),
        });
    }
    g
}

fn run(c: &Case, g: &MemGraph, policy: Policy) -> Trace {
    let mut o = TraceOptions::new(c.seeds.iter().map(|&s| addr(s)).collect(), "ETH", 0);
    o.hops = c.hops;
    o.policy = policy;
    if c.min_amount > 0 {
        o.min_amount = Some(c.min_amount.to_string());
    }
    trace(g, &o).expect("trace over a memory graph")
}

/// What the oracle says about one transfer that carries traced funds.
#[derive(Clone, Debug, PartialEq, Eq)]
struct OracleEdge {
    traced: u128,
    /// Fewest transfers from a seed of the traced funds it carries.
    hop: u32,
    /// Bit `h` set when some of its traced funds travelled exactly `h` transfers.
    strata: u64,
    /// `traced ≥ --min-amount`: the funds are followed beyond the receiver.
    followed: bool,
}

/// Figures of one oracle run, for the non-vacuity counters.
#[derive(Default)]
struct Shape {
    /// Some haircut share was not a whole number (the floor rule mattered).
    rounded: bool,
    /// Some sender mixed traced and untraced funds (0 < traced < amount).
    diluted: bool,
    /// Some traced funds were at the hop limit when they left (cut by `--hops`).
    hop_cut: bool,
}

/// The independent haircut replay. Returns the traced edges by chain-order key, the deposits
/// (key of the edge, traced amount, hops, exchange), node hops, and the shape of the run.
#[allow(clippy::type_complexity)]
fn haircut_oracle(
    c: &Case,
) -> (BTreeMap<(u64, u32), OracleEdge>, Vec<((u64, u32), u128, u32, String)>, BTreeMap<u8, u32>, Shape) {
    let n = c.hops as usize;
    // per (address, token?): balance and within[k] = traced funds that travelled ≤ k transfers
    // (k = 0..=N; within is non-decreasing in k)
    let mut held: HashMap<(u8, bool), (u128, Vec<u128>)> = HashMap::new();
    let mut order: Vec<usize> = (0..c.transfers.len()).collect();
    order.sort_by_key(|&i| (c.transfers[i].4, i));
    let mut edges = BTreeMap::new();
    let mut deposits = Vec::new();
    let mut hops: BTreeMap<u8, u32> = BTreeMap::new();
    let mut shape = Shape::default();
    for i in order {
        let (from, to, tok, amount, height) = c.transfers[i];
        let a = u128::from(amount);
        // left[k]: traced funds leaving that had travelled ≤ k transfers before this one
        let left: Vec<u128> = if c.seeds.contains(&from) {
            // a seed holds only traced funds (travelled 0 transfers)
            vec![a; n + 1]
        } else if c.labels.contains_key(&from) {
            // an exchange or deposit address is a stop: nothing is followed out of it
            vec![0; n + 1]
        } else {
            let (balance, within) = held.entry((from, tok)).or_insert_with(|| (0, vec![0; n + 1]));
            // more leaves than the loaded history holds: the difference was there first, untraced
            if a > *balance {
                *balance = a;
            }
            let b = *balance;
            let left: Vec<u128> = within.iter().map(|w| (a * w).checked_div(b).unwrap_or(0)).collect();
            if b > 0 && within.iter().any(|w| a * w % b != 0) {
                shape.rounded = true;
            }
            for (w, l) in within.iter_mut().zip(&left) {
                *w -= l;
            }
            *balance -= a;
            left
        };
        // with this transfer every k becomes k + 1; funds that had travelled N are not followed
        let traced = left[n - 1];
        if left[n] > left[n - 1] {
            shape.hop_cut = true;
        }
        let mut followed = false;
        if traced > 0 {
            if traced < a {
                shape.diluted = true;
            }
            // stratum h (travelled exactly h transfers after this one): left[h-1] - left[h-2]
            let mut strata = 0u64;
            for h in 1..=n {
                let below = if h >= 2 { left[h - 2] } else { 0 };
                if left[h - 1] > below {
                    strata |= 1 << h;
                }
            }
            followed = traced >= u128::from(c.min_amount);
            let hop = strata.trailing_zeros();
            edges.insert((height, i as u32), OracleEdge { traced, hop, strata, followed });
            if !c.seeds.contains(&to) {
                let e = hops.entry(to).or_insert(hop);
                *e = (*e).min(hop);
                if followed && c.labels.contains_key(&to) {
                    deposits.push(((height, i as u32), traced, hop, format!("Exchange{to}")));
                }
            }
        }
        if !c.seeds.contains(&to) {
            let (balance, within) = held.entry((to, tok)).or_insert_with(|| (0, vec![0; n + 1]));
            *balance += a;
            if followed {
                for k in 1..=n {
                    within[k] += left[k - 1];
                }
            }
        }
    }
    (edges, deposits, hops, shape)
}

fn u(x: U256) -> u128 {
    u128::try_from(x).expect("amounts in these graphs fit in 128 bits")
}

/// Compare one case; returns the oracle's shape on success.
fn check_haircut(c: &Case) -> Result<Shape, TestCaseError> {
    let g = build(c);
    let tr = run(c, &g, Policy::Haircut);
    let (want, want_deposits, want_hops, shape) = haircut_oracle(c);

    let got: BTreeMap<(u64, u32), OracleEdge> = tr
        .edges
        .iter()
        .map(|e| {
            let k = (e.transfer.height, e.transfer.pos.tx_index);
            (k, OracleEdge { traced: u(e.traced), hop: e.hop, strata: e.strata, followed: e.followed })
        })
        .collect();
    prop_assert_eq!(got.len(), tr.edges.len(), "one edge per transfer");
    for (k, w) in &want {
        prop_assert_eq!(got.get(k), Some(w), "edge {:?} (height, index): engine vs oracle", k);
    }
    for (k, e) in &got {
        prop_assert!(want.contains_key(k), "engine traces edge {:?} = {:?}, the oracle traces nothing there", k, e);
    }

    let got_deposits: Vec<((u64, u32), u128, u32, String)> = tr
        .deposits
        .iter()
        .map(|d| {
            let e = &tr.edges[d.edge];
            ((e.transfer.height, e.transfer.pos.tx_index), u(e.traced), d.hops, d.exchange.clone())
        })
        .collect();
    prop_assert_eq!(&got_deposits, &want_deposits, "deposits (edge key, amount, hops, exchange)");
    for d in &tr.deposits {
        let seeds: BTreeSet<Address> = c.seeds.iter().map(|&s| addr(s)).collect();
        prop_assert!(seeds.contains(&d.seed), "deposit seed {} is not a seed", d.seed);
        prop_assert_eq!(d.path.first(), Some(&d.seed));
        prop_assert_eq!(d.path.last(), Some(&tr.edges[d.edge].transfer.to));
        prop_assert_eq!(d.path.len() as u32, d.hops + 1, "a path of `hops` transfers");
    }

    for (a, h) in &want_hops {
        let node = tr.node(&addr(*a));
        prop_assert_eq!(node.map(|n| n.hop), Some(*h), "hop of node {}", a);
    }
    prop_assert_eq!(tr.nodes.len(), want_hops.len() + c.seeds.len(), "nodes: the seeds and every receiver");
    Ok(shape)
}

static CASES: AtomicU64 = AtomicU64::new(0);
static TRACED: AtomicU64 = AtomicU64::new(0);
static ROUNDED: AtomicU64 = AtomicU64::new(0);
static DILUTED: AtomicU64 = AtomicU64::new(0);
static HOP_CUT: AtomicU64 = AtomicU64::new(0);
static DEPOSITS: AtomicU64 = AtomicU64::new(0);

/// The number of random graphs the haircut oracle checks.
const ORACLE_CASES: u32 = 512;

#[test]
fn haircut_amounts_equal_an_independent_exact_replay_on_every_edge_and_deposit() {
    let mut runner = TestRunner::new(Config { cases: ORACLE_CASES, failure_persistence: None, ..Config::default() });
    let result = runner.run(&case_strategy(), |c| {
        let shape = check_haircut(&c)?;
        let (want, deposits, _, _) = haircut_oracle(&c);
        CASES.fetch_add(1, Ordering::Relaxed);
        TRACED.fetch_add(u64::from(want.values().any(|e| e.traced > 0)), Ordering::Relaxed);
        ROUNDED.fetch_add(u64::from(shape.rounded), Ordering::Relaxed);
        DILUTED.fetch_add(u64::from(shape.diluted), Ordering::Relaxed);
        HOP_CUT.fetch_add(u64::from(shape.hop_cut), Ordering::Relaxed);
        DEPOSITS.fetch_add(u64::from(!deposits.is_empty()), Ordering::Relaxed);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The property cannot pass vacuously: the generated graphs trace something, and they reach
    // the parts of the rule that an empty or a poison-like trace would get wrong.
    let cases = CASES.load(Ordering::Relaxed);
    let traced = TRACED.load(Ordering::Relaxed);
    assert!(cases >= u64::from(ORACLE_CASES), "ran {cases} cases");
    assert!(traced * 4 >= cases * 3, "only {traced} of {cases} cases traced a non-zero amount");
    for (what, n) in [
        ("a haircut share rounded down", ROUNDED.load(Ordering::Relaxed)),
        ("a sender mixing traced and untraced funds", DILUTED.load(Ordering::Relaxed)),
        ("traced funds cut at the hop limit", HOP_CUT.load(Ordering::Relaxed)),
        ("a flagged deposit", DEPOSITS.load(Ordering::Relaxed)),
    ] {
        assert!(n * 10 >= cases, "only {n} of {cases} cases had {what}");
    }
}

/// The minimal case the oracle found: with `--hops 2`, address 1 holds 456 units that arrived at
/// hop 1 and 35 that arrived at hop 2 (a self-transfer) in a balance of 491. Sending 1 unit, the
/// funds it may still follow (those at hop 1) have an exact share of 456/491 < 1, so nothing is
/// traced; the engine used to hand the rounding remainder of per-stratum floors to the hop-1
/// stratum and traced 1 unit at hop 2.
#[test]
fn haircut_rounding_never_credits_funds_within_the_hop_limit_beyond_their_exact_share() {
    let c = Case {
        transfers: vec![(1, 0, false, 1, 3), (0, 1, false, 491, 1), (1, 1, false, 35, 1)],
        seeds: [0].into(),
        labels: BTreeMap::new(),
        hops: 2,
        min_amount: 0,
    };
    let tr = run(&c, &build(&c), Policy::Haircut);
    let amounts: Vec<(u32, u128)> = tr.edges.iter().map(|e| (e.transfer.pos.tx_index, u(e.traced))).collect();
    assert_eq!(amounts, [(1, 491), (2, 35)], "the transfer back to the seed carries no followable funds");
    check_haircut(&c).expect("engine equals the oracle");
}

// ---------------------------------------------------------------------------------------------
// 2. A real Bitcoin case: mainnet block 277647
// ---------------------------------------------------------------------------------------------

/// Two inputs from different addresses: 1FFhbH… (vin 0, 31,941,000 sat) and 1Bspdy… (vin 1,
/// 676,739 sat); outputs 1CKRac… 10,000,000, 1Kqaaz… 21,941,000, 1CRA86… 656,739.
const T1: &str = "3ef9a5dc951a041d978bbcb61b6c475037970d7ce30ac49b816533b16e9d76e0";
/// Spends T1's output 0 (1CKRac…, vin 0) with 979,012 sat of 18ty9w… (vin 1); outputs
/// 16KqPD… 10,000,000 and 1EipDZ… 959,012, in the same block.
const T2: &str = "432767df731c1b7599dc1cf9c9368eacdd3333cc2812875e3f50bb94992178a7";
/// The seed: T1's first input address.
const SEED: &str = "1FFhbHhFihv4LzidCAJQMUVGv3BdwtL6Cc";

fn fixture(rel: &str) -> Vec<u8> {
    let path = chaintrace_testkit::test_data("bitcoin-blocks/btcd").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// One row of `277647.prevouts.csv`: the output an input of the block spends.
struct Prevout {
    spending_txid: Hash32,
    input_index: u32,
    prev_txid: Hash32,
    prev_vout: u32,
    value: u64,
    address: Address,
}

fn prevouts() -> Vec<Prevout> {
    let text = String::from_utf8(fixture("277647.prevouts.csv")).expect("utf-8 csv");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("spending_txid,input_index,prev_txid,prev_vout,value_sat,prev_height,prev_is_coinbase,script_pubkey_hex,address")
    );
    lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            Prevout {
                spending_txid: Hash32::parse(c[0]).expect("txid"),
                input_index: c[1].parse().expect("input index"),
                prev_txid: Hash32::parse(c[2]).expect("prev txid"),
                prev_vout: c[3].parse().expect("prev vout"),
                value: c[4].parse().expect("value"),
                address: Address::Bitcoin(c[8].to_string()),
            }
        })
        .collect()
}

/// The block (first frame of the blk-style file: magic, length, raw block).
fn block_277647() -> chaintrace_bitcoin::bitcoin::Block {
    let bytes = fixture("277647.dat");
    assert_eq!(bytes[..4], [0xf9, 0xbe, 0xb4, 0xd9], "mainnet magic");
    let len = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes")) as usize;
    let block = chaintrace_bitcoin::parse_block(&bytes[8..8 + len]).expect("block 277647 parses");
    assert_eq!(block.block_hash().to_string(), "0000000000000000054a714e580b16c583701712ab91060e92dbde6eb1e052a8");
    block
}

/// The engine's view: the adapter's transfers and UTXO rows for the whole block in a MemGraph.
fn engine_graph(block: &chaintrace_bitcoin::bitcoin::Block, prev: &[Prevout]) -> (MemGraph, Vec<Transfer>) {
    use chaintrace_bitcoin::bitcoin::Network;
    let mut lookup = chaintrace_bitcoin::OutputMap::default();
    for p in prev {
        lookup.insert(UtxoOutput {
            txid: p.prev_txid,
            vout: p.prev_vout,
            address: Some(p.address.clone()),
            value: p.value,
        });
    }
    let data = chaintrace_bitcoin::BlockDecoder::new(Network::Bitcoin, lookup).decode(block, 277647).expect("decodes");
    let mut g = MemGraph::new("bitcoin");
    for t in &data.transfers {
        g.add_transfer(t.clone());
    }
    // outputs of the block and the earlier outputs it spends, once each, in vout order
    let mut outputs: BTreeMap<Hash32, BTreeMap<u32, UtxoOutput>> = BTreeMap::new();
    for p in prev {
        let o = UtxoOutput { txid: p.prev_txid, vout: p.prev_vout, address: Some(p.address.clone()), value: p.value };
        outputs.entry(p.prev_txid).or_default().insert(p.prev_vout, o);
    }
    for o in &data.outputs {
        outputs.entry(o.txid).or_default().insert(o.vout, o.clone());
    }
    let mut spends: BTreeMap<Hash32, Vec<chaintrace_model::UtxoSpend>> = BTreeMap::new();
    for s in &data.spends {
        spends.entry(s.txid).or_default().push(s.clone());
    }
    for (txid, outs) in outputs {
        g.add_utxo_tx(txid, spends.remove(&txid).unwrap_or_default(), outs.into_values().collect());
    }
    (g, data.transfers)
}

/// SPEC "The graph", computed here from the raw values: the edge from input address A to output
/// address B carries B's value times A's share of the inputs, in whole satoshis that sum to B's
/// value (floors, then the leftover satoshis to the largest remainders, earlier input on a tie).
fn address_edges(inputs: &[(Address, u64)], outputs: &[(Address, u64)]) -> Vec<(Address, Address, u64)> {
    fn grouped(items: &[(Address, u64)]) -> Vec<(Address, u128)> {
        let mut out: Vec<(Address, u128)> = Vec::new();
        for (a, v) in items {
            match out.iter_mut().find(|(b, _)| b == a) {
                Some(e) => e.1 += u128::from(*v),
                None => out.push((a.clone(), u128::from(*v))),
            }
        }
        out
    }
    let ins = grouped(inputs);
    let total: u128 = ins.iter().map(|i| i.1).sum();
    let mut edges = Vec::new();
    for (to, b) in grouped(outputs) {
        let mut shares: Vec<(u128, u128, usize)> =
            ins.iter().enumerate().map(|(i, (_, a))| (b * a / total, b * a % total, i)).collect();
        let mut left = b - shares.iter().map(|s| s.0).sum::<u128>();
        let mut by_rem: Vec<usize> = (0..shares.len()).collect();
        by_rem.sort_by(|&x, &y| shares[y].1.cmp(&shares[x].1).then(x.cmp(&y)));
        for i in by_rem {
            if left == 0 {
                break;
            }
            shares[i].0 += 1;
            left -= 1;
        }
        for (amount, _, i) in shares {
            if amount > 0 {
                edges.push((ins[i].0.clone(), to.clone(), u64::try_from(amount).expect("≤ an output value")));
            }
        }
    }
    edges
}

/// A run of satoshis: how many, whether they are the seed's traced coins, whose input they were.
type Piece = (u64, bool, Address);

/// FIFO through one transaction (SPEC: inputs to outputs in order): the inputs' pieces, in vin
/// order, fill the outputs in vout order; what is left over is the fee.
fn fifo_fill(inputs: &[Vec<Piece>], outputs: &[(Address, u64)]) -> Vec<Vec<Piece>> {
    let mut queue: std::collections::VecDeque<Piece> = inputs.iter().flatten().cloned().collect();
    outputs
        .iter()
        .map(|(_, value)| {
            let mut need = *value;
            let mut got = Vec::new();
            while need > 0 {
                let Some(front) = queue.front_mut() else { break };
                let take = front.0.min(need);
                got.push((take, front.1, front.2.clone()));
                front.0 -= take;
                need -= take;
                if front.0 == 0 {
                    queue.pop_front();
                }
            }
            got
        })
        .collect()
}

/// Traced satoshis per (tx, from, to) edge.
type EdgeAmounts = BTreeMap<(Hash32, Address, Address), u64>;

fn engine_amounts(g: &MemGraph, policy: Policy) -> EdgeAmounts {
    let mut o = TraceOptions::new(vec![Address::Bitcoin(SEED.into())], "BTC", 8);
    o.policy = policy;
    let tr = trace(g, &o).expect("trace over the block");
    tr.edges
        .iter()
        .map(|e| {
            let t = &e.transfer;
            ((t.tx, t.from.clone(), t.to.clone()), u64::try_from(e.traced).expect("satoshis"))
        })
        .collect()
}

/// Sum of traced satoshis into `to` within transaction `tx`.
fn into(m: &EdgeAmounts, tx: Hash32, to: &Address) -> u64 {
    m.iter().filter(|((t, _, b), _)| *t == tx && b == to).map(|(_, v)| *v).sum()
}

#[test]
fn bitcoin_block_277647_poison_haircut_and_fifo_match_amounts_computed_from_the_raw_prevouts() {
    use chaintrace_bitcoin::bitcoin::Network;
    let block = block_277647();
    let prev = prevouts();
    let (t1, t2) = (Hash32::parse(T1).expect("hex"), Hash32::parse(T2).expect("hex"));
    let seed = Address::Bitcoin(SEED.into());

    // --- the raw facts: inputs from the prevouts file (vin order), outputs decoded from the block
    let inputs_of = |tx: Hash32| -> Vec<&Prevout> {
        let mut v: Vec<&Prevout> = prev.iter().filter(|p| p.spending_txid == tx).collect();
        v.sort_by_key(|p| p.input_index);
        v
    };
    let outputs_of = |tx: Hash32| -> Vec<(Address, u64)> {
        let t = block
            .txdata
            .iter()
            .find(|t| chaintrace_bitcoin::to_hash32(&t.compute_txid()) == tx)
            .expect("tx in the block");
        t.output
            .iter()
            .map(|o| {
                let a =
                    chaintrace_bitcoin::script_address(&o.script_pubkey, Network::Bitcoin).expect("standard output");
                (a, o.value.to_sat())
            })
            .collect()
    };
    let (in1, out1, in2, out2) = (inputs_of(t1), outputs_of(t1), inputs_of(t2), outputs_of(t2));
    let values = |v: &[&Prevout]| v.iter().map(|p| (p.address.clone(), p.value)).collect::<Vec<_>>();
    assert_eq!(
        values(&in1),
        [(seed.clone(), 31_941_000), (Address::Bitcoin("1BspdyxuddUxqZkevJJuntUtEvuD22ExBo".into()), 676_739)]
    );
    assert_eq!(out1.iter().map(|o| o.1).collect::<Vec<_>>(), [10_000_000, 21_941_000, 656_739]);
    let x = out1[0].0.clone(); // 1CKRac…: reached at hop 1, spends at hop 2
    assert_eq!(x, Address::Bitcoin("1CKRacFtN4AHBGjYVpU5P8YWN2UnCR5mxc".into()));
    assert_eq!((in2[0].prev_txid, in2[0].prev_vout), (t1, 0), "T2's first input spends T1's first output");
    assert_eq!(values(&in2)[1], (Address::Bitcoin("18ty9wr9f31s4f3BtK6Dgkpp73tzM1n7pR".into()), 979_012));
    assert_eq!(out2.iter().map(|o| o.1).collect::<Vec<_>>(), [10_000_000, 959_012]);

    // --- address-level edges (SPEC), from the raw values; the adapter must produce the same
    let e1 = address_edges(&values(&in1), &out1);
    let e2 = address_edges(&values(&in2), &out2);
    let (g, transfers) = engine_graph(&block, &prev);
    for (tx, edges) in [(t1, &e1), (t2, &e2)] {
        let adapter: Vec<(Address, Address, u64)> = transfers
            .iter()
            .filter(|t| t.tx == tx)
            .map(|t| (t.from.clone(), t.to.clone(), u64::try_from(t.amount).expect("satoshis")))
            .collect();
        assert_eq!(&adapter, edges, "address-level edges of {}", tx.to_hex());
    }
    // X's whole loaded history is T1's edges into it and T2's edges out of it (haircut's balance)
    assert!(transfers.iter().filter(|t| t.from == x || t.to == x).all(|t| t.tx == t1 || t.tx == t2));
    // the seed moves coins only in T1 within this block
    assert!(transfers.iter().filter(|t| t.from == seed).all(|t| t.tx == t1));

    // --- expected amounts per policy, per (tx, from, to)
    let mut poison = EdgeAmounts::new();
    let mut haircut = EdgeAmounts::new();
    let mut fifo = EdgeAmounts::new();
    // hop 1: every edge out of the seed carries only traced coins under poison and haircut
    for (a, b, v) in e1.iter().filter(|(a, _, _)| *a == seed) {
        poison.insert((t1, a.clone(), b.clone()), *v);
        haircut.insert((t1, a.clone(), b.clone()), *v);
    }
    // hop 2, poison: X is touched, everything it sends is traced
    for (a, b, v) in e2.iter().filter(|(a, _, _)| *a == x) {
        poison.insert((t2, a.clone(), b.clone()), *v);
    }
    // hop 2, haircut: X holds what T1 paid it (balance), of which the seed's edge is traced;
    // each send carries floor(amount × tainted / balance), the remainder stays
    let mut balance: u128 = e1.iter().filter(|(_, b, _)| *b == x).map(|e| u128::from(e.2)).sum();
    let mut tainted: u128 = e1.iter().filter(|(a, b, _)| *a == seed && *b == x).map(|e| u128::from(e.2)).sum();
    assert_eq!(balance, 10_000_000);
    for (a, b, v) in e2.iter().filter(|(a, _, _)| *a == x) {
        let v = u128::from(*v);
        let share = v * tainted / balance;
        haircut.insert((t2, a.clone(), b.clone()), u64::try_from(share).expect("satoshis"));
        tainted -= share;
        balance -= v;
    }
    // FIFO through the transactions: T1's inputs in vin order fill its outputs in vout order;
    // T2's first input is T1's output 0 with the pieces it got. The case file's edge shows the
    // traced coins A moved into B, at most the edge's amount.
    let pieces = |p: &Prevout, traced: bool| vec![(p.value, traced, p.address.clone())];
    let fill1 = fifo_fill(&[pieces(in1[0], true), pieces(in1[1], false)], &out1);
    let x_coins: Vec<Piece> = fill1[0].iter().map(|(v, t, _)| (*v, *t, x.clone())).collect();
    let fill2 = fifo_fill(&[x_coins, pieces(in2[1], false)], &out2);
    for (tx, fill, outs, edges) in [(t1, &fill1, &out1, &e1), (t2, &fill2, &out2, &e2)] {
        for (got, (to, _)) in fill.iter().zip(outs) {
            let mut by_from: BTreeMap<Address, u64> = BTreeMap::new();
            for (v, traced, from) in got {
                if *traced {
                    *by_from.entry(from.clone()).or_default() += v;
                }
            }
            for (from, v) in by_from {
                let edge = edges.iter().find(|(a, b, _)| *a == from && b == to).map_or(0, |e| e.2);
                fifo.insert((tx, from, to.clone()), v.min(edge));
            }
        }
    }
    poison.retain(|_, v| *v > 0);
    haircut.retain(|_, v| *v > 0);
    fifo.retain(|_, v| *v > 0);

    // --- the engine over the whole block agrees on every traced edge, to the satoshi
    for (policy, want) in [(Policy::Poison, &poison), (Policy::Haircut, &haircut), (Policy::Fifo, &fifo)] {
        assert_eq!(&engine_amounts(&g, policy), want, "{policy} amounts over block 277647");
    }

    // --- the figures, and the three policies give three different amounts
    assert_eq!(
        out1.iter()
            .map(|(to, _)| [into(&poison, t1, to), into(&haircut, t1, to), into(&fifo, t1, to)])
            .collect::<Vec<_>>(),
        [[9_792_524; 3], [21_485_777; 3], [643_113, 643_113, 0]],
        "T1's outputs under poison, haircut, fifo (FIFO: the seed's vin 0 fills vouts 0 and 1 exactly)"
    );
    assert_eq!(
        out2.iter()
            .map(|(to, _)| [into(&poison, t2, to), into(&haircut, t2, to), into(&fifo, t2, to)])
            .collect::<Vec<_>>(),
        [[9_108_288, 8_919_312, 9_108_288], [873_496, 855_373, 0]],
        "T2's outputs under poison, haircut, fifo (FIFO: X's 10,000,000 traced sat fill vout 0; edge capped)"
    );
    let change = &out2[1].0;
    let per_policy = [into(&poison, t2, change), into(&haircut, t2, change), into(&fifo, t2, change)];
    assert_eq!(per_policy, [873_496, 855_373, 0], "T2's change output under poison, haircut, fifo");
    let totals: Vec<u64> = [&poison, &haircut, &fifo].iter().map(|m| m.values().sum()).collect();
    assert_eq!(totals, [41_903_198, 41_696_099, 40_386_589], "traced satoshis over both transactions");
    let distinct: BTreeSet<u64> = totals.iter().copied().collect();
    assert_eq!(distinct.len(), 3, "poison, haircut and fifo differ: {totals:?}");
}
