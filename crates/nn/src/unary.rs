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
//! The kernel runs on the CPU; on other devices the same functions and derivatives are
//! composed from candle ops ([`unary`] picks), so nothing leaves the device.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use wick_tensor::autograd::elementwise_grad;

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
///
/// On the CPU in `f32`/`f64` this is one custom op; on other devices (and dtypes) it is
/// `unary_generic`, a composition of candle ops with the same values and gradient.
pub fn unary(x: &Tensor, op: Unary) -> Result<Tensor> {
    if wick_tensor::device_path::cpu_kernel(x) {
        return x.contiguous()?.apply_op1(Fwd(op));
    }
    unary_generic(x, op)
}

/// `op` on any device: `f(x)` and `f'(x)` composed from candle's elementwise ops (in
/// the tensor's dtype), joined by [`elementwise_grad`] so that the gradient is exactly
/// `grad · f'(x)` with PyTorch's values at the kinks. Where `x` is infinite or NaN the
/// value is `f(x)` and the gradient 0.
pub(crate) fn unary_generic(x: &Tensor, op: Unary) -> Result<Tensor> {
    let (f, d) = parts(x, op, x.track_op())?;
    match d {
        Some(d) => elementwise_grad(x, &f, &d),
        None => Ok(f),
    }
}

/// `f'(x)`, computed only when a gradient is needed.
type LazyDerivative<'a> = Box<dyn FnOnce() -> Result<Tensor> + 'a>;

/// `f(x)` and, if `grad`, `f'(x)` of `op`, detached, as candle ops.
fn parts(x: &Tensor, op: Unary, grad: bool) -> Result<(Tensor, Option<Tensor>)> {
    let x = &x.detach();
    let (f, d) = match op {
        Unary::Relu6 => return parts(x, Unary::Hardtanh(0.0, 6.0), grad),
        Unary::Selu => {
            let (f, d) = parts(x, Unary::Elu(SELU_ALPHA), grad)?;
            let d = d.map(|d| d.affine(SELU_SCALE, 0.0)).transpose()?;
            return Ok((f.affine(SELU_SCALE, 0.0)?, d));
        }
        Unary::Hardtanh(..)
        | Unary::LeakyRelu(_)
        | Unary::Hardsigmoid
        | Unary::Hardswish
        | Unary::Threshold(..) => piecewise(x, op)?,
        Unary::Elu(_) | Unary::Celu(_) | Unary::Softplus(..) | Unary::Softsign => {
            exponential(x, op)?
        }
        _ => smooth(x, op)?,
    };
    Ok((f, if grad { Some(d()?) } else { None }))
}

/// `v` everywhere, shaped like `x`.
fn konst(x: &Tensor, v: f64) -> Result<Tensor> {
    x.zeros_like()?.affine(1.0, v)
}

/// A comparison's `0/1` mask in `x`'s dtype.
fn mask(x: &Tensor, m: Tensor) -> Result<Tensor> {
    m.to_dtype(x.dtype())
}

/// `σ(t)` as candle ops.
fn sigmoid_t(t: &Tensor) -> Result<Tensor> {
    (t.neg()?.exp()? + 1.0)?.recip()
}

/// `f` with NaN where `x` is NaN (clamp may drop it: candle's maximum/minimum, CUDA's
/// fmax).
fn keep_nan(x: &Tensor, f: Tensor) -> Result<Tensor> {
    x.ne(x)?.where_cond(x, &f)
}

/// The piecewise-linear ones: Hardtanh, LeakyReLU, Hardsigmoid, Hardswish, Threshold.
fn piecewise(x: &Tensor, op: Unary) -> Result<(Tensor, LazyDerivative<'_>)> {
    Ok(match op {
        Unary::Hardtanh(lo, hi) => (
            keep_nan(x, x.clamp(lo, hi)?)?,
            Box::new(move || mask(x, (x.gt(lo)? * x.lt(hi)?)?)),
        ),
        Unary::LeakyRelu(s) => (
            x.gt(0.0)?.where_cond(x, &x.affine(s, 0.0)?)?,
            Box::new(move || mask(x, x.gt(0.0)?)?.affine(1.0 - s, s)),
        ),
        Unary::Hardsigmoid => (
            keep_nan(x, x.affine(1.0 / 6.0, 0.5)?.clamp(0.0, 1.0)?)?,
            Box::new(move || mask(x, (x.gt(-3.0)? * x.lt(3.0)?)?)?.affine(1.0 / 6.0, 0.0)),
        ),
        Unary::Hardswish => {
            let f = x
                .mul(&x.affine(1.0, 3.0)?.clamp(0.0, 6.0)?)?
                .affine(1.0 / 6.0, 0.0)?;
            let d = move || {
                let mid = x
                    .lt(3.0)?
                    .where_cond(&x.affine(1.0 / 3.0, 0.5)?, &konst(x, 1.0)?)?;
                x.le(-3.0)?.where_cond(&konst(x, 0.0)?, &mid)
            };
            (f, Box::new(d))
        }
        Unary::Threshold(th, v) => (
            x.le(th)?.where_cond(&konst(x, v)?, x)?,
            Box::new(move || mask(x, x.gt(th)?)),
        ),
        other => candle_core::bail!("{other:?} is not piecewise linear"),
    })
}

