//! Conversions, bridge legs and price points recognised in a block's receipts (pure, like
//! [`crate::decode`]).
//!
//! # Conversions
//!
//! A transaction is looked at when it emitted a Uniswap V2 pair `Swap(address,uint256,uint256,
//! uint256,uint256,address)`, a Uniswap V3 pool `Swap(address,address,int256,int256,uint160,
//! uint128,int24)`, or a `Deposit(address,uint256)` / `Withdrawal(address,uint256)` of a
//! configured wrapped-native contract (WETH, WBNB, WTRX). The emitting pools and wrappers are
//! *venues*: never owners. Every other address's net flow in the transaction is computed from
//! the block's transfers (token logs, top-level value, internal value from traces) plus the
//! wrapper events (WETH9 mints on `Deposit` and burns on `Withdrawal` without a `Transfer`). An
//! address whose net flow is negative in exactly one asset X and positive in exactly one other
//! asset Y converted X→Y: `amount_in` is what it gave net, `amount_out` what it got net. So the
//! user of `swapExactTokensForETH` converts token→ETH although the pair's `Swap` names the
//! router: the router's flows net to zero, the user's do not.
//!
//! Transactions without such events get the per-transaction net-flow rule for their sender
//! only (the signer who acted): if the sender's only net outflow is X and only net inflow Y, it
//! is a [`ConversionKind::NetFlow`] conversion (another pool's swap, an OTC settlement
//! contract). Nobody else in such a transaction is given a conversion.
//!
//! **Without traces** the ETH a router or WETH pays a user by an internal call is not a stored
//! transfer, so a swap to ETH or an unwrap shows the user only giving: no conversion is
//! recorded for it and a [`FlowNote`] says so (the block is marked `internal_missing`;
//! `ingest --refill-traces` reads it again with traces and its conversions replace the stored
//! ones).
//!
//! # Bridges
//!
//! Circle CCTP: `DepositForBurn` emitted by a configured `token_messenger` is a deposit, keyed by
//! this chain's CCTP domain and the event's nonce; `MessageReceived` emitted by a configured
//! `message_transmitter` is a release, keyed by the message's source domain and nonce, whose
//! asset and amount are those of the mint (a `Transfer` from the zero address to the burn
//! message's recipient) in the same transaction. The same events from any other contract are
//! ignored. Other bridges are declared by event signature and key fields ([`EventBridge`]).
//!
//! # Prices
//!
//! `AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt)` of a
//! configured aggregator becomes a [`PricePoint`].
//!
//! Malformed events (wrong topic count or data length, values out of range, a release without
//! its mint, a domain nobody configured) never panic and never become zero amounts: the event
//! is left out and a [`FlowNote`] says which and why.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use alloy_primitives::{keccak256, B256, U256};
use chaintrace_model::{
    Address, Asset, BlockData, BridgeEvent, BridgeKey, BridgeSide, Conversion, ConversionKind, Hash32, Position,
    PricePoint, Transfer,
};

use crate::decode::{addr, hash32, LOG_SUB_BASE};
use crate::types::{RpcBlock, RpcLog, RpcReceipt};

/// Event signature hashes (`topics[0]`).
pub mod topics {
    use super::*;

    fn sig(s: &str) -> B256 {
        keccak256(s.as_bytes())
    }

    /// Uniswap V2 pair `Swap(address,uint256,uint256,uint256,uint256,address)`.
    pub static SWAP_V2: LazyLock<B256> = LazyLock::new(|| sig("Swap(address,uint256,uint256,uint256,uint256,address)"));
    /// Uniswap V3 pool `Swap(address,address,int256,int256,uint160,uint128,int24)`.
    pub static SWAP_V3: LazyLock<B256> =
        LazyLock::new(|| sig("Swap(address,address,int256,int256,uint160,uint128,int24)"));
    /// WETH9 `Deposit(address,uint256)`.
    pub static DEPOSIT: LazyLock<B256> = LazyLock::new(|| sig("Deposit(address,uint256)"));
    /// WETH9 `Withdrawal(address,uint256)`.
    pub static WITHDRAWAL: LazyLock<B256> = LazyLock::new(|| sig("Withdrawal(address,uint256)"));
    /// CCTP TokenMessenger `DepositForBurn`.
    pub static DEPOSIT_FOR_BURN: LazyLock<B256> =
        LazyLock::new(|| sig("DepositForBurn(uint64,address,uint256,address,bytes32,uint32,bytes32,bytes32)"));
    /// CCTP MessageTransmitter `MessageReceived`.
    pub static MESSAGE_RECEIVED: LazyLock<B256> =
        LazyLock::new(|| sig("MessageReceived(address,uint32,uint64,bytes32,bytes)"));
    /// Chainlink aggregator `AnswerUpdated`.
    pub static ANSWER_UPDATED: LazyLock<B256> = LazyLock::new(|| sig("AnswerUpdated(int256,uint256,uint256)"));
}

