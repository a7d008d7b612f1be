//! Taint policies: how much of what leaves an address is traced.
//!
//! Traced funds carry a *stratum*: the number of transfers they travelled from a seed (seed funds
//! are stratum 0). Keeping the strata apart is what makes `--hops` exact under mixing policies:
//! funds that reached an address at hop `N` are not followed out of it, even when the same
//! address also holds funds that arrived at hop 2.
//!
//! All arithmetic is on integers: haircut shares are `floor(amount × tainted / balance)`
//! computed in 512 bits, with the rounding remainder left in the address (so value is conserved
//! exactly: what leaves plus what stays equals what came in).

use std::collections::VecDeque;

use chaintrace_model::U256;
use ruint::aliases::U512;

/// The taint policy of a trace (SPEC "Tracing rules").
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Policy {
    /// Anything that touches traced funds is traced in full.
    Poison,
    /// Traced share proportional to the traced fraction of the balance at that moment.
    Haircut,
    /// First in, first out through each address (Bitcoin: through each transaction).
    Fifo,
}

impl Policy {
    /// `poison`, `haircut` or `fifo`, as in `--policy` and the case file.
    pub fn as_str(&self) -> &'static str {
        match self {
            Policy::Poison => "poison",
            Policy::Haircut => "haircut",
            Policy::Fifo => "fifo",
        }
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "poison" => Ok(Policy::Poison),
            "haircut" => Ok(Policy::Haircut),
            "fifo" => Ok(Policy::Fifo),
            other => Err(format!("unknown policy {other:?}: expected poison, haircut or fifo")),
        }
    }
}

/// A run of value in FIFO order: traced at a stratum, or untraced (`None`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Seg {
    /// Base units in the run.
    pub amount: U256,
    /// Hops the traced funds travelled from a seed; `None` for untraced value.
    pub stratum: Option<u8>,
}

/// The traced content of one transfer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Parcel {
    /// Poison: the strata present (bit `s`); the whole transfer is traced when any bit is set.
    Mask(u64),
    /// Haircut: traced amount per stratum, ascending strata, no zero entries.
    Amounts(Vec<(u8, U256)>),
    /// FIFO: the transfer's value in queue order.
    Segs(Vec<Seg>),
}

impl Parcel {
    /// The parcel of a transfer out of a seed: all of it, stratum 0.
    pub fn seed(policy: Policy, amount: U256) -> Parcel {
        match policy {
            Policy::Poison => Parcel::Mask(1),
            Policy::Haircut => Parcel::Amounts(if amount.is_zero() { vec![] } else { vec![(0, amount)] }),
            Policy::Fifo => Parcel::Segs(vec![Seg { amount, stratum: Some(0) }]),
        }
    }

    /// Nothing traced.
    pub fn none(policy: Policy, amount: U256) -> Parcel {
        match policy {
            Policy::Poison => Parcel::Mask(0),
            Policy::Haircut => Parcel::Amounts(vec![]),
            Policy::Fifo => Parcel::Segs(vec![Seg { amount, stratum: None }]),
        }
    }

    /// After one more transfer: every stratum `s < limit` becomes `s + 1`; funds already at
    /// `limit` hops are not followed any further.
    pub fn advance(self, limit: u32) -> Parcel {
        match self {
            Parcel::Mask(m) => {
                let keep = if limit >= 64 { u64::MAX } else { (1u64 << limit) - 1 };
                Parcel::Mask((m & keep) << 1)
            }
            Parcel::Amounts(mut v) => {
                // in place: the replay advances one parcel per traced transfer
                v.retain(|(s, _)| u32::from(*s) < limit);
                for (s, _) in &mut v {
                    *s += 1;
                }
                Parcel::Amounts(v)
            }
            Parcel::Segs(v) => {
                let mut out: Vec<Seg> = Vec::with_capacity(v.len());
                for seg in v {
                    let stratum = seg.stratum.filter(|s| u32::from(*s) < limit).map(|s| s + 1);
                    push_seg(&mut out, Seg { amount: seg.amount, stratum });
                }
                Parcel::Segs(out)
            }
        }
    }

