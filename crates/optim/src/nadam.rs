use crate::adam::validate_adam_like;
use crate::float::{ensure, lerp, Float};
use crate::lanes;
use crate::{Optim, Result, Rule};
use candle_core::Tensor;

optimizer_config! {
    /// Arguments of `torch.optim.NAdam(params, lr=0.002, betas=(0.9, 0.999), eps=1e-08,
    /// weight_decay=0, momentum_decay=0.004, decoupled_weight_decay=False, *, maximize=False)`.
    pub struct NadamConfig / NadamGroup {
        /// Learning rate (default 2e-3).
        lr: f64 = 2e-3,
        /// Coefficients of the running averages (default `[0.9, 0.999]`).
        betas: (f64, f64) = (0.9, 0.999),
        /// Term added to the denominator (default 1e-8).
        eps: f64 = 1e-8,
        /// Weight decay (default 0).
        weight_decay: f64 = 0.0,
        /// Momentum decay ψ (default 4e-3).
        momentum_decay: f64 = 4e-3,
        /// Decay the weights directly, as AdamW, instead of adding λθ to the gradient
        /// (default `false`).
        decoupled_weight_decay: bool = false,
        /// Maximize the objective (default `false`).
        maximize: bool = false,
    }
}

/// `torch.optim.NAdam`, as PyTorch's `_single_tensor_nadam`:
///
/// ```text
/// t ← t + 1;  g ← ∇θ (−∇θ if maximize);  weight decay as Adam (or decoupled)
/// μₜ ← β₁(1 − ½·0.96^(tψ));  μₜ₊₁ ← β₁(1 − ½·0.96^((t+1)ψ));  Π ← Π·μₜ (float32)
/// m ← lerp(m, g, 1 − β₁);  v ← β₂v + (1 − β₂)g²;  d ← √(v/(1 − β₂ᵗ)) + eps
/// θ ← θ − lr(1 − μₜ)/(1 − Π) · g/d − lr·μₜ₊₁/(1 − Π·μₜ₊₁) · m/d
/// ```
///
/// State: `step`, `mu_product`, `exp_avg`, `exp_avg_sq`.
pub type Nadam = Optim<NadamConfig>;

impl Rule for NadamConfig {
    rule_plumbing!(NadamGroup);
    const NAME: &'static str = "NAdam";
    const SCALARS: &'static [(&'static str, f64)] = &[("step", 0.0), ("mu_product", 1.0)];
    const BUFFERS: &'static [&'static str] = &["exp_avg", "exp_avg_sq"];

    fn validate(&self) -> Result<()> {
        validate_adam_like(self.lr, self.betas, self.eps, self.weight_decay)?;
        check!(
            self.momentum_decay >= 0.0,
            "momentum_decay",
            "Invalid momentum_decay value: {} (expected momentum_decay ≥ 0)",
            self.momentum_decay
        );
        Ok(())
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
        let bc2 = 1.0 - beta2.powf(step);
        let mu = beta1 * (1.0 - 0.5 * 0.96f64.powf(step * self.momentum_decay));
        let mu_next = beta1 * (1.0 - 0.5 * 0.96f64.powf((step + 1.0) * self.momentum_decay));
        // `mu_product` is a float32 tensor in PyTorch: the product is rounded each step
        let mu_product = f64::from(scalars[1] as f32 * mu as f32);
        scalars[1] = mu_product;
        let mu_product_next = mu_product * mu_next;
        let c_grad = T::of(-self.lr * (1.0 - mu) / (1.0 - mu_product));
        let c_avg = T::of((-self.lr * mu_next) / (1.0 - mu_product_next));
        let [m, v] = bufs else { return };
        ensure(m, n, 0.0);
        ensure(v, n, 0.0);
        // equal lengths up front let the compiler drop the bounds checks
        let (m, v, grad) = (&mut m[..n], &mut v[..n], &grad[..n]);
        let w1 = T::of(1.0 - beta1);
        let b2 = T::of(beta2);
        let c2 = T::of(1.0 - beta2);
        let bc2 = T::of(bc2);
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
            let denom = (vi / bc2).sqrt() + eps;
            p = p + c_grad * g / denom;
            theta[i] = p + c_avg * mi / denom;
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
        let bc2 = 1.0 - beta2.powf(step);
        let mu = beta1 * (1.0 - 0.5 * 0.96f64.powf(step * self.momentum_decay));
        let mu_next = beta1 * (1.0 - 0.5 * 0.96f64.powf((step + 1.0) * self.momentum_decay));
        let mu_product = f64::from(scalars[1] as f32 * mu as f32);
        scalars[1] = mu_product;
        let mu_product_next = mu_product * mu_next;
        let c_grad = -self.lr * (1.0 - mu) / (1.0 - mu_product);
        let c_avg = (-self.lr * mu_next) / (1.0 - mu_product_next);
        let [m, v] = bufs else {
            candle_core::bail!("NAdam: expected two state buffers")
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
        let denom = lanes::scale(&vi, 1.0 / bc2)?
            .sqrt()?
            .affine(1.0, self.eps)?;
        let p = p.add(&lanes::scale(&g, c_grad)?.div(&denom)?)?;
        p.add(&lanes::scale(&mi, c_avg)?.div(&denom)?)
    }
}
