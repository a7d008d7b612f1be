//! The byte layout shared by the builder and the reader (`docs/snapshot.md`).

use chaintrace_model::Asset;

/// First bytes of every snapshot file.
pub(crate) const MAGIC: &[u8; 8] = b"CTSNAP\0\0";
/// Fixed header size; sections follow, each 8-byte aligned.
pub(crate) const HEADER_LEN: usize = 256;
/// One transfer record in an address's list.
pub(crate) const REC_LEN: usize = 56;
/// One entry of the last-send table: height (`u64`), transaction index and position (`u32`s).
pub(crate) const TAIL_LEN: usize = 16;
/// One asset table entry: a tag byte and its payload.
pub(crate) const ASSET_LEN: usize = 32;
/// Record flag: `amount_lo` is an index into the big-amount table.
pub(crate) const FLAG_BIG: u32 = 1;

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
}

/// Byte offsets of the sections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) addr_off: usize,
    pub(crate) blob: usize,
    pub(crate) hash: usize,
    /// `2 * addrs + 1` record indices: id `i`'s sends are `[2i]..[2i+1]`, its receipts
    /// `[2i+1]..[2i+2]` (one read gets both).
    pub(crate) lists_off: usize,
    /// The records, `2 * transfers`: per id its sends, then its receipts.
    pub(crate) recs: usize,
    /// Per id, the chain order of its last send ([`TAIL_LEN`] bytes; zeros when it sent nothing).
    pub(crate) tail: usize,
    pub(crate) tx: usize,
    pub(crate) assets: usize,
    pub(crate) big: usize,
    pub(crate) meta: usize,
    pub(crate) end: usize,
}

fn align8(x: u128) -> u128 {
    x.div_ceil(8) * 8
}

impl Layout {
    /// Where each section goes; `None` when the sizes overflow the address space.
    pub(crate) fn of(c: &Counts) -> Option<Layout> {
        let c128 = |v: u64| u128::from(v);
        let mut at: u128 = HEADER_LEN as u128;
        let mut next = |len: u128| -> u128 {
            let start = at;
            at = align8(at + len);
            start
        };
        let addr_off = next((c128(c.addrs) + 1) * 8);
        let blob = next(c128(c.blob_len));
        let hash = next(c128(c.hash_cap) * 4);
        let lists_off = next((2 * c128(c.addrs) + 1) * 8);
        let recs = next(2 * c128(c.transfers) * REC_LEN as u128);
        let tail = next(c128(c.addrs) * TAIL_LEN as u128);
        let tx = next(c128(c.txs) * 32);
        let assets = next(c128(c.assets) * ASSET_LEN as u128);
        let big = next(c128(c.bigs) * 32);
        let meta = next(c128(c.meta_len));
        let end = next(0);
        let u = |v: u128| usize::try_from(v).ok();
        Some(Layout {
            addr_off: u(addr_off)?,
            blob: u(blob)?,
            hash: u(hash)?,
            lists_off: u(lists_off)?,
            recs: u(recs)?,
            tail: u(tail)?,
            tx: u(tx)?,
            assets: u(assets)?,
            big: u(big)?,
            meta: u(meta)?,
            end: u(end)?,
        })
    }
}

/// Header fields after the magic and version, as `u64`s at `16 + 8 * i`.
pub(crate) fn header_fields(c: &Counts) -> [u64; 8] {
    [c.addrs, c.transfers, c.txs, c.assets, c.bigs, c.hash_cap, c.blob_len, c.meta_len]
}

pub(crate) fn counts_from(fields: [u64; 8]) -> Counts {
    let [addrs, transfers, txs, assets, bigs, hash_cap, blob_len, meta_len] = fields;
    Counts { addrs, transfers, txs, assets, bigs, hash_cap, blob_len, meta_len }
}

/// A transfer as one address's list holds it: the other side is `other`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Rec {
    pub(crate) amount_lo: u64,
    pub(crate) amount_hi: u64,
    pub(crate) height: u64,
    pub(crate) time: u64,
    pub(crate) tx_index: u32,
    pub(crate) sub: u32,
    pub(crate) tx: u32,
    pub(crate) other: u32,
    pub(crate) asset: u32,
    pub(crate) flags: u32,
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
        out[16..24].copy_from_slice(&self.height.to_le_bytes());
        out[24..32].copy_from_slice(&self.time.to_le_bytes());
        out[32..36].copy_from_slice(&self.tx_index.to_le_bytes());
        out[36..40].copy_from_slice(&self.sub.to_le_bytes());
        out[40..44].copy_from_slice(&self.tx.to_le_bytes());
        out[44..48].copy_from_slice(&self.other.to_le_bytes());
        out[48..52].copy_from_slice(&self.asset.to_le_bytes());
        out[52..56].copy_from_slice(&self.flags.to_le_bytes());
    }

    /// `b` is exactly [`REC_LEN`] bytes.
    #[inline]
    pub(crate) fn decode(b: &[u8]) -> Rec {
        Rec {
            amount_lo: u64_at(b, 0),
            amount_hi: u64_at(b, 8),
            height: u64_at(b, 16),
            time: u64_at(b, 24),
            tx_index: u32_at(b, 32),
            sub: u32_at(b, 36),
            tx: u32_at(b, 40),
            other: u32_at(b, 44),
            asset: u32_at(b, 48),
            flags: u32_at(b, 52),
        }
    }

    /// The chain-order key of the record at the start of `b`.
    #[inline]
    pub(crate) fn order_of(b: &[u8]) -> (u64, u32, u32) {
        (u64_at(b, 16), u32_at(b, 32), u32_at(b, 36))
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
            asset: 9,
            flags: FLAG_BIG,
        };
        let mut b = [0u8; REC_LEN];
        r.encode(&mut b);
        assert_eq!(Rec::decode(&b), r);
        assert_eq!(Rec::order_of(&b), (3, 5, 6));
        for a in [Asset::Native, Asset::Token([7; 20]), Asset::TronToken([9; 20]), Asset::Trc10(1_000_001)] {
            assert_eq!(decode_asset(&encode_asset(&a)), Some(a));
        }
    }

    #[test]
    fn sections_are_aligned_and_ordered() {
        let c = Counts { addrs: 3, transfers: 5, txs: 4, assets: 1, bigs: 1, hash_cap: 8, blob_len: 63, meta_len: 10 };
        let l = Layout::of(&c).expect("fits");
        let all = [l.addr_off, l.blob, l.hash, l.lists_off, l.recs, l.tail, l.tx, l.assets, l.big, l.meta, l.end];
        assert!(all.windows(2).all(|w| w[0] <= w[1]));
        assert!(all.iter().all(|o| o % 8 == 0));
        assert_eq!(l.hash - l.blob, 64);
    }
}
