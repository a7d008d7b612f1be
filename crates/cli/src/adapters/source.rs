//! [`GraphSource`] over the RocksDB store, for one chain: the tracer is sans-IO and knows
//! nothing of the store; this adapter is where the two meet. With a fresh graph snapshot of the
//! chain (`adapters::snapshot`), transfers and degrees come from the snapshot's mapped file
//! instead of RocksDB; everything else (labels, token metadata, UTXO structure) from the store.

use std::collections::HashMap;
use std::sync::OnceLock;

use chaintrace_model::{
    Address, Asset, BridgeEvent, BridgeKey, ChainBlock, ChainEdge, Conversion, Direction, Hash32, Label, Position,
    TokenMeta, Transfer, UtxoOutput, UtxoSpend,
};
use chaintrace_snapshot::{Snapshot, SnapshotError};
use chaintrace_store::{Store, StoreError};
use chaintrace_tracer::{BatchRequest, DenseView, GraphSource, OwnerFlows, Row};

/// What a [`StoreSource`] read failed on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceError {
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The chain's graph snapshot.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The dense view was asked for without a snapshot (`dense` offers it only with one).
    #[error("the chain's graph snapshot is not open")]
    NoSnapshot,
}

/// One chain of a [`Store`] as a graph source.
///
/// Labels are read once, on the first look-up, into an in-memory index: a trace looks up every
/// address it reaches, and one scan of the label set is far cheaper than a seek per address.
pub(crate) struct StoreSource<'a> {
    store: &'a Store,
    chain: String,
    /// The chain has Bitcoin UTXO structure (FIFO runs through transactions).
    utxo: bool,
    labels: OnceLock<HashMap<Address, Vec<Label>>>,
    /// The labelled addresses by snapshot id (the dense view's `labelled`).
    labelled: OnceLock<Vec<(u32, Vec<Label>)>>,
    /// Labels kept outside the store (the workbench's user labels), merged into look-ups.
    extra: Vec<Label>,
    /// A snapshot of the chain equal to the store's state: transfers and degrees come from it.
    snap: Option<&'a Snapshot>,
}

impl<'a> StoreSource<'a> {
    /// Chain `chain` of `store`; `utxo` when it is a Bitcoin chain.
    pub(crate) fn new(store: &'a Store, chain: impl Into<String>, utxo: bool) -> Self {
        StoreSource {
            store,
            chain: chain.into(),
            utxo,
            labels: OnceLock::new(),
            labelled: OnceLock::new(),
            extra: Vec::new(),
            snap: None,
        }
    }

    /// Also answer these labels (the workbench's user labels, which live beside the store).
    pub(crate) fn with_labels(mut self, extra: Vec<Label>) -> Self {
        self.extra = extra;
        self
    }

    /// Read transfers and degrees from `snap`, a snapshot of this chain that the caller has
    /// checked is fresh (built from the store's current state: `adapters::snapshot`).
    pub(crate) fn with_snapshot(mut self, snap: Option<&'a Snapshot>) -> Self {
        self.snap = snap;
        self
    }
}

impl StoreSource<'_> {
    /// Every label that applies on the chain, by address (read on first use).
    fn label_index(&self) -> Result<&HashMap<Address, Vec<Label>>, SourceError> {
        if let Some(m) = self.labels.get() {
            return Ok(m);
        }
        let mut index: HashMap<Address, Vec<Label>> = HashMap::new();
        for l in self.store.all_labels()?.into_iter().chain(self.extra.iter().cloned()) {
            if l.applies_to(&self.chain) {
                index.entry(l.address.clone()).or_default().push(l);
            }
        }
        Ok(self.labels.get_or_init(|| index))
    }

    fn fresh_snapshot(&self) -> Result<&Snapshot, SourceError> {
        self.snap.ok_or(SourceError::NoSnapshot)
    }
}

impl GraphSource for StoreSource<'_> {
    type Error = SourceError;

    fn transfers(
        &self,
        addr: &Address,
        d: Direction,
        after: Option<(u64, Position)>,
        limit: usize,
    ) -> Result<Vec<Transfer>, SourceError> {
        match self.snap {
            Some(s) => Ok(s.transfers(addr, d, after, limit)?),
            None => Ok(self.store.transfers(&self.chain, addr, d, after, limit)?),
        }
    }

    fn transfers_batch(&self, reqs: &[BatchRequest], d: Direction) -> Result<Vec<Vec<Transfer>>, SourceError> {
        match self.snap {
            Some(s) => Ok(s.transfers_batch(reqs, d)?),
            None => Ok(self.store.transfers_batch(&self.chain, reqs, d)?),
        }
    }

    fn has_transfers_after(
        &self,
        addr: &Address,
        d: Direction,
        after: Option<(u64, Position)>,
    ) -> Result<bool, SourceError> {
        match self.snap {
            Some(s) => Ok(s.has_transfers_after(addr, d, after)?),
            None => Ok(self.store.has_transfers_after(&self.chain, addr, d, after)?),
        }
    }

    fn labels(&self, addr: &Address) -> Result<Vec<Label>, SourceError> {
        Ok(self.label_index()?.get(addr).cloned().unwrap_or_default())
    }

    fn degree(&self, addr: &Address, d: Direction, cap: u64) -> Result<u64, SourceError> {
        match self.snap {
            Some(s) => Ok(s.degree(addr, d)?.min(cap)),
            None => Ok(self.store.degree(&self.chain, addr, d, cap)?),
        }
    }

    fn degrees(&self, addr: &Address, cap: u64) -> Result<(u64, u64), SourceError> {
        match self.snap {
            Some(s) => s.degrees(addr).map(|(o, i)| (o.min(cap), i.min(cap))).map_err(Into::into),
            None => Ok((
                self.store.degree(&self.chain, addr, Direction::Out, cap)?,
                self.store.degree(&self.chain, addr, Direction::In, cap)?,
            )),
        }
    }

    fn token_meta(&self, token: &[u8; 20]) -> Result<Option<TokenMeta>, SourceError> {
        Ok(self.store.token_meta(&self.chain, token)?)
    }

    fn conversions(
        &self,
        addr: &Address,
        after: Option<(u64, Position)>,
        limit: usize,
    ) -> Result<Vec<Conversion>, SourceError> {
        Ok(self.store.conversions(&self.chain, addr, after, limit)?)
    }

    fn bridge_deposits(&self, addr: &Address) -> Result<Vec<BridgeEvent>, SourceError> {
        Ok(self.store.bridge_deposits(&self.chain, addr)?)
    }

    fn bridge_release(&self, key: &BridgeKey) -> Result<Option<BridgeEvent>, SourceError> {
        Ok(self.store.bridge_release(&self.chain, key)?)
    }

    fn flows_batch(&self, addrs: &[Address]) -> Result<Vec<OwnerFlows>, SourceError> {
        Ok(self.store.flows_of_many(&self.chain, addrs)?)
    }

    fn tx_inputs(&self, txid: &Hash32) -> Result<Option<Vec<(UtxoSpend, Option<UtxoOutput>)>>, SourceError> {
        if !self.utxo {
            return Ok(None);
        }
        Ok(self.store.tx_inputs(&self.chain, txid).map(Some)?)
    }

    fn tx_outputs(&self, txid: &Hash32) -> Result<Option<Vec<UtxoOutput>>, SourceError> {
        if !self.utxo {
            return Ok(None);
        }
        Ok(self.store.tx_outputs(&self.chain, txid).map(Some)?)
    }

    fn dense(&self) -> Option<&dyn DenseView<Error = SourceError>> {
        self.snap.is_some().then_some(self as &dyn DenseView<Error = SourceError>)
    }
}

