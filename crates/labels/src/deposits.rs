//! Exchange deposit addresses, inferred from behaviour (Victor, "Address Clustering
//! Heuristics for Ethereum", FC 2020): exchanges give every customer a deposit address and
//! sweep it to their own wallets. An address that **repeatedly** forwards **nearly all** it
//! received, **soon after**, to a known exchange wallet, and sends almost nothing anywhere
//! else, is that exchange's deposit address. An ordinary user who once paid an exchange
//! makes one such transfer among many others and is not flagged.
//!
//! On Bitcoin, addresses in a common-input cluster that contains a known exchange address
//! also get that exchange's label (the clusters of the chain, as `chaintrace cluster` stored
//! them, are given by the caller).
//!
//! The inference runs over a small [`Graph`] trait and writes through a [`LabelStore`], so it
//! is tested on in-memory transfers and runs unchanged over the store.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chaintrace_model::{Address, Asset, Category, Direction, Label, Transfer, U256};
use serde::Serialize;

use crate::{store::LabelStore, LabelsError};

/// Source of every label this module writes.
pub const SOURCE: &str = "inferred:deposit-sweeps";
/// Source of labels inherited through Bitcoin clusters.
pub const CLUSTER_SOURCE: &str = "inferred:cluster";

/// Thresholds of the sweep heuristic.
#[derive(Clone, Debug, Serialize)]
pub struct DepositParams {
    /// Sweeps to the exchange needed before an address is called a deposit address.
    pub min_sweeps: usize,
    /// A sweep must forward at least this share (per mille) of what arrived since the
    /// previous transfer out (gas and fees make native sweeps slightly smaller).
    pub min_ratio_permille: u32,
    /// … and at most this share (an address does not forward much more than it received).
    pub max_ratio_permille: u32,
    /// Longest time from the first unswept arrival to the sweep, in seconds.
    pub max_delay_secs: u64,
    /// Longest delay in blocks (None: only the time limit).
    pub max_delay_blocks: Option<u64>,
    /// Share (per mille) of the address's transfers out that must be qualifying sweeps to one
    /// exchange.
    pub min_exchange_share_permille: u32,
    /// Transfers read per address and direction (hubs beyond this are not candidates).
    pub max_transfers_per_address: usize,
}

impl Default for DepositParams {
    fn default() -> Self {
        DepositParams {
            min_sweeps: 2,
            min_ratio_permille: 900,
            max_ratio_permille: 1010,
            max_delay_secs: 3 * 24 * 3600,
            max_delay_blocks: None,
            min_exchange_share_permille: 900,
            max_transfers_per_address: 10_000,
        }
    }
}

/// The transfers of one chain, as the heuristic needs them.
pub trait Graph {
    /// The graph's own failure (a store error).
    type Error: std::error::Error + Send + Sync + 'static;
    /// Transfers in `dir` of `addr`, in chain order, at most `limit`.
    fn transfers(&self, addr: &Address, dir: Direction, limit: usize) -> Result<Vec<Transfer>, Self::Error>;
}

/// One inferred deposit address with its evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Inferred {
    /// The inferred deposit address.
    pub address: String,
    /// The exchange its sweeps go to (the wallets' entity).
    pub exchange: String,
    /// The exchange wallet(s) it sweeps to.
    pub exchange_wallets: Vec<String>,
    /// Qualifying sweeps found.
    pub sweeps: usize,
    /// Sweep transaction hashes, oldest first.
    pub evidence: Vec<String>,
    /// Confidence of the inferred label, 0–100 (capped at 90: below published labels).
    pub confidence: u8,
}

/// Known exchange wallets: address → exchange entity. When an address has several exchange
/// labels, the most confident one names it.
pub fn exchange_wallets(labels: &[Label], chain: &str, evm: bool) -> BTreeMap<Address, String> {
    let mut best: BTreeMap<Address, (u8, String)> = BTreeMap::new();
    for l in labels {
        if l.category != Category::Exchange || l.address.is_evm() != evm || !l.applies_to(chain) {
            continue;
        }
        let e = best.entry(l.address.clone()).or_insert((0, String::new()));
        if l.confidence > e.0 || e.1.is_empty() {
            *e = (l.confidence, canonical_entity(&l.entity));
        }
    }
    best.into_iter().map(|(a, (_, e))| (a, e)).collect()
}