/// One chain's CCTP deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CctpDeployment {
    /// This chain's CCTP domain (Ethereum 0, Arbitrum 3, Base 6 …).
    pub domain: u32,
    /// The TokenMessenger that emits `DepositForBurn`.
    pub token_messenger: [u8; 20],
    /// The MessageTransmitter that emits `MessageReceived`.
    pub message_transmitter: [u8; 20],
}

/// A value of a declared bridge event, by its place in the event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventField {
    /// `topics[i]` (1-based: `topics[0]` is the signature).
    Topic(usize),
    /// The i-th 32-byte word of the data.
    Word(usize),
}

/// A bridge declared in the config by its events: which contract, which event is the deposit
/// and which the release, and where the owner, recipient, token, amount and key sit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventBridge {
    /// The bridge's name (the [`BridgeKey::protocol`]).
    pub name: String,
    /// The contract that emits both events on this chain.
    pub contract: [u8; 20],
    /// `topics[0]` of the deposit event.
    pub deposit_topic: B256,
    /// `topics[0]` of the release event.
    pub release_topic: B256,
    /// Deposit: who sends.
    pub deposit_owner: EventField,
    /// Deposit: the token (an address word).
    pub deposit_token: EventField,
    /// Deposit: the amount.
    pub deposit_amount: EventField,
    /// Deposit: the key fields, concatenated as 32-byte words in this order.
    pub deposit_key: Vec<EventField>,
    /// Release: who receives.
    pub release_recipient: EventField,
    /// Release: the token.
    pub release_token: EventField,
    /// Release: the amount.
    pub release_amount: EventField,
    /// Release: the key fields (the same values as the deposit's, in the same order).
    pub release_key: Vec<EventField>,
}

/// What to recognise on one chain besides transfers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowConfig {
    /// Wrapped-native contracts whose `Deposit`/`Withdrawal` are conversions.
    pub wrapped_native: Vec<[u8; 20]>,
    /// CCTP deployments on this chain.
    pub cctp: Vec<CctpDeployment>,
    /// Every CCTP domain the configuration knows (of any chain): a message from or to another
    /// domain is noted.
    pub known_domains: Vec<u32>,
    /// Bridges declared by their events.
    pub event_bridges: Vec<EventBridge>,
    /// Chainlink aggregators whose `AnswerUpdated` are price points.
    pub price_feeds: Vec<[u8; 20]>,
}

impl FlowConfig {
    /// True when nothing but conversions by pool events and the net-flow rule is recognised.
    pub fn is_empty(&self) -> bool {
        self == &FlowConfig::default()
    }
}

/// Something in a block that looked like a flow but could not be made one, said plainly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowNote {
    /// The transaction.
    pub tx: Hash32,
    /// What was seen and why nothing (or not everything) was recorded.
    pub what: String,
}

const ZERO: [u8; 20] = [0; 20];

fn word_address(w: &[u8]) -> Option<[u8; 20]> {
    if w.len() != 32 || w[..12].iter().any(|b| *b != 0) {
        return None;
    }
    w[12..].try_into().ok()
}

fn word(data: &[u8], i: usize) -> Option<&[u8]> {
    data.get(i * 32..i * 32 + 32)
}

fn topic_address(log: &RpcLog, i: usize) -> Option<[u8; 20]> {
    word_address(&log.topics.get(i)?.0)
}

fn u64_of(w: &[u8]) -> Option<u64> {
    let v = U256::from_be_slice(w);
    u64::try_from(v).ok()
}

fn u32_of(w: &[u8]) -> Option<u32> {
    let v = U256::from_be_slice(w);
    u32::try_from(v).ok()
}

