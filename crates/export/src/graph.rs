//! A checked view of a case file and the attribute table every format writes.
//!
//! All formats carry the same attributes under the same names, so a column means the same
//! thing in Gephi, Neo4j and a spreadsheet:
//!
//! | element | attribute | type | notes |
//! |---|---|---|---|
//! | node | `address` | string | the node id in a single-chain case (`chain:address` when the case covers several chains) |
//! | node | `chain` | string | the chain the address is on |
//! | node | `label` | string | display text: first entity, else the short address |
//! | node | `role` | string | `seed`, `intermediate`, `exchange_deposit`, `exchange`, `service`, `stop`, `bridge` |
//! | node | `hop` | int | fewest transfers from a seed |
//! | node | `stop_reason` | string | only on `stop` nodes |
//! | node | `cluster` | string | when clustering ran |
//! | node | `entities` | string | distinct label entities, `; `-joined |
//! | node | `categories` | string | distinct label categories, `; `-joined |
//! | node | `label_sources` | string | distinct label sources, `; `-joined |
//! | node | `labels` | string | the exact label list as JSON (`[{category, entity, source}]`) |
//! | edge | `chain`, `kind` | string | the transaction's chain; `transfer`, `swap` or `bridge` |
//! | edge | `tx`, `block` (long), `time`, `asset`, `symbol`, `amount`, `amount_raw`, `traced_amount`, `usd` | | as in the case file; decimals stay exact strings |
//! | edge | `asset_in`, `amount_in`, `asset_out`, `amount_out` | string | a swap's two sides (a bridge: `amount_out` released) |
//! | edge | `chain_from`, `chain_to` | string | a bridge's two chains (`chain_to` absent: unmatched) |
//! | edge | `weight` | double | `traced_amount` as a float, for tools that size edges (approximate) |
//!
//! Absent values (`usd` without a price, `stop_reason` on other roles, empty strings) are
//! left out rather than written as empty values.

use std::collections::{BTreeSet, HashMap};

use chaintrace_model::{CaseEdge, CaseFile, CaseNode, Role};

use crate::{text, ExportError};

/// The type of an attribute column, mapped to each format's type name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AttrType {
    /// Text.
    String,
    /// A 32-bit integer (hops).
    Int,
    /// A 64-bit integer (block heights).
    Long,
    /// A float (the approximate `weight`).
    Double,
}

impl AttrType {
    /// GraphML's `attr.type`.
    pub fn graphml(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Int => "int",
            AttrType::Long => "long",
            AttrType::Double => "double",
        }
    }

    /// GEXF's attribute `type`.
    pub fn gexf(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Int => "integer",
            AttrType::Long => "long",
            AttrType::Double => "double",
        }
    }

    /// Neo4j import header type suffix (`:int`), empty for strings.
    pub fn neo4j(self) -> &'static str {
        match self {
            AttrType::String => "",
            AttrType::Int => ":int",
            AttrType::Long => ":long",
            AttrType::Double => ":double",
        }
    }
}

/// One attribute column: its name and type (the table in the module docs).
pub struct AttrSpec {
    /// The attribute's name in every format.
    pub name: &'static str,
    /// The attribute's type.
    pub ty: AttrType,
}

const fn spec(name: &'static str, ty: AttrType) -> AttrSpec {
    AttrSpec { name, ty }
}

/// Node attributes, in the order every format writes them.
pub const NODE_ATTRS: &[AttrSpec] = &[
    spec("address", AttrType::String),
    spec("chain", AttrType::String),
    spec("label", AttrType::String),
    spec("role", AttrType::String),
    spec("hop", AttrType::Int),
    spec("stop_reason", AttrType::String),
    spec("cluster", AttrType::String),
    spec("entities", AttrType::String),
    spec("categories", AttrType::String),
    spec("label_sources", AttrType::String),
    spec("labels", AttrType::String),
];

/// Edge attributes, in the order every format writes them.
pub const EDGE_ATTRS: &[AttrSpec] = &[
    spec("chain", AttrType::String),
    spec("kind", AttrType::String),
    spec("tx", AttrType::String),
    spec("block", AttrType::Long),
    spec("time", AttrType::String),
    spec("asset", AttrType::String),
    spec("symbol", AttrType::String),
    spec("amount", AttrType::String),
    spec("amount_raw", AttrType::String),
    spec("traced_amount", AttrType::String),
    spec("usd", AttrType::String),
    spec("asset_in", AttrType::String),
    spec("amount_in", AttrType::String),
    spec("asset_out", AttrType::String),
    spec("amount_out", AttrType::String),
    spec("chain_from", AttrType::String),
    spec("chain_to", AttrType::String),
    spec("weight", AttrType::Double),
    spec("usd_source", AttrType::String),
];

