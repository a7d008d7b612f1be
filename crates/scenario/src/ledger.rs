//! The ground-truth ledger: what every wallet holds, traced and clean, under each policy, kept
//! while the scenario is built.
//!
//! This is not the tracer's algorithm replayed: the scenario generator *chooses* its amounts
//! through [`Ledger::quantum`] so that every haircut share is an exact integer (no rounding
//! anywhere), and it knows each wallet's whole history because every case wallet is a fresh
//! address that starts empty. Under those conditions the SPEC's policy definitions give one
//! answer each, computed here directly:
//!
//! - **poison**: once traced funds have arrived, everything that leaves is traced in full;
//! - **haircut**: a transfer out carries `amount × traced / balance` (exact by construction);
//! - **fifo**: the wallet is a queue of clean and traced runs; a transfer out takes from the front.
//!
//! Seeds' transfers out are traced in full under every policy. Exchange wallets and deposit
//! addresses pool many customers' funds: what enters them is recorded as a deposit, and what
//! leaves them (sweeps, withdrawals) is never traced. The ledger also keeps, per wallet, the
//! largest number of hops its traced funds travelled, so a test can give the tracer a hop limit
//! that cuts nothing.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use alloy_primitives::U256;
use serde::{Deserialize, Serialize};

/// The three SPEC policies, in a fixed order.
pub const POLICIES: [&str; 3] = ["poison", "haircut", "fifo"];

/// What a wallet holds of one asset under each policy.
#[derive(Clone, Debug, Default)]
struct Holding {
    balance: U256,
    /// poison: traced funds have arrived
    poisoned: bool,
    /// haircut: traced part of `balance`
    tainted: U256,
    /// fifo: runs of (amount, traced), oldest first
    queue: VecDeque<(U256, bool)>,
    /// most hops travelled by traced funds that arrived here (any policy)
    depth: u32,
}

/// Traced amount of one transfer under each policy (order of [`POLICIES`]).
pub type Traced = [U256; 3];

/// One transfer into an exchange wallet or an exchange deposit address.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DepositTruth {
    /// The transaction hash, `0x`-hex.
    pub tx: String,
    /// The deposit address (or exchange wallet) that received it.
    pub address: String,
    /// Name of the exchange it belongs to.
    pub exchange: String,
    /// `ETH` or the token contract (lower-case hex).
    pub asset: String,
    /// Amount received, in base units (wei or the token's), decimal.
    pub amount_raw: String,
    /// Traced base units per policy; a policy absent here traced nothing into it.
    pub traced_raw: BTreeMap<String, String>,
    /// Why it is in the scenario (what an investigator should conclude).
    pub note: String,
}

impl DepositTruth {
    /// Traced under at least one policy.
    pub fn is_traced(&self) -> bool {
        !self.traced_raw.is_empty()
    }
}

/// The ledger of one scenario.
#[derive(Debug, Default)]
pub struct Ledger {
    seeds: BTreeSet<String>,
    sources: BTreeSet<String>,
    /// address → exchange name, for exchange wallets and deposit addresses
    pools: BTreeMap<String, String>,
    /// (address, asset)
    holdings: BTreeMap<(String, String), Holding>,
    /// Every transfer into an exchange address so far, in send order.
    pub deposits: Vec<DepositTruth>,
    /// Most hops any traced transfer travelled.
    pub max_hops: u32,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Mark `addr` as a seed of the trace: the funds it holds are the traced funds.
    pub fn add_seed(&mut self, addr: &str) {
        self.seeds.insert(addr.to_string());
    }

    /// A wallet with an opening balance (genesis-funded) that never receives traced funds.
    pub fn add_source(&mut self, addr: &str) {
        self.sources.insert(addr.to_string());
    }

    /// Mark `addr` as an exchange wallet or deposit address of `exchange`.
    pub fn add_pool(&mut self, addr: &str, exchange: &str) {
        self.pools.insert(addr.to_string(), exchange.to_string());
    }

    /// Whether `addr` belongs to an exchange.
    pub fn is_pool(&self, addr: &str) -> bool {
        self.pools.contains_key(addr)
    }

