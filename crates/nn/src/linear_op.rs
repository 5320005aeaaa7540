//! `F.linear(x, weight, bias)`, optionally followed by `F.relu`, as one op with its own
//! backward: the layer's forward and backward written as GEMMs into fresh buffers,
//! without the chain of candle nodes (matmul, transpose, broadcast add, relu) and the
//! per-node gradient buffers those would need.
//!
//! Forward: `y = x · Wᵀ + b` (`x [M, K]`, `W [N, K]`, `b [N]`), then `max(y, 0)` when
//! fused with a ReLU. Backward, for the output gradient `g` (masked by `y > 0` after a
//! ReLU, so relu'(0) = 0 as in PyTorch): `∂x = g · W`, `∂W = gᵀ · x`,
//! `∂b = Σ_rows g`.
//!
//! The CPU kernel runs for f32/f64 tensors; other devices and dtypes use the same
//! formula as a composition of candle ops (`matmul`, `broadcast_add`, [`crate::relu_op::relu`]).

use crate::kernel::{gemm, gemm_new, with_floats, ColSum, Float, Mat, ReluMask};
use crate::profile::{self, gemm_flops, Kernel};
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use wick_tensor::device_path::cpu_kernel;

/// The fused op; `relu` adds the activation.
#[derive(Debug, Clone, Copy)]
struct LinearOp {
    relu: bool,
}

fn dims2(l: &Layout, what: &str) -> Result<(usize, usize)> {
    match *l.dims() {
        [a, b] => Ok((a, b)),
        _ => candle_core::bail!("linear: {what} must be 2-D, got {:?}", l.dims()),
    }
}

/// `y = relu?(x · wᵀ + b)` into a new `m × n` buffer.
fn forward<T: Float>(
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    m: usize,
    k: usize,
    n: usize,
    relu: bool,
) -> Vec<T> {
    let mut y = match b {
        Some(b) => {
            let mut y = Vec::with_capacity(m * n);
            for _ in 0..m {
                y.extend_from_slice(b);
            }
            gemm(
                m,
                n,
                k,
                &mut y,
                true,
                Mat::rows(x, k),
                Mat::rows_t(w, k),
                true,
            );
            y
        }
        None => gemm_new(m, n, k, Mat::rows(x, k), Mat::rows_t(w, k), true),
    };
    if relu {
        crate::kernel::relu_inplace(&mut y);
    }
    y
}

impl LinearOp {
    fn fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        bias: Option<(&CpuStorage, &Layout)>,
    ) -> Result<(CpuStorage, Shape)> {
        let (m, k) = dims2(l1, "input")?;
        let (n, k2) = dims2(l2, "weight")?;
        if k != k2 {
            candle_core::bail!(
                "linear: input {:?} does not fit weight {:?}",
                l1.dims(),
                l2.dims()
            )
        }
        let relu = self.relu;
        let flops = gemm_flops(m, n, k);
        let out = profile::timed(Kernel::LinearForward, flops, || -> Result<_> {
            Ok(match bias {
                Some((s3, l3)) => {
                    if l3.dims() != [n] {
                        candle_core::bail!(
                            "linear: bias {:?} does not fit weight {:?}",
                            l3.dims(),
                            l2.dims()
                        )
                    }
                    with_floats!("linear", [(s1, l1) => x, (s2, l2) => w, (s3, l3) => b],
                    forward(x, w, Some(b), m, k, n, relu))
                }
                None => with_floats!("linear", [(s1, l1) => x, (s2, l2) => w],
                forward(x, w, None, m, k, n, relu)),
            })
        })?;
        Ok((out, Shape::from((m, n))))
    }

    /// `(∂x, ∂W, ∂b)`, each only when wanted.
    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        want_b: bool,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (m, k) = x.dims2()?;
        let n = w.dim(0)?;
        let mut g = grad.contiguous()?;
        if self.relu {
            g = g.apply_op2_no_bwd(res, &ReluMask)?;
        }
        let gx = x
            .track_op()
            .then(|| g.apply_op2_no_bwd(w, &Gemm::new(m, k, n, Side::Input)))
            .transpose()?;
        let gw = w
            .track_op()
            .then(|| g.apply_op2_no_bwd(x, &Gemm::new(m, k, n, Side::Weight)))
            .transpose()?;
        let gb = want_b.then(|| g.apply_op1_no_bwd(&ColSum)).transpose()?;
        Ok((gx, gw, gb))
    }
}

impl CustomOp2 for LinearOp {
    fn name(&self) -> &'static str {
        "wick-linear"
    }
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.fwd(s1, l1, s2, l2, None)
    }
    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (gx, gw, _) = LinearOp::bwd(self, x, w, false, res, grad)?;
        Ok((gx, gw))
    }
}

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "wick-linear-bias"
    }
    #[allow(clippy::too_many_arguments)]
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.fwd(s1, l1, s2, l2, Some((s3, l3)))
    }
    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        LinearOp::bwd(self, x, w, b.track_op(), res, grad)
    }
}

/// Which gradient a [`Gemm`] computes.
#[derive(Debug, Clone, Copy)]
enum Side {
    /// `∂x [M, K] = g [M, N] · W [N, K]`, applied to `(g, W)`.
    Input,
    /// `∂W [N, K] = gᵀ · x [M, K]`, applied to `(g, x)`.
    Weight,
}

/// One gradient GEMM of the linear op, as an op without backward.
struct Gemm {
    m: usize,
    k: usize,
    n: usize,
    side: Side,
}

