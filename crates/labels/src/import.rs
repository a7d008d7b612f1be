//! Writing parsed files into a [`LabelStore`].
//!
//! Each source is swapped atomically ([`LabelStore::replace_labels_many`]), so importing the
//! same file twice changes nothing and a newer file of the same source replaces the older one.
//! OFAC is one source (`ofac-sdn`) fed by files that may each cover only part of the list
//! (one ticker, or every EVM address): the file replaces exactly the part it covers, and
//! names/programs known from an earlier file are kept for addresses a nameless list confirms.
//! Every import that changed something is recorded ([`LabelStore::record_import`]) with the
//! addresses it added and removed, for `labels list --changes`.

use std::collections::{BTreeMap, BTreeSet};

pub use chaintrace_model::{AddrChange, ImportRecord, SourceChange};
use chaintrace_model::{Address, Category, Label};
use serde::Serialize;

use crate::{
    ofac::{self, merge_set, tickers_of, UNNAMED},
    store::LabelStore,
    Coverage, LabelsError, Parsed, Skipped,
};

/// An import's full report: the record plus every skipped item.
#[derive(Clone, Debug, Serialize)]
pub struct ImportReport {
    /// What the import did (flattened into the JSON report).
    #[serde(flatten)]
    pub record: ImportRecord,
    /// Every listed address that was not stored.
    pub skipped: Vec<Skipped>,
}

/// Import one parsed file (or sdn.csv group) into the store.
pub fn import<S: LabelStore>(store: &S, parsed: &Parsed) -> Result<ImportReport, LabelsError> {
    let mut sources = Vec::new();
    if let Some(cov) = &parsed.coverage {
        let old = store.labels_by_source(ofac::SOURCE).map_err(LabelsError::store)?;
        let merged = merge_ofac(&old, &parsed.labels, cov);
        store.replace_labels_many(&[(ofac::SOURCE, &merged)]).map_err(LabelsError::store)?;
        sources.push(address_diff(ofac::SOURCE, &old, &merged));
    } else {
        let mut by_source: BTreeMap<&str, Vec<Label>> = BTreeMap::new();
        for l in &parsed.labels {
            by_source.entry(l.source.as_str()).or_default().push(l.clone());
        }
        // Every source of the file goes in one atomic batch: all of it or nothing.
        let mut olds = Vec::with_capacity(by_source.len());
        for source in by_source.keys() {
            olds.push(store.labels_by_source(source).map_err(LabelsError::store)?);
        }
        let sets: Vec<(&str, &[Label])> = by_source.iter().map(|(s, l)| (*s, l.as_slice())).collect();
        store.replace_labels_many(&sets).map_err(LabelsError::store)?;
        for ((source, labels), old) in by_source.iter().zip(&olds) {
            sources.push(address_diff(source, old, labels));
        }
    }
    let record = ImportRecord {
        seq: 0,
        files: parsed.files.iter().map(|p| p.display().to_string()).collect(),
        format: parsed.format.name().to_string(),
        list_date: parsed.list_date.clone(),
        labels: parsed.labels.len(),
        sources,
        skipped_invalid: parsed.skipped.iter().filter(|s| s.kind == "invalid").count(),
        skipped_unsupported: parsed.skipped.iter().filter(|s| s.kind == "unsupported").count(),
    };
    let record = if record.sources.iter().any(|s| !s.added.is_empty() || !s.removed.is_empty()) {
        store.record_import(record).map_err(LabelsError::store)?
    } else {
        record
    };
    Ok(ImportReport { record, skipped: parsed.skipped.clone() })
}

fn label_id(l: &Label) -> (Address, Option<String>, Category, String) {
    (l.address.clone(), l.chain.clone(), l.category, l.entity.clone())
}

/// Added/removed by label identity; for OFAC (one label per address) that is by address.
fn address_diff(source: &str, old: &[Label], new: &[Label]) -> SourceChange {
    let by_addr = source == ofac::SOURCE;
    let key =
        |l: &Label| if by_addr { (l.address.clone(), None, Category::Sanctioned, String::new()) } else { label_id(l) };
    let old_keys: BTreeSet<_> = old.iter().map(key).collect();
    let new_keys: BTreeSet<_> = new.iter().map(key).collect();
    let added: Vec<AddrChange> = new.iter().filter(|l| !old_keys.contains(&key(l))).map(AddrChange::of).collect();
    let removed: Vec<AddrChange> = old.iter().filter(|l| !new_keys.contains(&key(l))).map(AddrChange::of).collect();
    SourceChange { source: source.to_string(), total: new.len(), unchanged: new.len() - added.len(), added, removed }
}

