//! Column family names and key byte layouts. Only this module knows them; `docs/schema.md`
//! describes the same layouts for humans.
//!
//! All integers in keys are big-endian so that byte order equals logical order.

use chaintrace_model::{Hash32, Position};

/// Column family names (one place, as constants).
pub(crate) mod cf {
    pub(crate) const META: &str = "meta";
    pub(crate) const BLOCKS: &str = "blocks";
    pub(crate) const TRANSFERS: &str = "transfers";
    pub(crate) const ADDR_OUT: &str = "addr_out";
    pub(crate) const ADDR_IN: &str = "addr_in";
    pub(crate) const ADDRESSES: &str = "addresses";
    pub(crate) const OUTPUTS: &str = "outputs";
    pub(crate) const SPENDS: &str = "spends";
    pub(crate) const SPENT_BY: &str = "spent_by";
    pub(crate) const LABELS: &str = "labels";
    pub(crate) const LABELS_BY_SOURCE: &str = "labels_by_source";
    pub(crate) const DEGREE: &str = "degree";
    pub(crate) const FLOWS: &str = "flows";
    pub(crate) const FLOW_INDEX: &str = "flow_index";

    pub(crate) const ALL: [&str; 14] = [
        META,
        BLOCKS,
        TRANSFERS,
        ADDR_OUT,
        ADDR_IN,
        ADDRESSES,
        OUTPUTS,
        SPENDS,
        SPENT_BY,
        LABELS,
        LABELS_BY_SOURCE,
        DEGREE,
        FLOWS,
        FLOW_INDEX,
    ];
}

/// Numeric chain id assigned at first use (2 bytes in keys).
pub(crate) type ChainNo = u16;
/// Dictionary id of an (chain, address) pair (8 bytes in keys).
pub(crate) type AddrId = u64;

/// `blocks`: chain ‖ height.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct BlockKey {
    pub(crate) chain: ChainNo,
    pub(crate) height: u64,
}

impl BlockKey {
    pub(crate) const LEN: usize = 10;
    pub(crate) fn encode(&self) -> [u8; Self::LEN] {
        let mut k = [0u8; Self::LEN];
        k[..2].copy_from_slice(&self.chain.to_be_bytes());
        k[2..].copy_from_slice(&self.height.to_be_bytes());
        k
    }
    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != Self::LEN {
            return None;
        }
        Some(BlockKey {
            chain: u16::from_be_bytes(b[..2].try_into().ok()?),
            height: u64::from_be_bytes(b[2..].try_into().ok()?),
        })
    }
}

/// `transfers`: chain ‖ height ‖ tx_index ‖ sub.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct TransferKey {
    pub(crate) chain: ChainNo,
    pub(crate) height: u64,
    pub(crate) pos: Position,
}

impl TransferKey {
    pub(crate) const LEN: usize = 18;
    pub(crate) fn encode(&self) -> [u8; Self::LEN] {
        let mut k = [0u8; Self::LEN];
        k[..2].copy_from_slice(&self.chain.to_be_bytes());
        k[2..10].copy_from_slice(&self.height.to_be_bytes());
        k[10..14].copy_from_slice(&self.pos.tx_index.to_be_bytes());
        k[14..].copy_from_slice(&self.pos.sub.to_be_bytes());
        k
    }
    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != Self::LEN {
            return None;
        }
        Some(TransferKey {
            chain: u16::from_be_bytes(b[..2].try_into().ok()?),
            height: u64::from_be_bytes(b[2..10].try_into().ok()?),
            pos: Position {
                tx_index: u32::from_be_bytes(b[10..14].try_into().ok()?),
                sub: u32::from_be_bytes(b[14..].try_into().ok()?),
            },
        })
    }
}

/// `addr_out` / `addr_in`: address id ‖ height ‖ tx_index ‖ sub (value empty). A prefix scan
/// from `id ‖ height` answers "what left this address after height H" in chain order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct AdjKey {
    pub(crate) addr: AddrId,
    pub(crate) height: u64,
    pub(crate) pos: Position,
}

