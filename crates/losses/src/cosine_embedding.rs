use crate::loss::single_forward_on_multi;
use crate::ops::{clamp_min, float_input, float_target, same_shape};
use crate::{Error, Loss, Reduction, Result, TargetKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.CosineEmbeddingLoss(margin=0.0, reduction='mean')`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosineEmbeddingLossConfig {
    /// The margin, in `[−1, 1]` (`[0, 0.5]` suggested), default 0.
    #[serde(default)]
    pub margin: f64,
    /// `none`, `mean` (default) or `sum`.
    #[serde(default)]
    pub reduction: Reduction,
}

/// PyTorch's term added to each squared norm.
const EPSILON: f64 = 1e-12;

/// `torch.nn.CosineEmbeddingLoss`: whether two inputs are alike (`y = 1`) or not
/// (`y = −1`), by their cosine similarity
/// `cos = x₁·x₂ / √((‖x₁‖² + 1e-12)(‖x₂‖² + 1e-12))`:
/// `ℓₙ = 1 − cos` if `yₙ = 1`, `max(0, cos − margin)` if `yₙ = −1` (0 for other labels,
/// as PyTorch).
///
/// A two-input loss: call [`forward_pair`](Self::forward_pair)`(input1, input2, target)`
/// or `forward_inputs(&[&input1, &input2], Some(&target))`.
///
/// # Shapes
/// input1 and input2 `[N, D]` or `[D]`; target `[N]` or `[]`; output a scalar, or `[N]`
/// with `reduction = "none"`.
///
/// # Errors
/// Inputs whose shapes differ or are not 1-D/2-D, a target that is not `[N]`/`[]`.
#[derive(Debug, Clone)]
pub struct CosineEmbeddingLoss {
    cfg: CosineEmbeddingLossConfig,
}

impl CosineEmbeddingLoss {
    /// Validates the arguments as PyTorch does.
    pub fn new(cfg: CosineEmbeddingLossConfig) -> Result<Self> {
        cfg.reduction.check_standard()?;
        Ok(Self { cfg })
    }

    /// The loss of the pairs `(input1[n], input2[n])` with labels `target[n]`.
    pub fn forward_pair(
        &self,
        input1: &Tensor,
        input2: &Tensor,
        target: &Tensor,
    ) -> Result<Tensor> {
        let name = self.type_name();
        float_input(name, "input1", input1)?;
        same_shape(name, "input1", input1, "input2", input2)?;
        let r = input1.rank();
        if r != 1 && r != 2 {
            return Err(Error::Shape(format!(
                "{name}: inputs must be [N, D] or [D], got shape {:?}",
                input1.dims()
            )));
        }
        let want = &input1.dims()[..r - 1];
        if target.dims() != want {
            return Err(Error::Shape(format!(
                "{name}: target shape {:?} does not fit inputs of shape {:?} (expected {want:?}, \
                 one label per pair)",
                target.dims(),
                input1.dims()
            )));
        }
        let y = float_target(target, input1)?.detach();
        let d = r - 1;
        let prod = (input1 * input2)?.sum(d)?;
        let m1 = (input1.sqr()?.sum(d)? + EPSILON)?;
        let m2 = (input2.sqr()?.sum(d)? + EPSILON)?;
        let cos = (prod / (m1 * m2)?.sqrt()?)?;
        let zeros = cos.zeros_like()?;
        let pos = (1.0 - &cos)?;
        let neg = clamp_min(&(&cos - self.cfg.margin)?, 0.0)?;
        let per = (y.eq(1.0)?.where_cond(&pos, &zeros)? + y.eq(-1.0)?.where_cond(&neg, &zeros)?)?;
        self.cfg.reduction.apply(&per)
    }
}

impl Loss for CosineEmbeddingLoss {
    fn type_name(&self) -> &'static str {
        "CosineEmbeddingLoss"
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