    /// Only the funds that travelled fewer than `limit` transfers: funds at the hop limit are
    /// not followed any further, through a transfer (see [`Parcel::advance`]) or through a
    /// conversion or bridge crossing of the address that holds them.
    pub fn within(self, limit: u32) -> Parcel {
        let keep = |s: u8| u32::from(s) < limit;
        match self {
            Parcel::Mask(m) => Parcel::Mask(if limit >= 64 { m } else { m & ((1u64 << limit) - 1) }),
            Parcel::Amounts(v) => Parcel::Amounts(v.into_iter().filter(|(s, _)| keep(*s)).collect()),
            Parcel::Segs(v) => {
                let mut out: Vec<Seg> = Vec::with_capacity(v.len());
                for seg in v {
                    push_seg(&mut out, Seg { amount: seg.amount, stratum: seg.stratum.filter(|s| keep(*s)) });
                }
                Parcel::Segs(out)
            }
        }
    }

    /// Through a conversion of `amount_in` into `amount_out` (SPEC "Swaps"), where this parcel
    /// is what the owner's `amount_in` carried. Poison: every stratum present stays present
    /// (all of the output is traced). Haircut: for every hop count `k`, the output of the funds
    /// that travelled at most `k` transfers is `floor(amount_out × those funds / amount_in)`, so
    /// the traced output is `floor(amount_out × traced in / amount_in)` exactly. FIFO: the
    /// runs of the input leave in queue order and each converts at the swap's rate, rounded
    /// down; the rounding remainder is untraced and comes last. Strata do not advance: a
    /// conversion is not a hop.
    pub fn convert(self, amount_in: U256, amount_out: U256) -> Parcel {
        match self {
            Parcel::Mask(m) => Parcel::Mask(if amount_out.is_zero() { 0 } else { m }),
            Parcel::Amounts(v) => {
                if amount_in.is_zero() {
                    return Parcel::Amounts(vec![]);
                }
                let (mut within, mut before) = (U256::ZERO, U256::ZERO);
                let mut out = Vec::new();
                for (s, a) in v {
                    // never more than the input itself (a parcel larger than `amount_in` is a
                    // caller's mistake; clamp rather than overflow the share)
                    within = (within + a).min(amount_in);
                    let upto = mul_div(amount_out, within, amount_in);
                    let o = upto - before;
                    before = upto;
                    if !o.is_zero() {
                        out.push((s, o));
                    }
                }
                Parcel::Amounts(out)
            }
            Parcel::Segs(v) => {
                if amount_in.is_zero() {
                    return Parcel::Segs(if amount_out.is_zero() {
                        vec![]
                    } else {
                        vec![Seg { amount: amount_out, stratum: None }]
                    });
                }
                let mut out: Vec<Seg> = Vec::with_capacity(v.len() + 1);
                let mut used = U256::ZERO;
                for seg in v {
                    let conv = mul_div(seg.amount, amount_out, amount_in).min(amount_out - used);
                    used += conv;
                    push_seg(&mut out, Seg { amount: conv, stratum: seg.stratum });
                }
                push_seg(&mut out, Seg { amount: amount_out - used, stratum: None });
                Parcel::Segs(out)
            }
        }
    }

    /// The traced part of a transfer of `amount` carrying this parcel.
    pub fn traced(&self, amount: U256) -> U256 {
        match self {
            Parcel::Mask(0) => U256::ZERO,
            Parcel::Mask(_) => amount,
            Parcel::Amounts(v) => v.iter().map(|(_, a)| *a).fold(U256::ZERO, |x, y| x + y),
            Parcel::Segs(v) => {
                v.iter().filter(|s| s.stratum.is_some()).map(|s| s.amount).fold(U256::ZERO, |x, y| x + y)
            }
        }
    }

    /// Bit `s` set when funds of stratum `s` are present (with a non-zero amount).
    pub fn mask(&self) -> u64 {
        match self {
            Parcel::Mask(m) => *m,
            Parcel::Amounts(v) => v.iter().filter(|(_, a)| !a.is_zero()).fold(0, |m, (s, _)| m | 1u64 << s),
            Parcel::Segs(v) => {
                v.iter().filter(|s| !s.amount.is_zero()).filter_map(|s| s.stratum).fold(0, |m, s| m | 1u64 << s)
            }
        }
    }
}

/// The value of `x` when it is below 2^128.
#[inline]
fn small(x: U256) -> Option<u128> {
    let l = x.as_limbs();
    (l[2] == 0 && l[3] == 0).then(|| u128::from(l[0]) | u128::from(l[1]) << 64)
}

