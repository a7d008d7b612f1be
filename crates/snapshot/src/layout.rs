//! The byte layout shared by the builder and the reader (`docs/snapshot.md`).

use chaintrace_model::{Asset, U256};

/// First bytes of every snapshot file.
pub(crate) const MAGIC: &[u8; 8] = b"CTSNAP\0\0";
/// Fixed header size; sections follow, each 64-byte aligned (an address's entry is then one
/// cache line's half, never split across two).
pub(crate) const HEADER_LEN: usize = 256;
/// One transfer record in an address's list.
pub(crate) const REC_LEN: usize = 44;
/// One address's entry: where its lists start, their lengths and its last send
/// ([`Entry`]).
pub(crate) const ENTRY_LEN: usize = 32;
/// Header offset of the key width: every address key's length when they are all equal (an
/// EVM or TRON chain: 21 bytes), so key `i` is `keys[w*i..w*(i+1)]` without the offsets; `0`
/// when they differ (Bitcoin).
pub(crate) const KEY_WIDTH_AT: usize = 80;
/// One asset table entry: a tag byte and its payload.
pub(crate) const ASSET_LEN: usize = 32;
/// One transfer of the chain-order stream: sender id, receiver id, asset word (the asset index
/// or-ed with [`FLAG_ZERO`]).
pub(crate) const CHAIN_LEN: usize = 12;
/// One block of the chain-order stream: height u32, time u32, index of its first transfer u64.
pub(crate) const BLOCK_LEN: usize = 16;
/// Header offset of the number of blocks in the chain-order stream.
pub(crate) const BLOCKS_AT: usize = 88;
/// Chain-order flag (the top bit of the asset word): the transfer moved nothing.
pub(crate) const FLAG_ZERO: u32 = 1 << 31;
/// Record flag (the top bit of the record's asset word): `amount_lo` is an index into the
/// big-amount table.
pub(crate) const FLAG_BIG: u32 = 1 << 31;

/// The id of address number `n` (from 0): ids are `u32`, `u32::MAX` kept free.
pub(crate) fn address_id(n: u64) -> Result<u32, String> {
    u32::try_from(n).ok().filter(|id| *id < u32::MAX).ok_or_else(|| "more than 4,294,967,294 addresses".into())
}

/// The ordinal of transaction number `n` (from 0).
pub(crate) fn tx_ordinal(n: u64) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| "more than 4,294,967,295 transactions".into())
}

/// The index of asset number `n` (from 0): below [`FLAG_BIG`], the record's flag bit.
pub(crate) fn asset_index(n: usize) -> Result<u32, String> {
    u32::try_from(n).ok().filter(|a| *a < FLAG_BIG).ok_or_else(|| "more than 2^31 assets".into())
}

/// A transfer's height and time as a record holds them (32 bits each).
pub(crate) fn height_and_time(height: u64, time: u64) -> Result<(u32, u32), String> {
    match (u32::try_from(height), u32::try_from(time)) {
        (Ok(h), Ok(t)) => Ok((h, t)),
        _ => Err(format!(
            "transfer at height {height} time {time} is past what the snapshot format holds (heights and times below 2^32)"
        )),
    }
}

/// Whether `amount` goes to the big-amount table (2^128 or more): a record holds 128 bits.
pub(crate) fn is_big(amount: &U256) -> bool {
    let limbs = amount.as_limbs();
    limbs[2] != 0 || limbs[3] != 0
}

/// The counts that determine every section's place.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) addrs: u64,
    pub(crate) transfers: u64,
    pub(crate) txs: u64,
    pub(crate) assets: u64,
    pub(crate) bigs: u64,
    pub(crate) hash_cap: u64,
    pub(crate) blob_len: u64,
    pub(crate) meta_len: u64,
    /// Runs of transfers sharing a height and time in the chain-order stream.
    pub(crate) blocks: u64,
}

/// Byte offsets of the sections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) addr_off: usize,
    pub(crate) blob: usize,
    pub(crate) hash: usize,
    /// Per id its [`Entry`] ([`ENTRY_LEN`] bytes): its sends, then its receipts, are records
    /// `start..start + n_out + n_in` (one read gets both), and the chain order of its last send.
    pub(crate) entries: usize,
    /// The records, `2 * transfers`: per id its sends, then its receipts.
    pub(crate) recs: usize,
    pub(crate) tx: usize,
    pub(crate) assets: usize,
    pub(crate) big: usize,
    /// The transfers once more, in chain order ([`CHAIN_LEN`] bytes each): a walk over the
    /// whole chain in time order reads them in one sequential pass.
    pub(crate) chain: usize,
    /// The stream's blocks ([`BLOCK_LEN`] bytes each), in chain order.
    pub(crate) blocks: usize,
    pub(crate) meta: usize,
    pub(crate) end: usize,
}

fn align64(x: u128) -> u128 {
    x.div_ceil(64) * 64
}

