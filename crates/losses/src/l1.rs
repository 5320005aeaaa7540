use crate::ops::{abs, float_input, float_target, same_shape};
use crate::{Loss, Reduction, Result, TargetKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.L1Loss(reduction='mean')`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct L1LossConfig {
    /// `none`, `mean` (default) or `sum`.
    #[serde(default)]
    pub reduction: Reduction,
}

/// `torch.nn.L1Loss`: the absolute error `ℓᵢ = |xᵢ − yᵢ|`, then reduced. Its gradient
/// is `sign(xᵢ − yᵢ)`, 0 where `xᵢ = yᵢ`, as PyTorch's.
///
/// # Shapes
/// input any shape, target the same shape; output a scalar, or the input's shape with
/// `reduction = "none"`.
///
/// # Errors
/// Input and target shapes that differ.
#[derive(Debug, Clone)]
pub struct L1Loss {
    cfg: L1LossConfig,
}

impl L1Loss {
    /// Validates the arguments as PyTorch does.
    pub fn new(cfg: L1LossConfig) -> Result<Self> {
        cfg.reduction.check_standard()?;
        Ok(Self { cfg })
    }
}

impl Loss for L1Loss {
    fn type_name(&self) -> &'static str {
        "L1Loss"
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
        self.cfg.reduction.apply(&abs(&d)?)
    }
}
