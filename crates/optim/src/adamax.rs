use crate::adam::validate_adam_like;
use crate::float::{ensure, lerp, maximum, Float};
use crate::lanes;
use crate::{Optim, Result, Rule};
use candle_core::Tensor;

optimizer_config! {
    /// Arguments of `torch.optim.Adamax(params, lr=0.002, betas=(0.9, 0.999), eps=1e-08,
    /// weight_decay=0, *, maximize=False)`.
    pub struct AdamaxConfig / AdamaxGroup {
        /// Learning rate (default 2e-3).
        lr: f64 = 2e-3,
        /// Coefficients of the running average and of the infinity norm (default `[0.9, 0.999]`).
        betas: (f64, f64) = (0.9, 0.999),
        /// Term added to the denominator (default 1e-8).
        eps: f64 = 1e-8,
        /// L2 penalty (default 0).
        weight_decay: f64 = 0.0,
        /// Maximize the objective (default `false`).
        maximize: bool = false,
    }
}

/// `torch.optim.Adamax`, as PyTorch's `_single_tensor_adamax`:
///
/// ```text
/// t ← t + 1;  g ← ∇θ (−∇θ if maximize);  g ← g + λθ if weight_decay λ ≠ 0
/// m ← lerp(m, g, 1 − β₁);  u ← max(β₂u, |g| + eps)
/// θ ← θ − lr/(1 − β₁ᵗ) · m / u
/// ```
///
/// State: `step`, `exp_avg`, `exp_inf`.
pub type Adamax = Optim<AdamaxConfig>;

impl Rule for AdamaxConfig {
    rule_plumbing!(AdamaxGroup);
    const NAME: &'static str = "Adamax";
    const SCALARS: &'static [(&'static str, f64)] = &[("step", 0.0)];
    const BUFFERS: &'static [&'static str] = &["exp_avg", "exp_inf"];

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
        let n = theta.len();
        scalars[0] += 1.0;
        let step = scalars[0];
        let [m, u] = bufs else { return };
        ensure(m, n, 0.0);
        ensure(u, n, 0.0);
        // equal lengths up front let the compiler drop the bounds checks
        let (m, u, grad) = (&mut m[..n], &mut u[..n], &grad[..n]);
        let (beta1, beta2) = self.betas;
        let w1 = T::of(1.0 - beta1);
        let b2 = T::of(beta2);
        let eps = T::of(self.eps);
        let wd = T::of(self.weight_decay);
        let clr = T::of(-(self.lr / (1.0 - beta1.powf(step))));
        let decay = self.weight_decay != 0.0;
        for i in 0..n {
            let mut g = if self.maximize { -grad[i] } else { grad[i] };
            if decay {
                g = g + wd * theta[i];
            }
            let mi = lerp(m[i], g, w1);
            m[i] = mi;
            let ui = maximum(u[i] * b2, g.abs() + eps);
            u[i] = ui;
            theta[i] = theta[i] + clr * mi / ui;
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
        let [m, u] = bufs else {
            candle_core::bail!("Adamax: expected two state buffers")
        };
        let (beta1, beta2) = self.betas;
        let g = lanes::grad(grad, theta, self.maximize, self.weight_decay)?;
        let mi = lanes::lerp(&lanes::ensure(m, theta, 0.0)?, &g, 1.0 - beta1)?;
        let ui = lanes::maximum(
            &lanes::scale(&lanes::ensure(u, theta, 0.0)?, beta2)?,
            &g.abs()?.affine(1.0, self.eps)?,
        )?;
        *m = Some(mi.clone());
        *u = Some(ui.clone());
        let clr = -(self.lr / (1.0 - beta1.powf(step)));
        theta.add(&lanes::scale(&mi, clr)?.div(&ui)?)
    }
}
