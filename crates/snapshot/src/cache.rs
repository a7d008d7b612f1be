//! How the page cache holds a snapshot file (Linux; elsewhere these do nothing).
//!
//! A trace reads its record lists with `pread`, and each read costs a page-cache look-up per
//! cached folio it spans. Read in order, the kernel caches the file in large folios; written
//! through a mapping in scattered order, or evicted and brought back by the traces' own random
//! reads, it holds single 4 KiB pages, and a warm 10M-transfer trace spends ~8–15% more CPU
//! (`filemap_get_read_batch` rose from ~3% to ~9% of a haircut trace's samples). A build reads
//! its file back in order before renaming it into place ([`reload_in_order`]); a long-lived
//! reader (the workbench, the trace benchmark) asks [`crate::Snapshot::recache`] at start.

use std::fs::File;

/// Drops `file`'s pages from the page cache and reads it back in order, so the cache holds it
/// the way a sequential read lays it out. Pages some process has mapped stay as they are (the
/// kernel does not drop them). A failure costs only speed, never the file: errors are ignored.
/// Returns whether the file was read back.
pub(crate) fn reload_in_order(file: &File) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::FileExt;
        // SAFETY: advice on an open descriptor; it changes only what the kernel caches.
        let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        if rc != 0 {
            return false;
        }
        // read ahead as far as the kernel will (a reader opens its file for random access)
        // SAFETY: an advice on an open descriptor; it reads or changes no memory of ours
        unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL) };
        let mut buf = vec![0u8; 1 << 20];
        let mut at = 0u64;
        while let Ok(n) = file.read_at(&mut buf, at) {
            if n == 0 {
                break;
            }
            at += n as u64;
        }
        true
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        false
    }
}

/// Tells the kernel that `file` is read at random: a `pread` that misses the page cache reads
/// the pages it asks for and not a read-ahead window after them. A trace reads ~30k lists of a
/// few hundred bytes at random; from a cold cache each would otherwise read tens of KiB it never
/// uses (the window grows to the device's setting: 8 MiB on some disks). A hint: a refusal
/// costs only speed.
pub(crate) fn random_access(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: an advice on an open descriptor; it reads or changes no memory of ours
        unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_RANDOM) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

/// Whether the page cache holds fewer than nine in ten of (at most) 256 pages spread evenly
/// over `range` of `map` (a file's mapping): a sample, a few hundred one-page `mincore` calls
/// whatever the file's size. `false` where residency cannot be asked (not Linux, or refused).
pub(crate) fn mostly_uncached(map: &[u8], range: std::ops::Range<usize>) -> bool {
    #[cfg(target_os = "linux")]
    {
        const SAMPLES: usize = 256;
        let Some(page) = page_size() else { return false };
        let range = range.start.min(map.len())..range.end.min(map.len());
        let pages = range.len().div_ceil(page);
        let (first, samples) = (range.start / page, SAMPLES.min(pages));
        let (mut asked, mut cached) = (0usize, 0usize);
        for k in 0..samples {
            let p = first + k * pages / samples;
            let mut v = 0u8;
            // SAFETY: one page inside the mapping `map` (which starts on a page), one byte of
            // result
            let rc = unsafe { libc::mincore(map.as_ptr().add(p * page) as *mut libc::c_void, 1, &mut v) };
            if rc != 0 {
                return false;
            }
            asked += 1;
            cached += usize::from(v & 1 == 1);
        }
        cached * 10 < asked * 9
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (map, range);
        false
    }
}

/// Asks the kernel to start reading byte ranges `ranges` of `file` (ascending by start) into
/// the page cache, and returns without waiting for them: one advice per run of ranges that
/// share or touch a page. The reads that follow wait only for what is still in flight, and the
/// device works on many at once instead of one `pread` at a time (from this machine's disk
/// ~30 µs a random page one at a time, ~12 µs with many in flight). The advice is given on a
/// thread of its own, through a copy of the descriptor: it blocks whenever the device's queue
/// is full, and the caller's reads start meanwhile (a haircut trace's replay, which asks for
/// ~45k lists at once, 16% faster from an evicted snapshot than with the advice given first).
/// A hint: a refusal costs only speed.
pub(crate) fn will_need(file: &File, ranges: &[(usize, usize)]) {
    #[cfg(target_os = "linux")]
    {
        // runs joined by 4 KiB page (a larger page would only join more of them)
        const PAGE: usize = 4096;
        let runs = page_runs(ranges, PAGE);
        if runs.is_empty() {
            return;
        }
        if let Ok(copy) = file.try_clone() {
            let advising = std::thread::Builder::new().name("read-ahead".into()).spawn(move || advise(&copy, &runs));
            if advising.is_ok() {
                return;
            }
        }
        // no thread: advised here, before the reads
        advise(file, &page_runs(ranges, PAGE));
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, ranges);
}

/// `POSIX_FADV_WILLNEED` for each of `runs` of `file`.
#[cfg(target_os = "linux")]
fn advise(file: &File, runs: &[(usize, usize)]) {
    use std::os::fd::AsRawFd;
    for &(a, b) in runs {
        let (Ok(at), Ok(len)) = (libc::off_t::try_from(a), libc::off_t::try_from(b - a)) else { continue };
        // SAFETY: an advice on an open descriptor; it reads or changes no memory of ours
        unsafe { libc::posix_fadvise(file.as_raw_fd(), at, len, libc::POSIX_FADV_WILLNEED) };
    }
}

