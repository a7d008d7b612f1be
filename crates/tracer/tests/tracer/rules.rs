//! The walk's stop rules, filters and case-file rendering on small hand-built graphs.

use std::collections::BTreeMap;

use chaintrace_model::TokenMeta;
use chaintrace_model::{Address, Asset, Category, Hash32, Label, Position, Role, Transfer, U256};
use chaintrace_tracer::case::{case_file, case_out, summary_text, CaseContext, ChainCase};
use chaintrace_tracer::{
    trace, Bound, MemGraph, Policy, PriceBook, PriceTable, Trace, TraceDirection, TraceError, TraceOptions,
};

const TOKEN: [u8; 20] = [0xdd; 20];

fn a(i: u8) -> Address {
    Address::Evm([i; 20])
}

struct G {
    g: MemGraph,
    n: u32,
}

impl G {
    fn new() -> G {
        let mut g = MemGraph::new("ethereum");
        g.add_token(TOKEN, TokenMeta { symbol: Some("USDT".into()), name: None, decimals: Some(6) });
        G { g, n: 0 }
    }
    fn t(&mut self, from: u8, to: u8, height: u64, asset: Asset, amount: u64) -> &mut Self {
        self.n += 1;
        self.g.add_transfer(Transfer {
            tx: Hash32([self.n as u8; 32]),
            height,
            pos: Position { tx_index: self.n, sub: 0 },
            time: 1_668_000_000 + height * 12, // 2022-11-09
            from: a(from),
            to: a(to),
            asset,
            amount: U256::from(amount),
        });
        self
    }
    fn label(&mut self, i: u8, category: Category, entity: &str) -> &mut Self {
        self.g.add_label(Label {
            chain: Some("ethereum".into()),
            address: a(i),
            category,
            entity: entity.into(),
            source: "test".into(),
            confidence: 80,
            attrs: Default::default(),
        });
        self
    }
}

/// How a case of the ethereum chain renders: its price symbols and prices.
fn ethereum_case<'a>(prices: &'a PriceBook, price_symbols: &'a BTreeMap<String, String>) -> CaseContext<'a> {
    CaseContext {
        chains: vec![ChainCase { name: "ethereum", evm: true, price_symbols }],
        prices,
        provenance: Default::default(),
        seeds_label: None,
        since_text: None,
        until_text: None,
    }
}

fn opts(seed: u8) -> TraceOptions {
    let mut o = TraceOptions::new(vec![a(seed)], "ETH", 18);
    o.policy = Policy::Poison;
    o
}

const ETH: u64 = 1_000_000_000_000_000_000;

#[test]
fn stops_at_services_hubs_hops_and_min_amount() {
    let mut g = G::new();
    g.t(1, 2, 1, Asset::Native, ETH) // seed -> 2
        .t(2, 3, 2, Asset::Native, ETH) // -> mixer 3 (service, not expanded)
        .t(3, 4, 3, Asset::Native, ETH) // mixer output: not followed
        .t(2, 5, 4, Asset::Native, ETH) // -> hub 5
        .t(5, 6, 5, Asset::Native, ETH) // hub output: not followed
        .t(2, 7, 6, Asset::Native, 10) // dust below --min-amount: recorded, not followed
        .t(7, 8, 7, Asset::Native, 10)
        .t(2, 9, 8, Asset::Native, ETH) // 9 at hop 2 = limit
        .t(9, 10, 9, Asset::Native, ETH);
    for i in 0..5 {
        g.t(20 + i, 5, 10 + i as u64, Asset::Native, 1); // make 5 a hub (in-degree 6 > 4)
    }
    g.label(3, Category::Mixer, "Tornado");
    let mut o = opts(1);
    o.hops = 2;
    o.hub_degree = 4;
    o.min_amount = Some("0.001".into());
    let t = trace(&g.g, &o).unwrap();
    let role = |i: u8| t.node(&a(i)).map(|n| (n.role, n.stop_reason, n.hop));
    assert_eq!(role(1), Some((Role::Seed, None, 0)));
    assert_eq!(role(2), Some((Role::Intermediate, None, 1)));
    assert_eq!(role(3), Some((Role::Service, None, 2)));
    assert_eq!(role(5), Some((Role::Stop, Some("hops"), 2)), "reached at the limit: not examined further");
    assert_eq!(role(7), Some((Role::Stop, Some("min_amount"), 2)));
    assert_eq!(role(9), Some((Role::Stop, Some("hops"), 2)));
    for i in [4, 6, 8, 10] {
        assert_eq!(role(i), None, "{i} is beyond a stop");
    }
    // with 3 hops the hub and mixer still stop the walk but 9 pays on
    o.hops = 3;
    let t = trace(&g.g, &o).unwrap();
    assert_eq!(t.node(&a(5)).unwrap().stop_reason, Some("hub"));
    assert!(t.node(&a(10)).is_some() && t.node(&a(4)).is_none() && t.node(&a(6)).is_none());
}

