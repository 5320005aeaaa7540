//! The convolution and transposed convolution as candle custom ops ([`ConvOp`], its
//! gradients as ops without backward) and the public functions that pick them on the
//! CPU and the [`super::device`] compositions elsewhere.

use super::cpu::{channel_sum, conv_bwd_data, conv_bwd_weight, conv_fwd};
use super::device;
use super::geometry::{dims4, ConvGeom, Dims};
use crate::kernel::with_floats;
use crate::profile::{self, Kernel};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use wick_tensor::device_path::cpu_kernel;

/// The convolution (`transpose == false`) or transposed convolution of `x` with `w`
/// (and a fused bias when applied as a `CustomOp3`).
///
/// For the transposed convolution, `out_hw` is its output size; the weight
/// `[cin, cout/groups, kh, kw]` is read as the weight of the convolution from the
/// output space back to the input space.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvOp {
    geom: ConvGeom,
    transpose: bool,
    out_hw: (usize, usize),
    /// Followed by a fused `ReLU` (forward convolutions only).
    relu: bool,
}

impl ConvOp {
    /// A (forward) convolution, followed by a fused `ReLU` when `relu`.
    pub(crate) fn conv(geom: ConvGeom, relu: bool) -> Self {
        Self {
            geom,
            transpose: false,
            out_hw: (0, 0),
            relu,
        }
    }

    /// The convolution's [`Dims`] from the op's input and weight layouts.
    fn dims(&self, lx: &Layout, lw: &Layout) -> Result<Dims> {
        let (n, c, h, w) = dims4(lx, "conv input")?;
        let (a, b, kh, kw) = dims4(lw, "conv weight")?;
        if [c, h, w, a, b, kh, kw].contains(&0) {
            candle_core::bail!(
                "conv2d: empty input {:?} or weight {:?}",
                lx.dims(),
                lw.dims()
            )
        }
        let g = self.geom.groups;
        if self.transpose {
            // conv from y [n, b·g, oh, ow] to x [n, c, h, w]
            if a != c || g == 0 || !c.is_multiple_of(g) {
                candle_core::bail!(
                    "conv_transpose2d: weight {:?} does not fit input {:?} with groups {g}",
                    lw.dims(),
                    lx.dims()
                )
            }
            let (oh, ow) = self.out_hw;
            let d = Dims {
                n,
                cin: b * g,
                h: oh,
                w: ow,
                cout: c,
                kh,
                kw,
                oh: h,
                ow: w,
            };
            // output_padding ≥ stride (allowed when < dilation) leaves output rows that
            // no input window reaches: the convolution then has more outputs than h.
            match self.geom.conv_hw(oh, ow, kh, kw) {
                Some((a, b)) if a >= h && b >= w => Ok(d),
                _ => candle_core::bail!(
                    "conv_transpose2d: output size {oh}x{ow} does not match input {h}x{w}"
                ),
            }
        } else {
            if g == 0 || b * g != c || !a.is_multiple_of(g) {
                candle_core::bail!(
                    "conv2d: weight {:?} does not fit input {:?} with groups {g}",
                    lw.dims(),
                    lx.dims()
                )
            }
            let Some((oh, ow)) = self.geom.conv_hw(h, w, kh, kw) else {
                candle_core::bail!("conv2d: kernel {kh}x{kw} does not fit input {h}x{w}")
            };
            Ok(Dims {
                n,
                cin: c,
                h,
                w,
                cout: a,
                kh,
                kw,
                oh,
                ow,
            })
        }
    }

    fn out_shape(&self, d: &Dims) -> Shape {
        if self.transpose {
            Shape::from((d.n, d.cin, d.h, d.w))
        } else {
            Shape::from((d.n, d.cout, d.oh, d.ow))
        }
    }

    pub(crate) fn forward(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        bias: Option<(&CpuStorage, &Layout)>,
    ) -> Result<(CpuStorage, Shape)> {
        let d = self.dims(l1, l2)?;
        let g = self.geom;
        let kernel = if self.transpose {
            Kernel::ConvInputGrad
        } else {
            Kernel::ConvForward
        };
        let out = profile::timed(kernel, d.flops(&g), || {
            self.forward_cpu(&d, s1, l1, s2, l2, bias)
        })?;
        Ok((out, self.out_shape(&d)))
    }

