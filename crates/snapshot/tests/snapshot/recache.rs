//! `Snapshot::recache`: a file partly evicted from the page cache is read back whole (and in
//! order); a file cached whole is left alone; the answers stay the same. The page cache's state
//! is measured here with the test's own `mincore` over its own mapping of the file.

use chaintrace_model::{Direction, U256};
use chaintrace_snapshot::Snapshot;

use crate::pages::{evict, resident, small_snapshot};

#[test]
fn a_partly_evicted_snapshot_is_cached_whole_again() {
    let (_dir, path, sent) = small_snapshot();
    let snap = Snapshot::open(&path).expect("open");
    let answers = |s: &Snapshot| -> Vec<(u64, u32, U256)> {
        let mut v = Vec::new();
        for id in (0..2000u32).step_by(97) {
            s.records(id, Direction::Out, None, |r| v.push((r.height, r.other, r.amount))).expect("records");
        }
        v
    };
    let before = answers(&snap);
    assert_eq!(before.len() as u64, (0..2000).step_by(97).map(|i| sent[i]).sum::<u64>(), "every send read");

    evict(&path);
    let measured = resident(&path);
    let r = snap.recache();
    if measured < 1.0 {
        // the kernel dropped pages: recache saw it and read the file back whole
        let (cached, all) = r.pages.expect("mincore works on Linux");
        assert!(cached < all, "recache saw {cached} of {all} pages cached, the test measured {measured}");
        assert!(r.reread, "{r}");
        assert_eq!(resident(&path), 1.0, "after recache the whole file is cached");
    } else {
        // a file system that keeps every page: nothing to do, and recache did nothing
        assert!(r.pages.is_some_and(|(cached, all)| cached == all), "{r}");
        assert!(!r.reread, "{r}");
    }
    // now cached whole: left alone
    let again = snap.recache();
    assert!(again.pages.is_some_and(|(cached, all)| cached == all), "{again}");
    assert!(!again.reread, "{again}");
    assert!(again.to_string().contains("cached whole"), "{again}");
    assert_eq!(answers(&snap), before, "the same answers after re-caching");
}
