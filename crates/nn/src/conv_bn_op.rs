//! `Conv2d → BatchNorm2d (→ ReLU) (→ MaxPool2d)` in train mode as one op on the CPU:
//! the commonest block of vision models (VGG-BN, ResNet).
//!
//! As two ops, candle's backward pass gives the convolution's output `z` (as large as
//! any tensor of such a network) a gradient buffer of its own, zero-filled and then
//! added to, between the normalization's backward and the convolution's. As one op the
//! normalization's input gradient goes straight into the convolution's backward:
//!
//! `g_z = γσ⁻¹/M · (M·g' − Σg' − ẑ·Σ(g'·ẑ))`, `g' = g · [y > 0]` (with the ReLU)
//!
//! then `g_x`, `g_w` from `g_z` as the convolution's own backward (`M = N·H·W`,
//! `ẑ = (z − μ)σ⁻¹`, sums per channel). With a max pooling, `g` is the pooled output's
//! gradient scattered to each window's first maximum (the argmax the forward pass
//! kept), and the normalized output is never stored: the pooling's input gradient, the
//! largest buffer of such a block after `z`'s, goes the same way as `z`'s. The op keeps
//! `z` and the batch statistics for its backward, as the separate ops' graph would. Its kernels are those of the two ops, so
//! its values and gradients are theirs, bit for bit: PyTorch's to rounding (checked by
//! the `nn_a` fixtures' `conv_bn` cases).

use crate::batchnorm_op::{BatchNormTrain, ChannelStats};
use crate::conv_op::{ConvGeom, ConvOp};
use crate::kernel::with_floats;
use crate::pool_op::{max_pool2d, Pool2d, PoolOp};
use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, Device, Layout, Result, Shape, Tensor,
};
use std::sync::{Arc, Mutex};

/// `F.batch_norm(F.conv2d(x, weight, None, …), None, None, gamma, beta, training=True,
/// eps=eps)`, then `F.relu` when `relu`, then `F.max_pool2d(…, pool)` when `pool` is
/// given, as one op (the pooling apart where its forward keeps no argmax: a dilated
/// window); returns the output and the batch's per-channel `[mean; biased variance]`
/// (`[2, C_out]`, without gradient), from which the caller updates its running
/// statistics. CPU tensors of f32 or f64 (the caller runs the ops one by one
/// elsewhere); `gamma` and `beta` are `[C_out]`.
pub fn conv2d_batch_norm(
    x: &Tensor,
    weight: &Tensor,
    [gamma, beta]: [&Tensor; 2],
    geom: ConvGeom,
    eps: f64,
    (relu, pool): (bool, Option<Pool2d>),
) -> Result<(Tensor, Tensor)> {
    let c = gamma.elem_count();
    let p = Tensor::cat(&[&gamma.reshape((1, c))?, &beta.reshape((1, c))?], 0)?;
    let (_, _, h, w) = x.dims4()?;
    let (_, _, kh, kw) = weight.dims4()?;
    let fused_pool = match (pool, geom.conv_hw(h, w, kh, kw)) {
        (Some(p), Some(hw)) => PoolOp::max(p, hw).ok().filter(PoolOp::keeps_argmax),
        _ => None,
    };
    let saved = Arc::new(Mutex::new(None));
    let op = ConvBatchNorm {
        conv: ConvOp::conv(geom, false),
        norm: BatchNormTrain {
            eps,
            relu,
            batch: true,
        },
        pool: fused_pool.clone(),
        saved: Arc::clone(&saved),
    };
    let y = x.contiguous()?.apply_op3(&weight.contiguous()?, &p, op)?;
    let y = match pool {
        Some(p) if fused_pool.is_none() => max_pool2d(&y, p)?,
        _ => y,
    };
    let stats = saved
        .lock()
        .map_err(|_| candle_core::Error::Msg("conv2d_batch_norm: poisoned".into()))?
        .as_ref()
        .map(|s: &Saved| s.stats.clone());
    match stats {
        Some(stats) => Ok((y, stats)),
        None => candle_core::bail!("conv2d_batch_norm: the CPU kernel did not run"),
    }
}

/// What the forward pass keeps for the backward: the convolution's output and the
/// batch statistics `[2, C]`.
#[derive(Clone)]
struct Saved {
    z: Tensor,
    stats: Tensor,
}

/// The fused op; args `(x, weight, [γ; β])`.
struct ConvBatchNorm {
    conv: ConvOp,
    norm: BatchNormTrain,
    /// The max pooling after the normalization (and ReLU), keeping its argmax.
    pool: Option<PoolOp>,
    saved: Arc<Mutex<Option<Saved>>>,
}

/// A CPU tensor that takes over `s`'s buffer.
fn tensor_of(s: CpuStorage, shape: &Shape) -> Result<Tensor> {
    match s {
        CpuStorage::F32(v) => Tensor::from_vec(v, shape, &Device::Cpu),
        CpuStorage::F64(v) => Tensor::from_vec(v, shape, &Device::Cpu),
        _ => candle_core::bail!("conv2d_batch_norm: only f32 and f64 are supported"),
    }
}

