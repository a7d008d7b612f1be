//! The one seeded RNG of the project's tests, benches and test-data generators (SplitMix64):
//! the same seed gives the same stream on every machine, with no `rand` dependency.

/// SplitMix64 (Steele, Lea and Flood 2014): fast, statistically sound for test data, and
/// trivially reproducible from one `u64` seed (any seed, zero included).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A stream starting from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in `0..n` (modulo bias is negligible for test data); 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// Uniform in `lo..=hi`. Panics when `lo > hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo <= hi, "empty range {lo}..={hi}");
        let span = hi - lo + 1;
        if span == 0 {
            return self.next_u64();
        }
        lo + self.next_u64() % span
    }

    /// One element of a non-empty slice. Panics on an empty one.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        assert!(!items.is_empty(), "pick from an empty slice");
        &items[self.range(0, items.len() as u64 - 1) as usize]
    }

    /// True with probability `num/den` (`den` > 0).
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.range(1, den) <= num
    }

    /// A fresh 20-byte EVM address (lower-case `0x` hex), never a precompile (first byte ≥ 0x10).
    pub fn address(&mut self) -> String {
        let mut b = [0u8; 20];
        for chunk in b.chunks_mut(8) {
            let v = self.next_u64().to_be_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        b[0] |= 0x10;
        format!("0x{}", hex::encode(b))
    }
}

/// SplitMix64's output function (a bijection on `u64`).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A fresh seed for a randomised test run, from the clock's nanoseconds and the process id
/// (mixed, so close clocks give distant seeds). Print it so a failure can be replayed.
pub fn fresh_seed() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970");
    Rng::new(t.as_nanos() as u64 ^ (u64::from(std::process::id()) << 32)).next_u64()
}

/// The seed of a randomised test run: the value of the environment variable `var` when it holds
/// one (to replay a failure), else a [`fresh_seed`]. Print it so a failure can be replayed.
pub fn seed_from_env(var: &str) -> u64 {
    std::env::var(var).ok().and_then(|s| s.parse().ok()).unwrap_or_else(fresh_seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
    }

    #[test]
    fn splitmix64_reference_values() {
        // The first outputs for seed 0 of the reference implementation (Vigna's splitmix64.c).
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn range_is_inclusive_and_bounded() {
        let mut r = Rng::new(1);
        let mut seen = [false; 4];
        for _ in 0..200 {
            let v = r.range(3, 6);
            assert!((3..=6).contains(&v));
            seen[(v - 3) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn chance_and_below_agree_on_the_same_draw() {
        // `chance(p, 100)` is true exactly when `below(100) < p` on the same stream.
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        for p in 0..=100 {
            assert_eq!(a.chance(p, 100), b.below(100) < p);
        }
    }
}
