//! [`GraphSource`] over the RocksDB store, for one chain.

use std::collections::HashMap;
use std::sync::OnceLock;

use chaintrace_model::{token_namespace, Address, Hash32, Label, Position, TokenInfo, Transfer, UtxoOutput, UtxoSpend};
use chaintrace_store::{Direction as StoreDirection, Store, StoreError};

use crate::source::{Direction, GraphSource, TokenMeta};

/// One chain of a [`Store`] as a graph source.
///
/// Labels are read once, on the first look-up, into an in-memory index: a trace looks up every
/// address it reaches, and one scan of the label set is far cheaper than a seek per address.
pub struct StoreSource<'a> {
    store: &'a Store,
    chain: String,
    /// The chain has Bitcoin UTXO structure (FIFO runs through transactions).
    utxo: bool,
    labels: OnceLock<HashMap<Address, Vec<Label>>>,
}

impl<'a> StoreSource<'a> {
    pub fn new(store: &'a Store, chain: impl Into<String>, utxo: bool) -> Self {
        StoreSource { store, chain: chain.into(), utxo, labels: OnceLock::new() }
    }
}

fn dir(d: Direction) -> StoreDirection {
    match d {
        Direction::Out => StoreDirection::Out,
        Direction::In => StoreDirection::In,
    }
}

impl GraphSource for StoreSource<'_> {
    type Error = StoreError;

    fn transfers(
        &self,
        addr: &Address,
        d: Direction,
        after: Option<(u64, Position)>,
        limit: usize,
    ) -> Result<Vec<Transfer>, StoreError> {
        self.store.transfers(&self.chain, addr, dir(d), after, limit)
    }

    fn labels(&self, addr: &Address) -> Result<Vec<Label>, StoreError> {
        if self.labels.get().is_none() {
            let mut index: HashMap<Address, Vec<Label>> = HashMap::new();
            for l in self.store.all_labels()? {
                if l.applies_to(&self.chain) {
                    index.entry(l.address.clone()).or_default().push(l);
                }
            }
            let _ = self.labels.set(index);
        }
        Ok(self.labels.get().and_then(|m| m.get(addr)).cloned().unwrap_or_default())
    }

    fn degree(&self, addr: &Address, d: Direction, cap: u64) -> Result<u64, StoreError> {
        self.store.degree(&self.chain, addr, dir(d), cap)
    }

    fn token_meta(&self, token: &[u8; 20]) -> Result<Option<TokenMeta>, StoreError> {
        let Some(v) = self.store.get_meta(&token_namespace(&self.chain), token)? else { return Ok(None) };
        // a row that does not decode is treated as unknown metadata, not as a failure of the trace
        let info: Option<TokenInfo> = serde_json::from_slice(&v).ok();
        Ok(info.map(|i| TokenMeta { symbol: i.symbol, decimals: i.decimals.unwrap_or(0) }))
    }

    fn tx_inputs(&self, txid: &Hash32) -> Result<Option<Vec<(UtxoSpend, Option<UtxoOutput>)>>, StoreError> {
        if !self.utxo {
            return Ok(None);
        }
        self.store.tx_inputs(&self.chain, txid).map(Some)
    }

    fn tx_outputs(&self, txid: &Hash32) -> Result<Option<Vec<UtxoOutput>>, StoreError> {
        if !self.utxo {
            return Ok(None);
        }
        self.store.tx_outputs(&self.chain, txid).map(Some)
    }
}
