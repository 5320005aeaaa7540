use crate::{Error, Reduction, Result};
use candle_core::Tensor;

/// What a loss expects as its target, so that a data pipeline can hand labels over in
/// the right form.
///
/// | kind | target | losses |
/// |---|---|---|
/// | [`ClassIndex`](Self::ClassIndex) | integer class indices `[N]` (or `[N, d₁, …]`), u32 or i64 | CrossEntropyLoss (which also takes float probabilities shaped like the input), NLLLoss |
/// | [`Float`](Self::Float) | float, shaped like the input | MSELoss, L1Loss, SmoothL1Loss, HuberLoss, BCELoss, BCEWithLogitsLoss, KLDivLoss, HingeEmbeddingLoss, SoftMarginLoss, MultiLabelSoftMarginLoss, PoissonNLLLoss, GaussianNLLLoss |
/// | [`PairSign`](Self::PairSign) | float `1` / `-1`, one per pair: `[N]` | CosineEmbeddingLoss, MarginRankingLoss |
/// | [`NoTarget`](Self::NoTarget) | none | TripletMarginLoss |
///
/// Integer targets given to a float-target loss are converted to the input's dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// Class indices, an integer tensor `[N]` (u32 or i64).
    ClassIndex,
    /// Float targets shaped like the input (values in `[0, 1]` for BCELoss, `±1` for
    /// HingeEmbeddingLoss and SoftMarginLoss, `0/1` for MultiLabelSoftMarginLoss).
    Float,
    /// One float `1` or `-1` per pair of inputs, `[N]`: whether the pair is alike
    /// (CosineEmbeddingLoss) or which input should rank higher (MarginRankingLoss).
    PairSign,
    /// The loss takes no target (TripletMarginLoss).
    NoTarget,
}

/// A `torch.nn` loss module: `loss = criterion(input, target)`.
///
/// # Single- and multi-input losses
/// Most losses take one input and a target: call [`forward`](Self::forward).
/// A few take more tensors, in PyTorch's argument order, named by
/// [`input_names`](Self::input_names):
///
/// | loss | inputs | target |
/// |---|---|---|
/// | CosineEmbeddingLoss | `input1, input2` | `[N]` of ±1 |
/// | MarginRankingLoss | `input1, input2` | `[N]` of ±1 |
/// | GaussianNLLLoss | `input, var` | shaped like `input` |
/// | TripletMarginLoss | `anchor, positive, negative` | none |
///
/// Every loss answers [`forward_inputs`](Self::forward_inputs)`(&[inputs…], target)`;
/// the multi-input ones also have typed inherent methods
/// (`CosineEmbeddingLoss::forward_pair`, `TripletMarginLoss::forward_triplet`,
/// `GaussianNLLLoss::forward_var`, …). Their `forward(input, target)` returns
/// [`Error::Arity`], which says what to call instead. A trainer that feeds a
/// single model output checks [`input_arity`](Self::input_arity)` == 1` first.
pub trait Loss: Send + Sync {
    /// The PyTorch class name.
    fn type_name(&self) -> &'static str;
    /// The target form this loss takes.
    fn target_kind(&self) -> TargetKind;
    /// The reduction this loss applies.
    fn reduction(&self) -> Reduction;
    /// For a float-target loss whose inputs are yes/no scores, the score above which
    /// an output counts as "yes": `0` for logits (BCEWithLogitsLoss, SoftMarginLoss,
    /// MultiLabelSoftMarginLoss), `0.5` for probabilities (BCELoss). A trainer scores
    /// such a model by accuracy; `None` (the default): the outputs are values to
    /// regress or class scores.
    fn decision_threshold(&self) -> Option<f64> {
        None
    }
    /// The names of the tensors the loss takes besides the target, in PyTorch's order
    /// (`["input"]` for single-input losses).
    fn input_names(&self) -> &'static [&'static str] {
        &["input"]
    }
    /// How many tensors the loss takes besides the target (1 for single-input losses).
    fn input_arity(&self) -> usize {
        self.input_names().len()
    }
    /// The loss of `input` against `target`, for single-input losses.
    ///
    /// # Errors
    /// Shapes or values that do not fit (see each loss), and [`Error::Arity`] for a
    /// multi-input loss.
    fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor>;
    /// The loss of any arity: `inputs` in PyTorch's argument order
    /// ([`input_names`](Self::input_names)), `target` `None` for losses without one.
    ///
    /// # Errors
    /// [`Error::Arity`] for the wrong number of inputs or a target where none is taken
    /// (or none where one is), and whatever [`forward`](Self::forward) returns.
    fn forward_inputs(&self, inputs: &[&Tensor], target: Option<&Tensor>) -> Result<Tensor> {
        match (inputs, target) {
            ([input], Some(target)) if self.input_arity() == 1 => self.forward(input, target),
            _ => Err(self.arity_error(inputs.len(), String::new())),
        }
    }
    /// The [`Error::Arity`] for a call with `got` inputs.
    fn arity_error(&self, got: usize, hint: String) -> Error {
        Error::Arity {
            loss: self.type_name(),
            inputs: self.input_names(),
            takes_target: self.target_kind() != TargetKind::NoTarget,
            got,
            hint,
        }
    }
}

/// The error of `forward(input, target)` on a multi-input loss, naming the calls to use.
pub(crate) fn single_forward_on_multi(loss: &dyn Loss, method: &str) -> Error {
    let names = loss.input_names();
    let args: Vec<String> = names.iter().map(|n| format!("&{n}")).collect();
    let target = if loss.target_kind() == TargetKind::NoTarget {
        "None"
    } else {
        "Some(&target)"
    };
    loss.arity_error(
        1,
        format!(
            ": call forward_inputs(&[{}], {target}) or {}::{method}",
            args.join(", "),
            loss.type_name()
        ),
    )
}
