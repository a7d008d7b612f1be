//! What the tracer asks of the world: an address's transfers, labels and degree.
//!
//! The tracer never does I/O itself. Anything that can answer these questions — the RocksDB
//! store, an on-demand fetcher, an in-memory graph in a test — can be traced over.

use chaintrace_model::{
    Address, Asset, BridgeEvent, BridgeKey, ChainBlock, ChainEdge, Conversion, DenseRow, Direction, Hash32, Label,
    Position, TokenMeta, Transfer, UtxoOutput, UtxoSpend,
};

/// One request of a batched read: the address, the chain-order key to read strictly after, and
/// the most transfers wanted.
pub type BatchRequest = (Address, Option<(u64, Position)>, usize);

/// An address's conversions and its bridge deposits, as [`GraphSource::flows_batch`] gives them.
pub type OwnerFlows = (Vec<Conversion>, Vec<BridgeEvent>);

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

    /// For each of `addrs`, in order: its conversions from the start and its bridge deposits, as
    /// [`GraphSource::conversions`] (no limit) and [`GraphSource::bridge_deposits`] give them.
    /// A walk asks this for every address a hop level expands; a source that can answer many at
    /// once more cheaply than one by one (a store: one iterator) says so here.
    fn flows_batch(&self, addrs: &[Address]) -> Result<Vec<OwnerFlows>, Self::Error> {
        addrs.iter().map(|a| Ok((self.conversions(a, None, usize::MAX)?, self.bridge_deposits(a)?))).collect()
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

    /// The same graph with dense address ids (see [`DenseView`]), when the source has them. The
    /// walk then runs over ids and compact rows; its answers must equal the ones above.
    fn dense(&self) -> Option<&dyn DenseView<Error = Self::Error>> {
        None
    }
}

/// One transfer of an address's list in a [`DenseView`] (the model's [`DenseRow`]).
pub type Row = DenseRow;

/// A read-optimised view of one chain's graph: every address has a dense `u32` id, and each
/// address's transfers are rows in chain order. The tracer's walk over it keeps holdings by id
/// and builds a [`Transfer`] only for the edges of the case. Every answer must agree with the
/// [`GraphSource`] that offers the view (the walk's results are the same either way). The walk
/// reads it from both cores (`Sync`).
pub trait DenseView: Sync {
    /// The view's failure (a damaged file).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The id of `addr`, when the chain has it (an address without transfers has none).
    fn id_of(&self, addr: &Address) -> Option<u32>;

    /// The address with id `id`.
    fn address(&self, id: u32) -> Result<Address, Self::Error>;

    /// The assets rows refer to, by index.
    fn assets(&self) -> &[Asset];

    /// Numbers of transfers out of and into `id`.
    fn degrees(&self, id: u32) -> Result<(u64, u64), Self::Error>;

    /// A hint that `id`'s degrees and lists are asked for soon: a view whose index is far
    /// from the CPU's caches can start bringing it in. Answers nothing; the default does nothing.
    fn prefetch(&self, id: u32) {
        let _ = id;
    }

    /// A hint that `id`'s address is asked for soon ([`DenseView::address`]): a view whose
    /// address table is far from the CPU's caches can start bringing it in. Answers nothing; the
    /// default does nothing.
    fn prefetch_address(&self, id: u32) {
        let _ = id;
    }

    /// A hint that the lists of `ids` are read soon: a view over a file the page cache does not
    /// hold can ask for them all at once, instead of waiting for each read in turn. `ids` is
    /// walked only by a view that acts on it. Answers nothing; the default does nothing.
    fn read_ahead(&self, ids: &mut dyn Iterator<Item = u32>) {
        let _ = ids;
    }

    /// The same hint for the hashes of transactions `txs`, read soon ([`DenseView::tx_hashes`]).
    fn hashes_ahead(&self, txs: &[u32]) {
        let _ = txs;
    }

    /// Appends the transfers of `id` in `dir` strictly after `after` (all when `None`) to
    /// `out`, in chain order.
    fn rows(
        &self,
        id: u32,
        dir: Direction,
        after: Option<(u64, Position)>,
        out: &mut Vec<Row>,
    ) -> Result<(), Self::Error>;

    /// Appends every transfer out of `id` to `outs` and every transfer into it to `ins`, each in
    /// chain order: the two [`DenseView::rows`] calls, which a view that keeps an address's two
    /// lists side by side answers with one read.
    fn rows_both(&self, id: u32, outs: &mut Vec<Row>, ins: &mut Vec<Row>) -> Result<(), Self::Error> {
        self.rows(id, Direction::Out, None, outs)?;
        self.rows(id, Direction::In, None, ins)
    }

    /// Whether `id` has a transfer in `dir` strictly after `after` (any when `None`).
    fn has_rows_after(&self, id: u32, dir: Direction, after: Option<(u64, Position)>) -> Result<bool, Self::Error>;

    /// The hashes of transactions `txs` (each a [`Row::tx`]), in that order.
    fn tx_hashes(&self, txs: &[u32]) -> Result<Vec<Hash32>, Self::Error>;

    /// Every address of the chain with labels that apply on it, by id, ascending, with those
    /// labels (what [`GraphSource::labels`] answers for it).
    fn labelled(&self) -> Result<&[(u32, Vec<Label>)], Self::Error>;

    /// The size of the view's chain-order stream, `(transfers, ids)` (every id of the stream
    /// below the second), when it has one ([`DenseView::scan_chain`]); `None` (the default):
    /// it has none, and a walk reads lists.
    fn chain_size(&self) -> Option<(u64, u64)> {
        None
    }

    /// Calls `f` with every transfer of the chain, block by block, in chain order (`fwd`) or
    /// reversed: each call is one block (or a piece of one) with its transfers in chain order
    /// (a reverse scan reads each slice from its end). Called only on a view whose
    /// [`DenseView::chain_size`] is `Some`; the default passes nothing.
    fn scan_chain(&self, fwd: bool, f: &mut dyn FnMut(ChainBlock, &[ChainEdge])) -> Result<(), Self::Error> {
        let _ = (fwd, f);
        Ok(())
    }

    /// True when the chain holds no conversions and no bridge events, so a walk that follows
    /// them needs no per-address flow reads.
    fn flows_free(&self) -> bool;

    /// The conversions and bridge deposits each of `ids` owns, in `ids`' order: what
    /// [`GraphSource::flows_batch`] gives for their addresses (the walk reads a level's from
    /// both cores).
    fn flows_of(&self, ids: &[u32]) -> Result<Vec<OwnerFlows>, Self::Error>;
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
    fn flows_batch(&self, addrs: &[Address]) -> Result<Vec<OwnerFlows>, Self::Error> {
        (**self).flows_batch(addrs)
    }
    fn tx_inputs(&self, txid: &Hash32) -> Result<Option<Vec<(UtxoSpend, Option<UtxoOutput>)>>, Self::Error> {
        (**self).tx_inputs(txid)
    }
    fn tx_outputs(&self, txid: &Hash32) -> Result<Option<Vec<UtxoOutput>>, Self::Error> {
        (**self).tx_outputs(txid)
    }
    fn dense(&self) -> Option<&dyn DenseView<Error = Self::Error>> {
        (**self).dense()
    }
}