/// `floor(a × b / d)` for `d > 0`, exactly: in `u128` when the product fits, in 256 bits when
/// both factors are below 2^128, and in 512 bits otherwise (the result must fit 256 bits, as
/// it does for the shares the policies take: `a ≤ d` or `b ≤ d`).
#[inline]
pub(crate) fn mul_div(a: U256, b: U256, d: U256) -> U256 {
    if let (Some(x), Some(y)) = (small(a), small(b)) {
        if let (Some(p), Some(z)) = (x.checked_mul(y), small(d)) {
            return U256::from(p / z);
        }
        // both factors below 2^128: the product fits 256 bits
        return a.wrapping_mul(b) / d;
    }
    U256::from(U512::from(a) * U512::from(b) / U512::from(d))
}

fn push_seg(q: &mut Vec<Seg>, seg: Seg) {
    if seg.amount.is_zero() {
        return;
    }
    match q.last_mut() {
        Some(last) if last.stratum == seg.stratum => last.amount += seg.amount,
        _ => q.push(seg),
    }
}

/// One address's holdings of one asset, as far as the policy needs to know.
#[derive(Clone, Debug)]
pub enum State {
    /// Poison: which strata the address has received.
    Poison {
        /// Bit `s` set once funds of stratum `s` arrived.
        mask: u64,
    },
    /// Haircut: the balance and its traced part per stratum.
    Haircut {
        /// Everything the address holds, base units.
        balance: U256,
        /// Traced base units held, indexed by stratum.
        strata: Vec<U256>,
    },
    /// FIFO: the balance as a queue of runs, oldest first.
    Fifo {
        /// Runs of value, oldest first.
        queue: VecDeque<Seg>,
        /// Sum of the runs, base units.
        total: U256,
    },
}

impl State {
    /// An empty holding under `policy`, with room for strata `0..=hops`.
    pub fn new(policy: Policy, hops: u32) -> State {
        match policy {
            Policy::Poison => State::Poison { mask: 0 },
            Policy::Haircut => State::Haircut { balance: U256::ZERO, strata: vec![U256::ZERO; hops as usize + 1] },
            Policy::Fifo => State::Fifo { queue: VecDeque::new(), total: U256::ZERO },
        }
    }

    /// `amount` arrives carrying `parcel` (`None`: untraced).
    pub fn receive(&mut self, amount: U256, parcel: Option<&Parcel>) {
        match self {
            State::Poison { mask } => {
                if let Some(p) = parcel {
                    *mask |= p.mask();
                }
            }
            State::Haircut { balance, strata } => {
                *balance += amount;
                if let Some(Parcel::Amounts(v)) = parcel {
                    for (s, a) in v {
                        if let Some(slot) = strata.get_mut(*s as usize) {
                            *slot += *a;
                        }
                    }
                }
            }
            State::Fifo { queue, total } => {
                *total += amount;
                match parcel {
                    Some(Parcel::Segs(v)) => {
                        for seg in v {
                            push_back(queue, *seg);
                        }
                    }
                    _ => push_back(queue, Seg { amount, stratum: None }),
                }
            }
        }
    }

    /// `amount` leaves; returns what it carries (strata as held here, not yet advanced).
    ///
    /// When `amount` exceeds what the address is known to hold (its history before the loaded
    /// range, or value that left without a transfer record), the shortfall is treated as an
    /// untraced opening balance: it is never attributed to the traced funds.
    pub fn send(&mut self, amount: U256) -> Parcel {
        match self {
            State::Poison { mask } => Parcel::Mask(*mask),
            State::Haircut { balance, strata } => {
                if amount > *balance {
                    *balance = amount;
                }
                // most sends in a replay leave holdings with nothing traced: no sums then
                if amount.is_zero() || strata.iter().all(|t| t.is_zero()) {
                    *balance -= amount;
                    return Parcel::Amounts(vec![]);
                }
                // For every hop count k, what leaves of the funds that travelled at most k
                // transfers is floor(amount × (those funds) / balance): the documented rule
                // applied to each prefix of the strata. So the funds a hop limit still follows
                // never get more than their exact proportional share, and the total is
                // floor(amount × tainted / balance). (Handing the rounding remainder of
                // per-stratum floors to the lowest strata instead could credit a short-path
                // stratum with a unit its exact share does not reach.)
                let mut out = Vec::new();
                let (mut within, mut before) = (U256::ZERO, U256::ZERO);
                for (s, t) in strata.iter_mut().enumerate() {
                    if t.is_zero() {
                        // `within` unchanged: `upto` would equal `before`, nothing leaves
                        continue;
                    }
                    within += *t;
                    let upto = mul_div(amount, within, *balance);
                    // ≤ ceil(amount × t / balance) ≤ t, since amount ≤ balance
                    let o = upto - before;
                    before = upto;
                    *t -= o;
                    if !o.is_zero() {
                        out.push((s as u8, o));
                    }
                }
                *balance -= amount;
                Parcel::Amounts(out)
            }
            State::Fifo { queue, total } => {
                if amount > *total {
                    queue.push_front(Seg { amount: amount - *total, stratum: None });
                    *total = amount;
                }
                *total -= amount;
                let mut need = amount;
                let mut out = Vec::new();
                while !need.is_zero() {
                    let Some(front) = queue.front_mut() else { break };
                    if front.amount <= need {
                        need -= front.amount;
                        let seg = *front;
                        queue.pop_front();
                        push_seg(&mut out, seg);
                    } else {
                        front.amount -= need;
                        push_seg(&mut out, Seg { amount: need, stratum: front.stratum });
                        need = U256::ZERO;
                    }
                }
                Parcel::Segs(out)
            }
        }
    }

