//! Finite-difference gradient checking, as `torch.autograd.gradcheck`.
//!
//! candle's own gradients are wrong in places (max_pool2d, avg_pool2d, fused norms), so
//! every op wick relies on is checked here, in `f64`, against central differences.

use crate::{Error, Result};
use candle_core::{DType, Device, Tensor, Var};

/// Tolerances and step of a gradient check.
#[derive(Debug, Clone, Copy)]
pub struct GradCheck {
    /// Finite-difference step (PyTorch's default: 1e-6).
    pub eps: f64,
    /// Absolute tolerance (PyTorch's default: 1e-5).
    pub atol: f64,
    /// Relative tolerance (PyTorch's default: 1e-3).
    pub rtol: f64,
}

impl Default for GradCheck {
    fn default() -> Self {
        Self {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
        }
    }
}

/// Checks the gradient of `f` with respect to every tensor in `inputs` with the
/// default tolerances. See [`GradCheck::check`].
pub fn gradcheck<F>(f: F, inputs: &[Tensor]) -> Result<()>
where
    F: Fn(&[Tensor]) -> candle_core::Result<Tensor>,
{
    GradCheck::default().check(f, inputs)
}

impl GradCheck {
    /// Compares autograd's gradient of `sum(f(inputs) · w)` (with `w` a fixed
    /// pseudo-random weight, so every output element matters differently) with central
    /// differences, element by element: `|analytic − numeric| ≤ atol + rtol·|numeric|`.
    /// Inputs are converted to `f64` on the CPU. A missing gradient counts as zero, so an
    /// op that silently drops its gradient fails.
    pub fn check<F>(&self, f: F, inputs: &[Tensor]) -> Result<()>
    where
        F: Fn(&[Tensor]) -> candle_core::Result<Tensor>,
    {
        let inputs: Vec<Tensor> = inputs
            .iter()
            .map(|t| t.to_device(&Device::Cpu)?.to_dtype(DType::F64))
            .collect::<candle_core::Result<_>>()?;
        let vars: Vec<Var> = inputs
            .iter()
            .map(Var::from_tensor)
            .collect::<candle_core::Result<_>>()?;
        let tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let out = f(&tensors)?;
        let n_out = out.elem_count();
        let w: Vec<f64> = (0..n_out)
            .map(|i| 0.5 + ((i * 7919) % 13) as f64 / 13.0)
            .collect();
        let w = Tensor::from_vec(w, out.shape(), &Device::Cpu)?;
        let objective = |t: &Tensor| -> candle_core::Result<f64> {
            (t.to_dtype(DType::F64)? * &w)?
                .sum_all()?
                .to_scalar::<f64>()
        };
        let s = (out.to_dtype(DType::F64)? * &w)?.sum_all()?;
        let grads = s.backward()?;
        for (i, var) in vars.iter().enumerate() {
            let analytic: Vec<f64> = match grads.get(var.as_tensor()) {
                Some(g) => g.flatten_all()?.to_vec1()?,
                None => vec![0.0; var.elem_count()],
            };
            let base: Vec<f64> = inputs[i].flatten_all()?.to_vec1()?;
            for j in 0..base.len() {
                let eval = |delta: f64| -> Result<f64> {
                    let mut x = base.clone();
                    x[j] += delta;
                    let xi = Tensor::from_vec(x, inputs[i].shape(), &Device::Cpu)?;
                    let mut args = inputs.clone();
                    args[i] = xi;
                    Ok(objective(&f(&args)?)?)
                };
                let numeric = (eval(self.eps)? - eval(-self.eps)?) / (2.0 * self.eps);
                let a = analytic[j];
                if (a - numeric).abs() > self.atol + self.rtol * numeric.abs() {
                    return Err(Error::GradCheck(format!(
                        "input {i}, element {j}: autograd gives {a}, finite differences give \
                         {numeric}"
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64], shape: &[usize]) -> Tensor {
        Tensor::from_slice(v, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn passes_on_correct_gradients() {
        let a = t(&[0.3, -1.2, 0.7, 2.0, -0.1, 0.4], &[2, 3]);
        let b = t(&[1.0, 0.5, -0.3, 0.2, 0.9, -1.1], &[3, 2]);
        gradcheck(|x| x[0].matmul(&x[1])?.tanh(), &[a, b]).unwrap();
    }

    #[test]
    fn catches_a_missing_gradient() {
        let a = t(&[0.3, -1.2, 0.7], &[3]);
        let err = gradcheck(|x| x[0].detach().exp(), &[a]).unwrap_err();
        assert!(err.to_string().contains("finite differences"), "{err}");
    }

    /// The candle ops the MLP and CNN of wick's first slice use, checked directly.
    #[test]
    fn candle_ops_used_by_wick() {
        let x = t(&[0.3, -1.2, 0.7, 2.0, -0.1, 0.4, 1.5, -0.7], &[2, 4]);
        let w = t(
            &[
                0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9, 1.0, -1.1, 1.2,
            ],
            &[3, 4],
        );
        let b = t(&[0.05, -0.1, 0.2], &[3]);
        // Linear: x·wᵀ + b
        gradcheck(
            |v| v[0].matmul(&v[1].t()?)?.broadcast_add(&v[2]),
            &[x.clone(), w, b],
        )
        .unwrap();
        // relu (away from the kink), reshape/flatten
        gradcheck(
            |v| v[0].relu()?.reshape((4, 2))?.flatten_all(),
            std::slice::from_ref(&x),
        )
        .unwrap();
        // max_keepdim / log-sum-exp as log_softmax uses them
        gradcheck(
            |v| {
                let m = v[0].max_keepdim(1)?;
                let d = v[0].broadcast_sub(&m)?;
                d.broadcast_sub(&d.exp()?.sum_keepdim(1)?.log()?)
            },
            &[x],
        )
        .unwrap();
    }

    #[test]
    fn candle_conv2d_gradient() {
        let x: Vec<f64> = (0..2 * 3 * 6 * 5)
            .map(|i| ((i * 37) % 17) as f64 / 8.0 - 1.0)
            .collect();
        let k: Vec<f64> = (0..4 * 3 * 3 * 3)
            .map(|i| ((i * 11) % 7) as f64 / 5.0 - 0.6)
            .collect();
        let x = t(&x, &[2, 3, 6, 5]);
        let k = t(&k, &[4, 3, 3, 3]);
        gradcheck(|v| v[0].conv2d(&v[1], 1, 1, 1, 1), &[x.clone(), k.clone()]).unwrap();
        gradcheck(|v| v[0].conv2d(&v[1], 0, 1, 1, 1), &[x.clone(), k]).unwrap();
        // stride 2 with a rectangular kernel on an odd, non-square input
        let k: Vec<f64> = (0..2 * 3 * 3 * 2)
            .map(|i| ((i * 5) % 9) as f64 / 4.0 - 1.0)
            .collect();
        let k = t(&k, &[2, 3, 3, 2]);
        gradcheck(|v| v[0].conv2d(&v[1], 1, 2, 1, 1), &[x, k]).unwrap();
        let x: Vec<f64> = (0..2 * 9 * 9)
            .map(|i| ((i * 13) % 23) as f64 / 11.0 - 1.0)
            .collect();
        let k: Vec<f64> = (0..3 * 2 * 3 * 4)
            .map(|i| ((i * 7) % 5) as f64 / 3.0 - 0.5)
            .collect();
        let (x, k) = (t(&x, &[1, 2, 9, 9]), t(&k, &[3, 2, 3, 4]));
        // candle 0.11 gets this one wrong (it takes the width's output padding from the
        // height): wick's Conv2d crops its input so that both are zero (see wick-nn).
        let e = gradcheck(|v| v[0].conv2d(&v[1], 0, 2, 1, 1), &[x, k]);
        assert!(
            e.is_err(),
            "candle fixed rectangular strided conv2d backward: simplify wick-nn's Conv2d"
        );
    }
}
