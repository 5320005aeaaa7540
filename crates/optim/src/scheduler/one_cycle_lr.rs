use super::{Base, Interval, LrRule, PerGroup, Sched, State};
use crate::{Error, Optimizer, Result};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// How OneCycleLR anneals between two values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AnnealStrategy {
    /// `end + (start − end)/2·(1 + cos(π·pct))`.
    #[default]
    Cos,
    /// `start + (end − start)·pct`.
    Linear,
}

/// Arguments of `torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr, total_steps=None,
/// epochs=None, steps_per_epoch=None, pct_start=0.3, anneal_strategy='cos',
/// cycle_momentum=True, base_momentum=0.85, max_momentum=0.95, div_factor=25.0,
/// final_div_factor=1e4, three_phase=False)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneCycleLRConfig {
    /// Peak learning rate, one for all groups or one per group (required).
    pub max_lr: PerGroup,
    /// Steps in the cycle; or give `epochs` and `steps_per_epoch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_steps: Option<i64>,
    /// Epochs (with `steps_per_epoch`), when `total_steps` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<i64>,
    /// Steps per epoch (with `epochs`), when `total_steps` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_per_epoch: Option<i64>,
    /// Fraction of the cycle spent increasing the lr (default 0.3).
    #[serde(default = "pct_start")]
    pub pct_start: f64,
    /// `"cos"` (default) or `"linear"`.
    #[serde(default)]
    pub anneal_strategy: AnnealStrategy,
    /// Cycle the momentum (or `betas[0]`) inversely to the lr (default `true`).
    #[serde(default = "yes")]
    pub cycle_momentum: bool,
    /// Lowest momentum (default 0.85).
    #[serde(default = "base_momentum")]
    pub base_momentum: PerGroup,
    /// Highest momentum (default 0.95).
    #[serde(default = "max_momentum")]
    pub max_momentum: PerGroup,
    /// `initial_lr = max_lr/div_factor` (default 25).
    #[serde(default = "div_factor")]
    pub div_factor: f64,
    /// `min_lr = initial_lr/final_div_factor` (default 1e4).
    #[serde(default = "final_div_factor")]
    pub final_div_factor: f64,
    /// Three phases (up, down to initial_lr, down to min_lr) instead of two (default `false`).
    #[serde(default)]
    pub three_phase: bool,
    /// `"step"` (default: after every batch, as PyTorch uses it) or `"epoch"` (wick's addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
}

fn pct_start() -> f64 {
    0.3
}
fn yes() -> bool {
    true
}
fn base_momentum() -> PerGroup {
    PerGroup::One(0.85)
}
fn max_momentum() -> PerGroup {
    PerGroup::One(0.95)
}
fn div_factor() -> f64 {
    25.0
}
fn final_div_factor() -> f64 {
    1e4
}

/// `OneCycleLR` (the 1cycle policy): the lr rises from `max_lr/div_factor` to `max_lr`
/// over `pct_start` of the steps, then anneals to `initial_lr/final_div_factor`; the
/// momentum moves the opposite way between `max_momentum` and `base_momentum`.
pub type OneCycleLR = Sched<OneCycleRule>;

#[derive(Clone, Copy)]
enum Level {
    Initial,
    Max,
    Min,
}

/// OneCycleLR's resolved schedule.
pub struct OneCycleRule {
    cfg: OneCycleLRConfig,
    total_steps: i64,
    phases: Vec<(f64, Level, Level, bool)>,
    initial: Vec<f64>,
    max: Vec<f64>,
    min: Vec<f64>,
    base_m: Vec<f64>,
    max_m: Vec<f64>,
}

impl OneCycleLRConfig {
    /// Checks the arguments with PyTorch's messages; returns the total steps.
    pub fn validate(&self) -> Result<i64> {
        let total = match (self.total_steps, self.epochs, self.steps_per_epoch) {
            (Some(t), _, _) => {
                check!(
                    t > 0,
                    "total_steps",
                    "Expected positive integer total_steps, but got {t}"
                );
                t
            }
            (None, Some(e), Some(s)) => {
                check!(
                    e > 0,
                    "epochs",
                    "Expected positive integer epochs, but got {e}"
                );
                check!(
                    s > 0,
                    "steps_per_epoch",
                    "Expected positive integer steps_per_epoch, but got {s}"
                );
                e * s
            }
            _ => {
                return Err(Error::config(
                    "total_steps",
                    "You must define either total_steps OR (epochs AND steps_per_epoch)",
                ))
            }
        };
        check!(
            (0.0..=1.0).contains(&self.pct_start),
            "pct_start",
            "Expected float between 0 and 1 pct_start, but got {}",
            self.pct_start
        );
        Ok(total)
    }