impl Layout {
    /// Where each section goes; `None` when the sizes overflow the address space.
    pub(crate) fn of(c: &Counts) -> Option<Layout> {
        let c128 = |v: u64| u128::from(v);
        let mut at: u128 = HEADER_LEN as u128;
        let mut next = |len: u128| -> u128 {
            let start = at;
            at = align64(at + len);
            start
        };
        let addr_off = next((c128(c.addrs) + 1) * 8);
        let blob = next(c128(c.blob_len));
        let hash = next(c128(c.hash_cap) * 4);
        let entries = next(c128(c.addrs) * ENTRY_LEN as u128);
        let recs = next(2 * c128(c.transfers) * REC_LEN as u128);
        let tx = next(c128(c.txs) * 32);
        let assets = next(c128(c.assets) * ASSET_LEN as u128);
        let big = next(c128(c.bigs) * 32);
        let chain = next(c128(c.transfers) * CHAIN_LEN as u128);
        let blocks = next(c128(c.blocks) * BLOCK_LEN as u128);
        let meta = next(c128(c.meta_len));
        let end = next(0);
        let u = |v: u128| usize::try_from(v).ok();
        Some(Layout {
            addr_off: u(addr_off)?,
            blob: u(blob)?,
            hash: u(hash)?,
            entries: u(entries)?,
            recs: u(recs)?,
            tx: u(tx)?,
            assets: u(assets)?,
            big: u(big)?,
            chain: u(chain)?,
            blocks: u(blocks)?,
            meta: u(meta)?,
            end: u(end)?,
        })
    }
}

/// Header fields after the magic and version, as `u64`s at `16 + 8 * i`.
pub(crate) fn header_fields(c: &Counts) -> [u64; 8] {
    [c.addrs, c.transfers, c.txs, c.assets, c.bigs, c.hash_cap, c.blob_len, c.meta_len]
}

/// The counts of the header at the start of `b` (at least [`HEADER_LEN`] bytes): the fields
/// [`header_fields`] wrote.
pub(crate) fn counts_in(b: &[u8]) -> Counts {
    let [addrs, transfers, txs, assets, bigs, hash_cap, blob_len, meta_len] =
        std::array::from_fn(|i| u64_at(b, 16 + 8 * i));
    Counts { addrs, transfers, txs, assets, bigs, hash_cap, blob_len, meta_len, blocks: u64_at(b, BLOCKS_AT) }
}

/// One transfer of the chain-order stream, encoded.
pub(crate) fn encode_chain(from: u32, to: u32, asset: u32, moved: bool) -> [u8; CHAIN_LEN] {
    let mut b = [0u8; CHAIN_LEN];
    b[0..4].copy_from_slice(&from.to_le_bytes());
    b[4..8].copy_from_slice(&to.to_le_bytes());
    b[8..12].copy_from_slice(&(asset | if moved { 0 } else { FLAG_ZERO }).to_le_bytes());
    b
}

/// One block of the chain-order stream, encoded.
pub(crate) fn encode_block(height: u32, time: u32, first: u64) -> [u8; BLOCK_LEN] {
    let mut b = [0u8; BLOCK_LEN];
    b[0..4].copy_from_slice(&height.to_le_bytes());
    b[4..8].copy_from_slice(&time.to_le_bytes());
    b[8..16].copy_from_slice(&first.to_le_bytes());
    b
}

/// A transfer as one address's list holds it: the other side is `other`. Heights and times
/// are stored in 32 bits (the builder refuses a chain past them: 4.29 billion blocks, the year
/// 2106).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Rec {
    pub(crate) amount_lo: u64,
    pub(crate) amount_hi: u64,
    pub(crate) height: u32,
    pub(crate) time: u32,
    pub(crate) tx_index: u32,
    pub(crate) sub: u32,
    pub(crate) tx: u32,
    pub(crate) other: u32,
    /// Asset index (below `FLAG_BIG`), or-ed with [`FLAG_BIG`].
    pub(crate) asset: u32,
}

/// One address's entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Index of its first record (its sends, then its receipts).
    pub(crate) start: u64,
    pub(crate) n_out: u32,
    pub(crate) n_in: u32,
    /// Chain order of its last send `(height, tx_index, sub)`; zeros when it sent nothing.
    pub(crate) last: (u32, u32, u32),
}

impl Entry {
    pub(crate) fn encode(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.start.to_le_bytes());
        out[8..12].copy_from_slice(&self.n_out.to_le_bytes());
        out[12..16].copy_from_slice(&self.n_in.to_le_bytes());
        out[16..20].copy_from_slice(&self.last.0.to_le_bytes());
        out[20..24].copy_from_slice(&self.last.1.to_le_bytes());
        out[24..28].copy_from_slice(&self.last.2.to_le_bytes());
        out[28..32].copy_from_slice(&[0; 4]);
    }

    /// `b` is exactly [`ENTRY_LEN`] bytes.
    #[inline]
    pub(crate) fn decode(b: &[u8]) -> Entry {
        Entry {
            start: u64_at(b, 0),
            n_out: u32_at(b, 8),
            n_in: u32_at(b, 12),
            last: (u32_at(b, 16), u32_at(b, 20), u32_at(b, 24)),
        }
    }
}

#[inline]
pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

#[inline]
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

