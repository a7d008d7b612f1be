//! The transfers a store gained after its snapshot was built, held in memory beside the mapped
//! file: a snapshot caught up with them ([`crate::Snapshot::caught_up`]) answers for the grown
//! store without a rebuild.
//!
//! Every later transfer comes after every transfer of the file in chain order, so an address's
//! list is the file's list followed by the tail's: each read of the snapshot reads the file as
//! before, then the tail. Addresses the file does not have get ids after the file's, assets it
//! does not have indices after its assets, transactions ordinals after its transactions.

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use chaintrace_model::{Address, Asset, ChainBlock, ChainEdge, DenseRow, Direction, Hash32, Position, Transfer, U256};

use crate::layout::{address_id, asset_index, is_big, tx_ordinal};
use crate::{SnapshotError, SnapshotKey};

/// The later transfers by address id, in the snapshot's own terms (ids, asset indices,
/// transaction ordinals continue the file's).
#[derive(Clone, Debug)]
pub(crate) struct Tail {
    /// The key of the file itself (the snapshot's key is the caught-up state's).
    pub(crate) built: SnapshotKey,
    /// Addresses the file does not have: id `file addresses + i` is `new[i]`.
    new: Vec<Address>,
    new_ids: FxHashMap<Address, u32>,
    /// Per id, its later sends and receipts, each in chain order.
    lists: FxHashMap<u32, [Vec<DenseRow>; 2]>,
    /// A bit per id with later transfers: most reads of a trace are of ids without any, answered
    /// without hashing.
    listed: Vec<u64>,
    /// Hashes of the later transactions: ordinal `file transactions + i` is `txs[i]`.
    txs: Vec<Hash32>,
    /// The places in chain order of the later transfers with big amounts (2^128 or more): the
    /// one at `i` is big amount `file big amounts + i` once folded, as a build numbers them.
    bigs: Vec<((u64, Position), U256)>,
    /// The later transfers once more, in chain order (the file's chain-order stream goes on
    /// with them).
    chain: Vec<ChainEdge>,
    /// Their blocks: each run of `chain` sharing a height and time, with its first index there.
    blocks: Vec<(ChainBlock, u64)>,
    /// The last transfer's place in chain order.
    last: Option<(u64, Position)>,
    /// Later transfers held.
    pub(crate) transfers: u64,
}

/// How a tail finds what the file already numbered.
pub(crate) struct FileIds<'s> {
    pub(crate) addrs: u64,
    pub(crate) txs: u64,
    pub(crate) id_of: &'s dyn Fn(&Address) -> Option<u32>,
}

fn slot(dir: Direction) -> usize {
    match dir {
        Direction::Out => 0,
        Direction::In => 1,
    }
}

impl Tail {
    pub(crate) fn new(built: SnapshotKey) -> Tail {
        Tail {
            built,
            new: Vec::new(),
            new_ids: FxHashMap::default(),
            lists: FxHashMap::default(),
            listed: Vec::new(),
            txs: Vec::new(),
            bigs: Vec::new(),
            chain: Vec::new(),
            blocks: Vec::new(),
            last: None,
            transfers: 0,
        }
    }

