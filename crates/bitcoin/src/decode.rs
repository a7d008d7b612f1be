//! Raw blocks → [`BlockData`]: outputs, spends and address-level transfers.

use std::collections::HashMap;

use bitcoin::{consensus::Decodable, Block, Network, Transaction};
use chaintrace_model::{
    Address, Asset, BlockData, BlockRef, Hash32, Position, Transfer, UtxoLookup, UtxoOutput, UtxoSpend, U256,
};
use rustc_hash::FxHashMap;

use crate::{flows, script::script_address, to_hash32};

/// Largest serialized block accepted (consensus: 4,000,000 weight units ≥ bytes).
pub const MAX_BLOCK_BYTES: usize = 4_000_000;

/// Why a block could not be decoded into [`BlockData`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not a consensus-encoded block.
    #[error("corrupt block: {0}")]
    Corrupt(String),
    /// The header's merkle root does not commit to the block's transactions.
    #[error("block {hash} at height {height}: merkle root in header does not match its transactions")]
    MerkleMismatch {
        /// Block height.
        height: u64,
        /// Block hash.
        hash: Hash32,
    },
    /// An input spends an output neither the lookup nor the batch overlay knows.
    #[error("block {hash} at height {height}: input {vin} of tx {txid} spends {prev_txid}:{prev_vout}, which is not known (ingest the chain from its start, or give the spent outputs)")]
    MissingPrevout {
        /// Block height.
        height: u64,
        /// Block hash.
        hash: Hash32,
        /// The spending transaction.
        txid: Hash32,
        /// The input's index.
        vin: u32,
        /// The spent output's transaction.
        prev_txid: Hash32,
        /// The spent output's index.
        prev_vout: u32,
    },
    /// The [`UtxoLookup`] failed.
    #[error("looking up the output {txid}:{vout}: {source}")]
    Lookup {
        /// The spent output's transaction.
        txid: Hash32,
        /// The spent output's index.
        vout: u32,
        /// The lookup's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Parse a serialized block, requiring every byte to be used. Lengths inside are capped by
/// rust-bitcoin's decoder; the whole block by [`MAX_BLOCK_BYTES`].
pub fn parse_block(bytes: &[u8]) -> Result<Block, DecodeError> {
    check_size(bytes)?;
    let mut cur = bytes;
    let block = Block::consensus_decode(&mut cur).map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    check_end(cur)?;
    Ok(block)
}

/// A serialized block's size limit ([`MAX_BLOCK_BYTES`]).
fn check_size(bytes: &[u8]) -> Result<(), DecodeError> {
    if bytes.len() > MAX_BLOCK_BYTES {
        return Err(DecodeError::Corrupt(format!("block of {} bytes exceeds {MAX_BLOCK_BYTES}", bytes.len())));
    }
    Ok(())
}

/// Nothing may follow a block's last transaction.
fn check_end(rest: &[u8]) -> Result<(), DecodeError> {
    if !rest.is_empty() {
        return Err(DecodeError::Corrupt(format!("{} trailing bytes after the block", rest.len())));
    }
    Ok(())
}

/// A lookup that knows no outputs (for blocks whose inputs all come from the overlay, or tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoLookup;

impl UtxoLookup for NoLookup {
    type Error = std::convert::Infallible;
    fn output(&self, _: &Hash32, _: u32) -> Result<Option<UtxoOutput>, Self::Error> {
        Ok(None)
    }
}

/// Outputs held in memory as a lookup (prevout files, Esplora prevouts, tests).
#[derive(Clone, Debug, Default)]
pub struct OutputMap(pub HashMap<(Hash32, u32), UtxoOutput>);

impl OutputMap {
    /// Add an output, keyed by its outpoint (replacing an earlier one).
    pub fn insert(&mut self, o: UtxoOutput) {
        self.0.insert((o.txid, o.vout), o);
    }
}

impl UtxoLookup for OutputMap {
    type Error = std::convert::Infallible;
    fn output(&self, txid: &Hash32, vout: u32) -> Result<Option<UtxoOutput>, Self::Error> {
        Ok(self.0.get(&(*txid, vout)).cloned())
    }
}

/// Decodes blocks of one network into [`BlockData`], resolving inputs first from the outputs it
/// has decoded itself (the overlay: the current batch, not yet in the store) and then from
/// `lookup`.
///
/// Spent overlay entries are dropped as they are used. The overlay is also a read cache of
/// recent unspent outputs in two generations: [`BlockDecoder::age_overlay`] (or
/// [`BlockDecoder::trim_overlay`]) drops the older one and makes the newer one older, so the
/// most recent outputs stay in memory — most spends are of recent outputs — while the store
/// stays the source of truth. Call them, or [`BlockDecoder::clear_overlay`], only for outputs
/// the store holds: the older generation must be stored when it is dropped.
pub struct BlockDecoder<L> {
    network: Network,
    lookup: L,
    /// The newer generation, keyed by outpoint; txids are double-SHA256 outputs, so the fast
    /// non-keyed FxHash is safe here (nobody picks them to collide without mining the blocks).
    overlay: Overlay,
    /// The older generation: outputs of blocks decoded before the last
    /// [`BlockDecoder::age_overlay`].
    older: Overlay,
    verify_merkle: bool,
}

/// Unspent outputs by outpoint: the address and value.
type Overlay = FxHashMap<(Hash32, u32), (Option<Address>, u64)>;

/// Totals of one decoded block, for fee checks and progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockTotals {
    /// Value of all inputs of non-coinbase transactions, in sats.
    pub inputs_value: u64,
    /// Value of all outputs, coinbase included, in sats.
    pub outputs_value: u64,
    /// Value of the coinbase outputs (subsidy plus fees), in sats.
    pub coinbase_value: u64,
}

