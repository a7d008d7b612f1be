//! Value encodings. Transfer rows are hand-encoded (compact, canonical: the digest hashes
//! them); the small bookkeeping rows use bincode.

use chaintrace_model::{Address, Asset, Hash32, Transfer, UtxoOutput, U256};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::keys::{ChainNo, TransferKey};

/// `transfers` value: tx ‖ time ‖ asset ‖ amount ‖ from ‖ to.
pub(crate) struct TransferRow;

impl TransferRow {
    pub(crate) fn encode(t: &Transfer) -> Vec<u8> {
        let mut v = Vec::with_capacity(96);
        v.extend_from_slice(&t.tx.0);
        v.extend_from_slice(&t.time.to_be_bytes());
        match t.asset {
            Asset::Native => v.push(0),
            Asset::Token(c) => {
                v.push(1);
                v.extend_from_slice(&c);
            }
            Asset::TronToken(c) => {
                v.push(2);
                v.extend_from_slice(&c);
            }
            Asset::Trc10(id) => {
                v.push(3);
                v.extend_from_slice(&id.to_be_bytes());
            }
        }
        let amount: [u8; 32] = t.amount.to_be_bytes();
        let skip = amount.iter().take_while(|&&b| b == 0).count();
        v.push((32 - skip) as u8);
        v.extend_from_slice(&amount[skip..]);
        for a in [&t.from, &t.to] {
            let k = a.to_key();
            v.push(u8::try_from(k.len()).unwrap_or(u8::MAX));
            v.extend_from_slice(&k[..k.len().min(255)]);
        }
        v
    }

    pub(crate) fn decode(key: &TransferKey, b: &[u8]) -> Option<Transfer> {
        let mut r = Reader(b);
        let tx = Hash32(r.take(32)?.try_into().ok()?);
        let time = u64::from_be_bytes(r.take(8)?.try_into().ok()?);
        let asset = match r.take(1)?[0] {
            0 => Asset::Native,
            1 => Asset::Token(r.take(20)?.try_into().ok()?),
            2 => Asset::TronToken(r.take(20)?.try_into().ok()?),
            3 => Asset::Trc10(u64::from_be_bytes(r.take(8)?.try_into().ok()?)),
            _ => return None,
        };
        let n = r.take(1)?[0] as usize;
        if n > 32 {
            return None;
        }
        let mut amount = [0u8; 32];
        amount[32 - n..].copy_from_slice(r.take(n)?);
        let from_len = r.take(1)?[0] as usize;
        let from = Address::from_key(r.take(from_len)?)?;
        let to_len = r.take(1)?[0] as usize;
        let to = Address::from_key(r.take(to_len)?)?;
        if !r.0.is_empty() {
            return None;
        }
        Some(Transfer {
            tx,
            height: key.height,
            pos: key.pos,
            time,
            from,
            to,
            asset,
            amount: U256::from_be_bytes(amount),
        })
    }

    /// This transfer's contribution to the order-independent digest.
    pub(crate) fn digest_term(key: &TransferKey, row: &[u8]) -> U256 {
        let mut h = Sha256::new();
        h.update(key.height.to_be_bytes());
        h.update(key.pos.tx_index.to_be_bytes());
        h.update(key.pos.sub.to_be_bytes());
        h.update(row);
        U256::from_be_bytes::<32>(h.finalize().into())
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
}

/// `blocks` value.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct BlockRow {
    pub(crate) hash: Hash32,
    pub(crate) parent: Hash32,
    pub(crate) time: u64,
    pub(crate) tx_count: u32,
    pub(crate) transfers: u32,
    /// Transactions whose outputs/spends this block stored (Bitcoin), so a rollback finds them.
    pub(crate) utxo_txids: Vec<Hash32>,
    /// EVM: the block's internal (trace) transfers were not read (`BlockData::internal_missing`).
    /// A trailing field: rows written before it existed lack the byte (see [`BlockRow::decode`]).
    pub(crate) internal_missing: bool,
}

/// A `blocks` value as written before `internal_missing` existed.
#[derive(Deserialize)]
struct BlockRowV2 {
    hash: Hash32,
    parent: Hash32,
    time: u64,
    tx_count: u32,
    transfers: u32,
    utxo_txids: Vec<Hash32>,
}

impl BlockRow {
    /// Decode a block row, current or older. bincode fails on the missing trailing byte of an
    /// older row (no misreading), and [`decode`] ignores trailing bytes, so older binaries read
    /// newer rows too.
    pub(crate) fn decode(b: &[u8]) -> Option<BlockRow> {
        decode::<BlockRow>(b).or_else(|| {
            let o = decode::<BlockRowV2>(b)?;
            Some(BlockRow {
                hash: o.hash,
                parent: o.parent,
                time: o.time,
                tx_count: o.tx_count,
                transfers: o.transfers,
                utxo_txids: o.utxo_txids,
                internal_missing: false,
            })
        })
    }
}

