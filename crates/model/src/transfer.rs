//! Transfers, block identities and the Bitcoin UTXO rows an adapter hands to the store.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Address, U256};

/// A 32-byte hash (block hash, transaction id) in the byte order the chain displays it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// All zero bytes (the parent of a genesis block).
    pub const ZERO: Hash32 = Hash32([0; 32]);

    /// Parse 64 hex digits, with or without `0x`; `None` otherwise.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        let t = t.strip_prefix("0x").unwrap_or(t);
        let mut out = [0u8; 32];
        hex::decode_to_slice(t, &mut out).ok()?;
        Some(Hash32(out))
    }

    /// Lower-case hex without prefix (Bitcoin style).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The hash as the chain's users write it: `0x`-prefixed on EVM chains, bare on Bitcoin and
    /// TRON (TRON's explorers and HTTP API show bare `txID`s).
    pub fn display_for(&self, kind: crate::ChainKind) -> String {
        match kind {
            crate::ChainKind::Evm => {
                let mut text = [0u8; 66];
                text[..2].copy_from_slice(b"0x");
                hex::encode_to_slice(self.0, &mut text[2..]).expect("64 hex digits fit 64 bytes");
                String::from_utf8_lossy(&text).into_owned()
            }
            crate::ChainKind::Bitcoin | crate::ChainKind::Tron => self.to_hex(),
        }
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({self})")
    }
}

impl Serialize for Hash32 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hash32 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Hash32::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid 32-byte hash {s:?}")))
    }
}

/// What moved: the chain's native coin or a token contract.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub enum Asset {
    /// The chain's own coin (BTC, ETH, TRX …).
    Native,
    /// An EVM token contract (ERC-20).
    Token([u8; 20]),
    /// A TRC-20 token contract on TRON (its 20 bytes after `0x41`); shown as its `T…` address.
    TronToken([u8; 20]),
    /// A TRC-10 asset on TRON, by its numeric token id; shown as `TRC10:<id>`.
    Trc10(u64),
}

impl Asset {
    /// The case-file rendering: the native symbol, the token contract in lower-case hex, a
    /// TRC-20 contract as its `T…` address, a TRC-10 asset as `TRC10:<id>`.
    pub fn display(&self, native_symbol: &str) -> String {
        match self {
            Asset::Native => native_symbol.to_string(),
            Asset::Token(c) => format!("0x{}", hex::encode(c)),
            Asset::TronToken(c) => crate::address::tron_base58(c),
            Asset::Trc10(id) => format!("TRC10:{id}"),
        }
    }

    /// The token contract's 20 bytes (ERC-20 or TRC-20), the key of its [`TokenMeta`].
    pub fn contract(&self) -> Option<&[u8; 20]> {
        match self {
            Asset::Token(c) | Asset::TronToken(c) => Some(c),
            Asset::Native | Asset::Trc10(_) => None,
        }
    }

    /// Parse `ETH`/`BTC`/`TRX` (the native symbol, any case), a `0x` contract address, a TRC-20
    /// contract as `T…`, or `TRC10:<id>`.
    pub fn parse(text: &str, native_symbol: &str) -> Option<Self> {
        let t = text.trim();
        if t.eq_ignore_ascii_case(native_symbol) {
            return Some(Asset::Native);
        }
        if let Some(id) = t.strip_prefix("TRC10:") {
            return id.parse().ok().map(Asset::Trc10);
        }
        match Address::parse_any(t).ok()? {
            Address::Evm(b) => Some(Asset::Token(b)),
            Address::Tron(b) => Some(Asset::TronToken(b)),
            _ => None,
        }
    }

    /// [`Asset::parse`] on a chain of `kind`: on TRON a `0x`/`41` contract is a TRC-20 token.
    pub fn parse_for(kind: crate::ChainKind, text: &str, native_symbol: &str) -> Option<Self> {
        match (kind, Self::parse(text, native_symbol)) {
            (crate::ChainKind::Tron, Some(Asset::Token(b))) => Some(Asset::TronToken(b)),
            (crate::ChainKind::Tron, None) => match Address::parse_tron(text).ok()? {
                Address::Tron(b) => Some(Asset::TronToken(b)),
                _ => None,
            },
            (_, a) => a,
        }
    }
}

/// Where a transfer sits in its block: the transaction's index and a sub-index within the
/// transaction assigned by the adapter (deterministic, so re-ingesting yields the same keys).
/// Ordering by `(height, tx_index, sub)` is the chain's own order of events.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default, Serialize, Deserialize)]
pub struct Position {
    /// Index of the transaction in its block.
    pub tx_index: u32,
    /// Index of the transfer within its transaction, assigned by the adapter.
    pub sub: u32,
}

/// One movement of one asset.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Transfer {
    /// Hash of the transaction that made the transfer.
    pub tx: Hash32,
    /// Height of the block holding the transaction.
    pub height: u64,
    /// Where the transfer sits in its block.
    pub pos: Position,
    /// Block time, unix seconds UTC.
    pub time: u64,
    /// The sender ([`Address::Coinbase`] for newly minted coins).
    pub from: Address,
    /// The receiver.
    pub to: Address,
    /// What moved.
    pub asset: Asset,
    /// Base units (satoshi, wei, token units).
    pub amount: U256,
}

impl Transfer {
    /// The chain-order key of this transfer: events are compared by it.
    pub fn order(&self) -> (u64, Position) {
        (self.height, self.pos)
    }
}

