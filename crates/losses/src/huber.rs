use crate::ops::{float_input, float_target, same_shape};
use crate::smooth_l1::piecewise;
use crate::{Error, Loss, Reduction, Result, TargetKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.HuberLoss(reduction='mean', delta=1.0)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HuberLossConfig {
    /// `none`, `mean` (default) or `sum`.
    #[serde(default)]
    pub reduction: Reduction,
    /// Where the loss changes from quadratic to linear, `δ > 0` (default 1.0).
    #[serde(default = "one")]
    pub delta: f64,
}

fn one() -> f64 {
    1.0
}

impl Default for HuberLossConfig {
    fn default() -> Self {
        Self {
            reduction: Reduction::Mean,
            delta: 1.0,
        }
    }
}

/// `torch.nn.HuberLoss`: with `z = |xᵢ − yᵢ|`, `ℓᵢ = 0.5·z²` if `z < δ`, else
/// `δ·(z − 0.5·δ)`; then reduced. Equal to `δ · SmoothL1Loss(β = δ)`.
///
/// # Shapes
/// input any shape, target the same shape; output a scalar, or the input's shape with
/// `reduction = "none"`.
///
/// # Errors
/// `delta ≤ 0` (at construction); input and target shapes that differ.
#[derive(Debug, Clone)]
pub struct HuberLoss {
    cfg: HuberLossConfig,
}

impl HuberLoss {
    /// Validates the arguments as PyTorch does.
    pub fn new(cfg: HuberLossConfig) -> Result<Self> {
        cfg.reduction.check_standard()?;
        if !(cfg.delta > 0.0 && cfg.delta.is_finite()) {
            return Err(Error::Config {
                field: "delta",
                message: format!(
                    "huber_loss does not support non-positive values for delta, got {}",
                    cfg.delta
                ),
            });
        }
        Ok(Self { cfg })
    }
}

impl Loss for HuberLoss {
    fn type_name(&self) -> &'static str {
        "HuberLoss"
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::Float
    }
    fn reduction(&self) -> Reduction {
        self.cfg.reduction
    }
    fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        float_input(self.type_name(), "input", input)?;
        same_shape(self.type_name(), "input", input, "target", target)?;
        let d = (input - float_target(target, input)?)?;
        let delta = self.cfg.delta;
        let per = piecewise(
            &d,
            delta,
            |d| Ok((d.sqr()? * 0.5)?),
            |z| Ok(((z - 0.5 * delta)? * delta)?),
        )?;
        self.cfg.reduction.apply(&per)
    }
}
