use super::{Base, Interval, Scheduler, State};
use crate::{Optimizer, Result};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Arguments of `torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0,
/// T_mult=1, eta_min=0.0)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct CosineAnnealingWarmRestartsConfig {
    /// Epochs until the first restart (required, ≥ 1).
    pub T_0: i64,
    /// Factor growing the period after each restart (default 1, ≥ 1).
    #[serde(default = "one")]
    pub T_mult: i64,
    /// Minimum learning rate (default 0).
    #[serde(default)]
    pub eta_min: f64,
    /// `"epoch"` (default) or `"step"`: when the runner steps it (wick's addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
}

fn one() -> i64 {
    1
}

/// `CosineAnnealingWarmRestarts` (SGDR): `lr = η_min + (base_lr − η_min)(1 + cos(π·T_cur/T_i))/2`,
/// `T_cur` restarting at 0 every `T_i` epochs, `T_i ← T_i·T_mult` at each restart.
pub struct CosineAnnealingWarmRestarts {
    cfg: CosineAnnealingWarmRestartsConfig,
    base: Base,
    t_i: i64,
    t_cur: i64,
}

impl CosineAnnealingWarmRestartsConfig {
    /// Checks the arguments with PyTorch's messages.
    pub fn validate(&self) -> Result<()> {
        check!(
            self.T_0 > 0,
            "T_0",
            "Expected positive integer T_0, but got {}",
            self.T_0
        );
        check!(
            self.T_mult >= 1,
            "T_mult",
            "Expected integer T_mult >= 1, but got {}",
            self.T_mult
        );
        Ok(())
    }

    /// Validates and starts the schedule on `opt` (sets the lrs of epoch 0).
    pub fn build(&self, opt: &mut dyn Optimizer) -> Result<CosineAnnealingWarmRestarts> {
        self.validate()?;
        let mut s = CosineAnnealingWarmRestarts {
            cfg: self.clone(),
            base: Base::new(opt, self.interval.unwrap_or(Interval::Epoch)),
            t_i: self.T_0,
            t_cur: -1,
        };
        s.initial_step(opt)?;
        Ok(s)
    }
}

impl CosineAnnealingWarmRestarts {
    fn lrs(&self) -> Vec<f64> {
        let eta = self.cfg.eta_min;
        self.base
            .base_lrs
            .iter()
            .map(|b| {
                eta + (b - eta) * (1.0 + (PI * self.t_cur as f64 / self.t_i as f64).cos()) / 2.0
            })
            .collect()
    }
    fn apply(&mut self, opt: &mut dyn Optimizer) {
        for (g, lr) in self.lrs().into_iter().enumerate() {
            opt.set_lr(g, lr);
        }
        self.base.last_lr = opt.lrs();
    }
}

impl Scheduler for CosineAnnealingWarmRestarts {
    fn type_name(&self) -> &'static str {
        "CosineAnnealingWarmRestarts"
    }
    fn step(&mut self, opt: &mut dyn Optimizer, _metric: Option<f64>) -> Result<()> {
        if self.base.last_epoch < 0 {
            // `step(epoch=0)`
            self.t_i = self.cfg.T_0;
            self.t_cur = 0;
            self.base.last_epoch = 0;
        } else {
            self.base.last_epoch += 1;
            self.t_cur += 1;
            if self.t_cur >= self.t_i {
                self.t_cur %= self.t_i;
                self.t_i *= self.cfg.T_mult;
            }
        }
        self.apply(opt);
        Ok(())
    }
    fn last_lr(&self) -> &[f64] {
        &self.base.last_lr
    }
    fn interval(&self) -> Interval {
        self.base.interval
    }
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        let mut s = State::default();
        self.base.save(&mut s);
        s.put("T_i", vec![self.t_i as f64]);
        s.put("T_cur", vec![self.t_cur as f64]);
        s.to_tensors()
    }
    fn load_state_dict(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        let s = State::from_tensors(state)?;
        let mut base = self.base.clone();
        base.load(&s)?;
        let (t_i, t_cur) = (s.get1("T_i")? as i64, s.get1("T_cur")? as i64);
        self.base = base;
        self.t_i = t_i;
        self.t_cur = t_cur;
        Ok(())
    }
    fn jump_to(&mut self, opt: &mut dyn Optimizer, epoch: i64) -> Result<()> {
        // the base class's `_update_lr(epoch)`: no closed form, `T_cur` unchanged
        self.base.last_epoch = epoch;
        self.apply(opt);
        Ok(())
    }
    fn initial_step(&mut self, opt: &mut dyn Optimizer) -> Result<()> {
        self.base.step_count = 0;
        self.step(opt, None)
    }
    fn rewind(&mut self) {
        self.base.last_epoch -= 1;
    }
}