    /// Whether the holding holds traced funds: what a [`State::send`] could carry.
    pub fn holds_traced(&self) -> bool {
        match self {
            State::Poison { mask } => *mask != 0,
            State::Haircut { strata, .. } => strata.iter().any(|t| !t.is_zero()),
            State::Fifo { queue, .. } => queue.iter().any(|s| s.stratum.is_some()),
        }
    }

    /// `amount` leaves a holding that holds nothing traced ([`State::holds_traced`] is false):
    /// the same change as [`State::send`], without building the parcel (which carries nothing).
    pub fn send_untraced(&mut self, amount: U256) {
        debug_assert!(!self.holds_traced());
        match self {
            State::Poison { .. } => {}
            State::Haircut { balance, .. } => *balance = balance.saturating_sub(amount),
            State::Fifo { queue, total } => {
                *total = total.saturating_sub(amount);
                queue.clear();
                push_back(queue, Seg { amount: *total, stratum: None });
            }
        }
    }

    /// Traced value currently held (haircut/FIFO; poison has no amounts).
    pub fn tainted(&self) -> U256 {
        match self {
            State::Poison { .. } => U256::ZERO,
            State::Haircut { strata, .. } => strata.iter().fold(U256::ZERO, |x, y| x + *y),
            State::Fifo { queue, .. } => {
                queue.iter().filter(|s| s.stratum.is_some()).fold(U256::ZERO, |x, s| x + s.amount)
            }
        }
    }
}

