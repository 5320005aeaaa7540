//! Which implementation an op takes: wick's CPU kernels (custom ops with their own
//! backward, the optimizers' fused in-place updates) or the device-generic composition
//! of candle ops that runs on CUDA.
//!
//! Every op with a CPU kernel in wick-nn, wick-losses and wick-optim also has a generic
//! path with the same values and gradients. The generic path is what a GPU runs; on the
//! CPU it can be forced for one thread with [`force_generic`], which is how the tests
//! compare the two, op by op and through whole training runs.

use candle_core::{DType, Tensor};
use std::cell::Cell;

thread_local! {
    static FORCE_GENERIC: Cell<bool> = const { Cell::new(false) };
}

/// Whether `x` goes to a CPU kernel: a CPU tensor in `f32` or `f64`, unless the generic
/// path is forced on this thread.
pub fn cpu_kernel(x: &Tensor) -> bool {
    x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64) && !forced()
}

/// Whether [`force_generic`] is in effect on this thread.
pub fn forced() -> bool {
    FORCE_GENERIC.with(Cell::get)
}

/// Runs `f` with every wick op on this thread taking its device-generic path (the one
/// a GPU takes) even on the CPU; for tests that check the GPU path without a GPU.
pub fn force_generic<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            FORCE_GENERIC.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(FORCE_GENERIC.with(|c| c.replace(true)));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn forcing_is_scoped_to_the_closure() {
        let x = Tensor::zeros(2, DType::F32, &Device::Cpu).unwrap();
        assert!(cpu_kernel(&x));
        force_generic(|| {
            assert!(!cpu_kernel(&x));
            force_generic(|| assert!(!cpu_kernel(&x)));
            assert!(!cpu_kernel(&x));
        });
        assert!(cpu_kernel(&x));
        let h = Tensor::zeros(2, DType::F16, &Device::Cpu).unwrap();
        assert!(!cpu_kernel(&h));
    }
}