/// A deposit's path goes back through the holding of the asset that was deposited: the
/// address also received traced funds of another asset earlier, with the same hop count, from
/// another seed; that seed is not the deposit's.
#[test]
fn deposit_path_follows_the_deposited_asset() {
    let mut g = G::new();
    g.t(1, 3, 1, Asset::Native, ETH) // seed 1 -> 3 (ETH, hop 1)
        .t(2, 3, 2, Asset::Token(TOKEN), 5_000_000) // seed 2 -> 3 (token, hop 1)
        .t(3, 9, 3, Asset::Token(TOKEN), 5_000_000); // 3 -> deposit address 9 (token, hop 2)
    g.label(9, Category::ExchangeDeposit, "Kraken");
    for direct in [false, true] {
        let mut o = TraceOptions::new(vec![a(1), a(2)], "ETH", 18);
        o.policy = Policy::Poison;
        // both walks: the dense one (ids) and the one over addresses
        let t = if direct { trace(&g.g.clone().without_dense_view(), &o) } else { trace(&g.g, &o) }.unwrap();
        assert_eq!(t.stats.dense, !direct);
        assert_eq!(t.deposits.len(), 1, "{:?}", t.deposits);
        let d = &t.deposits[0];
        assert_eq!((d.hops, &d.seed, &d.path), (2, &a(2), &vec![a(2), a(3), a(9)]), "dense walk: {}", !direct);
    }
}

#[test]
fn deposits_and_sweeps_per_asset_with_usd() {
    let mut g = G::new();
    g.t(1, 2, 1, Asset::Token(TOKEN), 2_500_000) // 2.5 USDT
        .t(1, 2, 2, Asset::Native, 3 * ETH)
        .t(2, 3, 3, Asset::Token(TOKEN), 2_500_000) // deposit (token)
        .t(2, 3, 4, Asset::Native, ETH) // deposit (ETH)
        .t(3, 4, 5, Asset::Native, ETH) // sweep: not followed
        .t(2, 4, 6, Asset::Native, ETH); // straight to the exchange wallet: a deposit too
    g.label(3, Category::ExchangeDeposit, "Binance").label(4, Category::Exchange, "Binance");
    let mut o = opts(1);
    o.policy = Policy::Haircut;
    let t = trace(&g.g, &o).unwrap();
    assert_eq!(t.deposits.len(), 3);
    assert!(t.edges.iter().all(|e| e.transfer.from != a(3)), "sweep not followed");
    let table = PriceTable::parse_csv("date,btc_usd,eth_usd\n2022-11-09,18562.35,1334.29\n", "p").unwrap();
    let prices = PriceBook::new(Some((table, "p".into())));
    let syms = [("0xdddddddddddddddddddddddddddddddddddddddd".to_string(), "USDT".to_string())].into();
    let ctx = ethereum_case(&prices, &syms);
    let case = case_file(&t, &ctx);
    let rows: Vec<(String, String, Option<String>, u32)> =
        case.deposits.iter().map(|d| (d.asset.clone(), d.amount.clone(), d.usd.clone(), d.hops)).collect();
    assert_eq!(
        rows,
        vec![
            ("0xdddddddddddddddddddddddddddddddddddddddd".into(), "2.5".into(), Some("2.50".into()), 2),
            ("ETH".into(), "1".into(), Some("1334.29".into()), 2),
            ("ETH".into(), "1".into(), Some("1334.29".into()), 2),
        ]
    );
    assert_eq!(case.deposits[0].symbol.as_deref(), Some("USDT"));
    assert!(case.edges.iter().all(|e| e.tx.starts_with("0x")));
    let d = &case.deposits[1];
    let row = (d.chain.as_str(), d.address.as_str(), d.exchange.as_str(), d.asset.as_str(), d.amount.as_str());
    assert_eq!(row, ("ethereum", a(3).to_string().as_str(), "Binance", "ETH", "1"), "{d:?}");
    assert_eq!((d.usd.as_deref(), d.tx.starts_with("0x")), (Some("1334.29"), true), "{d:?}");
    let text = summary_text(&case);
    assert!(text.contains("Binance: 2 deposit(s), 2 ETH ($2668.58 from price table p)"), "{text}");
    // The user's table has no USDT column: the shipped table's 0.9986 that day (2.4965 → 2.50).
    assert!(text.contains("2.5 USDT ($2.50 from shipped daily table)"), "{text}");
    let sources: Vec<Option<&str>> = case.deposits.iter().map(|d| d.usd_source.as_deref()).collect();
    assert_eq!(sources, [Some("shipped"), Some("table:p"), Some("table:p")]);
    assert!(case.edges.iter().all(|e| e.usd_source.is_some() == e.usd.is_some()), "every value names its source");
    // deterministic bytes
    assert_eq!(case.to_json(), case_file(&trace(&g.g, &o).unwrap(), &ctx).to_json());
    assert_written_as_the_case_file(&t, &ctx);
}