impl AdjKey {
    pub(crate) const LEN: usize = 24;
    pub(crate) fn encode(&self) -> [u8; Self::LEN] {
        let mut k = [0u8; Self::LEN];
        k[..8].copy_from_slice(&self.addr.to_be_bytes());
        k[8..16].copy_from_slice(&self.height.to_be_bytes());
        k[16..20].copy_from_slice(&self.pos.tx_index.to_be_bytes());
        k[20..].copy_from_slice(&self.pos.sub.to_be_bytes());
        k
    }
    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != Self::LEN {
            return None;
        }
        Some(AdjKey {
            addr: u64::from_be_bytes(b[..8].try_into().ok()?),
            height: u64::from_be_bytes(b[8..16].try_into().ok()?),
            pos: Position {
                tx_index: u32::from_be_bytes(b[16..20].try_into().ok()?),
                sub: u32::from_be_bytes(b[20..].try_into().ok()?),
            },
        })
    }
}

/// `addresses`: chain ‖ address key (see `Address::to_key`) → address id.
pub(crate) fn address_key(chain: ChainNo, addr_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + addr_key.len());
    k.extend_from_slice(&chain.to_be_bytes());
    k.extend_from_slice(addr_key);
    k
}

/// `outputs` / `spends` / `spent_by`: chain ‖ txid ‖ index (vout or vin).
pub(crate) fn outpoint_key(chain: ChainNo, txid: &Hash32, index: u32) -> [u8; 38] {
    let mut k = [0u8; 38];
    k[..2].copy_from_slice(&chain.to_be_bytes());
    k[2..34].copy_from_slice(&txid.0);
    k[34..].copy_from_slice(&index.to_be_bytes());
    k
}

pub(crate) fn decode_outpoint_key(b: &[u8]) -> Option<(ChainNo, Hash32, u32)> {
    if b.len() != 38 {
        return None;
    }
    Some((
        u16::from_be_bytes(b[..2].try_into().ok()?),
        Hash32(b[2..34].try_into().ok()?),
        u32::from_be_bytes(b[34..].try_into().ok()?),
    ))
}

pub(crate) fn tx_prefix(chain: ChainNo, txid: &Hash32) -> [u8; 34] {
    let mut k = [0u8; 34];
    k[..2].copy_from_slice(&chain.to_be_bytes());
    k[2..].copy_from_slice(&txid.0);
    k
}

/// `labels`: len(address key) ‖ address key ‖ chain ‖ 0 ‖ source ‖ 0 ‖ category ‖ 0 ‖ entity.
/// The length prefix makes `labels_prefix(addr)` match exactly one address.
pub(crate) fn label_key(addr_key: &[u8], chain: &str, source: &str, category: &str, entity: &str) -> Vec<u8> {
    let mut k = labels_prefix(addr_key);
    for (i, part) in [chain, source, category, entity].iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend(part.bytes().filter(|&b| b != 0));
    }
    k
}

pub(crate) fn labels_prefix(addr_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + addr_key.len() + 32);
    k.push(u8::try_from(addr_key.len()).unwrap_or(u8::MAX));
    k.extend_from_slice(addr_key);
    k
}

/// `labels_by_source`: source ‖ 0 ‖ label key.
pub(crate) fn source_index_key(source: &str, label_key: &[u8]) -> Vec<u8> {
    let mut k = source_prefix(source);
    k.extend_from_slice(label_key);
    k
}

pub(crate) fn source_prefix(source: &str) -> Vec<u8> {
    let mut k: Vec<u8> = source.bytes().filter(|&b| b != 0).collect();
    k.push(0);
    k
}

/// Which kind of flow row a `flows` key holds (its byte after the height); also the tag of
/// the `flow_index` key kinds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum FlowKind {
    Conversion = 1,
    Bridge = 2,
    Price = 3,
}

impl FlowKind {
    pub(crate) fn from_byte(b: u8) -> Option<FlowKind> {
        match b {
            1 => Some(FlowKind::Conversion),
            2 => Some(FlowKind::Bridge),
            3 => Some(FlowKind::Price),
            _ => None,
        }
    }
}

/// `flows`: chain ‖ height ‖ kind u8 ‖ seq u32 (the row's place in its block's list). A prefix
/// scan of `chain ‖ height` finds every flow row of a block (rollback).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct FlowKey {
    pub(crate) chain: ChainNo,
    pub(crate) height: u64,
    pub(crate) kind: FlowKind,
    pub(crate) seq: u32,
}