/// Per-chain bookkeeping in `meta` (`chain/<name>`), updated in the same batch as the blocks.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ChainStateRow {
    pub(crate) no: ChainNo,
    pub(crate) tip: Option<TipRow>,
    pub(crate) blocks: u64,
    pub(crate) transfers: u64,
    pub(crate) addresses: u64,
    /// Sum (mod 2^256) of the digest terms of every stored transfer.
    pub(crate) digest_acc: [u8; 32],
    /// Some data was stored with `put_unlinked`: linked ingest must check for existing rows.
    pub(crate) has_unlinked: bool,
    /// Stored blocks whose `internal_missing` flag is set. A trailing field, like
    /// `BlockRow::internal_missing` (see [`ChainStateRow::decode`]).
    pub(crate) internal_missing_blocks: u64,
    /// Stored flow rows (conversions, bridge events, price points). A trailing field too.
    pub(crate) flows: FlowCounts,
}

/// How many rows of each flow kind a chain holds (part of its checkpoint).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FlowCounts {
    pub(crate) conversions: u64,
    pub(crate) bridge_events: u64,
    pub(crate) price_points: u64,
}

/// A chain-state row as written before `flows` existed.
#[derive(Deserialize)]
struct ChainStateRowV3 {
    no: ChainNo,
    tip: Option<TipRow>,
    blocks: u64,
    transfers: u64,
    addresses: u64,
    digest_acc: [u8; 32],
    has_unlinked: bool,
    internal_missing_blocks: u64,
}

/// A chain-state row as written before `internal_missing_blocks` existed.
#[derive(Deserialize)]
struct ChainStateRowV2 {
    no: ChainNo,
    tip: Option<TipRow>,
    blocks: u64,
    transfers: u64,
    addresses: u64,
    digest_acc: [u8; 32],
    has_unlinked: bool,
}

impl ChainStateRow {
    /// Decode a chain-state row, current or older (the rule of [`BlockRow::decode`]).
    pub(crate) fn decode(b: &[u8]) -> Option<ChainStateRow> {
        decode::<ChainStateRow>(b)
            .or_else(|| {
                let o = decode::<ChainStateRowV3>(b)?;
                Some(ChainStateRow {
                    no: o.no,
                    tip: o.tip,
                    blocks: o.blocks,
                    transfers: o.transfers,
                    addresses: o.addresses,
                    digest_acc: o.digest_acc,
                    has_unlinked: o.has_unlinked,
                    internal_missing_blocks: o.internal_missing_blocks,
                    flows: FlowCounts::default(),
                })
            })
            .or_else(|| {
                let o = decode::<ChainStateRowV2>(b)?;
                Some(ChainStateRow {
                    no: o.no,
                    tip: o.tip,
                    blocks: o.blocks,
                    transfers: o.transfers,
                    addresses: o.addresses,
                    digest_acc: o.digest_acc,
                    has_unlinked: o.has_unlinked,
                    internal_missing_blocks: 0,
                    flows: FlowCounts::default(),
                })
            })
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct TipRow {
    pub(crate) height: u64,
    pub(crate) hash: Hash32,
    pub(crate) time: u64,
}

/// `outputs` value.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct OutputRow {
    pub(crate) address: Option<Vec<u8>>,
    pub(crate) value: u64,
}

impl OutputRow {
    pub(crate) fn from_output(o: &UtxoOutput) -> Self {
        OutputRow { address: o.address.as_ref().map(Address::to_key), value: o.value }
    }

    pub(crate) fn into_output(self, txid: Hash32, vout: u32) -> Option<UtxoOutput> {
        let address = match self.address {
            Some(k) => Some(Address::from_key(&k)?),
            None => None,
        };
        Some(UtxoOutput { txid, vout, address, value: self.value })
    }
}

/// `spends` value (keyed by the spending input) and `spent_by` value (keyed by the output).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct OutpointRow {
    pub(crate) txid: Hash32,
    pub(crate) index: u32,
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    bincode::serialize(v).expect("bincode serialisation of plain structs cannot fail")
}

pub(crate) fn decode<'a, T: Deserialize<'a>>(b: &'a [u8]) -> Option<T> {
    bincode::deserialize(b).ok()
}

/// `degree` value: transfers out and in of one address, as two little-endian i64. Written only
/// through the merge operator [`degree_merge`] with deltas (+1 on apply, -1 on rollback), so
/// ingest never reads it.
pub(crate) fn degree_delta(out: i64, inn: i64) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&out.to_le_bytes());
    v[8..].copy_from_slice(&inn.to_le_bytes());
    v
}