#[test]
fn filters_asset_since_until_and_time_order() {
    let mut g = G::new();
    g.t(2, 3, 1, Asset::Native, ETH) // before 2 was reached: not traced
        .t(1, 2, 2, Asset::Native, ETH)
        .t(1, 2, 3, Asset::Token(TOKEN), 1_000_000)
        .t(2, 4, 4, Asset::Token(TOKEN), 1_000_000)
        .t(2, 5, 5, Asset::Native, ETH)
        .t(1, 6, 9, Asset::Native, ETH);
    let t = trace(&g.g, &opts(1)).unwrap();
    assert!(t.node(&a(3)).is_none(), "time order");
    assert!(t.node(&a(4)).is_some() && t.node(&a(5)).is_some());
    let mut o = opts(1);
    o.asset = Some(Asset::Token(TOKEN));
    let t = trace(&g.g, &o).unwrap();
    assert!(t.node(&a(4)).is_some() && t.node(&a(5)).is_none());
    let mut o = opts(1);
    o.since = Some(Bound::Height(3));
    o.until = Some(Bound::Time(1_668_000_000 + 5 * 12));
    let t = trace(&g.g, &o).unwrap();
    let got: Vec<u64> = t.edges.iter().map(|e| e.transfer.height).collect();
    assert_eq!(got, vec![3, 4], "the native seed payment at height 2 is before --since; height 9 after --until");
}

#[test]
fn backward_walk_finds_sources_before_the_funds_left() {
    let mut g = G::new();
    g.t(5, 2, 1, Asset::Native, ETH) // source of 2 before it paid 1
        .t(2, 1, 2, Asset::Native, ETH) // 2 pays the seed (hop 1 backward)
        .t(6, 2, 3, Asset::Native, ETH) // after: not a source of those funds
        .t(7, 5, 0, Asset::Native, ETH); // 7 funded 5 earlier (hop 2)
    let mut o = opts(1);
    o.direction = TraceDirection::Backward;
    let t = trace(&g.g, &o).unwrap();
    let hops: Vec<(Address, u32)> = t.nodes.iter().map(|((_, k), n)| (k.clone(), n.hop)).collect();
    assert_eq!(hops, vec![(a(1), 0), (a(2), 1), (a(5), 2), (a(7), 3)]);
    assert!(t.deposits.is_empty());
}

#[test]
fn bad_options_are_errors_not_panics() {
    let g = G::new();
    let mut o = opts(1);
    o.hops = 0;
    assert!(trace(&g.g, &o).is_err());
    let mut o = opts(1);
    o.min_amount = Some("1e5".into());
    let err = trace(&g.g, &o).unwrap_err();
    assert!(matches!(err, TraceError::MinAmount(ref m) if m == "1e5"), "{err}");
    // The library states the fact; naming the flag (`--min-amount`) is the binary's job.
    assert!(err.to_string().contains("minimum amount \"1e5\"") && !err.to_string().contains("--"), "{err}");
    let o = TraceOptions::new(vec![], "ETH", 18);
    assert!(trace(&g.g, &o).is_err());
}

