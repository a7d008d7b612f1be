//! Where adapters put blocks, and the one routine that finds a fork point.
//!
//! Both adapters (Bitcoin and EVM) write through [`ChainSink`]: the binary implements it over
//! the store, tests over [`MemorySink`]. When a block's parent is not the stored tip, the
//! adapter asks [`ForkSearch`] (or [`find_fork`]) for the highest height where the stored chain
//! and the source agree, rolls the sink back to it and resumes above it. The search is sans-IO:
//! the caller fetches the source's hashes (a window at a time, possibly asynchronously) and
//! hands them in.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{BlockData, Hash32, Transfer, UtxoLookup, UtxoOutput};

/// What a [`ChainSink::apply`] stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplyCounts {
    /// Blocks newly stored.
    pub blocks: u64,
    /// Transfers newly stored.
    pub transfers: u64,
    /// Blocks that were already stored with the same hash (left as they are).
    pub skipped: u64,
}

/// The outcome of [`ChainSink::apply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Stored (blocks already present with the same hash are skipped by the sink).
    Ok(ApplyCounts),
    /// The first new block's parent is not the stored tip (or a block differs from the stored
    /// one at its height): the caller must find the fork point.
    ParentMismatch,
}

/// Where ingested blocks go: the store, or memory in tests.
pub trait ChainSink {
    /// The sink's own failure (a store error; `Infallible` in memory).
    type Error: std::error::Error + Send + Sync + 'static;
    /// `(height, hash)` of the stored tip.
    fn tip(&self) -> Result<Option<(u64, Hash32)>, Self::Error>;
    /// The hash of the stored block at `height`, if any.
    fn block_hash(&self, height: u64) -> Result<Option<Hash32>, Self::Error>;
    /// Apply contiguous blocks atomically.
    fn apply(&self, blocks: &[BlockData]) -> Result<Applied, Self::Error>;
    /// Remove every block above `height`; returns how many were removed.
    fn rollback_to(&self, height: u64) -> Result<u64, Self::Error>;
    /// Record what the node offers (e.g. the EVM trace mode). Default: nothing.
    fn record_node_info(&self, _key: &str, _value: &str) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// No block in common with the source within the searched range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ForkError {
    /// The search reached height 0 and even that block differs (or the source has none):
    /// the stored chain and the source are different chains.
    #[error("the stored chain shares no block with the source at any height from {tip} down to 0: they are different chains")]
    NoCommonBlock {
        /// The stored tip the search started at.
        tip: u64,
    },
    /// The search went `max_depth` blocks below the stored tip without agreement.
    #[error("reorganisation deeper than {max_depth} blocks below the stored tip {tip}: no block in common with the source down to height {floor}")]
    TooDeep {
        /// The stored tip the search started at.
        tip: u64,
        /// The bound on the search.
        max_depth: u64,
        /// The lowest height compared.
        floor: u64,
    },
}

/// A fork-point search from a stored tip downwards, bounded by a maximum reorg depth.
///
/// A height agrees when the stored hash equals the source's hash there, or when nothing is
/// stored there (below the first stored block of a store started mid-chain: nothing of ours
/// to compare, so it is the floor). A height where the source has no block disagrees.
///
/// ```
/// # use chaintrace_model::{Hash32, sink::ForkSearch};
/// let ours = |h: u64| Hash32([h as u8; 32]);
/// let theirs = |h: u64| if h > 5 { Hash32([0xee; 32]) } else { ours(h) };
/// let mut search = ForkSearch::new(9, 100);
/// let heights = search.next_window(16).unwrap();
/// let remote: Vec<_> = heights.iter().map(|h| Some(theirs(*h))).collect();
/// let fork = search.check::<std::convert::Infallible>(&heights, &remote, |h| Ok(Some(ours(h))));
/// assert_eq!(fork, Ok(Some(5)));
/// ```
#[derive(Clone, Debug)]
pub struct ForkSearch {
    tip: u64,
    max_depth: u64,
    floor: u64,
    /// The highest height not yet handed out; `None` when the range is exhausted.
    next: Option<u64>,
}

impl ForkSearch {
    /// Search from `tip` down to `tip - max_depth` (or 0).
    pub fn new(tip: u64, max_depth: u64) -> Self {
        ForkSearch { tip, max_depth, floor: tip.saturating_sub(max_depth), next: Some(tip) }
    }

    /// The next heights to compare, highest first, at most `size` of them; an error when the
    /// whole range has been compared without agreement.
    pub fn next_window(&mut self, size: u64) -> Result<Vec<u64>, ForkError> {
        let Some(top) = self.next else {
            return Err(if self.floor == 0 {
                ForkError::NoCommonBlock { tip: self.tip }
            } else {
                ForkError::TooDeep { tip: self.tip, max_depth: self.max_depth, floor: self.floor }
            });
        };
        let lo = top.saturating_sub(size.max(1) - 1).max(self.floor);
        self.next = if lo == self.floor { None } else { Some(lo - 1) };
        Ok((lo..=top).rev().collect())
    }

