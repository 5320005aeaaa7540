use crate::float::{ensure, Float};
use crate::lanes;
use crate::{Optim, Result, Rule};
use candle_core::Tensor;

optimizer_config! {
    /// Arguments of `torch.optim.Adadelta(params, lr=1.0, rho=0.9, eps=1e-06,
    /// weight_decay=0, *, maximize=False)`.
    pub struct AdadeltaConfig / AdadeltaGroup {
        /// Coefficient scaling the delta before it is applied (default 1.0).
        lr: f64 = 1.0,
        /// Coefficient of the running averages (default 0.9).
        rho: f64 = 0.9,
        /// Term added inside the square roots (default 1e-6).
        eps: f64 = 1e-6,
        /// L2 penalty (default 0).
        weight_decay: f64 = 0.0,
        /// Maximize the objective (default `false`).
        maximize: bool = false,
    }
}

/// `torch.optim.Adadelta`, as PyTorch's `_single_tensor_adadelta`:
///
/// ```text
/// g ← ∇θ (−∇θ if maximize);  g ← g + λθ if weight_decay λ ≠ 0
/// v ← ρv + (1 − ρ)g²
/// Δ ← √(u + eps) / √(v + eps) · g
/// u ← ρu + (1 − ρ)Δ²;  θ ← θ − lr·Δ
/// ```
///
/// State: `step`, `square_avg`, `acc_delta`.
pub type Adadelta = Optim<AdadeltaConfig>;

impl Rule for AdadeltaConfig {
    rule_plumbing!(AdadeltaGroup);
    const NAME: &'static str = "Adadelta";
    const SCALARS: &'static [(&'static str, f64)] = &[("step", 0.0)];
    const BUFFERS: &'static [&'static str] = &["square_avg", "acc_delta"];

    fn validate(&self) -> Result<()> {
        check!(
            self.lr >= 0.0,
            "lr",
            "Invalid learning rate: {} (expected lr ≥ 0)",
            self.lr
        );
        check!(
            (0.0..=1.0).contains(&self.rho),
            "rho",
            "Invalid rho value: {} (expected 0 ≤ rho ≤ 1)",
            self.rho
        );
        check!(
            self.eps >= 0.0,
            "eps",
            "Invalid epsilon value: {} (expected eps ≥ 0)",
            self.eps
        );
        check!(
            self.weight_decay >= 0.0,
            "weight_decay",
            "Invalid weight_decay value: {} (expected weight_decay ≥ 0)",
            self.weight_decay
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
        let [sq, acc] = bufs else { return };
        ensure(sq, n, 0.0);
        ensure(acc, n, 0.0);
        // equal lengths up front let the compiler drop the bounds checks
        let (sq, acc, grad) = (&mut sq[..n], &mut acc[..n], &grad[..n]);
        let rho = T::of(self.rho);
        let c = T::of(1.0 - self.rho);
        let eps = T::of(self.eps);
        let wd = T::of(self.weight_decay);
        let neg_lr = T::of(-self.lr);
        let decay = self.weight_decay != 0.0;
        for i in 0..n {
            let mut g = if self.maximize { -grad[i] } else { grad[i] };
            if decay {
                g = g + wd * theta[i];
            }
            let s = sq[i] * rho + c * g * g;
            sq[i] = s;
            let std = (s + eps).sqrt();
            let delta = (acc[i] + eps).sqrt() / std * g;
            acc[i] = acc[i] * rho + c * delta * delta;
            theta[i] = theta[i] + neg_lr * delta;
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
        let [sq, acc] = bufs else {
            candle_core::bail!("Adadelta: expected two state buffers")
        };
        let g = lanes::grad(grad, theta, self.maximize, self.weight_decay)?;
        let s = lanes::scale(&lanes::ensure(sq, theta, 0.0)?, self.rho)?
            .add(&lanes::scale(&g, 1.0 - self.rho)?.mul(&g)?)?;
        let a = lanes::ensure(acc, theta, 0.0)?;
        let std = s.affine(1.0, self.eps)?.sqrt()?;
        let delta = a.affine(1.0, self.eps)?.sqrt()?.div(&std)?.mul(&g)?;
        let a =
            lanes::scale(&a, self.rho)?.add(&lanes::scale(&delta, 1.0 - self.rho)?.mul(&delta)?)?;
        *sq = Some(s);
        *acc = Some(a);
        theta.add(&lanes::scale(&delta, -self.lr)?)
    }
}
