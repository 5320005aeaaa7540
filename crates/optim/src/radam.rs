use crate::adam::validate_adam_like;
use crate::float::{ensure, lerp, Float};
use crate::lanes;
use crate::{Optim, Result, Rule};
use candle_core::Tensor;

optimizer_config! {
    /// Arguments of `torch.optim.RAdam(params, lr=0.001, betas=(0.9, 0.999), eps=1e-08,
    /// weight_decay=0, decoupled_weight_decay=False, *, maximize=False)`.
    pub struct RadamConfig / RadamGroup {
        /// Learning rate (default 1e-3).
        lr: f64 = 1e-3,
        /// Coefficients of the running averages (default `[0.9, 0.999]`).
        betas: (f64, f64) = (0.9, 0.999),
        /// Term added to the denominator (default 1e-8).
        eps: f64 = 1e-8,
        /// Weight decay (default 0).
        weight_decay: f64 = 0.0,
        /// Decay the weights directly, as AdamW (default `false`).
        decoupled_weight_decay: bool = false,
        /// Maximize the objective (default `false`).
        maximize: bool = false,
    }
}

/// `torch.optim.RAdam`, as PyTorch's `_single_tensor_radam`:
///
/// ```text
/// t ← t + 1;  g ← ∇θ (−∇θ if maximize);  weight decay as Adam (or decoupled)
/// m ← lerp(m, g, 1 − β₁);  v ← β₂v + (1 − β₂)g²;  m̂ ← m/(1 − β₁ᵗ)
/// ρ∞ ← 2/(1 − β₂) − 1;  ρₜ ← ρ∞ − 2tβ₂ᵗ/(1 − β₂ᵗ)
/// ρₜ > 5: r ← √((ρₜ−4)(ρₜ−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρₜ));  θ ← θ − m̂·lr·√(1 − β₂ᵗ)/(√v + eps)·r
/// else:   θ ← θ − m̂·lr
/// ```
///
/// State: `step`, `exp_avg`, `exp_avg_sq`.
pub type Radam = Optim<RadamConfig>;

impl Rule for RadamConfig {
    rule_plumbing!(RadamGroup);
    const NAME: &'static str = "RAdam";
    const SCALARS: &'static [(&'static str, f64)] = &[("step", 0.0)];
    const BUFFERS: &'static [&'static str] = &["exp_avg", "exp_avg_sq"];

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
        let (beta1, beta2) = self.betas;
        let bc1 = 1.0 - beta1.powf(step);
        let bc2 = 1.0 - beta2.powf(step);
        let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
        let rho_t = rho_inf - 2.0 * step * beta2.powf(step) / bc2;
        let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
            / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
            .powf(0.5);
        let rectify = rho_t > 5.0;
        let [m, v] = bufs else { return };
        ensure(m, n, 0.0);
        ensure(v, n, 0.0);
        // equal lengths up front let the compiler drop the bounds checks
        let (m, v, grad) = (&mut m[..n], &mut v[..n], &grad[..n]);
        let w1 = T::of(1.0 - beta1);
        let b2 = T::of(beta2);
        let c2 = T::of(1.0 - beta2);
        let bc1 = T::of(bc1);
        let bc2_sqrt = T::of(bc2.powf(0.5));
        let lr = T::of(self.lr);
        let rect = T::of(rect);
        let eps = T::of(self.eps);
        let wd = T::of(self.weight_decay);
        let shrink = T::of(1.0 - self.lr * self.weight_decay);
        let decay = self.weight_decay != 0.0;
        for i in 0..n {
            let mut g = if self.maximize { -grad[i] } else { grad[i] };
            let mut p = theta[i];
            if decay {
                if self.decoupled_weight_decay {
                    p = p * shrink;
                } else {
                    g = g + wd * p;
                }
            }
            let mi = lerp(m[i], g, w1);
            m[i] = mi;
            let vi = v[i] * b2 + c2 * g * g;
            v[i] = vi;
            let corrected = mi / bc1;
            theta[i] = if rectify {
                let adaptive = bc2_sqrt / (vi.sqrt() + eps);
                p - corrected * lr * adaptive * rect
            } else {
                p - corrected * lr
            };
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
        let (beta1, beta2) = self.betas;
        let bc1 = 1.0 - beta1.powf(step);
        let bc2 = 1.0 - beta2.powf(step);
        let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
        let rho_t = rho_inf - 2.0 * step * beta2.powf(step) / bc2;
        let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
            / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
            .powf(0.5);
        let [m, v] = bufs else {
            candle_core::bail!("RAdam: expected two state buffers")
        };
        let decoupled = self.decoupled_weight_decay && self.weight_decay != 0.0;
        let p = if decoupled {
            lanes::scale(theta, 1.0 - self.lr * self.weight_decay)?
        } else {
            theta.clone()
        };
        let wd = if decoupled { 0.0 } else { self.weight_decay };
        let g = lanes::grad(grad, theta, self.maximize, wd)?;
        let mi = lanes::lerp(&lanes::ensure(m, theta, 0.0)?, &g, 1.0 - beta1)?;
        let vi = lanes::scale(&lanes::ensure(v, theta, 0.0)?, beta2)?
            .add(&lanes::scale(&g, 1.0 - beta2)?.mul(&g)?)?;
        *m = Some(mi.clone());
        *v = Some(vi.clone());
        let corrected = lanes::scale(&mi, 1.0 / bc1)?;
        let step = if rho_t > 5.0 {
            let adaptive = vi.sqrt()?.affine(1.0, self.eps)?.recip()?;
            lanes::scale(&corrected.mul(&adaptive)?, self.lr * bc2.powf(0.5) * rect)?
        } else {
            lanes::scale(&corrected, self.lr)?
        };
        p.sub(&step)
    }
}