/// Exchange names as different sources spell them (`binance`, `Binance`) compare equal.
pub fn canonical_entity(e: &str) -> String {
    let t = e.trim();
    let mut c = t.chars();
    match c.next() {
        Some(f) if t.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '.') => {
            f.to_uppercase().chain(c).collect()
        }
        _ => t.to_string(),
    }
}

fn ratio_ok(sent: U256, received: U256, p: &DepositParams) -> bool {
    if received.is_zero() {
        return false;
    }
    let s = sent.saturating_mul(U256::from(1000u32));
    s >= received.saturating_mul(U256::from(p.min_ratio_permille))
        && s <= received.saturating_mul(U256::from(p.max_ratio_permille))
}

/// Run the sweep heuristic: candidates are every sender to a known exchange wallet.
pub fn infer<G: Graph>(
    graph: &G,
    exchanges: &BTreeMap<Address, String>,
    p: &DepositParams,
) -> Result<Vec<Inferred>, G::Error> {
    let mut candidates: BTreeSet<Address> = BTreeSet::new();
    for ex in exchanges.keys() {
        for t in graph.transfers(ex, Direction::In, p.max_transfers_per_address.saturating_mul(100))? {
            if !exchanges.contains_key(&t.from) && t.from != Address::Coinbase {
                candidates.insert(t.from);
            }
        }
    }
    let mut out = Vec::new();
    for cand in candidates {
        if let Some(found) = judge(graph, &cand, exchanges, p)? {
            out.push(found);
        }
    }
    Ok(out)
}

/// Per exchange: the qualifying sweeps (height, tx hash) and the wallets they went to.
type Sweeps = (Vec<(u64, String)>, BTreeSet<String>);

/// Decide one candidate.
fn judge<G: Graph>(
    graph: &G,
    cand: &Address,
    exchanges: &BTreeMap<Address, String>,
    p: &DepositParams,
) -> Result<Option<Inferred>, G::Error> {
    let limit = p.max_transfers_per_address;
    let outs = graph.transfers(cand, Direction::Out, limit + 1)?;
    if outs.is_empty() || outs.len() > limit {
        return Ok(None);
    }
    let ins = graph.transfers(cand, Direction::In, limit + 1)?;
    if ins.len() > limit {
        return Ok(None);
    }
    // Per asset: walk events in chain order; each transfer out closes the window of arrivals
    // since the previous transfer out.
    let mut by_asset: HashMap<Asset, Vec<(&Transfer, bool)>> = HashMap::new();
    for t in &ins {
        by_asset.entry(t.asset).or_default().push((t, true));
    }
    for t in &outs {
        by_asset.entry(t.asset).or_default().push((t, false));
    }
    let mut sweeps: BTreeMap<String, Sweeps> = BTreeMap::new();
    for (_, mut events) in by_asset {
        // Arrivals sort before a transfer out at the same position only when earlier in the
        // chain; at equal order an arrival counts first (it funded the same transaction).
        events.sort_by_key(|(t, is_in)| (t.order(), !*is_in));
        let mut received = U256::ZERO;
        let mut first_arrival: Option<(u64, u64)> = None;
        for (t, is_in) in events {
            if is_in {
                received = received.saturating_add(t.amount);
                first_arrival.get_or_insert((t.time, t.height));
                continue;
            }
            if let (Some(ex), Some((t0, h0))) = (exchanges.get(&t.to), first_arrival) {
                let in_time = t.time.saturating_sub(t0) <= p.max_delay_secs
                    && p.max_delay_blocks.is_none_or(|b| t.height.saturating_sub(h0) <= b);
                if in_time && ratio_ok(t.amount, received, p) {
                    let e = sweeps.entry(ex.clone()).or_default();
                    e.0.push((t.height, format!("0x{}", t.tx.to_hex())));
                    e.1.insert(t.to.to_string());
                }
            }
            received = U256::ZERO;
            first_arrival = None;
        }
    }
    let Some((exchange, (txs, wallets))) = sweeps.into_iter().max_by_key(|(_, (txs, _))| txs.len()) else {
        return Ok(None);
    };
    let n = txs.len();
    let share_ok = (n as u64) * 1000 >= (outs.len() as u64) * u64::from(p.min_exchange_share_permille);
    if n < p.min_sweeps || !share_ok {
        return Ok(None);
    }
    // More sweeps, and a purer forwarding pattern, make it more certain (capped below the
    // confidence of published labels).
    let extra = (n - p.min_sweeps) as u64;
    let base = (60 + 10 * extra).min(90);
    let confidence = (base * (n as u64) / (outs.len() as u64)).min(90) as u8;
    let mut txs = txs;
    txs.sort();
    let evidence: Vec<String> = txs.into_iter().map(|(_, h)| h).collect();
    Ok(Some(Inferred {
        address: cand.to_string(),
        exchange,
        exchange_wallets: wallets.into_iter().collect(),
        sweeps: n,
        evidence,
        confidence,
    }))
}

