use super::{group_lrs, Base, Interval, LrRule, Sched};
use crate::{Optimizer, Result};
use serde::{Deserialize, Serialize};

/// Arguments of `torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExponentialLRConfig {
    /// Decay factor per epoch (required).
    pub gamma: f64,
    /// `"epoch"` (default) or `"step"`: when the runner steps it (wick's addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
}

/// `ExponentialLR`: every epoch `lr ← lr·gamma` (closed form `base_lr·gamma^epoch`).
pub type ExponentialLR = Sched<ExponentialLRConfig>;

impl ExponentialLRConfig {
    /// Checks the arguments (none can be wrong beyond their types).
    pub fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// Validates and starts the schedule on `opt` (sets the lrs of epoch 0).
    pub fn build(&self, opt: &mut dyn Optimizer) -> Result<ExponentialLR> {
        self.validate()?;
        Sched::start(self.clone(), opt, self.interval.unwrap_or(Interval::Epoch))
    }
}

impl LrRule for ExponentialLRConfig {
    const NAME: &'static str = "ExponentialLR";
    fn get_lr(&mut self, b: &Base, opt: &mut dyn Optimizer) -> Result<Vec<f64>> {
        let lrs = group_lrs(opt);
        if b.is_initial {
            return Ok(lrs);
        }
        Ok(lrs.into_iter().map(|lr| lr * self.gamma).collect())
    }
    fn closed_form(&self, b: &Base) -> Option<Vec<f64>> {
        let k = b.last_epoch as f64;
        Some(
            b.base_lrs
                .iter()
                .map(|lr| lr * self.gamma.powf(k))
                .collect(),
        )
    }
}
