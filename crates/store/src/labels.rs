//! Labels: one row per (address, chain scope, source, category, entity), indexed by source.

use std::collections::BTreeMap;

use chaintrace_model::{Address, Label};
use rocksdb::WriteBatch;
use sha2::{Digest, Sha256};

use crate::{
    keys::{self, cf},
    Store, StoreError,
};

/// What replacing one source's labels changed (a row is identified by address, chain scope,
/// source, category and entity).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelDiff {
    /// Labels of the new set that were not stored before.
    pub added: Vec<Label>,
    /// Labels of the source that the new set no longer has; they were deleted.
    pub removed: Vec<Label>,
    /// Number of labels in both the old and the new set.
    pub unchanged: usize,
}

fn label_key(l: &Label) -> Vec<u8> {
    keys::label_key(&l.address.to_key(), l.chain.as_deref().unwrap_or(""), &l.source, l.category.as_str(), &l.entity)
}

fn encode(l: &Label) -> Vec<u8> {
    serde_json::to_vec(l).expect("labels serialise to JSON")
}

fn decode(v: &[u8]) -> Result<Label, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt(format!("label row: {e}")))
}

impl Store {
    /// Upsert labels (global: a label whose `chain` is `None` applies to every chain of its
    /// address's kind) in one atomic batch; returns how many were not stored before.
    pub fn add_labels(&self, labels: &[Label]) -> Result<usize, StoreError> {
        let _w = self.lock();
        let mut batch = WriteBatch::default();
        let mut added = 0;
        for l in labels {
            let k = label_key(l);
            if self.db.get_cf(self.cf(cf::LABELS), &k)?.is_none() {
                added += 1;
            }
            batch.put_cf(self.cf(cf::LABELS), &k, encode(l));
            batch.put_cf(self.cf(cf::LABELS_BY_SOURCE), keys::source_index_key(&l.source, &k), []);
        }
        self.db.write(batch)?;
        Ok(added)
    }

    /// Atomically make `labels` the whole label set of `source` (every label must carry that
    /// source, else [`StoreError::Invalid`]), returning what was added and removed.
    pub fn replace_labels(&self, source: &str, labels: &[Label]) -> Result<LabelDiff, StoreError> {
        let mut diffs = self.replace_labels_many(&[(source, labels)])?;
        Ok(diffs.pop().expect("one diff per source"))
    }

    /// [`Store::replace_labels`] for several sources in one atomic batch (a file that carries
    /// labels of several sources goes in whole or not at all). One diff per source, in order.
    pub fn replace_labels_many(&self, sets: &[(&str, &[Label])]) -> Result<Vec<LabelDiff>, StoreError> {
        for (source, labels) in sets {
            if let Some(l) = labels.iter().find(|l| l.source != *source) {
                return Err(StoreError::Invalid(format!("label source {:?} differs from {source:?}", l.source)));
            }
        }
        let _w = self.lock();
        let mut batch = WriteBatch::default();
        let mut diffs = Vec::with_capacity(sets.len());
        for (source, labels) in sets {
            let old: BTreeMap<Vec<u8>, Label> =
                self.labels_by_source_unlocked(source)?.into_iter().map(|l| (label_key(&l), l)).collect();
            let new: BTreeMap<Vec<u8>, &Label> = labels.iter().map(|l| (label_key(l), l)).collect();
            let mut diff = LabelDiff::default();
            for (k, l) in &old {
                if !new.contains_key(k) {
                    batch.delete_cf(self.cf(cf::LABELS), k);
                    batch.delete_cf(self.cf(cf::LABELS_BY_SOURCE), keys::source_index_key(source, k));
                    diff.removed.push(l.clone());
                }
            }
            for (k, l) in &new {
                if old.contains_key(k) {
                    diff.unchanged += 1;
                } else {
                    diff.added.push((*l).clone());
                }
                batch.put_cf(self.cf(cf::LABELS), k, encode(l));
                batch.put_cf(self.cf(cf::LABELS_BY_SOURCE), keys::source_index_key(source, k), []);
            }
            diffs.push(diff);
        }
        self.db.write(batch)?;
        Ok(diffs)
    }

    /// Every label on `addr`, across chain scopes and sources.
    pub fn labels_of(&self, addr: &Address) -> Result<Vec<Label>, StoreError> {
        let mut out = Vec::new();
        let mut err = None;
        self.prefix_for_each(cf::LABELS, &keys::labels_prefix(&addr.to_key()), |_, v| match decode(v) {
            Ok(l) => {
                out.push(l);
                true
            }
            Err(e) => {
                err = Some(e);
                false
            }
        })?;
        err.map_or(Ok(out), Err)
    }

    /// Every label stored under `source` (e.g. an OFAC import's source name), via the source
    /// index.
    pub fn labels_by_source(&self, source: &str) -> Result<Vec<Label>, StoreError> {
        let _w = self.lock();
        self.labels_by_source_unlocked(source)
    }

    fn labels_by_source_unlocked(&self, source: &str) -> Result<Vec<Label>, StoreError> {
        let prefix = keys::source_prefix(source);
        let mut label_keys = Vec::new();
        self.prefix_for_each(cf::LABELS_BY_SOURCE, &prefix, |k, _| {
            label_keys.push(k[prefix.len()..].to_vec());
            true
        })?;
        let cf_l = self.cf(cf::LABELS);
        let mut out = Vec::with_capacity(label_keys.len());
        for v in self.db.multi_get_cf(label_keys.iter().map(|k| (cf_l, k))) {
            if let Some(v) = v? {
                out.push(decode(&v)?);
            }
        }
        Ok(out)
    }

    /// Every label, in key order (grouped by address).
    pub fn all_labels(&self) -> Result<Vec<Label>, StoreError> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(cf::LABELS), rocksdb::IteratorMode::Start) {
            let (_, v) = item?;
            out.push(decode(&v)?);
        }
        Ok(out)
    }

    pub(crate) fn label_count(&self) -> Result<u64, StoreError> {
        let mut n = 0;
        for item in self.db.iterator_cf(self.cf(cf::LABELS), rocksdb::IteratorMode::Start) {
            item?;
            n += 1;
        }
        Ok(n)
    }

    /// Lower-case hex SHA-256 over every label row in key order: identifies the label set a
    /// trace saw, for case-file provenance.
    pub fn labels_hash(&self) -> Result<String, StoreError> {
        let mut h = Sha256::new();
        for item in self.db.iterator_cf(self.cf(cf::LABELS), rocksdb::IteratorMode::Start) {
            let (k, v) = item?;
            h.update((k.len() as u64).to_be_bytes());
            h.update(&k);
            h.update((v.len() as u64).to_be_bytes());
            h.update(&v);
        }
        Ok(hex::encode(h.finalize()))
    }
}
