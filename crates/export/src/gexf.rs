//! GEXF 1.3 (<https://gexf.net/>) for Gephi: typed attribute columns, node colours, sizes and
//! positions from the project's layered layout (so the file opens already laid out left to
//! right by hop), and time on every edge so Gephi's timeline plays the flow.
//!
//! Time: the graph is `mode="dynamic"` with interval time; each edge *starts* at its
//! transfer's time and has no end (once money moved, the edge stays), each node starts at
//! the first transfer that touches it. `timeformat` is `date` with full RFC 3339 values:
//! Gephi parses date-times under either `date` or `datetime`, and networkx (whose GEXF
//! reader knows only `integer`, `double` and `date`) reads `date` but fails on `datetime`.
//!
//! The node label and edge weight use GEXF's own `label` and `weight` attributes (Gephi's
//! built-in columns) rather than attribute columns of the same name.

use chaintrace_model::EdgeKind;

use crate::{
    graph::{edge_values, graph_colour, node_values, Graph, EDGE_ATTRS, NODE_ATTRS},
    graphml::Xml,
    layout,
};

/// Attributes carried natively by GEXF elements, not as `<attvalue>`s.
fn native(name: &str) -> bool {
    matches!(name, "label" | "weight")
}

/// The case as a GEXF 1.3 document with typed attributes and edges timed for Gephi's timeline.
pub fn render(graph: &Graph<'_>) -> Vec<u8> {
    let case = graph.case;
    let lay = layout::layered(graph);
    let first_seen = graph.first_seen();
    let mut x = Xml::new();
    x.open(
        "gexf",
        &[
            ("xmlns", "http://gexf.net/1.3"),
            ("xmlns:viz", "http://gexf.net/1.3/viz"),
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
            ("xsi:schemaLocation", "http://gexf.net/1.3 http://gexf.net/1.3/gexf.xsd"),
            ("version", "1.3"),
        ],
    );
    x.open("meta", &[]);
    let creator = if case.provenance.tool_version.is_empty() {
        "chaintrace".to_string()
    } else {
        format!("chaintrace {}", case.provenance.tool_version)
    };
    x.text_element("creator", &[], &creator);
    let description = format!(
        "{} trace from {} seed(s): {} addresses, {} transfers, {} exchange deposits",
        case.chain,
        case.seeds.len(),
        case.nodes.len(),
        case.edges.len(),
        case.deposits.len()
    );
    x.text_element("description", &[], &description);
    x.close("meta");
    x.open(
        "graph",
        &[
            ("defaultedgetype", "directed"),
            ("mode", "dynamic"),
            ("timeformat", "date"),
            ("timerepresentation", "interval"),
        ],
    );
    for (class, specs) in [("node", NODE_ATTRS), ("edge", EDGE_ATTRS)] {
        x.open("attributes", &[("class", class), ("mode", "static")]);
        for spec in specs.iter().filter(|s| !native(s.name)) {
            x.empty("attribute", &[("id", spec.name), ("title", spec.name), ("type", spec.ty.gexf())]);
        }
        x.close("attributes");
    }

    x.open("nodes", &[]);
    for (i, node) in graph.nodes().iter().enumerate() {
        let values = node_values(node);
        let label = values.iter().find(|(s, _)| s.name == "label").map(|(_, v)| v.render()).unwrap_or_default();
        let id = graph.node_id(i);
        let mut attrs: Vec<(&str, &str)> = vec![("id", &id), ("label", &label)];
        if let Some(start) = first_seen[i] {
            attrs.push(("start", start));
        }
        x.open("node", &attrs);
        x.open("attvalues", &[]);
        for (spec, value) in values.iter().filter(|(s, _)| !native(s.name)) {
            x.empty("attvalue", &[("for", spec.name), ("value", &value.render())]);
        }
        x.close("attvalues");
        let (r, g, b) = graph_colour(node.role);
        x.empty("viz:color", &[("r", &r.to_string()), ("g", &g.to_string()), ("b", &b.to_string())]);
        let size = layout::node_size(node.role);
        x.empty("viz:size", &[("value", &size.to_string())]);
        let (px, py) = lay.positions[i];
        // Gephi's y axis points up; the layout's points down.
        x.empty("viz:position", &[("x", &format!("{px:.1}")), ("y", &format!("{:.1}", -py)), ("z", "0.0")]);
        x.close("node");
    }
    x.close("nodes");

    x.open("edges", &[]);
    for (i, edge) in graph.edges().iter().enumerate() {
        let values = edge_values(edge);
        let label = match edge.kind {
            EdgeKind::Swap => crate::graph::swap_text(edge),
            _ => format!("{} {}", edge.traced_amount, crate::graph::asset_symbol(edge)),
        };
        let id = format!("e{i}");
        let (source, target) = graph.edge_ids(edge);
        let weight = values
            .iter()
            .find(|(s, _)| s.name == "weight")
            .map(|(_, v)| v.render())
            .unwrap_or_else(|| "1.0".to_string());
        x.open(
            "edge",
            &[
                ("id", &id),
                ("source", &source),
                ("target", &target),
                ("label", &label),
                ("weight", &weight),
                ("start", &edge.time),
            ],
        );
        x.open("attvalues", &[]);
        for (spec, value) in values.iter().filter(|(s, _)| !native(s.name)) {
            x.empty("attvalue", &[("for", spec.name), ("value", &value.render())]);
        }
        x.close("attvalues");
        x.close("edge");
    }
    x.close("edges");
    x.close("graph");
    x.close("gexf");
    x.finish()
}
