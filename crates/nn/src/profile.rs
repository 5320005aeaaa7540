//! Time and arithmetic spent in wick's compute kernels, counted while enabled: what
//! the benchmark divides into a fraction of the machine's peak ("how close to the FMA
//! peak does the convolution run in a real training step"), for any model, without a
//! profiler. Like `torch.profiler`'s per-operator totals (`self_cpu_time_total` and
//! `flops` with `with_flops=True`), reduced to the kernels whose arithmetic is known.
//!
//! Off by default: a kernel then pays one relaxed atomic load. When on, each kernel
//! call adds its wall time (the call is made from one thread and uses the pool inside)
//! and its floating-point operations, counting a multiply-add as 2 as PyTorch does.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// A kernel whose calls are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// `Conv2d`'s forward (and a transposed convolution's input gradient).
    ConvForward,
    /// `Conv2d`'s input gradient (and a transposed convolution's forward).
    ConvInputGrad,
    /// `Conv2d`'s and `ConvTranspose2d`'s weight gradient.
    ConvWeightGrad,
    /// `Linear`'s forward GEMM.
    LinearForward,
    /// `Linear`'s input and weight gradient GEMMs.
    LinearBackward,
}

impl Kernel {
    /// Every kernel, in report order.
    pub const ALL: [Kernel; 5] = [
        Kernel::ConvForward,
        Kernel::ConvInputGrad,
        Kernel::ConvWeightGrad,
        Kernel::LinearForward,
        Kernel::LinearBackward,
    ];

    /// A short name (`conv_forward`).
    pub fn name(self) -> &'static str {
        match self {
            Kernel::ConvForward => "conv_forward",
            Kernel::ConvInputGrad => "conv_input_grad",
            Kernel::ConvWeightGrad => "conv_weight_grad",
            Kernel::LinearForward => "linear_forward",
            Kernel::LinearBackward => "linear_backward",
        }
    }

    /// Whether it is one of the convolution's three kernels.
    pub fn is_conv(self) -> bool {
        matches!(
            self,
            Kernel::ConvForward | Kernel::ConvInputGrad | Kernel::ConvWeightGrad
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What the calls of one kernel added up to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KernelTotal {
    /// The kernel.
    pub kernel: Kernel,
    /// Calls counted.
    pub calls: u64,
    /// Wall seconds inside them.
    pub seconds: f64,
    /// Floating-point operations they performed (a multiply-add counts 2).
    pub flops: f64,
}

impl KernelTotal {
    /// Achieved GFLOP/s (0 when nothing was timed).
    pub fn gflops(&self) -> f64 {
        if self.seconds > 0.0 {
            self.flops / self.seconds / 1e9
        } else {
            0.0
        }
    }
}

const N: usize = Kernel::ALL.len();
static ENABLED: AtomicBool = AtomicBool::new(false);
static CALLS: [AtomicU64; N] = [const { AtomicU64::new(0) }; N];
static NANOS: [AtomicU64; N] = [const { AtomicU64::new(0) }; N];
static FLOPS: [AtomicU64; N] = [const { AtomicU64::new(0) }; N];

/// Starts (or stops) counting, process-wide.
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Sets every count back to zero.
pub fn reset() {
    for i in 0..N {
        CALLS[i].store(0, Ordering::Relaxed);
        NANOS[i].store(0, Ordering::Relaxed);
        FLOPS[i].store(0, Ordering::Relaxed);
    }
}

/// The counts so far, one entry per kernel in [`Kernel::ALL`]'s order.
pub fn totals() -> Vec<KernelTotal> {
    Kernel::ALL
        .iter()
        .map(|&k| KernelTotal {
            kernel: k,
            calls: CALLS[k.index()].load(Ordering::Relaxed),
            seconds: NANOS[k.index()].load(Ordering::Relaxed) as f64 * 1e-9,
            flops: FLOPS[k.index()].load(Ordering::Relaxed) as f64,
        })
        .collect()
}

/// Runs `f`, counting its wall time and `flops` against `kernel` when enabled.
pub(crate) fn timed<R>(kernel: Kernel, flops: u64, f: impl FnOnce() -> R) -> R {
    if !ENABLED.load(Ordering::Relaxed) {
        return f();
    }
    let t0 = Instant::now();
    let r = f();
    let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let i = kernel.index();
    CALLS[i].fetch_add(1, Ordering::Relaxed);
    NANOS[i].fetch_add(ns, Ordering::Relaxed);
    FLOPS[i].fetch_add(flops, Ordering::Relaxed);
    r
}

/// `2·m·n·k`: the operations of a GEMM `[m, k] · [k, n]`, saturating.
pub(crate) fn gemm_flops(m: usize, n: usize, k: usize) -> u64 {
    let p = (m as u128)
        .checked_mul(n as u128)
        .and_then(|p| p.checked_mul(k as u128))
        .and_then(|p| p.checked_mul(2));
    p.and_then(|p| u64::try_from(p).ok()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_flops_count_a_multiply_add_as_two() {
        assert_eq!(gemm_flops(2, 3, 4), 48);
        assert_eq!(gemm_flops(usize::MAX, usize::MAX, 2), u64::MAX);
    }
}
