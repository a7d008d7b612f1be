//! [`TronSink`]: the EVM adapter's blocks, re-keyed as TRON's.
//!
//! TRON's Ethereum-compatible JSON-RPC gives accounts and token contracts as 20-byte `0x` hex,
//! so the EVM adapter reads it unchanged. Its blocks go through this wrapper on their way to
//! the store: every [`Address::Evm`](chaintrace_model::Address::Evm) becomes [`Address::Tron`](chaintrace_model::Address::Tron) and every [`Asset::Token`] an
//! [`Asset::TronToken`], so the store holds one key per TRON account whichever API it came from.

use chaintrace_model::sink::{Applied, ChainSink};
use chaintrace_model::{Asset, BlockData, Hash32};

/// A [`ChainSink`] that stores EVM-shaped blocks as TRON blocks.
pub struct TronSink<'a, S> {
    inner: &'a S,
}

impl<'a, S: ChainSink> TronSink<'a, S> {
    /// Wrap the sink the blocks should end up in.
    pub fn new(inner: &'a S) -> Self {
        TronSink { inner }
    }
}

/// Re-key one block's transfers as TRON's.
pub fn to_tron(block: &BlockData) -> BlockData {
    let mut b = block.clone();
    for t in &mut b.transfers {
        t.from = t.from.to_tron();
        t.to = t.to.to_tron();
        if let Asset::Token(c) = t.asset {
            t.asset = Asset::TronToken(c);
        }
    }
    b
}

impl<S: ChainSink> ChainSink for TronSink<'_, S> {
    type Error = S::Error;
    fn tip(&self) -> Result<Option<(u64, Hash32)>, S::Error> {
        self.inner.tip()
    }
    fn block_hash(&self, height: u64) -> Result<Option<Hash32>, S::Error> {
        self.inner.block_hash(height)
    }
    fn apply(&self, blocks: &[BlockData]) -> Result<Applied, S::Error> {
        let mapped: Vec<BlockData> = blocks.iter().map(to_tron).collect();
        self.inner.apply(&mapped)
    }
    fn rollback_to(&self, height: u64) -> Result<u64, S::Error> {
        self.inner.rollback_to(height)
    }
    fn record_node_info(&self, key: &str, value: &str) -> Result<(), S::Error> {
        self.inner.record_node_info(key, value)
    }
}
