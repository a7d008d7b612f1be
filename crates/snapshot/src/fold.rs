//! A caught-up snapshot written as one file: what `chaintrace snapshot` does with a snapshot
//! that was caught up with a grown store, instead of reading the whole chain from the store
//! again.
//!
//! The file's records, transaction hashes and address keys are copied as they are (ids, asset
//! indices and transaction ordinals of the tail continue the file's, so nothing in them
//! changes); each address's later rows are appended to its two lists. The result is the file a
//! build from the grown store writes, byte for byte: a build numbers addresses, assets,
//! transactions and big amounts in chain order, and the tail numbered its own after the file's
//! in chain order too (checked by the tests).

use std::path::Path;

use chaintrace_model::Direction;

use crate::build::{create_mapped, put_in_place, temp_paths, write_addresses};
use crate::layout::{
    encode_asset, encode_block, encode_chain, height_and_time, is_big, u64_at, Counts, Entry, Layout, Rec, BLOCK_LEN,
    CHAIN_LEN, ENTRY_LEN, FLAG_BIG, REC_LEN,
};
use crate::{BuildStats, Snapshot, SnapshotError};

impl Snapshot {
    /// Writes this snapshot, file and later transfers together, as the snapshot file `path`
    /// (a temp file renamed into place, as a build does: an interrupted fold leaves `path` as it
    /// was). Its key is [`Snapshot::key`], the state it answers for. A snapshot that was not
    /// caught up is written again as it is.
    ///
    /// Errors: [`SnapshotError::Invalid`] for a later transfer the format cannot hold (a height
    /// or time of 2^32 or more, more than 2^32 transfers of one address in one direction),
    /// [`SnapshotError::Io`] writing, [`SnapshotError::Corrupt`] for a damaged file.
    pub fn write_folded(&self, path: &Path) -> Result<BuildStats, SnapshotError> {
        let invalid = |what: String| SnapshotError::Invalid { chain: self.key.chain.clone(), what };
        let mut key = self.key.clone();
        key.transfers = self.transfer_count();
        let meta = serde_json::to_vec(&key).map_err(|e| invalid(format!("the key does not serialize: {e}")))?;
        let tail = self.tail.as_deref();
        let new = tail.map_or(&[][..], |t| t.addresses());
        let later_txs = tail.map_or(&[][..], |t| t.tx_hashes());
        let n_addr = self.address_count();

        // the address keys: the file's, then the later ones'
        let old_blob = &self.map[self.l.blob..self.l.blob + self.c.blob_len as usize];
        let mut addr_off: Vec<u64> = Vec::with_capacity(n_addr as usize + 1);
        if self.key_width > 0 {
            addr_off.extend((0..=self.c.addrs).map(|i| i * self.key_width as u64));
        } else {
            addr_off.extend((0..=self.c.addrs as usize).map(|i| u64_at(&self.map, self.l.addr_off + 8 * i)));
        }
        if addr_off.windows(2).any(|w| w[0] > w[1]) || addr_off.last() != Some(&self.c.blob_len) {
            return Err(self.corrupt("address key bounds"));
        }
        let mut blob = old_blob.to_vec();
        for a in new {
            a.write_key(&mut blob);
            addr_off.push(blob.len() as u64);
        }

        // the later transfers' big amounts, numbered after the file's in chain order
        let bigs = tail.map_or(&[][..], |t| t.big_amounts());

        // the chain-order stream's blocks: the file's, then the later ones (a later run at the
        // file's last height and time goes on with its block, as a build would count it)
        let later_chain = tail.map_or(&[][..], |t| t.chain());
        let mut later_blocks = tail.map_or(&[][..], |t| t.blocks());
        if self.c.blocks > 0 {
            let last = self.chain_block(self.c.blocks - 1)?.0;
            if later_blocks.first().is_some_and(|(b, _)| *b == last) {
                later_blocks = &later_blocks[1..];
            }
        }
        let counts = Counts {
            addrs: n_addr,
            transfers: self.transfer_count(),
            txs: self.c.txs + later_txs.len() as u64,
            assets: self.assets.len() as u64,
            bigs: self.c.bigs + bigs.len() as u64,
            hash_cap: (n_addr * 2).next_power_of_two().max(2),
            blob_len: blob.len() as u64,
            meta_len: meta.len() as u64,
            blocks: self.c.blocks + later_blocks.len() as u64,
        };
        let l = Layout::of(&counts).ok_or_else(|| invalid("the snapshot exceeds the address space".into()))?;
        let [tmp, _, _] = temp_paths(path);
        let (file, mut m) = create_mapped(&tmp, l.end)?;
        write_addresses(&mut m, &counts, &l, &addr_off, &blob);
        drop((addr_off, blob));

        // per id: its sends (the file's, then the later ones), then its receipts, likewise
        let encode = |r: &chaintrace_model::DenseRow| -> Result<Rec, SnapshotError> {
            let (height, time) = height_and_time(r.height, r.time).map_err(invalid)?;
            let limbs = r.amount.as_limbs();
            let (amount_lo, amount_hi, big) = if is_big(&r.amount) {
                let i = bigs
                    .binary_search_by_key(&r.order(), |(at, _)| *at)
                    .map_err(|_| invalid(format!("no big amount recorded at height {}", r.height)))?;
                (self.c.bigs + i as u64, 0, FLAG_BIG)
            } else {
                (limbs[0], limbs[1], 0)
            };
            Ok(Rec {
                amount_lo,
                amount_hi,
                height,
                time,
                tx_index: r.tx_index,
                sub: r.sub,
                tx: r.tx,
                other: r.other,
                asset: r.asset | big,
            })
        };
        let mut at = 0usize;
        for id in 0..n_addr as u32 {
            let ([a, mid, b], old) = self.lists(id)?;
            let (outs, ins) = (self.later(id, Direction::Out, None), self.later(id, Direction::In, None));
            let (Ok(n_out), Ok(n_in)) = (
                u32::try_from(u64::from(old.n_out) + outs.len() as u64),
                u32::try_from(u64::from(old.n_in) + ins.len() as u64),
            ) else {
                return Err(invalid("an address with more than 2^32 transfers in one direction".into()));
            };
            let last = outs.last().map_or(old.last, |r| (r.height as u32, r.tx_index, r.sub));
            let e = Entry { start: at as u64, n_out, n_in, last };
            e.encode(&mut m[l.entries + ENTRY_LEN * id as usize..][..ENTRY_LEN]);
            for (file_list, later) in [(a..mid, outs), (mid..b, ins)] {
                let w = l.recs + REC_LEN * at;
                m[w..w + file_list.len()].copy_from_slice(&self.map[file_list.clone()]);
                at += file_list.len() / REC_LEN;
                for r in later {
                    encode(r)?.encode(&mut m[l.recs + REC_LEN * at..][..REC_LEN]);
                    at += 1;
                }
            }
        }
        let old_tx = self.c.txs as usize * 32;
        m[l.tx..l.tx + old_tx].copy_from_slice(&self.map[self.l.tx..self.l.tx + old_tx]);
        for (i, h) in later_txs.iter().enumerate() {
            m[l.tx + old_tx + 32 * i..][..32].copy_from_slice(&h.0);
        }
        for (i, a) in self.assets.iter().enumerate() {
            m[l.assets + crate::layout::ASSET_LEN * i..][..crate::layout::ASSET_LEN].copy_from_slice(&encode_asset(a));
        }
        let old_big = self.c.bigs as usize * 32;
        m[l.big..l.big + old_big].copy_from_slice(&self.map[self.l.big..self.l.big + old_big]);
        for (i, (_, amount)) in bigs.iter().enumerate() {
            m[l.big + old_big + 32 * i..][..32].copy_from_slice(&amount.to_be_bytes::<32>());
        }
        let old_chain = self.c.transfers as usize * CHAIN_LEN;
        m[l.chain..l.chain + old_chain].copy_from_slice(&self.map[self.l.chain..self.l.chain + old_chain]);
        for (i, e) in later_chain.iter().enumerate() {
            m[l.chain + old_chain + CHAIN_LEN * i..][..CHAIN_LEN]
                .copy_from_slice(&encode_chain(e.from, e.to, e.asset, e.moved));
        }
        let old_blocks = self.c.blocks as usize * BLOCK_LEN;
        m[l.blocks..l.blocks + old_blocks].copy_from_slice(&self.map[self.l.blocks..self.l.blocks + old_blocks]);
        for (i, (b, first)) in later_blocks.iter().enumerate() {
            let (height, time) = height_and_time(b.height, b.time).map_err(invalid)?;
            m[l.blocks + old_blocks + BLOCK_LEN * i..][..BLOCK_LEN].copy_from_slice(&encode_block(
                height,
                time,
                self.c.transfers + first,
            ));
        }
        m[l.meta..l.meta + meta.len()].copy_from_slice(&meta);
        put_in_place(file, m, &tmp, path)?;
        Ok(BuildStats {
            transfers: counts.transfers,
            addresses: counts.addrs,
            transactions: counts.txs,
            big_amounts: counts.bigs,
            bytes: l.end as u64,
        })
    }
}
