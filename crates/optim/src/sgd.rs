use crate::{Error, Optimizer, Result};
use candle_core::backprop::GradStore;
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use wick_tensor::Param;

/// Arguments of `torch.optim.SGD(params, lr=0.001, momentum=0, dampening=0,
/// weight_decay=0, nesterov=False, *, maximize=False)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgdConfig {
    /// Learning rate (default 1e-3).
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// Momentum factor (default 0).
    #[serde(default)]
    pub momentum: f64,
    /// Dampening for momentum (default 0).
    #[serde(default)]
    pub dampening: f64,
    /// L2 penalty added to the gradient (default 0).
    #[serde(default)]
    pub weight_decay: f64,
    /// Nesterov momentum (default `false`; needs momentum > 0 and dampening = 0).
    #[serde(default)]
    pub nesterov: bool,
    /// Maximize the objective instead of minimizing it (default `false`).
    #[serde(default)]
    pub maximize: bool,
}

fn default_lr() -> f64 {
    1e-3
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
        }
    }
}

impl SgdConfig {
    /// Checks the arguments with torch.optim.SGD's rules and messages.
    pub fn validate(&self) -> Result<()> {
        if self.lr.is_nan() || self.lr < 0.0 {
            return Err(Error::config(
                "lr",
                format!("Invalid learning rate: {} (expected lr ≥ 0)", self.lr),
            ));
        }
        if self.momentum.is_nan() || self.momentum < 0.0 {
            return Err(Error::config(
                "momentum",
                format!(
                    "Invalid momentum value: {} (expected momentum ≥ 0)",
                    self.momentum
                ),
            ));
        }
        if self.weight_decay.is_nan() || self.weight_decay < 0.0 {
            return Err(Error::config(
                "weight_decay",
                format!(
                    "Invalid weight_decay value: {} (expected weight_decay ≥ 0)",
                    self.weight_decay
                ),
            ));
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(Error::config(
                "nesterov",
                "Nesterov momentum requires a momentum and zero dampening",
            ));
        }
        Ok(())
    }

    /// Validates the arguments and creates the optimizer over `params`.
    pub fn build(&self, params: Vec<Param>) -> Result<Sgd> {
        self.validate()?;
        let n = params.len();
        Ok(Sgd {
            cfg: self.clone(),
            params,
            momentum_buffer: vec![None; n],
        })
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
pub struct Sgd {
    cfg: SgdConfig,
    params: Vec<Param>,
    momentum_buffer: Vec<Option<Tensor>>,
}

impl Sgd {
    /// The momentum buffer of each parameter (`None` before its first step or without
    /// momentum), in parameter order.
    pub fn momentum_buffers(&self) -> &[Option<Tensor>] {
        &self.momentum_buffer
    }
}

impl Optimizer for Sgd {
    fn type_name(&self) -> &'static str {
        "SGD"
    }

    fn step(&mut self, grads: &GradStore) -> Result<()> {
        let c = &self.cfg;
        for (p, buf) in self.params.iter().zip(self.momentum_buffer.iter_mut()) {
            let Some(grad) = grads.get(p.var.as_tensor()) else {
                continue;
            };
            // The update is outside any graph: detached, nothing it computes keeps the
            // parameters' or the gradients' history alive across steps.
            let theta = p.var.as_tensor().detach();
            let grad = grad.detach();
            let mut g = if c.maximize { grad.neg()? } else { grad };
            if c.weight_decay != 0.0 {
                g = (g + (&theta * c.weight_decay)?)?;
            }
            if c.momentum != 0.0 {
                let b = match buf.take() {
                    None => g.copy()?,
                    Some(b) => ((b * c.momentum)? + (&g * (1.0 - c.dampening))?)?,
                };
                g = if c.nesterov {
                    (g + (&b * c.momentum)?)?
                } else {
                    b.clone()
                };
                *buf = Some(b);
            }
            p.var.set(&(theta - (g * c.lr)?)?)?;
        }
        Ok(())
    }

    fn lr(&self) -> f64 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    fn params(&self) -> &[Param] {
        &self.params
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

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
        assert_eq!(
            quad_step(
                SgdConfig {
                    lr: 0.1,
                    ..Default::default()
                },
                1
            ),
            vec![0.9, -1.8]
        );
        // momentum 0.5: step1 θ=1-0.1=0.9, b=1; step2 b=0.5+0.9=1.4, θ=0.9-0.14=0.76
        let got = quad_step(
            SgdConfig {
                lr: 0.1,
                momentum: 0.5,
                ..Default::default()
            },
            2,
        );
        assert!((got[0] - 0.76).abs() < 1e-12, "{got:?}");
        // nesterov: step1 b=1, g=1+0.5=1.5, θ=0.85
        let got = quad_step(
            SgdConfig {
                lr: 0.1,
                momentum: 0.5,
                nesterov: true,
                ..Default::default()
            },
            1,
        );
        assert!((got[0] - 0.85).abs() < 1e-12, "{got:?}");
        // maximize goes uphill
        assert_eq!(
            quad_step(
                SgdConfig {
                    lr: 0.1,
                    maximize: true,
                    ..Default::default()
                },
                1
            )[0],
            1.1
        );
    }

    #[test]
    fn state_keeps_no_autograd_history() {
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
        let bufs: Vec<&Tensor> = opt.momentum_buffers().iter().flatten().collect();
        assert_eq!(bufs.len(), 1);
        assert!(
            bufs.iter().all(|b| !b.track_op()),
            "a momentum buffer must not hold a graph"
        );
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
        let e = SgdConfig {
            nesterov: true,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(matches!(
            e,
            Error::Config {
                field: "nesterov",
                ..
            }
        ));
        let e = SgdConfig {
            momentum: 0.9,
            dampening: 0.1,
            nesterov: true,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(matches!(
            e,
            Error::Config {
                field: "nesterov",
                ..
            }
        ));
    }
}
