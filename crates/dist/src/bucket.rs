//! Gradient averaging in buckets, as `DistributedDataParallel` does after backward:
//! the gradients are packed, in the reverse of the parameters' order (roughly the order
//! backward produces them), into flat buffers of at most `bucket_cap_mb` (PyTorch's
//! default 25 MB), each all-reduced in one call, then divided by the world size and
//! unpacked — a few large messages instead of one per parameter.
//!
//! candle's `backward()` hands back every gradient at once (no hook fires per
//! gradient), so unlike PyTorch's the all-reduces start after the backward pass rather
//! than overlapping it.

use crate::{ProcessGroup, Result};
use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor};

/// PyTorch's `bucket_cap_mb` default.
pub const DEFAULT_BUCKET_CAP_MB: f64 = 25.0;

/// Which parameters share each bucket: runs of consecutive parameters, from the last to
/// the first, whose gradients together hold at most the cap (a gradient larger than the
/// cap gets a bucket of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketPlan {
    /// Per bucket, the parameters' positions.
    pub buckets: Vec<Vec<usize>>,
}

impl BucketPlan {
    /// The plan for gradients of `numels` elements of `elem_bytes` bytes each, with
    /// buckets of at most `cap_bytes`.
    pub fn new(numels: &[usize], elem_bytes: usize, cap_bytes: usize) -> Self {
        let mut buckets: Vec<Vec<usize>> = Vec::new();
        let mut filled = 0usize;
        for i in (0..numels.len()).rev() {
            let bytes = numels[i].saturating_mul(elem_bytes);
            match buckets.last_mut() {
                Some(b) if filled.saturating_add(bytes) <= cap_bytes => {
                    b.push(i);
                    filled += bytes;
                }
                _ => {
                    buckets.push(vec![i]);
                    filled = bytes;
                }
            }
        }
        Self { buckets }
    }
}

/// Averages the gradients of `params` held in `grads` over the ranks of `group` (each
/// rank's divided by the world size, then summed: DDP's default communication hook),
/// in the buckets of [`BucketPlan`] with `cap_bytes`; parameters without a gradient
/// (frozen) are left out. `extras` ride in the last all-reduce and come back summed
/// over the ranks, not divided: a step's loss and counts, so that every rank reports
/// the global batch's.
///
/// Every rank must call it with the same parameters, gradients of the same shapes and
/// as many extras.
///
/// # Errors
/// A failed collective or tensor operation.
pub fn average_gradients(
    group: &dyn ProcessGroup,
    grads: &mut GradStore,
    params: &[Tensor],
    cap_bytes: usize,
    extras: &[f32],
) -> Result<Vec<f32>> {
    let with_grad: Vec<(&Tensor, Tensor)> = params
        .iter()
        .filter_map(|p| grads.get(p).map(|g| (p, g.clone())))
        .collect();
    let numels: Vec<usize> = with_grad.iter().map(|(_, g)| g.elem_count()).collect();
    let plan = BucketPlan::new(&numels, 4, cap_bytes.max(1));
    let world = group.world_size() as f64;
    let last = plan.buckets.len().saturating_sub(1);
    let mut summed_extras = Vec::new();
    for (b, bucket) in plan.buckets.iter().enumerate() {
        let parts = bucket
            .iter()
            .map(|&i| with_grad[i].1.flatten_all()?.to_dtype(DType::F32))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let device = with_grad[bucket[0]].1.device().clone();
        let mut flat = (Tensor::cat(&parts, 0)? / world)?;
        if b == last && !extras.is_empty() {
            let tail = Tensor::from_slice(extras, extras.len(), &device)?;
            flat = Tensor::cat(&[flat, tail], 0)?;
        }
        let reduced = group.all_reduce_sum(&flat)?;
        let mut offset = 0;
        for &i in bucket {
            let (param, g) = &with_grad[i];
            let n = g.elem_count();
            let averaged = reduced
                .narrow(0, offset, n)?
                .reshape(g.shape())?
                .to_dtype(g.dtype())?;
            grads.insert(param, averaged);
            offset += n;
        }
        if b == last && !extras.is_empty() {
            summed_extras = reduced.narrow(0, offset, extras.len())?.to_vec1::<f32>()?;
        }
    }
    if plan.buckets.is_empty() && !extras.is_empty() {
        let tail = Tensor::from_slice(extras, extras.len(), &candle_core::Device::Cpu)?;
        summed_extras = group.all_reduce_sum(&tail)?.to_vec1::<f32>()?;
    }
    Ok(summed_extras)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Single;
    use candle_core::{Device, Var};

    #[test]
    fn buckets_run_backwards_under_the_cap() {
        // 4-byte elements, cap 40 bytes = 10 elements
        let plan = BucketPlan::new(&[3, 4, 5, 20, 2], 4, 40);
        assert_eq!(plan.buckets, vec![vec![4], vec![3], vec![2, 1], vec![0]]);
        let every: Vec<usize> = plan.buckets.concat();
        assert_eq!(every.len(), 5);
        assert!(BucketPlan::new(&[], 4, 40).buckets.is_empty());
    }

    #[test]
    fn one_rank_gets_its_gradients_back_exactly_and_the_extras() {
        let dev = Device::Cpu;
        let a = Var::new(&[[1f32, 2.], [3., 4.]], &dev).unwrap();
        let b = Var::new(&[0.5f32, -1.5, 2.0], &dev).unwrap();
        let frozen = Tensor::new(&[7f32], &dev).unwrap();
        let loss = (a.as_tensor().sqr().unwrap().sum_all().unwrap()
            + (b.as_tensor() * 3.0).unwrap().sum_all().unwrap())
        .unwrap();
        let mut grads = loss.backward().unwrap();
        let before: Vec<Vec<f32>> = [a.as_tensor(), b.as_tensor()]
            .iter()
            .map(|p| {
                grads
                    .get(p)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1()
                    .unwrap()
            })
            .collect();
        let params = [a.as_tensor().clone(), b.as_tensor().clone(), frozen.clone()];
        // a cap of one element: every gradient its own bucket
        let extras = average_gradients(&Single, &mut grads, &params, 4, &[1.5, 2.0]).unwrap();
        assert_eq!(extras, vec![1.5, 2.0]);
        for (p, want) in [a.as_tensor(), b.as_tensor()].iter().zip(before) {
            let got: Vec<f32> = grads
                .get(p)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            assert_eq!(got, want);
        }
        assert_eq!(grads.get(a.as_tensor()).unwrap().dims(), &[2, 2]);
        assert!(grads.get(&frozen).is_none());
    }
}
