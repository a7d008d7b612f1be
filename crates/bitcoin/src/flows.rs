//! Address-level edges of one transaction (SPEC "The graph"): the edge from input address A to
//! output address B carries B's output value times A's share of the inputs' value.
//!
//! Integer arithmetic only. For every output address the edges into it sum exactly to its
//! value: each input's share is rounded down and the remaining satoshis go to the inputs with
//! the largest remainders (ties to the earlier input), so the result is exact and
//! deterministic.

use chaintrace_model::Address;

/// One address-level edge: indices into the grouped inputs/outputs and the amount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge<'a> {
    /// The paying address.
    pub from: &'a Address,
    /// The paid address.
    pub to: &'a Address,
    /// Amount in sats.
    pub amount: u64,
}

/// Group `(address, value)` pairs by address, keeping the order of first appearance and
/// summing the values.
pub fn group<'a>(items: impl IntoIterator<Item = (&'a Address, u64)>) -> Vec<(&'a Address, u64)> {
    let mut out: Vec<(&'a Address, u64)> = Vec::new();
    // Transactions are small; a linear scan beats hashing up to a few dozen entries, and large
    // ones fall back to an index map.
    let mut index: Option<std::collections::HashMap<&'a Address, usize>> = None;
    for (a, v) in items {
        if index.is_none() && out.len() >= 32 {
            index = Some(out.iter().enumerate().map(|(i, (a, _))| (*a, i)).collect());
        }
        let found = match &index {
            Some(ix) => ix.get(a).copied(),
            None => out.iter().position(|(b, _)| *b == a),
        };
        match found {
            Some(i) => out[i].1 = out[i].1.saturating_add(v),
            None => {
                if let Some(ix) = index.as_mut() {
                    ix.insert(a, out.len());
                }
                out.push((a, v));
            }
        }
    }
    out
}

/// The edges of a transaction whose inputs (already grouped by address, see [`group`]) carry
/// `inputs` and whose outputs (grouped, OP_RETURN excluded) carry `outputs`.
///
/// Edges come in output order, then input order; zero amounts are left out. When the inputs
/// carry no value at all there is no share to follow and no edge is produced.
pub fn edges<'a>(inputs: &[(&'a Address, u64)], outputs: &[(&'a Address, u64)]) -> Vec<Edge<'a>> {
    let total: u128 = inputs.iter().map(|(_, v)| *v as u128).sum();
    let mut out = Vec::with_capacity(inputs.len() * outputs.len());
    if total == 0 {
        return out;
    }
    let mut shares: Vec<(u64, u128)> = vec![(0, 0); inputs.len()];
    let mut order: Vec<usize> = Vec::with_capacity(inputs.len());
    for &(to, b) in outputs {
        if b == 0 {
            continue;
        }
        let mut assigned: u128 = 0;
        for (i, &(_, a)) in inputs.iter().enumerate() {
            let p = b as u128 * a as u128;
            let q = p / total;
            shares[i] = (q as u64, p % total);
            assigned += q;
        }
        // Sum of floors is within inputs.len() of b, and b - assigned < inputs.len().
        let mut left = b as u128 - assigned;
        if left > 0 {
            order.clear();
            order.extend(0..inputs.len());
            order.sort_by(|&x, &y| shares[y].1.cmp(&shares[x].1).then(x.cmp(&y)));
            for &i in &order {
                if left == 0 {
                    break;
                }
                shares[i].0 += 1;
                left -= 1;
            }
        }
        for (i, &(from, _)) in inputs.iter().enumerate() {
            if shares[i].0 > 0 {
                out.push(Edge { from, to, amount: shares[i].0 });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn a(s: &str) -> Address {
        Address::Bitcoin(s.to_string())
    }

    #[test]
    fn proportional_and_exact() {
        let (x, y, p, q) = (a("x"), a("y"), a("p"), a("q"));
        let ins = group([(&x, 1), (&y, 2)]);
        let outs = group([(&p, 100), (&q, 1)]);
        let e = edges(&ins, &outs);
        // 100 * 1/3 = 33.33, 100 * 2/3 = 66.67 → 33 + 67; 1 * 1/3, 1 * 2/3 → 0 + 1.
        let got: Vec<_> = e.iter().map(|e| (e.from.to_string(), e.to.to_string(), e.amount)).collect();
        assert_eq!(got, vec![("x".into(), "p".into(), 33), ("y".into(), "p".into(), 67), ("y".into(), "q".into(), 1)]);
    }

    #[test]
    fn groups_repeated_addresses() {
        let (x, p) = (a("x"), a("p"));
        let g = group([(&x, 5), (&p, 1), (&x, 7)]);
        assert_eq!(g, vec![(&x, 12), (&p, 1)]);
        let many: Vec<Address> = (0..100).map(|i| a(&format!("a{}", i % 40))).collect();
        let g = group(many.iter().map(|m| (m, 1)));
        assert_eq!(g.len(), 40);
        assert_eq!(g.iter().map(|(_, v)| v).sum::<u64>(), 100);
    }

    #[test]
    fn no_input_value_no_edges() {
        let (x, p) = (a("x"), a("p"));
        assert!(edges(&[(&x, 0)], &[(&p, 0)]).is_empty());
    }

    proptest! {
        /// Against a naive oracle: every edge is within one satoshi of the exact rational
        /// share, and the edges into each output sum to its value exactly.
        #[test]
        fn sums_exactly(ins in proptest::collection::vec(0u64..=2_100_000_000_000_000, 1..8),
                        outs in proptest::collection::vec(0u64..=2_100_000_000_000_000, 1..8)) {
            let ia: Vec<Address> = (0..ins.len()).map(|i| a(&format!("i{i}"))).collect();
            let oa: Vec<Address> = (0..outs.len()).map(|i| a(&format!("o{i}"))).collect();
            let gi: Vec<_> = ia.iter().zip(ins.iter().copied()).collect();
            let go: Vec<_> = oa.iter().zip(outs.iter().copied()).collect();
            let total: u128 = ins.iter().map(|v| *v as u128).sum();
            let e = edges(&gi, &go);
            if total == 0 {
                prop_assert!(e.is_empty());
            } else {
                for (o, b) in &go {
                    let sum: u64 = e.iter().filter(|e| e.to == *o).map(|e| e.amount).sum();
                    prop_assert_eq!(sum, *b);
                }
                for ed in &e {
                    let av = gi.iter().find(|(x, _)| *x == ed.from).unwrap().1 as u128;
                    let bv = go.iter().find(|(x, _)| *x == ed.to).unwrap().1 as u128;
                    let exact_floor = (bv * av).checked_div(total).unwrap();
                    prop_assert!(ed.amount as u128 == exact_floor || ed.amount as u128 == exact_floor + 1);
                    prop_assert!(ed.amount > 0);
                }
                prop_assert_eq!(e.clone(), edges(&gi, &go));
            }
        }
    }
}
