//! Process-wide settings a training process wants before any thread starts.

/// Settles the thread count and the allocator's behaviour for a training process.
///
/// - candle asks for the thread count on every parallel op and, without
///   `RAYON_NUM_THREADS`, counts the CPUs anew each time (reading /proc and cgroups):
///   an eighth of a small model's epoch. This counts once.
/// - glibc's malloc serves large blocks (activations, gradients: megabytes each) with
///   fresh `mmap`s and gives memory back to the system when the heap's top is free, so
///   every training step page-faults its buffers in again (a tenth of a CNN step).
///   Keeping the freed memory for reuse makes the steady state fault-free; the peak
///   RSS is unchanged (the same buffers were live at the peak either way).
///
/// Call it first thing in `main`, before any thread is spawned.
pub fn tune_for_training() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        // SAFETY (set_var): called before any other thread exists (documented above).
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes malloc's tunables; it is called before other threads
    // allocate. M_MMAP_THRESHOLD's maximum on 64-bit glibc is 32 MiB (larger values are
    // refused), so only blocks above 32 MiB still get their own mapping.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