/// `chaintrace trace --out` writes a trace's edges as they are rendered (`case_out`): the bytes
/// of the whole case file (`case_file`), and the same summary whether asked before the edges
/// are written (rendered for it) or after (tallied as they were written).
pub(crate) fn assert_written_as_the_case_file(t: &Trace, ctx: &CaseContext<'_>) {
    let whole = case_file(t, ctx);
    let (want_bytes, want_text) = (whole.to_json(), summary_text(&whole));
    let out = case_out(t, ctx);
    assert!(out.case.edges.is_empty());
    assert_eq!(out.edge_count(), whole.edges.len());
    assert_eq!(out.summary_text(), want_text, "summary before writing");
    let mut bytes = Vec::new();
    out.write_json(&mut bytes).unwrap();
    assert!(String::from_utf8(bytes).unwrap() == want_bytes, "bytes written as the edges are rendered");
    let out = case_out(t, ctx);
    let mut bytes = Vec::new();
    out.write_json(&mut bytes).unwrap();
    assert_eq!(out.summary_text(), want_text, "summary after writing");
    // and once more: a second write tallies afresh
    out.write_json(&mut Vec::new()).unwrap();
    assert_eq!(out.summary_text(), want_text, "summary after writing twice");
}

/// A case wide enough to be formatted on two threads (3,000 receivers, each forwarding to one
/// of three exchange deposit addresses: ~6,000 edges and nodes, priced and unpriced), and the
/// narrow ones above (deposits, sweeps, prices by source), written as their edges are rendered.
#[test]
fn a_case_written_as_its_edges_are_rendered_is_the_case_file() {
    let mut g = MemGraph::new("ethereum");
    g.add_token(TOKEN, TokenMeta { symbol: Some("USDT".into()), name: None, decimals: Some(6) });
    let wide = |i: u32| {
        let mut b = [0x77; 20];
        b[16..].copy_from_slice(&i.to_be_bytes());
        Address::Evm(b)
    };
    let mut n = 0u32;
    let mut add = |g: &mut MemGraph, from: Address, to: Address, height: u64, asset: Asset, amount: u64| {
        n += 1;
        let mut tx = [0u8; 32];
        tx[..4].copy_from_slice(&n.to_be_bytes());
        g.add_transfer(Transfer {
            tx: Hash32(tx),
            height,
            pos: Position { tx_index: n, sub: 0 },
            time: 1_668_000_000 + height * 12,
            from,
            to,
            asset,
            amount: U256::from(amount),
        });
    };
    for i in 1..=3000u32 {
        // USDT on odd receivers (priced: the shipped table), a token no price symbol names on
        // even ones (unpriced)
        let asset = if i % 2 == 1 { Asset::Token(TOKEN) } else { Asset::Token([0xee; 20]) };
        add(&mut g, a(1), wide(i), 1, asset, 1_000_000 + u64::from(i));
        add(&mut g, wide(i), a(200 + (i % 3) as u8), 2 + u64::from(i % 5), asset, 999_000);
    }
    for d in 0..3u8 {
        g.add_label(Label {
            chain: Some("ethereum".into()),
            address: a(200 + d),
            category: Category::ExchangeDeposit,
            entity: format!("Exchange {d}"),
            source: "test".into(),
            confidence: 80,
            attrs: Default::default(),
        });
    }
    let prices = PriceBook::new(None);
    let syms = [("0xdddddddddddddddddddddddddddddddddddddddd".to_string(), "USDT".to_string())].into();
    let ctx = ethereum_case(&prices, &syms);
    for policy in [Policy::Poison, Policy::Haircut] {
        let mut o = opts(1);
        o.policy = policy;
        let t = trace(&g, &o).unwrap();
        assert!(t.edges.len() >= 6000 && t.nodes.len() >= 3000, "{policy}: {} edges", t.edges.len());
        assert_eq!(t.deposits.len(), 3000, "{policy}");
        let case = case_file(&t, &ctx);
        let priced = case.edges.iter().filter(|e| e.usd.is_some()).count();
        assert!(priced > 0 && priced < case.edges.len(), "{policy}: priced and unpriced edges ({priced})");
        assert_written_as_the_case_file(&t, &ctx);
    }
}
