//! How the process's allocator hands memory back to the system.

/// Keeps freed memory in the process for the next allocation instead of returning it to the
/// system at once (glibc on Linux; nothing elsewhere). For a process that traces again and again
/// (`chaintrace serve`, the trace benchmark); a one-shot command has nothing to reuse.
///
/// A trace allocates a few large buffers (its events, edges and rows: tens of MB at ten million
/// transfers) and frees them when it ends. By default glibc serves every block above 32 MiB with
/// its own `mmap` and unmaps it on `free`, and shrinks the heap when its top grows past 128 KiB
/// free: the next trace then faults every page of its buffers in again (zeroed by the kernel),
/// ~20% of a warm haircut trace's CPU at 10M transfers. Serving all blocks from the heap and
/// trimming it only past 1 GiB free keeps those pages mapped between traces; up to 1 GiB freed
/// by an earlier, larger request stays resident — never more than that request's own peak, so a
/// process's peak RSS is not raised. (At 256 MiB a dense power-law trace, which frees more,
/// handed its pages back after every trace: ~15% of its next trace's CPU went to faulting them
/// in again.)
pub(crate) fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only sets allocator parameters; called before other threads start.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        }
    }
}
