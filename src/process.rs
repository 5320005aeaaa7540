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
/// - candle 0.11 runs large elementwise ops (64k elements and more) on a second pool of
///   its own (the "barrier pool", `CANDLE_NUM_THREADS - 1` threads), among them the
///   adds of its backward pass that accumulate every gradient. Its workers spin 25,000
///   times before they sleep: next to the rayon threads that run the GEMMs and wick's
///   kernels, on 2 cores that spinning took a fifth of the CPU and the MLP epoch was
///   15 % slower; without the pool, the adds run on one thread, a fifth of a VGG-style
///   CNN's step (W4) with the other core idle. Unless set, the pool gets as many
///   threads as rayon (`CANDLE_NUM_THREADS`) and its workers sleep after 200 spins
///   (`CANDLE_BARRIER_POOL_SPIN_LIMIT`): the adds run on every core and an idle worker
///   gives its core back at once.
/// - Threads spawned from here on get 8 MiB stacks, as the main thread has, unless
///   `RUST_MIN_STACK` says otherwise: the training runs on one of them.
///
/// Call it first thing in `main`, before any thread is spawned, and run the work inside
/// [`in_compute_pool`].
pub fn tune_for_training() {
    crate::distributed::pin_gpu();
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        // a rank of a distributed run shares the machine with the others on it
        let n = crate::distributed::threads(n);
        // SAFETY (set_var): called before any other thread exists (documented above).
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        let n = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "1".into());
        // SAFETY (set_var): as above.
        std::env::set_var("CANDLE_NUM_THREADS", n);
    }
    if std::env::var_os("CANDLE_BARRIER_POOL_SPIN_LIMIT").is_none() {
        // SAFETY (set_var): as above.
        std::env::set_var("CANDLE_BARRIER_POOL_SPIN_LIMIT", "200");
    }
    if std::env::var_os("RUST_MIN_STACK").is_none() {
        // The work runs on a pool thread (see `in_compute_pool`): give it the main
        // thread's 8 MiB instead of a spawned thread's 2 MiB (address space only).
        // SAFETY (set_var): as above.
        std::env::set_var("RUST_MIN_STACK", (8usize << 20).to_string());
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes malloc's tunables; it is called before other threads
    // allocate. M_MMAP_THRESHOLD's maximum on 64-bit glibc is 32 MiB (larger values are
    // refused), so blocks above 32 MiB would still get their own mapping, unmapped at
    // free and faulted in again at the next step: M_MMAP_MAX = 0 serves them from the
    // heap too, kept by M_TRIM_THRESHOLD (glibc still maps memory when the heap cannot
    // grow). ResNet-18 at 224x224, batch 16 (W6), 6 steps: 670k page faults and 20.2 s
    // with per-block mappings, 260k (the first step's) and 17.8 s without. One arena: the
    // work runs on pool threads, whose arenas are 64 MiB heaps that glibc unmaps
    // whenever one falls empty, whatever M_TRIM_THRESHOLD says; a step's few large
    // blocks then fault their pages in again (W4, 60 steps: 570k page faults and 8.8 s
    // with per-thread arenas, 85k and 7.9 s with one).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Runs `f` on a thread of candle's CPU thread pool (`Device::with_context`).
///
/// A GEMM or a wick kernel called from a thread outside the pool hands its work to the
/// pool and sleeps until it is done: a wake-up per op, and idle workers that yield in a
/// loop beside the caller. Called from a pool thread, the op splits its work on the spot
/// and the calling thread takes a share (the MLP epoch: 4.4 s outside, 3.7 s inside, on
/// 2 cores). Everything that trains or evaluates goes through here.
pub fn in_compute_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    candle_core::Device::Cpu.with_context(f)
}
