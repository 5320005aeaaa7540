use crate::ops::{clamp_min, float_input, float_target, same_shape};
use crate::{Loss, Reduction, Result, TargetKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.HingeEmbeddingLoss(margin=1.0, reduction='mean')`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HingeEmbeddingLossConfig {
    /// The margin Δ (default 1.0).
    #[serde(default = "one")]
    pub margin: f64,
    /// `none`, `mean` (default) or `sum`.
    #[serde(default)]
    pub reduction: Reduction,
}

fn one() -> f64 {
    1.0
}

impl Default for HingeEmbeddingLossConfig {
    fn default() -> Self {
        Self {
            margin: 1.0,
            reduction: Reduction::Mean,
        }
    }
}

/// `torch.nn.HingeEmbeddingLoss`: for inputs `x` (typically distances) and labels
/// `y ∈ {1, −1}`: `ℓᵢ = xᵢ` if `yᵢ = 1`, `max(0, Δ − xᵢ)` if `yᵢ = −1`. As in PyTorch,
/// a label that is neither adds both terms.
///
/// # Shapes
/// input any shape, target the same shape; output a scalar, or the input's shape with
/// `reduction = "none"`.
///
/// # Errors
/// Input and target shapes that differ.
#[derive(Debug, Clone)]
pub struct HingeEmbeddingLoss {
    cfg: HingeEmbeddingLossConfig,
}

impl HingeEmbeddingLoss {
    /// Validates the arguments as PyTorch does.
    pub fn new(cfg: HingeEmbeddingLossConfig) -> Result<Self> {
        cfg.reduction.check_standard()?;
        Ok(Self { cfg })
    }
}

impl Loss for HingeEmbeddingLoss {
    fn type_name(&self) -> &'static str {
        "HingeEmbeddingLoss"
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
        let y = float_target(target, input)?.detach();
        let zeros = input.zeros_like()?;
        let margin_term = clamp_min(&(self.cfg.margin - input)?, 0.0)?;
        let per = (y.ne(1.0)?.where_cond(&margin_term, &zeros)?
            + y.ne(-1.0)?.where_cond(input, &zeros)?)?;
        self.cfg.reduction.apply(&per)
    }
}
