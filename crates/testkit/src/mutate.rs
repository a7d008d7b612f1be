//! The one byte mutator of the in-test fuzz stand-ins: seeded bit flips, truncations, splices,
//! inserted bytes and format tokens over real fixtures, so `cargo test` replays the same few
//! thousand hostile inputs on every run (the cargo-fuzz targets explore further).

use crate::rng::Rng;

/// Mutates byte strings deterministically from one seed.
#[derive(Clone, Debug)]
pub struct Mutator(Rng);

impl Mutator {
    /// A mutator whose mutations follow from `seed`.
    pub fn new(seed: u64) -> Mutator {
        Mutator(Rng::new(seed))
    }

    /// The next 64 random bits of the underlying stream.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n`; 0 when `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        self.0.below(n as u64) as usize
    }

    /// One to three mutations of `seed`: a bit flip, a truncation, a splice of a piece of one of
    /// `others` (or of `seed` itself when `others` is empty), an inserted byte, or one of `dict`'s
    /// tokens written over what follows a random position.
    pub fn mutate(&mut self, seed: &[u8], others: &[Vec<u8>], dict: &[&[u8]]) -> Vec<u8> {
        let mut b = seed.to_vec();
        for _ in 0..1 + self.below(3) {
            match self.below(5) {
                0 if !b.is_empty() => {
                    let at = self.below(b.len());
                    b[at] ^= 1 << self.below(8);
                }
                1 => b.truncate(self.below(b.len() + 1)),
                2 => {
                    let source = if others.is_empty() { b.clone() } else { others[self.below(others.len())].clone() };
                    let from = self.below(source.len());
                    let len = self.below(source.len().saturating_sub(from) + 1).min(512);
                    let at = self.below(b.len() + 1);
                    let end = (at + self.below(64)).min(b.len());
                    b.splice(at..end, source[from.min(source.len())..(from + len).min(source.len())].iter().copied());
                }
                3 => {
                    let at = self.below(b.len() + 1);
                    let byte = self.next_u64() as u8;
                    b.insert(at, byte);
                }
                _ if !dict.is_empty() => {
                    let tok = dict[self.below(dict.len())];
                    let at = self.below(b.len() + 1);
                    let end = (at + self.below(24)).min(b.len());
                    b.splice(at..end, tok.iter().copied());
                }
                _ => {}
            }
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_mutations_and_they_differ_from_the_input() {
        let seed = br#"{"a": [1, 2, 3], "b": "text"}"#;
        let (mut x, mut y) = (Mutator::new(7), Mutator::new(7));
        let mut changed = 0;
        for _ in 0..200 {
            let (a, b) = (x.mutate(seed, &[], &[b"null"]), y.mutate(seed, &[], &[b"null"]));
            assert_eq!(a, b);
            changed += usize::from(a != seed);
        }
        assert!(changed > 150, "only {changed} of 200 mutations changed the input");
    }
}
