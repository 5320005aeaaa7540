use crate::float::{ensure, Float};
use crate::lanes;
use crate::{Optim, Result, Rule};
use candle_core::Tensor;

optimizer_config! {
    /// Arguments of `torch.optim.Adagrad(params, lr=0.01, lr_decay=0, weight_decay=0,
    /// initial_accumulator_value=0, eps=1e-10, *, maximize=False)`.
    pub struct AdagradConfig / AdagradGroup {
        /// Learning rate (default 1e-2).
        lr: f64 = 1e-2,
        /// Learning-rate decay (default 0).
        lr_decay: f64 = 0.0,
        /// L2 penalty (default 0).
        weight_decay: f64 = 0.0,
        /// Initial value of the sum of squared gradients (default 0).
        initial_accumulator_value: f64 = 0.0,
        /// Term added to the denominator (default 1e-10).
        eps: f64 = 1e-10,
        /// Maximize the objective (default `false`).
        maximize: bool = false,
    }
}

/// `torch.optim.Adagrad`, as PyTorch's `_single_tensor_adagrad`:
///
/// ```text
/// t ← t + 1;  g ← ∇θ (−∇θ if maximize);  g ← g + λθ if weight_decay λ ≠ 0
/// clr ← lr / (1 + (t − 1)·lr_decay)
/// s ← s + g²;  θ ← θ − clr · g / (√s + eps)
/// ```
///
/// State: `step`, `sum` (starting at `initial_accumulator_value`).
pub type Adagrad = Optim<AdagradConfig>;

impl Rule for AdagradConfig {
    rule_plumbing!(AdagradGroup);
    const NAME: &'static str = "Adagrad";
    const SCALARS: &'static [(&'static str, f64)] = &[("step", 0.0)];
    const BUFFERS: &'static [&'static str] = &["sum"];

    fn validate(&self) -> Result<()> {
        check!(
            self.lr >= 0.0,
            "lr",
            "Invalid learning rate: {} (expected lr ≥ 0)",
            self.lr
        );
        check!(
            self.lr_decay >= 0.0,
            "lr_decay",
            "Invalid lr_decay value: {} (expected lr_decay ≥ 0)",
            self.lr_decay
        );
        check!(
            self.weight_decay >= 0.0,
            "weight_decay",
            "Invalid weight_decay value: {} (expected weight_decay ≥ 0)",
            self.weight_decay
        );
        check!(
            self.initial_accumulator_value >= 0.0,
            "initial_accumulator_value",
            "Invalid initial_accumulator_value value: {} (expected initial_accumulator_value ≥ 0)",
            self.initial_accumulator_value
        );
        check!(
            self.eps >= 0.0,
            "eps",
            "Invalid epsilon value: {} (expected eps ≥ 0)",
            self.eps
        );
        Ok(())
    }
    fn update<T: Float>(
        &self,
        scalars: &mut [f64],
        theta: &mut [T],
        grad: &[T],
        bufs: &mut [Vec<T>],
    ) {
        let n = theta.len();
        scalars[0] += 1.0;
        let step = scalars[0];
        let sum = &mut bufs[0];
        ensure(sum, n, self.initial_accumulator_value);
        // equal lengths up front let the compiler drop the bounds checks
        let (sum, grad) = (&mut sum[..n], &grad[..n]);
        let clr = T::of(-(self.lr / (1.0 + (step - 1.0) * self.lr_decay)));
        let eps = T::of(self.eps);
        let wd = T::of(self.weight_decay);
        let one = T::of(1.0);
        let decay = self.weight_decay != 0.0;
        for i in 0..n {
            let mut g = if self.maximize { -grad[i] } else { grad[i] };
            if decay {
                g = g + wd * theta[i];
            }
            let s = sum[i] + one * g * g;
            sum[i] = s;
            theta[i] = theta[i] + clr * g / (s.sqrt() + eps);
        }
    }
    fn update_tensors(
        &self,
        scalars: &mut [f64],
        theta: &Tensor,
        grad: &Tensor,
        bufs: &mut [Option<Tensor>],
    ) -> candle_core::Result<Tensor> {
        scalars[0] += 1.0;
        let step = scalars[0];
        let g = lanes::grad(grad, theta, self.maximize, self.weight_decay)?;
        let s =
            lanes::ensure(&mut bufs[0], theta, self.initial_accumulator_value)?.add(&g.sqr()?)?;
        bufs[0] = Some(s.clone());
        let clr = -(self.lr / (1.0 + (step - 1.0) * self.lr_decay));
        theta.add(&lanes::scale(&g, clr)?.div(&s.sqrt()?.affine(1.0, self.eps)?)?)
    }
}