impl FlowKey {
    pub(crate) const LEN: usize = 15;
    pub(crate) fn encode(&self) -> [u8; Self::LEN] {
        let mut k = [0u8; Self::LEN];
        k[..2].copy_from_slice(&self.chain.to_be_bytes());
        k[2..10].copy_from_slice(&self.height.to_be_bytes());
        k[10] = self.kind as u8;
        k[11..].copy_from_slice(&self.seq.to_be_bytes());
        k
    }
    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != Self::LEN {
            return None;
        }
        Some(FlowKey {
            chain: u16::from_be_bytes(b[..2].try_into().ok()?),
            height: u64::from_be_bytes(b[2..10].try_into().ok()?),
            kind: FlowKind::from_byte(b[10])?,
            seq: u32::from_be_bytes(b[11..].try_into().ok()?),
        })
    }
}

/// `flow_index` keys: secondary orders of the `flows` rows, each carrying the row's value.
pub(crate) mod flow_index {
    use super::{ChainNo, FlowKind};
    use chaintrace_model::Position;

    /// `chain ‖ tag ‖ len u8 ‖ bytes`: the prefix shared by one owner's (or one bridge key's,
    /// or one feed's) rows of one kind.
    pub(crate) fn prefix(chain: ChainNo, kind: FlowKind, parts: &[&[u8]]) -> Vec<u8> {
        let mut k = Vec::with_capacity(48);
        k.extend_from_slice(&chain.to_be_bytes());
        k.push(kind as u8);
        for p in parts {
            k.push(u8::try_from(p.len()).unwrap_or(u8::MAX));
            k.extend_from_slice(&p[..p.len().min(255)]);
        }
        k
    }

    /// Conversions by owner, deposits by owner: `prefix ‖ height ‖ tx_index ‖ sub ‖ seq`.
    pub(crate) fn ordered(prefix: &[u8], height: u64, pos: Position, seq: u32) -> Vec<u8> {
        let mut k = prefix.to_vec();
        k.extend_from_slice(&height.to_be_bytes());
        k.extend_from_slice(&pos.tx_index.to_be_bytes());
        k.extend_from_slice(&pos.sub.to_be_bytes());
        k.extend_from_slice(&seq.to_be_bytes());
        k
    }

    /// The `(height, position)` an [`ordered`] key ends with (before its seq).
    pub(crate) fn ordered_position(key: &[u8]) -> Option<(u64, Position)> {
        let n = key.len();
        if n < 20 {
            return None;
        }
        let t = &key[n - 20..];
        Some((
            u64::from_be_bytes(t[..8].try_into().ok()?),
            Position {
                tx_index: u32::from_be_bytes(t[8..12].try_into().ok()?),
                sub: u32::from_be_bytes(t[12..16].try_into().ok()?),
            },
        ))
    }

    /// Price points by feed: `prefix ‖ updated_at ‖ round`.
    pub(crate) fn price(prefix: &[u8], updated_at: u64, round: u64) -> Vec<u8> {
        let mut k = prefix.to_vec();
        k.extend_from_slice(&updated_at.to_be_bytes());
        k.extend_from_slice(&round.to_be_bytes());
        k
    }
}

/// `meta` keys.
///
/// Besides the store's own rows, `meta` holds typed rows of other parts (token metadata,
/// clusters, label imports, node capabilities). Their keys keep the byte layout of format
/// version 2 (`user/<namespace>\0<key>`), so stores written before these rows were typed read
/// unchanged.
pub(crate) mod meta {
    pub(crate) const FORMAT_VERSION: &[u8] = b"format_version";
    pub(crate) const NEXT_ADDR_ID: &[u8] = b"next_addr_id";
    pub(crate) const CHAIN_PREFIX: &[u8] = b"chain/";
    const USER_PREFIX: &[u8] = b"user/";

    pub(crate) fn chain(name: &str) -> Vec<u8> {
        [CHAIN_PREFIX, name.as_bytes()].concat()
    }

    /// `user/<ns>\0`: the prefix of one namespace of typed rows.
    fn namespace(ns: &str) -> Vec<u8> {
        let mut k = USER_PREFIX.to_vec();
        k.extend(ns.bytes().filter(|&b| b != 0));
        k.push(0);
        k
    }

    /// Prefix of a chain's token metadata rows.
    pub(crate) fn token_prefix(chain: &str) -> Vec<u8> {
        namespace(&format!("token:{chain}"))
    }

