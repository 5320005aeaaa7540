//! Elementwise activations as one candle custom op with PyTorch's exact forward and
//! backward formulas, kinks included.
//!
//! candle has no op for most of these (ELU, CELU, SELU, Mish, Hardswish, Softplus with
//! threshold, …) and, where it has one, its gradient at a kink may differ from
//! PyTorch's (candle's relu passes the gradient at `x = 0`). Each [`Unary`] names its
//! function `f` and its derivative `f'` as PyTorch's CPU kernels compute them
//! (`aten/src/ATen/native/cpu/Activation.cpp`), including the value of `f'` at the
//! kinks: `Hardtanh`'s gradient is zero at `min_val`/`max_val`, `Hardswish`'s is
//! 0 at −3 and 1 at 3 (PyTorch 2.15), `ELU`'s is `α·eˣ` at `x = 0`, `Threshold`'s is zero at the
//! threshold. Values are computed in `f64` and rounded to the tensor's dtype.
//!
//! The kernel runs on the CPU; tensors on another device go there and back
//! (differentiably).

use candle_core::{CpuStorage, CustomOp1, Device, Layout, Result, Shape, Tensor};

/// `√(2/π)`, used by GELU's tanh approximation.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// SELU's `α` and `λ` (Klambauer et al.), as in PyTorch.
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
/// SELU's scale `λ`.
pub const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

/// An elementwise function with PyTorch's forward and derivative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unary {
    /// `min(max(x, 0), 6)`; `f' = 1` on `(0, 6)`, else 0.
    Relu6,
    /// `x` if `x > 0` else `slope·x`; `f' = 1` if `x > 0` else `slope`.
    LeakyRelu(f64),
    /// `x` if `x > 0` else `α(eˣ − 1)`; `f' = 1` if `x > 0` else `α·eˣ`.
    Elu(f64),
    /// `λ·elu(x, α)` with SELU's constants.
    Selu,
    /// `x` if `x > 0` else `α(e^{x/α} − 1)`; `f' = 1` if `x > 0` else `e^{x/α}`.
    Celu(f64),
    /// `x·Φ(x)`; `f' = Φ(x) + x·φ(x)`.
    Gelu,
    /// `½x(1 + tanh(√(2/π)(x + 0.044715x³)))` and its exact derivative.
    GeluTanh,
    /// `x·σ(x)`; `f' = σ(x)(1 + x(1 − σ(x)))`.
    Silu,
    /// `x·tanh(softplus(x))`; `f' = tanh(sp) + x·σ(x)(1 − tanh²(sp))`.
    Mish,
    /// `1 / (1 + e⁻ˣ)`; `f' = σ(1 − σ)`.
    Sigmoid,
    /// `tanh x`; `f' = 1 − tanh² x`.
    Tanh,
    /// `min(max(x, min_val), max_val)`; `f' = 1` on `(min_val, max_val)`, else 0.
    Hardtanh(f64, f64),
    /// `min(max(x/6 + 1/2, 0), 1)`; `f' = 1/6` on `(−3, 3)`, else 0.
    Hardsigmoid,
    /// `x·min(max(x + 3, 0), 6)/6`; `f' = 0` up to −3, `x/3 + 1/2` on `(−3, 3)`, 1 from 3.
    Hardswish,
    /// `x` if `βx > threshold` else `log(1 + e^{βx})/β`; `f' = 1` or `z/(z + 1)`, `z = e^{βx}`.
    Softplus(f64, f64),
    /// `x / (1 + |x|)`; `f' = 1 / (1 + |x|)²`.
    Softsign,
    /// `value` if `x ≤ threshold` else `x`; `f' = 0` or 1.
    Threshold(f64, f64),
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn erf(x: f64) -> f64 {
    candle_core::cpu::erf::erf_f64(x)
}

