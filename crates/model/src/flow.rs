//! Movements that change what the money is or where it lives: conversions (DEX swaps, wrapping
//! the native coin) and bridge legs. Adapters recognise them at ingest, the store keeps them
//! beside the transfers of the same block, and the tracer carries taint through them.
//!
//! The legs of a conversion are the owner's own transfers in the conversion's transaction: every
//! transfer the owner sent in `asset_in` and every transfer it received in `asset_out` in `tx`.
//! The tracer moves the owner's traced `asset_in` into its `asset_out` through the conversion and
//! does not let those legs taint the pool on the other side. A wrap has no `asset_out` transfer
//! at all (WETH9 emits `Deposit`, not `Transfer`): the conversion itself is the inflow.
//!
//! The legs of a bridge deposit are the owner's transfers of `asset` sent in the deposit's
//! transaction; the leg of a release is the transfer of `asset` to the recipient in the release's
//! transaction (a USDC mint from the zero address under CCTP).

use serde::{Deserialize, Serialize};

use crate::{Address, Asset, Hash32, Position, U256};

/// How a conversion was recognised.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversionKind {
    /// A Uniswap V2-style pair's `Swap` event in the transaction.
    UniswapV2,
    /// A Uniswap V3-style pool's `Swap` event in the transaction.
    UniswapV3,
    /// No pool event: the owner's only outflow in the transaction is one asset and its only
    /// inflow another.
    NetFlow,
    /// Native coin into its wrapped token (WETH/WBNB/WTRX `Deposit`).
    Wrap,
    /// Wrapped token back into the native coin (`Withdrawal`).
    Unwrap,
}

impl ConversionKind {
    /// The name used in case files and the store.
    pub fn as_str(&self) -> &'static str {
        match self {
            ConversionKind::UniswapV2 => "uniswap_v2",
            ConversionKind::UniswapV3 => "uniswap_v3",
            ConversionKind::NetFlow => "net_flow",
            ConversionKind::Wrap => "wrap",
            ConversionKind::Unwrap => "unwrap",
        }
    }
}

/// One address turned `amount_in` of `asset_in` into `amount_out` of `asset_out` inside one
/// transaction.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Conversion {
    /// The transaction.
    pub tx: Hash32,
    /// Height of its block.
    pub height: u64,
    /// Chain-order key of the conversion: the transaction's index and the `sub` of its first
    /// leg (so it sorts among the owner's transfers where the swap happened).
    pub pos: Position,
    /// Block time, unix seconds UTC.
    pub time: u64,
    /// The address that gave `asset_in` and received `asset_out` (the user, not the pool or the
    /// router between).
    pub owner: Address,
    /// What the owner gave.
    pub asset_in: Asset,
    /// How much it gave, base units.
    pub amount_in: U256,
    /// What the owner received.
    pub asset_out: Asset,
    /// How much it received, base units.
    pub amount_out: U256,
    /// The pool or wrapper contract, when one was recognised.
    pub venue: Option<Address>,
    /// How the conversion was recognised.
    pub kind: ConversionKind,
}

/// What ties a bridge deposit on one chain to its release on another: the bridge's own
/// identifiers. For Circle CCTP `protocol` is `cctp` and `id` is the source domain (4 bytes,
/// big-endian) followed by the nonce (8 bytes, big-endian); a bridge declared in the config
/// uses its declared key fields, concatenated as they appear in the event.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct BridgeKey {
    /// `cctp` or the config's name for the bridge.
    pub protocol: String,
    /// The bridge's identifier bytes.
    pub id: Vec<u8>,
}

impl BridgeKey {
    /// The key of a CCTP message: source domain and nonce.
    pub fn cctp(source_domain: u32, nonce: u64) -> Self {
        let mut id = Vec::with_capacity(12);
        id.extend_from_slice(&source_domain.to_be_bytes());
        id.extend_from_slice(&nonce.to_be_bytes());
        BridgeKey { protocol: "cctp".into(), id }
    }
}

/// Which end of a bridge crossing an event is.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum BridgeSide {
    /// Funds locked or burned on this chain (`DepositForBurn`).
    Deposit {
        /// Who sent the funds into the bridge.
        owner: Address,
        /// The recipient on the destination chain as the event gives it (32 bytes under CCTP).
        recipient: Vec<u8>,
        /// The destination as the bridge names it (a CCTP domain), when the event gives one.
        dest_domain: Option<u32>,
    },
    /// Funds released or minted on this chain (`MessageReceived` with its mint).
    Release {
        /// Who received the funds.
        recipient: Address,
    },
}

/// One end of a bridge crossing, on the chain whose block holds it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct BridgeEvent {
    /// The transaction.
    pub tx: Hash32,
    /// Height of its block.
    pub height: u64,
    /// Chain-order key: the transaction's index and the `sub` of its leg transfer.
    pub pos: Position,
    /// Block time, unix seconds UTC.
    pub time: u64,
    /// What matches this end to the other.
    pub key: BridgeKey,
    /// The asset that left or arrived on this chain.
    pub asset: Asset,
    /// Base units that left or arrived.
    pub amount: U256,
    /// Deposit or release, with the side's parties.
    pub side: BridgeSide,
    /// The bridge contract that emitted the event.
    pub contract: Address,
}

/// One on-chain price observation (a Chainlink aggregator's `AnswerUpdated`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PricePoint {
    /// The aggregator contract.
    pub feed: Address,
    /// The round id.
    pub round: u64,
    /// The answer as the aggregator gives it (scaled by the feed's decimals; may be negative in
    /// principle, in which case the point is unusable).
    pub answer: i128,
    /// `updatedAt`, unix seconds UTC.
    pub updated_at: u64,
    /// Height of the block holding the event.
    pub height: u64,
}
