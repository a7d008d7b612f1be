//! `Snapshot::recache`: a file partly evicted from the page cache is read back whole (and in
//! order); a file cached whole is left alone; the answers stay the same. The page cache's state
//! is measured here with the test's own `mincore` over its own mapping of the file.

use chaintrace_model::{Address, Direction, Hash32, Position, Transfer, U256};
use chaintrace_snapshot::{Snapshot, SnapshotBuilder, SnapshotKey};
use std::os::fd::AsRawFd;

/// Share of `path`'s pages in the page cache, by a mapping of the test's own.
fn resident(path: &std::path::Path) -> f64 {
    let file = std::fs::File::open(path).expect("open");
    // SAFETY: a read-only map of a file nothing writes while the test runs.
    let map = unsafe { memmap2::Mmap::map(&file) }.expect("map");
    let page = 4096usize;
    let mut vec = vec![0u8; map.len().div_ceil(page)];
    // SAFETY: a live page-aligned mapping and one byte per page of it.
    let rc = unsafe { libc::mincore(map.as_ptr() as *mut libc::c_void, map.len(), vec.as_mut_ptr()) };
    assert_eq!(rc, 0, "mincore");
    vec.iter().filter(|&&b| b & 1 == 1).count() as f64 / vec.len() as f64
}

fn evict(path: &std::path::Path) {
    let file = std::fs::File::open(path).expect("open");
    // SAFETY: advice on an open descriptor.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(rc, 0, "posix_fadvise");
}

#[test]
fn a_partly_evicted_snapshot_is_cached_whole_again() {
    // on the target directory's disk, not a tmpfs that never evicts
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let path = dir.path().join("t.snap");
    let key = SnapshotKey { chain: "t".into(), tip_height: None, tip_hash: None, transfers: 0, digest: "x".into() };
    let mut b = SnapshotBuilder::create(&path, key).expect("create");
    // ~20k transfers among 2,000 addresses: a file of a few MiB
    let mut sent = vec![0u64; 2000];
    for i in 0..20_000u64 {
        let (f, t) = ((i * 7919) % 2000, (i * 104_729 + 1) % 2000);
        sent[f as usize] += 1;
        let mut tx = [0u8; 32];
        tx[..8].copy_from_slice(&i.to_be_bytes());
        let a = |n: u64| {
            Address::Evm({
                let mut x = [0u8; 20];
                x[..8].copy_from_slice(&n.to_be_bytes());
                x
            })
        };
        b.push(&Transfer {
            tx: Hash32(tx),
            height: i / 100,
            pos: Position { tx_index: (i % 100) as u32, sub: 0 },
            time: 1_700_000_000 + i,
            from: a(f),
            to: a(t),
            asset: chaintrace_model::Asset::Native,
            amount: U256::from(i + 1),
        })
        .expect("push");
    }
    b.finish().expect("finish");
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
