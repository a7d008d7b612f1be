//! Where imported and inferred labels are kept: a small trait the binary implements over the
//! RocksDB store, and [`MemLabelStore`], an in-memory implementation for tests and tools.

use std::{
    collections::{BTreeMap, BTreeSet},
    convert::Infallible,
    sync::Mutex,
};

use chaintrace_model::{Address, Category, ImportRecord, Label};

/// The label set and its import history, as the importer and the deposit inference need them.
pub trait LabelStore {
    /// The store's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Every label.
    fn all_labels(&self) -> Result<Vec<Label>, Self::Error>;

    /// Every label of one source.
    fn labels_by_source(&self, source: &str) -> Result<Vec<Label>, Self::Error>;

    /// Atomically make each `(source, labels)` the whole label set of that source (every label
    /// carries its set's source): all the sets are replaced, or none.
    fn replace_labels_many(&self, sets: &[(&str, &[Label])]) -> Result<(), Self::Error>;

    /// Keep the record of an import; the store gives it the next sequence number.
    fn record_import(&self, record: ImportRecord) -> Result<ImportRecord, Self::Error>;

    /// Every kept import record, oldest first.
    fn imports(&self) -> Result<Vec<ImportRecord>, Self::Error>;
}

impl<S: LabelStore + ?Sized> LabelStore for &S {
    type Error = S::Error;
    fn all_labels(&self) -> Result<Vec<Label>, Self::Error> {
        (**self).all_labels()
    }
    fn labels_by_source(&self, source: &str) -> Result<Vec<Label>, Self::Error> {
        (**self).labels_by_source(source)
    }
    fn replace_labels_many(&self, sets: &[(&str, &[Label])]) -> Result<(), Self::Error> {
        (**self).replace_labels_many(sets)
    }
    fn record_import(&self, record: ImportRecord) -> Result<ImportRecord, Self::Error> {
        (**self).record_import(record)
    }
    fn imports(&self) -> Result<Vec<ImportRecord>, Self::Error> {
        (**self).imports()
    }
}

/// Identity of a label within the set (what the RocksDB store keys it by).
type LabelId = (Address, Option<String>, String, Category, String);

fn id(l: &Label) -> LabelId {
    (l.address.clone(), l.chain.clone(), l.source.clone(), l.category, l.entity.clone())
}

/// An in-memory [`LabelStore`] with the same replace semantics as the RocksDB store.
#[derive(Default, Debug)]
pub struct MemLabelStore {
    inner: Mutex<MemInner>,
}

#[derive(Default, Debug)]
struct MemInner {
    labels: BTreeMap<LabelId, Label>,
    imports: Vec<ImportRecord>,
}

impl MemLabelStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, MemInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every label on `addr`.
    pub fn labels_of(&self, addr: &Address) -> Vec<Label> {
        self.inner().labels.values().filter(|l| &l.address == addr).cloned().collect()
    }
}

impl LabelStore for MemLabelStore {
    type Error = Infallible;

    fn all_labels(&self) -> Result<Vec<Label>, Infallible> {
        Ok(self.inner().labels.values().cloned().collect())
    }

    fn labels_by_source(&self, source: &str) -> Result<Vec<Label>, Infallible> {
        Ok(self.inner().labels.values().filter(|l| l.source == source).cloned().collect())
    }

    fn replace_labels_many(&self, sets: &[(&str, &[Label])]) -> Result<(), Infallible> {
        let mut inner = self.inner();
        let sources: BTreeSet<&str> = sets.iter().map(|(s, _)| *s).collect();
        inner.labels.retain(|_, l| !sources.contains(l.source.as_str()));
        for (_, labels) in sets {
            for l in *labels {
                inner.labels.insert(id(l), l.clone());
            }
        }
        Ok(())
    }

    fn record_import(&self, mut record: ImportRecord) -> Result<ImportRecord, Infallible> {
        let mut inner = self.inner();
        record.seq = inner.imports.last().map_or(1, |r| r.seq + 1);
        inner.imports.push(record.clone());
        Ok(record)
    }

    fn imports(&self) -> Result<Vec<ImportRecord>, Infallible> {
        Ok(self.inner().imports.clone())
    }
}