impl Unary {
    /// `f(x)`.
    pub fn f(self, x: f64) -> f64 {
        if x.is_nan() {
            return x;
        }
        match self {
            Self::Relu6 => x.clamp(0.0, 6.0),
            Self::LeakyRelu(s) => {
                if x > 0.0 {
                    x
                } else {
                    x * s
                }
            }
            Self::Elu(a) => {
                if x > 0.0 {
                    x
                } else {
                    a * x.exp_m1()
                }
            }
            Self::Selu => SELU_SCALE * Self::Elu(SELU_ALPHA).f(x),
            Self::Celu(a) => {
                if x > 0.0 {
                    x
                } else {
                    a * (x / a).exp_m1()
                }
            }
            Self::Gelu => 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
            Self::GeluTanh => {
                0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)).tanh())
            }
            Self::Silu => x * sigmoid(x),
            Self::Mish => x * softplus(x).tanh(),
            Self::Sigmoid => sigmoid(x),
            Self::Tanh => x.tanh(),
            Self::Hardtanh(lo, hi) => x.max(lo).min(hi),
            Self::Hardsigmoid => (x / 6.0 + 0.5).clamp(0.0, 1.0),
            Self::Hardswish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
            Self::Softplus(beta, th) => {
                if x * beta > th {
                    x
                } else {
                    (x * beta).exp().ln_1p() / beta
                }
            }
            Self::Softsign => x / (1.0 + x.abs()),
            Self::Threshold(th, v) => {
                if x <= th {
                    v
                } else {
                    x
                }
            }
        }
    }

    /// `f'(x)`, with PyTorch's value at the kinks.
    pub fn df(self, x: f64) -> f64 {
        if x.is_nan() {
            return x;
        }
        match self {
            Self::Relu6 => Self::Hardtanh(0.0, 6.0).df(x),
            Self::LeakyRelu(s) => {
                if x > 0.0 {
                    1.0
                } else {
                    s
                }
            }
            Self::Elu(a) => {
                if x > 0.0 {
                    1.0
                } else {
                    a * x.exp()
                }
            }
            Self::Selu => SELU_SCALE * Self::Elu(SELU_ALPHA).df(x),
            Self::Celu(a) => {
                if x > 0.0 {
                    1.0
                } else {
                    (x / a).exp()
                }
            }
            Self::Gelu => {
                let cdf = 0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2));
                let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
                cdf + x * pdf
            }
            Self::GeluTanh => {
                let inner = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
                let t = inner.tanh();
                0.5 * (1.0 + t)
                    + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * x * x)
            }
            Self::Silu => {
                let s = sigmoid(x);
                s * (1.0 + x * (1.0 - s))
            }
            Self::Mish => {
                let t = softplus(x).tanh();
                t + x * sigmoid(x) * (1.0 - t * t)
            }
            Self::Sigmoid => {
                let s = sigmoid(x);
                s * (1.0 - s)
            }
            Self::Tanh => {
                let t = x.tanh();
                1.0 - t * t
            }
            Self::Hardtanh(lo, hi) => {
                if x > lo && x < hi {
                    1.0
                } else {
                    0.0
                }
            }
            Self::Hardsigmoid => {
                if x > -3.0 && x < 3.0 {
                    1.0 / 6.0
                } else {
                    0.0
                }
            }
            Self::Hardswish => {
                if x <= -3.0 {
                    0.0
                } else if x < 3.0 {
                    x / 3.0 + 0.5
                } else {
                    1.0
                }
            }
            Self::Softplus(beta, th) => {
                if x * beta > th {
                    1.0
                } else {
                    let z = (x * beta).exp();
                    z / (z + 1.0)
                }
            }
            Self::Softsign => 1.0 / (1.0 + x.abs()).powi(2),
            Self::Threshold(th, _) => {
                if x <= th {
                    0.0
                } else {
                    1.0
                }
            }
        }
    }
}

/// `log(1 + eˣ)` without overflow.
fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

fn map(
    s: &CpuStorage,
    l: &Layout,
    name: &'static str,
    g: impl Fn(f64) -> f64,
) -> Result<CpuStorage> {
    let Some((a, b)) = l.contiguous_offsets() else {
        candle_core::bail!("{name}: input must be contiguous")
    };
    Ok(match s {
        CpuStorage::F32(v) => {
            CpuStorage::F32(v[a..b].iter().map(|&x| g(x as f64) as f32).collect())
        }
        CpuStorage::F64(v) => CpuStorage::F64(v[a..b].iter().map(|&x| g(x)).collect()),
        _ => candle_core::bail!("{name}: only f32 and f64 are supported"),
    })
}

struct Fwd(Unary);

impl CustomOp1 for Fwd {
    fn name(&self) -> &'static str {
        "wick-unary"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let op = self.0;
        Ok((map(s, l, "wick-unary", |x| op.f(x))?, l.shape().clone()))
    }
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let d = arg.apply_op1_no_bwd(&Deriv(self.0))?;
        Ok(Some(grad.mul(&d)?))
    }
}

struct Deriv(Unary);