    /// What `addr` holds of `asset` now, in base units.
    pub fn balance(&self, addr: &str, asset: &str) -> U256 {
        self.holdings.get(&(addr.to_string(), asset.to_string())).map(|h| h.balance).unwrap_or_default()
    }

    /// Traced value held now under haircut (for reports and tests).
    pub fn tainted(&self, addr: &str, asset: &str) -> U256 {
        self.holdings.get(&(addr.to_string(), asset.to_string())).map(|h| h.tainted).unwrap_or_default()
    }

    /// The smallest step in which `addr` can send `asset` so that the haircut share is an exact
    /// integer: `balance / gcd(balance, traced)`.
    pub fn quantum(&self, addr: &str, asset: &str) -> U256 {
        let Some(h) = self.holdings.get(&(addr.to_string(), asset.to_string())) else { return U256::from(1) };
        if h.tainted.is_zero() || h.tainted == h.balance || self.seeds.contains(addr) {
            return U256::from(1);
        }
        h.balance / gcd(h.balance, h.tainted)
    }

    /// Apply one transfer in chain order; returns the traced amount per policy. Every transfer
    /// into a pool from outside it is recorded in [`Ledger::deposits`] with `note` (with no
    /// traced amounts when it carries none: a decoy).
    pub fn transfer(&mut self, tx: &str, from: &str, to: &str, asset: &str, amount: U256, note: &str) -> Traced {
        assert!(!amount.is_zero(), "scenario bug: zero transfer {from} -> {to}");
        let (traced, segs, held) = self.take(from, asset, amount);
        // a transfer is one more hop for the traced funds it carries
        let depth = if traced.iter().any(|t| !t.is_zero()) { held + 1 } else { 0 };
        self.give(tx, from, to, asset, amount, traced, segs, depth, note)
    }

    /// A conversion or a bridge crossing (SPEC "Swaps", "Bridges"): `from` gives `x` of
    /// `asset_in` and `to` receives `y` of `asset_out` (a swap: `to` is `from`; a bridge: the
    /// recipient on the other chain). The traced part of the output, by SPEC's rules: poison —
    /// all of `y` when any of the input is traced; haircut — `floor(y × traced input / x)`;
    /// fifo — the input's runs leave in queue order and each converts at the rate `y / x`,
    /// rounded down, the remainder untraced and last. No hop is added. Returns the traced input
    /// and output per policy.
    #[allow(clippy::too_many_arguments)]
    pub fn carry(
        &mut self,
        tx: &str,
        from: &str,
        asset_in: &str,
        x: U256,
        to: &str,
        asset_out: &str,
        y: U256,
        note: &str,
    ) -> (Traced, Traced) {
        assert!(!x.is_zero() && !y.is_zero(), "scenario bug: empty conversion by {from}");
        let (tin, segs, held) = self.take(from, asset_in, x);
        let mut tout = [U256::ZERO; 3];
        if !tin[0].is_zero() {
            tout[0] = y;
        }
        tout[1] = y * tin[1] / x;
        let mut out_segs = Vec::new();
        let mut used = U256::ZERO;
        for (run, traced) in segs {
            let conv = run * y / x;
            if traced {
                tout[2] += conv;
            }
            used += conv;
            out_segs.push((conv, traced));
        }
        out_segs.push((y - used, false));
        let depth = if tout.iter().any(|t| !t.is_zero()) { held } else { 0 };
        (tin, self.give(tx, from, to, asset_out, y, tout, out_segs, depth, note))
    }