    /// Adds `later` (in strictly increasing chain order, each after the last one held) to the
    /// tail; new assets are appended to `assets`.
    pub(crate) fn extend(
        &mut self,
        file: &FileIds<'_>,
        assets: &mut Vec<Asset>,
        later: impl IntoIterator<Item = Transfer>,
    ) -> Result<(), SnapshotError> {
        let invalid = |what: String| SnapshotError::Invalid { chain: self.built.chain.clone(), what };
        let mut asset_ids: HashMap<Asset, u32> = assets.iter().enumerate().map(|(i, a)| (*a, i as u32)).collect();
        for t in later {
            if self.last.is_some_and(|last| t.order() <= last) {
                return Err(invalid(format!(
                    "a later transfer at height {} position {}/{} is not after the one before it",
                    t.height, t.pos.tx_index, t.pos.sub
                )));
            }
            self.last = Some(t.order());
            let mut id = |a: &Address| -> Result<u32, SnapshotError> {
                if let Some(id) = (file.id_of)(a).or_else(|| self.new_ids.get(a).copied()) {
                    return Ok(id);
                }
                let id = address_id(file.addrs + self.new.len() as u64).map_err(invalid)?;
                self.new.push(a.clone());
                self.new_ids.insert(a.clone(), id);
                Ok(id)
            };
            let (from, to) = (id(&t.from)?, id(&t.to)?);
            // consecutive transfers of one transaction share its ordinal, as in the file
            if self.txs.last() != Some(&t.tx) {
                self.txs.push(t.tx);
            }
            let tx = tx_ordinal(file.txs + self.txs.len() as u64 - 1).map_err(invalid)?;
            let asset = match asset_ids.get(&t.asset) {
                Some(a) => *a,
                None => {
                    let a = asset_index(assets.len()).map_err(invalid)?;
                    assets.push(t.asset);
                    asset_ids.insert(t.asset, a);
                    a
                }
            };
            let row = |other| DenseRow {
                height: t.height,
                time: t.time,
                tx_index: t.pos.tx_index,
                sub: t.pos.sub,
                tx,
                other,
                asset,
                amount: t.amount,
            };
            for (id, dir, other) in [(from, 0, to), (to, 1, from)] {
                self.lists.entry(id).or_default()[dir].push(row(other));
                let word = id as usize / 64;
                if self.listed.len() <= word {
                    self.listed.resize(word + 1, 0);
                }
                self.listed[word] |= 1 << (id % 64);
            }
            if is_big(&t.amount) {
                self.bigs.push((t.order(), t.amount));
            }
            let block = ChainBlock { height: t.height, time: t.time };
            if self.blocks.last().is_none_or(|(b, _)| *b != block) {
                self.blocks.push((block, self.chain.len() as u64));
            }
            self.chain.push(ChainEdge { from, to, asset, moved: !t.amount.is_zero() });
            self.transfers += 1;
        }
        Ok(())
    }

    /// The addresses the file does not have, in id order.
    pub(crate) fn addresses(&self) -> &[Address] {
        &self.new
    }

    /// The hashes of the later transactions, in ordinal order.
    pub(crate) fn tx_hashes(&self) -> &[Hash32] {
        &self.txs
    }

    /// The later big amounts with their transfers' places, in chain order ([`Tail::bigs`]).
    pub(crate) fn big_amounts(&self) -> &[((u64, Position), U256)] {
        &self.bigs
    }

    /// The later transfers in chain order, as the chain-order stream holds them.
    pub(crate) fn chain(&self) -> &[ChainEdge] {
        &self.chain
    }

    /// Their blocks, each with the index in [`Tail::chain`] of its first transfer.
    pub(crate) fn blocks(&self) -> &[(ChainBlock, u64)] {
        &self.blocks
    }

    /// Addresses the file does not have.
    pub(crate) fn new_addresses(&self) -> u64 {
        self.new.len() as u64
    }

    /// The id of an address the file does not have.
    pub(crate) fn id_of(&self, addr: &Address) -> Option<u32> {
        self.new_ids.get(addr).copied()
    }

    /// The address of id `file addresses + i`.
    pub(crate) fn address(&self, i: u64) -> Option<&Address> {
        self.new.get(usize::try_from(i).ok()?)
    }

    /// The later transfers of id `id` in `dir`, in chain order.
    pub(crate) fn rows(&self, id: u32, dir: Direction) -> &[DenseRow] {
        if self.listed.get(id as usize / 64).is_none_or(|w| w & (1 << (id % 64)) == 0) {
            return &[];
        }
        self.lists.get(&id).map_or(&[], |l| &l[slot(dir)])
    }

    /// Those strictly after `after` (all when `None`).
    pub(crate) fn rows_after(&self, id: u32, dir: Direction, after: Option<(u64, Position)>) -> &[DenseRow] {
        let rows = self.rows(id, dir);
        match after {
            None => rows,
            Some(k) => &rows[rows.partition_point(|r| r.order() <= k)..],
        }
    }

    /// The hash of transaction ordinal `file transactions + i`.
    pub(crate) fn tx(&self, i: u64) -> Option<Hash32> {
        self.txs.get(usize::try_from(i).ok()?).copied()
    }
}
