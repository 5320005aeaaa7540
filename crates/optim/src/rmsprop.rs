use crate::float::{ensure, lerp, Float};
use crate::lanes;
use crate::{Optim, Result, Rule};
use candle_core::Tensor;

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
        let k = RmsConsts {
            alpha: T::of(self.alpha),
            c: T::of(1.0 - self.alpha),
            eps: T::of(self.eps),
            // exact identities instead of branches in the loop: −g = g·(−1), g + 0·θ = g
            sign: T::of(if self.maximize { -1.0 } else { 1.0 }),
            wd: T::of(self.weight_decay),
            mom: T::of(self.momentum),
            neg_lr: T::of(-self.lr),
        };
        let small = (1.0 - self.alpha).abs() < 0.5;
        match (self.centered, use_m) {
            (false, false) => rms_loop::<T, false, false>(&k, small, theta, grad, sq, mb, ga),
            (false, true) => rms_loop::<T, false, true>(&k, small, theta, grad, sq, mb, ga),
            (true, false) => rms_loop::<T, true, false>(&k, small, theta, grad, sq, mb, ga),
            (true, true) => rms_loop::<T, true, true>(&k, small, theta, grad, sq, mb, ga),
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
        let [sq, mb, ga] = bufs else {
            candle_core::bail!("RMSprop: expected three state buffers")
        };
        let c = 1.0 - self.alpha;
        let g = lanes::grad(grad, theta, self.maximize, self.weight_decay)?;
        let s = lanes::scale(&lanes::ensure(sq, theta, 0.0)?, self.alpha)?
            .add(&lanes::scale(&g, c)?.mul(&g)?)?;
        *sq = Some(s.clone());
        let avg = if self.centered {
            let a = lanes::lerp(&lanes::ensure(ga, theta, 0.0)?, &g, c)?;
            *ga = Some(a.clone());
            s.sub(&a.sqr()?)?.sqrt()?
        } else {
            s.sqrt()?
        }
        .affine(1.0, self.eps)?;
        if self.momentum > 0.0 {
            let b =
                lanes::scale(&lanes::ensure(mb, theta, 0.0)?, self.momentum)?.add(&g.div(&avg)?)?;
            *mb = Some(b.clone());
            theta.add(&lanes::scale(&b, -self.lr)?)
        } else {
            theta.add(&lanes::scale(&g, -self.lr)?.div(&avg)?)
        }
    }
}

struct RmsConsts<T> {
    alpha: T,
    c: T,
    eps: T,
    sign: T,
    wd: T,
    mom: T,
    neg_lr: T,
}

/// One RMSprop pass; `CENTERED` and `MOMENTUM` select the buffers used (the unused
/// ones are empty).
#[inline(never)]
fn rms_loop<T: Float, const CENTERED: bool, const MOMENTUM: bool>(
    k: &RmsConsts<T>,
    small: bool,
    theta: &mut [T],
    grad: &[T],
    sq: &mut [T],
    mb: &mut [T],
    ga: &mut [T],
) {
    let n = theta.len();
    // equal lengths up front let the compiler drop the bounds checks
    let (grad, sq) = (&grad[..n], &mut sq[..n]);
    let mb = if MOMENTUM { &mut mb[..n] } else { mb };
    let ga = if CENTERED { &mut ga[..n] } else { ga };
    for i in 0..n {
        let g = grad[i] * k.sign + k.wd * theta[i];
        let s = sq[i] * k.alpha + k.c * g * g;
        sq[i] = s;
        let avg = if CENTERED {
            let a = if small {
                ga[i] + k.c * (g - ga[i])
            } else {
                lerp(ga[i], g, k.c)
            };
            ga[i] = a;
            (s + T::of(-1.0) * a * a).sqrt()
        } else {
            s.sqrt()
        } + k.eps;
        if MOMENTUM {
            let b = mb[i] * k.mom + g / avg;
            mb[i] = b;
            theta[i] = theta[i] + k.neg_lr * b;
        } else {
            theta[i] = theta[i] + k.neg_lr * g / avg;
        }
    }
}