/// Most evidence hashes kept on a label.
const MAX_EVIDENCE: usize = 50;

fn to_label(chain: &str, i: &Inferred) -> Option<Label> {
    let address = Address::parse_any(&i.address).ok()?;
    let mut attrs = BTreeMap::new();
    attrs.insert("method".to_string(), "deposit-sweeps (Victor 2020)".to_string());
    attrs.insert("sweeps".to_string(), i.sweeps.to_string());
    attrs.insert("exchange_wallets".to_string(), i.exchange_wallets.join(","));
    let shown: Vec<&str> = i.evidence.iter().take(MAX_EVIDENCE).map(String::as_str).collect();
    attrs.insert("evidence".to_string(), shown.join(","));
    Some(Label {
        chain: Some(chain.to_string()),
        address,
        category: Category::ExchangeDeposit,
        entity: i.exchange.clone(),
        source: SOURCE.to_string(),
        confidence: i.confidence,
        attrs,
    })
}

/// Replace this chain's part of `source` with `labels`, keeping other chains' labels.
fn replace_chain_part<S: LabelStore>(store: &S, source: &str, chain: &str, labels: Vec<Label>) -> Result<(), S::Error> {
    let mut all: Vec<Label> =
        store.labels_by_source(source)?.into_iter().filter(|l| l.chain.as_deref() != Some(chain)).collect();
    all.extend(labels);
    store.replace_labels_many(&[(source, &all)])
}

/// What `labels infer-deposits` did.
#[derive(Clone, Debug, Serialize)]
pub struct InferReport {
    /// The chain inferred on.
    pub chain: String,
    /// The heuristic's thresholds.
    pub params: DepositParams,
    /// Known exchange wallets the sweeps were matched against.
    pub exchange_wallets: usize,
    /// Every inferred deposit address with its evidence.
    pub deposits: Vec<Inferred>,
    /// Bitcoin: addresses that inherited an exchange label through their cluster.
    pub cluster_inherited: usize,
}

/// Infer deposit addresses on `chain` over `graph` and write them to `store` (replacing this
/// chain's earlier inferences, so running it twice changes nothing). `evm` says the chain's
/// kind; `clusters` (address → cluster id, Bitcoin only) are the chain's common-input
/// clusters, whose members inherit the exchange labels of their cluster.
pub fn infer_and_store<S: LabelStore, G: Graph>(
    store: &S,
    graph: &G,
    chain: &str,
    evm: bool,
    clusters: Option<&BTreeMap<Address, String>>,
    p: &DepositParams,
) -> Result<InferReport, LabelsError> {
    // Only labels from outside this inference name exchange wallets: an address that inherited
    // an exchange label from its cluster last time is not a wallet its cluster inherits from.
    let labels: Vec<Label> = store
        .all_labels()
        .map_err(LabelsError::store)?
        .into_iter()
        .filter(|l| l.source != SOURCE && l.source != CLUSTER_SOURCE)
        .collect();
    let exchanges = exchange_wallets(&labels, chain, evm);
    let found = infer(graph, &exchanges, p).map_err(LabelsError::store)?;
    let new: Vec<Label> = found.iter().filter_map(|i| to_label(chain, i)).collect();
    replace_chain_part(store, SOURCE, chain, new).map_err(LabelsError::store)?;
    let mut inherited = 0;
    if let Some(clusters) = clusters.filter(|_| !evm) {
        let new = cluster_labels(chain, clusters, &exchanges);
        inherited = new.len();
        replace_chain_part(store, CLUSTER_SOURCE, chain, new).map_err(LabelsError::store)?;
    }
    Ok(InferReport {
        chain: chain.to_string(),
        params: p.clone(),
        exchange_wallets: exchanges.len(),
        deposits: found,
        cluster_inherited: inherited,
    })
}

