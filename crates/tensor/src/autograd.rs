//! Gradients given explicitly, as a composition of candle ops that runs on any device.
//!
//! candle's custom ops (`CustomOp1` with a `bwd`) need a kernel per device; an op whose
//! value and derivative can both be composed from candle's own elementwise ops can
//! instead carry its derivative through autograd with [`elementwise_grad`], which runs
//! wherever candle runs (CPU, CUDA, Metal) without copying anything to the host.

use candle_core::{Result, Tensor};

/// A tensor with the value of `y` whose gradient with respect to `x` is
/// `grad · dy_dx`, elementwise: `y` and `dy_dx` are detached, and the result is
/// `where(finite(x), y + (x − x̄)·dy_dx, y)` with `x̄` the detached `x`, so the term
/// `x − x̄` is exactly 0 in value and 1 in gradient.
///
/// `x`, `y` and `dy_dx` must have the same shape. Where `x` is infinite or NaN the
/// value is still `y` and the gradient there is 0 (the identity `x − x̄ = 0` does not
/// hold for them). Second derivatives are not supported (`dy_dx` is a constant).
///
/// # Errors
/// Shape, dtype or device mismatches, from candle.
pub fn elementwise_grad(x: &Tensor, y: &Tensor, dy_dx: &Tensor) -> Result<Tensor> {
    let y = y.detach();
    if !x.track_op() {
        return Ok(y);
    }
    let zero = x.sub(&x.detach())?;
    let finite = zero.detach().eq(0.0)?;
    // a NaN derivative at a non-finite input would turn the masked-out 0 into NaN
    let d = dy_dx.detach();
    let d = finite.where_cond(&d, &d.zeros_like()?)?;
    let linear = y.add(&zero.mul(&d)?)?;
    finite.where_cond(&linear, &y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn value_is_y_and_gradient_is_the_given_derivative() {
        let x = Var::new(&[1.0f64, -2.0, 0.0, f64::INFINITY, f64::NAN], &Device::Cpu).unwrap();
        let y = Tensor::new(&[10.0f64, 20.0, 30.0, 40.0, 50.0], &Device::Cpu).unwrap();
        let d = Tensor::new(&[0.5f64, -1.0, 3.0, 2.0, f64::NAN], &Device::Cpu).unwrap();
        let out = elementwise_grad(x.as_tensor(), &y, &d).unwrap();
        assert_eq!(
            out.to_vec1::<f64>().unwrap(),
            vec![10.0, 20.0, 30.0, 40.0, 50.0]
        );
        let g = out.sum_all().unwrap().backward().unwrap();
        let g: Vec<f64> = g.get(x.as_tensor()).unwrap().to_vec1().unwrap();
        // the infinite and NaN inputs get no gradient
        assert_eq!(g, vec![0.5, -1.0, 3.0, 0.0, 0.0]);
    }

    #[test]
    fn untracked_input_gives_the_plain_value() {
        let x = Tensor::new(&[1.0f32, 2.0], &Device::Cpu).unwrap();
        let y = Tensor::new(&[3.0f32, 4.0], &Device::Cpu).unwrap();
        let out = elementwise_grad(&x, &y, &x).unwrap();
        assert_eq!(out.to_vec1::<f32>().unwrap(), vec![3.0, 4.0]);
    }
}
