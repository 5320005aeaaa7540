use crate::loss::single_forward_on_multi;
use crate::ops::{float_input, float_target, same_shape, with_grad};
use crate::{Error, Loss, Reduction, Result, TargetKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.GaussianNLLLoss(full=False, eps=1e-6, reduction='mean')`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaussianNLLLossConfig {
    /// Whether to add the constant `½·log(2π)` (default false).
    #[serde(default)]
    pub full: bool,
    /// The floor the variance is clamped to, for stability (default 1e-6).
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// `none`, `mean` (default) or `sum`.
    #[serde(default)]
    pub reduction: Reduction,
}

fn default_eps() -> f64 {
    1e-6
}

impl Default for GaussianNLLLossConfig {
    fn default() -> Self {
        Self {
            full: false,
            eps: 1e-6,
            reduction: Reduction::Mean,
        }
    }
}

/// `torch.nn.GaussianNLLLoss`: the negative log-likelihood of targets `y` under a
/// Gaussian of mean `x` and variance `v` predicted together:
/// `ℓᵢ = ½·(log max(vᵢ, eps) + (xᵢ − yᵢ)² / max(vᵢ, eps))` (+ `½·log 2π` with `full`).
/// As in PyTorch, the clamp of `v` is not differentiated: the gradient with respect to
/// `v` is taken at the clamped value and passed through unchanged.
///
/// A three-tensor loss: call [`forward_var`](Self::forward_var)`(input, target, var)` or
/// `forward_inputs(&[&input, &var], Some(&target))`; `forward(input, target)` is an
/// error ([`Loss::input_arity`] is 2).
///
/// # Shapes
/// input `[N, *]`, target the same shape; var the same shape (heteroscedastic), or the
/// input's shape without its last dimension, or with one dimension of size 1
/// (homoscedastic, broadcast); output a scalar, or the input's shape with
/// `reduction = "none"`.
///
/// # Errors
/// "var is of incorrect size", "var has negative entry/entries" (as PyTorch), input and
/// target shapes that differ, `eps ≤ 0` (at construction).
#[derive(Debug, Clone)]
pub struct GaussianNLLLoss {
    cfg: GaussianNLLLossConfig,
}

impl GaussianNLLLoss {
    /// Validates the arguments.
    pub fn new(cfg: GaussianNLLLossConfig) -> Result<Self> {
        cfg.reduction.check_standard()?;
        if !(cfg.eps > 0.0 && cfg.eps.is_finite()) {
            return Err(Error::Config {
                field: "eps",
                message: format!("Invalid eps: {} (expected eps > 0)", cfg.eps),
            });
        }
        Ok(Self { cfg })
    }

    /// The loss of the predicted means `input` and variances `var` against `target`.
    pub fn forward_var(&self, input: &Tensor, target: &Tensor, var: &Tensor) -> Result<Tensor> {
        let name = self.type_name();
        float_input(name, "input", input)?;
        float_input(name, "var", var)?;
        same_shape(name, "input", input, "target", target)?;
        let (xd, vd) = (input.dims(), var.dims());
        let var = if vd == xd {
            var.clone()
        } else if !xd.is_empty() && vd == &xd[..xd.len() - 1] {
            var.unsqueeze(vd.len())?
        } else if vd.len() == xd.len()
            && xd.iter().zip(vd).filter(|(a, b)| a != b).count() == 1
            && xd.iter().zip(vd).all(|(a, b)| a == b || *b == 1)
        {
            var.clone()
        } else {
            return Err(Error::Shape(format!(
                "{name}: var is of incorrect size: var shape {vd:?} for input shape {xd:?} \
                 (expected {xd:?}, the input's shape without its last dimension, or with one \
                 dimension of size 1)"
            )));
        };
        let negative = var
            .detach()
            .lt(0.0)?
            .to_dtype(candle_core::DType::U32)?
            .sum_all()?
            .to_scalar::<u32>()?;
        if negative > 0 {
            return Err(Error::Shape(format!(
                "{name}: var has negative entry/entries"
            )));
        }
        let clamped = var.detach().maximum(self.cfg.eps)?;
        let var = with_grad(&clamped, &[(&var, &var.ones_like()?)])?;
        let y = float_target(target, input)?;
        let sq = (input - y)?.sqr()?;
        let mut per = (var.log()?.broadcast_add(&sq.broadcast_div(&var)?)? * 0.5)?;
        if self.cfg.full {
            per = (per + 0.5 * (2.0 * std::f64::consts::PI).ln())?;
        }
        self.cfg.reduction.apply(&per)
    }
}

impl Loss for GaussianNLLLoss {
    fn type_name(&self) -> &'static str {
        "GaussianNLLLoss"
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::Float
    }
    fn reduction(&self) -> Reduction {
        self.cfg.reduction
    }
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "var"]
    }
    fn forward(&self, _input: &Tensor, _target: &Tensor) -> Result<Tensor> {
        Err(single_forward_on_multi(self, "forward_var"))
    }
    fn forward_inputs(&self, inputs: &[&Tensor], target: Option<&Tensor>) -> Result<Tensor> {
        match (inputs, target) {
            ([input, var], Some(target)) => self.forward_var(input, target, var),
            _ => Err(self.arity_error(inputs.len(), String::new())),
        }
    }
}