/// The exponential ones: ELU, CELU, Softplus, Softsign.
fn exponential(x: &Tensor, op: Unary) -> Result<(Tensor, LazyDerivative<'_>)> {
    let pos = || x.gt(0.0);
    Ok(match op {
        Unary::Elu(a) => {
            let e = x.exp()?;
            let f = pos()?.where_cond(x, &e.affine(a, -a)?)?;
            let d = move || pos()?.where_cond(&konst(x, 1.0)?, &e.affine(a, 0.0)?);
            (f, Box::new(d))
        }
        Unary::Celu(a) => {
            let e = x.affine(1.0 / a, 0.0)?.exp()?;
            let f = pos()?.where_cond(x, &e.affine(a, -a)?)?;
            (f, Box::new(move || pos()?.where_cond(&konst(x, 1.0)?, &e)))
        }
        Unary::Softplus(beta, th) => {
            let bx = x.affine(beta, 0.0)?;
            let big = bx.gt(th)?;
            let soft = (bx.exp()? + 1.0)?.log()?.affine(1.0 / beta, 0.0)?;
            let f = big.where_cond(x, &soft)?;
            let d = move || big.where_cond(&konst(x, 1.0)?, &sigmoid_t(&bx)?);
            (f, Box::new(d))
        }
        Unary::Softsign => {
            let a = (x.abs()? + 1.0)?;
            (x.div(&a)?, Box::new(move || a.sqr()?.recip()))
        }
        other => candle_core::bail!("{other:?} is not an exponential activation"),
    })
}