pub(crate) fn degree_decode(v: &[u8]) -> (i64, i64) {
    let get = |r: std::ops::Range<usize>| v.get(r).and_then(|b| b.try_into().ok()).map_or(0, i64::from_le_bytes);
    (get(0..8), get(8..16))
}

/// Associative merge of `degree` deltas: element-wise sum.
pub(crate) fn degree_merge(_key: &[u8], existing: Option<&[u8]>, operands: &rocksdb::MergeOperands) -> Option<Vec<u8>> {
    let (mut out, mut inn) = existing.map_or((0, 0), degree_decode);
    for op in operands.iter() {
        let (o, i) = degree_decode(op);
        out = out.wrapping_add(o);
        inn = inn.wrapping_add(i);
    }
    Some(degree_delta(out, inn).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaintrace_model::Position;
    use proptest::prelude::*;

    fn position(tx_index: u32, sub: u32) -> Position {
        Position { tx_index, sub }
    }

    /// The byte layout of rows written before the trailing flags existed: older stores must
    /// read unchanged, and a current row must not be misread as an older one.
    #[test]
    fn older_block_and_chain_state_rows_still_decode() {
        #[derive(Serialize)]
        struct OldBlock(Hash32, Hash32, u64, u32, u32, Vec<Hash32>);
        let old = encode(&OldBlock(Hash32([1; 32]), Hash32([2; 32]), 77, 3, 5, vec![Hash32([9; 32])]));
        let row = BlockRow::decode(&old).expect("an older block row decodes");
        assert_eq!((row.time, row.tx_count, row.transfers, row.internal_missing), (77, 3, 5, false));
        assert_eq!(row.utxo_txids, vec![Hash32([9; 32])]);
        let mut new = row.clone();
        new.internal_missing = true;
        let back = BlockRow::decode(&encode(&new)).expect("a current row decodes");
        assert!(back.internal_missing && back.transfers == 5);

        #[derive(Serialize)]
        struct OldState(ChainNo, Option<TipRow>, u64, u64, u64, [u8; 32], bool);
        let tip = TipRow { height: 4, hash: Hash32([3; 32]), time: 8 };
        let old = encode(&OldState(2, Some(tip), 5, 6, 7, [4; 32], true));
        let st = ChainStateRow::decode(&old).expect("an older chain-state row decodes");
        assert_eq!((st.no, st.blocks, st.transfers, st.addresses, st.has_unlinked), (2, 5, 6, 7, true));
        assert_eq!(st.internal_missing_blocks, 0);
        let mut new = st.clone();
        new.internal_missing_blocks = 3;
        assert_eq!(ChainStateRow::decode(&encode(&new)).map(|s| s.internal_missing_blocks), Some(3));

        // Written before the flow counts existed: reads as no flows.
        #[derive(Serialize)]
        struct StateV3(ChainNo, Option<TipRow>, u64, u64, u64, [u8; 32], bool, u64);
        let v3 = encode(&StateV3(2, Some(tip), 5, 6, 7, [4; 32], false, 9));
        let st = ChainStateRow::decode(&v3).expect("a version-3 chain-state row decodes");
        assert_eq!((st.internal_missing_blocks, st.flows), (9, FlowCounts::default()));
        let mut new = st.clone();
        new.flows.price_points = 11;
        assert_eq!(ChainStateRow::decode(&encode(&new)).map(|s| s.flows.price_points), Some(11));
    }

    proptest! {
        #[test]
        fn transfer_rows_round_trip(
            tx in any::<[u8; 32]>(), time in any::<u64>(), token in proptest::option::of(any::<[u8; 20]>()),
            limbs in any::<[u64; 4]>(), from in any::<[u8; 20]>(), to in "[a-z0-9]{1,62}",
            height in any::<u64>(), ti in any::<u32>(), sub in any::<u32>(), kind in 0u8..3,
        ) {
            let t = Transfer {
                tx: Hash32(tx), height, pos: position(ti, sub), time,
                from: if kind == 1 { Address::Tron(from) } else { Address::Evm(from) }, to: Address::Bitcoin(to),
                asset: match (kind, token) {
                    (_, None) => Asset::Native,
                    (0, Some(c)) => Asset::Token(c),
                    (1, Some(c)) => Asset::TronToken(c),
                    (_, Some(c)) => Asset::Trc10(u64::from_be_bytes(c[..8].try_into().unwrap())),
                },
                amount: U256::from_limbs(limbs),
            };
            let key = TransferKey { chain: 7, height, pos: t.pos };
            prop_assert_eq!(TransferRow::decode(&key, &TransferRow::encode(&t)), Some(t));
        }
    }
}
