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

/// How many of `map`'s pages the page cache holds, and how many it has (`mincore`); `None`
/// where it cannot tell.
pub(crate) fn resident_pages(map: &[u8]) -> Option<(u64, u64)> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok().filter(|&p| p > 0)?;
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
