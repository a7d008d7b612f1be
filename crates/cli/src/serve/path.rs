//! `GET /api/path`: time-respecting paths from one address to another within N hops.
//!
//! A path `a0 → a1 → … → ak` uses one transfer per hop, each after the one before it in chain
//! order (funds can only move on after they arrived). The search is a depth-first walk over the
//! store's adjacency, taking for each counterparty the earliest transfer after the arrival (the
//! earliest arrival leaves every later continuation open). It does not walk through exchanges
//! (a deposit there leaves the traceable graph) or through unlabelled hubs, and it prunes with
//! the target's backward neighbourhood (addresses that reach `to` within the hops left, time
//! ignored) read from the store first. The graph lives in RocksDB, not memory, so the walk reads
//! adjacency on demand rather than building a petgraph graph; budgets bound the reads and the
//! answer says when they cut the search short.

use std::collections::{BTreeMap, HashMap, HashSet};

use chaintrace_model::{Address, Category, Direction, Label, Position};
use chaintrace_store::{Store, StoreError};

/// Largest `hops`.
pub(crate) const MAX_PATH_HOPS: u32 = 8;
/// Paths returned at most.
const MAX_PATHS: usize = 100;
/// Transfers read per address and direction.
const FANOUT: usize = 2_000;
/// Addresses expanded at most, in both phases together.
const BUDGET: usize = 20_000;

pub(crate) struct PathSearch<'a> {
    pub(crate) store: &'a Store,
    pub(crate) chain: &'a str,
    pub(crate) labels: &'a HashMap<Address, Vec<Label>>,
    pub(crate) hub_degree: u64,
}

/// The paths found, shortest first, and whether a budget cut the search.
pub(crate) struct Paths {
    pub(crate) paths: Vec<Vec<Address>>,
    pub(crate) truncated: bool,
}

impl PathSearch<'_> {
    /// Whether the walk stops at `a` (it may still end there).
    fn is_stop(&self, a: &Address) -> Result<bool, StoreError> {
        let labels = self.labels.get(a).map(Vec::as_slice).unwrap_or(&[]);
        if labels.iter().any(|l| matches!(l.category, Category::Exchange | Category::ExchangeDeposit)) {
            return Ok(true);
        }
        if labels.is_empty() {
            let cap = self.hub_degree.saturating_add(1);
            let deg = self.store.degree(self.chain, a, Direction::Out, cap)?.max(self.store.degree(
                self.chain,
                a,
                Direction::In,
                cap,
            )?);
            return Ok(deg > self.hub_degree);
        }
        Ok(false)
    }

    pub(crate) fn find(&self, from: &Address, to: &Address, hops: u32) -> Result<Paths, StoreError> {
        let mut budget = BUDGET;
        let mut truncated = false;
        // Backward distances to `to` (an upper bound on what can still reach it).
        let mut dist: HashMap<Address, u32> = HashMap::new();
        dist.insert(to.clone(), 0);
        let mut frontier = vec![to.clone()];
        for d in 1..hops {
            let mut next = Vec::new();
            for a in &frontier {
                if budget == 0 {
                    truncated = true;
                    break;
                }
                budget -= 1;
                let ins = self.store.transfers(self.chain, a, Direction::In, None, FANOUT)?;
                if ins.len() == FANOUT {
                    truncated = true;
                }
                for t in ins {
                    if !dist.contains_key(&t.from) {
                        dist.insert(t.from.clone(), d);
                        next.push(t.from);
                    }
                }
            }
            frontier = next;
        }
        // A backward phase cut short proves nothing about what cannot reach `to`.
        let prune = (!truncated).then_some(&dist);
        let mut found = Vec::new();
        let mut path = vec![from.clone()];
        let mut on_path: HashSet<Address> = HashSet::from([from.clone()]);
        self.walk(from, None, to, hops, prune, &mut path, &mut on_path, &mut found, &mut budget, &mut truncated)?;
        found.sort_by(|a: &Vec<Address>, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        found.dedup();
        Ok(Paths { paths: found, truncated })
    }

    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        at: &Address,
        arrived: Option<(u64, Position)>,
        to: &Address,
        hops_left: u32,
        dist: Option<&HashMap<Address, u32>>,
        path: &mut Vec<Address>,
        on_path: &mut HashSet<Address>,
        found: &mut Vec<Vec<Address>>,
        budget: &mut usize,
        truncated: &mut bool,
    ) -> Result<(), StoreError> {
        if hops_left == 0 || found.len() >= MAX_PATHS {
            return Ok(());
        }
        if *budget == 0 {
            *truncated = true;
            return Ok(());
        }
        *budget -= 1;
        let outs = self.store.transfers(self.chain, at, Direction::Out, arrived, FANOUT)?;
        if outs.len() == FANOUT {
            *truncated = true;
        }
        // The earliest transfer to each counterparty.
        let mut first: BTreeMap<(u64, Position), Address> = BTreeMap::new();
        let mut seen: HashSet<&Address> = HashSet::new();
        for t in &outs {
            if seen.insert(&t.to) {
                first.insert(t.order(), t.to.clone());
            }
        }
        for (when, next) in first {
            if found.len() >= MAX_PATHS {
                break;
            }
            if &next == to {
                let mut p = path.clone();
                p.push(next);
                found.push(p);
                continue;
            }
            let can_reach = dist.is_none_or(|m| m.get(&next).is_some_and(|d| *d < hops_left));
            if on_path.contains(&next) || !can_reach {
                continue;
            }
            if self.is_stop(&next)? {
                continue;
            }
            path.push(next.clone());
            on_path.insert(next.clone());
            self.walk(&next, Some(when), to, hops_left - 1, dist, path, on_path, found, budget, truncated)?;
            on_path.remove(&next);
            path.pop();
        }
        Ok(())
    }
}
