use crate::ops::{
    float_input, float_target, last_dim_weight, nonempty_weight, same_shape, softplus,
};
use crate::{Loss, Reduction, Result, TargetKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.BCEWithLogitsLoss(weight=None, reduction='mean',
/// pos_weight=None)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BCEWithLogitsLossConfig {
    /// A rescaling weight broadcast along the input's last dimension (default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Vec<f64>>,
    /// `none`, `mean` (default) or `sum`.
    #[serde(default)]
    pub reduction: Reduction,
    /// A weight of positive examples, one per class (the last dimension), default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pos_weight: Option<Vec<f64>>,
}

/// `torch.nn.BCEWithLogitsLoss`: a sigmoid and the binary cross-entropy in one
/// numerically stable step. With logits `x`, targets `y`, `pos_weight` `p` (default 1)
/// and `weight` `w` (default 1):
/// `ℓᵢ = wᵢ·[(1 − yᵢ)·xᵢ + (1 + (p − 1)·yᵢ)·softplus(−xᵢ)]`, where
/// `softplus(−x) = −log σ(x) = max(−x, 0) + log1p(e^{−|x|})` never overflows
/// (with `p = 1`: `max(x, 0) − x·y + log1p(e^{−|x|})`). Gradient
/// `w·((p·y + 1 − y)·σ(x) − p·y)`, smooth everywhere.
///
/// # Shapes
/// input any shape, target the same shape; output a scalar, or the input's shape with
/// `reduction = "none"`.
///
/// # Errors
/// Shapes that differ; `weight` or `pos_weight` that do not broadcast along the last
/// dimension.
#[derive(Debug, Clone)]
pub struct BCEWithLogitsLoss {
    cfg: BCEWithLogitsLossConfig,
}

impl BCEWithLogitsLoss {
    /// Validates the arguments as PyTorch does.
    pub fn new(cfg: BCEWithLogitsLossConfig) -> Result<Self> {
        cfg.reduction.check_standard()?;
        nonempty_weight(cfg.weight.as_deref(), "weight")?;
        nonempty_weight(cfg.pos_weight.as_deref(), "pos_weight")?;
        Ok(Self { cfg })
    }
}

impl Loss for BCEWithLogitsLoss {
    fn type_name(&self) -> &'static str {
        "BCEWithLogitsLoss"
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
        let y = float_target(target, input)?;
        let sp = softplus(&input.neg()?)?;
        let sp = match last_dim_weight(name, "pos_weight", self.cfg.pos_weight.as_deref(), input)? {
            Some(p) => (sp * (((p - 1.0)? * &y)? + 1.0)?)?,
            None => sp,
        };
        let mut per = (((1.0 - &y)? * input)? + sp)?;
        if let Some(w) = last_dim_weight(name, "weight", self.cfg.weight.as_deref(), input)? {
            per = (per * w)?;
        }
        self.cfg.reduction.apply(&per)
    }
}