/// One attribute value, already rendered as text in its type's canonical form.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string attribute.
    Str(String),
    /// An `int` attribute.
    Int(i64),
    /// A `long` attribute.
    Long(u64),
    /// A `double` attribute.
    Double(f64),
}

impl Value {
    /// The value as text; a whole double keeps a `.0` so tools read it as a float.
    pub fn render(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Long(l) => l.to_string(),
            Value::Double(d) => {
                let s = d.to_string();
                if s.contains(['.', 'e', 'E']) || !d.is_finite() {
                    s
                } else {
                    format!("{s}.0")
                }
            }
        }
    }

    /// The value as JSON; a non-finite double becomes `null`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Int(i) => (*i).into(),
            Value::Long(l) => (*l).into(),
            Value::Double(d) => {
                serde_json::Number::from_f64(*d).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null)
            }
        }
    }
}

/// The checked graph: every edge's endpoints are nodes, node (chain, address) pairs are unique.
pub struct Graph<'a> {
    /// The case file the graph views.
    pub case: &'a CaseFile,
    index: HashMap<(&'a str, &'a str), usize>,
    /// The case covers more than one chain: node ids carry the chain.
    multi: bool,
}

/// The chain of a node or edge end: its own, else the case's (a hand-built case may leave it
/// empty).
fn chain_or<'a>(own: &'a str, case: &'a CaseFile) -> &'a str {
    if own.is_empty() {
        &case.chain
    } else {
        own
    }
}

impl<'a> Graph<'a> {
    /// Check `case`: [`ExportError::InvalidCase`] when an address appears twice among the nodes of
    /// one chain or an edge names an address that is not a node.
    pub fn new(case: &'a CaseFile) -> Result<Self, ExportError> {
        let mut index = HashMap::with_capacity(case.nodes.len());
        for (i, node) in case.nodes.iter().enumerate() {
            if index.insert((chain_or(&node.chain, case), node.address.as_str()), i).is_some() {
                return Err(ExportError::InvalidCase(format!(
                    "address {:?} appears twice among the case's nodes",
                    node.address
                )));
            }
        }
        let chains: BTreeSet<&str> = index.keys().map(|(c, _)| *c).collect();
        let graph = Graph { case, index, multi: chains.len() > 1 };
        for (i, edge) in case.edges.iter().enumerate() {
            for (chain, end) in [(graph.from_chain(edge), &edge.from), (graph.to_chain(edge), &edge.to)] {
                if !graph.index.contains_key(&(chain, end.as_str())) {
                    return Err(ExportError::InvalidCase(format!(
                        "edge {i} (tx {}) refers to address {end:?} on {chain}, which is not among the case's nodes",
                        edge.tx
                    )));
                }
            }
        }
        Ok(graph)
    }

    /// The case's nodes, in case-file order (node indices refer to it).
    pub fn nodes(&self) -> &'a [CaseNode] {
        &self.case.nodes
    }

    /// The case's edges, in case-file order.
    pub fn edges(&self) -> &'a [CaseEdge] {
        &self.case.edges
    }

    /// The case covers more than one chain.
    pub fn multi_chain(&self) -> bool {
        self.multi
    }

    /// The chain of an edge's sending end.
    pub fn from_chain(&self, edge: &'a CaseEdge) -> &'a str {
        chain_or(&edge.chain, self.case)
    }

    /// The chain of an edge's receiving end (a matched bridge's `chain_to`).
    pub fn to_chain(&self, edge: &'a CaseEdge) -> &'a str {
        chain_or(edge.to_chain(), self.case)
    }

    /// The chain of a node.
    pub fn node_chain(&self, node: &'a CaseNode) -> &'a str {
        chain_or(&node.chain, self.case)
    }

    /// The id every format gives the node of `address` on `chain`: the address in a
    /// single-chain case (as version 1 did), `chain:address` when the case covers several.
    pub fn id(&self, chain: &str, address: &str) -> String {
        if self.multi {
            format!("{chain}:{address}")
        } else {
            address.to_string()
        }
    }

    /// The id of node `i`.
    pub fn node_id(&self, i: usize) -> String {
        let n = &self.case.nodes[i];
        self.id(self.node_chain(n), &n.address)
    }

    /// The ids of an edge's two ends.
    pub fn edge_ids(&self, edge: &'a CaseEdge) -> (String, String) {
        (self.id(self.from_chain(edge), &edge.from), self.id(self.to_chain(edge), &edge.to))
    }

    /// The index in [`Graph::nodes`] of the node with this address on `chain`.
    pub fn node_index(&self, chain: &str, address: &str) -> Option<usize> {
        self.index.get(&(chain, address)).copied()
    }

    /// The node indices of an edge's two ends.
    pub fn edge_ends(&self, edge: &'a CaseEdge) -> Option<(usize, usize)> {
        Some((self.node_index(self.from_chain(edge), &edge.from)?, self.node_index(self.to_chain(edge), &edge.to)?))
    }

    /// The index of a chain among the case's chains (for colours), 0 when unknown.
    pub fn chain_index(&self, chain: &str) -> usize {
        self.case.chains.iter().position(|c| c == chain).unwrap_or(0)
    }

    /// The earliest time of any edge touching each node (RFC 3339 strings compare in time
    /// order when they share the `Z` form the case file uses).
    pub fn first_seen(&self) -> Vec<Option<&'a str>> {
        let mut first: Vec<Option<&'a str>> = vec![None; self.case.nodes.len()];
        for edge in self.edges() {
            if let Some((a, b)) = self.edge_ends(edge) {
                for i in [a, b] {
                    let t = edge.time.as_str();
                    if first[i].is_none_or(|f| t < f) {
                        first[i] = Some(t);
                    }
                }
            }
        }
        first
    }
}

fn distinct_join<'b>(items: impl Iterator<Item = &'b str>) -> String {
    let mut seen = BTreeSet::new();
    let mut out: Vec<&str> = Vec::new();
    for item in items {
        if !item.is_empty() && seen.insert(item) {
            out.push(item);
        }
    }
    out.join("; ")
}