/// The smooth gates: GELU (erf and tanh), SiLU, Mish, Sigmoid, Tanh.
fn smooth(x: &Tensor, op: Unary) -> Result<(Tensor, LazyDerivative<'_>)> {
    Ok(match op {
        Unary::Gelu => {
            let cdf = x
                .affine(std::f64::consts::FRAC_1_SQRT_2, 0.0)?
                .erf()?
                .affine(0.5, 0.5)?;
            let f = x.mul(&cdf)?;
            let pdf = || {
                x.sqr()?
                    .affine(-0.5, 0.0)?
                    .exp()?
                    .affine(1.0 / (2.0 * std::f64::consts::PI).sqrt(), 0.0)
            };
            (f, Box::new(move || cdf.add(&x.mul(&pdf()?)?)))
        }
        Unary::GeluTanh => {
            let x2 = x.sqr()?;
            let inner = x
                .mul(&x2.affine(0.044715, 1.0)?)?
                .affine(SQRT_2_OVER_PI, 0.0)?;
            let t = inner.tanh()?;
            let f = x.mul(&t.affine(0.5, 0.5)?)?;
            let d = move || {
                let sech2 = t.sqr()?.affine(-1.0, 1.0)?;
                let tail = x
                    .mul(&sech2)?
                    .mul(&x2.affine(3.0 * 0.044715, 1.0)?)?
                    .affine(0.5 * SQRT_2_OVER_PI, 0.0)?;
                t.affine(0.5, 0.5)?.add(&tail)
            };
            (f, Box::new(d))
        }
        Unary::Silu => {
            let s = sigmoid_t(x)?;
            let f = x.mul(&s)?;
            let d = move || s.mul(&x.mul(&s.affine(-1.0, 1.0)?)?.affine(1.0, 1.0)?);
            (f, Box::new(d))
        }
        Unary::Mish => {
            let big = x.gt(30.0)?;
            let sp = big.where_cond(x, &(x.exp()? + 1.0)?.log()?)?;
            let t = sp.tanh()?;
            let f = x.mul(&t)?;
            let d = move || {
                let sech2 = t.sqr()?.affine(-1.0, 1.0)?;
                t.add(&x.mul(&sigmoid_t(x)?)?.mul(&sech2)?)
            };
            (f, Box::new(d))
        }
        Unary::Sigmoid => {
            let s = sigmoid_t(x)?;
            (s.clone(), Box::new(move || s.mul(&s.affine(-1.0, 1.0)?)))
        }
        Unary::Tanh => {
            let t = x.tanh()?;
            (t.clone(), Box::new(move || t.sqr()?.affine(-1.0, 1.0)))
        }
        other => candle_core::bail!("{other:?} is not a smooth activation"),
    })
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
    use candle_core::{DType, Device, Var};
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

    /// Value and gradient of `sum(f(x) · w)` with respect to `x`.
    fn value_and_grad(x: &Tensor, f: impl Fn(&Tensor) -> Result<Tensor>) -> (Vec<f64>, Vec<f64>) {
        let v = Var::from_tensor(x).unwrap();
        let y = f(v.as_tensor()).unwrap();
        let n = y.elem_count();
        let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 7) as f64 / 7.0).collect();
        let w = Tensor::from_vec(w, y.shape(), &Device::Cpu)
            .unwrap()
            .to_dtype(y.dtype())
            .unwrap();
        let g = (&y * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let flat = |t: &Tensor| -> Vec<f64> {
            t.flatten_all()
                .unwrap()
                .to_dtype(DType::F64)
                .unwrap()
                .to_vec1()
                .unwrap()
        };
        (flat(&y), flat(g.get(v.as_tensor()).unwrap()))
    }

    fn close(what: &str, a: &[f64], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len(), "{what}");
        for (i, (p, q)) in a.iter().zip(b).enumerate() {
            let ok = (p.is_nan() && q.is_nan()) || p == q || (p - q).abs() <= tol * (1.0 + q.abs());
            assert!(ok, "{what}[{i}]: {p} vs {q}");
        }
    }

    #[test]
    fn generic_path_equals_the_kernel_kinks_included() {
        // every kink of every activation (0, ±3, 6, the Hardtanh bounds −0.5 and 1.5, the
        // threshold 0.3, βx = threshold at 1.5), tails where exp overflows, and more
        let x: Vec<f64> = vec![
            -100.0, -31.0, -7.1, -3.0, -2.2, -1.1, -0.5, -0.2, 0.0, 0.1, 0.3, 0.45, 1.2, 1.5, 1.7,
            2.6, 3.0, 3.4, 5.1, 6.0, 6.8, 40.0, 100.0, -1e-9, 1e-9,
        ];
        let x64 = Tensor::from_vec(x.clone(), (5, 5), &Device::Cpu).unwrap();
        // In f32 the kernel compares with the f64 constant and the composition, like
        // PyTorch, with the constant rounded to f32; they differ only at an input equal
        // to a rounded non-representable kink (0.3 here), left out of the f32 run.
        let x32: Vec<f32> = x
            .iter()
            .map(|&v| if v == 0.3 { 0.375 } else { v as f32 })
            .collect();
        let x32 = Tensor::from_vec(x32, (5, 5), &Device::Cpu).unwrap();
        for op in all() {
            for (x, tol) in [(&x64, 1e-13), (&x32, 1e-6)] {
                let (fk, gk) = value_and_grad(x, |t| unary(t, op));
                let (fg, gg) = value_and_grad(x, |t| unary_generic(t, op));
                close(&format!("{op:?} {:?} value", x.dtype()), &fg, &fk, tol);
                close(&format!("{op:?} {:?} grad", x.dtype()), &gg, &gk, tol);
            }
            // without gradient tracking: the same values
            let plain: Vec<f64> = unary_generic(&x64, op)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            close(
                &format!("{op:?} untracked"),
                &plain,
                &value_and_grad(&x64, |t| unary(t, op)).0,
                1e-13,
            );
        }
    }

    #[test]
    fn generic_path_keeps_nan_and_infinities() {
        let x = Tensor::new(
            &[f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.0],
            &Device::Cpu,
        )
        .unwrap();
        for op in all() {
            let (fk, _) = value_and_grad(&x, |t| unary(t, op));
            let (fg, gg) = value_and_grad(&x, |t| unary_generic(t, op));
            close(&format!("{op:?}"), &fg, &fk, 1e-13);
            // no gradient through non-finite inputs
            assert_eq!(&gg[..3], &[0.0, 0.0, 0.0], "{op:?}");
        }
    }

    #[test]
    fn gradcheck_generic_path_away_from_kinks() {
        let x: Vec<f64> = vec![
            -7.1, -3.7, -2.2, -1.1, -0.6, -0.2, 0.1, 0.45, 0.9, 1.2, 1.7, 2.6, 3.4, 5.1, 6.8,
        ];
        let x = Tensor::from_vec(x, (3, 5), &Device::Cpu).unwrap();
        for op in all() {
            gradcheck(|v| unary_generic(&v[0], op), std::slice::from_ref(&x))
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
