//! Element-wise building blocks with PyTorch's gradients, and the shape checks the
//! losses share.
//!
//! candle's `abs` backward gives `+1` at 0 where PyTorch gives 0, candle has no
//! `log1p`, `sigmoid` or `softplus` in its core, and composing a stable softplus from
//! `relu` and `abs` has a kink at 0. So the helpers here either compose ops whose
//! gradients are exact (products with detached masks, `where_cond`), or give the
//! gradient explicitly with [`with_grad`].

use crate::{Error, Result};
use candle_core::{DType, Tensor};

/// A tensor whose value is `value` and whose gradient with respect to each `xᵢ` is
/// `gᵢ · upstream` (element-wise): `value.detach() + Σ (xᵢ − xᵢ.detach())·gᵢ.detach()`.
/// The added terms are exactly zero in the forward pass. First-order only.
pub(crate) fn with_grad(value: &Tensor, pairs: &[(&Tensor, &Tensor)]) -> Result<Tensor> {
    let mut out = value.detach();
    for (x, g) in pairs {
        let zero = (*x - x.detach())?;
        out = (out + (zero * g.detach())?)?;
    }
    Ok(out)
}

/// `|x|` with PyTorch's subgradient: `sign(x)`, 0 at 0 (candle's `abs` gives 1 there).
pub(crate) fn abs(x: &Tensor) -> Result<Tensor> {
    Ok((x * x.detach().sign()?)?)
}

/// `max(x, min)` with PyTorch's `clamp_min` gradient: passed through where `x > min`,
/// 0 at the bound itself (as torch 2.x gives it, measured: `tensor([0.]).clamp_min(0)`
/// has gradient 0).
pub(crate) fn clamp_min(x: &Tensor, min: f64) -> Result<Tensor> {
    let floor = (x.detach().zeros_like()? + min)?;
    Ok(x.detach().gt(min)?.where_cond(x, &floor)?)
}

/// `log(1 + e)` accurate for small `e` (Goldberg's trick), for `e > −1`. No gradient.
pub(crate) fn log1p(e: &Tensor) -> Result<Tensor> {
    let e = e.detach();
    let u = (&e + 1.0)?;
    let d = (&u - 1.0)?;
    let zero = d.eq(0.0)?;
    let ratio = (u.log()? * &e)?.div(&zero.where_cond(&e.ones_like()?, &d)?)?;
    Ok(zero.where_cond(&e, &ratio)?)
}

/// `σ(x) = 1 / (1 + e^{−x})`, computed without overflow. No gradient.
pub(crate) fn sigmoid(x: &Tensor) -> Result<Tensor> {
    let x = x.detach();
    let e = x.abs()?.neg()?.exp()?; // e^{−|x|} ∈ (0, 1]
    let num = x.ge(0.0)?.where_cond(&e.ones_like()?, &e)?;
    Ok(num.div(&(&e + 1.0)?)?)
}

/// `softplus(x) = log(1 + eˣ) = max(x, 0) + log1p(e^{−|x|})`, stable for any `x`, with
/// the smooth gradient `σ(x)` everywhere (also at 0).
pub(crate) fn softplus(x: &Tensor) -> Result<Tensor> {
    let xd = x.detach();
    let value = (xd.relu()? + log1p(&xd.abs()?.neg()?.exp()?)?)?;
    with_grad(&value, &[(x, &sigmoid(&xd)?)])
}

/// `target` in `like`'s dtype (integer targets of float losses are converted).
pub(crate) fn float_target(target: &Tensor, like: &Tensor) -> Result<Tensor> {
    if target.dtype() == like.dtype() {
        Ok(target.clone())
    } else {
        Ok(target.to_dtype(like.dtype())?)
    }
}

/// Checks that two tensors have the same shape, naming both.
pub(crate) fn same_shape(
    loss: &str,
    a_name: &str,
    a: &Tensor,
    b_name: &str,
    b: &Tensor,
) -> Result<()> {
    if a.dims() != b.dims() {
        return Err(Error::Shape(format!(
            "{loss}: {a_name} shape {:?} and {b_name} shape {:?} differ (they must be equal; \
             wick does not broadcast them)",
            a.dims(),
            b.dims()
        )));
    }
    Ok(())
}

/// Checks that the input is a float tensor.
pub(crate) fn float_input(loss: &str, name: &str, x: &Tensor) -> Result<()> {
    if !x.dtype().is_float() {
        return Err(Error::Shape(format!(
            "{loss}: {name} must be a float tensor, got {:?}",
            x.dtype()
        )));
    }
    Ok(())
}

/// Whether every element of `x` lies in `[0, 1]` (NaN does not).
pub(crate) fn all_in_unit_interval(x: &Tensor) -> Result<bool> {
    let ok = (x.ge(0.0)? * x.le(1.0)?)?
        .to_dtype(DType::U32)?
        .sum_all()?
        .to_scalar::<u32>()?;
    Ok(ok as usize == x.elem_count())
}

