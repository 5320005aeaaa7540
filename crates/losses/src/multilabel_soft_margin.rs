use crate::ops::{
    float_input, float_target, last_dim_weight, nonempty_weight, same_shape, softplus,
};
use crate::{Error, Loss, Reduction, Result, TargetKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.MultiLabelSoftMarginLoss(weight=None, reduction='mean')`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiLabelSoftMarginLossConfig {
    /// A manual rescaling weight per class, `[C]` (default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Vec<f64>>,
    /// `none`, `mean` (default) or `sum`.
    #[serde(default)]
    pub reduction: Reduction,
}

/// `torch.nn.MultiLabelSoftMarginLoss`: a one-versus-all logistic loss over `C` classes
/// with multi-hot targets `y ∈ {0, 1}`:
/// `ℓₙ = −(1/C)·Σ_c w_c·(yₙ꜀·log σ(xₙ꜀) + (1 − yₙ꜀)·log σ(−xₙ꜀))`, one loss per
/// sample, then reduced over the samples. Gradient `w_c·(σ(x) − y)/C`.
///
/// # Shapes
/// input `[N, C]` or `[C]`, target the same shape; output a scalar, or `[N]` with
/// `reduction = "none"`.
///
/// # Errors
/// Shapes that differ or a scalar input, a weight whose length is not `C`.
#[derive(Debug, Clone)]
pub struct MultiLabelSoftMarginLoss {
    cfg: MultiLabelSoftMarginLossConfig,
}

impl MultiLabelSoftMarginLoss {
    /// Validates the arguments as PyTorch does.
    pub fn new(cfg: MultiLabelSoftMarginLossConfig) -> Result<Self> {
        cfg.reduction.check_standard()?;
        nonempty_weight(cfg.weight.as_deref(), "weight")?;
        Ok(Self { cfg })
    }
}

impl Loss for MultiLabelSoftMarginLoss {
    fn type_name(&self) -> &'static str {
        "MultiLabelSoftMarginLoss"
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
        let name = self.type_name();
        float_input(name, "input", input)?;
        same_shape(name, "input", input, "target", target)?;
        if input.rank() == 0 {
            return Err(Error::Shape(format!(
                "{name}: input must have a class dimension ([N, C] or [C]), got a scalar"
            )));
        }
        let y = float_target(target, input)?;
        let mut per = ((&y * softplus(&input.neg()?)?)? + ((1.0 - &y)? * softplus(input)?)?)?;
        if let Some(w) = last_dim_weight(name, "weight", self.cfg.weight.as_deref(), input)? {
            per = (per * w)?;
        }
        let class_dim = input.rank() - 1;
        let c = input.dim(class_dim)?;
        let per = (per.sum(class_dim)? / c as f64)?;
        self.cfg.reduction.apply(&per)
    }
}