    /// Token metadata of one contract: `user/token:<chain>\0 ‖ contract[20]`.
    pub(crate) fn token(chain: &str, contract: &[u8; 20]) -> Vec<u8> {
        [token_prefix(chain).as_slice(), contract].concat()
    }

    /// Prefix of a chain's address → cluster rows.
    pub(crate) fn cluster_prefix(chain: &str) -> Vec<u8> {
        namespace(&format!("cluster:{chain}"))
    }

    /// The cluster of one address: `user/cluster:<chain>\0 ‖ address text`.
    pub(crate) fn cluster(chain: &str, address_text: &str) -> Vec<u8> {
        [cluster_prefix(chain).as_slice(), address_text.as_bytes()].concat()
    }

    /// Prefix of a chain's cluster-size rows.
    pub(crate) fn cluster_size_prefix(chain: &str) -> Vec<u8> {
        namespace(&format!("cluster-size:{chain}"))
    }

    /// The size of one cluster: `user/cluster-size:<chain>\0 ‖ cluster id text`.
    pub(crate) fn cluster_size(chain: &str, id: &str) -> Vec<u8> {
        [cluster_size_prefix(chain).as_slice(), id.as_bytes()].concat()
    }

    /// Prefix of the label import records.
    pub(crate) fn label_import_prefix() -> Vec<u8> {
        namespace("labels:imports")
    }

    /// One label import record: `user/labels:imports\0 ‖ seq u64 BE`.
    pub(crate) fn label_import(seq: u64) -> Vec<u8> {
        [label_import_prefix().as_slice(), &seq.to_be_bytes()].concat()
    }

    /// Prefix of a chain's freeze-event journal rows.
    pub(crate) fn freeze_event_prefix(chain: &str) -> Vec<u8> {
        namespace(&format!("freeze-events:{chain}"))
    }

    /// One journal row: `user/freeze-events:<chain>\0 ‖ block u64 BE ‖ log index u64 BE`.
    pub(crate) fn freeze_event(chain: &str, block: u64, log_index: u64) -> Vec<u8> {
        [freeze_event_prefix(chain).as_slice(), &block.to_be_bytes(), &log_index.to_be_bytes()].concat()
    }

    /// How far the chain's freeze journal was scanned: `user/freeze-scan:<chain>\0`.
    pub(crate) fn freeze_scan(chain: &str) -> Vec<u8> {
        namespace(&format!("freeze-scan:{chain}"))
    }

    /// Prefix of a chain's node capability rows.
    pub(crate) fn node_capability_prefix(chain: &str) -> Vec<u8> {
        namespace(&format!("node:{chain}"))
    }

    /// One node capability: `user/node:<chain>\0 ‖ key text`.
    pub(crate) fn node_capability(chain: &str, key: &str) -> Vec<u8> {
        [node_capability_prefix(chain).as_slice(), key.as_bytes()].concat()
    }
}

