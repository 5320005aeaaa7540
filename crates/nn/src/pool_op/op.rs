//! The pooling as candle custom ops ([`PoolOp`] with its backward, the argmax scatter
//! of the fused convolution) and the public functions.

use super::device::pool_generic;
use super::geometry::{hw, Kind, Pool2d, PoolOp, Windows};
use crate::kernel::with_floats;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use std::sync::Arc;

impl CustomOp1 for PoolOp {
    fn name(&self) -> &'static str {
        "wick-pool2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        self.cpu_forward(s, l)
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(arg.apply_op2_no_bwd(
            &grad.contiguous()?,
            &PoolBwd(self.clone()),
        )?))
    }
}

/// The gradient of a [`PoolOp`], applied to `(input, grad of output)`.
struct PoolBwd(PoolOp);

impl CustomOp2 for PoolBwd {
    fn name(&self) -> &'static str {
        "wick-pool2d-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (planes, hw) = self.0.check(l1, "pool2d backward")?;
        let op = "pool2d backward";
        let max = self.0.kind == Kind::Max;
        let out = with_floats!(op, [(s1, l1) => x, (s2, l2) => g], {
            self.0.backward(max.then_some(x), g, planes, hw)
        });
        Ok((out, l1.shape().clone()))
    }
}

fn apply(x: &Tensor, op: PoolOp) -> Result<Tensor> {
    if !wick_tensor::device_path::cpu_kernel(x) {
        return pool_generic(x, &op);
    }
    x.contiguous()?.apply_op1(op)
}

/// `torch.nn.functional.max_pool2d` on `[N, C, H, W]`, with PyTorch's gradient (to the
/// first maximum of each window).
pub fn max_pool2d(x: &Tensor, p: Pool2d) -> Result<Tensor> {
    let (h, w) = hw(x, "max_pool2d")?;
    apply(x, PoolOp::max(p, (h, w))?)
}

impl PoolOp {
    /// The pooling of a contiguous `[N, C, H, W]` storage (the op's CPU forward).
    pub(crate) fn cpu_forward(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (_, hw) = self.check(l, "pool2d")?;
        let out = with_floats!("pool2d", [(s, l) => v], self.forward(v, hw));
        let d = l.dims();
        Ok((
            out,
            Shape::from((d[0], d[1], self.rows.out(), self.cols.out())),
        ))
    }

    /// The input gradient `[n, c, H, W]` of a max pooling whose forward kept its argmax
    /// ([`PoolOp::keeps_argmax`]), from the output gradient `g`: each output's gradient
    /// added at its maximum, zeros elsewhere.
    pub(crate) fn scatter(&self, g: &Tensor) -> Result<Tensor> {
        if self.argmax.get().is_none() {
            candle_core::bail!("max_pool2d backward: the forward pass kept no argmax")
        }
        g.contiguous()?.apply_op1_no_bwd(&Scatter(self.clone()))
    }
}

/// [`PoolOp::scatter`] as an op without backward, applied to the output gradient.
struct Scatter(PoolOp);

impl CustomOp1 for Scatter {
    fn name(&self) -> &'static str {
        "wick-max-pool2d-scatter"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let p = &self.0;
        let (oh, ow) = (p.rows.out(), p.cols.out());
        let (n, c) = match *l.dims() {
            [n, c, h, w] if (h, w) == (oh, ow) => (n, c),
            _ => candle_core::bail!(
                "max_pool2d backward: expected a [N, C, {oh}, {ow}] gradient, got {:?}",
                l.dims()
            ),
        };
        let (h, w) = (p.rows.input, p.cols.input);
        let op = "max_pool2d backward";
        let out = with_floats!(op, [(s, l) => g], p.backward(None, g, n * c, h * w));
        Ok((out, Shape::from((n, c, h, w))))
    }
}

/// `torch.nn.functional.avg_pool2d(x, kernel_size, stride, padding, ceil_mode,
/// count_include_pad, divisor_override)` on `[N, C, H, W]` (`p.dilation` must be 1).
pub fn avg_pool2d(
    x: &Tensor,
    p: Pool2d,
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> Result<Tensor> {
    let (h, w) = hw(x, "avg_pool2d")?;
    let Some((rows, cols)) = p.axes(h, w) else {
        candle_core::bail!("avg_pool2d: input {h}x{w} is too small for {p:?}")
    };
    apply(
        x,
        PoolOp {
            rows: Arc::new(rows),
            cols: Arc::new(cols),
            kind: Kind::Avg {
                count_include_pad,
                divisor_override,
            },
            argmax: Arc::default(),
        },
    )
}

/// `torch.nn.functional.adaptive_max_pool2d(x, (oh, ow))` (`[N, C, H, W]`): window
/// `o` covers `[⌊o·n/out⌋, ⌈(o+1)·n/out⌉)`.
pub fn adaptive_max_pool2d(x: &Tensor, out: (usize, usize)) -> Result<Tensor> {
    adaptive(x, out, Kind::Max)
}

/// `torch.nn.functional.adaptive_avg_pool2d(x, (oh, ow))` on `[N, C, H, W]`.
pub fn adaptive_avg_pool2d(x: &Tensor, out: (usize, usize)) -> Result<Tensor> {
    adaptive(
        x,
        out,
        Kind::Avg {
            count_include_pad: false,
            divisor_override: None,
        },
    )
}

fn adaptive(x: &Tensor, out: (usize, usize), kind: Kind) -> Result<Tensor> {
    let (h, w) = hw(x, "adaptive pool")?;
    if out.0 == 0 || out.1 == 0 || h == 0 || w == 0 {
        candle_core::bail!("adaptive pool: output size {out:?} or input {h}x{w} is empty")
    }
    apply(
        x,
        PoolOp {
            rows: Arc::new(Windows::adaptive(h, out.0)),
            cols: Arc::new(Windows::adaptive(w, out.1)),
            kind,
            argmax: Arc::default(),
        },
    )
}