    /// [`Self::forward`]'s kernels on the checked sizes `d`.
    fn forward_cpu(
        &self,
        d: &Dims,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        bias: Option<(&CpuStorage, &Layout)>,
    ) -> Result<CpuStorage> {
        let (d, g) = (*d, self.geom);
        let op = "conv2d";
        Ok(match bias {
            None if self.transpose => {
                with_floats!(op, [(s1, l1) => x, (s2, l2) => w], conv_bwd_data(x, w, &d, &g))
            }
            None => with_floats!(op, [(s1, l1) => x, (s2, l2) => w], {
                conv_fwd(x, w, None, &d, &g, self.relu)
            }),
            Some((s3, l3)) if self.transpose => {
                with_floats!(op, [(s1, l1) => x, (s2, l2) => w, (s3, l3) => b], {
                    let mut y = conv_bwd_data(x, w, &d, &g);
                    let l = d.h * d.w;
                    for (i, plane) in y.chunks_mut(l).enumerate() {
                        let bv = b[i % d.cin];
                        plane.iter_mut().for_each(|v| *v += bv);
                    }
                    y
                })
            }
            Some((s3, l3)) => with_floats!(
                op,
                [(s1, l1) => x, (s2, l2) => w, (s3, l3) => b],
                conv_fwd(x, w, Some(b), &d, &g, self.relu)
            ),
        })
    }

    /// The gradient of the convolution's own output: `grad` through the fused ReLU.
    fn through_relu(&self, res: &Tensor, grad: &Tensor) -> Result<Tensor> {
        if self.relu {
            grad.contiguous()?
                .apply_op2_no_bwd(res, &crate::kernel::ReluMask)
        } else {
            Ok(grad.clone())
        }
    }

    /// Gradients of input and weight (each only when `want_*`), for `grad` of the
    /// output.
    pub(crate) fn backward(
        &self,
        x: &Tensor,
        w: &Tensor,
        grad: &Tensor,
        want_x: bool,
        want_w: bool,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let gx = if want_x {
            Some(grad.apply_op2_no_bwd(
                w,
                &ConvGradOp {
                    op: *self,
                    what: GradWhat::Input,
                    x_dims: x.dims4()?,
                },
            )?)
        } else {
            None
        };
        let gw = if want_w {
            Some(x.apply_op2_no_bwd(
                &grad,
                &ConvGradOp {
                    op: *self,
                    what: GradWhat::Weight(w.dims4()?),
                    x_dims: x.dims4()?,
                },
            )?)
        } else {
            None
        };
        Ok((gx, gw))
    }
}

impl ConvOp {
    /// Gradients of input, weight and bias (each only when it is tracked) for `grad` of
    /// the convolution's own output.
    pub(crate) fn backward_with_bias(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (gx, gw) = self.backward(x, w, grad, x.track_op(), w.track_op())?;
        let gb = if b.track_op() {
            Some(bias_grad(grad)?)
        } else {
            None
        };
        Ok((gx, gw, gb))
    }
}

impl CustomOp2 for ConvOp {
    fn name(&self) -> &'static str {
        "wick-conv2d"
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
        let grad = self.through_relu(res, grad)?;
        self.backward(x, w, &grad, x.track_op(), w.track_op())
    }
}

impl CustomOp3 for ConvOp {
    fn name(&self) -> &'static str {
        "wick-conv2d-bias"
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
        self.backward_with_bias(x, w, b, &self.through_relu(res, grad)?)
    }
}

#[derive(Debug, Clone, Copy)]
enum GradWhat {
    /// Grad of the op's input; applied to `(grad, weight)`.
    Input,
    /// Grad of the op's weight (of these dims); applied to `(x, grad)`.
    Weight((usize, usize, usize, usize)),
}

/// One gradient of a [`ConvOp`], as an op without backward.
struct ConvGradOp {
    op: ConvOp,
    what: GradWhat,
    x_dims: (usize, usize, usize, usize),
}

