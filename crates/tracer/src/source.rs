//! What the tracer asks of the world: an address's transfers, labels and degree.
//!
//! The tracer never does I/O itself. Anything that can answer these questions — the RocksDB
//! store, an on-demand fetcher, an in-memory graph in a test — can be traced over.

use chaintrace_model::{
    Address, BridgeEvent, BridgeKey, Conversion, Direction, Hash32, Label, Position, TokenMeta, Transfer, UtxoOutput,
    UtxoSpend,
};

/// One request of a batched read: the address, the chain-order key to read strictly after, and
/// the most transfers wanted.
pub type BatchRequest = (Address, Option<(u64, Position)>, usize);

/// The transaction graph of one chain, as the tracer sees it.
pub trait GraphSource {
    /// The source's own failure (a store error; `Infallible` in memory).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Transfers out of / into `addr` in chain order `(height, tx_index, sub)`, strictly after
    /// `after` when given, at most `limit`.
    fn transfers(
        &self,
        addr: &Address,
        dir: Direction,
        after: Option<(u64, Position)>,
        limit: usize,
    ) -> Result<Vec<Transfer>, Self::Error>;

    /// The transfers of each requested address, one result per request in request order.
    /// Sources that can read many keys at once override this; the tracer asks for a whole
    /// hop's frontier in one call.
    fn transfers_batch(&self, reqs: &[BatchRequest], dir: Direction) -> Result<Vec<Vec<Transfer>>, Self::Error> {
        reqs.iter().map(|(a, after, limit)| self.transfers(a, dir, *after, *limit)).collect()
    }

    /// Whether `addr` has any transfer in `dir` strictly after `after` (any at all when
    /// `None`). Sources that can answer without reading a transfer (an offset index) override
    /// this; the answer must equal the default's.
    fn has_transfers_after(
        &self,
        addr: &Address,
        dir: Direction,
        after: Option<(u64, Position)>,
    ) -> Result<bool, Self::Error> {
        Ok(!self.transfers(addr, dir, after, 1)?.is_empty())
    }

    /// Labels of `addr` that apply to this source's chain.
    fn labels(&self, addr: &Address) -> Result<Vec<Label>, Self::Error>;

    /// Number of transfers of `addr` in `dir`, counting stops at `cap`.
    fn degree(&self, addr: &Address, dir: Direction, cap: u64) -> Result<u64, Self::Error>;

    /// Numbers of transfers of `addr` out and in, each counting stops at `cap`: the same as
    /// `degree` in each direction. Sources that find the address once for both override this.
    fn degrees(&self, addr: &Address, cap: u64) -> Result<(u64, u64), Self::Error> {
        Ok((self.degree(addr, Direction::Out, cap)?, self.degree(addr, Direction::In, cap)?))
    }

    /// Symbol and decimals of a token contract, when known.
    fn token_meta(&self, _token: &[u8; 20]) -> Result<Option<TokenMeta>, Self::Error> {
        Ok(None)
    }

    /// Conversions (swaps, wraps) owned by `addr` in chain order, strictly after `after` when
    /// given, at most `limit`. Sources without conversions answer none.
    fn conversions(
        &self,
        _addr: &Address,
        _after: Option<(u64, Position)>,
        _limit: usize,
    ) -> Result<Vec<Conversion>, Self::Error> {
        Ok(Vec::new())
    }

    /// Bridge deposits sent by `addr` on this chain, in chain order.
    fn bridge_deposits(&self, _addr: &Address) -> Result<Vec<BridgeEvent>, Self::Error> {
        Ok(Vec::new())
    }

    /// The release on this chain of the crossing `key`, when this chain holds it.
    fn bridge_release(&self, _key: &BridgeKey) -> Result<Option<BridgeEvent>, Self::Error> {
        Ok(None)
    }

    /// Bitcoin: a transaction's inputs in vin order with the outputs they spend (`None` when the
    /// spent output is unknown). `Ok(None)` when the source has no UTXO structure (EVM).
    #[allow(clippy::type_complexity)]
    fn tx_inputs(&self, _txid: &Hash32) -> Result<Option<Vec<(UtxoSpend, Option<UtxoOutput>)>>, Self::Error> {
        Ok(None)
    }

    /// Bitcoin: a transaction's outputs in vout order. `Ok(None)` without UTXO structure.
    fn tx_outputs(&self, _txid: &Hash32) -> Result<Option<Vec<UtxoOutput>>, Self::Error> {
        Ok(None)
    }
}

impl<S: GraphSource + ?Sized> GraphSource for &S {
    type Error = S::Error;
    fn transfers(
        &self,
        addr: &Address,
        dir: Direction,
        after: Option<(u64, Position)>,
        limit: usize,
    ) -> Result<Vec<Transfer>, Self::Error> {
        (**self).transfers(addr, dir, after, limit)
    }
    fn transfers_batch(&self, reqs: &[BatchRequest], dir: Direction) -> Result<Vec<Vec<Transfer>>, Self::Error> {
        (**self).transfers_batch(reqs, dir)
    }
    fn has_transfers_after(
        &self,
        addr: &Address,
        dir: Direction,
        after: Option<(u64, Position)>,
    ) -> Result<bool, Self::Error> {
        (**self).has_transfers_after(addr, dir, after)
    }
    fn labels(&self, addr: &Address) -> Result<Vec<Label>, Self::Error> {
        (**self).labels(addr)
    }
    fn degree(&self, addr: &Address, dir: Direction, cap: u64) -> Result<u64, Self::Error> {
        (**self).degree(addr, dir, cap)
    }
    fn degrees(&self, addr: &Address, cap: u64) -> Result<(u64, u64), Self::Error> {
        (**self).degrees(addr, cap)
    }
    fn token_meta(&self, token: &[u8; 20]) -> Result<Option<TokenMeta>, Self::Error> {
        (**self).token_meta(token)
    }
    fn conversions(
        &self,
        addr: &Address,
        after: Option<(u64, Position)>,
        limit: usize,
    ) -> Result<Vec<Conversion>, Self::Error> {
        (**self).conversions(addr, after, limit)
    }
    fn bridge_deposits(&self, addr: &Address) -> Result<Vec<BridgeEvent>, Self::Error> {
        (**self).bridge_deposits(addr)
    }
    fn bridge_release(&self, key: &BridgeKey) -> Result<Option<BridgeEvent>, Self::Error> {
        (**self).bridge_release(key)
    }
    fn tx_inputs(&self, txid: &Hash32) -> Result<Option<Vec<(UtxoSpend, Option<UtxoOutput>)>>, Self::Error> {
        (**self).tx_inputs(txid)
    }
    fn tx_outputs(&self, txid: &Hash32) -> Result<Option<Vec<UtxoOutput>>, Self::Error> {
        (**self).tx_outputs(txid)
    }
}
