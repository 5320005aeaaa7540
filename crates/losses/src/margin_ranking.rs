use crate::loss::single_forward_on_multi;
use crate::ops::{clamp_min, float_input, float_target, same_shape};
use crate::{Loss, Reduction, Result, TargetKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.MarginRankingLoss(margin=0.0, reduction='mean')`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarginRankingLossConfig {
    /// The margin (default 0).
    #[serde(default)]
    pub margin: f64,
    /// `none`, `mean` (default) or `sum`.
    #[serde(default)]
    pub reduction: Reduction,
}

/// `torch.nn.MarginRankingLoss`: whether `x₁` should rank higher than `x₂` (`y = 1`) or
/// lower (`y = −1`): `ℓᵢ = max(0, −yᵢ·(x₁ᵢ − x₂ᵢ) + margin)`.
///
/// A two-input loss: call [`forward_pair`](Self::forward_pair)`(input1, input2, target)`
/// or `forward_inputs(&[&input1, &input2], Some(&target))`.
///
/// # Shapes
/// input1, input2 and target `[N]` or `[]`, all the same; output a scalar, or `[N]` with
/// `reduction = "none"`.
///
/// # Errors
/// Shapes that differ.
#[derive(Debug, Clone)]
pub struct MarginRankingLoss {
    cfg: MarginRankingLossConfig,
}

impl MarginRankingLoss {
    /// Validates the arguments as PyTorch does.
    pub fn new(cfg: MarginRankingLossConfig) -> Result<Self> {
        cfg.reduction.check_standard()?;
        Ok(Self { cfg })
    }

    /// The loss of the scores `input1` and `input2` with labels `target`.
    pub fn forward_pair(
        &self,
        input1: &Tensor,
        input2: &Tensor,
        target: &Tensor,
    ) -> Result<Tensor> {
        let name = self.type_name();
        float_input(name, "input1", input1)?;
        same_shape(name, "input1", input1, "input2", input2)?;
        same_shape(name, "input1", input1, "target", target)?;
        let y = float_target(target, input1)?;
        let per = clamp_min(&(((input1 - input2)? * y.neg()?)? + self.cfg.margin)?, 0.0)?;
        self.cfg.reduction.apply(&per)
    }
}

impl Loss for MarginRankingLoss {
    fn type_name(&self) -> &'static str {
        "MarginRankingLoss"
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::PairSign
    }
    fn reduction(&self) -> Reduction {
        self.cfg.reduction
    }
    fn input_names(&self) -> &'static [&'static str] {
        &["input1", "input2"]
    }
    fn forward(&self, _input: &Tensor, _target: &Tensor) -> Result<Tensor> {
        Err(single_forward_on_multi(self, "forward_pair"))
    }
    fn forward_inputs(&self, inputs: &[&Tensor], target: Option<&Tensor>) -> Result<Tensor> {
        match (inputs, target) {
            ([a, b], Some(y)) => self.forward_pair(a, b, y),
            _ => Err(self.arity_error(inputs.len(), String::new())),
        }
    }
}