/// The new `ofac-sdn` set: the stored labels the file does not cover, plus the file's labels
/// (enriched with names/programs the store already knew for the same address).
pub fn merge_ofac(old: &[Label], new: &[Label], cov: &Coverage) -> Vec<Label> {
    let mut kept: BTreeMap<Address, Label> = BTreeMap::new();
    let mut known: BTreeMap<Address, &Label> = BTreeMap::new();
    for o in old {
        known.insert(o.address.clone(), o);
        let keep = match cov {
            Coverage::All => None,
            Coverage::Evm => (!o.address.is_evm()).then(|| o.clone()),
            Coverage::Tickers(ts) => {
                let have = tickers_of(o);
                if have.is_empty() {
                    // Listed under tickers we do not know: this file cannot say it is gone.
                    Some(o.clone())
                } else {
                    let rest: Vec<&String> = have.iter().filter(|t| !ts.contains(*t)).collect();
                    (!rest.is_empty()).then(|| {
                        let mut l = o.clone();
                        l.attrs.insert("tickers".into(), rest.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","));
                        l
                    })
                }
            }
        };
        if let Some(l) = keep {
            kept.insert(l.address.clone(), l);
        }
    }
    for n in new {
        match kept.get_mut(&n.address) {
            Some(k) => enrich(k, n, true),
            None => {
                let mut l = n.clone();
                if let Some(o) = known.get(&n.address) {
                    enrich(&mut l, o, false);
                }
                kept.insert(l.address.clone(), l);
            }
        }
    }
    kept.into_values().collect()
}

/// Merge what `other` knows about the same address into `l`. With `newer`, `other` is the
/// newer file: its list date and confidence win.
fn enrich(l: &mut Label, other: &Label, newer: bool) {
    if l.entity == UNNAMED && other.entity != UNNAMED {
        l.entity = other.entity.clone();
    }
    for key in ["tickers", "programs"] {
        if let Some(v) = other.attrs.get(key).cloned() {
            merge_set(&mut l.attrs, key, v.split(','));
        }
    }
    for (k, v) in &other.attrs {
        if k == "tickers" || k == "programs" {
            continue;
        }
        if k == "list_date" {
            // The date of the list that last confirmed the address, never an older one.
            if newer {
                l.attrs.insert(k.clone(), v.clone());
            }
        } else {
            l.attrs.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if newer {
        l.confidence = other.confidence;
    }
}

/// For each source, the latest import that changed it.
pub fn latest_changes<S: LabelStore>(store: &S) -> Result<Vec<(ImportRecord, SourceChange)>, LabelsError> {
    let mut latest: BTreeMap<String, (ImportRecord, SourceChange)> = BTreeMap::new();
    for r in store.imports().map_err(LabelsError::store)? {
        for s in &r.sources {
            if !s.added.is_empty() || !s.removed.is_empty() {
                latest.insert(s.source.clone(), (r.clone(), s.clone()));
            }
        }
    }
    Ok(latest.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ofac_label(addr: &str, entity: &str, tickers: &str) -> Label {
        let mut attrs = BTreeMap::new();
        attrs.insert("tickers".into(), tickers.into());
        Label {
            chain: None,
            address: Address::parse_any(addr).unwrap(),
            category: Category::Sanctioned,
            entity: entity.into(),
            source: ofac::SOURCE.into(),
            confidence: 95,
            attrs,
        }
    }

    const A: &str = "0x098b716b8aaf21512996dc57eb0615e2383e2f96";
    const B: &str = "0xd90e2f925da726b50c4ed8d0fb90ad053324f31b";
    const C: &str = "0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c";

    #[test]
    fn coverage_replaces_only_its_part() {
        let old = vec![
            ofac_label(A, "LAZARUS GROUP", "ETH"),
            ofac_label(B, UNNAMED, "ETH,USDT"),
            ofac_label(C, UNNAMED, "ARB,BSC"),
        ];
        // A newer ETH list without B: B stays (still under USDT), A keeps its name.
        let new = vec![ofac_label(A, UNNAMED, "ETH")];
        let merged = merge_ofac(&old, &new, &Coverage::Tickers(BTreeSet::from(["ETH".to_string()])));
        assert_eq!(merged.len(), 3);
        let a = merged.iter().find(|l| l.address.to_string() == A).unwrap();
        assert_eq!(a.entity, "LAZARUS GROUP");
        let b = merged.iter().find(|l| l.address.to_string() == B).unwrap();
        assert_eq!(b.attrs["tickers"], "USDT");
        // A list of every EVM address replaces all of them.
        let merged = merge_ofac(&old, &[ofac_label(C, "SIM, Hyon Sop", "")], &Coverage::Evm);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].entity, "SIM, Hyon Sop");
        assert_eq!(merged[0].attrs["tickers"], "ARB,BSC");
    }
}
