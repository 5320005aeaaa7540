use super::step_lr::default_gamma;
use super::{group_lrs, Base, Interval, LrRule, Sched};
use crate::{Optimizer, Result};
use serde::{Deserialize, Serialize};

/// Arguments of `torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma=0.1)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiStepLRConfig {
    /// Epochs at which to decay (required; a repeated milestone decays once per repeat).
    pub milestones: Vec<i64>,
    /// Decay factor (default 0.1).
    #[serde(default = "default_gamma")]
    pub gamma: f64,
    /// `"epoch"` (default) or `"step"`: when the runner steps it (wick's addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
}

/// `MultiStepLR`: at each milestone, `lr ← lr·gamma^(times it is listed)`.
pub type MultiStepLR = Sched<MultiStepLRConfig>;

impl MultiStepLRConfig {
    /// Checks the arguments (none can be wrong beyond their types).
    pub fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// Validates and starts the schedule on `opt` (sets the lrs of epoch 0).
    pub fn build(&self, opt: &mut dyn Optimizer) -> Result<MultiStepLR> {
        self.validate()?;
        Sched::start(self.clone(), opt, self.interval.unwrap_or(Interval::Epoch))
    }
}

impl LrRule for MultiStepLRConfig {
    const NAME: &'static str = "MultiStepLR";
    fn get_lr(&mut self, b: &Base, opt: &mut dyn Optimizer) -> Result<Vec<f64>> {
        let lrs = group_lrs(opt);
        let times = self
            .milestones
            .iter()
            .filter(|&&m| m == b.last_epoch)
            .count();
        if times == 0 {
            return Ok(lrs);
        }
        let f = self.gamma.powf(times as f64);
        Ok(lrs.into_iter().map(|lr| lr * f).collect())
    }
    fn closed_form(&self, b: &Base) -> Option<Vec<f64>> {
        let k = self
            .milestones
            .iter()
            .filter(|&&m| m <= b.last_epoch)
            .count() as f64;
        Some(
            b.base_lrs
                .iter()
                .map(|lr| lr * self.gamma.powf(k))
                .collect(),
        )
    }
}
