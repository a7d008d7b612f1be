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
/// `position`s): `serde_json`'s pretty text of the whole document, each element made and
/// formatted in turn instead of holding every element's JSON value at once (a case of 77k edges
/// held 1.2 GiB of them).
pub fn render(graph: &Graph<'_>) -> Vec<u8> {
    let case = graph.case;
    let lay = layout::layered(graph);
    let node = |i: usize| -> Value {
        let node = &graph.nodes()[i];
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
    };
    let edge = |i: usize| -> Value {
        let edge = &graph.edges()[i];
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
    };

    // The document with both element arrays empty; its keys are sorted (a `serde_json` map),
    // so `elements` holds `edges` then `nodes`.
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
        "elements": {"edges": [], "nodes": []},
    });
    let text = serde_json::to_vec_pretty(&doc).expect("JSON values serialise");
    const EMPTY: &[u8] = b"\n  \"elements\": {\n    \"edges\": [],\n    \"nodes\": []\n  },\n";
    let at = text.windows(EMPTY.len()).position(|w| w == EMPTY).expect("the elements are a top-level key");
    let mut out = Vec::with_capacity(text.len() + (graph.nodes().len() + graph.edges().len()) * 640);
    out.extend_from_slice(&text[..at]);
    out.extend_from_slice(b"\n  \"elements\": {\n    \"edges\": [");
    array(&mut out, graph.edges().len(), edge);
    out.extend_from_slice(b",\n    \"nodes\": [");
    array(&mut out, graph.nodes().len(), node);
    out.extend_from_slice(b"\n  },\n");
    out.extend_from_slice(&text[at + EMPTY.len()..]);
    out.push(b'\n');
    out
}

/// `n` elements, `element(0)` first, as the pretty printer writes an array's contents three
/// levels in (after its `[`, through its `]`).
fn array(out: &mut Vec<u8>, n: usize, element: impl Fn(usize) -> Value) {
    for i in 0..n {
        out.extend_from_slice(if i == 0 { b"\n      " } else { b",\n      " });
        chaintrace_model::pretty_json_at(out, &element(i), 3).expect("JSON values serialise into memory");
    }
    out.extend_from_slice(if n == 0 { b"]" } else { b"\n    ]" });
}