/// A signed 256-bit word as i128, when it fits.
fn i128_of(w: &[u8]) -> Option<i128> {
    let b: [u8; 32] = w.try_into().ok()?;
    let neg = b[0] & 0x80 != 0;
    let fill = if neg { 0xff } else { 0 };
    if b[..16].iter().any(|x| *x != fill) || (b[16] & 0x80 != 0) != neg {
        return None;
    }
    Some(i128::from_be_bytes(b[16..].try_into().ok()?))
}

/// Signed net amounts per (address, asset) of one transaction, as two unsigned sums.
#[derive(Default)]
struct Net {
    out: BTreeMap<(Address, Asset), U256>,
    inn: BTreeMap<(Address, Asset), U256>,
    /// The first position an address sent an asset at (the conversion's place).
    first_out: BTreeMap<(Address, Asset), u32>,
}

impl Net {
    fn add(&mut self, from: &Address, to: &Address, asset: Asset, amount: U256, sub: u32) {
        let o = self.out.entry((from.clone(), asset)).or_default();
        *o = o.saturating_add(amount);
        let f = self.first_out.entry((from.clone(), asset)).or_insert(sub);
        *f = (*f).min(sub);
        let i = self.inn.entry((to.clone(), asset)).or_default();
        *i = i.saturating_add(amount);
    }

    /// Each address's net (gave, got) per asset, signed as (asset, true=gave, amount).
    fn per_address(&self) -> BTreeMap<Address, Vec<(Asset, bool, U256)>> {
        let mut keys: Vec<&(Address, Asset)> = self.out.keys().chain(self.inn.keys()).collect();
        keys.sort();
        keys.dedup();
        let mut m: BTreeMap<Address, Vec<(Asset, bool, U256)>> = BTreeMap::new();
        for k in keys {
            let o = self.out.get(k).copied().unwrap_or_default();
            let i = self.inn.get(k).copied().unwrap_or_default();
            if o > i {
                m.entry(k.0.clone()).or_default().push((k.1, true, o - i));
            } else if i > o {
                m.entry(k.0.clone()).or_default().push((k.1, false, i - o));
            }
        }
        m
    }
}

/// Which pool/wrapper events a transaction emitted.
#[derive(Default)]
struct TxEvents {
    v2: Vec<[u8; 20]>,
    v3: Vec<[u8; 20]>,
    wraps: usize,
    unwraps: usize,
    venues: Vec<[u8; 20]>,
}

