use crate::ops::{
    all_in_unit_interval, float_input, float_target, last_dim_weight, nonempty_weight, same_shape,
    with_grad,
};
use crate::{Error, Loss, Reduction, Result, TargetKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.BCELoss(weight=None, reduction='mean')`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BCELossConfig {
    /// A rescaling weight broadcast along the input's last dimension (default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Vec<f64>>,
    /// `none`, `mean` (default) or `sum`.
    #[serde(default)]
    pub reduction: Reduction,
}

/// PyTorch's floor on `x(1−x)` in the gradient of the binary cross-entropy.
const EPSILON: f64 = 1e-12;

/// `torch.nn.BCELoss`: the binary cross-entropy of probabilities `x` against targets `y`,
/// `ℓᵢ = −wᵢ·(yᵢ·log xᵢ + (1 − yᵢ)·log(1 − xᵢ))`, each log clamped to `≥ −100` as
/// PyTorch clamps it; then reduced.
///
/// The gradient is PyTorch's: `∂ℓ/∂x = w·(x − y) / max(x(1 − x), 1e-12)` and
/// `∂ℓ/∂y = w·(log(1 − x) − log x)` (clamped logs).
///
/// # Shapes
/// input any shape, target the same shape; output a scalar, or the input's shape with
/// `reduction = "none"`.
///
/// # Errors
/// Input or target elements outside `[0, 1]` ("all elements of input should be
/// between 0 and 1": the input must be probabilities, e.g. after `Sigmoid`; for raw
/// scores use BCEWithLogitsLoss); shapes that differ; a weight that does not broadcast.
#[derive(Debug, Clone)]
pub struct BCELoss {
    cfg: BCELossConfig,
}

impl BCELoss {
    /// Validates the arguments as PyTorch does.
    pub fn new(cfg: BCELossConfig) -> Result<Self> {
        cfg.reduction.check_standard()?;
        nonempty_weight(cfg.weight.as_deref(), "weight")?;
        Ok(Self { cfg })
    }
}

impl Loss for BCELoss {
    fn type_name(&self) -> &'static str {
        "BCELoss"
    }
    fn decision_threshold(&self) -> Option<f64> {
        Some(0.5)
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::Float
    }
    fn reduction(&self) -> Reduction {
        self.cfg.reduction
    }
    fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        let name = self.type_name();
        float_input(name, "input", input)?;
        same_shape(name, "input", input, "target", target)?;
        let y = float_target(target, input)?;
        if !all_in_unit_interval(input)? {
            return Err(Error::Shape(format!(
                "{name}: all elements of input should be between 0 and 1 (BCELoss takes \
                 probabilities, e.g. after Sigmoid; for raw scores use BCEWithLogitsLoss)"
            )));
        }
        if !all_in_unit_interval(&y)? {
            return Err(Error::Shape(format!(
                "{name}: all elements of target should be between 0 and 1"
            )));
        }
        let w = last_dim_weight(name, "weight", self.cfg.weight.as_deref(), input)?;
        let (x, yd) = (input.detach(), y.detach());
        let log_x = x.log()?.maximum(-100.0)?;
        let log_1mx = (1.0 - &x)?.log()?.maximum(-100.0)?;
        let mut value = ((&yd * &log_x)? + ((1.0 - &yd)? * &log_1mx)?)?.neg()?;
        let denom = ((1.0 - &x)? * &x)?.maximum(EPSILON)?;
        let mut gx = (&x - &yd)?.div(&denom)?;
        let mut gy = (&log_1mx - &log_x)?;
        if let Some(w) = &w {
            value = (value * w)?;
            gx = (gx * w)?;
            gy = (gy * w)?;
        }
        let per = with_grad(&value, &[(input, &gx), (&y, &gy)])?;
        self.cfg.reduction.apply(&per)
    }
}
