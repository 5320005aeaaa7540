use crate::ops::{float_input, float_target, same_shape};
use crate::{Loss, Reduction, Result, TargetKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.MSELoss(reduction='mean')`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MSELossConfig {
    /// `none`, `mean` (default) or `sum`.
    #[serde(default)]
    pub reduction: Reduction,
}

/// `torch.nn.MSELoss`: the squared error `ℓᵢ = (xᵢ − yᵢ)²`, then reduced.
///
/// # Shapes
/// input any shape, target the same shape (float; integer targets are converted);
/// output a scalar, or the input's shape with `reduction = "none"`.
///
/// # Errors
/// Input and target shapes that differ (PyTorch would broadcast them with a warning).
#[derive(Debug, Clone)]
pub struct MSELoss {
    cfg: MSELossConfig,
}

impl MSELoss {
    /// Validates the arguments as PyTorch does.
    pub fn new(cfg: MSELossConfig) -> Result<Self> {
        cfg.reduction.check_standard()?;
        Ok(Self { cfg })
    }
}

impl Loss for MSELoss {
    fn type_name(&self) -> &'static str {
        "MSELoss"
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
        self.cfg.reduction.apply(&d.sqr()?)
    }
}
