//! The process's allocator, chosen per command: mimalloc for `ingest bitcoin`, glibc's for the
//! others.
//!
//! The Bitcoin ingest allocates and frees millions of short-lived buffers (decoded transactions,
//! scripts, row keys) on two threads; mimalloc's thread-local free lists serve them with 7–24%
//! less wall clock than glibc's `malloc` on the issue-16 benchmark chain (alternating runs,
//! sessions 21 and 23; `docs/performance.md`). A trace is the
//! opposite case: a few large buffers per trace, kept between traces by `mallopt`
//! ([`crate::memory::keep_freed_memory`]); under mimalloc a warm trace's p99 more than doubled
//! and its peak RSS rose by 95–150 MiB (session 21). Rust has one global allocator per
//! binary, so this one forwards to either, chosen once when the process starts.
//!
//! The choice is made before `main`, in an `.init_array` function that glibc calls with the
//! command line (as it calls the standard library's own), so no Rust allocation precedes it.
//! Whatever the choice, every block is freed by the allocator that made it: under mimalloc,
//! a pointer mimalloc does not own (`mi_is_in_heap_region`) goes back to glibc.
//!
//! Under mimalloc, freed memory is kept for reuse instead of being handed back to the kernel
//! a second after it was last used (mimalloc's purge delay, -1 instead of 1,000 ms; the
//! `MIMALLOC_PURGE_DELAY` environment variable still overrides it). Each of the ingest's
//! batches allocates and frees the same tens of megabytes; handed back, they came back as fresh
//! pages the kernel zeroed again (9% of the storing thread's samples in session 27's profile).
//! Kept: on the issue-16 benchmark chain, 5 alternating rounds, median 4.91 against 5.30 s of
//! wall clock (7% less) and 8.2 against 8.8 s of CPU, for 30–55 MiB more peak memory.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    ffi::{c_void, CStr},
    sync::atomic::{AtomicBool, Ordering},
};

use libmimalloc_sys as mi;
use mimalloc::MiMalloc;

/// True when the command allocates through mimalloc (set before `main`, never changed after).
static MIMALLOC: AtomicBool = AtomicBool::new(false);

/// mimalloc's `mi_option_purge_delay`: its place in mimalloc v3's `mi_option_t`, the version
/// `libmimalloc-sys` builds, whose Rust bindings still name that place by its v2 option
/// (`mi_option_eager_commit_delay` is 14 there, then `mi_option_use_numa_nodes` 16). The test
/// `tests/cli/bitcoin_blk.rs` checks it is the option `MIMALLOC_PURGE_DELAY` sets.
const PURGE_DELAY: mi::mi_option_t = 15;

/// The binary's global allocator: glibc's, or mimalloc's for the commands [`uses_mimalloc`]
/// names.
pub(crate) struct PerCommand;

impl PerCommand {
    fn mimalloc() -> bool {
        MIMALLOC.load(Ordering::Relaxed)
    }

    /// Under mimalloc, whether mimalloc made the block at `p` (else glibc did, before the
    /// choice or through a path that bypasses this allocator).
    fn owns(p: *mut u8) -> bool {
        // SAFETY: `mi_is_in_heap_region` only looks `p` up in mimalloc's own page map.
        Self::mimalloc() && unsafe { mi::mi_is_in_heap_region(p as *const c_void) }
    }
}

// SAFETY: every method forwards to an allocator that upholds `GlobalAlloc`'s contract, and a
// block is always resized or freed by the allocator that made it (`owns`).
unsafe impl GlobalAlloc for PerCommand {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if Self::mimalloc() {
            MiMalloc.alloc(layout)
        } else {
            System.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if Self::mimalloc() {
            MiMalloc.alloc_zeroed(layout)
        } else {
            System.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if Self::owns(p) {
            MiMalloc.dealloc(p, layout)
        } else {
            System.dealloc(p, layout)
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if Self::owns(p) {
            MiMalloc.realloc(p, layout, new_size)
        } else {
            System.realloc(p, layout, new_size)
        }
    }
}

/// Whether a command line (without the program's name) runs a command that allocates through
/// mimalloc: `ingest bitcoin`, wherever the global flags stand.
pub(crate) fn uses_mimalloc<'a>(args: impl IntoIterator<Item = &'a [u8]>) -> bool {
    let mut args = args.into_iter().skip_while(|a| *a != b"ingest");
    args.next().is_some() && args.next() == Some(b"bitcoin".as_slice())
}

/// Called by glibc before `main` with the command line; picks the allocator.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" fn choose(argc: i32, argv: *const *const std::ffi::c_char, _env: *const *const std::ffi::c_char) {
    if argv.is_null() || argc < 1 {
        return;
    }
    // SAFETY: glibc passes `main`'s `argc` and `argv`: `argc` pointers to NUL-terminated strings.
    let args = (1..argc as usize).map(|i| unsafe { CStr::from_ptr(*argv.add(i)) }.to_bytes());
    if uses_mimalloc(args) {
        // (a default: mimalloc reads its environment over it when it first asks for the option)
        // SAFETY: sets a value in mimalloc's option table; no allocation has been made yet.
        unsafe { mi::mi_option_set_default(PURGE_DELAY, -1) };
        MIMALLOC.store(true, Ordering::Relaxed);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[used]
#[link_section = ".init_array"]
static CHOOSE: extern "C" fn(i32, *const *const std::ffi::c_char, *const *const std::ffi::c_char) = choose;

/// The allocator this process uses, for the debug log (`-vv`) and the tests.
pub(crate) fn name() -> &'static str {
    if PerCommand::mimalloc() {
        "mimalloc"
    } else {
        "system"
    }
}

/// Under mimalloc, its purge delay in milliseconds (-1: freed memory is never handed back),
/// for the same log line.
pub(crate) fn purge_delay() -> Option<std::ffi::c_long> {
    // SAFETY: reads mimalloc's option table (reading its environment the first time).
    PerCommand::mimalloc().then(|| unsafe { mi::mi_option_get(PURGE_DELAY) })
}

#[cfg(test)]
mod tests {
    use super::uses_mimalloc;

    fn args(line: &str) -> bool {
        uses_mimalloc(line.split(' ').map(str::as_bytes))
    }

    #[test]
    fn only_the_bitcoin_ingest_uses_mimalloc() {
        assert!(args("ingest bitcoin --blocks-dir b"));
        assert!(args("--store s --json ingest bitcoin"));
        assert!(!args("ingest evm --rpc http://x"));
        assert!(!args("trace --policy poison 0xab"));
        assert!(!args("serve"));
        assert!(!args("ingest"));
        assert!(!args("bitcoin ingest"));
    }
}