    /// Compare a window (as returned by [`next_window`](Self::next_window)) with the source's
    /// hashes at those heights (`None`: the source has no block there). Returns the highest
    /// agreeing height, or `None` to ask for the next window.
    pub fn check<E>(
        &self,
        heights: &[u64],
        remote: &[Option<Hash32>],
        mut stored: impl FnMut(u64) -> Result<Option<Hash32>, E>,
    ) -> Result<Option<u64>, E> {
        for (h, theirs) in heights.iter().zip(remote) {
            let agree = match (stored(*h)?, theirs) {
                (Some(ours), Some(theirs)) => ours == *theirs,
                (None, _) => true,
                (Some(_), None) => false,
            };
            if agree {
                return Ok(Some(*h));
            }
        }
        Ok(None)
    }
}

/// The highest height at or below `tip` (and at most `max_depth` below it) where the stored
/// chain and the source agree, asking one height at a time. Both lookups may fail with the
/// caller's error type, which also absorbs [`ForkError`].
pub fn find_fork<E: From<ForkError>>(
    tip: u64,
    max_depth: u64,
    mut stored: impl FnMut(u64) -> Result<Option<Hash32>, E>,
    mut remote: impl FnMut(u64) -> Result<Option<Hash32>, E>,
) -> Result<u64, E> {
    let mut search = ForkSearch::new(tip, max_depth);
    loop {
        let heights = search.next_window(1)?;
        let theirs = heights.iter().map(|h| remote(*h)).collect::<Result<Vec<_>, E>>()?;
        if let Some(h) = search.check(&heights, &theirs, &mut stored)? {
            return Ok(h);
        }
    }
}

/// An in-memory [`ChainSink`] with the store's semantics (tests and on-demand use). It also
/// resolves Bitcoin inputs ([`UtxoLookup`]) from the outputs of the blocks it holds.
#[derive(Default, Clone, Debug)]
pub struct MemorySink {
    /// The stored blocks by height.
    pub blocks: Arc<Mutex<BTreeMap<u64, BlockData>>>,
    /// What [`ChainSink::record_node_info`] recorded.
    pub info: Arc<Mutex<BTreeMap<String, String>>>,
}

impl MemorySink {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, BlockData>> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.blocks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every stored transfer, in height order.
    pub fn all_transfers(&self) -> Vec<Transfer> {
        self.lock().values().flat_map(|b| b.transfers.clone()).collect()
    }

    /// A copy of the stored blocks.
    pub fn snapshot(&self) -> BTreeMap<u64, BlockData> {
        self.lock().clone()
    }
}

impl ChainSink for MemorySink {
    type Error = std::convert::Infallible;
    fn tip(&self) -> Result<Option<(u64, Hash32)>, Self::Error> {
        Ok(self.lock().last_key_value().map(|(h, b)| (*h, b.block.hash)))
    }
    fn block_hash(&self, height: u64) -> Result<Option<Hash32>, Self::Error> {
        Ok(self.lock().get(&height).map(|b| b.block.hash))
    }
    fn apply(&self, blocks: &[BlockData]) -> Result<Applied, Self::Error> {
        let mut m = self.lock();
        let mut counts = ApplyCounts::default();
        let mut fresh = Vec::with_capacity(blocks.len());
        for b in blocks {
            match m.get(&b.block.height) {
                Some(old) if old.block.hash == b.block.hash => counts.skipped += 1,
                Some(_) => return Ok(Applied::ParentMismatch),
                None => fresh.push(b),
            }
        }
        let mut tip = m.last_key_value().map(|(h, b)| (*h, b.block.hash));
        for b in &fresh {
            if let Some((h, hash)) = tip {
                if b.block.height != h + 1 || b.block.parent != hash {
                    return Ok(Applied::ParentMismatch);
                }
            }
            tip = Some((b.block.height, b.block.hash));
        }
        for b in fresh {
            counts.blocks += 1;
            counts.transfers += b.transfers.len() as u64;
            m.insert(b.block.height, b.clone());
        }
        Ok(Applied::Ok(counts))
    }
    fn rollback_to(&self, height: u64) -> Result<u64, Self::Error> {
        let mut m = self.lock();
        let above = m.split_off(&(height + 1));
        Ok(above.len() as u64)
    }
    fn record_node_info(&self, key: &str, value: &str) -> Result<(), Self::Error> {
        self.info.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_string(), value.to_string());
        Ok(())
    }
}

