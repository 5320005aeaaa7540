use crate::Result;
use candle_core::Tensor;

/// What a loss expects as its target, so that a data pipeline can hand labels over in
/// the right form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// Class indices, an integer tensor `[N]` (u32 or i64).
    ClassIndex,
    /// Float targets shaped like the input.
    Float,
}

/// A `torch.nn` loss module: `loss = criterion(input, target)`.
pub trait Loss: Send + Sync {
    /// The PyTorch class name.
    fn type_name(&self) -> &'static str;
    /// The loss of `input` against `target`.
    fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor>;
    /// The target form this loss takes for class labels.
    fn target_kind(&self) -> TargetKind;
}
