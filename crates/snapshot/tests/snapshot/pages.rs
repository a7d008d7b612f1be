//! The page cache's state of a file, measured with the test's own `mincore` over its own
//! mapping, and a small snapshot to measure it on.

use chaintrace_model::{Address, Hash32, Position, Transfer, U256};
use chaintrace_snapshot::{SnapshotBuilder, SnapshotKey};
use std::os::fd::AsRawFd;

/// Share of `path`'s pages in the page cache, by a mapping of the test's own.
pub(crate) fn resident(path: &std::path::Path) -> f64 {
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

/// Drops `path`'s pages from the page cache (a file system that keeps every page, such as a
/// tmpfs, keeps them).
pub(crate) fn evict(path: &std::path::Path) {
    let file = std::fs::File::open(path).expect("open");
    // SAFETY: advice on an open descriptor.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(rc, 0, "posix_fadvise");
}

/// A snapshot of 20,000 transfers among 2,000 addresses (a file of a few MiB) in a new
/// directory on the target directory's disk (not a tmpfs, which never evicts): the directory
/// (removed when dropped), the file's path, and the number of sends of each address.
pub(crate) fn small_snapshot() -> (tempfile::TempDir, std::path::PathBuf, Vec<u64>) {
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
    (dir, path, sent)
}