/// Recognise conversions, bridge events and price points in one block and add them to `data`
/// (whose transfers [`crate::decode::block_data`] already assembled from the same block and
/// receipts). Returns what looked like a flow but was left out, and why.
pub fn recognise(data: &mut BlockData, block: &RpcBlock, receipts: &[RpcReceipt], cfg: &FlowConfig) -> Vec<FlowNote> {
    let mut notes = Vec::new();
    let height = data.block.height;
    let time = data.block.time;
    let by_hash: HashMap<B256, &RpcReceipt> = receipts.iter().map(|r| (r.transaction_hash, r)).collect();
    let mut transfers_by_tx: HashMap<u32, Vec<&Transfer>> = HashMap::new();
    for t in &data.transfers {
        transfers_by_tx.entry(t.pos.tx_index).or_default().push(t);
    }
    let mut conversions = Vec::new();
    let mut bridge_events = Vec::new();
    let mut price_points = Vec::new();
    let mut next_log_index = 0u64;
    for (i, tx) in block.transactions.iter().enumerate() {
        let tx_index = tx.transaction_index.map(|x| x.to::<u64>()).unwrap_or(i as u64) as u32;
        let Some(receipt) = by_hash.get(&tx.hash) else { continue };
        let txh = hash32(&tx.hash);
        let success = receipt.status.map(|s| s.to::<u64>()) != Some(0);
        let legs: &[&Transfer] = transfers_by_tx.get(&tx_index).map_or(&[], |v| v.as_slice());
        let mut ev = TxEvents::default();
        let mut net = Net::default();
        for t in legs {
            net.add(&t.from, &t.to, t.asset, t.amount, t.pos.sub);
        }
        for log in &receipt.logs {
            let li = log.log_index.map(|x| x.to::<u64>()).unwrap_or(next_log_index);
            next_log_index = li + 1;
            if !success || log.removed || log.topics.is_empty() {
                continue;
            }
            let sub = u32::try_from(li).ok().and_then(|l| LOG_SUB_BASE.checked_add(l)).unwrap_or(u32::MAX);
            let emitter = log.address.0 .0;
            let t0 = log.topics[0];
            let mut note = |what: String| notes.push(FlowNote { tx: txh, what });
            if t0 == *topics::SWAP_V2 {
                if log.topics.len() == 3 && log.data.len() == 128 {
                    ev.v2.push(emitter);
                    ev.venues.push(emitter);
                } else {
                    note(format!(
                        "a V2-style Swap of 0x{} has {} topics and {} data bytes: not a swap",
                        hex::encode(emitter),
                        log.topics.len(),
                        log.data.len()
                    ));
                }
            } else if t0 == *topics::SWAP_V3 {
                if log.topics.len() == 3 && log.data.len() == 160 {
                    ev.v3.push(emitter);
                    ev.venues.push(emitter);
                } else {
                    note(format!(
                        "a V3-style Swap of 0x{} has {} topics and {} data bytes: not a swap",
                        hex::encode(emitter),
                        log.topics.len(),
                        log.data.len()
                    ));
                }
            } else if (t0 == *topics::DEPOSIT || t0 == *topics::WITHDRAWAL) && cfg.wrapped_native.contains(&emitter) {
                let who = topic_address(log, 1);
                match (who, log.topics.len() == 2 && log.data.len() == 32) {
                    (Some(who), true) => {
                        let amount = U256::from_be_slice(&log.data);
                        let (w, me) = (Address::Evm(emitter), Address::Evm(who));
                        // WETH9 mints on Deposit and burns on Withdrawal without a Transfer.
                        if t0 == *topics::DEPOSIT {
                            ev.wraps += 1;
                            net.add(&w, &me, Asset::Token(emitter), amount, sub);
                        } else {
                            ev.unwraps += 1;
                            net.add(&me, &w, Asset::Token(emitter), amount, sub);
                        }
                        ev.venues.push(emitter);
                    }
                    _ => note(format!("a Deposit/Withdrawal of wrapper 0x{} does not decode", hex::encode(emitter))),
                }
            } else if t0 == *topics::DEPOSIT_FOR_BURN {
                if let Some(dep) = cfg.cctp.iter().find(|d| d.token_messenger == emitter) {
                    if let Some((owner, token, amount, key, recipient, dest)) = cctp_deposit(log, dep, cfg, &mut note) {
                        {
                            let o = Address::Evm(owner);
                            let asset = Asset::Token(token);
                            let leg = legs.iter().filter(|t| t.from == o && t.asset == asset).map(|t| t.pos.sub).min();
                            bridge_events.push(BridgeEvent {
                                tx: txh,
                                height,
                                pos: Position { tx_index, sub: leg.unwrap_or(sub) },
                                time,
                                key,
                                asset,
                                amount,
                                side: BridgeSide::Deposit { owner: o, recipient, dest_domain: Some(dest) },
                                contract: Address::Evm(emitter),
                            });
                        }
                    }
                }
            } else if t0 == *topics::MESSAGE_RECEIVED {
                if cfg.cctp.iter().any(|d| d.message_transmitter == emitter) {
                    if let Some(e) = cctp_release(log, legs, cfg, &mut note) {
                        bridge_events.push(BridgeEvent {
                            tx: txh,
                            height,
                            pos: Position { tx_index, sub: e.3 },
                            time,
                            key: e.0,
                            asset: e.1,
                            amount: e.2,
                            side: BridgeSide::Release { recipient: e.4 },
                            contract: Address::Evm(emitter),
                        });
                    }
                }
            } else if t0 == *topics::ANSWER_UPDATED && cfg.price_feeds.contains(&emitter) {
                let p = (log.topics.len() == 3 && log.data.len() == 32)
                    .then(|| (i128_of(&log.topics[1].0), u64_of(&log.topics[2].0), u64_of(&log.data)))
                    .and_then(|(a, r, t)| Some((a?, r?, t?)));
                match p {
                    Some((answer, round, updated_at)) => {
                        price_points.push(PricePoint { feed: Address::Evm(emitter), round, answer, updated_at, height })
                    }
                    None => note(format!(
                        "an AnswerUpdated of feed 0x{} does not decode or is out of range: no price point",
                        hex::encode(emitter)
                    )),
                }
            }
            for b in cfg.event_bridges.iter().filter(|b| b.contract == emitter) {
                if let Some(e) = declared_bridge_event(b, log, legs, tx_index, sub, &mut note) {
                    bridge_events.push(BridgeEvent { tx: txh, height, time, ..e });
                }
            }
        }
        if !success {
            continue;
        }
        let kind = if !ev.v3.is_empty() && ev.v2.is_empty() {
            Some(ConversionKind::UniswapV3)
        } else if !ev.v2.is_empty() {
            Some(ConversionKind::UniswapV2)
        } else if ev.wraps > 0 && ev.unwraps == 0 {
            Some(ConversionKind::Wrap)
        } else if ev.unwraps > 0 && ev.wraps == 0 {
            Some(ConversionKind::Unwrap)
        } else if ev.wraps > 0 {
            Some(ConversionKind::NetFlow)
        } else {
            None
        };
        let sender = addr(&tx.from);
        let mut found = 0;
        for (who, flows) in net.per_address() {
            let is_venue = matches!(&who, Address::Evm(a) if ev.venues.contains(a) || *a == ZERO);
            if is_venue || (kind.is_none() && who != sender) {
                continue;
            }
            let gave: Vec<_> = flows.iter().filter(|f| f.1).collect();
            let got: Vec<_> = flows.iter().filter(|f| !f.1).collect();
            if gave.len() != 1 || got.len() != 1 {
                continue;
            }
            let (x, _, amount_in) = *gave[0];
            let (y, _, amount_out) = *got[0];
            let sub = net.first_out.get(&(who.clone(), x)).copied().unwrap_or(0);
            let venue = match kind {
                Some(ConversionKind::UniswapV2) => ev.v2.last().copied(),
                Some(ConversionKind::UniswapV3) => ev.v3.last().copied(),
                Some(_) => ev.venues.last().copied(),
                None => None,
            };
            conversions.push(Conversion {
                tx: txh,
                height,
                pos: Position { tx_index, sub },
                time,
                owner: who,
                asset_in: x,
                amount_in,
                asset_out: y,
                amount_out,
                venue: venue.map(Address::Evm),
                kind: kind.unwrap_or(ConversionKind::NetFlow),
            });
            found += 1;
        }
        if found == 0 && kind.is_some() {
            let why = if data.internal_missing {
                "no address both gave one asset and received another; this block was read without traces, so ETH paid by an internal call (a swap to ETH, an unwrap) is not seen"
            } else {
                "no address both gave one asset and received another (logs missing, or the output went to a third party)"
            };
            notes.push(FlowNote { tx: txh, what: format!("swap or wrap events without a conversion: {why}") });
        }
    }
    data.conversions = conversions;
    data.bridge_events = bridge_events;
    data.price_points = price_points;
    notes
}

