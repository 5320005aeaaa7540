use crate::adam::{validate_adam_like, AdamStep};
use crate::float::Float;
use crate::{Optim, Result, Rule};
use candle_core::Tensor;

optimizer_config! {
    /// Arguments of `torch.optim.AdamW(params, lr=0.001, betas=(0.9, 0.999), eps=1e-08,
    /// weight_decay=0.01, amsgrad=False, *, maximize=False)`.
    pub struct AdamWConfig / AdamWGroup {
        /// Learning rate (default 1e-3).
        lr: f64 = 1e-3,
        /// Coefficients of the running averages of the gradient and its square
        /// (default `[0.9, 0.999]`).
        betas: (f64, f64) = (0.9, 0.999),
        /// Term added to the denominator (default 1e-8).
        eps: f64 = 1e-8,
        /// Decoupled weight decay (default 1e-2).
        weight_decay: f64 = 1e-2,
        /// The AMSGrad variant (default `false`).
        amsgrad: bool = false,
        /// Maximize the objective (default `false`).
        maximize: bool = false,
    }
}

/// `torch.optim.AdamW`: [`Adam`](crate::Adam) with decoupled weight decay,
/// `θ ← θ·(1 − lr·weight_decay)` before the Adam update.
///
/// State: `step`, `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq` (amsgrad).
pub type AdamW = Optim<AdamWConfig>;

impl Rule for AdamWConfig {
    rule_plumbing!(AdamWGroup);
    const NAME: &'static str = "AdamW";
    const SCALARS: &'static [(&'static str, f64)] = &[("step", 0.0)];
    const BUFFERS: &'static [&'static str] = &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"];

    fn validate(&self) -> Result<()> {
        validate_adam_like(self.lr, self.betas, self.eps, self.weight_decay)
    }
    fn momentum(&self) -> Option<f64> {
        Some(self.betas.0)
    }
    fn set_momentum(&mut self, momentum: f64) {
        self.betas.0 = momentum;
    }
    fn update<T: Float>(
        &self,
        scalars: &mut [f64],
        theta: &mut [T],
        grad: &[T],
        bufs: &mut [Vec<T>],
    ) {
        AdamStep {
            lr: self.lr,
            beta1: self.betas.0,
            beta2: self.betas.1,
            eps: self.eps,
            weight_decay: self.weight_decay,
            amsgrad: self.amsgrad,
            maximize: self.maximize,
            decoupled: true,
        }
        .update(scalars, theta, grad, bufs)
    }
    fn update_tensors(
        &self,
        scalars: &mut [f64],
        theta: &Tensor,
        grad: &Tensor,
        bufs: &mut [Option<Tensor>],
    ) -> candle_core::Result<Tensor> {
        AdamStep {
            lr: self.lr,
            beta1: self.betas.0,
            beta2: self.betas.1,
            eps: self.eps,
            weight_decay: self.weight_decay,
            amsgrad: self.amsgrad,
            maximize: self.maximize,
            decoupled: true,
        }
        .update_tensors(scalars, theta, grad, bufs)
    }
}
