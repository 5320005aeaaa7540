use super::{group_lrs, py_mod, Base, Interval, LrRule, Sched};
use crate::{Optimizer, Result};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Arguments of `torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max, eta_min=0.0)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct CosineAnnealingLRConfig {
    /// Epochs of a half cosine period (required, ≥ 1).
    pub T_max: i64,
    /// Minimum learning rate (default 0).
    #[serde(default)]
    pub eta_min: f64,
    /// `"epoch"` (default) or `"step"`: when the runner steps it (wick's addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
}

/// `CosineAnnealingLR`, in PyTorch's recursive form (so its numbers are PyTorch's):
///
/// ```text
/// lr ← (1 + cos(π·t/T_max)) / (1 + cos(π·(t−1)/T_max)) · (lr − η_min) + η_min
/// ```
/// and `lr ← lr + (base_lr − η_min)(1 − cos(π/T_max))/2` when `(t − 1 − T_max) mod 2T_max = 0`;
/// the closed form is `η_min + (base_lr − η_min)(1 + cos(π·t/T_max))/2`.
pub type CosineAnnealingLR = Sched<CosineAnnealingLRConfig>;

impl CosineAnnealingLRConfig {
    /// Checks the arguments.
    pub fn validate(&self) -> Result<()> {
        check!(
            self.T_max >= 1,
            "T_max",
            "T_max must be a positive integer, got {}",
            self.T_max
        );
        Ok(())
    }

    /// Validates and starts the schedule on `opt` (sets the lrs of epoch 0).
    pub fn build(&self, opt: &mut dyn Optimizer) -> Result<CosineAnnealingLR> {
        self.validate()?;
        Sched::start(self.clone(), opt, self.interval.unwrap_or(Interval::Epoch))
    }
}

impl LrRule for CosineAnnealingLRConfig {
    const NAME: &'static str = "CosineAnnealingLR";
    fn get_lr(&mut self, b: &Base, opt: &mut dyn Optimizer) -> Result<Vec<f64>> {
        let lrs = group_lrs(opt);
        let (t, tm, eta) = (b.last_epoch, self.T_max, self.eta_min);
        if b.is_initial {
            return Ok(lrs);
        }
        if b.step_count == 1 && t > 0 {
            return Ok(b
                .base_lrs
                .iter()
                .map(|base| eta + (base - eta) * (1.0 + ((t as f64) * PI / tm as f64).cos()) / 2.0)
                .collect());
        }
        if py_mod(t - 1 - tm, 2 * tm) == 0 {
            return Ok(lrs
                .iter()
                .zip(&b.base_lrs)
                .map(|(lr, base)| lr + (base - eta) * (1.0 - (PI / tm as f64).cos()) / 2.0)
                .collect());
        }
        Ok(lrs
            .iter()
            .map(|lr| {
                (1.0 + (PI * t as f64 / tm as f64).cos())
                    / (1.0 + (PI * (t - 1) as f64 / tm as f64).cos())
                    * (lr - eta)
                    + eta
            })
            .collect())
    }
    fn closed_form(&self, b: &Base) -> Option<Vec<f64>> {
        let (t, tm, eta) = (b.last_epoch as f64, self.T_max as f64, self.eta_min);
        Some(
            b.base_lrs
                .iter()
                .map(|base| eta + (base - eta) * (1.0 + (PI * t / tm).cos()) / 2.0)
                .collect(),
        )
    }
}
