//! [`reach`] as one pass over the chain in time order, for a reach that would read a large
//! share of the chain's lists.
//!
//! Time-respecting reachability needs no levels: walking every transfer in chain order (the
//! walk's direction; backward, reversed), each holding `(id, asset)` knows at each transfer the
//! fewest hops any traced funds reached it in before that transfer, because every arrival
//! before it was met first. A transfer out of a holding that holds traced funds in fewer than
//! N hops reaches its receiver in one hop more. That is the discovery's answer (each level's
//! earliest arrivals) read off one sequential pass over the view's chain-order stream (12 bytes
//! a transfer) instead of per-address list reads: on a graph where the reach touches most of
//! the chain (a power-law graph, whose hubs tie it together), a fraction of the time.
//!
//! The stops are the discovery's: seeds are never reached; an address with a pooling label
//! (exchange, service) is reached and not followed; an unlabelled address is a hub (reached,
//! not followed) when either of its degrees is over `--hub-degree`, checked when it first
//! holds traced funds in fewer than N hops; `--asset`, `--since` and `--until` keep transfers
//! as a list read keeps them. `--min-amount` (an amount per asset, which the stream does not
//! hold) is the discovery's.

use super::*;
use chaintrace_model::{ChainBlock, ChainEdge};

/// Holdings the pass keeps a byte for (ids × assets): 256 MiB. A chain with more (a mainnet
/// with thousands of tokens) is reached by the discovery.
const MAX_CELLS: usize = 1 << 28;

impl<S: GraphSource> Walker<'_, &S> {
    /// The holdings [`Walker::reach_chain`] keeps a byte for over `view`, or `None` where the
    /// pass does not apply (no stream, `--min-amount`, more holdings than [`MAX_CELLS`]).
    pub(super) fn chain_cells(&self, view: &dyn DenseView<Error = S::Error>) -> Option<usize> {
        let (_, ids) = view.chain_size()?;
        let cells = usize::try_from(ids).ok()?.checked_mul(view.assets().len().max(1))?;
        (cells <= MAX_CELLS && self.opts.min_amount.is_none()).then_some(cells)
    }

    /// [`reach`] over `view`'s chain-order stream, or `None` where the pass does not apply (no
    /// stream, `--min-amount`, more holdings than [`MAX_CELLS`]).
    pub(super) fn reach_chain(
        &mut self,
        view: &dyn DenseView<Error = S::Error>,
    ) -> Result<Option<Vec<(Address, u32)>>, TraceError> {
        let (Some(cells), Some((transfers, ids))) = (self.chain_cells(view), view.chain_size()) else {
            return Ok(None);
        };
        let assets = view.assets();
        let width = assets.len().max(1);
        let t0 = std::time::Instant::now();
        self.stats.dense = true;
        self.stats.chain_scan = true;
        let n = self.opts.hops as u8;
        let seeds = self.class_seeds()?;
        let ids = ids as usize;
        let mut class = vec![UNKNOWN; ids];
        for (id, labels) in view.labelled().map_err(src_err)? {
            if let Some(c) = class.get_mut(*id as usize) {
                *c = if pooling_role(labels).is_some() { POOL } else { EXPAND };
            }
        }
        for (_, a) in &seeds {
            if let Some(c) = view.id_of(a).and_then(|id| class.get_mut(id as usize)) {
                *c = SEED;
            }
        }
        // `--asset`: its index (`None` when no transfer of the chain moves it: nothing passes)
        let only = self.opts.asset.map(|a| assets.iter().position(|x| *x == a).map(|i| i as u32));
        let (fwd, opts, hub) = (self.fwd, self.opts, self.opts.hub_degree);
        // per holding, the fewest hops it holds traced funds in so far (`u8::MAX`: none); per
        // id, the fewest it is reached in
        let mut hop = vec![u8::MAX; cells];
        let mut reached = vec![u8::MAX; ids];
        let mut failed: Option<S::Error> = None;
        let mut lookups = 0u64;
        let mut pass = |e: &ChainEdge| {
            if !e.moved || only.is_some_and(|o| o != Some(e.asset)) {
                return;
            }
            // (backward, funds run from the receiver to the sender)
            let (u, v) = if fwd { (e.from as usize, e.to as usize) } else { (e.to as usize, e.from as usize) };
            let (Some(&cu), Some(&cv)) = (class.get(u), class.get(v)) else {
                return;
            };
            let held = match cu {
                SEED => 0,
                EXPAND => hop[u * width + e.asset as usize],
                _ => return,
            };
            if held >= n || cv == SEED {
                return;
            }
            let h = held + 1;
            let cell = &mut hop[v * width + e.asset as usize];
            if h >= *cell {
                return;
            }
            *cell = h;
            reached[v] = reached[v].min(h);
            // followed from here on: a hub unless labelled (the discovery's check)
            if h < n && cv == UNKNOWN && failed.is_none() {
                lookups += 2;
                class[v] = match view.degrees(v as u32) {
                    Ok((out, inn)) if out > hub || inn > hub => HUB,
                    Ok(_) => EXPAND,
                    Err(err) => {
                        failed = Some(err);
                        HUB
                    }
                };
            }
        };
        view.scan_chain(fwd, &mut |b: ChainBlock, edges: &[ChainEdge]| {
            if !in_bounds(opts, b.height, b.time) {
                return;
            }
            if fwd {
                edges.iter().for_each(&mut pass);
            } else {
                edges.iter().rev().for_each(&mut pass);
            }
        })
        .map_err(src_err)?;
        if let Some(err) = failed {
            return Err(src_err(err));
        }
        self.stats.lookups += lookups;
        self.stats.transfers_read += transfers;
        self.stats.discover_us += t0.elapsed().as_micros() as u64;
        let t1 = std::time::Instant::now();
        let (ids, hops): (Vec<u32>, Vec<u8>) =
            reached.iter().enumerate().filter(|(_, &h)| h <= n).map(|(id, &h)| (id as u32, h)).unzip();
        let nodes = self.reached_nodes(view, &ids, &hops)?;
        self.stats.replay_us = t1.elapsed().as_micros() as u64;
        Ok(Some(nodes))
    }
}
