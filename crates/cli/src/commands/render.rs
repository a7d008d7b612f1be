//! Turning stored transfers into the SPEC's edge objects.

use chaintrace_model::{format_units, time_fmt, Asset, CaseEdge, ChainSpec, Transfer};
use chaintrace_store::Store;

/// Symbol and decimals of an asset on a chain (token rows come from the EVM adapter).
pub(crate) fn asset_info(store: &Store, spec: &ChainSpec, asset: &Asset) -> (Option<String>, u8) {
    match asset {
        Asset::Native => (Some(spec.native_symbol.clone()), spec.native_decimals),
        Asset::Trc10(_) => (None, 0),
        Asset::Token(c) | Asset::TronToken(c) => {
            // An unreadable row is shown as an unknown token rather than failing the listing.
            match store.token_meta(&spec.name, c).ok().flatten() {
                Some(i) => (i.symbol, i.decimals.unwrap_or(0)),
                None => (None, 0),
            }
        }
    }
}

/// A stored transfer as an edge object (everything in it counts as traced).
pub(crate) fn edge(store: &Store, spec: &ChainSpec, t: &Transfer) -> CaseEdge {
    let (symbol, decimals) = asset_info(store, spec, &t.asset);
    let amount = format_units(t.amount, decimals);
    CaseEdge {
        from: t.from.to_string(),
        to: t.to.to_string(),
        tx: t.tx.display_for(spec.kind),
        block: t.height,
        time: time_fmt::rfc3339(t.time),
        asset: t.asset.display(&spec.native_symbol),
        symbol,
        amount: amount.clone(),
        amount_raw: t.amount.to_string(),
        traced_amount: amount,
        chain: spec.name.clone(),
        ..Default::default()
    }
}