impl BlockTotals {
    /// Fees paid by the block's transactions: inputs minus non-coinbase outputs.
    pub fn fees(&self) -> u64 {
        self.inputs_value.saturating_sub(self.outputs_value - self.coinbase_value)
    }
}

impl<L: UtxoLookup> BlockDecoder<L> {
    /// A decoder for `network` that resolves spent outputs through `lookup`; checks merkle roots.
    pub fn new(network: Network, lookup: L) -> Self {
        BlockDecoder { network, lookup, overlay: Overlay::default(), older: Overlay::default(), verify_merkle: true }
    }

    /// Skip the merkle-root check (only for callers that verified it already).
    pub fn verify_merkle(mut self, yes: bool) -> Self {
        self.verify_merkle = yes;
        self
    }

    /// The network addresses are encoded for.
    pub fn network(&self) -> Network {
        self.network
    }

    /// The lookup spent outputs are resolved through.
    pub fn lookup(&self) -> &L {
        &self.lookup
    }

    /// Forget both generations of the overlay (after the blocks they came from were stored,
    /// or when those blocks were rolled back).
    pub fn clear_overlay(&mut self) {
        for o in [&mut self.overlay, &mut self.older] {
            o.clear();
            o.shrink_to(1 << 16);
        }
    }

    /// Drop the older generation of the overlay and make the newer one older (a new one starts
    /// empty). The dropped outputs must be in the store; the kept ones are a cache.
    pub fn age_overlay(&mut self) {
        self.older = std::mem::take(&mut self.overlay);
    }

    /// Keep the overlay within about `max` unspent outputs after the blocks decoded so far
    /// were stored: when its newer generation holds more than half of `max`, age it
    /// ([`BlockDecoder::age_overlay`]). Keeping it between batches is a cache: the store holds
    /// the same outputs.
    pub fn trim_overlay(&mut self, max: usize) {
        if self.overlay.len() > max / 2 {
            self.age_overlay();
        }
    }

    /// Outputs held in the newer generation of the overlay (created by decoded blocks, not
    /// yet spent).
    pub fn overlay_len(&self) -> usize {
        self.overlay.len()
    }

    /// Outputs held in both generations of the overlay.
    pub fn overlay_total(&self) -> usize {
        self.overlay.len() + self.older.len()
    }

    /// Decode one block at `height` (the caller knows it: from parent links or the node).
    pub fn decode(&mut self, block: &Block, height: u64) -> Result<BlockData, DecodeError> {
        self.decode_with_totals(block, height).map(|(d, _)| d)
    }

    /// [`BlockDecoder::decode`], also returning the block's value totals.
    pub fn decode_with_totals(&mut self, block: &Block, height: u64) -> Result<(BlockData, BlockTotals), DecodeError> {
        let hash = to_hash32(&block.block_hash());
        let txids: Vec<bitcoin::Txid> = block.txdata.iter().map(Transaction::compute_txid).collect();
        if self.verify_merkle && !merkle_root_matches(&txids, &block.header) {
            return Err(DecodeError::MerkleMismatch { height, hash });
        }
        // The block's rows at their final size up front: grown by doubling, each large
        // reallocation made the allocator consolidate every small block the previous
        // transactions freed. A transaction's transfers are one per output address when it
        // has one input address (most do); more grow the vector.
        let (n_in, n_out) =
            block.txdata.iter().fold((0usize, 0usize), |(i, o), tx| (i + tx.input.len(), o + tx.output.len()));
        let mut rows = BlockRows::new(&block.header, hash, height, n_in, n_out);
        for (tx_index, (tx, txid)) in block.txdata.iter().zip(&txids).enumerate() {
            self.tx(&mut rows, tx, to_hash32(txid), tx_index)?;
        }
        Ok(rows.finish(block.txdata.len()))
    }