type CctpDeposit = ([u8; 20], [u8; 20], U256, BridgeKey, Vec<u8>, u32);

fn cctp_deposit(
    log: &RpcLog,
    dep: &CctpDeployment,
    cfg: &FlowConfig,
    note: &mut impl FnMut(String),
) -> Option<CctpDeposit> {
    let d = &log.data;
    let parsed = (log.topics.len() == 4 && d.len() == 160).then(|| {
        Some((
            u64_of(&log.topics[1].0)?,
            topic_address(log, 2)?,
            topic_address(log, 3)?,
            U256::from_be_slice(word(d, 0)?),
            word(d, 1)?.to_vec(),
            u32_of(word(d, 2)?)?,
        ))
    });
    let Some(Some((nonce, token, depositor, amount, recipient, dest))) = parsed else {
        note("a DepositForBurn of the configured TokenMessenger does not decode: no bridge deposit".into());
        return None;
    };
    if !cfg.known_domains.contains(&dest) {
        note(format!(
            "DepositForBurn nonce {nonce} goes to CCTP domain {dest}, which no configured chain has: its release cannot be matched"
        ));
    }
    Some((depositor, token, amount, BridgeKey::cctp(dep.domain, nonce), recipient, dest))
}

/// A CCTP release: key, asset, amount, sub of the mint, recipient.
fn cctp_release(
    log: &RpcLog,
    legs: &[&Transfer],
    cfg: &FlowConfig,
    note: &mut impl FnMut(String),
) -> Option<(BridgeKey, Asset, U256, u32, Address)> {
    let d = &log.data;
    let head = (log.topics.len() == 3).then(|| Some((u64_of(&log.topics[2].0)?, u32_of(word(d, 0)?)?))).flatten();
    let Some((nonce, source)) = head else {
        note("a MessageReceived of the configured MessageTransmitter does not decode: no bridge release".into());
        return None;
    };
    // messageBody: offset word at 2, then its length and bytes (ABI `bytes`).
    let body = (|| {
        let off = usize::try_from(u64_of(word(d, 2)?)?).ok()?;
        let len_word = d.get(off..off + 32)?;
        let len = usize::try_from(u64_of(len_word)?).ok()?;
        d.get(off + 32..off.checked_add(32)?.checked_add(len)?)
    })();
    // The CCTP v1 BurnMessage: version u32 ‖ burnToken ‖ mintRecipient ‖ amount ‖ messageSender.
    let burn = body
        .filter(|b| b.len() >= 132)
        .and_then(|b| Some((word_address(&b[36..68])?, U256::from_be_slice(&b[68..100]))));
    let Some((recipient, amount)) = burn else {
        note(format!("MessageReceived from domain {source} nonce {nonce} carries no burn message: no bridge release"));
        return None;
    };
    if !cfg.known_domains.contains(&source) {
        note(format!(
            "MessageReceived from CCTP domain {source} (nonce {nonce}), which no configured chain has: kept, but no deposit can match it"
        ));
    }
    let to = Address::Evm(recipient);
    let mint = legs.iter().find(|t| t.from == Address::Evm(ZERO) && t.to == to && t.amount == amount);
    let Some(mint) = mint else {
        note(format!(
            "MessageReceived from domain {source} nonce {nonce}: no mint of {amount} to {to} in the transaction: no bridge release"
        ));
        return None;
    };
    Some((BridgeKey::cctp(source, nonce), mint.asset, amount, mint.pos.sub, to))
}

