use crate::Result;
use candle_core::backprop::GradStore;
use candle_core::Tensor;
use wick_tensor::Param;

/// A `torch.optim.Optimizer`: updates its parameters from the gradients of one
/// backward pass. Parameters without a gradient are skipped, as PyTorch skips
/// parameters whose `.grad` is `None`.
///
/// Parameters are split into groups (`optimizer.param_groups`), each with its own
/// hyperparameters; schedulers read and set the learning rate (and, for OneCycleLR and
/// CyclicLR, the momentum) of each group.
pub trait Optimizer: Send {
    /// The PyTorch class name.
    fn type_name(&self) -> &'static str;
    /// `optimizer.step()` with the gradients of `loss.backward()`.
    fn step(&mut self, grads: &GradStore) -> Result<()>;
    /// Number of parameter groups (`len(optimizer.param_groups)`).
    fn num_groups(&self) -> usize;
    /// The learning rate of group `group` (`param_groups[group]["lr"]`).
    ///
    /// # Panics
    /// If `group >= num_groups()` (a programming error, not a user one).
    fn lr(&self, group: usize) -> f64;
    /// Sets the learning rate of group `group`, as a scheduler does.
    fn set_lr(&mut self, group: usize, lr: f64);
    /// The learning rate of every group.
    fn lrs(&self) -> Vec<f64> {
        (0..self.num_groups()).map(|g| self.lr(g)).collect()
    }
    /// `param_groups[group]["initial_lr"]`: the learning rate a scheduler started
    /// from (set by the first scheduler built on this optimizer).
    fn initial_lr(&self, group: usize) -> Option<f64>;
    /// Sets `param_groups[group]["initial_lr"]`.
    fn set_initial_lr(&mut self, group: usize, lr: f64);
    /// The momentum a scheduler may cycle: `momentum` (SGD, RMSprop) or `betas[0]`
    /// (the Adam family); `None` for optimizers that have neither (Adagrad, Adadelta).
    fn momentum(&self, group: usize) -> Option<f64>;
    /// Sets the momentum (or `betas[0]`) of group `group`; does nothing where
    /// [`momentum`](Self::momentum) is `None`.
    fn set_momentum(&mut self, group: usize, momentum: f64);
    /// The parameters being optimized, by name, in model order.
    fn params(&self) -> &[Param];
    /// The optimizer's state by parameter name: `state.<param>.<buffer>` (e.g.
    /// `state.0.weight.exp_avg`, `state.0.weight.step`, as PyTorch names them) for
    /// every parameter that has taken a step, and `param_groups.<i>.lr` (plus
    /// `.initial_lr` and `.momentum` where set) for every group. All on the CPU.
    fn state_dict(&self) -> Result<Vec<(String, Tensor)>>;
    /// Loads a [`state_dict`](Self::state_dict) of an optimizer of the same class over
    /// parameters of the same names and shapes.
    ///
    /// # Errors
    /// [`Error::State`](crate::Error::State) for an unknown parameter or buffer name, a
    /// wrong shape, a different number of groups; nothing is changed then.
    fn load_state_dict(&mut self, state: &[(String, Tensor)]) -> Result<()>;
}
