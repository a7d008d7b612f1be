//! Common-input-ownership clustering: the addresses whose outputs are spent together in one
//! transaction are taken to belong to one entity (union-find over addresses), except in
//! transactions that look like CoinJoins, where many participants each contribute inputs.
//!
//! CoinJoin rule ([`is_likely_coinjoin`]): inputs from at least two addresses and at least
//! three outputs of one identical non-zero value (Wasabi, Whirlpool, JoinMarket and
//! Samourai-style mixes all produce such equal-value outputs; ordinary payments rarely do).

use std::collections::HashMap;

use bitcoin::hashes::{sha256, Hash};
use chaintrace_model::Address;

/// Whether a transaction with these input addresses and output values looks like a CoinJoin.
pub fn is_likely_coinjoin(distinct_input_addresses: usize, output_values: &[u64]) -> bool {
    if distinct_input_addresses < 2 || output_values.len() < 3 {
        return false;
    }
    let mut counts: HashMap<u64, usize> = HashMap::new();
    for v in output_values.iter().filter(|v| **v > 0) {
        *counts.entry(*v).or_default() += 1;
    }
    counts.values().any(|c| *c >= 3)
}

/// Union-find over addresses.
#[derive(Debug, Default, Clone)]
pub struct Clusterer {
    ids: HashMap<Address, u32>,
    addrs: Vec<Address>,
    parent: Vec<u32>,
    size: Vec<u32>,
    /// Transactions whose inputs were joined.
    pub joined_txs: u64,
    /// Transactions skipped as likely CoinJoins.
    pub coinjoins_skipped: u64,
}

/// One cluster: its stable id and members (sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// The stable cluster id (see [`cluster_id`]).
    pub id: String,
    /// Member addresses, sorted.
    pub members: Vec<Address>,
}

/// The id of a cluster: `c` + 16 hex digits of SHA-256 of its smallest member, so it depends
/// only on the membership's least element, not on ingest or scan order.
pub fn cluster_id(smallest_member: &Address) -> String {
    let h = sha256::Hash::hash(smallest_member.to_string().as_bytes());
    format!("c{}", hex::encode(&h.as_byte_array()[..8]))
}

impl Clusterer {
    /// A clusterer that has seen no transaction.
    pub fn new() -> Self {
        Self::default()
    }

    fn id(&mut self, a: &Address) -> u32 {
        if let Some(i) = self.ids.get(a) {
            return *i;
        }
        let i = self.addrs.len() as u32;
        self.ids.insert(a.clone(), i);
        self.addrs.push(a.clone());
        self.parent.push(i);
        self.size.push(1);
        i
    }

    fn find(&mut self, mut i: u32) -> u32 {
        while self.parent[i as usize] != i {
            let p = self.parent[i as usize];
            self.parent[i as usize] = self.parent[p as usize];
            i = p;
        }
        i
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let (big, small) = if self.size[ra as usize] >= self.size[rb as usize] { (ra, rb) } else { (rb, ra) };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
    }

    /// Feed one transaction: its input addresses (one per input, repeats allowed) and its
    /// output values. Returns whether the inputs were joined.
    pub fn add_tx(&mut self, inputs: &[&Address], output_values: &[u64]) -> bool {
        let mut distinct: Vec<&Address> = inputs.iter().copied().filter(|a| **a != Address::Coinbase).collect();
        distinct.sort();
        distinct.dedup();
        if distinct.len() < 2 {
            return false;
        }
        if is_likely_coinjoin(distinct.len(), output_values) {
            self.coinjoins_skipped += 1;
            return false;
        }
        let first = self.id(distinct[0]);
        for a in &distinct[1..] {
            let i = self.id(a);
            self.union(first, i);
        }
        self.joined_txs += 1;
        true
    }

    /// Every cluster with at least two members, sorted by id.
    pub fn clusters(&mut self) -> Vec<Cluster> {
        let mut groups: HashMap<u32, Vec<Address>> = HashMap::new();
        for i in 0..self.addrs.len() as u32 {
            let r = self.find(i);
            groups.entry(r).or_default().push(self.addrs[i as usize].clone());
        }
        let mut out: Vec<Cluster> = groups
            .into_values()
            .filter(|m| m.len() >= 2)
            .map(|mut members| {
                members.sort();
                Cluster { id: cluster_id(&members[0]), members }
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn a(i: u32) -> Address {
        Address::Bitcoin(format!("a{i:03}"))
    }

    #[test]
    fn joins_co_spent_inputs_and_skips_coinjoins() {
        let mut c = Clusterer::new();
        assert!(c.add_tx(&[&a(1), &a(2)], &[100, 5]));
        assert!(c.add_tx(&[&a(2), &a(3)], &[7]));
        assert!(!c.add_tx(&[&a(9)], &[1, 2]), "one input address joins nothing");
        // A CoinJoin: five participants, five equal outputs plus change.
        let ins = [a(10), a(11), a(12), a(13), a(14)];
        let refs: Vec<&Address> = ins.iter().collect();
        assert!(!c.add_tx(&refs, &[1_000_000, 1_000_000, 1_000_000, 1_000_000, 1_000_000, 3_456]));
        assert_eq!(c.coinjoins_skipped, 1);
        // An ordinary batch payment from two addresses with two equal outputs is joined.
        assert!(c.add_tx(&[&a(20), &a(21)], &[500, 500, 77]));
        let cl = c.clusters();
        assert_eq!(cl.len(), 2);
        let big = cl.iter().find(|x| x.members.len() == 3).unwrap();
        assert_eq!(big.members, vec![a(1), a(2), a(3)]);
        assert_eq!(big.id, cluster_id(&a(1)));
        assert!(big.id.starts_with('c') && big.id.len() == 17);
    }

    proptest! {
        /// Against a naive oracle: repeated merging of overlapping sets until nothing changes.
        #[test]
        fn matches_naive_components(txs in proptest::collection::vec(proptest::collection::vec(0u32..30, 1..5), 0..25)) {
            let mut c = Clusterer::new();
            for t in &txs {
                let addrs: Vec<Address> = t.iter().map(|i| a(*i)).collect();
                let refs: Vec<&Address> = addrs.iter().collect();
                c.add_tx(&refs, &[1]);
            }
            let mut sets: Vec<std::collections::BTreeSet<u32>> = txs
                .iter()
                .map(|t| t.iter().copied().collect::<std::collections::BTreeSet<u32>>())
                .filter(|s| s.len() >= 2)
                .collect();
            loop {
                let mut merged = false;
                'outer: for i in 0..sets.len() {
                    for j in i + 1..sets.len() {
                        if !sets[i].is_disjoint(&sets[j]) {
                            let s = sets.remove(j);
                            sets[i].extend(s);
                            merged = true;
                            break 'outer;
                        }
                    }
                }
                if !merged { break; }
            }
            let mut want: Vec<Vec<Address>> = sets.into_iter().map(|s| s.into_iter().map(a).collect()).collect();
            want.sort();
            let mut got: Vec<Vec<Address>> = c.clusters().into_iter().map(|c| c.members).collect();
            got.sort();
            prop_assert_eq!(got, want);
        }
    }
}