fn field<'a>(log: &'a RpcLog, f: &EventField) -> Option<&'a [u8]> {
    match f {
        EventField::Topic(i) => log.topics.get(*i).map(|t| t.0.as_slice()),
        EventField::Word(i) => word(&log.data, *i),
    }
}

/// A declared bridge's deposit or release (tx, height and time filled by the caller).
fn declared_bridge_event(
    b: &EventBridge,
    log: &RpcLog,
    legs: &[&Transfer],
    tx_index: u32,
    log_sub: u32,
    note: &mut impl FnMut(String),
) -> Option<BridgeEvent> {
    let t0 = log.topics[0];
    let deposit = t0 == b.deposit_topic;
    if !deposit && t0 != b.release_topic {
        return None;
    }
    let (party, token, amount, key) = if deposit {
        (&b.deposit_owner, &b.deposit_token, &b.deposit_amount, &b.deposit_key)
    } else {
        (&b.release_recipient, &b.release_token, &b.release_amount, &b.release_key)
    };
    let got = (|| {
        let party = word_address(field(log, party)?)?;
        let token = word_address(field(log, token)?)?;
        let amount = U256::from_be_slice(field(log, amount)?);
        let mut id = Vec::with_capacity(32 * key.len());
        for k in key {
            id.extend_from_slice(field(log, k)?);
        }
        Some((party, token, amount, id))
    })();
    let Some((party, token, amount, id)) = got else {
        note(format!("a {} bridge event does not have the declared fields: left out", b.name));
        return None;
    };
    let who = Address::Evm(party);
    let asset = Asset::Token(token);
    let leg = if deposit {
        legs.iter().filter(|t| t.from == who && t.asset == asset).map(|t| t.pos.sub).min()
    } else {
        legs.iter().filter(|t| t.to == who && t.asset == asset).map(|t| t.pos.sub).min()
    };
    let side = if deposit {
        BridgeSide::Deposit { owner: who, recipient: Vec::new(), dest_domain: None }
    } else {
        BridgeSide::Release { recipient: who }
    };
    Some(BridgeEvent {
        tx: Hash32::ZERO,
        height: 0,
        pos: Position { tx_index, sub: leg.unwrap_or(log_sub) },
        time: 0,
        key: BridgeKey { protocol: b.name.clone(), id },
        asset,
        amount,
        side,
        contract: Address::Evm(b.contract),
    })
}