/// What a picture calls a node: its first entity, else its short address.
pub fn display_label(node: &CaseNode) -> String {
    node.labels
        .iter()
        .map(|l| l.entity.as_str())
        .find(|e| !e.trim().is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| text::short_address(&node.address))
}

/// The symbol to show for an edge's asset: the token symbol, else the asset (shortened when
/// it is a contract address).
pub fn asset_symbol(edge: &CaseEdge) -> String {
    match edge.symbol.as_deref() {
        Some(s) if !s.trim().is_empty() => s.to_string(),
        _ => text::short_address(&edge.asset),
    }
}

/// A node's attributes in [`NODE_ATTRS`] order; absent values are left out.
pub fn node_values(node: &CaseNode) -> Vec<(&'static AttrSpec, Value)> {
    let labels_json = serde_json::to_string(&node.labels).expect("labels serialise: plain strings");
    let mut out = Vec::with_capacity(NODE_ATTRS.len());
    for spec in NODE_ATTRS {
        let v = match spec.name {
            "address" => Some(Value::Str(node.address.clone())),
            "chain" => Some(Value::Str(node.chain.clone())),
            "label" => Some(Value::Str(display_label(node))),
            "role" => Some(Value::Str(node.role.as_str().to_string())),
            "hop" => Some(Value::Int(i64::from(node.hop))),
            "stop_reason" => node.stop_reason.clone().map(Value::Str),
            "cluster" => node.cluster.clone().map(Value::Str),
            "entities" => Some(Value::Str(distinct_join(node.labels.iter().map(|l| l.entity.as_str())))),
            "categories" => Some(Value::Str(distinct_join(node.labels.iter().map(|l| l.category.as_str())))),
            "label_sources" => Some(Value::Str(distinct_join(node.labels.iter().map(|l| l.source.as_str())))),
            "labels" => (!node.labels.is_empty()).then(|| Value::Str(labels_json.clone())),
            other => unreachable!("node attribute {other} has no value"),
        };
        if let Some(v) = v {
            if v != Value::Str(String::new()) {
                out.push((spec, v));
            }
        }
    }
    out
}

/// An edge's attributes in [`EDGE_ATTRS`] order; absent values are left out.
pub fn edge_values(edge: &CaseEdge) -> Vec<(&'static AttrSpec, Value)> {
    let mut out = Vec::with_capacity(EDGE_ATTRS.len());
    for spec in EDGE_ATTRS {
        let v = match spec.name {
            "chain" => Some(Value::Str(edge.chain.clone())),
            "kind" => Some(Value::Str(edge.kind.as_str().to_string())),
            "tx" => Some(Value::Str(edge.tx.clone())),
            "block" => Some(Value::Long(edge.block)),
            "time" => Some(Value::Str(edge.time.clone())),
            "asset" => Some(Value::Str(edge.asset.clone())),
            "symbol" => edge.symbol.clone().map(Value::Str),
            "amount" => Some(Value::Str(edge.amount.clone())),
            "amount_raw" => Some(Value::Str(edge.amount_raw.clone())),
            "traced_amount" => Some(Value::Str(edge.traced_amount.clone())),
            "usd" => edge.usd.clone().map(Value::Str),
            "asset_in" => edge.asset_in.clone().map(Value::Str),
            "amount_in" => edge.amount_in.clone().map(Value::Str),
            "asset_out" => edge.asset_out.clone().map(Value::Str),
            "amount_out" => edge.amount_out.clone().map(Value::Str),
            "chain_from" => edge.chain_from.clone().map(Value::Str),
            "chain_to" => edge.chain_to.clone().map(Value::Str),
            "weight" => decimal_f64(&edge.traced_amount).map(Value::Double),
            "usd_source" => edge.usd_source.clone().map(Value::Str),
            other => unreachable!("edge attribute {other} has no value"),
        };
        if let Some(v) = v {
            if v != Value::Str(String::new()) {
                out.push((spec, v));
            }
        }
    }
    out
}

