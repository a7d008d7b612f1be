//! Graphviz DOT: `rankdir=LR`, one `rank=same` group per hop, a shape and colour per role
//! (seeds double octagons in red, exchange deposits bold double-bordered amber boxes,
//! exchanges teal cylinders, stops dashed), edge labels with the traced amount and the asset
//! symbol. Every case attribute is also written as a custom DOT attribute (`role`, `hop`,
//! `tx`, `block`, …): Graphviz keeps unknown attributes (`dot -Tdot`/`-Tcanon` carry them)
//! and ignores them when drawing. Render with `dot -Tsvg case.dot > case.svg`.

use std::fmt::Write as _;

use chaintrace_model::{EdgeKind, Role};

use crate::{
    graph::{asset_symbol, chain_colour, display_label, edge_values, hex_colour, node_values, Graph},
    text,
};

fn q(s: &str) -> String {
    format!("\"{}\"", text::dot(s))
}

fn role_style(role: Role) -> &'static str {
    match role {
        Role::Seed => "shape=doubleoctagon, style=\"filled,bold\", fontcolor=\"white\", penwidth=2",
        Role::Intermediate => "shape=box, style=\"rounded,filled\", fontcolor=\"white\"",
        Role::ExchangeDeposit => {
            "shape=box, style=\"filled,bold\", peripheries=2, penwidth=3, color=\"#8a5a00\", fontcolor=\"black\""
        }
        Role::Exchange => "shape=cylinder, style=\"filled\", fontcolor=\"white\"",
        Role::Service => "shape=hexagon, style=\"filled\", fontcolor=\"white\"",
        Role::Stop => "shape=octagon, style=\"dashed,filled\", fontcolor=\"black\"",
        Role::Bridge => "shape=invhouse, style=\"dashed,filled\", fontcolor=\"white\"",
    }
}

/// Attributes that Graphviz itself interprets and the case does not mean that way.
fn custom_attr_ok(name: &str) -> bool {
    !matches!(name, "label" | "weight")
}

/// The case as a Graphviz digraph, left to right, nodes coloured by role.
pub fn render(graph: &Graph<'_>) -> String {
    let case = graph.case;
    let mut out = String::new();
    let title = format!(
        "{} trace · {} seed(s) · {} addresses · {} transfers · {} exchange deposits",
        case.chain,
        case.seeds.len(),
        case.nodes.len(),
        case.edges.len(),
        case.deposits.len()
    );
    let _ = writeln!(out, "digraph {} {{", q(&format!("chaintrace {}", case.chain)));
    let _ = writeln!(
        out,
        "  graph [rankdir=LR, charset=\"UTF-8\", fontname=\"Helvetica\", label={}, labelloc=t, \
         fontsize=14, nodesep=0.35, ranksep=1.4, splines=true];",
        q(&title)
    );
    let _ = writeln!(out, "  node [fontname=\"Helvetica\", fontsize=10, margin=\"0.15,0.06\"];");
    let _ = writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#5b6b7f\", fontcolor=\"#1d2733\"];");

    let mut hops: Vec<u32> = graph.nodes().iter().map(|n| n.hop).collect();
    hops.sort_unstable();
    hops.dedup();
    for hop in hops {
        let members: Vec<String> =
            graph.nodes().iter().enumerate().filter(|(_, n)| n.hop == hop).map(|(i, _)| q(&graph.node_id(i))).collect();
        let rank = if hop == 0 { "source" } else { "same" };
        let _ = writeln!(out, "  {{ rank={rank}; {}; }}", members.join("; "));
    }

    for (i, node) in graph.nodes().iter().enumerate() {
        let display = display_label(node);
        let short = text::short_address(&node.address);
        let mut label = String::new();
        if node.role == Role::ExchangeDeposit {
            label.push_str("EXCHANGE DEPOSIT\n");
        }
        label.push_str(&display);
        if display != short {
            label.push('\n');
            label.push_str(&short);
        }
        if graph.multi_chain() {
            let _ = write!(label, "\non {}", graph.node_chain(node));
        }
        let _ = write!(label, "\nhop {} · {}", node.hop, node.role.as_str());
        if let Some(reason) = &node.stop_reason {
            let _ = write!(label, " ({reason})");
        }
        let values = node_values(node);
        let tooltip: Vec<String> = values.iter().map(|(s, v)| format!("{}: {}", s.name, v.render())).collect();
        let _ = write!(
            out,
            "  {} [label={}, tooltip={}, fillcolor=\"{}\", {}",
            q(&graph.node_id(i)),
            q(&label),
            q(&tooltip.join("\n")),
            hex_colour(node.role),
            role_style(node.role)
        );
        for (spec, value) in values.iter().filter(|(s, _)| custom_attr_ok(s.name)) {
            let _ = write!(out, ", {}={}", spec.name, q(&value.render()));
        }
        out.push_str("];\n");
    }

    for edge in graph.edges() {
        let mut label = match edge.kind {
            EdgeKind::Swap => format!("swap\n{}", crate::graph::swap_text(edge)),
            EdgeKind::Bridge => format!(
                "bridge {} \u{2192} {}\n{} {}",
                edge.chain,
                edge.chain_to.as_deref().unwrap_or("(no release)"),
                edge.traced_amount,
                asset_symbol(edge)
            ),
            EdgeKind::Transfer => format!("{} {}", edge.traced_amount, asset_symbol(edge)),
        };
        if edge.kind == EdgeKind::Transfer && edge.traced_amount != edge.amount {
            let _ = write!(label, "\n(of {})", edge.amount);
        }
        if let Some(usd) = &edge.usd {
            let _ = write!(label, "\n${usd}");
        }
        if let Some(date) = edge.time.get(..10) {
            let _ = write!(label, "\n{date}");
        }
        let values = edge_values(edge);
        let tooltip: Vec<String> = values.iter().map(|(s, v)| format!("{}: {}", s.name, v.render())).collect();
        let (source, target) = graph.edge_ids(edge);
        let _ =
            write!(out, "  {} -> {} [label={}, tooltip={}", q(&source), q(&target), q(&label), q(&tooltip.join("\n")));
        let to_deposit = graph
            .node_index(graph.to_chain(edge), &edge.to)
            .is_some_and(|i| matches!(graph.nodes()[i].role, Role::ExchangeDeposit | Role::Exchange));
        match edge.kind {
            EdgeKind::Swap => out.push_str(", style=\"dashed\", color=\"#2f9e44\", penwidth=2"),
            EdgeKind::Bridge => out.push_str(", style=\"bold\", color=\"#5a67d8\", penwidth=3"),
            EdgeKind::Transfer if to_deposit => out.push_str(", color=\"#c98500\", penwidth=2"),
            EdgeKind::Transfer if graph.multi_chain() => {
                let _ = write!(out, ", color=\"{}\"", chain_colour(graph.chain_index(graph.from_chain(edge))));
            }
            EdgeKind::Transfer => {}
        }
        for (spec, value) in values.iter().filter(|(s, _)| custom_attr_ok(s.name)) {
            let _ = write!(out, ", {}={}", spec.name, q(&value.render()));
        }
        out.push_str("];\n");
    }
    out.push_str("}\n");
    out
}