/// `ranges` (ascending by start; empty ones skipped) joined where they share or touch a page
/// of `page` bytes: one advice per run.
fn page_runs(ranges: &[(usize, usize)], page: usize) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &(a, b) in ranges.iter().filter(|(a, b)| b > a) {
        match runs.last_mut() {
            Some((_, e)) if a / page <= e.div_ceil(page) => *e = (*e).max(b),
            _ => runs.push((a, b)),
        }
    }
    runs
}

/// Reads bytes `range` of `file` into the page cache and waits for them: all asked for at once
/// ([`will_need`]), then read in order, 4 MiB at a time, into a scratch buffer. A read error
/// stops it early (it costs only speed).
pub(crate) fn read_in(file: &File, range: std::ops::Range<usize>) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        will_need(file, &[(range.start, range.end)]);
        let mut buf = vec![0u8; (4 << 20).min(range.len())];
        let mut at = range.start;
        while at < range.end {
            let n = buf.len().min(range.end - at);
            match file.read_at(&mut buf[..n], at as u64) {
                Ok(0) | Err(_) => break,
                Ok(k) => at += k,
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (file, range);
}

/// The machine's page size (`None` if the system will not say).
#[cfg(target_os = "linux")]
fn page_size() -> Option<usize> {
    // SAFETY: sysconf has no preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok().filter(|&p| p > 0)
}

/// How many of `map`'s pages the page cache holds, and how many it has (`mincore`); `None`
/// where it cannot tell.
pub(crate) fn resident_pages(map: &[u8]) -> Option<(u64, u64)> {
    #[cfg(target_os = "linux")]
    {
        let page = page_size()?;
        if map.is_empty() {
            return Some((0, 0));
        }
        let pages = map.len().div_ceil(page);
        let mut vec = vec![0u8; pages];
        // SAFETY: `map` is a live mapping (page-aligned: it starts a mmap); `vec` has one byte
        // per page of it, as mincore requires.
        let rc = unsafe { libc::mincore(map.as_ptr() as *mut libc::c_void, map.len(), vec.as_mut_ptr()) };
        if rc != 0 {
            return None;
        }
        let resident = vec.iter().filter(|&&b| b & 1 == 1).count();
        Some((resident as u64, pages as u64))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = map;
        None
    }
}

/// The machine's memory in bytes (`sysinfo`), `None` where it cannot tell.
pub(crate) fn total_memory() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `sysinfo` is plain integers, for which all zeros is a valid value.
        let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
        // SAFETY: the call fills the struct it is given a valid pointer to.
        if unsafe { libc::sysinfo(&mut info) } != 0 {
            return None;
        }
        // `c_ulong`: 64 bits here, 32 on 32-bit targets
        Some((info.totalram as u64).saturating_mul(u64::from(info.mem_unit)))
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// Whether a file of `len` bytes may be read back whole by [`crate::Snapshot::recache`]: it
/// fits in half of `memory` (unknown memory: never).
pub(crate) fn fits_in_memory(len: u64, memory: Option<u64>) -> bool {
    memory.is_some_and(|m| len <= m / 2)
}

/// Whether [`crate::Snapshot::recache`] reads a file of `len` bytes back: some of its pages
/// are missing, and it fits in half of `memory` (unknown memory: never).
pub(crate) fn should_reread(len: u64, memory: Option<u64>, pages: Option<(u64, u64)>) -> bool {
    fits_in_memory(len, memory) && pages.is_some_and(|(cached, all)| cached < all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_that_share_or_touch_a_page_are_asked_for_together() {
        let runs = |r: &[(usize, usize)]| page_runs(r, 4096);
        assert_eq!(runs(&[]), vec![]);
        assert_eq!(runs(&[(10, 10), (20, 20)]), vec![], "empty ranges ask for nothing");
        assert_eq!(runs(&[(0, 100), (200, 300)]), vec![(0, 300)], "the same page");
        assert_eq!(runs(&[(0, 4096), (4096, 4200)]), vec![(0, 4200)], "the next page, touching");
        assert_eq!(runs(&[(0, 100), (8191, 8200)]), vec![(0, 8200)], "the next page");
        assert_eq!(runs(&[(0, 100), (8192, 8200)]), vec![(0, 100), (8192, 8200)], "a page between");
        assert_eq!(
            runs(&[(0, 5000), (100, 200), (8000, 9000)]),
            vec![(0, 9000)],
            "inside, then on the run's last page"
        );
        assert_eq!(runs(&[(4100, 4200), (12_288, 12_300)]), vec![(4100, 4200), (12_288, 12_300)]);
    }

    #[test]
    fn only_a_partly_cached_file_that_fits_in_half_the_memory_is_read_back() {
        let gib = 1u64 << 30;
        assert!(should_reread(gib, Some(4 * gib), Some((10, 20))));
        assert!(!should_reread(gib, Some(4 * gib), Some((20, 20))), "cached whole");
        assert!(!should_reread(3 * gib, Some(4 * gib), Some((10, 20))), "more than half the memory");
        assert!(!should_reread(gib, None, Some((10, 20))), "memory unknown");
        assert!(!should_reread(gib, Some(4 * gib), None), "residency unknown");
        assert!(fits_in_memory(2 * gib, Some(4 * gib)), "exactly half fits");
        #[cfg(target_os = "linux")]
        assert!(total_memory().is_some_and(|m| m >= 64 << 20), "sysinfo reports the machine's memory");
    }
}
