use super::{group_lrs, Base, Interval, LrRule, Sched};
use crate::{Optimizer, Result};
use serde::{Deserialize, Serialize};

/// Arguments of `torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1/3,
/// end_factor=1.0, total_iters=5)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinearLRConfig {
    /// Factor of the first epoch's lr (default 1/3; in (0, 1]).
    pub start_factor: f64,
    /// Factor reached after `total_iters` epochs (default 1.0; in [0, 1]).
    pub end_factor: f64,
    /// Epochs of the ramp (default 5).
    pub total_iters: i64,
    /// `"epoch"` (default) or `"step"`: when the runner steps it (wick's addition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
}

impl Default for LinearLRConfig {
    fn default() -> Self {
        Self {
            start_factor: 1.0 / 3.0,
            end_factor: 1.0,
            total_iters: 5,
            interval: None,
        }
    }
}

/// `LinearLR`: the lr factor goes linearly from `start_factor` to `end_factor` over
/// `total_iters` epochs, recursively:
/// `lr ← lr·(1 + (end − start) / (total·start + (t − 1)(end − start)))`.
pub type LinearLR = Sched<LinearLRConfig>;

impl LinearLRConfig {
    /// Checks the arguments with PyTorch's messages.
    pub fn validate(&self) -> Result<()> {
        check!(
            self.start_factor <= 1.0 && self.start_factor > 0.0,
            "start_factor",
            "Starting multiplicative factor expected to be greater than 0 and less or equal to 1."
        );
        check!(
            self.end_factor <= 1.0 && self.end_factor >= 0.0,
            "end_factor",
            "Ending multiplicative factor expected to be between 0 and 1."
        );
        check!(
            self.total_iters >= 1,
            "total_iters",
            "total_iters must be a positive integer, got {}",
            self.total_iters
        );
        Ok(())
    }

    /// Validates and starts the schedule on `opt` (sets the lrs of epoch 0).
    pub fn build(&self, opt: &mut dyn Optimizer) -> Result<LinearLR> {
        self.validate()?;
        Sched::start(self.clone(), opt, self.interval.unwrap_or(Interval::Epoch))
    }
}

impl LrRule for LinearLRConfig {
    const NAME: &'static str = "LinearLR";
    fn get_lr(&mut self, b: &Base, opt: &mut dyn Optimizer) -> Result<Vec<f64>> {
        let lrs = group_lrs(opt);
        let (s, e, n) = (self.start_factor, self.end_factor, self.total_iters);
        if b.last_epoch == 0 {
            return Ok(lrs.into_iter().map(|lr| lr * s).collect());
        }
        if b.is_initial || b.last_epoch > n {
            return Ok(lrs);
        }
        let f = 1.0 + (e - s) / (n as f64 * s + (b.last_epoch - 1) as f64 * (e - s));
        Ok(lrs.into_iter().map(|lr| lr * f).collect())
    }
    fn closed_form(&self, b: &Base) -> Option<Vec<f64>> {
        let (s, e, n) = (self.start_factor, self.end_factor, self.total_iters);
        let k = n.min(b.last_epoch) as f64;
        Some(
            b.base_lrs
                .iter()
                .map(|lr| lr * (s + (e - s) * k / n as f64))
                .collect(),
        )
    }
}