impl CustomOp2 for ConvGradOp {
    fn name(&self) -> &'static str {
        "wick-conv2d-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = self.x_dims;
        let x_layout = Layout::contiguous((n, c, h, w));
        let g = self.op.geom;
        let op = "conv2d backward";
        let run = |kernel, d: &Dims, f: &dyn Fn() -> Result<CpuStorage>| {
            profile::timed(kernel, d.flops(&g), f)
        };
        match (self.what, self.op.transpose) {
            (GradWhat::Input, transpose) => {
                let d = self.op.dims(&x_layout, l2)?;
                let out = if transpose {
                    // grad of a transposed conv's input: the convolution of its grad
                    run(Kernel::ConvForward, &d, &|| {
                        Ok(with_floats!(op, [(s1, l1) => gy, (s2, l2) => wt],
                            conv_fwd(gy, wt, None, &d, &g, false)))
                    })?
                } else {
                    // (grad, weight) → grad of x: the adjoint of the forward
                    run(Kernel::ConvInputGrad, &d, &|| {
                        Ok(with_floats!(op, [(s1, l1) => gy, (s2, l2) => wt],
                            conv_bwd_data(gy, wt, &d, &g)))
                    })?
                };
                Ok((out, Shape::from((n, c, h, w))))
            }
            (GradWhat::Weight(wd), transpose) => {
                let d = self.op.dims(l1, &Layout::contiguous(wd))?;
                let out = run(Kernel::ConvWeightGrad, &d, &|| {
                    Ok(
                        with_floats!(op, [(s1, l1) => x, (s2, l2) => gy], if transpose {
                            // the convolution's "input" is the transposed conv's output (its
                            // grad), its "output" the transposed conv's input
                            conv_bwd_weight(gy, x, &d, &g)
                        } else {
                            conv_bwd_weight(x, gy, &d, &g)
                        }),
                    )
                })?;
                Ok((out, Shape::from(wd)))
            }
        }
    }
}

/// The bias gradient of a convolution: the per-channel sum of its output gradient
/// `[N, C, …]`, as `[C]`.
fn bias_grad(grad: &Tensor) -> Result<Tensor> {
    grad.contiguous()?.apply_op1_no_bwd(&ChannelSum)
}

/// Per-channel sum of a `[N, C, …]` tensor, as `[C]`.
struct ChannelSum;

impl CustomOp1 for ChannelSum {
    fn name(&self) -> &'static str {
        "wick-channel-sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = l.dims();
        if dims.len() < 2 {
            candle_core::bail!("channel sum: expected [N, C, ...], got {dims:?}")
        }
        let (n, c) = (dims[0], dims[1]);
        let rest: usize = dims[2..].iter().product();
        let out = with_floats!("channel sum", [(s, l) => v], channel_sum(v, n, c, rest));
        Ok((out, Shape::from(c)))
    }
}

/// `F.conv2d(x, weight, bias, stride, padding, dilation, groups)`, with padding given
/// per side, on `[N, C_in, H, W]` and `weight [C_out, C_in/groups, kH, kW]`.
///
/// On the CPU (f32/f64) this is `ConvOp`; elsewhere, with the same stride and
/// dilation in H and W, the padded input is cropped to the rows and columns the windows
/// reach and given to candle's conv2d (whose backward fails otherwise), and in the other
/// geometries it is `device::conv2d_generic` (im2col by `index_select`, then a batched
/// matmul). Nothing leaves the device.
pub fn conv2d(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, g: ConvGeom) -> Result<Tensor> {
    conv2d_act(x, weight, bias, g, false)
}

/// [`conv2d`] followed by `F.relu` when `relu`, fused into one op on the CPU (the
/// ReLU as the GEMM's epilogue, its backward as a mask of the output gradient).
pub fn conv2d_act(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    g: ConvGeom,
    relu: bool,
) -> Result<Tensor> {
    if cpu_kernel(x) {
        let op = ConvOp {
            geom: g,
            transpose: false,
            out_hw: (0, 0),
            relu,
        };
        let x = x.contiguous()?;
        let w = weight.contiguous()?;
        return match bias {
            Some(b) => x.apply_op3(&w, &b.contiguous()?, op),
            None => x.apply_op2(&w, op),
        };
    }
    device::conv2d_act(x, weight, bias, g, relu)
}

/// `F.conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups,
/// dilation)` on `[N, C_in, H, W]` with `weight [C_in, C_out/groups, kH, kW]`, whose
/// output size `(H_out, W_out)` the caller computes (it depends on `output_padding`).
///
/// On the CPU (f32/f64) this is `ConvOp` in transpose mode; elsewhere it is
/// `device::conv_transpose2d_generic` (candle's conv_transpose2d has no backward).
pub fn conv_transpose2d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    g: ConvGeom,
    out_hw: (usize, usize),
) -> Result<Tensor> {
    if cpu_kernel(x) {
        let op = ConvOp {
            geom: g,
            transpose: true,
            out_hw,
            relu: false,
        };
        let x = x.contiguous()?;
        let w = weight.contiguous()?;
        return match bias {
            Some(b) => x.apply_op3(&w, &b.contiguous()?, op),
            None => x.apply_op2(&w, op),
        };
    }
    device::conv_transpose2d_generic(x, weight, bias, g, out_hw)
}