    /// Validates and starts the schedule on `opt`: sets each group's `initial_lr`
    /// (and momentum, with `cycle_momentum`) and the lrs of step 0.
    ///
    /// # Errors
    /// Invalid arguments; `cycle_momentum` on an optimizer without momentum or betas;
    /// per-group lists of the wrong length.
    pub fn build(&self, opt: &mut dyn Optimizer) -> Result<OneCycleLR> {
        let total = self.validate()?;
        let n = opt.num_groups();
        let max = self.max_lr.per_group("max_lr", n)?;
        let initial: Vec<f64> = max.iter().map(|m| m / self.div_factor).collect();
        let min: Vec<f64> = initial.iter().map(|i| i / self.final_div_factor).collect();
        for (g, lr) in initial.iter().enumerate() {
            opt.set_initial_lr(g, *lr);
        }
        let (mut base_m, mut max_m) = (Vec::new(), Vec::new());
        if self.cycle_momentum {
            if opt.momentum(0).is_none() {
                return Err(Error::config(
                    "cycle_momentum",
                    "optimizer must support momentum or beta1 with `cycle_momentum` option enabled",
                ));
            }
            max_m = self.max_momentum.per_group("max_momentum", n)?;
            base_m = self.base_momentum.per_group("base_momentum", n)?;
            for (g, m) in max_m.iter().enumerate() {
                opt.set_momentum(g, *m);
            }
        }
        let t = total as f64;
        let p = self.pct_start;
        let phases = if self.three_phase {
            vec![
                (p * t - 1.0, Level::Initial, Level::Max, true),
                (2.0 * p * t - 2.0, Level::Max, Level::Initial, false),
                (t - 1.0, Level::Initial, Level::Min, true),
            ]
        } else {
            vec![
                (p * t - 1.0, Level::Initial, Level::Max, true),
                (t - 1.0, Level::Max, Level::Min, false),
            ]
        };
        let rule = OneCycleRule {
            cfg: self.clone(),
            total_steps: total,
            phases,
            initial,
            max,
            min,
            base_m,
            max_m,
        };
        Sched::start(rule, opt, self.interval.unwrap_or(Interval::Step))
    }
}

impl OneCycleRule {
    fn anneal(&self, start: f64, end: f64, pct: f64) -> f64 {
        match self.cfg.anneal_strategy {
            AnnealStrategy::Cos => {
                let cos_out = (PI * pct).cos() + 1.0;
                end + (start - end) / 2.0 * cos_out
            }
            AnnealStrategy::Linear => (end - start) * pct + start,
        }
    }
    fn level(&self, l: Level, g: usize) -> f64 {
        match l {
            Level::Initial => self.initial[g],
            Level::Max => self.max[g],
            Level::Min => self.min[g],
        }
    }
}

impl LrRule for OneCycleRule {
    const NAME: &'static str = "OneCycleLR";
    fn get_lr(&mut self, b: &Base, opt: &mut dyn Optimizer) -> Result<Vec<f64>> {
        let step = b.last_epoch;
        if step > self.total_steps {
            return Err(Error::config(
                "total_steps",
                format!(
                    "Tried to step {step} times. The specified number of total steps is {}",
                    self.total_steps
                ),
            ));
        }
        let mut lrs = Vec::with_capacity(opt.num_groups());
        for g in 0..opt.num_groups() {
            let mut start_step = 0.0;
            let last = self.phases.len() - 1;
            for (i, &(end_step, from, to, momentum_down)) in self.phases.iter().enumerate() {
                if step as f64 <= end_step || i == last {
                    let pct = (step as f64 - start_step) / (end_step - start_step);
                    lrs.push(self.anneal(self.level(from, g), self.level(to, g), pct));
                    if self.cfg.cycle_momentum {
                        // phases go max→base (lr up), base→max (lr down), max→max (3rd)
                        let (m0, m1) = match (i, momentum_down) {
                            (2, _) => (self.max_m[g], self.max_m[g]),
                            (_, true) => (self.max_m[g], self.base_m[g]),
                            (_, false) => (self.base_m[g], self.max_m[g]),
                        };
                        opt.set_momentum(g, self.anneal(m0, m1, pct));
                    }
                    break;
                }
                start_step = end_step;
            }
        }
        Ok(lrs)
    }
    fn save(&self, out: &mut State) {
        out.put("total_steps", vec![self.total_steps as f64]);
    }
}
