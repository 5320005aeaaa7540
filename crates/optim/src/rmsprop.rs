use crate::float::{ensure, lerp, Float};
use crate::{Optim, Result, Rule};

optimizer_config! {
    /// Arguments of `torch.optim.RMSprop(params, lr=0.01, alpha=0.99, eps=1e-08,
    /// weight_decay=0, momentum=0, centered=False, *, maximize=False)`.
    pub struct RmspropConfig / RmspropGroup {
        /// Learning rate (default 1e-2).
        lr: f64 = 1e-2,
        /// Smoothing constant of the squared-gradient average (default 0.99).
        alpha: f64 = 0.99,
        /// Term added to the denominator (default 1e-8).
        eps: f64 = 1e-8,
        /// L2 penalty (default 0).
        weight_decay: f64 = 0.0,
        /// Momentum factor (default 0).
        momentum: f64 = 0.0,
        /// Normalize by the estimated variance of the gradient (default `false`).
        centered: bool = false,
        /// Maximize the objective (default `false`).
        maximize: bool = false,
    }
}

/// `torch.optim.RMSprop`, as PyTorch's `_single_tensor_rmsprop`:
///
/// ```text
/// g ← ∇θ (−∇θ if maximize);  g ← g + λθ if weight_decay λ ≠ 0
/// v ← αv + (1 − α)g²
/// centered: ḡ ← lerp(ḡ, g, 1 − α);  a ← √(v − ḡ²) + eps;  else a ← √v + eps
/// momentum > 0: b ← μb + g/a;  θ ← θ − lr·b;   else θ ← θ − lr·g/a
/// ```
///
/// State: `step`, `square_avg`, `momentum_buffer` (momentum > 0), `grad_avg` (centered).
pub type Rmsprop = Optim<RmspropConfig>;

impl Rule for RmspropConfig {
    rule_plumbing!(RmspropGroup);
    const NAME: &'static str = "RMSprop";
    const SCALARS: &'static [(&'static str, f64)] = &[("step", 0.0)];
    const BUFFERS: &'static [&'static str] = &["square_avg", "momentum_buffer", "grad_avg"];

    fn validate(&self) -> Result<()> {
        check!(
            self.lr >= 0.0,
            "lr",
            "Invalid learning rate: {} (expected lr ≥ 0)",
            self.lr
        );
        check!(
            self.eps >= 0.0,
            "eps",
            "Invalid epsilon value: {} (expected eps ≥ 0)",
            self.eps
        );
        check!(
            self.momentum >= 0.0,
            "momentum",
            "Invalid momentum value: {} (expected momentum ≥ 0)",
            self.momentum
        );
        check!(
            self.weight_decay >= 0.0,
            "weight_decay",
            "Invalid weight_decay value: {} (expected weight_decay ≥ 0)",
            self.weight_decay
        );
        check!(
            self.alpha >= 0.0,
            "alpha",
            "Invalid alpha value: {} (expected alpha ≥ 0)",
            self.alpha
        );
        Ok(())
    }
    fn momentum(&self) -> Option<f64> {
        Some(self.momentum)
    }
    fn set_momentum(&mut self, momentum: f64) {
        self.momentum = momentum;
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
        let [sq, mb, ga] = bufs else { return };
        ensure(sq, n, 0.0);
        let use_m = self.momentum > 0.0;
        if use_m {
            ensure(mb, n, 0.0);
        }
        if self.centered {
            ensure(ga, n, 0.0);
        }
        let alpha = T::of(self.alpha);
        let c = T::of(1.0 - self.alpha);
        let eps = T::of(self.eps);
        let wd = T::of(self.weight_decay);
        let mom = T::of(self.momentum);
        let neg_lr = T::of(-self.lr);
        let minus_one = T::of(-1.0);
        let decay = self.weight_decay != 0.0;
        for i in 0..n {
            let mut g = if self.maximize { -grad[i] } else { grad[i] };
            if decay {
                g = g + wd * theta[i];
            }
            let s = sq[i] * alpha + c * g * g;
            sq[i] = s;
            let avg = if self.centered {
                let a = lerp(ga[i], g, c);
                ga[i] = a;
                (s + minus_one * a * a).sqrt()
            } else {
                s.sqrt()
            } + eps;
            if use_m {
                let b = mb[i] * mom + g / avg;
                mb[i] = b;
                theta[i] = theta[i] + neg_lr * b;
            } else {
                theta[i] = theta[i] + neg_lr * g / avg;
            }
        }
    }
}
