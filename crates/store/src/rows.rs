//! Value encodings. Transfer rows are hand-encoded (compact, canonical: the digest hashes
//! them); the small bookkeeping rows use bincode.

use chaintrace_model::{Address, Asset, Hash32, Transfer, UtxoOutput, U256};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::keys::{ChainNo, TransferKey};

/// `transfers` value: tx ‖ time ‖ asset ‖ amount ‖ from ‖ to.
pub(crate) struct TransferRow;

impl TransferRow {
    #[cfg(test)]
    pub(crate) fn encode(t: &Transfer) -> Vec<u8> {
        let mut v = Vec::new();
        Self::encode_into(t, &t.from.to_key(), &t.to.to_key(), &mut v);
        v
    }

    /// A transfer's row, given the address keys (`Address::to_key` of `t.from` and `t.to`),
    /// into `v` (cleared first), whose buffer the caller keeps between rows.
    pub(crate) fn encode_into(t: &Transfer, from_key: &[u8], to_key: &[u8], v: &mut Vec<u8>) {
        v.clear();
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
        for k in [from_key, to_key] {
            v.push(u8::try_from(k.len()).unwrap_or(u8::MAX));
            v.extend_from_slice(&k[..k.len().min(255)]);
        }
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
///
/// Written as [`ROW_TAG_RAW`] ‖ bincode of [`BlockRowRaw`] (hashes as 32 raw bytes). Rows
/// written before that tag existed are bincode of this struct with each hash as a 64-digit hex
/// string, which always starts with the string's length (64, the byte `0x40`): both read.
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

/// First byte of the row encodings with raw 32-byte hashes (block, spend and output rows).
/// The older bincode encodings start with `0x40` (a hash string's length, block and spend
/// rows) or `0`/`1` (an `Option` tag, output rows), never with it.
pub(crate) const ROW_TAG_RAW: u8 = 0x02;

/// A `blocks` value after [`ROW_TAG_RAW`]: [`BlockRow`] with raw hashes.
#[derive(Serialize, Deserialize)]
struct BlockRowRaw {
    hash: [u8; 32],
    parent: [u8; 32],
    time: u64,
    tx_count: u32,
    transfers: u32,
    utxo_txids: Vec<[u8; 32]>,
    internal_missing: bool,
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
    /// The row's bytes: [`ROW_TAG_RAW`] ‖ bincode with raw hashes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let raw = BlockRowRaw {
            hash: self.hash.0,
            parent: self.parent.0,
            time: self.time,
            tx_count: self.tx_count,
            transfers: self.transfers,
            utxo_txids: self.utxo_txids.iter().map(|h| h.0).collect(),
            internal_missing: self.internal_missing,
        };
        let mut v = Vec::with_capacity(1 + 64 + 24 + 32 * raw.utxo_txids.len() + 1);
        v.push(ROW_TAG_RAW);
        v.extend_from_slice(&encode(&raw));
        v
    }

    /// Decode a block row, current or older. bincode fails on the missing trailing byte of an
    /// older row (no misreading), and [`decode`] ignores trailing bytes, so older binaries read
    /// newer rows too.
    pub(crate) fn decode(b: &[u8]) -> Option<BlockRow> {
        if let Some(rest) = b.strip_prefix(&[ROW_TAG_RAW]) {
            let r = decode::<BlockRowRaw>(rest)?;
            return Some(BlockRow {
                hash: Hash32(r.hash),
                parent: Hash32(r.parent),
                time: r.time,
                tx_count: r.tx_count,
                transfers: r.transfers,
                utxo_txids: r.utxo_txids.into_iter().map(Hash32).collect(),
                internal_missing: r.internal_missing,
            });
        }
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

/// `outputs` value: [`ROW_TAG_RAW`] ‖ value u64 BE ‖ address key (none for OP_RETURN; an
/// address key is never empty). Rows written before the tag are bincode of this struct.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct OutputRow {
    pub(crate) address: Option<Vec<u8>>,
    pub(crate) value: u64,
}

impl OutputRow {
    /// The row's bytes for `o`, without building the struct.
    pub(crate) fn encode_output(o: &UtxoOutput) -> Vec<u8> {
        let key = o.address.as_ref().map(Address::to_key);
        let mut v = Vec::with_capacity(9 + key.as_ref().map_or(0, Vec::len));
        v.push(ROW_TAG_RAW);
        v.extend_from_slice(&o.value.to_be_bytes());
        if let Some(k) = key {
            v.extend_from_slice(&k);
        }
        v
    }

