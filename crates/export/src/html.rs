//! One self-contained HTML page: a summary, an SVG picture of the flow laid out by
//! [`crate::layout`] (seeds at the left, one column per hop, exchange deposits highlighted,
//! traced amounts on the edges), a legend, the exchange-deposits table and, folded away, every
//! transfer and address with its labels. No script, no web font, no remote resource: the page
//! carries a Content-Security-Policy of `default-src 'none'` so it stays inert and offline
//! even if label text were hostile (all text is escaped anyway).
//!
//! Each node is one `<g class="node">` (role in `data-role`, full address in
//! `data-address`), each drawn edge one `<g class="edge">`. Transfers between the same two
//! addresses in the same asset are drawn as one edge with their exact sum and count; its
//! tooltip lists them.

use std::{collections::BTreeMap, fmt::Write as _};

use chaintrace_model::{CaseEdge, EdgeKind, Role};

/// Colour of swap edges in the picture.
const SWAP_COLOUR: &str = "#2f9e44";
/// Colour of bridge edges in the picture.
const BRIDGE_COLOUR: &str = "#5a67d8";

use crate::{
    graph::{
        asset_symbol, chain_colour, display_label, hex_colour, node_values, role_title, sum_decimals, Graph, ROLES,
    },
    layout::{self, Layout, NODE_H, NODE_W},
    text::{self, html as h},
};

