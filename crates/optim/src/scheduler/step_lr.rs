use super::{group_lrs, py_mod, Base, Interval, LrRule, Sched};
use crate::{Optimizer, Result};
use serde::{Deserialize, Serialize};

/// Arguments of `torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma=0.1)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepLRConfig {
    /// Epochs between two decays (required, ≥ 1).
    pub step_size: i64,
    /// Decay factor (default 0.1).
    #[serde(default = "default_gamma")]
    pub gamma: f64,
    /// `"epoch"` (default) or `"step"`: when the runner steps it (wick's addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
}

pub(crate) fn default_gamma() -> f64 {
    0.1
}

/// `StepLR`: every `step_size` epochs, `lr ← lr·gamma`
/// (closed form `base_lr·gamma^⌊epoch/step_size⌋`).
pub type StepLR = Sched<StepLRConfig>;

impl StepLRConfig {
    /// Checks the arguments.
    pub fn validate(&self) -> Result<()> {
        check!(
            self.step_size >= 1,
            "step_size",
            "step_size must be a positive integer, got {}",
            self.step_size
        );
        Ok(())
    }

    /// Validates and starts the schedule on `opt` (sets the lrs of epoch 0).
    pub fn build(&self, opt: &mut dyn Optimizer) -> Result<StepLR> {
        self.validate()?;
        Sched::start(self.clone(), opt, self.interval.unwrap_or(Interval::Epoch))
    }
}

impl LrRule for StepLRConfig {
    const NAME: &'static str = "StepLR";
    fn get_lr(&mut self, b: &Base, opt: &mut dyn Optimizer) -> Result<Vec<f64>> {
        let lrs = group_lrs(opt);
        if b.last_epoch == 0 || py_mod(b.last_epoch, self.step_size) != 0 {
            return Ok(lrs);
        }
        Ok(lrs.into_iter().map(|lr| lr * self.gamma).collect())
    }
    fn closed_form(&self, b: &Base) -> Option<Vec<f64>> {
        let k = b.last_epoch.div_euclid(self.step_size) as f64;
        Some(
            b.base_lrs
                .iter()
                .map(|lr| lr * self.gamma.powf(k))
                .collect(),
        )
    }
}
