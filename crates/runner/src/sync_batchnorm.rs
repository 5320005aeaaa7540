//! `[distributed] sync_batchnorm = true`: every BatchNorm of the model synchronized over
//! the run's process group (`torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)`),
//! through a differentiable all-reduce (see `wick_nn::ProcessSum`).

use crate::transfer::modules;
use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use std::sync::Arc;
use wick_dist::ProcessGroup;
use wick_nn::{ProcessSum, Sequential};

/// Makes every BatchNorm of `model` sum its batch statistics over `group`; returns how
/// many it made so.
pub(crate) fn convert(model: &Sequential, group: &Arc<dyn ProcessGroup>) -> usize {
    let sum: Arc<dyn ProcessSum> = Arc::new(GroupSum(Arc::clone(group)));
    let mut n = 0;
    for (_, layer) in modules(model) {
        if layer.type_name().starts_with("BatchNorm") {
            layer.sync_batchnorm(Some(Arc::clone(&sum)));
            n += 1;
        }
    }
    n
}

/// The sum over a process group, as a candle op whose backward is the same sum.
struct GroupSum(Arc<dyn ProcessGroup>);

impl ProcessSum for GroupSum {
    fn sum(&self, t: &Tensor) -> wick_nn::Result<Tensor> {
        Ok(t.contiguous()?.apply_op1(AllReduce(Arc::clone(&self.0)))?)
    }
}

struct AllReduce(Arc<dyn ProcessGroup>);

fn candle_err(e: wick_dist::Error) -> candle_core::Error {
    candle_core::Error::Msg(format!("all-reduce: {e}"))
}

impl CustomOp1 for AllReduce {
    fn name(&self) -> &'static str {
        "all-reduce-sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (start, end) = l
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("all-reduce of a strided tensor".into()))?;
        let dev = candle_core::Device::Cpu;
        let t = match s {
            CpuStorage::F32(v) => Tensor::from_slice(&v[start..end], l.shape(), &dev)?,
            CpuStorage::F64(v) => Tensor::from_slice(&v[start..end], l.shape(), &dev)?,
            _ => {
                return Err(candle_core::Error::Msg(
                    "all-reduce of a tensor that is not f32 or f64".into(),
                ))
            }
        };
        let r = self
            .0
            .all_reduce_sum(&t)
            .map_err(candle_err)?
            .flatten_all()?;
        let out = match s {
            CpuStorage::F64(_) => CpuStorage::F64(r.to_vec1()?),
            _ => CpuStorage::F32(r.to_vec1()?),
        };
        Ok((out, l.shape().clone()))
    }

    /// `∂(Σ_r x_r)/∂x_r` taken by every rank: the gradients summed the same way.
    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(
            grad.contiguous()?
                .apply_op1(AllReduce(Arc::clone(&self.0)))?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};

    /// In a world of one the sum is the identity, forward and backward.
    #[test]
    fn one_rank_sums_to_itself_with_its_gradient() {
        let g: Arc<dyn ProcessGroup> = Arc::new(wick_dist::Single);
        let x = Var::new(&[1f32, 2., 3.], &Device::Cpu).unwrap();
        let y = GroupSum(g).sum(x.as_tensor()).unwrap();
        assert_eq!(y.to_vec1::<f32>().unwrap(), vec![1., 2., 3.]);
        let loss = (y.sqr().unwrap().sum_all().unwrap())
            .to_dtype(DType::F32)
            .unwrap();
        let grads = loss.backward().unwrap();
        let gx = grads.get(x.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(gx, vec![2., 4., 6.]);
    }
}