impl CustomOp1 for Deriv {
    fn name(&self) -> &'static str {
        "wick-unary-derivative"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let op = self.0;
        Ok((
            map(s, l, "wick-unary-derivative", |x| op.df(x))?,
            l.shape().clone(),
        ))
    }
}

/// Applies `op` elementwise, with PyTorch's gradient.
pub fn unary(x: &Tensor, op: Unary) -> Result<Tensor> {
    if !x.device().is_cpu() {
        let dev = x.device().clone();
        return unary(&x.to_device(&Device::Cpu)?, op)?.to_device(&dev);
    }
    x.contiguous()?.apply_op1(Fwd(op))
}

/// `softmax(x, dim) = exp(x − max) / Σ exp(x − max)`, composed from candle ops whose
/// gradients are checked (candle's fused `softmax_last_dim` has no gradient).
pub fn softmax(x: &Tensor, dim: usize) -> Result<Tensor> {
    let m = x.max_keepdim(dim)?.detach();
    let e = x.broadcast_sub(&m)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(dim)?)
}

/// `log_softmax(x, dim) = (x − max) − log Σ exp(x − max)`.
pub fn log_softmax(x: &Tensor, dim: usize) -> Result<Tensor> {
    let m = x.max_keepdim(dim)?.detach();
    let d = x.broadcast_sub(&m)?;
    d.broadcast_sub(&d.exp()?.sum_keepdim(dim)?.log()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wick_tensor::gradcheck::gradcheck;

    fn all() -> Vec<Unary> {
        vec![
            Unary::Relu6,
            Unary::LeakyRelu(0.2),
            Unary::Elu(1.3),
            Unary::Selu,
            Unary::Celu(0.7),
            Unary::Gelu,
            Unary::GeluTanh,
            Unary::Silu,
            Unary::Mish,
            Unary::Sigmoid,
            Unary::Tanh,
            Unary::Hardtanh(-0.5, 1.5),
            Unary::Hardsigmoid,
            Unary::Hardswish,
            Unary::Softplus(2.0, 3.0),
            Unary::Softsign,
            Unary::Threshold(0.3, -2.0),
        ]
    }

    #[test]
    fn gradcheck_every_activation_away_from_kinks() {
        // points avoiding every kink (0, ±3, 6, -0.5, 1.5, 0.3, βx = threshold)
        let x: Vec<f64> = vec![
            -7.1, -3.7, -2.2, -1.1, -0.6, -0.2, 0.1, 0.45, 0.9, 1.2, 1.7, 2.6, 3.4, 5.1, 6.8,
        ];
        let x = Tensor::from_vec(x, (3, 5), &Device::Cpu).unwrap();
        for op in all() {
            gradcheck(|v| unary(&v[0], op), std::slice::from_ref(&x))
                .unwrap_or_else(|e| panic!("{op:?}: {e}"));
        }
    }

    #[test]
    fn kinks_take_pytorchs_values() {
        let at = |op: Unary, x: f64| op.df(x);
        assert_eq!(at(Unary::Relu6, 0.0), 0.0);
        assert_eq!(at(Unary::Relu6, 6.0), 0.0);
        assert_eq!(at(Unary::LeakyRelu(0.1), 0.0), 0.1);
        assert_eq!(at(Unary::Elu(2.0), 0.0), 2.0);
        assert_eq!(at(Unary::Hardtanh(-1.0, 1.0), 1.0), 0.0);
        assert_eq!(at(Unary::Hardsigmoid, 3.0), 0.0);
        assert_eq!(at(Unary::Hardswish, -3.0), 0.0);
        assert_eq!(at(Unary::Hardswish, 3.0), 1.0);
        assert_eq!(at(Unary::Threshold(0.5, 1.0), 0.5), 0.0);
        assert_eq!(Unary::Threshold(0.5, 1.0).f(0.5), 1.0);
        assert!(Unary::Relu6.f(f64::NAN).is_nan());
    }

    #[test]
    fn gradcheck_softmax_and_log_softmax() {
        let x: Vec<f64> = (0..24).map(|i| ((i * 7) % 11) as f64 / 3.0 - 1.5).collect();
        let x = Tensor::from_vec(x, (2, 3, 4), &Device::Cpu).unwrap();
        for dim in 0..3 {
            gradcheck(|v| softmax(&v[0], dim), std::slice::from_ref(&x)).unwrap();
            gradcheck(|v| log_softmax(&v[0], dim), std::slice::from_ref(&x)).unwrap();
        }
    }
}
