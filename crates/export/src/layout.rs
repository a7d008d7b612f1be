//! A layered left-to-right layout: one column per hop (seeds at the left, cash-out points
//! where their hop puts them), nodes ordered inside a column by the barycentre heuristic
//! (Sugiyama's crossing reduction, a few sweeps each way) so the flow reads with few
//! crossings. Deterministic: the same case gives the same picture.

use std::collections::BTreeSet;

use chaintrace_model::Role;

use crate::graph::{role_rank, Graph};

/// Width of a node box, SVG user units (px).
pub const NODE_W: f64 = 188.0;
/// Height of a node box, px.
pub const NODE_H: f64 = 56.0;
/// Distance between the centres of neighbouring columns, px.
pub const COL_STEP: f64 = 340.0;
/// Distance between the centres of neighbouring rows in a column, px.
pub const ROW_STEP: f64 = 84.0;
/// Space left and right of the drawing, px.
pub const MARGIN_X: f64 = 40.0;
/// Space above and below the drawing, px.
pub const MARGIN_Y: f64 = 56.0;
const SWEEPS: usize = 6;

/// Where every node of a graph is drawn.
pub struct Layout {
    /// Centre of each node, in the case's node order.
    pub positions: Vec<(f64, f64)>,
    /// Column of each node.
    pub column: Vec<usize>,
    /// The hop each column shows.
    pub column_hops: Vec<u32>,
    /// Width of the whole drawing, px.
    pub width: f64,
    /// Height of the whole drawing, px.
    pub height: f64,
}

/// Size of a node in Gephi's units.
pub fn node_size(role: Role) -> f64 {
    match role {
        Role::Seed => 20.0,
        Role::ExchangeDeposit | Role::Exchange => 18.0,
        Role::Service => 14.0,
        Role::Intermediate | Role::Stop | Role::Bridge => 10.0,
    }
}

/// Lay `graph` out in hop columns with few crossings; deterministic.
pub fn layered(graph: &Graph<'_>) -> Layout {
    let nodes = graph.nodes();
    let hops: Vec<u32> = nodes.iter().map(|n| n.hop).collect::<BTreeSet<_>>().into_iter().collect();
    let column: Vec<usize> = nodes.iter().map(|n| hops.binary_search(&n.hop).expect("every hop is a column")).collect();

    // Undirected neighbour lists, without duplicates (parallel transfers count once).
    let mut neighbours: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); nodes.len()];
    for edge in graph.edges() {
        if let Some((a, b)) = graph.edge_ends(edge) {
            if a != b {
                neighbours[a].insert(b);
                neighbours[b].insert(a);
            }
        }
    }

    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); hops.len()];
    for (i, c) in column.iter().enumerate() {
        columns[*c].push(i);
    }
    for col in &mut columns {
        col.sort_by(|&a, &b| {
            (role_rank(nodes[a].role), &nodes[a].address).cmp(&(role_rank(nodes[b].role), &nodes[b].address))
        });
    }
    let mut order = vec![0.0f64; nodes.len()];
    let renumber = |columns: &Vec<Vec<usize>>, order: &mut Vec<f64>| {
        for col in columns {
            // Positions are centred so columns of different sizes line up on their middles.
            let offset = (col.len() as f64 - 1.0) / 2.0;
            for (k, &n) in col.iter().enumerate() {
                order[n] = k as f64 - offset;
            }
        }
    };
    renumber(&columns, &mut order);
    for sweep in 0..SWEEPS {
        let forward = sweep % 2 == 0;
        let range: Vec<usize> =
            if forward { (1..columns.len()).collect() } else { (0..columns.len().saturating_sub(1)).rev().collect() };
        for c in range {
            let mut keyed: Vec<(f64, usize)> = columns[c]
                .iter()
                .map(|&n| {
                    let ns: Vec<f64> = neighbours[n]
                        .iter()
                        .filter(|&&m| if forward { column[m] < c } else { column[m] > c })
                        .map(|&m| order[m])
                        .collect();
                    let key = if ns.is_empty() { order[n] } else { ns.iter().sum::<f64>() / ns.len() as f64 };
                    (key, n)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
            columns[c] = keyed.into_iter().map(|(_, n)| n).collect();
            let offset = (columns[c].len() as f64 - 1.0) / 2.0;
            for (k, &n) in columns[c].iter().enumerate() {
                order[n] = k as f64 - offset;
            }
        }
    }

    let tallest = columns.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let inner_h = (tallest as f64 - 1.0) * ROW_STEP + NODE_H;
    let mut positions = vec![(0.0, 0.0); nodes.len()];
    for (c, col) in columns.iter().enumerate() {
        let x = MARGIN_X + NODE_W / 2.0 + c as f64 * COL_STEP;
        let col_h = (col.len() as f64 - 1.0) * ROW_STEP;
        let top = MARGIN_Y + NODE_H / 2.0 + (inner_h - NODE_H - col_h) / 2.0;
        for (k, &n) in col.iter().enumerate() {
            positions[n] = (x, top + k as f64 * ROW_STEP);
        }
    }
    let width = 2.0 * MARGIN_X + NODE_W + (hops.len().max(1) as f64 - 1.0) * COL_STEP;
    let height = 2.0 * MARGIN_Y + inner_h;
    Layout { positions, column, column_hops: hops, width, height }
}
