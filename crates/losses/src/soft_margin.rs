use crate::ops::{float_input, float_target, same_shape, softplus};
use crate::{Loss, Reduction, Result, TargetKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.SoftMarginLoss(reduction='mean')`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftMarginLossConfig {
    /// `none`, `mean` (default) or `sum`.
    #[serde(default)]
    pub reduction: Reduction,
}

/// `torch.nn.SoftMarginLoss`: the two-class logistic loss for labels `y ∈ {1, −1}`,
/// `ℓᵢ = log(1 + e^{−yᵢxᵢ})`, computed as a stable softplus (PyTorch's
/// `log1p(exp(−y·x))` overflows to `inf` for `−y·x ≳ 89` in f32; wick gives the finite
/// value). Gradient `−yᵢ·σ(−yᵢxᵢ)`.
///
/// # Shapes
/// input any shape, target the same shape; output a scalar, or the input's shape with
/// `reduction = "none"`.
///
/// # Errors
/// Input and target shapes that differ.
#[derive(Debug, Clone)]
pub struct SoftMarginLoss {
    cfg: SoftMarginLossConfig,
}

impl SoftMarginLoss {
    /// Validates the arguments as PyTorch does.
    pub fn new(cfg: SoftMarginLossConfig) -> Result<Self> {
        cfg.reduction.check_standard()?;
        Ok(Self { cfg })
    }
}

impl Loss for SoftMarginLoss {
    fn type_name(&self) -> &'static str {
        "SoftMarginLoss"
    }
    fn decision_threshold(&self) -> Option<f64> {
        Some(0.0)
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
        let y = float_target(target, input)?;
        let per = softplus(&(input * y)?.neg()?)?;
        self.cfg.reduction.apply(&per)
    }
}
