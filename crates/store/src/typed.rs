//! Typed rows that other parts keep in the store: token metadata, Bitcoin clusters, label
//! import records, node capabilities and the freeze-event journal. Their keys are built in [`crate::keys::meta`]; their
//! values are encoded and decoded only here (layouts in `docs/schema.md`).

use std::collections::BTreeMap;

use chaintrace_model::{Address, ImportRecord, TokenMeta};
use rocksdb::WriteBatch;

use crate::{
    keys::{cf, meta},
    Store, StoreError,
};

impl Store {
    // --- token metadata ------------------------------------------------------------------

    /// Keep what a token contract said about itself (replaces an earlier row).
    pub fn put_token_meta(&self, chain: &str, contract: &[u8; 20], token: &TokenMeta) -> Result<(), StoreError> {
        let value = serde_json::to_vec(token).map_err(|e| StoreError::Invalid(format!("token metadata: {e}")))?;
        self.db.put_cf(self.cf(cf::META), meta::token(chain, contract), value)?;
        Ok(())
    }

    /// What a token contract said about itself, when it has been asked. A row that does not
    /// decode counts as unknown (it is asked again), not as a failure of the caller.
    pub fn token_meta(&self, chain: &str, contract: &[u8; 20]) -> Result<Option<TokenMeta>, StoreError> {
        let Some(v) = self.db.get_cf(self.cf(cf::META), meta::token(chain, contract))? else { return Ok(None) };
        match serde_json::from_slice(&v) {
            Ok(t) => Ok(Some(t)),
            Err(e) => {
                tracing::warn!(chain, contract = %hex::encode(contract), error = %e, "unreadable token metadata row");
                Ok(None)
            }
        }
    }

    // --- clusters ------------------------------------------------------------------------

