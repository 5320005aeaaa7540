//! The elementwise helpers of [`float`](crate::float) for whole tensors, so that an
//! update rule runs on the parameter's device (CUDA) as a handful of candle ops instead
//! of a copy to the host and back.
//!
//! Each mirrors its scalar version's formula (ATen's): the results agree with the fused
//! CPU update to rounding (the order of a few products differs).

use candle_core::{Result, Tensor};

/// A state buffer, created lazily at its first use like [`ensure`](crate::float::ensure):
/// the existing one, or `init` everywhere in `like`'s shape, dtype and device.
pub(crate) fn ensure(buf: &mut Option<Tensor>, like: &Tensor, init: f64) -> Result<Tensor> {
    match buf {
        Some(b) if b.dims() == like.dims() => Ok(b.clone()),
        _ => {
            let b = like.zeros_like()?.affine(1.0, init)?;
            *buf = Some(b.clone());
            Ok(b)
        }
    }
}

/// `c·x`.
pub(crate) fn scale(x: &Tensor, c: f64) -> Result<Tensor> {
    x.affine(c, 0.0)
}

/// `torch.lerp(start, end, w)` as ATen: `start + w·(end − start)` for `|w| < 0.5`, else
/// `end − (end − start)·(1 − w)`.
pub(crate) fn lerp(start: &Tensor, end: &Tensor, w: f64) -> Result<Tensor> {
    let diff = end.sub(start)?;
    if w.abs() < 0.5 {
        start.add(&scale(&diff, w)?)
    } else {
        end.sub(&scale(&diff, 1.0 - w)?)
    }
}

/// `torch.maximum(a, b)`: NaN propagates (candle's `maximum` on CUDA, `fmax`, drops it).
pub(crate) fn maximum(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let nan = a.ne(a)?.maximum(&b.ne(b)?)?;
    nan.where_cond(&a.add(b)?, &a.maximum(b)?)
}

/// The gradient as the rule uses it: `−g` if `maximize`, plus `wd·θ` if `wd ≠ 0`.
pub(crate) fn grad(g: &Tensor, theta: &Tensor, maximize: bool, wd: f64) -> Result<Tensor> {
    let g = if maximize { g.neg()? } else { g.clone() };
    if wd != 0.0 {
        g.add(&scale(theta, wd)?)
    } else {
        Ok(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn helpers_match_the_scalar_versions() {
        let a = Tensor::new(&[1.0f64, f64::NAN, -2.0, 3.0], &Device::Cpu).unwrap();
        let b = Tensor::new(&[0.5f64, 1.0, f64::NAN, 4.0], &Device::Cpu).unwrap();
        let inf = Tensor::new(&[f64::INFINITY], &Device::Cpu).unwrap();
        let m: Vec<f64> = maximum(&inf, &inf.neg().unwrap())
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(m, vec![f64::INFINITY]);
        let m: Vec<f64> = maximum(&a, &b).unwrap().to_vec1().unwrap();
        assert_eq!(m[0], 1.0);
        assert!(m[1].is_nan() && m[2].is_nan());
        assert_eq!(m[3], 4.0);
        for w in [0.1, 0.9] {
            let l: Vec<f64> = lerp(&a, &b, w).unwrap().to_vec1().unwrap();
            assert_eq!(l[0], crate::float::lerp(1.0, 0.5, w));
            assert_eq!(l[3], crate::float::lerp(3.0, 4.0, w));
        }
        let mut buf = None;
        let e: Vec<f64> = ensure(&mut buf, &a, 0.25).unwrap().to_vec1().unwrap();
        assert_eq!(e, vec![0.25; 4]);
        assert!(buf.is_some());
    }
}
