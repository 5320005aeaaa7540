use crate::float::{ensure, Float};
use crate::lanes;
use crate::{Optim, Result, Rule};
use candle_core::Tensor;

optimizer_config! {
    /// Arguments of `torch.optim.SGD(params, lr=0.001, momentum=0, dampening=0,
    /// weight_decay=0, nesterov=False, *, maximize=False)`.
    pub struct SgdConfig / SgdGroup {
        /// Learning rate (default 1e-3).
        lr: f64 = 1e-3,
        /// Momentum factor (default 0).
        momentum: f64 = 0.0,
        /// Dampening for momentum (default 0).
        dampening: f64 = 0.0,
        /// L2 penalty added to the gradient (default 0).
        weight_decay: f64 = 0.0,
        /// Nesterov momentum (default `false`; needs momentum > 0 and dampening = 0).
        nesterov: bool = false,
        /// Maximize the objective instead of minimizing it (default `false`).
        maximize: bool = false,
    }
}

/// `torch.optim.SGD`, step by step as PyTorch's `_single_tensor_sgd`:
///
/// ```text
/// g ← ∇θ                         (−∇θ if maximize)
/// g ← g + weight_decay·θ          if weight_decay ≠ 0
/// b ← g                           first step, if momentum ≠ 0
/// b ← momentum·b + (1−dampening)·g   later steps
/// g ← g + momentum·b  if nesterov, else g ← b
/// θ ← θ − lr·g
/// ```
///
/// State: `momentum_buffer` (only with momentum).
pub type Sgd = Optim<SgdConfig>;

impl SgdConfig {
    /// Checks the arguments with torch.optim.SGD's rules and messages.
    pub fn validate(&self) -> Result<()> {
        Rule::validate(self)
    }
}

