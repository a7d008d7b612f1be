//! Cytoscape.js JSON: `{"data": {...case...}, "elements": {"nodes": [...], "edges": [...]}}`,
//! the shape `cy.json()` reads and writes (Cytoscape desktop imports it as "Cytoscape.js
//! JSON"). Each element's `data` holds every attribute (see [`crate::graph`]) plus the ids
//! Cytoscape needs (`id`, and `source`/`target` on edges); `classes` carries the role so a
//! stylesheet can colour it; `position` is the project's layered layout. JSON carries any
//! text exactly (control characters as `\u` escapes), so nothing is replaced here.

use serde_json::{json, Map, Value};

use crate::{
    graph::{asset_symbol, edge_values, node_values, Graph},
    layout,
};

/// The case as Cytoscape.js elements JSON (`nodes` and `edges` with `data`, nodes with layered
/// `position`s).
pub fn render(graph: &Graph<'_>) -> Vec<u8> {
    let case = graph.case;
    let lay = layout::layered(graph);

    let nodes: Vec<Value> = graph
        .nodes()
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let mut data = Map::new();
            data.insert("id".into(), Value::String(graph.node_id(i)));
            for (spec, value) in node_values(node) {
                data.insert(spec.name.into(), value.to_json());
            }
            // The label list as structured JSON too (the `labels` attribute above is its
            // JSON text, kept for tools that want flat string attributes).
            let labels: Vec<Value> = node
                .labels
                .iter()
                .map(|l| json!({"category": l.category, "entity": l.entity, "source": l.source}))
                .collect();
            data.insert("label_list".into(), Value::Array(labels));
            let (x, y) = lay.positions[i];
            json!({
                "group": "nodes",
                "data": data,
                "classes": node.role.as_str(),
                "position": {"x": x, "y": y},
            })
        })
        .collect();

    let edges: Vec<Value> = graph
        .edges()
        .iter()
        .enumerate()
        .map(|(i, edge)| {
            let mut data = Map::new();
            data.insert("id".into(), Value::String(format!("e{i}")));
            let (source, target) = graph.edge_ids(edge);
            data.insert("source".into(), Value::String(source));
            data.insert("target".into(), Value::String(target));
            let label = match edge.kind {
                chaintrace_model::EdgeKind::Swap => crate::graph::swap_text(edge),
                _ => format!("{} {}", edge.traced_amount, asset_symbol(edge)),
            };
            data.insert("label".into(), Value::String(label));
            for (spec, value) in edge_values(edge) {
                data.insert(spec.name.into(), value.to_json());
            }
            if edge.usd.is_none() {
                data.insert("usd".into(), Value::Null);
            }
            json!({"group": "edges", "data": data, "classes": edge.kind.as_str()})
        })
        .collect();

    let doc = json!({
        "format": "cytoscape.js",
        "generator": format!("chaintrace {}", case.provenance.tool_version),
        "data": {
            "name": format!("chaintrace {} case", case.chain),
            "chain": case.chain,
            "seeds": case.seeds,
            "params": case.params,
            "provenance": case.provenance,
            "deposits": case.deposits,
        },
        "elements": {"nodes": nodes, "edges": edges},
    });
    let mut out = serde_json::to_vec_pretty(&doc).expect("JSON values serialise");
    out.push(b'\n');
    out
}
