//! Where the checkout under test is, for the tests that read its files (`tests/data`, the demo,
//! the contracts).
//!
//! Not `env!("CARGO_MANIFEST_DIR")`: that is where a test was *compiled*. Two checkouts that
//! share a build directory (the session's and CI's fresh clone both use one under `~/.cache`)
//! also share compiled tests: Cargo hashes a path package by its path inside the workspace, so a
//! test compiled in one checkout counts as fresh in the other, and would read the first
//! checkout's files (or fail when that one is gone). Cargo sets `CARGO_MANIFEST_DIR` again
//! when it runs a test or a bench; that one names the checkout being tested.

use std::path::{Path, PathBuf};

/// The root of the checkout whose tests are running: the nearest directory with a `Cargo.lock`
/// above the running package (above this crate's compiled place when the test was started
/// without Cargo).
pub fn checkout() -> PathBuf {
    let compiled = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let running = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    root_of(running.as_deref(), &compiled)
        .unwrap_or_else(|| panic!("no Cargo.lock above {} (run the tests from a checkout)", compiled.display()))
}

/// The checkout above the running package's directory, else above the compiled one.
fn root_of(running: Option<&Path>, compiled: &Path) -> Option<PathBuf> {
    let above = |dir: &Path| dir.ancestors().find(|a| a.join("Cargo.lock").is_file()).map(Path::to_path_buf);
    running.and_then(above).or_else(|| above(compiled))
}

/// `tests/data/<rel>` of the checkout under test: the real public data the tests read.
pub fn test_data(rel: impl AsRef<Path>) -> PathBuf {
    checkout().join("tests/data").join(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_checkout_wins_over_the_compiled_one() {
        // (nothing here assumes the compiled checkout still exists: in the case this guards
        // against, it may be gone)
        let compiled = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        // another checkout (CI's fresh clone) running a test compiled elsewhere
        let other = tempfile::tempdir().expect("tempdir");
        std::fs::write(other.path().join("Cargo.lock"), "").expect("lock");
        let package = other.path().join("crates/bitcoin");
        std::fs::create_dir_all(&package).expect("package dir");
        assert_eq!(root_of(Some(&package), &compiled), Some(other.path().to_path_buf()));
        // started without Cargo, or from somewhere that is no checkout: the compiled one
        let nowhere = tempfile::tempdir().expect("tempdir");
        assert_eq!(root_of(Some(nowhere.path()), &compiled), root_of(None, &compiled));
        // what the tests call: the checkout Cargo runs this test from, with its data
        let running = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
        let here = checkout();
        assert_eq!(Some(&here), root_of(running.as_deref(), &compiled).as_ref());
        assert!(here.join("tests/data").is_dir() && here.join("crates/testkit").is_dir(), "{}", here.display());
        assert_eq!(test_data("prices"), here.join("tests/data/prices"));
    }
}