/// A per-class weight vector `[C]` in `like`'s dtype and device, checked against `c`.
pub(crate) fn class_weight(
    loss: &str,
    weight: Option<&[f64]>,
    c: usize,
    what: &str,
    like: &Tensor,
) -> Result<Option<Tensor>> {
    match weight {
        None => Ok(None),
        Some(w) if w.len() != c => Err(Error::Shape(format!(
            "{loss}: weight has {} entries but the input has {c} {what}",
            w.len()
        ))),
        Some(w) => Ok(Some(
            Tensor::from_slice(w, c, like.device())?.to_dtype(like.dtype())?,
        )),
    }
}

/// A weight vector broadcast along the input's last dimension, as PyTorch broadcasts a
/// 1-D `weight`/`pos_weight` tensor: `len` must be 1 or the last dimension's size.
pub(crate) fn last_dim_weight(
    loss: &str,
    field: &str,
    weight: Option<&[f64]>,
    like: &Tensor,
) -> Result<Option<Tensor>> {
    let Some(w) = weight else { return Ok(None) };
    let last = like.dims().last().copied().unwrap_or(1);
    if w.len() != last && w.len() != 1 {
        return Err(Error::Shape(format!(
            "{loss}: {field} has {} entries, which does not broadcast to the input shape {:?} \
             (expected {last} entries, one per element of the last dimension, or 1)",
            w.len(),
            like.dims()
        )));
    }
    let w = Tensor::from_slice(w, w.len(), like.device())?.to_dtype(like.dtype())?;
    let w = if like.rank() == 0 { w.squeeze(0)? } else { w };
    Ok(Some(w.broadcast_as(like.shape())?))
}

/// Rejects an empty weight vector at construction.
pub(crate) fn nonempty_weight(w: Option<&[f64]>, field: &'static str) -> Result<()> {
    if matches!(w, Some(w) if w.is_empty()) {
        return Err(Error::Config {
            field,
            message: format!("{field} must not be empty"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};
    use wick_tensor::gradcheck::gradcheck;

    fn t(v: &[f64]) -> Tensor {
        Tensor::from_slice(v, v.len(), &Device::Cpu).unwrap()
    }

    fn grad_of(f: impl Fn(&Tensor) -> Result<Tensor>, x: &[f64]) -> Vec<f64> {
        let x = Var::from_tensor(&t(x)).unwrap();
        let g = f(x.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        g.get(x.as_tensor()).unwrap().to_vec1().unwrap()
    }

    #[test]
    fn abs_has_zero_subgradient_at_zero() {
        assert_eq!(grad_of(abs, &[-2.0, 0.0, 3.0]), vec![-1.0, 0.0, 1.0]);
        let v: Vec<f64> = abs(&t(&[-2.0, 0.0, 3.0])).unwrap().to_vec1().unwrap();
        assert_eq!(v, vec![2.0, 0.0, 3.0]);
    }

    #[test]
    fn clamp_min_stops_the_gradient_at_the_bound() {
        assert_eq!(
            grad_of(|x| clamp_min(x, 0.5), &[0.0, 0.5, 1.0]),
            vec![0.0, 0.0, 1.0]
        );
    }

    #[test]
    fn softplus_is_stable_and_smooth() {
        let x = [-1000.0, -30.0, -1.0, 0.0, 1.0, 30.0, 1000.0];
        let v: Vec<f64> = softplus(&t(&x)).unwrap().to_vec1().unwrap();
        for (xi, vi) in x.iter().zip(&v) {
            let want = if *xi > 30.0 { *xi } else { xi.exp().ln_1p() };
            assert!(
                (vi - want).abs() <= 1e-15 * want.abs().max(1e-300),
                "{xi}: {vi} vs {want}"
            );
        }
        let g = grad_of(softplus, &x);
        for (xi, gi) in x.iter().zip(&g) {
            let want = 1.0 / (1.0 + (-xi).exp());
            assert!((gi - want).abs() < 1e-15, "{xi}: {gi} vs {want}");
        }
        gradcheck(
            |v| softplus(&v[0]).map_err(|e| candle_core::Error::Msg(e.to_string())),
            &[t(&[-2.0, 0.3, 1.7])],
        )
        .unwrap();
    }

    #[test]
    fn log1p_is_accurate_for_tiny_arguments() {
        let v: Vec<f64> = log1p(&t(&[1e-20, 1e-10, 0.5, 1.0]))
            .unwrap()
            .to_vec1()
            .unwrap();
        for (e, got) in [1e-20f64, 1e-10, 0.5, 1.0].iter().zip(v) {
            assert!((got - e.ln_1p()).abs() <= 1e-15 * e.ln_1p(), "{e}");
        }
    }
}