impl UtxoLookup for MemorySink {
    type Error = std::convert::Infallible;
    fn output(&self, txid: &Hash32, vout: u32) -> Result<Option<UtxoOutput>, Self::Error> {
        Ok(self.lock().values().flat_map(|b| &b.outputs).find(|o| o.txid == *txid && o.vout == vout).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BlockRef;

    fn h(tag: u8, height: u64) -> Hash32 {
        let mut b = [tag; 32];
        b[..8].copy_from_slice(&height.to_be_bytes());
        Hash32(b)
    }

    /// A chain of `len` blocks whose hashes carry `tag` from height `from_tag` on.
    fn chain(len: u64, from_tag: u64, tag: u8) -> Vec<BlockData> {
        let mut out: Vec<BlockData> = Vec::new();
        for height in 0..len {
            let t = if height >= from_tag { tag } else { 0 };
            let parent = out.last().map_or(Hash32::ZERO, |p| p.block.hash);
            out.push(BlockData::new(BlockRef { height, hash: h(t, height), parent, time: height }));
        }
        out
    }

    fn fork_of(sink: &MemorySink, remote: &[BlockData], max_depth: u64) -> Result<u64, ForkError> {
        let (tip, _) = sink.tip().unwrap().unwrap();
        find_fork::<ForkError>(
            tip,
            max_depth,
            |x| Ok(sink.block_hash(x).unwrap()),
            |x| Ok(remote.get(x as usize).map(|b| b.block.hash)),
        )
    }

    #[test]
    fn fork_point_at_depths_1_to_10_in_memory() {
        for depth in 1..=10u64 {
            let sink = MemorySink::default();
            let ours = chain(30, 0, 0);
            assert!(matches!(sink.apply(&ours).unwrap(), Applied::Ok(c) if c.blocks == 30));
            // The source replaced the last `depth` blocks and grew one more.
            let theirs = chain(31, 30 - depth, 7);
            let extra = &theirs[(30 - depth) as usize..];
            assert_eq!(sink.apply(extra).unwrap(), Applied::ParentMismatch, "depth {depth}");
            let fork = fork_of(&sink, &theirs, 100).unwrap();
            assert_eq!(fork, 29 - depth, "depth {depth}");
            assert_eq!(sink.rollback_to(fork).unwrap(), depth);
            assert!(matches!(sink.apply(extra).unwrap(), Applied::Ok(c) if c.blocks == depth + 1));
            let got: Vec<_> = sink.snapshot().into_values().collect();
            assert_eq!(got, theirs, "depth {depth}");
        }
    }

    #[test]
    fn the_search_is_bounded_and_says_why_it_failed() {
        let sink = MemorySink::default();
        sink.apply(&chain(30, 0, 0)).unwrap();
        let theirs = chain(30, 10, 9);
        assert_eq!(fork_of(&sink, &theirs, 100), Ok(9));
        assert_eq!(fork_of(&sink, &theirs, 5), Err(ForkError::TooDeep { tip: 29, max_depth: 5, floor: 24 }));
        let other = chain(30, 0, 3);
        assert_eq!(fork_of(&sink, &other, 100), Err(ForkError::NoCommonBlock { tip: 29 }));
        // A shorter source: heights it lacks disagree.
        assert_eq!(fork_of(&sink, &chain(12, 30, 0), 100), Ok(11));
        // The tip itself agrees: no rollback needed.
        assert_eq!(fork_of(&sink, &chain(30, 30, 0), 100), Ok(29));
    }

    #[test]
    fn windows_cover_the_range_once_highest_first() {
        let mut s = ForkSearch::new(20, 12);
        assert_eq!(s.next_window(5).unwrap(), vec![20, 19, 18, 17, 16]);
        assert_eq!(s.next_window(5).unwrap(), vec![15, 14, 13, 12, 11]);
        assert_eq!(s.next_window(5).unwrap(), vec![10, 9, 8]);
        assert!(matches!(s.next_window(5), Err(ForkError::TooDeep { floor: 8, .. })));
        // Heights below the first stored block agree (a store started mid-chain).
        let sink = MemorySink::default();
        let mut blocks = chain(10, 0, 0);
        blocks.drain(..5);
        sink.apply(&blocks).unwrap();
        let fork = find_fork::<ForkError>(9, 100, |x| Ok(sink.block_hash(x).unwrap()), |_| Ok(Some(Hash32([1; 32]))));
        assert_eq!(fork, Ok(4));
    }

    #[test]
    fn memory_sink_skips_blocks_it_already_holds() {
        let sink = MemorySink::default();
        let c = chain(5, 0, 0);
        sink.apply(&c[..3]).unwrap();
        assert_eq!(sink.apply(&c).unwrap(), Applied::Ok(ApplyCounts { blocks: 2, transfers: 0, skipped: 3 }));
        assert_eq!(sink.apply(&chain(5, 2, 4)[2..]).unwrap(), Applied::ParentMismatch);
    }
}