impl Rule for SgdConfig {
    rule_plumbing!(SgdGroup);
    const NAME: &'static str = "SGD";
    const SCALARS: &'static [(&'static str, f64)] = &[];
    const BUFFERS: &'static [&'static str] = &["momentum_buffer"];

    fn validate(&self) -> Result<()> {
        check!(
            self.lr >= 0.0,
            "lr",
            "Invalid learning rate: {} (expected lr ≥ 0)",
            self.lr
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
            !(self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0)),
            "nesterov",
            "Nesterov momentum requires a momentum and zero dampening"
        );
        Ok(())
    }

    fn momentum(&self) -> Option<f64> {
        Some(self.momentum)
    }

    fn set_momentum(&mut self, momentum: f64) {
        self.momentum = momentum;
    }

    fn update<T: Float>(&self, _: &mut [f64], theta: &mut [T], grad: &[T], bufs: &mut [Vec<T>]) {
        let lr = T::of(-self.lr);
        let wd = T::of(self.weight_decay);
        let m = T::of(self.momentum);
        let damp = T::of(1.0 - self.dampening);
        let (decay, nesterov, maximize) = (self.weight_decay != 0.0, self.nesterov, self.maximize);
        if self.momentum == 0.0 {
            for (p, &g) in theta.iter_mut().zip(grad) {
                let mut g = if maximize { -g } else { g };
                if decay {
                    g = g + wd * *p;
                }
                *p = *p + lr * g;
            }
            return;
        }
        let buf = &mut bufs[0];
        let first = buf.is_empty();
        ensure(buf, theta.len(), 0.0);
        for ((p, &g), b) in theta.iter_mut().zip(grad).zip(buf.iter_mut()) {
            let mut g = if maximize { -g } else { g };
            if decay {
                g = g + wd * *p;
            }
            *b = if first { g } else { *b * m + damp * g };
            g = if nesterov { g + m * *b } else { *b };
            *p = *p + lr * g;
        }
    }
    fn update_tensors(
        &self,
        _: &mut [f64],
        theta: &Tensor,
        grad: &Tensor,
        bufs: &mut [Option<Tensor>],
    ) -> candle_core::Result<Tensor> {
        let g = lanes::grad(grad, theta, self.maximize, self.weight_decay)?;
        if self.momentum == 0.0 {
            return theta.add(&lanes::scale(&g, -self.lr)?);
        }
        let b = match &bufs[0] {
            Some(b) => {
                lanes::scale(b, self.momentum)?.add(&lanes::scale(&g, 1.0 - self.dampening)?)?
            }
            None => g.clone(),
        };
        bufs[0] = Some(b.clone());
        let g = if self.nesterov {
            g.add(&lanes::scale(&b, self.momentum)?)?
        } else {
            b
        };
        theta.add(&lanes::scale(&g, -self.lr)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, Optimizer};
    use candle_core::{Device, Var};
    use wick_tensor::Param;

    fn quad_step(cfg: SgdConfig, steps: usize) -> Vec<f64> {
        // minimize Σ θ²/2 whose gradient is θ
        let v = Var::new(&[1.0f64, -2.0], &Device::Cpu).unwrap();
        let mut opt = cfg.build(vec![Param::new("w", v.clone())]).unwrap();
        for _ in 0..steps {
            let loss = (v.as_tensor().sqr().unwrap() * 0.5)
                .unwrap()
                .sum_all()
                .unwrap();
            opt.step(&loss.backward().unwrap()).unwrap();
        }
        v.as_tensor().to_vec1().unwrap()
    }

    #[test]
    fn plain_and_momentum_follow_the_formula() {
        let lr = |lr| SgdConfig {
            lr,
            ..Default::default()
        };
        assert_eq!(quad_step(lr(0.1), 1), vec![0.9, -1.8]);
        // momentum 0.5: step1 θ=1-0.1=0.9, b=1; step2 b=0.5+0.9=1.4, θ=0.9-0.14=0.76
        let got = quad_step(
            SgdConfig {
                momentum: 0.5,
                ..lr(0.1)
            },
            2,
        );
        assert!((got[0] - 0.76).abs() < 1e-12, "{got:?}");
        // nesterov: step1 b=1, g=1+0.5=1.5, θ=0.85
        let got = quad_step(
            SgdConfig {
                momentum: 0.5,
                nesterov: true,
                ..lr(0.1)
            },
            1,
        );
        assert!((got[0] - 0.85).abs() < 1e-12, "{got:?}");
        // maximize goes uphill
        let got = quad_step(
            SgdConfig {
                maximize: true,
                ..lr(0.1)
            },
            1,
        );
        assert_eq!(got[0], 1.1);
    }

    #[test]
    fn state_is_plain_data_named_like_pytorch() {
        let v = Var::new(&[1.0f32, -2.0], &Device::Cpu).unwrap();
        let cfg = SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            dampening: 0.1,
            weight_decay: 0.01,
            ..Default::default()
        };
        let mut opt = cfg.build(vec![Param::new("w", v.clone())]).unwrap();
        for _ in 0..3 {
            let loss = v.as_tensor().sqr().unwrap().sum_all().unwrap();
            opt.step(&loss.backward().unwrap()).unwrap();
        }
        let sd = opt.state_dict().unwrap();
        let keys: Vec<&str> = sd.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "state.w.momentum_buffer",
                "param_groups.0.lr",
                "param_groups.0.momentum"
            ]
        );
        assert!(sd.iter().all(|(_, t)| !t.track_op()));
    }

    #[test]
    fn invalid_arguments_are_rejected_like_torch() {
        let e = SgdConfig {
            lr: -1.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("Invalid learning rate"));
        for cfg in [
            SgdConfig {
                nesterov: true,
                ..Default::default()
            },
            SgdConfig {
                momentum: 0.9,
                dampening: 0.1,
                nesterov: true,
                ..Default::default()
            },
        ] {
            assert!(matches!(
                cfg.validate().unwrap_err(),
                Error::Config {
                    field: "nesterov",
                    ..
                }
            ));
        }
    }
}