/// Labels for every clustered address that shares a cluster with a known exchange wallet.
pub fn cluster_labels(
    chain: &str,
    clusters: &BTreeMap<Address, String>,
    exchanges: &BTreeMap<Address, String>,
) -> Vec<Label> {
    let mut cluster_exchange: BTreeMap<&str, (&str, &Address)> = BTreeMap::new();
    for (a, ex) in exchanges {
        if let Some(c) = clusters.get(a) {
            cluster_exchange.entry(c.as_str()).or_insert((ex.as_str(), a));
        }
    }
    let mut out = Vec::new();
    for (a, c) in clusters {
        if exchanges.contains_key(a) {
            continue;
        }
        if let Some((ex, wallet)) = cluster_exchange.get(c.as_str()) {
            let mut attrs = BTreeMap::new();
            attrs.insert("method".to_string(), "common-input cluster".to_string());
            attrs.insert("cluster".to_string(), c.clone());
            attrs.insert("exchange_wallets".to_string(), wallet.to_string());
            out.push(Label {
                chain: Some(chain.to_string()),
                address: a.clone(),
                category: Category::Exchange,
                entity: ex.to_string(),
                source: CLUSTER_SOURCE.to_string(),
                confidence: 40,
                attrs,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaintrace_model::{Hash32, Position};

    #[derive(Default)]
    struct Mem {
        ts: Vec<Transfer>,
    }

    impl Mem {
        fn add(&mut self, height: u64, from: &Address, to: &Address, amount: u64) {
            let mut tx = [0u8; 32];
            tx[..8].copy_from_slice(&height.to_be_bytes());
            tx[8..16].copy_from_slice(&(self.ts.len() as u64).to_be_bytes());
            self.ts.push(Transfer {
                tx: Hash32(tx),
                height,
                pos: Position { tx_index: self.ts.len() as u32, sub: 0 },
                time: 1_600_000_000 + height * 12,
                from: from.clone(),
                to: to.clone(),
                asset: Asset::Native,
                amount: U256::from(amount),
            });
        }
    }

    impl Graph for Mem {
        type Error = std::convert::Infallible;
        fn transfers(&self, addr: &Address, dir: Direction, limit: usize) -> Result<Vec<Transfer>, Self::Error> {
            let mut v: Vec<Transfer> = self
                .ts
                .iter()
                .filter(|t| match dir {
                    Direction::Out => &t.from == addr,
                    Direction::In => &t.to == addr,
                })
                .cloned()
                .collect();
            v.sort_by_key(|t| t.order());
            v.truncate(limit);
            Ok(v)
        }
    }

    fn a(n: u8) -> Address {
        Address::Evm([n; 20])
    }

    #[test]
    fn deposit_addresses_found_and_users_not_flagged() {
        let (ex, dep, dep2, user, c1, c2, shop) = (a(1), a(2), a(3), a(4), a(5), a(6), a(7));
        let mut g = Mem::default();
        // Customers pay into the deposit address; the exchange sweeps it minus gas.
        g.add(10, &c1, &dep, 1_000_000);
        g.add(12, &dep, &ex, 990_000);
        g.add(20, &c2, &dep, 500_000);
        g.add(21, &c1, &dep, 500_000);
        g.add(25, &dep, &ex, 995_000);
        g.add(30, &c2, &dep, 2_000_000);
        g.add(31, &dep, &ex, 1_999_000);
        // A second deposit address swept twice.
        g.add(40, &c1, &dep2, 7_000);
        g.add(41, &dep2, &ex, 7_000);
        g.add(50, &c2, &dep2, 9_000);
        g.add(52, &dep2, &ex, 8_950);
        // An ordinary user: many payments, one of them (whole) to the exchange.
        g.add(60, &c1, &user, 10_000);
        g.add(61, &user, &ex, 10_000);
        g.add(62, &c2, &user, 10_000);
        g.add(63, &user, &shop, 3_000);
        g.add(64, &user, &c2, 2_000);
        // A user who forwards twice but only a part of what they received.
        g.add(70, &c1, &c2, 100_000);
        g.add(71, &c2, &ex, 20_000);
        g.add(72, &c2, &ex, 20_000);
        let mut exchanges = BTreeMap::new();
        exchanges.insert(ex.clone(), "Binance".to_string());
        let found = infer(&g, &exchanges, &DepositParams::default()).unwrap();
        let addrs: Vec<&str> = found.iter().map(|f| f.address.as_str()).collect();
        assert_eq!(addrs, vec![dep.to_string(), dep2.to_string()]);
        assert_eq!(found[0].sweeps, 3);
        assert_eq!(found[0].evidence.len(), 3);
        assert_eq!(found[0].exchange, "Binance");
        assert!(found[0].confidence > found[1].confidence);
    }

    #[test]
    fn slow_sweeps_do_not_count() {
        let (ex, dep, c1) = (a(1), a(2), a(5));
        let mut g = Mem::default();
        g.add(10, &c1, &dep, 1_000);
        g.add(10 + 100_000, &dep, &ex, 1_000);
        g.add(200_000, &c1, &dep, 1_000);
        g.add(200_001, &dep, &ex, 1_000);
        let exchanges = BTreeMap::from([(ex, "X".to_string())]);
        assert!(infer(&g, &exchanges, &DepositParams::default()).unwrap().is_empty());
        let relaxed = DepositParams { max_delay_secs: u64::MAX, ..Default::default() };
        assert_eq!(infer(&g, &exchanges, &relaxed).unwrap().len(), 1);
    }

    #[test]
    fn cluster_members_inherit() {
        let ex = Address::Bitcoin("1ExchangeWallet".into());
        let member = Address::Bitcoin("1Member".into());
        let other = Address::Bitcoin("1Other".into());
        let clusters =
            BTreeMap::from([(ex.clone(), "c1".to_string()), (member.clone(), "c1".to_string()), (other, "c2".into())]);
        let exchanges = BTreeMap::from([(ex, "Binance".to_string())]);
        let labels = cluster_labels("bitcoin", &clusters, &exchanges);
        assert_eq!(labels.len(), 1);
        assert_eq!(labels[0].address, member);
        assert_eq!(labels[0].entity, "Binance");
    }

    /// A label store holding one TagPack exchange wallet, with the wallet and a co-member of
    /// its cluster.
    fn store_with_one_exchange_wallet() -> (crate::store::MemLabelStore, Address, Address) {
        use crate::store::{LabelStore, MemLabelStore};
        let ex = Address::Bitcoin("1ExchangeWallet".into());
        let member = Address::Bitcoin("1Member".into());
        let store = MemLabelStore::new();
        let wallet = Label {
            chain: None,
            address: ex.clone(),
            category: Category::Exchange,
            entity: "binance".into(),
            source: "tagpack:x".into(),
            confidence: 80,
            attrs: BTreeMap::new(),
        };
        store.replace_labels_many(&[("tagpack:x", &[wallet])]).unwrap();
        (store, ex, member)
    }

    #[test]
    fn infer_and_store_uses_the_clusters_it_is_given_for_any_chain_name() {
        let (store, ex, member) = store_with_one_exchange_wallet();
        let clusters = BTreeMap::from([(ex, "c1".to_string()), (member.clone(), "c1".to_string())]);
        let p = DepositParams::default();
        let r = infer_and_store(&store, &Mem::default(), "btcreg", false, Some(&clusters), &p).unwrap();
        assert_eq!(r.cluster_inherited, 1);
        let got = store.labels_of(&member);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].chain.as_deref(), got[0].entity.as_str()), (Some("btcreg"), "Binance"));
    }

    /// Regression: the labels a run inherited through clusters counted as exchange wallets in
    /// the next run, which then skipped those addresses and replaced the inherited labels with
    /// nothing (every second run dropped them).
    #[test]
    fn rerunning_infer_deposits_keeps_cluster_inherited_labels() {
        use crate::store::LabelStore;
        let (store, ex, member) = store_with_one_exchange_wallet();
        let clusters = BTreeMap::from([(ex, "c1".to_string()), (member, "c1".to_string())]);
        let p = DepositParams::default();
        let first = store.all_labels().unwrap();
        for run in 0..3 {
            let r = infer_and_store(&store, &Mem::default(), "bitcoin", false, Some(&clusters), &p).unwrap();
            assert_eq!(r.cluster_inherited, 1, "run {run}");
            assert_eq!(r.exchange_wallets, 1, "run {run}");
            assert_eq!(store.labels_by_source(CLUSTER_SOURCE).unwrap().len(), 1, "run {run}");
        }
        assert_eq!(store.all_labels().unwrap().len(), first.len() + 1);
    }

    #[test]
    fn entities_canonical() {
        assert_eq!(canonical_entity("binance"), "Binance");
        assert_eq!(canonical_entity("Binance"), "Binance");
        assert_eq!(canonical_entity("crypto.com"), "Crypto.com");
        assert_eq!(canonical_entity("OKX"), "OKX");
    }
}