const STYLE: &str = r#"
:root { --ink:#17212b; --muted:#5d6b7a; --line:#d9e0e7; --bg:#f6f8fa; --deposit:#f4a300; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; color:var(--ink); background:var(--bg); }
header { padding:24px 32px 8px; background:#fff; border-bottom:1px solid var(--line); }
h1 { margin:0 0 4px; font-size:22px; }
h2 { margin:0 0 12px; font-size:17px; }
.sub { margin:0; color:var(--muted); }
.mono, td.mono { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12px; }
.cards { display:flex; flex-wrap:wrap; gap:12px; margin:16px 0 8px; }
.card { background:var(--bg); border:1px solid var(--line); border-radius:10px; padding:10px 16px; min-width:150px; }
.card b { display:block; font-size:20px; }
.card span { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card.hot { background:#fff6e0; border-color:#f0c36a; }
section { margin:20px 32px; background:#fff; border:1px solid var(--line); border-radius:12px; padding:16px 20px; }
.legend { display:flex; flex-wrap:wrap; gap:16px; margin-bottom:10px; color:var(--muted); font-size:13px; }
.legend i { display:inline-block; width:14px; height:14px; border-radius:4px; vertical-align:-2px; margin-right:6px; border:2px solid transparent; }
.scroll { overflow:auto; border:1px solid var(--line); border-radius:8px; background:#fbfcfd; }
svg text { font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif; }
g.node text.name { font-weight:600; font-size:13px; }
g.node text.addr { font-family:ui-monospace,Menlo,Consolas,monospace; font-size:11px; }
g.node text.meta { font-size:10.5px; opacity:.85; }
g.node:hover rect.box { stroke-width:3; }
g.edge-label text { font-size:11px; font-weight:600; fill:#1d2733; paint-order:stroke; stroke:#fbfcfd; stroke-width:4px; stroke-linejoin:round; }
g.edge-label text.small { font-size:10px; font-weight:400; fill:#5d6b7a; }
g.edge:hover path { stroke-opacity:1; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:var(--bg); font-weight:600; position:sticky; top:0; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
tr.total td { font-weight:600; border-top:2px solid var(--ink); }
td .path { color:var(--muted); white-space:nowrap; }
td.wrap { word-break:break-all; min-width:18ch; }
.pill { display:inline-block; padding:1px 8px; border-radius:999px; background:#fff1cc; border:1px solid #f0c36a; font-weight:600; }
.pre { white-space:pre-wrap; }
details summary { cursor:pointer; font-weight:600; font-size:15px; }
footer { margin:8px 32px 32px; color:var(--muted); font-size:12px; }
.empty { color:var(--muted); font-style:italic; }
.src { display:block; color:var(--muted); font-size:11px; }
"#;

/// A decimal string shortened for a picture: at most 6 fraction digits, `…` when cut.
fn compact(amount: &str) -> String {
    match amount.split_once('.') {
        Some((int, frac)) if frac.chars().count() > 6 => {
            let f: String = frac.chars().take(6).collect();
            format!("{int}.{f}…")
        }
        _ => amount.to_string(),
    }
}

/// An address cut to fit a node box: `0x4f47bc49…c1a2b3c4d5`.
fn medium_address(address: &str) -> String {
    let chars: Vec<char> = address.chars().collect();
    if chars.len() <= 24 {
        return address.to_string();
    }
    let head: String = chars[..12].iter().collect();
    let tail: String = chars[chars.len() - 10..].iter().collect();
    format!("{head}…{tail}")
}

/// A table's USD cell (HTML): the figure and, under it, where it came from (`table`, `feed`,
/// `shipped`, `peg`; the whole source on hover); `—` when no price is known.
fn usd_cell(value: Option<&str>, source: Option<&str>) -> String {
    let Some(v) = value else { return "—".into() };
    match source {
        Some(src) => format!(
            r#"{}<span class="src" title="USD from {}">{}</span>"#,
            h(&usd(v)),
            h(&text::usd_source_label(src)),
            h(text::usd_source_kind(src))
        ),
        None => h(&usd(v)),
    }
}

/// `1234567.891` → `$1,234,567.89` (display only; tables also show the exact value).
fn usd(value: &str) -> String {
    let Some(f) = crate::graph::decimal_f64(value) else { return format!("${value}") };
    let s = format!("{f:.2}");
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("${grouped}.{frac}")
}

struct EdgeGroup<'a> {
    from: usize,
    to: usize,
    kind: EdgeKind,
    symbol: String,
    transfers: Vec<&'a CaseEdge>,
}

fn group_edges<'a>(graph: &Graph<'a>) -> Vec<EdgeGroup<'a>> {
    let mut groups: BTreeMap<(usize, usize, EdgeKind, String), Vec<&'a CaseEdge>> = BTreeMap::new();
    for edge in graph.edges() {
        let Some((from, to)) = graph.edge_ends(edge) else {
            continue;
        };
        let key = format!("{}>{}", edge.asset_in.as_deref().unwrap_or(""), edge.asset);
        groups.entry((from, to, edge.kind, key)).or_default().push(edge);
    }
    groups
        .into_iter()
        .map(|((from, to, kind, _), transfers)| EdgeGroup {
            from,
            to,
            kind,
            symbol: asset_symbol(transfers[0]),
            transfers,
        })
        .collect()
}

fn group_usd(g: &EdgeGroup<'_>) -> Option<String> {
    if g.transfers.iter().all(|e| e.usd.is_some()) {
        sum_decimals(g.transfers.iter().filter_map(|e| e.usd.as_deref()))
    } else {
        None
    }
}

#[derive(Clone, Copy)]
struct Rect {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Rect {
    fn around(cx: f64, cy: f64, w: f64, h: f64) -> Rect {
        Rect { x0: cx - w / 2.0, y0: cy - h / 2.0, x1: cx + w / 2.0, y1: cy + h / 2.0 }
    }

    fn overlap(&self, o: &Rect) -> f64 {
        let w = self.x1.min(o.x1) - self.x0.max(o.x0);
        let h = self.y1.min(o.y1) - self.y0.max(o.y0);
        if w > 0.0 && h > 0.0 {
            w * h
        } else {
            0.0
        }
    }
}

fn bezier(c: &[(f64, f64); 4], t: f64) -> (f64, f64) {
    let u = 1.0 - t;
    let (a, b, cc, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
    (a * c[0].0 + b * c[1].0 + cc * c[2].0 + d * c[3].0, a * c[0].1 + b * c[1].1 + cc * c[2].1 + d * c[3].1)
}

/// The point along the curve where a `w`×`h` label overlaps least with what is already there
/// (nodes and earlier labels), preferring the middle.
fn place_label(curve: &[(f64, f64); 4], w: f64, h: f64, taken: &mut Taken) -> (f64, f64) {
    let mut best = (f64::INFINITY, bezier(curve, 0.5));
    for t in [0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78, 0.15, 0.85] {
        for dy in [0.0, -16.0, 16.0] {
            let (x, y) = bezier(curve, t);
            let y = y + dy;
            let cost: f64 = taken.overlap(&Rect::around(x, y, w, h)) + (t - 0.5).abs() * 2.0 + dy.abs() * 0.1;
            if cost < best.0 {
                best = (cost, (x, y));
            }
            if cost < 1.0 {
                return (x, y);
            }
        }
    }
    best.1
}

/// The boxes already drawn (the nodes, then each label as it is placed), filed by the cells of
/// a square grid they cover, so a candidate label is measured against its neighbours only
/// instead of against every box in the picture (a case of 77k edges took over a minute).
struct Taken {
    rects: Vec<Rect>,
    cells: std::collections::HashMap<(i64, i64), Vec<u32>>,
    /// the boxes near the candidate being measured (reused)
    near: Vec<u32>,
}

impl Taken {
    /// Side of a grid cell, px: about a label's width, a third of a node box's.
    const CELL: f64 = 128.0;

    fn new(rects: impl IntoIterator<Item = Rect>) -> Taken {
        let mut taken = Taken { rects: Vec::new(), cells: Default::default(), near: Vec::new() };
        for r in rects {
            taken.push(r);
        }
        taken
    }

    /// The grid cells `r` covers (a box touches every cell its corners' cells span).
    fn cells_of(r: &Rect) -> impl Iterator<Item = (i64, i64)> {
        let cell = |v: f64| (v / Taken::CELL).floor() as i64;
        let (cx0, cx1, cy0, cy1) = (cell(r.x0), cell(r.x1), cell(r.y0), cell(r.y1));
        (cx0..=cx1).flat_map(move |cx| (cy0..=cy1).map(move |cy| (cx, cy)))
    }

    fn push(&mut self, r: Rect) {
        let i = self.rects.len() as u32;
        for c in Taken::cells_of(&r) {
            self.cells.entry(c).or_default().push(i);
        }
        self.rects.push(r);
    }

    /// The area `r` shares with the boxes drawn: summed in the order they were drawn, as over
    /// every box (a box that shares no cell with `r` shares no area with it and adds nothing).
    fn overlap(&mut self, r: &Rect) -> f64 {
        self.near.clear();
        for c in Taken::cells_of(r) {
            if let Some(ids) = self.cells.get(&c) {
                self.near.extend_from_slice(ids);
            }
        }
        self.near.sort_unstable();
        self.near.dedup();
        self.near.iter().map(|&i| self.rects[i as usize].overlap(r)).sum()
    }
}

fn svg(graph: &Graph<'_>, lay: &Layout, out: &mut String) {
    let nodes = graph.nodes();
    let groups = group_edges(graph);
    let w = lay.width.max(NODE_W + 80.0);
    let ht = lay.height + 10.0;
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{ht:.0}" viewBox="0 0 {w:.0} {ht:.0}" role="img" aria-label="flow of traced funds" data-nodes="{}" data-edges="{}">"#,
        nodes.len(),
        groups.len()
    );
    out.push_str("<defs>");
    for (id, colour) in [("arrow", "#7b8a9a"), ("arrow-deposit", "#c98500")] {
        let _ = write!(
            out,
            r#"<marker id="{id}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>"#
        );
    }
    out.push_str(r##"<filter id="glow" x="-30%" y="-40%" width="160%" height="180%"><feDropShadow dx="0" dy="0" stdDeviation="5" flood-color="#f4a300" flood-opacity="0.85"/></filter>"##);
    out.push_str(r##"<filter id="shadow" x="-10%" y="-20%" width="120%" height="150%"><feDropShadow dx="0" dy="1.5" stdDeviation="1.5" flood-color="#1d2733" flood-opacity="0.18"/></filter>"##);
    out.push_str("</defs>");

    // Column bands and headings.
    for (c, hop) in lay.column_hops.iter().enumerate() {
        let x = layout::MARGIN_X + c as f64 * layout::COL_STEP - 24.0;
        if c % 2 == 0 {
            let _ = write!(
                out,
                r##"<rect x="{x:.1}" y="8" width="{:.1}" height="{:.1}" rx="10" fill="#eef2f6" fill-opacity="0.6"/>"##,
                NODE_W + 48.0,
                ht - 16.0
            );
        }
        let title = if *hop == 0 { "Seeds".to_string() } else { format!("Hop {hop}") };
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="32" text-anchor="middle" font-size="13" font-weight="700" fill="#5d6b7a">{}</text>"##,
            x + 24.0 + NODE_W / 2.0,
            h(&title)
        );
    }

    // Edge widths: by USD when every drawn edge has a price, else by transfer count.
    let by_usd = groups.iter().all(|g| group_usd(g).is_some());
    let magnitude = |g: &EdgeGroup<'_>| -> f64 {
        if by_usd {
            group_usd(g).and_then(|u| crate::graph::decimal_f64(&u)).unwrap_or(0.0)
        } else {
            g.transfers.len() as f64
        }
    };
    let max_mag = groups.iter().map(magnitude).fold(0.0f64, f64::max);
    // Labels are placed greedily where they overlap neither nodes nor earlier labels, and
    // drawn above every edge so no line crosses a number.
    let mut taken = Taken::new(lay.positions.iter().map(|&(x, y)| Rect::around(x, y, NODE_W + 8.0, NODE_H + 8.0)));
    let mut labels_svg = String::new();

    out.push_str(r#"<g class="edges">"#);
    for g in &groups {
        let (x1, y1) = lay.positions[g.from];
        let (x2, y2) = lay.positions[g.to];
        let to_cashout = matches!(nodes[g.to].role, Role::ExchangeDeposit | Role::Exchange);
        let width = if max_mag > 0.0 { 1.4 + 5.0 * (1.0 + magnitude(g)).ln() / (1.0 + max_mag).ln() } else { 1.8 };
        let curve: [(f64, f64); 4] = if g.from == g.to {
            let (x, y) = (x1 + NODE_W / 2.0 - 20.0, y1 - NODE_H / 2.0);
            [(x, y), (x - 10.0, y - 50.0), (x + 40.0, y - 50.0), (x + 20.0, y + 2.0)]
        } else if lay.column[g.to] > lay.column[g.from] {
            let (sx, sy, ex, ey) = (x1 + NODE_W / 2.0, y1, x2 - NODE_W / 2.0 - 2.0, y2);
            let dx = (ex - sx) / 2.0;
            [(sx, sy), (sx + dx, sy), (ex - dx, ey), (ex, ey)]
        } else {
            // Same column or backwards: an arc over the top of the boxes.
            let (sx, sy, ex, ey) = (x1, y1 - NODE_H / 2.0, x2, y2 - NODE_H / 2.0 - 2.0);
            let lift = 48.0 + 0.12 * (sx - ex).abs() + 0.3 * (sy - ey).abs();
            let top = sy.min(ey) - lift;
            [(sx, sy), (sx + (ex - sx) * 0.2, top), (ex - (ex - sx) * 0.2, top), (ex, ey)]
        };
        let d = format!(
            "M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
            curve[0].0, curve[0].1, curve[1].0, curve[1].1, curve[2].0, curve[2].1, curve[3].0, curve[3].1
        );
        let chain_col = chain_colour(graph.chain_index(graph.from_chain(g.transfers[0])));
        let (colour, dash) = match g.kind {
            EdgeKind::Swap => (SWAP_COLOUR, r#" stroke-dasharray="6 3""#),
            EdgeKind::Bridge => (BRIDGE_COLOUR, r#" stroke-dasharray="10 4""#),
            EdgeKind::Transfer if to_cashout => ("#c98500", ""),
            EdgeKind::Transfer if graph.multi_chain() => (chain_col, ""),
            EdgeKind::Transfer => ("#7b8a9a", ""),
        };
        let marker = if to_cashout { "arrow-deposit" } else { "arrow" };
        let traced = sum_decimals(g.transfers.iter().map(|e| e.traced_amount.as_str()))
            .unwrap_or_else(|| g.transfers[0].traced_amount.clone());
        let mut tip = match g.kind {
            EdgeKind::Swap => format!(
                "swap by {} on {}\n{} conversion(s): {}",
                nodes[g.from].address,
                graph.from_chain(g.transfers[0]),
                g.transfers.len(),
                crate::graph::swap_text(g.transfers[0])
            ),
            EdgeKind::Bridge => format!(
                "bridge {} → {}\n{} on {} → {} on {}\ntraced {} {}",
                graph.from_chain(g.transfers[0]),
                g.transfers[0].chain_to.as_deref().unwrap_or("(no release found)"),
                nodes[g.from].address,
                graph.from_chain(g.transfers[0]),
                nodes[g.to].address,
                graph.to_chain(g.transfers[0]),
                traced,
                g.symbol
            ),
            EdgeKind::Transfer => format!(
                "{} → {}\n{} transfer(s), traced {} {}",
                nodes[g.from].address,
                nodes[g.to].address,
                g.transfers.len(),
                traced,
                g.symbol
            ),
        };
        for e in &g.transfers {
            let _ = write!(
                tip,
                "\n• {} {} traced of {} · {} · block {} · tx {}{}",
                e.traced_amount,
                g.symbol,
                e.amount,
                e.time,
                e.block,
                e.tx,
                e.usd
                    .as_deref()
                    .map(|u| match e.usd_source.as_deref() {
                        Some(src) => format!(" · {} ({})", usd(u), text::usd_source_label(src)),
                        None => format!(" · {}", usd(u)),
                    })
                    .unwrap_or_default()
            );
        }
        let _ = write!(
            out,
            r#"<g class="edge" data-kind="{}" data-from="{}" data-to="{}" data-transfers="{}"><title>{}</title><path d="{d}" fill="none" stroke="{colour}" stroke-opacity="0.8" stroke-width="{width:.2}"{dash} marker-end="url(#{marker})"/></g>"#,
            g.kind.as_str(),
            h(&graph.node_id(g.from)),
            h(&graph.node_id(g.to)),
            g.transfers.len(),
            h(&tip),
        );

        let first = match g.kind {
            EdgeKind::Swap => {
                let e = g.transfers[0];
                let sym_in = e
                    .symbol_in
                    .clone()
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(|| text::short_address(e.asset_in.as_deref().unwrap_or("?")));
                format!("swap {} → {}", text::truncate(&sym_in, 10), text::truncate(&g.symbol, 10))
            }
            EdgeKind::Bridge => format!(
                "bridge → {} · {} {}",
                g.transfers[0].chain_to.as_deref().unwrap_or("?"),
                compact(&traced),
                text::truncate(&g.symbol, 10)
            ),
            EdgeKind::Transfer => format!("{} {}", compact(&traced), text::truncate(&g.symbol, 14)),
        };
        let mut second = Vec::new();
        if g.kind == EdgeKind::Swap {
            let e = g.transfers[0];
            second.push(format!("{} → {}", compact(e.traced_in.as_deref().unwrap_or("?")), compact(&traced)));
        } else if g.transfers.len() > 1 {
            second.push(format!("{} transfers", g.transfers.len()));
        } else if let Some(date) = g.transfers[0].time.get(..10) {
            second.push(date.to_string());
        }
        if let Some(u) = group_usd(g) {
            second.push(usd(&u));
        }
        let second = second.join(" · ");
        let label_w = (first.chars().count() as f64 * 6.6).max(second.chars().count() as f64 * 5.6) + 8.0;
        let (lx, ly) = place_label(&curve, label_w, 28.0, &mut taken);
        taken.push(Rect::around(lx, ly, label_w, 28.0));
        let _ = write!(
            labels_svg,
            r#"<g class="edge-label"><title>{}</title><text x="{lx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            h(&tip),
            ly - 2.0,
            h(&first)
        );
        if !second.is_empty() {
            let _ = write!(
                labels_svg,
                r#"<text class="small" x="{lx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                ly + 11.0,
                h(&second)
            );
        }
        labels_svg.push_str("</g>");
    }
    out.push_str("</g>");
    let _ = write!(out, r#"<g class="edge-labels">{labels_svg}</g>"#);

    out.push_str(r#"<g class="nodes">"#);
    for (i, node) in nodes.iter().enumerate() {
        let (cx, cy) = lay.positions[i];
        let (x, y) = (cx - NODE_W / 2.0, cy - NODE_H / 2.0);
        let colour = hex_colour(node.role);
        let (fill, ink, stroke, extra) = match node.role {
            Role::Seed => (colour.clone(), "#ffffff", "#8f1022".to_string(), ""),
            Role::ExchangeDeposit => {
                (colour.clone(), "#1d1300", "#8a5a00".to_string(), r#" filter="url(#glow)" stroke-width="3""#)
            }
            Role::Exchange => (colour.clone(), "#ffffff", "#0d5c53".to_string(), ""),
            Role::Service => ("#f3ecf9".to_string(), "#17212b", colour.clone(), ""),
            Role::Stop => ("#f2f4f7".to_string(), "#17212b", colour.clone(), r#" stroke-dasharray="5 3""#),
            Role::Bridge => ("#eef0fb".to_string(), "#17212b", colour.clone(), r#" stroke-dasharray="8 3""#),
            Role::Intermediate => ("#ffffff".to_string(), "#17212b", colour.clone(), ""),
        };
        let tip: Vec<String> = node_values(node).iter().map(|(s, v)| format!("{}: {}", s.name, v.render())).collect();
        let _ = write!(
            out,
            r#"<g class="node" data-role="{}" data-address="{}" transform="translate({x:.1},{y:.1})"><title>{}</title>"#,
            node.role.as_str(),
            h(&graph.node_id(i)),
            h(&tip.join("\n"))
        );
        let _ = write!(
            out,
            r#"<rect class="box" width="{NODE_W}" height="{NODE_H}" rx="10" fill="{fill}" stroke="{stroke}" stroke-width="1.6"{extra}/>"#
        );
        if graph.multi_chain() {
            // the chain's colour down the left edge of every box
            let c = chain_colour(graph.chain_index(graph.node_chain(node)));
            let _ = write!(out, r#"<rect class="chain" width="6" height="{NODE_H}" rx="3" fill="{c}"/>"#);
        } else if !matches!(node.role, Role::Seed | Role::ExchangeDeposit | Role::Exchange) {
            let _ = write!(out, r#"<rect width="6" height="{NODE_H}" rx="3" fill="{colour}"/>"#);
        }
        let name = display_label(node);
        let short = medium_address(&node.address);
        let _ = write!(
            out,
            r#"<text class="name" x="14" y="19" fill="{ink}">{}</text>"#,
            h(&text::truncate(&name.replace(['\n', '\r', '\t'], " "), 19))
        );
        let _ = write!(out, r#"<text class="addr" x="14" y="34" fill="{ink}">{}</text>"#, h(&short));
        let mut meta = format!("hop {} · {}", node.hop, node.role.as_str().replace('_', " "));
        if graph.multi_chain() {
            meta = format!("{} · {meta}", graph.node_chain(node));
        }
        if let Some(r) = &node.stop_reason {
            let _ = write!(meta, " · {r}");
        }
        let _ = write!(
            out,
            r#"<text class="meta" x="14" y="48" fill="{ink}">{}</text>"#,
            h(&text::truncate(&meta.replace(['\n', '\r', '\t'], " "), 32))
        );
        if node.role == Role::ExchangeDeposit {
            let bx = NODE_W - 62.0;
            let _ = write!(
                out,
                r##"<rect x="{bx}" y="-9" width="66" height="18" rx="9" fill="#17212b"/><text x="{:.0}" y="4" text-anchor="middle" font-size="10" font-weight="700" fill="#ffd166">DEPOSIT</text>"##,
                bx + 33.0
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</g></svg>");
}

fn legend(graph: &Graph<'_>, out: &mut String) {
    out.push_str(r#"<div class="legend">"#);
    if graph.multi_chain() {
        for (i, c) in graph.case.chains.iter().enumerate() {
            let _ = write!(out, r#"<span><i style="background:{}"></i>chain {}</span>"#, chain_colour(i), h(c));
        }
    }
    if graph.edges().iter().any(|e| e.kind == EdgeKind::Swap) {
        let _ = write!(out, r#"<span><i style="border:2px dashed {SWAP_COLOUR}"></i>Swap (conversion, no hop)</span>"#);
    }
    if graph.edges().iter().any(|e| e.kind == EdgeKind::Bridge) {
        let _ = write!(out, r#"<span><i style="border:2px dashed {BRIDGE_COLOUR}"></i>Bridge (no hop)</span>"#);
    }
    for role in ROLES {
        let colour = hex_colour(role);
        let style = match role {
            Role::Seed | Role::ExchangeDeposit | Role::Exchange => format!("background:{colour}"),
            Role::Stop | Role::Bridge => format!("background:#f2f4f7;border:2px dashed {colour}"),
            _ => format!("background:#fff;border-color:{colour}"),
        };
        let _ = write!(out, r#"<span><i style="{style}"></i>{}</span>"#, h(role_title(role)));
    }
    out.push_str(
        r#"<span>Edge width: USD value (or number of transfers); amber edges end at an exchange. Hover for details.</span></div>"#,
    );
}

fn deposits_table(graph: &Graph<'_>, out: &mut String) {
    let deposits = &graph.case.deposits;
    let _ = write!(out, "<section><h2>Exchange deposits <span class=\"pill\">{}</span></h2>", deposits.len());
    if deposits.is_empty() {
        out.push_str(r#"<p class="empty">No traced funds reached an exchange deposit address.</p></section>"#);
        return;
    }
    out.push_str(
        r#"<div class="scroll"><table class="deposits"><thead><tr><th>#</th><th>Exchange</th><th>Deposit address</th><th class="num">Amount</th><th>Asset</th><th class="num">USD</th><th class="num">Hops</th><th>Time (UTC)</th><th class="num">Block</th><th>Transaction</th><th>Seed → deposit path</th></tr></thead><tbody>"#,
    );
    for (i, d) in deposits.iter().enumerate() {
        let symbol = d.symbol.clone().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| text::short_address(&d.asset));
        let path_short: Vec<String> = d.path.iter().map(|a| text::short_address(a)).collect();
        let _ = write!(
            out,
            r#"<tr><td class="num">{}</td><td><b>{}</b></td><td class="mono wrap">{}</td><td class="num mono">{}</td><td title="{}">{}</td><td class="num">{}</td><td class="num">{}</td><td class="mono">{}</td><td class="num mono">{}</td><td class="mono wrap">{}</td><td class="mono"><span class="path" title="{}">{}</span></td></tr>"#,
            i + 1,
            h(&d.exchange),
            h(&d.address),
            h(&d.amount),
            h(&d.asset),
            h(&symbol),
            usd_cell(d.usd.as_deref(), d.usd_source.as_deref()),
            d.hops,
            h(&d.time),
            d.block,
            h(&d.tx),
            h(&d.path.join(" → ")),
            h(&path_short.join(" → ")),
        );
    }
    // Totals per asset, exact.
    let mut per_asset: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for d in deposits {
        let symbol = d.symbol.clone().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| text::short_address(&d.asset));
        per_asset.entry(symbol).or_default().push(d.amount.as_str());
    }
    let totals: Vec<String> = per_asset
        .iter()
        .map(|(sym, amounts)| {
            format!("{} {}", sum_decimals(amounts.iter().copied()).unwrap_or_else(|| "?".into()), sym)
        })
        .collect();
    let usd_known: Vec<&str> = deposits.iter().filter_map(|d| d.usd.as_deref()).collect();
    let usd_total = if usd_known.is_empty() {
        "—".to_string()
    } else {
        sum_decimals(usd_known.iter().copied()).map(|u| usd(&u)).unwrap_or_else(|| "?".into())
    };
    let _ = write!(
        out,
        r#"<tr class="total"><td></td><td colspan="2">Total to exchanges</td><td colspan="2" class="mono">{}</td><td class="num">{}</td><td colspan="5"></td></tr>"#,
        h(&totals.join(" · ")),
        h(&usd_total)
    );
    out.push_str("</tbody></table></div></section>");
}

fn transfers_table(graph: &Graph<'_>, out: &mut String) {
    let _ = write!(
        out,
        r#"<section><details><summary>All transfers ({})</summary><div class="scroll"><table class="transfers"><thead><tr><th>From</th><th>To</th><th class="num">Traced</th><th class="num">Amount</th><th>Asset</th><th class="num">USD</th><th>Time (UTC)</th><th class="num">Block</th><th>Transaction</th></tr></thead><tbody>"#,
        graph.edges().len()
    );
    for e in graph.edges() {
        let (from, to) = graph.edge_ids(e);
        // a swap or a bridge says so where the asset is named
        let asset_text = match e.kind {
            EdgeKind::Transfer => asset_symbol(e),
            EdgeKind::Swap => format!("swap: {}", crate::graph::swap_text(e)),
            EdgeKind::Bridge => format!(
                "{} bridged {} → {}",
                asset_symbol(e),
                graph.from_chain(e),
                e.chain_to.as_deref().unwrap_or("(no release found)")
            ),
        };
        let _ = write!(
            out,
            r#"<tr><td class="mono">{}</td><td class="mono">{}</td><td class="num mono">{}</td><td class="num mono">{}</td><td title="{}">{}</td><td class="num">{}</td><td class="mono">{}</td><td class="num mono">{}</td><td class="mono">{}</td></tr>"#,
            h(&from),
            h(&to),
            h(&e.traced_amount),
            h(&e.amount),
            h(&e.asset),
            h(&asset_text),
            usd_cell(e.usd.as_deref(), e.usd_source.as_deref()),
            h(&e.time),
            e.block,
            h(&e.tx)
        );
    }
    out.push_str("</tbody></table></div></details></section>");
}

fn addresses_table(graph: &Graph<'_>, out: &mut String) {
    let _ = write!(
        out,
        r#"<section><details><summary>All addresses ({})</summary><div class="scroll"><table class="addresses"><thead><tr><th>Address</th><th>Role</th><th class="num">Hop</th><th>Labels (category · entity · source)</th></tr></thead><tbody>"#,
        graph.nodes().len()
    );
    for (i, n) in graph.nodes().iter().enumerate() {
        let labels: Vec<String> =
            n.labels.iter().map(|l| format!("{} · {} · {}", h(&l.category), h(&l.entity), h(&l.source))).collect();
        let mut role = role_title(n.role).to_string();
        if let Some(r) = &n.stop_reason {
            let _ = write!(role, " ({r})");
        }
        let _ = write!(
            out,
            r#"<tr><td class="mono">{}</td><td>{}</td><td class="num">{}</td><td class="pre">{}</td></tr>"#,
            h(&graph.node_id(i)),
            h(&role),
            n.hop,
            labels.join("<br>")
        );
    }
    out.push_str("</tbody></table></div></details></section>");
}

/// The case as one self-contained HTML page: the SVG picture, a legend, and the node, edge and
/// deposit tables. Loads nothing from the network.
pub fn render(graph: &Graph<'_>) -> String {
    let case = graph.case;
    let lay = layout::layered(graph);
    let mut out = String::with_capacity(64 * 1024);
    let title = format!("chaintrace · {} case", case.chain);
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="chaintrace {}">
<title>{}</title><style>{STYLE}</style></head><body>
"#,
        h(&case.provenance.tool_version),
        h(&title)
    );
    let p = &case.params;
    let _ = write!(
        out,
        r#"<header><h1>Where the money went</h1><p class="sub">{} · {} seed(s) · {} · policy {} · up to {} hops</p><div class="cards">"#,
        h(&case.chain),
        case.seeds.len(),
        h(&p.direction),
        h(&p.policy),
        p.hops
    );
    let usd_known: Vec<&str> = case.deposits.iter().filter_map(|d| d.usd.as_deref()).collect();
    let usd_total = sum_decimals(usd_known.iter().copied()).filter(|_| !usd_known.is_empty());
    let unpriced = case.deposits.len() - usd_known.len();
    let usd_label = if unpriced == 0 {
        "USD reached exchanges".to_string()
    } else {
        format!("USD reached exchanges ({unpriced} deposit(s) without a price)")
    };
    let exchanges: std::collections::BTreeSet<&str> = case.deposits.iter().map(|d| d.exchange.as_str()).collect();
    for (value, label, hot) in [
        (case.nodes.len().to_string(), "addresses", false),
        (case.edges.len().to_string(), "transfers", false),
        (case.deposits.len().to_string(), "exchange deposits", true),
        (exchanges.len().to_string(), "exchanges", true),
        (usd_total.as_deref().map(usd).unwrap_or_else(|| "—".into()), usd_label.as_str(), true),
    ] {
        let _ = write!(
            out,
            r#"<div class="card{}"><b>{}</b><span>{}</span></div>"#,
            if hot { " hot" } else { "" },
            h(&value),
            label
        );
    }
    out.push_str("</div>");
    if !case.seeds.is_empty() {
        let seeds: Vec<String> = case.seeds.iter().map(|s| h(s)).collect();
        let _ = write!(out, r#"<p class="sub">Seeds: <span class="mono">{}</span></p>"#, seeds.join(", "));
    }
    out.push_str("</header>\n");

    out.push_str(r#"<section class="picture"><h2>Flow of traced funds</h2>"#);
    legend(graph, &mut out);
    out.push_str(r#"<div class="scroll">"#);
    if graph.nodes().is_empty() {
        out.push_str(r#"<p class="empty">The case has no addresses.</p>"#);
    } else {
        svg(graph, &lay, &mut out);
    }
    out.push_str("</div></section>\n");
    deposits_table(graph, &mut out);
    out.push('\n');
    transfers_table(graph, &mut out);
    out.push('\n');
    addresses_table(graph, &mut out);
    let pv = &case.provenance;
    let tips: Vec<String> =
        pv.store_tips.iter().map(|(chain, t)| format!("{} tip {} ({})", h(chain), t.height, h(&t.hash))).collect();
    let _ = write!(
        out,
        "\n<footer>chaintrace {} · labels {} · {} · min amount {} · asset {} · since {} · until {}</footer>\n</body></html>\n",
        h(&pv.tool_version),
        h(&pv.labels_hash),
        tips.join(", "),
        h(p.min_amount.as_deref().unwrap_or("—")),
        h(p.asset.as_deref().unwrap_or("all")),
        h(p.since.as_deref().unwrap_or("—")),
        h(p.until.as_deref().unwrap_or("—")),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_formatting() {
        assert_eq!(usd("1234567.891"), "$1,234,567.89");
        assert_eq!(usd("0.5"), "$0.50");
        assert_eq!(usd("999"), "$999.00");
    }

    proptest::proptest! {
        /// The grid of drawn boxes measures a candidate as a scan of every box does, exactly
        /// (the same boxes' areas, added in the same order).
        #[test]
        fn taken_boxes_overlap_as_a_scan_of_all(
            boxes in proptest::collection::vec((-900.0f64..900.0, -900.0f64..900.0, 1.0f64..400.0, 1.0f64..120.0), 0..60),
            probes in proptest::collection::vec((-900.0f64..900.0, -900.0f64..900.0, 1.0f64..400.0, 1.0f64..120.0), 1..20),
        ) {
            let rect = |&(x, y, w, h): &(f64, f64, f64, f64)| Rect::around(x, y, w, h);
            let mut taken = Taken::new(boxes.iter().map(rect));
            for p in &probes {
                let scan: f64 = boxes.iter().map(|b| rect(b).overlap(&rect(p))).sum();
                // (equal floats other than zero have the same bits; +0 and -0 weigh the same)
                proptest::prop_assert_eq!(taken.overlap(&rect(p)), scan);
            }
        }
    }

    #[test]
    fn compact_amounts() {
        assert_eq!(compact("1.123456789"), "1.123456…");
        assert_eq!(compact("12.5"), "12.5");
    }
}
