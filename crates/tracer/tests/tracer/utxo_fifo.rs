//! FIFO on a UTXO chain runs through each transaction's inputs (vin order) to its outputs (vout
//! order); checked against values computed by hand, and against address-level FIFO on the same
//! transfers to show the difference.

use chaintrace_model::{Address, Asset, Hash32, Position, Transfer, UtxoOutput, UtxoSpend, U256};
use chaintrace_tracer::{trace, MemGraph, Policy, TraceOptions};

fn a(s: &str) -> Address {
    Address::Bitcoin(s.to_string())
}

fn h(i: u8) -> Hash32 {
    Hash32([i; 32])
}

struct Tx {
    id: u8,
    height: u64,
    /// (prev tx id, vout, owner, value)
    inputs: Vec<(u8, u32, &'static str, u64)>,
    outputs: Vec<(&'static str, u64)>,
}

/// Address-level edges as SPEC defines them: output value × the sender's share of the inputs.
fn build(txs: &[Tx], utxo: bool) -> MemGraph {
    let mut g = MemGraph::new("bitcoin");
    for (idx, tx) in txs.iter().enumerate() {
        let total_in: u64 = tx.inputs.iter().map(|i| i.3).sum();
        let mut sub = 0;
        for (owner, v) in &tx.outputs {
            let mut senders: Vec<(&str, u64)> = Vec::new();
            for i in &tx.inputs {
                match senders.iter_mut().find(|(s, _)| *s == i.2) {
                    Some(s) => s.1 += i.3,
                    None => senders.push((i.2, i.3)),
                }
            }
            if tx.inputs.is_empty() {
                senders.push(("coinbase", 1));
            }
            for (s, share) in senders {
                let amount = (v * share).checked_div(total_in).unwrap_or(*v);
                g.add_transfer(Transfer {
                    tx: h(tx.id),
                    height: tx.height,
                    pos: Position { tx_index: idx as u32, sub },
                    time: 1_231_006_505 + tx.height * 600,
                    from: if s == "coinbase" { Address::Coinbase } else { a(s) },
                    to: a(owner),
                    asset: Asset::Native,
                    amount: U256::from(amount),
                });
                sub += 1;
            }
        }
        if utxo {
            let spends = tx
                .inputs
                .iter()
                .enumerate()
                .map(|(vin, i)| UtxoSpend { txid: h(tx.id), vin: vin as u32, prev_txid: h(i.0), prev_vout: i.1 })
                .collect();
            let outputs = tx
                .outputs
                .iter()
                .enumerate()
                .map(|(vout, (o, v))| UtxoOutput { txid: h(tx.id), vout: vout as u32, address: Some(a(o)), value: *v })
                .collect();
            g.add_utxo_tx(h(tx.id), spends, outputs);
        }
    }
    g
}

fn txs() -> Vec<Tx> {
    vec![
        Tx { id: 1, height: 1, inputs: vec![], outputs: vec![("S", 10)] },
        Tx { id: 2, height: 1, inputs: vec![], outputs: vec![("C", 6)] },
        // the seed pays X 10 (hop 1); later an unrelated C pays X 6
        Tx { id: 3, height: 2, inputs: vec![(1, 0, "S", 10)], outputs: vec![("X", 10)] },
        Tx { id: 4, height: 3, inputs: vec![(2, 0, "C", 6)], outputs: vec![("X", 6)] },
        // X spends its clean coin first (vin 0), then the tainted one: B gets 6 clean + 2 traced,
        // D gets 8 traced
        Tx { id: 5, height: 4, inputs: vec![(4, 0, "X", 6), (3, 0, "X", 10)], outputs: vec![("B", 8), ("D", 8)] },
        // D: 3 to E, 5 change; B: 7 to F (6 clean + 1 traced), 1 to G (traced)
        Tx { id: 6, height: 5, inputs: vec![(5, 1, "D", 8)], outputs: vec![("E", 3), ("D", 5)] },
        Tx { id: 7, height: 6, inputs: vec![(5, 0, "B", 8)], outputs: vec![("F", 7), ("G", 1)] },
    ]
}

fn traced(g: &MemGraph) -> Vec<(String, String, u64, u64, u32)> {
    let mut o = TraceOptions::new(vec![a("S")], "BTC", 8);
    o.policy = Policy::Fifo;
    let t = trace(g, &o).unwrap();
    t.edges
        .iter()
        .map(|e| {
            (
                e.transfer.from.to_string(),
                e.transfer.to.to_string(),
                e.transfer.amount.to::<u64>(),
                e.traced.to::<u64>(),
                e.hop,
            )
        })
        .collect()
}

fn row(f: &str, t: &str, amount: u64, tr: u64, hop: u32) -> (String, String, u64, u64, u32) {
    (f.to_string(), t.to_string(), amount, tr, hop)
}

#[test]
fn fifo_through_transaction_inputs_to_outputs() {
    assert_eq!(
        traced(&build(&txs(), true)),
        vec![
            row("S", "X", 10, 10, 1),
            row("X", "B", 8, 2, 2),
            row("X", "D", 8, 8, 2),
            row("D", "E", 3, 3, 3),
            row("D", "D", 5, 5, 3),
            row("B", "F", 7, 1, 3),
            row("B", "G", 1, 1, 3),
        ]
    );
}

#[test]
fn address_level_fifo_differs_where_vin_order_differs_from_arrival_order() {
    // without UTXO structure, X's queue is arrival order: 10 traced (height 2), then 6 clean
    let rows = traced(&build(&txs(), false));
    assert!(rows.contains(&row("X", "B", 8, 8, 2)), "{rows:?}");
    assert!(rows.contains(&row("X", "D", 8, 2, 2)), "{rows:?}");
}
