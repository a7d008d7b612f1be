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
//! sends after it holds traced funds in fewer than N hops; `--asset`, `--since` and `--until`
//! keep transfers as a list read keeps them. `--min-amount` (an amount per asset, which the
//! stream does not hold) is the discovery's.

use super::*;
use chaintrace_model::hint::prefetch;
use chaintrace_model::{ChainBlock, ChainEdge};

/// The most state the pass keeps (per id a byte per asset and two more, rounded up to a power
/// of two): 256 MiB. A chain with more (a mainnet with thousands of tokens) is reached by the
/// discovery.
const MAX_STATE: usize = 1 << 28;

/// An unlabelled address reached in fewer than N hops, not checked for a hub yet.
const PENDING: u8 = u8::MAX;

/// Ids reached sent to the thread that reads their addresses at a time.
const NAMES_BATCH: usize = 4096;

/// How many transfers ahead the pass brings its ends' cells in.
const AHEAD: usize = 8;

impl<S: GraphSource> Walker<'_, &S> {
    /// The bytes of state [`Walker::reach_chain`] keeps over `view`, or `None` where the pass
    /// does not apply (no stream, `--min-amount`, more state than [`MAX_STATE`]).
    pub(super) fn chain_cells(&self, view: &dyn DenseView<Error = S::Error>) -> Option<usize> {
        let (_, ids) = view.chain_size()?;
        let stride = (view.assets().len().max(1) + 2).next_power_of_two();
        let bytes = usize::try_from(ids).ok()?.checked_mul(stride)?;
        (bytes <= MAX_STATE && self.opts.min_amount.is_none()).then_some(bytes)
    }

    /// [`reach`] over `view`'s chain-order stream, or `None` where the pass does not apply (no
    /// stream, `--min-amount`, more state than [`MAX_STATE`]).
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
        // (the seeds' labels are not read: a seed is followed whatever they say)
        let seeds: Vec<Node> = self.seeds.iter().cloned().collect();
        let ids = ids as usize;
        // per id one cell of `stride` bytes: per asset the fewest hops it holds traced funds in
        // so far that it passes on (`u8::MAX`: none, or an address not followed: a hub, a
        // pooling one; the seeds hold every asset with 0 hops), then the fewest hops it is
        // reached in (`u8::MAX`: not reached; the seeds: 0), then its class. One read answers
        // whether a transfer carries traced funds at all, one more updates its receiver.
        let stride = (width + 2).next_power_of_two();
        let (at_reached, at_class) = (width, width + 1);
        let mut st = vec![u8::MAX; cells];
        for id in 0..ids {
            st[id * stride + at_class] = UNKNOWN;
        }
        for (id, labels) in view.labelled().map_err(src_err)? {
            if let Some(c) = st.get_mut(*id as usize * stride + at_class) {
                *c = class_by_labels(Some(labels));
            }
        }
        for (_, a) in &seeds {
            if let Some(id) = view.id_of(a).map(|id| id as usize).filter(|&id| id < ids) {
                let cell = &mut st[id * stride..(id + 1) * stride];
                cell[..width].fill(0);
                cell[at_reached] = 0;
                cell[at_class] = SEED;
            }
        }
        // `--asset`: its index (`None` when no transfer of the chain moves it: nothing passes)
        let only = self.opts.asset.map(|a| assets.iter().position(|x| *x == a).map(|i| i as u32));
        let (fwd, opts) = (self.fwd, self.opts);
        let mut failed: Option<S::Error> = None;
        let mut lookups = 0u64;
        // (backward, funds run from the receiver to the sender)
        let ends =
            |e: &ChainEdge| if fwd { (e.from as usize, e.to as usize) } else { (e.to as usize, e.from as usize) };
        // the addresses of the ids reached, read as they are reached on a second thread (the
        // pass waits for memory most of its time: the reads go on beside it)
        let (names, batches) = std::sync::mpsc::channel::<Vec<u32>>();
        let mut fresh: Vec<u32> = Vec::with_capacity(NAMES_BATCH);
        let scanned = std::thread::scope(|s| {
            let decoder = s.spawn(move || -> Result<(Vec<u32>, Vec<Address>), S::Error> {
                let (mut ids, mut addrs) = (Vec::new(), Vec::new());
                for batch in batches {
                    addrs.extend(Names::decode(view, &batch)?);
                    ids.extend(batch);
                }
                Ok((ids, addrs))
            });
            let mut pass = |edges: &[ChainEdge]| {
                // (in registers for the loop: its byte stores could alias what the closure
                // holds by reference, which would be loaded again after each one)
                let st = &mut st[..];
                let (n, stride, width, at_reached, at_class) = (n, stride, width, at_reached, at_class);
                let (only, fwd) = (only, fwd);
                let mut added = 0u64;
                let len = edges.len();
                for k in 0..len {
                    let i = if fwd { k } else { len - 1 - k };
                    // the cells of the transfers a few ahead, brought in while this one is passed
                    let ahead = if fwd { i + AHEAD } else { i.wrapping_sub(AHEAD) };
                    if let Some(x) = edges.get(ahead) {
                        let (pu, pv) = ends(x);
                        st.get(pu * stride).map(prefetch);
                        st.get(pv * stride).map(prefetch);
                    }
                    let e = &edges[i];
                    let (u, v) = ends(e);
                    let a = e.asset as usize;
                    let held = st[u * stride + a];
                    if held >= n || !e.moved || only.is_some_and(|o| o != Some(e.asset)) {
                        continue;
                    }
                    // sending for the first time since it was reached to be followed: a hub unless
                    // labelled (the discovery's check, made when it matters: most reached addresses
                    // never send again; their entries were fetched ahead when they were reached)
                    if st[u * stride + at_class] == PENDING {
                        added += 2;
                        let cell = &mut st[u * stride..(u + 1) * stride];
                        match view.degrees(u as u32) {
                            Ok((out, inn)) if !opts.is_hub(out, inn) => cell[at_class] = EXPAND,
                            got => {
                                if let Err(err) = got {
                                    failed.get_or_insert(err);
                                }
                                cell[at_class] = HUB;
                                cell[..width].fill(u8::MAX);
                                continue;
                            }
                        }
                    }
                    let h = held + 1;
                    let cell = &mut st[v * stride..(v + 1) * stride];
                    // (a seed's 0 stays)
                    if cell[at_reached] == u8::MAX {
                        // reached for the first time: its address read on the other core
                        fresh.push(v as u32);
                        if fresh.len() == NAMES_BATCH {
                            let _ = names.send(std::mem::replace(&mut fresh, Vec::with_capacity(NAMES_BATCH)));
                        }
                    }
                    cell[at_reached] = cell[at_reached].min(h);
                    if h == n {
                        continue;
                    }
                    // followed from here on, unless a hub (checked at its next send)
                    if cell[at_class] == UNKNOWN {
                        cell[at_class] = PENDING;
                        view.prefetch(v as u32);
                    }
                    if matches!(cell[at_class], EXPAND | PENDING) {
                        cell[a] = cell[a].min(h);
                    }
                }
                lookups += added;
            };
            let scanned = view.scan_chain(fwd, &mut |b: ChainBlock, edges: &[ChainEdge]| {
                if in_bounds(opts, b.height, b.time) {
                    pass(edges);
                }
            });
            let _ = names.send(std::mem::take(&mut fresh));
            drop(names);
            // (a panic on the decoding thread is the walk's own bug: raised here)
            (scanned, decoder.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
        });
        let (scanned, decoded) = scanned;
        scanned.map_err(src_err)?;
        if let Some(err) = failed {
            return Err(src_err(err));
        }
        let (ids, addrs) = decoded.map_err(src_err)?;
        self.stats.lookups += lookups;
        self.stats.transfers_read += transfers;
        self.stats.discover_us += t0.elapsed().as_micros() as u64;
        let t1 = std::time::Instant::now();
        let hops: Vec<u8> = ids.iter().map(|&id| st[id as usize * stride + at_reached]).collect();
        let nodes = self.in_address_order(addrs, &hops);
        self.stats.replay_us = t1.elapsed().as_micros() as u64;
        Ok(Some(nodes))
    }
}
