use crate::float::{ensure, lerp, maximum, Float};
use crate::{Optim, Result, Rule};

optimizer_config! {
    /// Arguments of `torch.optim.Adam(params, lr=0.001, betas=(0.9, 0.999), eps=1e-08,
    /// weight_decay=0, amsgrad=False, *, maximize=False, decoupled_weight_decay=False)`.
    pub struct AdamConfig / AdamGroup {
        /// Learning rate (default 1e-3).
        lr: f64 = 1e-3,
        /// Coefficients of the running averages of the gradient and its square
        /// (default `[0.9, 0.999]`).
        betas: (f64, f64) = (0.9, 0.999),
        /// Term added to the denominator (default 1e-8).
        eps: f64 = 1e-8,
        /// L2 penalty (default 0).
        weight_decay: f64 = 0.0,
        /// The AMSGrad variant (default `false`).
        amsgrad: bool = false,
        /// Maximize the objective (default `false`).
        maximize: bool = false,
        /// Decay the weights directly, as AdamW (default `false`).
        decoupled_weight_decay: bool = false,
    }
}

/// `torch.optim.Adam`, as PyTorch's `_single_tensor_adam`:
///
/// ```text
/// t ← t + 1;  g ← ∇θ (−∇θ if maximize)
/// θ ← θ·(1 − lr·λ)  if decoupled_weight_decay, else g ← g + λθ   (λ = weight_decay ≠ 0)
/// m ← lerp(m, g, 1 − β₁);  v ← β₂v + (1 − β₂)g²
/// v̂ ← max(v̂, v) if amsgrad
/// θ ← θ − lr/(1 − β₁ᵗ) · m / (√v(or v̂) / √(1 − β₂ᵗ) + eps)
/// ```
///
/// State: `step`, `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq` (amsgrad).
pub type Adam = Optim<AdamConfig>;

/// Adam's hyperparameters for one step, shared by Adam and AdamW.
#[derive(Clone, Copy)]
pub(crate) struct AdamStep {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub maximize: bool,
    pub decoupled: bool,
}

/// Checks betas/eps/lr/weight_decay as torch.optim.Adam (and Adamax, NAdam, RAdam) do.
pub(crate) fn validate_adam_like(
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
) -> Result<()> {
    check!(
        lr >= 0.0,
        "lr",
        "Invalid learning rate: {lr} (expected lr ≥ 0)"
    );
    check!(
        eps >= 0.0,
        "eps",
        "Invalid epsilon value: {eps} (expected eps ≥ 0)"
    );
    check!(
        (0.0..1.0).contains(&betas.0),
        "betas",
        "Invalid beta parameter at index 0: {} (expected 0 ≤ beta1 < 1)",
        betas.0
    );
    check!(
        (0.0..1.0).contains(&betas.1),
        "betas",
        "Invalid beta parameter at index 1: {} (expected 0 ≤ beta2 < 1)",
        betas.1
    );
    check!(
        weight_decay >= 0.0,
        "weight_decay",
        "Invalid weight_decay value: {weight_decay} (expected weight_decay ≥ 0)"
    );
    Ok(())
}

impl AdamStep {
    pub(crate) fn update<T: Float>(
        &self,
        scalars: &mut [f64],
        theta: &mut [T],
        grad: &[T],
        bufs: &mut [Vec<T>],
    ) {
        let n = theta.len();
        scalars[0] += 1.0;
        let step = scalars[0];
        let (m, rest) = bufs.split_at_mut(1);
        let (v, vmax) = rest.split_at_mut(1);
        let (m, v, vmax) = (&mut m[0], &mut v[0], &mut vmax[0]);
        ensure(m, n, 0.0);
        ensure(v, n, 0.0);
        if self.amsgrad {
            ensure(vmax, n, 0.0);
        }
        let bc1 = 1.0 - self.beta1.powf(step);
        let bc2 = 1.0 - self.beta2.powf(step);
        let step_size = T::of(-(self.lr / bc1));
        let bc2_sqrt = T::of(bc2.powf(0.5));
        let w1 = T::of(1.0 - self.beta1);
        let b2 = T::of(self.beta2);
        let c2 = T::of(1.0 - self.beta2);
        let eps = T::of(self.eps);
        let wd = T::of(self.weight_decay);
        let shrink = T::of(1.0 - self.lr * self.weight_decay);
        let decay = self.weight_decay != 0.0;
        for i in 0..n {
            let mut g = if self.maximize { -grad[i] } else { grad[i] };
            let mut p = theta[i];
            if decay {
                if self.decoupled {
                    p = p * shrink;
                } else {
                    g = g + wd * p;
                }
            }
            let mi = lerp(m[i], g, w1);
            m[i] = mi;
            let vi = v[i] * b2 + c2 * g * g;
            v[i] = vi;
            let denom = if self.amsgrad {
                let mx = maximum(vmax[i], vi);
                vmax[i] = mx;
                mx.sqrt() / bc2_sqrt + eps
            } else {
                vi.sqrt() / bc2_sqrt + eps
            };
            theta[i] = p + step_size * mi / denom;
        }
    }
}

impl AdamConfig {
    pub(crate) fn as_step(&self) -> AdamStep {
        AdamStep {
            lr: self.lr,
            beta1: self.betas.0,
            beta2: self.betas.1,
            eps: self.eps,
            weight_decay: self.weight_decay,
            amsgrad: self.amsgrad,
            maximize: self.maximize,
            decoupled: self.decoupled_weight_decay,
        }
    }
}

impl Rule for AdamConfig {
    rule_plumbing!(AdamGroup);
    const NAME: &'static str = "Adam";
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
        self.as_step().update(scalars, theta, grad, bufs)
    }
}
