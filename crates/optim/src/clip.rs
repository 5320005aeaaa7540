//! `torch.nn.utils.clip_grad_norm_` and `clip_grad_value_`, over the gradients of a
//! backward pass, and their configs for the experiment file's `[train]` table
//! (`clip_grad_norm = { max_norm = 1.0 }`, `clip_grad_value = { clip_value = 0.5 }`).

use crate::{Error, Result};
use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};
use wick_tensor::Param;

/// Arguments of `torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type=2.0,
/// error_if_nonfinite=False)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipGradNormConfig {
    /// Largest allowed total norm (required).
    pub max_norm: f64,
    /// Order of the norm (default 2.0; `inf` for the largest magnitude).
    #[serde(default = "two")]
    pub norm_type: f64,
    /// Fail when the total norm is NaN or infinite (default `false`).
    #[serde(default)]
    pub error_if_nonfinite: bool,
}

fn two() -> f64 {
    2.0
}

impl ClipGradNormConfig {
    /// Checks the arguments.
    pub fn validate(&self) -> Result<()> {
        check!(
            self.max_norm >= 0.0,
            "max_norm",
            "max_norm must be ≥ 0, got {}",
            self.max_norm
        );
        check!(
            self.norm_type > 0.0,
            "norm_type",
            "norm_type must be positive (or inf), got {}",
            self.norm_type
        );
        Ok(())
    }

    /// [`clip_grad_norm`] with these arguments, or, where the gradients are not CPU
    /// kernels' (a GPU) and `error_if_nonfinite` is off, [`clip_grad_norm_on_device`]:
    /// the same clipping without reading anything back to the host. The training loop
    /// calls this one: it does not need the norm.
    pub fn apply_in_place(&self, grads: &mut GradStore, params: &[Param]) -> Result<()> {
        let on_device = params.iter().any(|p| {
            grads
                .get(p.tensor())
                .is_some_and(|g| !wick_tensor::device_path::cpu_kernel(g))
        });
        if on_device && !self.error_if_nonfinite {
            self.validate()?;
            clip_grad_norm_on_device(grads, params, self.max_norm, self.norm_type)?;
            return Ok(());
        }
        self.apply(grads, params).map(|_| ())
    }

    /// [`clip_grad_norm`] with these arguments.
    pub fn apply(&self, grads: &mut GradStore, params: &[Param]) -> Result<f64> {
        self.validate()?;
        clip_grad_norm(
            grads,
            params,
            self.max_norm,
            self.norm_type,
            self.error_if_nonfinite,
        )
    }
}

/// Arguments of `torch.nn.utils.clip_grad_value_(parameters, clip_value)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipGradValueConfig {
    /// Gradients are clamped to `[-clip_value, clip_value]` (required).
    pub clip_value: f64,
}

impl ClipGradValueConfig {
    /// Checks the arguments.
    pub fn validate(&self) -> Result<()> {
        check!(
            self.clip_value >= 0.0,
            "clip_value",
            "clip_value must be ≥ 0, got {}",
            self.clip_value
        );
        Ok(())
    }

    /// [`clip_grad_value`] with these arguments.
    pub fn apply(&self, grads: &mut GradStore, params: &[Param]) -> Result<()> {
        self.validate()?;
        clip_grad_value(grads, params, self.clip_value)
    }
}

fn round_to(x: f64, dtype: DType) -> f64 {
    match dtype {
        DType::F64 => x,
        _ => f64::from(x as f32),
    }
}

fn vector_norm(v: &[f64], p: f64) -> f64 {
    if p.is_infinite() {
        v.iter().fold(0f64, |m, x| m.max(x.abs()))
    } else if p == 1.0 {
        v.iter().map(|x| x.abs()).sum()
    } else if p == 2.0 {
        v.iter().map(|x| x * x).sum::<f64>().sqrt()
    } else {
        v.iter().map(|x| x.abs().powf(p)).sum::<f64>().powf(1.0 / p)
    }
}

/// `torch.nn.utils.clip_grad_norm_`: the total `norm_type`-norm of the gradients of
/// `params` (the norm of the per-parameter norms), and every gradient scaled by
/// `min(1, max_norm / (total + 1e-6))`. Parameters without a gradient are skipped.
/// Returns the total norm (before clipping).
///
/// # Errors
/// [`Error::NonFinite`] when the total norm is NaN or infinite and
/// `error_if_nonfinite` is set (PyTorch's message).
pub fn clip_grad_norm(
    grads: &mut GradStore,
    params: &[Param],
    max_norm: f64,
    norm_type: f64,
    error_if_nonfinite: bool,
) -> Result<f64> {
    let mut norms = Vec::new();
    let mut dtype = DType::F32;
    for p in params {
        let Some(g) = grads.get(p.tensor()) else {
            continue;
        };
        dtype = g.dtype();
        let v: Vec<f64> = g.flatten_all()?.to_dtype(DType::F64)?.to_vec1()?;
        norms.push(round_to(vector_norm(&v, norm_type), dtype));
    }
    if norms.is_empty() {
        return Ok(0.0);
    }
    let total = round_to(vector_norm(&norms, norm_type), dtype);
    if error_if_nonfinite && !total.is_finite() {
        return Err(Error::NonFinite(format!(
            "The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it \
             cannot be clipped. To disable this error and scale the gradients by the non-finite norm \
             anyway, set `error_if_nonfinite=False`"
        )));
    }
    let coef = match dtype {
        DType::F64 => (max_norm / (total + 1e-6)).min(1.0),
        _ => f64::from((max_norm as f32 / (total as f32 + 1e-6f32)).min(1.0)),
    };
    for p in params {
        let Some(g) = grads.get(p.tensor()) else {
            continue;
        };
        let scaled = (g * coef)?;
        grads.insert(p.tensor(), scaled);
    }
    Ok(total)
}