/// A decimal string as an approximate float, for sizing only.
pub fn decimal_f64(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Sort key that puts roles in the order a reader follows the money.
pub fn role_rank(role: Role) -> u8 {
    match role {
        Role::Seed => 0,
        Role::Intermediate => 1,
        Role::Stop => 2,
        Role::Bridge => 2,
        Role::Service => 3,
        Role::ExchangeDeposit => 4,
        Role::Exchange => 5,
    }
}

/// One colour per role, shared by every format that has colour (DOT, GEXF, HTML).
pub fn graph_colour(role: Role) -> (u8, u8, u8) {
    match role {
        Role::Seed => (215, 38, 61),
        Role::Intermediate => (63, 111, 181),
        Role::ExchangeDeposit => (244, 163, 0),
        Role::Exchange => (27, 153, 139),
        Role::Service => (142, 91, 181),
        Role::Stop => (141, 153, 174),
        Role::Bridge => (90, 103, 216),
    }
}

/// A role's colour as `#rrggbb`.
pub fn hex_colour(role: Role) -> String {
    let (r, g, b) = graph_colour(role);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// How a role is called in a legend.
pub fn role_title(role: Role) -> &'static str {
    match role {
        Role::Seed => "Seed",
        Role::Intermediate => "Intermediate",
        Role::ExchangeDeposit => "Exchange deposit",
        Role::Exchange => "Exchange",
        Role::Service => "Service",
        Role::Stop => "Stop (not expanded)",
        Role::Bridge => "Bridge (no release found)",
    }
}

/// Every role, in the order legends list them.
pub const ROLES: [Role; 7] =
    [Role::Seed, Role::Intermediate, Role::Stop, Role::Bridge, Role::Service, Role::ExchangeDeposit, Role::Exchange];

/// One colour per chain of a case (by its index among the case's chains), for the pictures.
pub fn chain_colour(index: usize) -> &'static str {
    const PALETTE: [&str; 8] = ["#3f6fb5", "#d9822b", "#2f9e44", "#ae3ec9", "#c92a2a", "#0c8599", "#5c940d", "#862e9c"];
    PALETTE[index % PALETTE.len()]
}

/// The short text a picture writes on a swap edge: `1000 USDC → 0.5 ETH`.
pub fn swap_text(edge: &CaseEdge) -> String {
    let sym_in = edge
        .symbol_in
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| text::short_address(edge.asset_in.as_deref().unwrap_or("?")));
    format!(
        "{} {} \u{2192} {} {}",
        edge.traced_in.as_deref().or(edge.amount_in.as_deref()).unwrap_or("?"),
        sym_in,
        edge.traced_amount,
        asset_symbol(edge)
    )
}

/// Exact sum of decimal strings (the case file's amounts); `None` if one does not parse.
pub fn sum_decimals<'b>(values: impl Iterator<Item = &'b str> + Clone) -> Option<String> {
    let places = values.clone().map(|v| v.trim().split_once('.').map_or(0, |(_, f)| f.len())).max().unwrap_or(0);
    let places = u8::try_from(places).ok()?;
    let mut total = chaintrace_model::U256::ZERO;
    for v in values {
        let raw = chaintrace_model::parse_units(v, places).ok()?;
        total = total.checked_add(raw)?;
    }
    Some(chaintrace_model::format_units(total, places))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_exactly() {
        assert_eq!(sum_decimals(["1.5", "2.25", "3"].into_iter()).as_deref(), Some("6.75"));
        assert_eq!(sum_decimals(["0.1", "0.2"].into_iter()).as_deref(), Some("0.3"), "no float rounding");
        assert_eq!(sum_decimals(["x"].into_iter()), None);
    }

    #[test]
    fn doubles_render_as_doubles() {
        assert_eq!(Value::Double(2.0).render(), "2.0");
        assert_eq!(Value::Double(0.5).render(), "0.5");
    }
}
