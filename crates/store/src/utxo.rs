//! The Bitcoin UTXO view: outputs, and which input spent which output.

use chaintrace_model::{Hash32, UtxoLookup, UtxoOutput, UtxoSpend};

use crate::{
    keys::{self, cf},
    rows::{OutpointRow, OutputRow},
    Store, StoreError,
};

impl Store {
    /// The Bitcoin output `txid:vout` (value in sats, its address when it has one), if stored.
    pub fn output(&self, chain: &str, txid: &Hash32, vout: u32) -> Result<Option<UtxoOutput>, StoreError> {
        let Some(no) = self.chain_no(chain) else { return Ok(None) };
        match self.db.get_cf(self.cf(cf::OUTPUTS), keys::outpoint_key(no, txid, vout))? {
            None => Ok(None),
            Some(v) => OutputRow::decode(&v)
                .and_then(|r| r.into_output(*txid, vout))
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt(format!("output {txid}:{vout}"))),
        }
    }

    /// The outputs of `txid` in vout order.
    pub fn tx_outputs(&self, chain: &str, txid: &Hash32) -> Result<Vec<UtxoOutput>, StoreError> {
        let Some(no) = self.chain_no(chain) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for (k, v) in self.prefix_scan(cf::OUTPUTS, &keys::tx_prefix(no, txid))? {
            let (_, _, vout) = keys::decode_outpoint_key(&k).ok_or_else(|| StoreError::Corrupt("output key".into()))?;
            let o = OutputRow::decode(&v)
                .and_then(|r| r.into_output(*txid, vout))
                .ok_or_else(|| StoreError::Corrupt(format!("output {txid}:{vout}")))?;
            out.push(o);
        }
        Ok(out)
    }

    /// The inputs of `txid` in vin order, each with the output it spent when that is stored.
    pub fn tx_inputs(&self, chain: &str, txid: &Hash32) -> Result<Vec<(UtxoSpend, Option<UtxoOutput>)>, StoreError> {
        let Some(no) = self.chain_no(chain) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for (k, v) in self.prefix_scan(cf::SPENDS, &keys::tx_prefix(no, txid))? {
            let (_, _, vin) = keys::decode_outpoint_key(&k).ok_or_else(|| StoreError::Corrupt("spend key".into()))?;
            let prev: OutpointRow =
                OutpointRow::decode(&v).ok_or_else(|| StoreError::Corrupt(format!("spend {txid}:{vin}")))?;
            let spend = UtxoSpend { txid: *txid, vin, prev_txid: prev.txid, prev_vout: prev.index };
            let spent = self.output(chain, &prev.txid, prev.index)?;
            out.push((spend, spent));
        }
        Ok(out)
    }

    /// The input that spent `txid:vout`, if any is stored.
    pub fn spender(&self, chain: &str, txid: &Hash32, vout: u32) -> Result<Option<UtxoSpend>, StoreError> {
        let Some(no) = self.chain_no(chain) else { return Ok(None) };
        match self.db.get_cf(self.cf(cf::SPENT_BY), keys::outpoint_key(no, txid, vout))? {
            None => Ok(None),
            Some(v) => {
                let by: OutpointRow =
                    OutpointRow::decode(&v).ok_or_else(|| StoreError::Corrupt(format!("spender of {txid}:{vout}")))?;
                Ok(Some(UtxoSpend { txid: by.txid, vin: by.index, prev_txid: *txid, prev_vout: vout }))
            }
        }
    }

    /// Visit every stored input, grouped by spending transaction (txid order) and in vin order;
    /// `f` returns false to stop.
    pub fn scan_spends(&self, chain: &str, mut f: impl FnMut(UtxoSpend) -> bool) -> Result<(), StoreError> {
        let Some(no) = self.chain_no(chain) else { return Ok(()) };
        let mut err = None;
        self.prefix_for_each(cf::SPENDS, &no.to_be_bytes(), |k, v| {
            match (keys::decode_outpoint_key(k), OutpointRow::decode(v)) {
                (Some((_, txid, vin)), Some(prev)) => {
                    f(UtxoSpend { txid, vin, prev_txid: prev.txid, prev_vout: prev.index })
                }
                _ => {
                    err = Some(StoreError::Corrupt("spend row".into()));
                    false
                }
            }
        })?;
        err.map_or(Ok(()), Err)
    }

    /// This store's outputs of `chain` as a [`UtxoLookup`], through which an adapter resolves
    /// the inputs of the blocks it reads.
    pub fn utxo_lookup<'a>(&'a self, chain: &'a str) -> StoreUtxoLookup<'a> {
        StoreUtxoLookup { store: self, chain }
    }
}

/// [`UtxoLookup`] over one chain of the store.
pub struct StoreUtxoLookup<'a> {
    store: &'a Store,
    chain: &'a str,
}

impl UtxoLookup for StoreUtxoLookup<'_> {
    type Error = StoreError;
    fn output(&self, txid: &Hash32, vout: u32) -> Result<Option<UtxoOutput>, StoreError> {
        self.store.output(self.chain, txid, vout)
    }
}