    /// `amount` of `asset` leaves `from`: what it carries per policy, the FIFO runs, and the
    /// most hops the sender's traced funds have travelled (0 for a seed).
    fn take(&mut self, from: &str, asset: &str, amount: U256) -> (Traced, Vec<(U256, bool)>, u32) {
        let key = (from.to_string(), asset.to_string());
        let mut traced = [U256::ZERO; 3];
        // fifo: the runs this transfer carries, in queue order
        let mut segs: Vec<(U256, bool)> = Vec::new();
        let mut held = 0;
        if self.seeds.contains(from) {
            let h = self.holdings.entry(key).or_default();
            assert!(amount <= h.balance, "scenario bug: seed {from} sends {amount} {asset} but holds {}", h.balance);
            h.balance -= amount;
            traced = [amount; 3];
            segs.push((amount, true));
        } else if self.sources.contains(from) {
            // opening balances outside the case (genesis accounts): clean
            segs.push((amount, false));
        } else if !self.pools.contains_key(from) {
            let h = self.holdings.entry(key).or_default();
            assert!(amount <= h.balance, "scenario bug: {from} sends {amount} {asset} but holds {}", h.balance);
            // poison
            if h.poisoned {
                traced[0] = amount;
            }
            // haircut, exact by construction
            if !h.tainted.is_zero() {
                let num = amount * h.tainted;
                assert!(
                    (num % h.balance).is_zero(),
                    "scenario bug: haircut share of {amount} out of {from} ({} traced of {}) is not exact",
                    h.tainted,
                    h.balance
                );
                traced[1] = num / h.balance;
                h.tainted -= traced[1];
            }
            // fifo
            let mut need = amount;
            while !need.is_zero() {
                let front = h.queue.front_mut().expect("fifo queue covers the balance");
                let take = front.0.min(need);
                if front.1 {
                    traced[2] += take;
                }
                segs.push((take, front.1));
                front.0 -= take;
                need -= take;
                if front.0.is_zero() {
                    h.queue.pop_front();
                }
            }
            h.balance -= amount;
            held = h.depth;
        }
        (traced, segs, held)
    }

    /// `amount` of `asset` arrives at `to` carrying `traced` (runs `segs`) that travelled
    /// `depth` hops; a pool records it as a deposit.
    #[allow(clippy::too_many_arguments)]
    fn give(
        &mut self,
        tx: &str,
        from: &str,
        to: &str,
        asset: &str,
        amount: U256,
        traced: Traced,
        mut segs: Vec<(U256, bool)>,
        depth: u32,
        note: &str,
    ) -> Traced {
        if depth > 0 {
            self.max_hops = self.max_hops.max(depth);
        }
        if let Some(exchange) = self.pools.get(to).cloned() {
            // a sweep or a transfer between an exchange's own wallets is not a deposit
            if !self.pools.contains_key(from) {
                self.deposits.push(DepositTruth {
                    tx: tx.to_string(),
                    address: to.to_string(),
                    exchange,
                    asset: asset.to_string(),
                    amount_raw: amount.to_string(),
                    traced_raw: POLICIES
                        .iter()
                        .zip(traced)
                        .filter(|(_, t)| !t.is_zero())
                        .map(|(p, t)| (p.to_string(), t.to_string()))
                        .collect(),
                    note: note.to_string(),
                });
            }
            return traced;
        }
        if self.seeds.contains(to) {
            // seeds are traced in full whatever they received: only the balance matters
            self.holdings.entry((to.to_string(), asset.to_string())).or_default().balance += amount;
            return traced;
        }
        assert!(
            !self.sources.contains(to) || traced.iter().all(|t| t.is_zero()),
            "scenario bug: traced funds reach the opening-balance wallet {to}"
        );
        let h = self.holdings.entry((to.to_string(), asset.to_string())).or_default();
        h.balance += amount;
        h.poisoned |= !traced[0].is_zero();
        h.tainted += traced[1];
        if segs.is_empty() {
            segs.push((amount, false));
        }
        for (a, t) in segs {
            push(&mut h.queue, a, t);
        }
        if depth > 0 {
            h.depth = h.depth.max(depth);
        }
        traced
    }
}

fn push(q: &mut VecDeque<(U256, bool)>, amount: U256, traced: bool) {
    if amount.is_zero() {
        return;
    }
    match q.back_mut() {
        Some(last) if last.1 == traced => last.0 += amount,
        _ => q.push_back((amount, traced)),
    }
}

fn gcd(mut a: U256, mut b: U256) -> U256 {
    while !b.is_zero() {
        let r = a % b;
        a = b;
        b = r;
    }
    a
}
