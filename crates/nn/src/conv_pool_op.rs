//! `Conv2d → ReLU → MaxPool2d` as one op on the CPU: the block of the course's CNNs.
//!
//! As three ops, candle's backward pass gives the convolution's output (the largest
//! tensor of such a network) a gradient buffer of its own, zeroed and then added to,
//! and the ReLU's mask makes another copy; that output also stays alive in the graph
//! until the backward pass reaches it. As one op, the convolution's output is dropped
//! once it is pooled, and the backward pass is
//!
//! `g_conv = scatter_argmax(g · [out > 0])`
//!
//! then the convolution's own backward: each pooled output is the ReLU'd convolution at
//! its window's argmax, so `out > 0` is the ReLU's mask (`relu'(0) = 0`, and a NaN
//! passes no gradient, as in the three ops) there, and the max pooling's gradient goes
//! to that argmax, which the forward pass kept. The values and gradients are those of
//! `max_pool2d(relu(conv2d(x)))`, bit for bit.

use crate::conv_op::{conv2d_act, ConvGeom, ConvOp};
use crate::kernel::ReluMask;
use crate::pool_op::{max_pool2d, Pool2d, PoolOp};
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use wick_tensor::device_path::cpu_kernel;

/// `F.max_pool2d(F.relu(F.conv2d(x, weight, bias, …)), …)`: one op on the CPU where the
/// pooling keeps its argmax (2×2 and 3×3 windows, or windows without dilation), else
/// the ops one after the other.
pub fn conv2d_relu_max_pool2d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    g: ConvGeom,
    pool: Pool2d,
) -> Result<Tensor> {
    if cpu_kernel(x) {
        if let (Ok((_, _, h, w)), Ok((_, _, kh, kw))) = (x.dims4(), weight.dims4()) {
            let plan = g
                .conv_hw(h, w, kh, kw)
                .and_then(|hw| PoolOp::max(pool, hw).ok());
            if let Some(pool) = plan.filter(PoolOp::keeps_argmax) {
                let op = ConvReluPool {
                    conv: ConvOp::conv(g, true),
                    pool,
                };
                let x = x.contiguous()?;
                let w = weight.contiguous()?;
                return match bias {
                    Some(b) => x.apply_op3(&w, &b.contiguous()?, op),
                    None => x.apply_op2(&w, op),
                };
            }
        }
    }
    max_pool2d(&conv2d_act(x, weight, bias, g, true)?, pool)
}

/// The fused op: a convolution with its ReLU, then a max pooling that keeps its argmax.
struct ConvReluPool {
    conv: ConvOp,
    pool: PoolOp,
}

impl ConvReluPool {
    fn forward(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        bias: Option<(&CpuStorage, &Layout)>,
    ) -> Result<(CpuStorage, Shape)> {
        let (y, shape) = self.conv.forward(s1, l1, s2, l2, bias)?;
        self.pool.cpu_forward(&y, &Layout::contiguous(shape))
    }

    /// The gradient of the convolution's output, from the gradient of the pooled one.
    fn conv_grad(&self, res: &Tensor, grad: &Tensor) -> Result<Tensor> {
        let masked = grad.contiguous()?.apply_op2_no_bwd(res, &ReluMask)?;
        self.pool.scatter(&masked)
    }
}

impl CustomOp2 for ConvReluPool {
    fn name(&self) -> &'static str {
        "wick-conv2d-relu-maxpool"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.forward(s1, l1, s2, l2, None)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let gy = self.conv_grad(res, grad)?;
        self.conv.backward(x, w, &gy, x.track_op(), w.track_op())
    }
}