    /// Decode an output row, current or older.
    pub(crate) fn decode(b: &[u8]) -> Option<OutputRow> {
        match b.split_first() {
            Some((&ROW_TAG_RAW, rest)) => {
                let value = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
                let key = &rest[8..];
                Some(OutputRow { address: (!key.is_empty()).then(|| key.to_vec()), value })
            }
            _ => decode::<OutputRow>(b),
        }
    }

    pub(crate) fn into_output(self, txid: Hash32, vout: u32) -> Option<UtxoOutput> {
        let address = match self.address {
            Some(k) => Some(Address::from_key(&k)?),
            None => None,
        };
        Some(UtxoOutput { txid, vout, address, value: self.value })
    }
}

/// `spends` value (keyed by the spending input) and `spent_by` value (keyed by the output):
/// [`ROW_TAG_RAW`] ‖ txid[32] ‖ index u32 BE (37 bytes). Rows written before the tag are
/// bincode of this struct (the txid as a hex string: 76 bytes starting `0x40`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct OutpointRow {
    pub(crate) txid: Hash32,
    pub(crate) index: u32,
}

impl OutpointRow {
    pub(crate) const LEN: usize = 37;

    pub(crate) fn encode(&self) -> [u8; Self::LEN] {
        let mut v = [0u8; Self::LEN];
        v[0] = ROW_TAG_RAW;
        v[1..33].copy_from_slice(&self.txid.0);
        v[33..].copy_from_slice(&self.index.to_be_bytes());
        v
    }

    /// Decode a spend or spent-by row, current or older.
    pub(crate) fn decode(b: &[u8]) -> Option<OutpointRow> {
        match b.split_first() {
            Some((&ROW_TAG_RAW, rest)) if b.len() == Self::LEN => Some(OutpointRow {
                txid: Hash32(rest[..32].try_into().ok()?),
                index: u32::from_be_bytes(rest[32..].try_into().ok()?),
            }),
            Some((&ROW_TAG_RAW, _)) => None,
            _ => decode::<OutpointRow>(b),
        }
    }
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    bincode::serialize(v).expect("bincode serialisation of plain structs cannot fail")
}

pub(crate) fn decode<'a, T: Deserialize<'a>>(b: &'a [u8]) -> Option<T> {
    bincode::deserialize(b).ok()
}

/// `degree` value: transfers out and in of one address, as two little-endian i64. Written
/// whole by the batch that numbers the address, then only through the merge operator
/// [`degree_merge`] with deltas (+1 on apply, -1 on rollback), so ingest never reads it.
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

    /// Block, spend and output rows are written with raw hashes behind [`ROW_TAG_RAW`]; rows
    /// of the older bincode encoding (hashes as hex strings) still read, to the same values.
    #[test]
    fn raw_rows_round_trip_and_older_rows_still_decode() {
        let spend = OutpointRow { txid: Hash32([0xab; 32]), index: 7 };
        let raw = spend.encode();
        assert_eq!(raw.len(), 37);
        let old = encode(&spend);
        assert_eq!((old.len(), old[0]), (76, 0x40), "the older spend row: u64 length 64, hex, index");
        for b in [&raw[..], &old[..]] {
            let d = OutpointRow::decode(b).expect("decodes");
            assert_eq!((d.txid, d.index), (spend.txid, spend.index));
        }
        assert!(OutpointRow::decode(&raw[..36]).is_none(), "a truncated row is refused");

        let addr = Address::Bitcoin("bcrt1qexample".into());
        for address in [Some(addr), None] {
            let o = UtxoOutput { txid: Hash32([1; 32]), vout: 3, address: address.clone(), value: 5_000_000_000 };
            let old = encode(&OutputRow { address: o.address.as_ref().map(Address::to_key), value: o.value });
            assert!(old[0] <= 1, "the older output row starts with an Option tag");
            for b in [OutputRow::encode_output(&o), old] {
                let back = OutputRow::decode(&b).and_then(|r| r.into_output(o.txid, o.vout));
                assert_eq!(back.as_ref(), Some(&o));
            }
        }

        let row = BlockRow {
            hash: Hash32([0x40; 32]),
            parent: Hash32([2; 32]),
            time: 9,
            tx_count: 4,
            transfers: 6,
            utxo_txids: vec![Hash32([3; 32]), Hash32([4; 32])],
            internal_missing: true,
        };
        let raw = row.encode();
        assert_eq!(raw.len(), 1 + 32 + 32 + 8 + 4 + 4 + 8 + 64 + 1);
        for b in [raw, encode(&row)] {
            let d = BlockRow::decode(&b).expect("decodes");
            assert_eq!(
                (d.hash, d.parent, d.time, d.tx_count, d.transfers, &d.utxo_txids, d.internal_missing),
                (row.hash, row.parent, 9, 4, 6, &row.utxo_txids, true)
            );
        }
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
