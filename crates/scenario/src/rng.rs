//! The scenario's seeded RNG: the project's one SplitMix64, from the test kit, so the same seed
//! gives the same scenario on every machine.

pub use chaintrace_testkit::rng::Rng;