fn push_back(q: &mut VecDeque<Seg>, seg: Seg) {
    if seg.amount.is_zero() {
        return;
    }
    match q.back_mut() {
        Some(last) if last.stratum == seg.stratum => last.amount += seg.amount,
        _ => q.push_back(seg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(x: u64) -> U256 {
        U256::from(x)
    }

    #[test]
    fn haircut_is_proportional_and_exact() {
        let mut s = State::new(Policy::Haircut, 6);
        s.receive(u(30), Some(&Parcel::Amounts(vec![(1, u(30))])));
        s.receive(u(70), None);
        // 30% tainted: sending 10 carries 3
        assert_eq!(s.send(u(10)), Parcel::Amounts(vec![(1, u(3))]));
        // 27 of 90 left; sending 1 carries floor(0.3) = 0, remainder stays
        assert_eq!(s.send(u(1)), Parcel::Amounts(vec![]));
        assert_eq!(s.tainted(), u(27));
        // the rest carries everything that is left
        assert_eq!(s.send(u(89)), Parcel::Amounts(vec![(1, u(27))]));
        assert_eq!(s.tainted(), u(0));
    }

    #[test]
    fn haircut_shortfall_is_untraced_opening_balance() {
        let mut s = State::new(Policy::Haircut, 6);
        s.receive(u(10), Some(&Parcel::Amounts(vec![(2, u(10))])));
        // 40 leaves but only 10 is known: 30 came from before the loaded history
        assert_eq!(s.send(u(40)), Parcel::Amounts(vec![(2, u(10))]));
        let mut s = State::new(Policy::Haircut, 6);
        s.receive(u(10), Some(&Parcel::Amounts(vec![(2, u(10))])));
        s.receive(u(10), None);
        assert_eq!(s.send(u(5)), Parcel::Amounts(vec![(2, u(2))]), "floor(5*10/20)=2");
    }

    #[test]
    fn fifo_queue_by_hand() {
        let mut s = State::new(Policy::Fifo, 6);
        s.receive(u(5), None); // clean 5
        s.receive(u(10), Some(&Parcel::Segs(vec![Seg { amount: u(10), stratum: Some(1) }])));
        s.receive(u(3), None);
        // first 7 out: 5 clean + 2 traced
        assert_eq!(
            s.send(u(7)),
            Parcel::Segs(vec![Seg { amount: u(5), stratum: None }, Seg { amount: u(2), stratum: Some(1) }])
        );
        // next 9: 8 traced + 1 clean
        let p = s.send(u(9));
        assert_eq!(p.traced(u(9)), u(8));
        assert_eq!(s.tainted(), u(0));
        assert_eq!(p.clone().advance(6).mask(), 0b100);
        assert_eq!(p.advance(1).mask(), 0, "stratum 1 is at the limit of 1 hop");
    }

    fn reference(a: U256, b: U256, d: U256) -> U256 {
        U256::from(U512::from(a) * U512::from(b) / U512::from(d))
    }

    /// A value of about `bits` bits: the fast paths switch at 64 and 128 bits.
    fn sized(bits: u32, seed: u64) -> U256 {
        let wide = U256::from_limbs([seed, seed.rotate_left(17), seed.rotate_left(31), seed.rotate_left(47)]);
        if bits >= 256 {
            wide
        } else {
            wide & ((U256::from(1u8) << bits as usize) - U256::from(1u8))
        }
    }

    proptest::proptest! {
        /// Every path of `mul_div` (u128, 256-bit, 512-bit) equals the 512-bit reference, for
        /// factors at most the divisor, as the policies use it.
        #[test]
        fn mul_div_equals_512_bit_reference(
            ba in 0u32..=256, bb in 0u32..=256, bd in 1u32..=256,
            sa in proptest::prelude::any::<u64>(), sb in proptest::prelude::any::<u64>(),
            sd in proptest::prelude::any::<u64>(),
        ) {
            let d = sized(bd, sd).max(U256::from(1u8));
            let a = sized(ba, sa).min(d);
            let b = sized(bb, sb);
            proptest::prop_assert_eq!(mul_div(a, b, d), reference(a, b, d));
            proptest::prop_assert_eq!(mul_div(b, a, d), reference(b, a, d));
        }
    }

    #[test]
    fn mul_div_edges() {
        let max = U256::MAX;
        let two128 = U256::from(1u8) << 128;
        for (a, b, d) in [
            (max, max, max),
            (two128 - u(1), two128 - u(1), two128 - u(1)),
            (two128 - u(1), two128 - u(1), two128),
            (u(u64::MAX), u(u64::MAX), u(1)),
            (u(0), max, u(3)),
            (u(7), u(5), u(3)),
        ] {
            assert_eq!(mul_div(a, b, d), reference(a, b, d), "{a} {b} {d}");
        }
    }

    #[test]
    fn poison_masks_advance() {
        assert_eq!(Parcel::Mask(0b101).advance(2), Parcel::Mask(0b010));
        assert_eq!(Parcel::Mask(1).advance(64), Parcel::Mask(2));
    }

    proptest::proptest! {
        /// The untraced fast path changes a clean holding exactly as `send` does: the next
        /// traced arrival and every later send carry the same parcels either way.
        #[test]
        fn send_untraced_equals_send_on_a_clean_holding(
            ops in proptest::collection::vec((proptest::prelude::any::<bool>(), 0u64..50), 1..20),
            traced in 1u64..40,
            later in proptest::collection::vec(0u64..60, 1..6),
        ) {
            for policy in [Policy::Poison, Policy::Haircut, Policy::Fifo] {
                let (mut slow, mut fast) = (State::new(policy, 3), State::new(policy, 3));
                for &(is_send, x) in &ops {
                    if is_send {
                        proptest::prop_assert!(!fast.holds_traced());
                        let p = slow.send(u(x));
                        proptest::prop_assert!(p.traced(u(x)).is_zero() && p.mask() == 0);
                        fast.send_untraced(u(x));
                    } else {
                        slow.receive(u(x), None);
                        fast.receive(u(x), None);
                    }
                }
                let p = Parcel::seed(policy, u(traced)).advance(3);
                slow.receive(u(traced), Some(&p));
                fast.receive(u(traced), Some(&p));
                proptest::prop_assert!(fast.holds_traced());
                for &x in &later {
                    proptest::prop_assert_eq!(slow.send(u(x)), fast.send(u(x)), "{} sending {}", policy, x);
                }
            }
        }
    }
}
