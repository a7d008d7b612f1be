//! The labels crate's traits over the RocksDB store: where imports and inferred labels are
//! written ([`StoreLabels`]) and the transfers the deposit inference reads ([`StoreGraph`]).

use chaintrace_labels::{deposits::Graph, LabelStore};
use chaintrace_model::{Address, Direction, ImportRecord, Label, Transfer};
use chaintrace_store::{Store, StoreError};

/// The store's label set and import history.
pub(crate) struct StoreLabels<'a>(pub &'a Store);

impl LabelStore for StoreLabels<'_> {
    type Error = StoreError;
    fn all_labels(&self) -> Result<Vec<Label>, StoreError> {
        self.0.all_labels()
    }
    fn labels_by_source(&self, source: &str) -> Result<Vec<Label>, StoreError> {
        self.0.labels_by_source(source)
    }
    fn replace_labels_many(&self, sets: &[(&str, &[Label])]) -> Result<(), StoreError> {
        self.0.replace_labels_many(sets).map(drop)
    }
    fn record_import(&self, record: ImportRecord) -> Result<ImportRecord, StoreError> {
        self.0.record_label_import(record)
    }
    fn imports(&self) -> Result<Vec<ImportRecord>, StoreError> {
        self.0.label_imports()
    }
}

/// The store's transfers of one chain.
pub(crate) struct StoreGraph<'a> {
    /// The store.
    pub store: &'a Store,
    /// The chain's name.
    pub chain: &'a str,
}

impl Graph for StoreGraph<'_> {
    type Error = StoreError;
    fn transfers(&self, addr: &Address, dir: Direction, limit: usize) -> Result<Vec<Transfer>, StoreError> {
        self.store.transfers(self.chain, addr, dir, None, limit)
    }
}
