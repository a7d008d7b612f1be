//! Two CSV files in the header form of `neo4j-admin database import` (also fine for a
//! spreadsheet or Maltego's tabular import):
//!
//! - `nodes.csv`: `address:ID,:LABEL,label,role,hop:int,stop_reason,cluster,entities,categories,label_sources,labels`
//!   — `:LABEL` is `Address` plus the role as a Neo4j label (`Address;Seed`,
//!   `Address;ExchangeDeposit`, …); the `:ID` column is stored as the `address` property.
//! - `edges.csv`: `:START_ID,:END_ID,:TYPE,chain,kind,tx,block:long,time:datetime,asset,symbol,amount,amount_raw,traced_amount,usd,asset_in,amount_in,asset_out,amount_out,chain_from,chain_to,weight:double,usd_source`
//!   — the type is `TRANSFER`, `SWAP` or `BRIDGE`. Exact decimals stay strings; `weight` is the
//!   traced amount as a float for sizing; `usd_source` says where `usd` came from.
//!
//! Import with
//! `neo4j-admin database import full --nodes=nodes.csv --relationships=edges.csv --multiline-fields=true neo4j`
//! (`--multiline-fields` because label text may hold line breaks, quoted per RFC 4180).
//!
//! Every text cell goes through [`text::csv_cell`]: control characters become visible
//! stand-ins, and a cell starting with `= + - @`, tab or CR is prefixed with `'` so no
//! spreadsheet evaluates it. The same rule applies to ids in both files, so relationships
//! still find their nodes.

use chaintrace_model::{EdgeKind, Role};

use crate::{
    graph::{edge_values, node_values, AttrType, Graph, EDGE_ATTRS, NODE_ATTRS},
    text, ExportError,
};

/// File name of the nodes table inside the output directory.
pub const NODES_FILE: &str = "nodes.csv";
/// File name of the relationships table inside the output directory.
pub const EDGES_FILE: &str = "edges.csv";
/// The Neo4j relationship type of a transfer edge (`:TYPE` column).
pub const RELATIONSHIP_TYPE: &str = "TRANSFER";

/// The Neo4j relationship type of an edge: `TRANSFER`, `SWAP` or `BRIDGE`.
pub fn relationship_type(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Transfer => RELATIONSHIP_TYPE,
        EdgeKind::Swap => "SWAP",
        EdgeKind::Bridge => "BRIDGE",
    }
}

/// The Neo4j label for a role.
pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Seed => "Seed",
        Role::Intermediate => "Intermediate",
        Role::ExchangeDeposit => "ExchangeDeposit",
        Role::Exchange => "Exchange",
        Role::Service => "Service",
        Role::Stop => "Stop",
        Role::Bridge => "Bridge",
    }
}

fn csv_err(e: csv::Error) -> ExportError {
    ExportError::Csv(e)
}

fn cell(ty: AttrType, rendered: String) -> String {
    match ty {
        AttrType::String => text::csv_cell(&rendered).into_owned(),
        _ => rendered,
    }
}

/// The `(nodes.csv, edges.csv)` bytes with `neo4j-admin` typed headers; text cells that a
/// spreadsheet would run as formulas are neutralised. Fails only if the CSV encoder does.
pub fn render(graph: &Graph<'_>) -> Result<(Vec<u8>, Vec<u8>), ExportError> {
    let mut nodes = csv::WriterBuilder::new().from_writer(Vec::new());
    let node_cols: Vec<_> = NODE_ATTRS.iter().filter(|s| s.name != "address").collect();
    let mut header = vec!["address:ID".to_string(), ":LABEL".to_string()];
    header.extend(node_cols.iter().map(|s| format!("{}{}", s.name, s.ty.neo4j())));
    nodes.write_record(&header).map_err(csv_err)?;
    for (i, node) in graph.nodes().iter().enumerate() {
        let values = node_values(node);
        let mut row =
            vec![text::csv_cell(&graph.node_id(i)).into_owned(), format!("Address;{}", role_label(node.role))];
        for spec in &node_cols {
            let v = values.iter().find(|(s, _)| s.name == spec.name).map(|(_, v)| v.render());
            row.push(v.map(|v| cell(spec.ty, v)).unwrap_or_default());
        }
        nodes.write_record(&row).map_err(csv_err)?;
    }

    let mut edges = csv::WriterBuilder::new().from_writer(Vec::new());
    let mut header = vec![":START_ID".to_string(), ":END_ID".to_string(), ":TYPE".to_string()];
    header.extend(EDGE_ATTRS.iter().map(|s| {
        let ty = if s.name == "time" { ":datetime" } else { s.ty.neo4j() };
        format!("{}{ty}", s.name)
    }));
    edges.write_record(&header).map_err(csv_err)?;
    for edge in graph.edges() {
        let values = edge_values(edge);
        let (source, target) = graph.edge_ids(edge);
        let mut row = vec![
            text::csv_cell(&source).into_owned(),
            text::csv_cell(&target).into_owned(),
            relationship_type(edge.kind).to_string(),
        ];
        for spec in EDGE_ATTRS {
            let v = values.iter().find(|(s, _)| s.name == spec.name).map(|(_, v)| v.render());
            row.push(v.map(|v| cell(spec.ty, v)).unwrap_or_default());
        }
        edges.write_record(&row).map_err(csv_err)?;
    }
    let nodes = nodes.into_inner().map_err(|e| csv_err(e.into_error().into()))?;
    let edges = edges.into_inner().map_err(|e| csv_err(e.into_error().into()))?;
    Ok((nodes, edges))
}