    /// [`BlockDecoder::decode_with_totals`] of a serialized block (a `blk*.dat` record's bytes),
    /// parsed one transaction at a time: each is decoded, turned into rows and freed before the
    /// next, instead of the whole block's transactions being built first and freed together
    /// (a tenth of a blocks-dir ingest's CPU time was allocating and freeing them).
    ///
    /// The bytes must be one block and nothing more ([`parse_block`]'s rules). The merkle root
    /// is checked once every transaction is decoded, so a block that fails it (or fails to
    /// parse) has already changed the overlay: after an error, drop the decoder.
    pub fn decode_bytes(&mut self, bytes: &[u8], height: u64) -> Result<(BlockData, BlockTotals), DecodeError> {
        check_size(bytes)?;
        let corrupt = |e: bitcoin::consensus::encode::Error| DecodeError::Corrupt(e.to_string());
        let mut cur = bytes;
        let header = bitcoin::block::Header::consensus_decode(&mut cur).map_err(corrupt)?;
        let count = bitcoin::VarInt::consensus_decode(&mut cur).map_err(corrupt)?.0;
        // a transaction takes at least 10 bytes (version, two empty lists, lock time)
        if count > (cur.len() / 10) as u64 {
            return Err(DecodeError::Corrupt(format!(
                "{count} transactions cannot fit in the block's {} remaining bytes",
                cur.len()
            )));
        }
        let hash = to_hash32(&header.block_hash());
        // Room for the rows before they are counted: a spend and an output each take about
        // 150-250 bytes of a block (with their share of the transaction); a block of smaller
        // ones regrows its vectors, one of larger ones leaves some room unused.
        let mut rows = BlockRows::new(&header, hash, height, cur.len() / 128, cur.len() / 96);
        let mut txids = Vec::with_capacity(count as usize);
        for tx_index in 0..count as usize {
            let tx = Transaction::consensus_decode_from_finite_reader(&mut cur).map_err(corrupt)?;
            let txid = tx.compute_txid();
            txids.push(txid);
            self.tx(&mut rows, &tx, to_hash32(&txid), tx_index)?;
        }
        check_end(cur)?;
        if self.verify_merkle && !merkle_root_matches(&txids, &header) {
            return Err(DecodeError::MerkleMismatch { height, hash });
        }
        Ok(rows.finish(txids.len()))
    }

    /// One transaction's rows and totals, appended to `rows`.
    fn tx(&mut self, rows: &mut BlockRows, tx: &Transaction, txid: Hash32, tx_index: usize) -> Result<(), DecodeError> {
        let BlockRef { height, hash, time, .. } = rows.data.block;
        let totals = &mut rows.totals;
        let coinbase = tx.is_coinbase();
        rows.inputs.clear();
        if !coinbase {
            for (vin, input) in tx.input.iter().enumerate() {
                let prev_txid = to_hash32(&input.previous_output.txid);
                let prev_vout = input.previous_output.vout;
                let vin = vin as u32;
                let prevout = self.resolve(&prev_txid, prev_vout).and_then(|r| {
                    r.ok_or(DecodeError::MissingPrevout { height, hash, txid, vin, prev_txid, prev_vout })
                })?;
                totals.inputs_value = totals.inputs_value.saturating_add(prevout.value);
                rows.inputs.push(InputRef { prev_txid, prev_vout, prevout: Some(prevout) });
            }
        }
        rows.outputs.clear();
        for (vout, out) in tx.output.iter().enumerate() {
            let value = out.value.to_sat();
            let address = script_address(&out.script_pubkey, self.network);
            totals.outputs_value = totals.outputs_value.saturating_add(value);
            if coinbase {
                totals.coinbase_value = totals.coinbase_value.saturating_add(value);
            }
            self.overlay.insert((txid, vout as u32), (address.clone(), value));
            rows.outputs.push(UtxoOutput { txid, vout: vout as u32, address, value });
        }
        let at = TxRows { txid, tx_index: tx_index as u32, height, time, coinbase };
        tx_rows(&at, &rows.inputs, rows.outputs.drain(..), &mut rows.data);
        Ok(())
    }

    fn resolve(&mut self, txid: &Hash32, vout: u32) -> Result<Option<UtxoOutput>, DecodeError> {
        let key = (*txid, vout);
        if let Some((address, value)) = self.overlay.remove(&key).or_else(|| self.older.remove(&key)) {
            return Ok(Some(UtxoOutput { txid: *txid, vout, address, value }));
        }
        match self.lookup.output(txid, vout) {
            Ok(o) => Ok(o),
            Err(e) => Err(DecodeError::Lookup { txid: *txid, vout, source: Box::new(e) }),
        }
    }
}