/// Parse an event declaration such as `Deposit(address indexed from, uint256 amount, uint64
/// nonce)` into its signature hash and where each named parameter sits. Only static types are
/// supported (the fields a bridge's key, parties and amounts are made of); a dynamic parameter
/// (`bytes`, `string`, arrays) is an error naming it.
pub fn parse_event(decl: &str) -> Result<(B256, Vec<(String, EventField)>), String> {
    let decl = decl.trim();
    let open = decl.find('(').ok_or_else(|| format!("event {decl:?} has no parameter list"))?;
    let name = decl[..open].trim();
    let inner = decl[open + 1..].strip_suffix(')').ok_or_else(|| format!("event {decl:?} does not end with ')'"))?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("event {decl:?} has no valid name"));
    }
    let mut types = Vec::new();
    let mut fields = Vec::new();
    let (mut topic, mut word_i) = (1usize, 0usize);
    for (n, part) in inner.split(',').map(str::trim).filter(|p| !p.is_empty()).enumerate() {
        let words: Vec<&str> = part.split_whitespace().collect();
        let (ty, indexed, pname) = match words.as_slice() {
            [ty] => (*ty, false, format!("arg{n}")),
            [ty, "indexed"] => (*ty, true, format!("arg{n}")),
            [ty, name] => (*ty, false, name.to_string()),
            [ty, "indexed", name] => (*ty, true, name.to_string()),
            _ => return Err(format!("event {decl:?}: cannot read parameter {part:?}")),
        };
        let static_ty = ty == "address"
            || ty == "bool"
            || ty
                .strip_prefix("uint")
                .or_else(|| ty.strip_prefix("int"))
                .is_some_and(|b| b.is_empty() || b.parse::<u16>().is_ok())
            || ty.strip_prefix("bytes").is_some_and(|b| b.parse::<u8>().is_ok_and(|n| (1..=32).contains(&n)));
        if !static_ty {
            return Err(format!(
                "event {decl:?}: parameter {pname:?} has type {ty}, only static types can be bridge fields"
            ));
        }
        types.push(if ty == "uint" {
            "uint256"
        } else if ty == "int" {
            "int256"
        } else {
            ty
        });
        if indexed {
            if topic > 3 {
                return Err(format!("event {decl:?} has more than three indexed parameters"));
            }
            fields.push((pname, EventField::Topic(topic)));
            topic += 1;
        } else {
            fields.push((pname, EventField::Word(word_i)));
            word_i += 1;
        }
    }
    let sig = format!("{name}({})", types.join(","));
    Ok((keccak256(sig.as_bytes()), fields))
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Address as EvmAddr, U64};

    use super::*;
    use crate::types::RpcTx;

    fn word_of(b: &[u8]) -> B256 {
        let mut w = [0u8; 32];
        w[32 - b.len()..].copy_from_slice(b);
        B256::from(w)
    }

    use crate::decode::tests::log_from as log;

    fn one_tx_block(logs: Vec<RpcLog>) -> (BlockData, RpcBlock, Vec<RpcReceipt>) {
        let block = RpcBlock {
            number: U64::from(5),
            hash: B256::repeat_byte(1),
            parent_hash: B256::repeat_byte(2),
            timestamp: U64::from(1000),
            transactions: vec![RpcTx {
                hash: B256::repeat_byte(0xa1),
                from: EvmAddr::repeat_byte(0x10),
                to: Some(EvmAddr::repeat_byte(0x20)),
                value: U256::ZERO,
                transaction_index: None,
            }],
        };
        let receipts = vec![RpcReceipt {
            transaction_hash: B256::repeat_byte(0xa1),
            transaction_index: None,
            status: Some(U64::from(1)),
            contract_address: None,
            logs,
        }];
        let data = crate::decode::block_data(&block, &receipts, Some(&[])).expect("block");
        (data, block, receipts)
    }

    fn cctp_cfg() -> FlowConfig {
        FlowConfig {
            cctp: vec![CctpDeployment { domain: 0, token_messenger: [0x77; 20], message_transmitter: [0x78; 20] }],
            known_domains: vec![0, 3],
            price_feeds: vec![[0xfe; 20]],
            ..FlowConfig::default()
        }
    }

    fn deposit_for_burn(emitter: u8, dest: u32) -> RpcLog {
        let mut data = Vec::new();
        data.extend_from_slice(&U256::from(5_000_000u64).to_be_bytes::<32>());
        data.extend_from_slice(&word_of(&[0x33; 20]).0);
        data.extend_from_slice(&word_of(&dest.to_be_bytes()).0);
        data.extend_from_slice(&[0; 64]);
        log(
            emitter,
            vec![*topics::DEPOSIT_FOR_BURN, word_of(&9u64.to_be_bytes()), word_of(&[0xaa; 20]), word_of(&[0x10; 20])],
            data,
            0,
        )
    }

    #[test]
    fn cctp_deposits_of_the_configured_messenger_only_and_unknown_domains_are_noted() {
        let (mut data, block, receipts) = one_tx_block(vec![deposit_for_burn(0x77, 3), deposit_for_burn(0x66, 3)]);
        let notes = recognise(&mut data, &block, &receipts, &cctp_cfg());
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(data.bridge_events.len(), 1, "the look-alike from another contract is ignored");
        let e = &data.bridge_events[0];
        assert_eq!(e.key, BridgeKey::cctp(0, 9));
        assert_eq!((e.asset, e.amount), (Asset::Token([0xaa; 20]), U256::from(5_000_000u64)));
        assert!(
            matches!(&e.side, BridgeSide::Deposit { owner, dest_domain: Some(3), .. } if *owner == Address::Evm([0x10; 20]))
        );

        let (mut data, block, receipts) = one_tx_block(vec![deposit_for_burn(0x77, 42)]);
        let notes = recognise(&mut data, &block, &receipts, &cctp_cfg());
        assert_eq!(data.bridge_events.len(), 1, "kept: it is still a deposit (an unmatched one)");
        assert!(notes.iter().any(|n| n.what.contains("domain 42")), "{notes:?}");
    }

    #[test]
    fn malformed_events_are_notes_never_zero_amounts() {
        let short = log(0x77, vec![*topics::DEPOSIT_FOR_BURN, word_of(&[9])], vec![0; 10], 0);
        let huge_answer =
            log(0xfe, vec![*topics::ANSWER_UPDATED, B256::repeat_byte(0x7f), word_of(&[1])], vec![0; 32], 1);
        let release_without_body =
            log(0x78, vec![*topics::MESSAGE_RECEIVED, word_of(&[1]), word_of(&[2])], vec![0; 32], 2);
        let (mut data, block, receipts) = one_tx_block(vec![short, huge_answer, release_without_body]);
        let notes = recognise(&mut data, &block, &receipts, &cctp_cfg());
        assert!(data.bridge_events.is_empty() && data.price_points.is_empty());
        assert_eq!(notes.len(), 3, "{notes:?}");
        // A negative answer fits and is kept as given (the valuation never uses it).
        let neg = log(
            0xfe,
            vec![*topics::ANSWER_UPDATED, B256::repeat_byte(0xff), word_of(&[4])],
            word_of(&[7]).0.to_vec(),
            0,
        );
        let (mut data, block, receipts) = one_tx_block(vec![neg]);
        assert!(recognise(&mut data, &block, &receipts, &cctp_cfg()).is_empty());
        assert_eq!(
            (data.price_points[0].answer, data.price_points[0].round, data.price_points[0].updated_at),
            (-1, 4, 7)
        );
    }

    #[test]
    fn a_swap_whose_transfer_logs_are_missing_is_noted_not_guessed() {
        let swap = log(0x55, vec![*topics::SWAP_V2, word_of(&[0x20; 20]), word_of(&[0x10; 20])], vec![1; 128], 0);
        let (mut data, block, receipts) = one_tx_block(vec![swap]);
        let notes = recognise(&mut data, &block, &receipts, &FlowConfig::default());
        assert!(data.conversions.is_empty());
        assert!(notes[0].what.contains("without a conversion"), "{notes:?}");
    }

    #[test]
    fn event_declarations_parse_to_topics_and_words() {
        let (topic, fields) =
            parse_event("Locked(address indexed owner, address token, uint256 amount, uint64 nonce)").unwrap();
        assert_eq!(topic, keccak256("Locked(address,address,uint256,uint64)"));
        assert_eq!(
            fields,
            vec![
                ("owner".into(), EventField::Topic(1)),
                ("token".into(), EventField::Word(0)),
                ("amount".into(), EventField::Word(1)),
                ("nonce".into(), EventField::Word(2)),
            ]
        );
        assert!(parse_event("Locked(bytes data)").unwrap_err().contains("only static types"));
        assert!(parse_event("Locked(uint a").is_err());
        assert!(parse_event("(uint a)").is_err());
        assert_eq!(parse_event("X(uint a)").unwrap().0, keccak256("X(uint256)"));
    }
}