/// A block's identity.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct BlockRef {
    /// Block height.
    pub height: u64,
    /// The block's hash.
    pub hash: Hash32,
    /// The previous block's hash ([`Hash32::ZERO`] for genesis).
    pub parent: Hash32,
    /// Block timestamp, unix seconds UTC.
    pub time: u64,
}

/// A Bitcoin transaction output as stored (so value can be followed exactly).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct UtxoOutput {
    /// The transaction that created the output.
    pub txid: Hash32,
    /// The output's index in that transaction.
    pub vout: u32,
    /// `None` for outputs that pay no one (OP_RETURN: the value is burned).
    pub address: Option<Address>,
    /// Value in sats.
    pub value: u64,
}

/// Which input spent which output.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct UtxoSpend {
    /// The spending transaction.
    pub txid: Hash32,
    /// The input's index in the spending transaction.
    pub vin: u32,
    /// The transaction of the output spent.
    pub prev_txid: Hash32,
    /// The index of the output spent.
    pub prev_vout: u32,
}

/// Everything one block contributes to the store, already normalised by an adapter.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct BlockData {
    /// The block's identity.
    pub block: BlockRef,
    /// Number of transactions in the block (including ones that moved nothing traced).
    pub tx_count: u32,
    /// The block's transfers, all at the block's height, with unique positions.
    pub transfers: Vec<Transfer>,
    /// Bitcoin: the outputs the block's transactions created (empty on EVM chains).
    pub outputs: Vec<UtxoOutput>,
    /// Bitcoin: which output each input of the block spent (empty on EVM chains).
    pub spends: Vec<UtxoSpend>,
    /// EVM: the block's internal (call-trace) value transfers were not read — tracing was off,
    /// the node has no tracing API, or it lacks the block's historical state — so `transfers`
    /// holds only top-level and token transfers. The store keeps the flag per block, `stats`
    /// counts such blocks, and `ingest --refill-traces` adds the missing transfers later.
    /// Always false on Bitcoin.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internal_missing: bool,
    /// EVM/TRON: conversions (swaps, wraps) recognised in the block's transactions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conversions: Vec<crate::Conversion>,
    /// EVM: bridge deposits and releases emitted by known bridge contracts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bridge_events: Vec<crate::BridgeEvent>,
    /// EVM: price observations of configured on-chain feeds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub price_points: Vec<crate::PricePoint>,
}

impl BlockData {
    /// A block with no transactions, transfers or UTXO rows yet.
    pub fn new(block: BlockRef) -> Self {
        BlockData {
            block,
            tx_count: 0,
            transfers: Vec::new(),
            outputs: Vec::new(),
            spends: Vec::new(),
            internal_missing: false,
            conversions: Vec::new(),
            bridge_events: Vec::new(),
            price_points: Vec::new(),
        }
    }
}

/// Resolves the outputs that Bitcoin inputs spend. The store implements it; adapters ask it,
/// so they never learn the store's key layout.
pub trait UtxoLookup {
    /// The lookup's own failure (a store error).
    type Error: std::error::Error + Send + Sync + 'static;
    /// The output `txid:vout`, if it is known.
    fn output(&self, txid: &Hash32, vout: u32) -> Result<Option<UtxoOutput>, Self::Error>;
}

/// What is known of a token contract, read from the contract once by the EVM adapter and kept
/// in the store (one row per chain and contract; the store encodes and decodes it).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct TokenMeta {
    /// The contract's `symbol()`, when it answered one.
    pub symbol: Option<String>,
    /// The contract's `name()`, when it answered one.
    pub name: Option<String>,
    /// `None` when the contract did not answer `decimals()`: amounts stay in raw units.
    pub decimals: Option<u8>,
}

/// Which side of an address a query is about.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Direction {
    /// Transfers sent by the address.
    Out,
    /// Transfers received by the address.
    In,
}

impl Direction {
    /// Both directions, out first.
    pub const BOTH: [Direction; 2] = [Direction::Out, Direction::In];
}

/// One transfer as an address's list in a read-optimised graph index holds it (the tracer's
/// `DenseView`, the snapshot's records): the counterparty by dense address id, the asset by its
/// index in the index's asset table, the transaction by its index in the transaction table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenseRow {
    /// Block height.
    pub height: u64,
    /// Block time, unix seconds.
    pub time: u64,
    /// Transaction index in the block.
    pub tx_index: u32,
    /// Position within the transaction.
    pub sub: u32,
    /// The transaction, by its index in the index's transaction table.
    pub tx: u32,
    /// The counterparty's id: the receiver of an outgoing row, the sender of an incoming one.
    pub other: u32,
    /// The asset, by its index in the index's asset table.
    pub asset: u32,
    /// Base units.
    pub amount: U256,
}

/// One transfer as a read-optimised graph index's chain-order stream holds it: sender and
/// receiver by dense address id, the asset by index, and whether it moved anything. What a
/// walk over the whole chain in time order needs (the tracer's reachability scan), a quarter
/// of a [`DenseRow`]'s bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainEdge {
    /// The sender's id.
    pub from: u32,
    /// The receiver's id.
    pub to: u32,
    /// The asset, by its index in the index's asset table.
    pub asset: u32,
    /// Whether the amount is above zero.
    pub moved: bool,
}

/// The block a run of [`ChainEdge`]s belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainBlock {
    /// Block height.
    pub height: u64,
    /// Block time, unix seconds.
    pub time: u64,
}

impl DenseRow {
    /// The row's place in chain order.
    pub fn order(&self) -> (u64, Position) {
        (self.height, Position { tx_index: self.tx_index, sub: self.sub })
    }
}
