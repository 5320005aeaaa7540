use crate::Result;
use candle_core::backprop::GradStore;
use wick_tensor::Param;

/// A `torch.optim.Optimizer`: updates its parameters from the gradients of one
/// backward pass. Parameters without a gradient are skipped, as PyTorch skips
/// parameters whose `.grad` is `None`.
pub trait Optimizer: Send {
    /// The PyTorch class name.
    fn type_name(&self) -> &'static str;
    /// `optimizer.step()` with the gradients of `loss.backward()`.
    fn step(&mut self, grads: &GradStore) -> Result<()>;
    /// The current learning rate (`param_groups[0]["lr"]`).
    fn lr(&self) -> f64;
    /// Sets the learning rate, as a scheduler does.
    fn set_lr(&mut self, lr: f64);
    /// The parameters being optimized, by name.
    fn params(&self) -> &[Param];
}