impl Gemm {
    fn new(m: usize, k: usize, n: usize, side: Side) -> Self {
        Self { m, k, n, side }
    }
    fn run<T: Float>(&self, g: &[T], other: &[T]) -> Vec<T> {
        let (m, k, n) = (self.m, self.k, self.n);
        profile::timed(Kernel::LinearBackward, gemm_flops(m, n, k), || {
            match self.side {
                Side::Input => gemm_new(m, k, n, Mat::rows(g, n), Mat::rows(other, k), true),
                Side::Weight => gemm_new(n, k, m, Mat::rows_t(g, n), Mat::rows(other, k), true),
            }
        })
    }
}

impl CustomOp2 for Gemm {
    fn name(&self) -> &'static str {
        "wick-linear-grad"
    }
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let out = with_floats!("linear backward", [(s1, l1) => g, (s2, l2) => o], self.run(g, o));
        let shape = match self.side {
            Side::Input => Shape::from((self.m, self.k)),
            Side::Weight => Shape::from((self.n, self.k)),
        };
        Ok((out, shape))
    }
}

/// `F.linear(x, weight, bias)` on a 2-D `x [M, K]`, then `F.relu` when `relu`.
pub fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, relu: bool) -> Result<Tensor> {
    if cpu_kernel(x) && x.dtype() == weight.dtype() && bias.is_none_or(|b| b.dtype() == x.dtype()) {
        let op = LinearOp { relu };
        let x = x.contiguous()?;
        let w = weight.contiguous()?;
        return match bias {
            Some(b) => x.apply_op3(&w, &b.contiguous()?, op),
            None => x.apply_op2(&w, op),
        };
    }
    let mut y = x.matmul(&weight.t()?)?;
    if let Some(b) = bias {
        y = y.broadcast_add(b)?;
    }
    if relu {
        y = crate::relu_op::relu(&y)?;
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};
    use wick_tensor::gradcheck::gradcheck;

    fn t(n: usize, shape: (usize, usize), seed: usize) -> Tensor {
        let v: Vec<f64> = (0..n)
            .map(|i| (((i * 37 + seed * 11) % 23) as f64 - 11.0) / 7.0)
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    /// The composition the op replaces: `x.matmul(wᵀ) + b`, relu by mask.
    fn composed(x: &Tensor, w: &Tensor, b: Option<&Tensor>, relu: bool) -> Tensor {
        let mut y = x.matmul(&w.t().unwrap()).unwrap();
        if let Some(b) = b {
            y = y.broadcast_add(b).unwrap();
        }
        if relu {
            y = (&y * y.gt(0.0).unwrap().to_dtype(y.dtype()).unwrap()).unwrap();
        }
        y
    }

    #[test]
    fn values_and_gradients_match_the_composition() {
        for (relu, bias) in [(false, true), (true, true), (false, false), (true, false)] {
            let x = Var::from_tensor(&t(15, (5, 3), 1)).unwrap();
            let w = Var::from_tensor(&t(12, (4, 3), 2)).unwrap();
            let b = Var::from_tensor(&t(4, (1, 4), 3).flatten_all().unwrap()).unwrap();
            let bo = bias.then_some(b.as_tensor());
            let y = linear(&x, &w, bo, relu).unwrap();
            let r = composed(&x, &w, bo, relu);
            let diff = (&y - &r).unwrap().abs().unwrap().max_all().unwrap();
            assert!(
                diff.to_scalar::<f64>().unwrap() < 1e-12,
                "relu {relu} bias {bias}"
            );
            // a non-uniform upstream gradient
            let up = t(20, (5, 4), 4);
            let g1 = (&y * &up).unwrap().sum_all().unwrap().backward().unwrap();
            let g2 = (&r * &up).unwrap().sum_all().unwrap().backward().unwrap();
            let mut vars = vec![&x, &w];
            if bias {
                vars.push(&b);
            }
            for v in vars {
                let (a, c) = (g1.get(v).unwrap(), g2.get(v).unwrap());
                let d = (a - c).unwrap().abs().unwrap().max_all().unwrap();
                assert!(
                    d.to_scalar::<f64>().unwrap() < 1e-12,
                    "relu {relu} bias {bias}"
                );
            }
            if !bias {
                assert!(g1.get(&b).is_none());
            }
        }
    }

    #[test]
    fn gradcheck_linear_and_linear_relu() {
        let x = t(15, (5, 3), 5);
        let w = t(12, (4, 3), 6);
        let b = t(4, (1, 4), 7).flatten_all().unwrap();
        for relu in [false, true] {
            gradcheck(
                |v| linear(&v[0], &v[1], Some(&v[2]), relu),
                &[x.clone(), w.clone(), b.clone()],
            )
            .unwrap_or_else(|e| panic!("relu {relu}: {e}"));
        }
    }

    #[test]
    fn relu_gradient_at_zero_is_zero() {
        // x·wᵀ + b = 0 exactly: PyTorch's relu'(0) = 0, so no gradient flows
        let x = Var::from_tensor(&Tensor::new(&[[1f32, 1.0]], &Device::Cpu).unwrap()).unwrap();
        let w = Tensor::new(&[[1f32, -1.0]], &Device::Cpu).unwrap();
        let b = Tensor::new(&[0f32], &Device::Cpu).unwrap();
        let y = linear(&x, &w, Some(&b), true).unwrap();
        let g = y.sum_all().unwrap().backward().unwrap();
        let gx = g.get(&x).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(gx, vec![vec![0.0, 0.0]]);
    }
}