/// With a fresh snapshot, the walk runs over its ids and records (offered by `dense` only then).
impl DenseView for StoreSource<'_> {
    type Error = SourceError;

    fn id_of(&self, addr: &Address) -> Option<u32> {
        self.snap?.id_of(addr)
    }

    fn address(&self, id: u32) -> Result<Address, SourceError> {
        Ok(self.fresh_snapshot()?.address(id)?)
    }

    fn assets(&self) -> &[Asset] {
        self.snap.map_or(&[], |s| s.assets())
    }

    fn degrees(&self, id: u32) -> Result<(u64, u64), SourceError> {
        Ok(self.fresh_snapshot()?.degrees_of(id)?)
    }

    fn prefetch(&self, id: u32) {
        if let Some(snap) = self.snap {
            snap.prefetch(id);
        }
    }

    fn prefetch_address(&self, id: u32) {
        if let Some(snap) = self.snap {
            snap.prefetch_address(id);
        }
    }

    fn read_ahead(&self, ids: &mut dyn Iterator<Item = u32>) {
        if let Some(snap) = self.snap {
            snap.read_ahead(ids);
        }
    }

    fn hashes_ahead(&self, txs: &[u32]) {
        if let Some(snap) = self.snap {
            snap.hashes_ahead(txs);
        }
    }

    fn rows(
        &self,
        id: u32,
        dir: Direction,
        after: Option<(u64, Position)>,
        out: &mut Vec<Row>,
    ) -> Result<(), SourceError> {
        self.fresh_snapshot()?.records(id, dir, after, |r| out.push(r))?;
        Ok(())
    }

    fn rows_both(&self, id: u32, outs: &mut Vec<Row>, ins: &mut Vec<Row>) -> Result<(), SourceError> {
        self.fresh_snapshot()?.records_both(id, |dir, r| match dir {
            Direction::Out => outs.push(r),
            Direction::In => ins.push(r),
        })?;
        Ok(())
    }

    fn has_rows_after(&self, id: u32, dir: Direction, after: Option<(u64, Position)>) -> Result<bool, SourceError> {
        Ok(self.fresh_snapshot()?.has_records_after(id, dir, after)?)
    }

    fn tx_hashes(&self, txs: &[u32]) -> Result<Vec<Hash32>, SourceError> {
        Ok(self.fresh_snapshot()?.tx_hashes(txs)?)
    }

    fn labelled(&self) -> Result<&[(u32, Vec<Label>)], SourceError> {
        if let Some(v) = self.labelled.get() {
            return Ok(v);
        }
        let snap = self.fresh_snapshot()?;
        let mut v: Vec<(u32, Vec<Label>)> = self
            .label_index()?
            .iter()
            .filter_map(|(a, ls)| Some((snap.id_of(a)?, ls.clone())))
            .filter(|(_, ls)| !ls.is_empty())
            .collect();
        v.sort_by_key(|(id, _)| *id);
        Ok(self.labelled.get_or_init(|| v))
    }

    fn flows_free(&self) -> bool {
        !self.store.has_flows(&self.chain)
    }

    fn chain_size(&self) -> Option<(u64, u64)> {
        self.snap.map(|s| (s.transfer_count(), s.address_count()))
    }

    fn scan_chain(&self, fwd: bool, f: &mut dyn FnMut(ChainBlock, &[ChainEdge])) -> Result<(), SourceError> {
        Ok(self.fresh_snapshot()?.scan_chain(fwd, f)?)
    }

    fn flows_of(&self, ids: &[u32]) -> Result<Vec<OwnerFlows>, SourceError> {
        let snap = self.fresh_snapshot()?;
        let addrs = ids.iter().map(|&id| snap.address(id)).collect::<Result<Vec<Address>, _>>()?;
        Ok(self.store.flows_of_many(&self.chain, &addrs)?)
    }
}