/// `‖x‖_p` of all of `x`'s elements as a 0-d tensor on `x`'s device.
fn tensor_norm(x: &Tensor, p: f64) -> Result<Tensor> {
    let a = x.abs()?;
    Ok(if p.is_infinite() {
        a.flatten_all()?.max(0)?
    } else if p == 1.0 {
        a.sum_all()?
    } else if p == 2.0 {
        x.sqr()?.sum_all()?.sqrt()?
    } else {
        a.powf(p)?.sum_all()?.powf(1.0 / p)?
    })
}

/// [`clip_grad_norm`] computed on the gradients' device, in their dtype (`f32` for
/// half types), as PyTorch's CUDA path: the per-parameter norms, their norm and the
/// factor `min(1, max_norm / (total + 1e-6))` stay device tensors, so nothing is read
/// back. Returns the total norm as a 0-d tensor (`None` without gradients).
pub fn clip_grad_norm_on_device(
    grads: &mut GradStore,
    params: &[Param],
    max_norm: f64,
    norm_type: f64,
) -> Result<Option<Tensor>> {
    let mut norms = Vec::new();
    for p in params {
        let Some(g) = grads.get(p.tensor()) else {
            continue;
        };
        let dt = if g.dtype() == DType::F64 {
            DType::F64
        } else {
            DType::F32
        };
        norms.push(tensor_norm(&g.to_dtype(dt)?, norm_type)?.reshape(1)?);
    }
    if norms.is_empty() {
        return Ok(None);
    }
    let total = tensor_norm(&Tensor::cat(&norms, 0)?, norm_type)?;
    let coef = (total.affine(1.0, 1e-6)?.recip()? * max_norm)?.minimum(1.0)?;
    for p in params {
        let Some(g) = grads.get(p.tensor()) else {
            continue;
        };
        let scaled = g.broadcast_mul(&coef.to_dtype(g.dtype())?)?;
        grads.insert(p.tensor(), scaled);
    }
    Ok(Some(total))
}

/// `torch.nn.utils.clip_grad_value_`: clamps every gradient of `params` to
/// `[-clip_value, clip_value]`.
pub fn clip_grad_value(grads: &mut GradStore, params: &[Param], clip_value: f64) -> Result<()> {
    for p in params {
        let Some(g) = grads.get(p.tensor()) else {
            continue;
        };
        let clamped: Tensor = g.clamp(-clip_value, clip_value)?;
        grads.insert(p.tensor(), clamped);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn setup(dtype: DType) -> (Vec<Param>, GradStore) {
        let a = Var::from_tensor(
            &Tensor::new(&[[1.5f64, -2.0], [0.25, 3.0]], &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap(),
        )
        .unwrap();
        let b = Var::from_tensor(
            &Tensor::new(&[-0.5f64, 0.75, 4.0], &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap(),
        )
        .unwrap();
        let loss = (a.as_tensor().powf(3.0).unwrap().sum_all().unwrap()
            + b.as_tensor().sqr().unwrap().sum_all().unwrap())
        .unwrap();
        let grads = loss.backward().unwrap();
        (vec![Param::new("a", a), Param::new("b", b)], grads)
    }

    fn flat(t: &Tensor) -> Vec<f64> {
        t.flatten_all()
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    #[test]
    fn device_clipping_equals_the_host_one() {
        for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-6)] {
            for norm_type in [1.0, 2.0, 3.0, f64::INFINITY] {
                for max_norm in [0.5, 1e3] {
                    let (params, mut host) = setup(dtype);
                    let total =
                        clip_grad_norm(&mut host, &params, max_norm, norm_type, false).unwrap();
                    let (params2, mut dev) = setup(dtype);
                    let dtotal = clip_grad_norm_on_device(&mut dev, &params2, max_norm, norm_type)
                        .unwrap()
                        .unwrap();
                    let dtotal = flat(&dtotal)[0];
                    assert!(
                        (dtotal - total).abs() <= tol * total,
                        "{dtype:?} {norm_type}"
                    );
                    for (p, q) in params.iter().zip(&params2) {
                        let (x, y) = (
                            flat(host.get(p.tensor()).unwrap()),
                            flat(dev.get(q.tensor()).unwrap()),
                        );
                        for (u, v) in x.iter().zip(&y) {
                            assert!(
                                (u - v).abs() <= tol * (1.0 + u.abs()),
                                "{dtype:?} {norm_type}: {u} vs {v}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn apply_in_place_takes_the_device_path_when_forced() {
        let cfg = ClipGradNormConfig {
            max_norm: 0.5,
            norm_type: 2.0,
            error_if_nonfinite: false,
        };
        let (params, mut host) = setup(DType::F32);
        cfg.apply_in_place(&mut host, &params).unwrap();
        let (params2, mut dev) = setup(DType::F32);
        wick_tensor::device_path::force_generic(|| cfg.apply_in_place(&mut dev, &params2)).unwrap();
        for (p, q) in params.iter().zip(&params2) {
            let (x, y) = (
                flat(host.get(p.tensor()).unwrap()),
                flat(dev.get(q.tensor()).unwrap()),
            );
            for (u, v) in x.iter().zip(&y) {
                assert!((u - v).abs() <= 1e-6, "{u} vs {v}");
            }
        }
    }
}