impl Rec {
    pub(crate) fn encode(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.amount_lo.to_le_bytes());
        out[8..16].copy_from_slice(&self.amount_hi.to_le_bytes());
        out[16..20].copy_from_slice(&self.height.to_le_bytes());
        out[20..24].copy_from_slice(&self.time.to_le_bytes());
        out[24..28].copy_from_slice(&self.tx_index.to_le_bytes());
        out[28..32].copy_from_slice(&self.sub.to_le_bytes());
        out[32..36].copy_from_slice(&self.tx.to_le_bytes());
        out[36..40].copy_from_slice(&self.other.to_le_bytes());
        out[40..44].copy_from_slice(&self.asset.to_le_bytes());
    }

    /// `b` is exactly [`REC_LEN`] bytes.
    #[inline]
    pub(crate) fn decode(b: &[u8]) -> Rec {
        Rec {
            amount_lo: u64_at(b, 0),
            amount_hi: u64_at(b, 8),
            height: u32_at(b, 16),
            time: u32_at(b, 20),
            tx_index: u32_at(b, 24),
            sub: u32_at(b, 28),
            tx: u32_at(b, 32),
            other: u32_at(b, 36),
            asset: u32_at(b, 40),
        }
    }

    /// Its asset index (without the flag).
    #[inline]
    pub(crate) fn asset_index(&self) -> u32 {
        self.asset & !FLAG_BIG
    }

    /// Whether the amount is above zero.
    #[inline]
    pub(crate) fn moved(&self) -> bool {
        self.is_big() || self.amount_lo != 0 || self.amount_hi != 0
    }

    /// Whether `amount_lo` indexes the big-amount table.
    #[inline]
    pub(crate) fn is_big(&self) -> bool {
        self.asset & FLAG_BIG != 0
    }

    /// The chain-order key of the record at the start of `b`.
    #[inline]
    pub(crate) fn order_of(b: &[u8]) -> (u64, u32, u32) {
        (u64::from(u32_at(b, 16)), u32_at(b, 24), u32_at(b, 28))
    }
}

/// A stable hash of an address key (FNV-1a, then a mixing step): the table's slots must be the
/// same in every process, so no per-process random state.
#[inline]
pub(crate) fn hash_key(k: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in k {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

pub(crate) fn encode_asset(a: &Asset) -> [u8; ASSET_LEN] {
    let mut out = [0u8; ASSET_LEN];
    match a {
        Asset::Native => out[0] = 0,
        Asset::Token(c) => {
            out[0] = 1;
            out[1..21].copy_from_slice(c);
        }
        Asset::TronToken(c) => {
            out[0] = 2;
            out[1..21].copy_from_slice(c);
        }
        Asset::Trc10(id) => {
            out[0] = 3;
            out[1..9].copy_from_slice(&id.to_le_bytes());
        }
    }
    out
}

pub(crate) fn decode_asset(b: &[u8]) -> Option<Asset> {
    let contract = || -> Option<[u8; 20]> { b.get(1..21)?.try_into().ok() };
    match b.first()? {
        0 => Some(Asset::Native),
        1 => Some(Asset::Token(contract()?)),
        2 => Some(Asset::TronToken(contract()?)),
        3 => Some(Asset::Trc10(u64::from_le_bytes(b.get(1..9)?.try_into().ok()?))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_assets_round_trip() {
        let r = Rec {
            amount_lo: 1,
            amount_hi: 2,
            height: 3,
            time: 4,
            tx_index: 5,
            sub: 6,
            tx: 7,
            other: 8,
            asset: 9 | FLAG_BIG,
        };
        let mut b = [0u8; REC_LEN];
        r.encode(&mut b);
        assert_eq!(Rec::decode(&b), r);
        assert_eq!(Rec::order_of(&b), (3, 5, 6));
        let e = Entry { start: 1 << 40, n_out: 2, n_in: 3, last: (4, 5, 6) };
        let mut b = [0u8; ENTRY_LEN];
        e.encode(&mut b);
        assert_eq!(Entry::decode(&b), e);
        for a in [Asset::Native, Asset::Token([7; 20]), Asset::TronToken([9; 20]), Asset::Trc10(1_000_001)] {
            assert_eq!(decode_asset(&encode_asset(&a)), Some(a));
        }
    }

    #[test]
    fn sections_are_aligned_and_ordered() {
        let c = Counts {
            addrs: 3,
            transfers: 5,
            txs: 4,
            assets: 1,
            bigs: 1,
            hash_cap: 8,
            blob_len: 63,
            meta_len: 10,
            blocks: 2,
        };
        let l = Layout::of(&c).expect("fits");
        let all =
            [l.addr_off, l.blob, l.hash, l.entries, l.recs, l.tx, l.assets, l.big, l.chain, l.blocks, l.meta, l.end];
        assert!(all.windows(2).all(|w| w[0] <= w[1]));
        assert!(all.iter().all(|o| o % 64 == 0));
        assert_eq!(l.hash - l.blob, 64);
        assert_eq!(l.recs - l.entries, 3 * ENTRY_LEN + 32);
    }
}
