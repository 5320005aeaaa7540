use crate::ops::{float_input, float_target, same_shape};
use crate::{Loss, Reduction, Result, TargetKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.KLDivLoss(reduction='mean', log_target=False)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KLDivLossConfig {
    /// `none`, `mean` (default; the mean over every element), `sum`, or `batchmean`
    /// (the sum divided by the batch size: the KL divergence's definition).
    #[serde(default)]
    pub reduction: Reduction,
    /// Whether the target is given as log-probabilities (default false).
    #[serde(default)]
    pub log_target: bool,
}

/// `torch.nn.KLDivLoss`: the Kullback-Leibler divergence of the target distribution
/// from the input's, with the input `x` given as log-probabilities:
/// `ℓᵢ = yᵢ·(log yᵢ − xᵢ)` (`0` where `yᵢ = 0`, as PyTorch's `xlogy`), or with
/// `log_target = true`, `ℓᵢ = e^{yᵢ}·(yᵢ − xᵢ)`. Gradient `−yᵢ` (resp. `−e^{yᵢ}`).
///
/// # Shapes
/// input any shape (`[N, …]` for `batchmean`), target the same shape; output a scalar,
/// or the input's shape with `reduction = "none"`.
///
/// # Errors
/// Input and target shapes that differ.
#[derive(Debug, Clone)]
pub struct KLDivLoss {
    cfg: KLDivLossConfig,
}

impl KLDivLoss {
    /// Validates the arguments as PyTorch does (every reduction, `batchmean` included,
    /// is valid).
    pub fn new(cfg: KLDivLossConfig) -> Result<Self> {
        Ok(Self { cfg })
    }
}

impl Loss for KLDivLoss {
    fn type_name(&self) -> &'static str {
        "KLDivLoss"
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
        let per = if self.cfg.log_target {
            (y.exp()? * (&y - input)?)?
        } else {
            // xlogy(y, y): 0 where y = 0 (log of 1 there), NaN for y < 0 as PyTorch.
            let safe = y.eq(0.0)?.where_cond(&y.ones_like()?, &y)?;
            ((&y * safe.log()?)? - (&y * input)?)?
        };
        self.cfg.reduction.apply(&per)
    }
}