impl CustomOp3 for ConvReluPool {
    fn name(&self) -> &'static str {
        "wick-conv2d-bias-relu-maxpool"
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
        self.forward(s1, l1, s2, l2, Some((s3, l3)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        self.conv
            .backward_with_bias(x, w, b, &self.conv_grad(res, grad)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};

    fn values(shape: &[usize], seed: usize, dtype: DType) -> Tensor {
        let n: usize = shape.iter().product();
        // distinct values (no ties in the windows), a few exactly zero after the conv
        // is unlikely, so the mask is decided by the sign
        let v: Vec<f64> = (0..n)
            .map(|i| (((i * 7919 + seed * 104729) % 1009) as f64 / 504.5 - 1.0) * 0.75)
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap()
    }

    fn as_f64(t: &Tensor) -> Vec<f64> {
        t.to_dtype(DType::F64)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f64>())
            .unwrap()
    }

    fn pool(k: (usize, usize), s: (usize, usize), p: (usize, usize), ceil: bool) -> Pool2d {
        Pool2d {
            kernel: k,
            stride: s,
            padding: p,
            dilation: (1, 1),
            ceil_mode: ceil,
        }
    }

    /// The fused op's output and the gradients of input, weight and bias are those of
    /// the three ops, bit for bit, on the fused kernel's path (and on the direct
    /// convolution's, with the W2-like case).
    #[test]
    fn fused_equals_conv_relu_pool() {
        let g1 = ConvGeom::symmetric((1, 1), (1, 1), (1, 1), 1);
        let g2 = ConvGeom::symmetric((2, 1), (0, 1), (1, 1), 1);
        // (x shape, cout, kernel, conv geometry, pooling)
        let cases = [
            ([2, 3, 8, 8], 4, 3, g1, pool((2, 2), (2, 2), (0, 0), false)),
            ([2, 3, 9, 7], 5, 3, g1, pool((3, 3), (2, 2), (1, 1), true)),
            ([3, 2, 7, 9], 4, 2, g2, pool((2, 2), (1, 1), (0, 0), false)),
            ([2, 3, 10, 9], 6, 3, g1, pool((3, 2), (2, 1), (0, 0), true)),
            (
                [4, 8, 14, 14],
                16,
                3,
                g1,
                pool((2, 2), (2, 2), (0, 0), false),
            ),
        ];
        let pool_threads = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for dtype in [DType::F64, DType::F32] {
            for (i, (xs, cout, k, g, p)) in cases.iter().enumerate() {
                let conv_hw = g.conv_hw(xs[2], xs[3], *k, *k).unwrap();
                assert!(
                    PoolOp::max(*p, conv_hw).unwrap().keeps_argmax(),
                    "case {i} is fused"
                );
                let x = Var::from_tensor(&values(xs, i, dtype)).unwrap();
                let w = Var::from_tensor(&values(&[*cout, xs[1], *k, *k], i + 10, dtype)).unwrap();
                let b = Var::from_tensor(&values(&[*cout], i + 20, dtype)).unwrap();
                let (fused, plain) = pool_threads.install(|| {
                    let fused = conv2d_relu_max_pool2d(&x, &w, Some(&b), *g, *p).unwrap();
                    let plain =
                        max_pool2d(&conv2d_act(&x, &w, Some(&b), *g, true).unwrap(), *p).unwrap();
                    (fused, plain)
                });
                let same = |a: &Tensor, c: &Tensor, what: &str| {
                    assert_eq!(as_f64(a), as_f64(c), "case {i} {dtype:?}: {what}");
                };
                same(&fused, &plain, "output");
                let up = values(fused.dims(), i + 30, dtype);
                let grads = |y: &Tensor| {
                    pool_threads
                        .install(|| (y * &up).unwrap().sum_all().unwrap().backward().unwrap())
                };
                let (gf, gp) = (grads(&fused), grads(&plain));
                for (v, what) in [(&x, "input grad"), (&w, "weight grad"), (&b, "bias grad")] {
                    same(gf.get(v).unwrap(), gp.get(v).unwrap(), what);
                }
            }
        }
    }

    /// A pooling whose forward keeps no argmax (a dilated window) runs as the ops one
    /// after the other, with the same result.
    #[test]
    fn dilated_pooling_is_not_fused() {
        let g = ConvGeom::symmetric((1, 1), (1, 1), (1, 1), 1);
        let p = Pool2d {
            dilation: (2, 2),
            ..pool((2, 2), (1, 1), (0, 0), false)
        };
        let plan = PoolOp::max(p, (8, 8)).unwrap();
        assert!(!plan.keeps_argmax());
        let x = values(&[2, 2, 8, 8], 1, DType::F32);
        let w = values(&[3, 2, 3, 3], 2, DType::F32);
        let fused = conv2d_relu_max_pool2d(&x, &w, None, g, p).unwrap();
        let plain = max_pool2d(&conv2d_act(&x, &w, None, g, true).unwrap(), p).unwrap();
        let d = (fused - plain).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0);
    }
}