impl ConvBatchNorm {
    fn saved(&self) -> Result<Saved> {
        let saved = self.saved.lock().ok().and_then(|s| s.clone());
        saved.ok_or_else(|| candle_core::Error::Msg("conv2d_batch_norm: no forward".into()))
    }
}

impl CustomOp3 for ConvBatchNorm {
    fn name(&self) -> &'static str {
        "wick-conv2d-batch-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (z, shape) = self.conv.forward(s1, l1, s2, l2, None)?;
        let c = shape.dims()[1];
        if l3.dims() != [2, c] {
            candle_core::bail!("conv2d_batch_norm: γ, β {:?} for {c} channels", l3.dims())
        }
        let zl = Layout::contiguous(&shape);
        let (stats, stats_shape) = ChannelStats.cpu_fwd(&z, &zl)?;
        let sl = Layout::contiguous(&stats_shape);
        let op = "conv2d_batch_norm";
        let p = with_floats!(op, [(s3, l3) => p, (&stats, &sl) => s], [p, s].concat());
        let (y, _) = self
            .norm
            .cpu_fwd(&z, &zl, &p, &Layout::contiguous((4, c)))?;
        let out = match &self.pool {
            Some(pool) => pool.cpu_forward(&y, &zl)?,
            None => (y, shape.clone()),
        };
        let saved = Saved {
            z: tensor_of(z, &shape)?,
            stats: tensor_of(stats, &stats_shape)?,
        };
        if let Ok(mut s) = self.saved.lock() {
            *s = Some(saved);
        }
        Ok(out)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        p: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let Saved { z, stats } = self.saved()?;
        let p4 = Tensor::cat(&[p, &stats], 0)?;
        let gy = match &self.pool {
            Some(pool) => pool.scatter(grad)?,
            None => grad.clone(),
        };
        let (gz, gp) = self.norm.grads(&z, &p4, &gy)?;
        let (gx, gw) = self.conv.backward(x, w, &gz, x.track_op(), w.track_op())?;
        let gp = if p.track_op() {
            Some(gp.narrow(0, 0, 2)?)
        } else {
            None
        };
        Ok((gx, gw, gp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batchnorm_op::batch_norm_train;
    use candle_core::{DType, Var};

    fn values(shape: &[usize], seed: usize) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f64> = (0..n)
            .map(|i| ((i * 7919 + seed * 104729) % 1009) as f64 / 504.5 - 1.0)
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn bits(t: &Tensor) -> Vec<u64> {
        let v = t.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// In f64, with and without the ReLU and the pooling (a 3×3 stride-2 window, and a
    /// dilated one that runs after the op): the values, the batch statistics and the
    /// gradients of input, weight, γ and β are those of the ops one by one.
    #[test]
    fn fused_equals_the_ops_one_by_one_in_f64() {
        let geom = ConvGeom::symmetric((1, 1), (1, 1), (1, 1), 1);
        let pool = |k, s, d| Pool2d {
            kernel: (k, k),
            stride: (s, s),
            padding: (0, 0),
            dilation: (d, d),
            ceil_mode: false,
        };
        let tails = [
            (false, None),
            (true, None),
            (true, Some(pool(3, 2, 1))),
            (false, Some(pool(2, 1, 2))),
        ];
        for (case, (relu, p)) in tails.into_iter().enumerate() {
            let x = Var::from_tensor(&values(&[3, 4, 9, 9], case)).unwrap();
            let w = Var::from_tensor(&values(&[5, 4, 3, 3], case + 10)).unwrap();
            let gamma = Var::from_tensor(&(values(&[5], case + 20) + 1.0).unwrap()).unwrap();
            let beta = Var::from_tensor(&values(&[5], case + 30)).unwrap();
            let (gb, bb) = (gamma.as_tensor(), beta.as_tensor());
            let (fused, st) = conv2d_batch_norm(&x, &w, [gb, bb], geom, 1e-5, (relu, p)).unwrap();
            let z = crate::ops::conv2d(&x, &w, None, geom).unwrap();
            let (y, st_plain) = batch_norm_train(&z, gb, bb, 1e-5, relu).unwrap();
            let plain = match p {
                Some(p) => max_pool2d(&y, p).unwrap(),
                None => y,
            };
            assert_eq!(fused.dtype(), DType::F64);
            assert_eq!(bits(&fused), bits(&plain), "case {case}: output");
            assert_eq!(bits(&st), bits(&st_plain), "case {case}: statistics");
            let up = values(fused.dims(), case + 40);
            let grads = |y: &Tensor| (y * &up).unwrap().sum_all().unwrap().backward().unwrap();
            let (gf, gp) = (grads(&fused), grads(&plain));
            for (v, what) in [(&x, "x"), (&w, "weight"), (&gamma, "γ"), (&beta, "β")] {
                let (a, b) = (gf.get(v).unwrap(), gp.get(v).unwrap());
                assert_eq!(bits(a), bits(b), "case {case}: gradient of {what}");
            }
        }
    }
}