/// The smallest key greater than every key that starts with `prefix` (None: no bound).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pos(t: u32, s: u32) -> Position {
        Position { tx_index: t, sub: s }
    }

    proptest! {
        #[test]
        fn transfer_keys_round_trip_and_sort(a in any::<(u16, u64, u32, u32)>(), b in any::<(u16, u64, u32, u32)>()) {
            let ka = TransferKey { chain: a.0, height: a.1, pos: pos(a.2, a.3) };
            let kb = TransferKey { chain: b.0, height: b.1, pos: pos(b.2, b.3) };
            prop_assert_eq!(TransferKey::decode(&ka.encode()), Some(ka));
            prop_assert_eq!(ka.cmp(&kb), ka.encode().cmp(&kb.encode()));
        }

        #[test]
        fn adjacency_keys_round_trip_and_sort(a in any::<(u64, u64, u32, u32)>(), b in any::<(u64, u64, u32, u32)>()) {
            let ka = AdjKey { addr: a.0, height: a.1, pos: pos(a.2, a.3) };
            let kb = AdjKey { addr: b.0, height: b.1, pos: pos(b.2, b.3) };
            prop_assert_eq!(AdjKey::decode(&ka.encode()), Some(ka));
            prop_assert_eq!(ka.cmp(&kb), ka.encode().cmp(&kb.encode()));
        }

        #[test]
        fn block_keys_round_trip_and_sort(a in any::<(u16, u64)>(), b in any::<(u16, u64)>()) {
            let ka = BlockKey { chain: a.0, height: a.1 };
            let kb = BlockKey { chain: b.0, height: b.1 };
            prop_assert_eq!(BlockKey::decode(&ka.encode()), Some(ka));
            prop_assert_eq!(ka.cmp(&kb), ka.encode().cmp(&kb.encode()));
        }

        #[test]
        fn outpoint_keys_round_trip_and_sort(a in any::<(u16, [u8; 32], u32)>(), b in any::<(u16, [u8; 32], u32)>()) {
            let ka = outpoint_key(a.0, &Hash32(a.1), a.2);
            let kb = outpoint_key(b.0, &Hash32(b.1), b.2);
            prop_assert_eq!(decode_outpoint_key(&ka), Some((a.0, Hash32(a.1), a.2)));
            prop_assert_eq!(a.cmp(&b), ka.cmp(&kb));
        }

        #[test]
        fn label_prefix_matches_only_its_address(a in proptest::collection::vec(any::<u8>(), 1..40), b in proptest::collection::vec(any::<u8>(), 1..40)) {
            let key = label_key(&a, "", "src", "exchange", "X");
            prop_assert!(key.starts_with(&labels_prefix(&a)));
            if a != b {
                prop_assert!(!key.starts_with(&labels_prefix(&b)));
            }
        }
    }

    #[test]
    fn typed_meta_keys_keep_the_version_2_layout() {
        assert_eq!(meta::token("ethereum", &[7; 20]), [b"user/token:ethereum\0".as_slice(), &[7; 20]].concat());
        assert_eq!(meta::cluster("btcreg", "1A"), b"user/cluster:btcreg\x001A".to_vec());
        assert_eq!(meta::cluster_size("bitcoin", "c01"), b"user/cluster-size:bitcoin\x00c01".to_vec());
        assert_eq!(meta::label_import(3), [b"user/labels:imports\0".as_slice(), &3u64.to_be_bytes()].concat());
        assert_eq!(meta::node_capability("ethereum", "trace_mode"), b"user/node:ethereum\x00trace_mode".to_vec());
        // One chain's namespace is not a prefix of another's.
        assert!(!meta::cluster("bitcoin2", "x").starts_with(&meta::cluster_prefix("bitcoin")));
    }

    proptest! {
        #[test]
        fn flow_keys_round_trip_and_sort(a in any::<(u16, u64, u8, u32)>(), b in any::<(u16, u64, u8, u32)>()) {
            let kind = |x: u8| [FlowKind::Conversion, FlowKind::Bridge, FlowKind::Price][usize::from(x % 3)];
            let ka = FlowKey { chain: a.0, height: a.1, kind: kind(a.2), seq: a.3 };
            let kb = FlowKey { chain: b.0, height: b.1, kind: kind(b.2), seq: b.3 };
            prop_assert_eq!(FlowKey::decode(&ka.encode()), Some(ka));
            prop_assert_eq!(ka.cmp(&kb), ka.encode().cmp(&kb.encode()));
        }

        #[test]
        fn ordered_flow_index_keys_sort_in_chain_order(
            owner in proptest::collection::vec(any::<u8>(), 1..30),
            a in any::<(u64, u32, u32, u32)>(), b in any::<(u64, u32, u32, u32)>(),
        ) {
            let p = flow_index::prefix(3, FlowKind::Conversion, &[&owner]);
            let ka = flow_index::ordered(&p, a.0, pos(a.1, a.2), a.3);
            let kb = flow_index::ordered(&p, b.0, pos(b.1, b.2), b.3);
            prop_assert_eq!(flow_index::ordered_position(&ka), Some((a.0, pos(a.1, a.2))));
            prop_assert_eq!(a.cmp(&b), ka.cmp(&kb));
        }
    }

    #[test]
    fn flow_index_prefixes_of_different_owners_do_not_nest() {
        let a = flow_index::prefix(1, FlowKind::Conversion, &[&[1, 2]]);
        let b = flow_index::prefix(1, FlowKind::Conversion, &[&[1, 2, 3]]);
        assert!(!b.starts_with(&a) && !a.starts_with(&b));
        let c = flow_index::prefix(1, FlowKind::Bridge, &[&[1, 2]]);
        assert!(!c.starts_with(&a));
    }

    #[test]
    fn prefix_end_bounds() {
        assert_eq!(prefix_end(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_end(&[1, 255]), Some(vec![2]));
        assert_eq!(prefix_end(&[255, 255]), None);
    }
}
