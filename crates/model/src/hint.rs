//! Hints to the CPU: they change how fast memory is reached, never what a program computes.

/// Asks the CPU to bring the cache line holding the start of `x` in ahead of a read (a hint:
/// nothing is read, and nothing else happens). For loops that touch scattered memory: asked a
/// few iterations ahead, the line arrives while the work before it runs.
#[inline(always)]
pub fn prefetch<T: ?Sized>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never reads or faults (any address is allowed), and every x86-64 CPU
    // has SSE, the instruction's feature.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((x as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}
