use super::{group_lrs, Base, Interval, LrRule, Sched};
use crate::{Optimizer, Result};
use serde::{Deserialize, Serialize};

/// Arguments of `torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1/3, total_iters=5)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConstantLRConfig {
    /// Factor applied until `total_iters` (default 1/3; in [0, 1]).
    pub factor: f64,
    /// Epochs with the reduced lr (default 5).
    pub total_iters: i64,
    /// `"epoch"` (default) or `"step"`: when the runner steps it (wick's addition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
}

impl Default for ConstantLRConfig {
    fn default() -> Self {
        Self {
            factor: 1.0 / 3.0,
            total_iters: 5,
            interval: None,
        }
    }
}

/// `ConstantLR`: `lr·factor` for the first `total_iters` epochs, then `lr`.
pub type ConstantLR = Sched<ConstantLRConfig>;

impl ConstantLRConfig {
    /// Checks the arguments with PyTorch's messages.
    pub fn validate(&self) -> Result<()> {
        check!(
            self.factor <= 1.0 && self.factor >= 0.0,
            "factor",
            "Constant multiplicative factor expected to be between 0 and 1."
        );
        Ok(())
    }

    /// Validates and starts the schedule on `opt` (sets the lrs of epoch 0).
    pub fn build(&self, opt: &mut dyn Optimizer) -> Result<ConstantLR> {
        self.validate()?;
        Sched::start(self.clone(), opt, self.interval.unwrap_or(Interval::Epoch))
    }
}

impl LrRule for ConstantLRConfig {
    const NAME: &'static str = "ConstantLR";
    fn get_lr(&mut self, b: &Base, opt: &mut dyn Optimizer) -> Result<Vec<f64>> {
        let lrs = group_lrs(opt);
        if b.last_epoch == 0 {
            return Ok(lrs.into_iter().map(|lr| lr * self.factor).collect());
        }
        if b.last_epoch != self.total_iters {
            return Ok(lrs);
        }
        Ok(lrs.into_iter().map(|lr| lr * (1.0 / self.factor)).collect())
    }
    fn closed_form(&self, b: &Base) -> Option<Vec<f64>> {
        let after = if b.last_epoch >= self.total_iters {
            1.0
        } else {
            0.0
        };
        Some(
            b.base_lrs
                .iter()
                .map(|lr| lr * (self.factor + after * (1.0 - self.factor)))
                .collect(),
        )
    }
}
