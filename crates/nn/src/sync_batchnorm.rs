//! What `torch.nn.SyncBatchNorm` needs: BatchNorm's batch statistics summed over the
//! processes of a data-parallel run, with autograd through the sum.
//!
//! In training, a synchronized BatchNorm sums, per channel, `Σx` and the count, then
//! `Σ(x − mean)²`, over every rank's batch (two all-reduces of `C + 1` and `C` values
//! per layer per step) and
//! normalizes with the global batch's mean and biased variance, so `N` ranks of batch
//! `b` normalize as one process of batch `N·b` does. The sum's backward is the same sum
//! of the gradients (the derivative of `Σ_r x_r` taken on every rank), which makes the
//! input gradients those of the global batch: PyTorch's SyncBatchNorm backward (its
//! all-reduce of `Σg` and `Σg·x̂`), here by autograd. Eval mode is BatchNorm's (the
//! running statistics), as in PyTorch.

use crate::Result;
use candle_core::{DType, Tensor};

/// Sums a tensor over the processes of a data-parallel run, its gradient summed the
/// same way (an all-reduce whose backward is an all-reduce). The runner makes one over
/// its process group; [`crate::Layer::sync_batchnorm`] hands it to every BatchNorm.
pub trait ProcessSum: Send + Sync {
    /// `dist.all_reduce(t, op=SUM)`, differentiable.
    fn sum(&self, t: &Tensor) -> Result<Tensor>;
}

/// The global batch's per-channel mean and biased variance of `x3` (`[N, C, L]`, this
/// rank's part), and the global count of values per channel: two sums over the ranks,
/// `Σx` with the count, then `Σ(x − mean)²` (two passes, as a single process computes
/// them, rather than `E[x²] − E[x]²`, which loses digits in f32).
pub(crate) fn global_stats(x3: &Tensor, sum: &dyn ProcessSum) -> Result<(Tensor, Tensor, usize)> {
    let (n, c, l) = x3.dims3()?;
    // the sums of tens of thousands of values per channel accumulate in f64
    let x = x3.to_dtype(DType::F64)?;
    let count = Tensor::new(&[(n * l) as f64], x3.device())?;
    let first = sum.sum(&Tensor::cat(&[&x.sum((0, 2))?, &count], 0)?)?;
    let total = first.narrow(0, c, 1)?;
    let count_all = total.to_vec1::<f64>()?[0];
    let mean = first.narrow(0, 0, c)?.broadcast_div(&total)?;
    let centered = x.broadcast_sub(&mean.reshape((1, c, 1))?)?;
    let var = sum
        .sum(&centered.sqr()?.sum((0, 2))?)?
        .broadcast_div(&total)?;
    let dt = x3.dtype();
    Ok((
        mean.to_dtype(dt)?,
        var.to_dtype(dt)?,
        count_all.round() as usize,
    ))
}