/// A block's rows as its transactions are decoded, with the per-transaction scratch lists.
struct BlockRows {
    data: BlockData,
    totals: BlockTotals,
    inputs: Vec<InputRef>,
    outputs: Vec<UtxoOutput>,
}

impl BlockRows {
    fn new(header: &bitcoin::block::Header, hash: Hash32, height: u64, n_in: usize, n_out: usize) -> BlockRows {
        let time = u64::from(header.time);
        let mut data = BlockData::new(BlockRef { height, hash, parent: to_hash32(&header.prev_blockhash), time });
        data.outputs.reserve_exact(n_out);
        data.spends.reserve_exact(n_in);
        data.transfers.reserve(n_out);
        BlockRows { data, totals: BlockTotals::default(), inputs: Vec::new(), outputs: Vec::new() }
    }

    fn finish(mut self, txs: usize) -> (BlockData, BlockTotals) {
        self.data.tx_count = u32::try_from(txs).unwrap_or(u32::MAX);
        (self.data, self.totals)
    }
}

fn merkle_root_matches(txids: &[bitcoin::Txid], header: &bitcoin::block::Header) -> bool {
    let root = bitcoin::merkle_tree::calculate_root(txids.iter().map(|t| t.to_raw_hash()));
    root.map(bitcoin::TxMerkleNode::from_raw_hash) == Some(header.merkle_root)
}

/// Where a transaction sits and what kind it is.
#[derive(Clone, Copy, Debug)]
pub struct TxRows {
    /// Transaction id, display byte order.
    pub txid: Hash32,
    /// Position in the block (the coinbase is 0).
    pub tx_index: u32,
    /// Block height.
    pub height: u64,
    /// Block time, Unix seconds.
    pub time: u64,
    /// Whether it is the coinbase transaction.
    pub coinbase: bool,
}

/// One input: the outpoint it spends and, when known, that output.
#[derive(Clone, Debug)]
pub struct InputRef {
    /// The spent output's transaction id.
    pub prev_txid: Hash32,
    /// The spent output's index.
    pub prev_vout: u32,
    /// The spent output, when resolved.
    pub prevout: Option<UtxoOutput>,
}

/// Append one transaction's rows to `data`: its outputs, its spends and its address-level
/// transfers (SPEC: coinbase outputs from `coinbase`; otherwise each output address receives
/// from each input address its share, exactly; OP_RETURN outputs receive nothing). Inputs
/// whose prevout is unknown are stored as spends but carry no share.
pub fn tx_rows(
    rows: &TxRows,
    inputs: &[InputRef],
    outputs: impl IntoIterator<Item = UtxoOutput>,
    data: &mut BlockData,
) {
    let TxRows { txid, tx_index, height, time, coinbase } = *rows;
    let first_output = data.outputs.len();
    data.outputs.extend(outputs);
    let outs = &data.outputs[first_output..];
    let grouped_out = flows::group(outs.iter().filter_map(|o| o.address.as_ref().map(|a| (a, o.value))));
    let mut sub = 0u32;
    let mut push = |transfers: &mut Vec<Transfer>, from: &Address, to: &Address, amount: u64| {
        transfers.push(Transfer {
            tx: txid,
            height,
            pos: Position { tx_index, sub },
            time,
            from: from.clone(),
            to: to.clone(),
            asset: Asset::Native,
            amount: U256::from(amount),
        });
        sub += 1;
    };
    let mut transfers = std::mem::take(&mut data.transfers);
    if coinbase {
        for (to, v) in grouped_out {
            if v > 0 {
                push(&mut transfers, &Address::Coinbase, to, v);
            }
        }
    } else {
        let unspendable = Address::Bitcoin("script-unspendable".into());
        let grouped_in = flows::group(inputs.iter().filter_map(|i| {
            // An input spending an OP_RETURN output cannot exist in a valid chain; keep its
            // value attributed to a stable key rather than losing it.
            i.prevout.as_ref().map(|o| (o.address.as_ref().unwrap_or(&unspendable), o.value))
        }));
        for e in flows::edges(&grouped_in, &grouped_out) {
            push(&mut transfers, e.from, e.to, e.amount);
        }
        for (vin, i) in inputs.iter().enumerate() {
            data.spends.push(UtxoSpend { txid, vin: vin as u32, prev_txid: i.prev_txid, prev_vout: i.prev_vout });
        }
    }
    data.transfers = transfers;
}
