//! The store as the adapters' sink: one [`ChainSink`] for both chain kinds (it also resolves
//! spent Bitcoin outputs), plus the EVM token metadata through the store's typed rows.

use chaintrace_evm::{RefillSink, TokenMetaStore};
use chaintrace_model::sink::{Applied, ApplyCounts, ChainSink};
use chaintrace_model::{BlockData, Hash32, TokenMeta, UtxoLookup, UtxoOutput};
use chaintrace_store::{Store, StoreError};

/// One chain of the store as an ingest sink; it also resolves spent Bitcoin outputs.
#[derive(Clone, Copy)]
pub(crate) struct StoreSink<'a> {
    pub store: &'a Store,
    pub chain: &'a str,
}

impl ChainSink for StoreSink<'_> {
    type Error = StoreError;
    fn tip(&self) -> Result<Option<(u64, Hash32)>, StoreError> {
        Ok(self.store.tip(self.chain)?.map(|t| (t.height, t.hash)))
    }
    fn block_hash(&self, height: u64) -> Result<Option<Hash32>, StoreError> {
        self.store.block_hash(self.chain, height)
    }
    fn apply(&self, blocks: &[BlockData]) -> Result<Applied, StoreError> {
        match self.store.apply_blocks(self.chain, blocks) {
            Ok(s) => Ok(Applied::Ok(ApplyCounts { blocks: s.blocks, transfers: s.transfers, skipped: s.skipped })),
            Err(StoreError::ParentMismatch { .. }) => Ok(Applied::ParentMismatch),
            Err(e) => Err(e),
        }
    }
    fn rollback_to(&self, height: u64) -> Result<u64, StoreError> {
        self.store.rollback_to(self.chain, height)
    }
    fn record_node_info(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.store.put_node_capability(self.chain, key, value)
    }
}

impl RefillSink for StoreSink<'_> {
    type Error = StoreError;
    fn missing_internal(&self, from: u64, to: u64) -> Result<Vec<u64>, StoreError> {
        self.store.blocks_without_internal_transfers(self.chain, from, to)
    }
    fn block_hash(&self, height: u64) -> Result<Option<Hash32>, StoreError> {
        self.store.block_hash(self.chain, height)
    }
    fn fill(&self, blocks: &[BlockData]) -> Result<u64, StoreError> {
        Ok(self.store.fill_internal_transfers(self.chain, blocks)?.transfers)
    }
}

impl UtxoLookup for StoreSink<'_> {
    type Error = StoreError;
    fn output(&self, txid: &Hash32, vout: u32) -> Result<Option<UtxoOutput>, StoreError> {
        self.store.output(self.chain, txid, vout)
    }
}

/// Token metadata of one chain in the store.
pub(crate) struct StoreTokens<'a> {
    store: &'a Store,
    chain: &'a str,
}

impl<'a> StoreTokens<'a> {
    pub(crate) fn new(store: &'a Store, chain: &'a str) -> Self {
        StoreTokens { store, chain }
    }
}

impl TokenMetaStore for StoreTokens<'_> {
    type Error = StoreError;
    fn get(&self, token: &[u8; 20]) -> Result<Option<TokenMeta>, StoreError> {
        self.store.token_meta(self.chain, token)
    }
    fn put(&self, token: &[u8; 20], meta: &TokenMeta) -> Result<(), StoreError> {
        self.store.put_token_meta(self.chain, token, meta)
    }
}