    /// Make `clusters` (id, members) the whole clustering of `chain`, in one atomic batch: the
    /// previous clusters of the chain are removed. Clusters of fewer than two members are not
    /// kept.
    pub fn replace_clusters<'a>(
        &self,
        chain: &str,
        clusters: impl IntoIterator<Item = (&'a str, &'a [Address])>,
    ) -> Result<(), StoreError> {
        let _w = self.lock();
        let mut batch = WriteBatch::default();
        let meta_cf = self.cf(cf::META);
        for prefix in [meta::cluster_prefix(chain), meta::cluster_size_prefix(chain)] {
            self.prefix_for_each(cf::META, &prefix, |k, _| {
                batch.delete_cf(meta_cf, k);
                true
            })?;
        }
        for (id, members) in clusters {
            if members.len() < 2 {
                continue;
            }
            batch.put_cf(meta_cf, meta::cluster_size(chain, id), (members.len() as u64).to_be_bytes());
            for m in members {
                batch.put_cf(meta_cf, meta::cluster(chain, &m.to_string()), id.as_bytes());
            }
        }
        self.db.write(batch)?;
        Ok(())
    }

    /// The cluster id of `addr` on `chain`, when it is in a cluster of two or more.
    pub fn cluster_of(&self, chain: &str, addr: &Address) -> Result<Option<String>, StoreError> {
        Ok(self
            .db
            .get_cf(self.cf(cf::META), meta::cluster(chain, &addr.to_string()))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Number of addresses in cluster `id` of `chain` (0 when there is no such cluster).
    pub fn cluster_size(&self, chain: &str, id: &str) -> Result<u64, StoreError> {
        match self.db.get_cf(self.cf(cf::META), meta::cluster_size(chain, id))? {
            None => Ok(0),
            Some(v) => <[u8; 8]>::try_from(v.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt(format!("size of cluster {id} on {chain}"))),
        }
    }

    /// Every clustered address of `chain` with its cluster id.
    pub fn clusters(&self, chain: &str) -> Result<BTreeMap<Address, String>, StoreError> {
        let prefix = meta::cluster_prefix(chain);
        let mut out = BTreeMap::new();
        self.prefix_for_each(cf::META, &prefix, |k, v| {
            let parsed = std::str::from_utf8(&k[prefix.len()..]).ok().and_then(|t| Address::parse_any(t).ok());
            match parsed {
                Some(a) => {
                    out.insert(a, String::from_utf8_lossy(v).into_owned());
                }
                None => tracing::warn!(chain, "skipping a cluster row whose address does not parse"),
            }
            true
        })?;
        Ok(out)
    }

    // --- label import records ------------------------------------------------------------

    /// Keep the record of a label import under the next sequence number, which is written into
    /// the record and returned with it.
    pub fn record_label_import(&self, mut record: ImportRecord) -> Result<ImportRecord, StoreError> {
        let _w = self.lock();
        let prefix = meta::label_import_prefix();
        let mut last = 0;
        self.prefix_for_each(cf::META, &prefix, |k, _| {
            if let Ok(b) = <[u8; 8]>::try_from(&k[prefix.len()..]) {
                last = last.max(u64::from_be_bytes(b));
            }
            true
        })?;
        record.seq = last + 1;
        let value = serde_json::to_vec(&record).map_err(|e| StoreError::Invalid(format!("import record: {e}")))?;
        self.db.put_cf(self.cf(cf::META), meta::label_import(record.seq), value)?;
        Ok(record)
    }

    /// Every kept label import record, oldest first. Unreadable records are skipped with a
    /// warning.
    pub fn label_imports(&self) -> Result<Vec<ImportRecord>, StoreError> {
        let mut out = Vec::new();
        self.prefix_for_each(cf::META, &meta::label_import_prefix(), |_, v| {
            match serde_json::from_slice::<ImportRecord>(v) {
                Ok(r) => out.push(r),
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable label import record"),
            }
            true
        })?;
        Ok(out)
    }

    // --- node capabilities ---------------------------------------------------------------

    /// Record a fact an ingest learnt about the chain's node (e.g. `trace_mode` = `none`).
    pub fn put_node_capability(&self, chain: &str, key: &str, value: &str) -> Result<(), StoreError> {
        self.db.put_cf(self.cf(cf::META), meta::node_capability(chain, key), value.as_bytes())?;
        Ok(())
    }

    /// The recorded facts about the chain's node, by key.
    pub fn node_capabilities(&self, chain: &str) -> Result<Vec<(String, String)>, StoreError> {
        let prefix = meta::node_capability_prefix(chain);
        let mut out = Vec::new();
        self.prefix_for_each(cf::META, &prefix, |k, v| {
            out.push((
                String::from_utf8_lossy(&k[prefix.len()..]).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            ));
            true
        })?;
        Ok(out)
    }

    // --- freeze-event journal ------------------------------------------------------------

    /// A chain's stablecoin freeze-event journal: the scan's progress record (opaque bytes,
    /// `None` before the first scan) and every journal row as `((block, log index), bytes)` in
    /// key order. The rows' contents are the caller's; the store only keeps them.
    #[allow(clippy::type_complexity)]
    pub fn freeze_journal(&self, chain: &str) -> Result<(Option<Vec<u8>>, Vec<((u64, u64), Vec<u8>)>), StoreError> {
        let progress = self.db.get_cf(self.cf(cf::META), meta::freeze_scan(chain))?;
        let prefix = meta::freeze_event_prefix(chain);
        let mut rows = Vec::new();
        self.prefix_for_each(cf::META, &prefix, |k, v| {
            let rest = &k[prefix.len()..];
            if let (Some(b), Some(i)) = (rest.get(..8), rest.get(8..16)) {
                let n = |x: &[u8]| u64::from_be_bytes(x.try_into().unwrap_or([0; 8]));
                rows.push(((n(b), n(i)), v.to_vec()));
            }
            true
        })?;
        Ok((progress, rows))
    }

    /// Change a chain's freeze-event journal in one atomic write: delete the rows at `remove`,
    /// put `add`, and record `progress`.
    pub fn write_freeze_journal(
        &self,
        chain: &str,
        remove: &[(u64, u64)],
        add: &[((u64, u64), Vec<u8>)],
        progress: &[u8],
    ) -> Result<(), StoreError> {
        let _w = self.lock();
        let mut batch = WriteBatch::default();
        let meta_cf = self.cf(cf::META);
        for (b, i) in remove {
            batch.delete_cf(meta_cf, meta::freeze_event(chain, *b, *i));
        }
        for ((b, i), v) in add {
            batch.put_cf(meta_cf, meta::freeze_event(chain, *b, *i), v);
        }
        batch.put_cf(meta_cf, meta::freeze_scan(chain), progress);
        self.db.write(batch)?;
        Ok(())
    }
}
