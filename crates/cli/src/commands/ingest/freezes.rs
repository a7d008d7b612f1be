//! After a node ingest: the stablecoin issuers' freeze events of the ingested range become
//! `frozen` labels (`chaintrace_labels::freeze`). One `eth_getLogs` per range window, filtered
//! by the issuers' contracts on this chain (built in, plus the chain's `freeze_contracts`) and
//! the four event topics; the chain's freeze labels (source `freeze:CHAIN`) are then replaced
//! by the replayed state in one write.

use std::collections::BTreeMap;

use anyhow::{bail, Context as _, Result};
use chaintrace_evm::EvmAdapter;
use chaintrace_labels::freeze::{self, FreezeEvent, Issuer};
use chaintrace_model::{Address, ChainKind, ChainSpec};
use chaintrace_store::Store;
use serde_json::{json, Value};

/// Blocks per `eth_getLogs` window.
const WINDOW: u64 = 2_000;

/// The issuer contracts of `spec`'s chain: built-in ones by chain name, then the config's.
fn contracts(spec: &ChainSpec) -> Result<BTreeMap<[u8; 20], Issuer>> {
    let mut out = BTreeMap::new();
    for (chain, hex, issuer) in freeze::ISSUER_CONTRACTS {
        if chain == spec.name {
            if let Ok(Address::Evm(b)) = Address::parse_evm(&format!("0x{hex}")) {
                out.insert(b, issuer);
            }
        }
    }
    for (text, issuer) in &spec.freeze_contracts {
        let a = Address::parse_for(spec.kind, text)
            .with_context(|| format!("chain {}: freeze_contracts key {text:?}", spec.name))?;
        let b = match a {
            Address::Evm(b) | Address::Tron(b) => b,
            _ => bail!("chain {}: freeze_contracts key {text:?} is not a contract address", spec.name),
        };
        let issuer: Issuer =
            issuer.parse().map_err(|e: String| anyhow::anyhow!("chain {}: freeze_contracts: {e}", spec.name))?;
        out.insert(b, issuer);
    }
    Ok(out)
}

fn word(text: &str) -> Option<[u8; 32]> {
    let mut w = [0u8; 32];
    hex::decode_to_slice(text.trim_start_matches("0x"), &mut w).ok()?;
    Some(w)
}

/// [`scan`], but a node that refuses `eth_getLogs` (or answers it badly) does not fail the
/// ingest that already succeeded: the freeze labels are left as they were, a warning is logged
/// and `freeze_events=unavailable` is recorded as a node capability (shown by `stats`). Store
/// errors still fail.
pub(super) async fn scan_or_warn(
    adapter: &EvmAdapter,
    store: &Store,
    spec: &ChainSpec,
    from: u64,
    to: u64,
) -> Result<Option<(usize, usize)>> {
    match scan(adapter, store, spec, from, to).await {
        Ok(r) => Ok(r),
        Err(e) if e.chain().any(|c| c.downcast_ref::<chaintrace_store::StoreError>().is_some()) => Err(e),
        Err(e) => {
            tracing::warn!(chain = %spec.name, error = %crate::output::one_line(&e), "freeze events not read");
            store.put_node_capability(&spec.name, "freeze_events", "unavailable")?;
            Ok(None)
        }
    }
}

/// Scan `from..=to` for freeze events and update the chain's `frozen` labels; returns
/// `(events, frozen addresses after)`, or `None` when the chain has no issuer contract.
pub(super) async fn scan(
    adapter: &EvmAdapter,
    store: &Store,
    spec: &ChainSpec,
    from: u64,
    to: u64,
) -> Result<Option<(usize, usize)>> {
    let known = contracts(spec)?;
    if known.is_empty() || from > to {
        return Ok(None);
    }
    let addresses: Vec<String> = known.keys().map(|b| format!("0x{}", hex::encode(b))).collect();
    let topic0: Vec<String> = freeze::topics().iter().map(|(t, _, _)| format!("0x{}", hex::encode(t))).collect();
    let account = |b: [u8; 20]| if spec.kind == ChainKind::Tron { Address::Tron(b) } else { Address::Evm(b) };
    let mut events = Vec::new();
    let mut lo = from;
    while lo <= to {
        let hi = to.min(lo.saturating_add(WINDOW - 1));
        let filter = json!([{
            "fromBlock": format!("0x{lo:x}"),
            "toBlock": format!("0x{hi:x}"),
            "address": addresses,
            "topics": [topic0],
        }]);
        let logs: Vec<Value> = adapter
            .rpc()
            .call("eth_getLogs", filter)
            .await
            .with_context(|| format!("reading freeze events of blocks {lo}..={hi}"))?;
        for log in &logs {
            let Some(contract) = log["address"].as_str().and_then(|a| Address::parse_evm(a).ok()) else { continue };
            let Address::Evm(c) = contract else { continue };
            let Some(&issuer) = known.get(&c) else { continue };
            let topics: Vec<[u8; 32]> = log["topics"]
                .as_array()
                .map(|t| t.iter().filter_map(|x| x.as_str().and_then(word)).collect())
                .unwrap_or_default();
            let data = hex::decode(log["data"].as_str().unwrap_or("0x").trim_start_matches("0x")).unwrap_or_default();
            let Some((added, address)) = freeze::decode_log(issuer, &topics, &data, account) else { continue };
            let num = |k: &str| log[k].as_str().and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok());
            let tx = log["transactionHash"].as_str().unwrap_or("").to_ascii_lowercase();
            let tx = if spec.kind == ChainKind::Tron { tx.trim_start_matches("0x").to_string() } else { tx };
            events.push(FreezeEvent {
                issuer,
                address,
                added,
                tx,
                block: num("blockNumber").unwrap_or(lo),
                log_index: num("logIndex").unwrap_or(0),
            });
        }
        lo = hi + 1;
    }
    let source = freeze::source(&spec.name);
    let current = store.labels_by_source(&source)?;
    let next = freeze::apply(&spec.name, current, &events);
    store.replace_labels_many(&[(source.as_str(), next.as_slice())])?;
    Ok(Some((events.len(), next.len())))
}
