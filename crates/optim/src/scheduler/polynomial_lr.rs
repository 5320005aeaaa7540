use super::{group_lrs, Base, Interval, LrRule, Sched};
use crate::{Optimizer, Result};
use serde::{Deserialize, Serialize};

/// Arguments of `torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=5, power=1.0)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolynomialLRConfig {
    /// Epochs until the lr reaches 0 (default 5).
    pub total_iters: i64,
    /// Power of the polynomial (default 1.0).
    pub power: f64,
    /// `"epoch"` (default) or `"step"`: when the runner steps it (wick's addition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
}

impl Default for PolynomialLRConfig {
    fn default() -> Self {
        Self {
            total_iters: 5,
            power: 1.0,
            interval: None,
        }
    }
}

/// `PolynomialLR`: `lr ← lr·((1 − t/T)/(1 − (t−1)/T))^power` for `t ≤ T`
/// (closed form `base_lr·(1 − min(T, t)/T)^power`).
pub type PolynomialLR = Sched<PolynomialLRConfig>;

impl PolynomialLRConfig {
    /// Checks the arguments.
    pub fn validate(&self) -> Result<()> {
        check!(
            self.total_iters >= 1,
            "total_iters",
            "total_iters must be a positive integer, got {}",
            self.total_iters
        );
        Ok(())
    }

    /// Validates and starts the schedule on `opt` (sets the lrs of epoch 0).
    pub fn build(&self, opt: &mut dyn Optimizer) -> Result<PolynomialLR> {
        self.validate()?;
        Sched::start(self.clone(), opt, self.interval.unwrap_or(Interval::Epoch))
    }
}

impl LrRule for PolynomialLRConfig {
    const NAME: &'static str = "PolynomialLR";
    fn get_lr(&mut self, b: &Base, opt: &mut dyn Optimizer) -> Result<Vec<f64>> {
        let lrs = group_lrs(opt);
        let (t, n) = (b.last_epoch, self.total_iters);
        if b.is_initial || t > n {
            return Ok(lrs);
        }
        let f = ((1.0 - t as f64 / n as f64) / (1.0 - (t - 1) as f64 / n as f64)).powf(self.power);
        Ok(lrs.into_iter().map(|lr| lr * f).collect())
    }
    fn closed_form(&self, b: &Base) -> Option<Vec<f64>> {
        let n = self.total_iters;
        let k = n.min(b.last_epoch) as f64;
        Some(
            b.base_lrs
                .iter()
                .map(|lr| lr * (1.0 - k / n as f64).powf(self.power))
                .collect(),
        )
    }
}
