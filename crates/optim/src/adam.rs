use crate::float::{ensure, lerp, maximum, Float};
use crate::lanes;
use crate::{Optim, Result, Rule};
use candle_core::Tensor;

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
        let [m, v, vmax] = bufs else { return };
        ensure(m, n, 0.0);
        ensure(v, n, 0.0);
        let bc1 = 1.0 - self.beta1.powf(step);
        let bc2 = 1.0 - self.beta2.powf(step);
        let k = AdamConsts {
            step_size: T::of(-(self.lr / bc1)),
            bc2_sqrt: T::of(bc2.powf(0.5)),
            w1: T::of(1.0 - self.beta1),
            b2: T::of(self.beta2),
            c2: T::of(1.0 - self.beta2),
            eps: T::of(self.eps),
            // the branches on maximize / weight decay are hoisted out of the loop as
            // exact identities: −g = g·(−1), g + 0·θ = g, θ·1 = θ
            sign: T::of(if self.maximize { -1.0 } else { 1.0 }),
            wd: T::of(if self.decoupled {
                0.0
            } else {
                self.weight_decay
            }),
            shrink: T::of(if self.decoupled {
                1.0 - self.lr * self.weight_decay
            } else {
                1.0
            }),
        };
        let small = (1.0 - self.beta1).abs() < 0.5;
        match (self.amsgrad, small) {
            (false, true) => adam_loop::<T, true>(&k, theta, grad, m, v),
            (false, false) => adam_loop::<T, false>(&k, theta, grad, m, v),
            (true, _) => {
                ensure(vmax, n, 0.0);
                for ((((p, &g), m), v), mx) in theta
                    .iter_mut()
                    .zip(grad)
                    .zip(m.iter_mut())
                    .zip(v.iter_mut())
                    .zip(vmax.iter_mut())
                {
                    let th = *p * k.shrink;
                    let g = g * k.sign + k.wd * *p;
                    *m = lerp(*m, g, k.w1);
                    *v = *v * k.b2 + k.c2 * g * g;
                    *mx = maximum(*mx, *v);
                    *p = th + k.step_size * *m / (mx.sqrt() / k.bc2_sqrt + k.eps);
                }
            }
        }
    }
}

impl AdamStep {
    /// [`AdamStep::update`] on tensors.
    pub(crate) fn update_tensors(
        &self,
        scalars: &mut [f64],
        theta: &Tensor,
        grad: &Tensor,
        bufs: &mut [Option<Tensor>],
    ) -> candle_core::Result<Tensor> {
        scalars[0] += 1.0;
        let step = scalars[0];
        let [m, v, vmax] = bufs else {
            candle_core::bail!("Adam: expected three state buffers")
        };
        let bc1 = 1.0 - self.beta1.powf(step);
        let bc2 = 1.0 - self.beta2.powf(step);
        let wd = if self.decoupled {
            0.0
        } else {
            self.weight_decay
        };
        let th = if self.decoupled {
            lanes::scale(theta, 1.0 - self.lr * self.weight_decay)?
        } else {
            theta.clone()
        };
        let g = lanes::grad(grad, theta, self.maximize, wd)?;
        let mi = lanes::lerp(&lanes::ensure(m, theta, 0.0)?, &g, 1.0 - self.beta1)?;
        let vi = lanes::scale(&lanes::ensure(v, theta, 0.0)?, self.beta2)?
            .add(&lanes::scale(&g, 1.0 - self.beta2)?.mul(&g)?)?;
        *m = Some(mi.clone());
        *v = Some(vi.clone());
        let second = if self.amsgrad {
            let mx = lanes::maximum(&lanes::ensure(vmax, theta, 0.0)?, &vi)?;
            *vmax = Some(mx.clone());
            mx
        } else {
            vi
        };
        let denom = lanes::scale(&second.sqrt()?, 1.0 / bc2.powf(0.5))?.affine(1.0, self.eps)?;
        th.add(&lanes::scale(&mi, -(self.lr / bc1))?.div(&denom)?)
    }
}

struct AdamConsts<T> {
    step_size: T,
    bc2_sqrt: T,
    w1: T,
    b2: T,
    c2: T,
    eps: T,
    sign: T,
    wd: T,
    shrink: T,
}

/// The Adam update without amsgrad; `SMALL`: the lerp weight `1 − β₁` is below ½
/// (ATen's lerp picks its formula by that).
#[inline(never)]
fn adam_loop<T: Float, const SMALL: bool>(
    k: &AdamConsts<T>,
    theta: &mut [T],
    grad: &[T],
    m: &mut [T],
    v: &mut [T],
) {
    for (((p, &g), m), v) in theta
        .iter_mut()
        .zip(grad)
        .zip(m.iter_mut())
        .zip(v.iter_mut())
    {
        let th = *p * k.shrink;
        let g = g * k.sign + k.wd * *p;
        let mi = if SMALL {
            *m + k.w1 * (g - *m)
        } else {
            g - (g - *m) * (T::of(1.0) - k.w1)
        };
        *m = mi;
        let vi = *v * k.b2 + k.c2 * g * g;
        *v = vi;
        *p = th + k.step_size * mi / (vi.sqrt() / k.bc2_sqrt + k.eps);
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
    fn update_tensors(
        &self,
        scalars: &mut [f64],
        theta: &Tensor,
        grad: &Tensor,
        bufs: &mut [Option<Tensor>],
    ) -> candle_core::Result<Tensor> {
        self.as_step().update_tensors(scalars, theta, grad, bufs)
    }
}
