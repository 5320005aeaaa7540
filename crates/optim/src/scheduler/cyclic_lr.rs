use super::{Base, Interval, LrRule, PerGroup, Sched};
use crate::{Error, Optimizer, Result};
use serde::{Deserialize, Serialize};

/// CyclicLR's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CyclicMode {
    /// A triangle of constant height.
    #[default]
    Triangular,
    /// The height halves each cycle.
    Triangular2,
    /// The height is scaled by `gamma^iteration`.
    ExpRange,
}

/// Arguments of `torch.optim.lr_scheduler.CyclicLR(optimizer, base_lr, max_lr,
/// step_size_up=2000, step_size_down=None, mode='triangular', gamma=1.0,
/// cycle_momentum=True, base_momentum=0.8, max_momentum=0.9)` (a custom `scale_fn`
/// cannot be written in a file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CyclicLRConfig {
    /// Lower lr bound, one for all groups or one per group (required).
    pub base_lr: PerGroup,
    /// Upper lr bound, one for all groups or one per group (required).
    pub max_lr: PerGroup,
    /// Steps of the increasing half of a cycle (default 2000).
    #[serde(default = "step_size_up")]
    pub step_size_up: i64,
    /// Steps of the decreasing half (default: `step_size_up`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_size_down: Option<i64>,
    /// `"triangular"` (default), `"triangular2"` or `"exp_range"`.
    #[serde(default)]
    pub mode: CyclicMode,
    /// Base of `exp_range`'s scaling (default 1.0).
    #[serde(default = "one")]
    pub gamma: f64,
    /// Cycle the momentum (or `betas[0]`) inversely to the lr (default `true`).
    #[serde(default = "yes")]
    pub cycle_momentum: bool,
    /// Lower momentum bound (default 0.8).
    #[serde(default = "base_momentum")]
    pub base_momentum: PerGroup,
    /// Upper momentum bound (default 0.9).
    #[serde(default = "max_momentum")]
    pub max_momentum: PerGroup,
    /// `"step"` (default: after every batch, as PyTorch uses it) or `"epoch"` (wick's addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
}

fn step_size_up() -> i64 {
    2000
}
fn one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}
fn base_momentum() -> PerGroup {
    PerGroup::One(0.8)
}
fn max_momentum() -> PerGroup {
    PerGroup::One(0.9)
}

/// `CyclicLR`: the lr cycles between `base_lr` and `max_lr`
/// (`cycle = ⌊1 + t/size⌋`, `x = 1 + t/size − cycle`, scale `x/ratio` up, `(x−1)/(ratio−1)`
/// down, `lr = base + (max − base)·scale·f(cycle or t)`), the momentum the other way.
pub type CyclicLR = Sched<CyclicRule>;

/// CyclicLR's resolved schedule.
pub struct CyclicRule {
    cfg: CyclicLRConfig,
    max_lrs: Vec<f64>,
    total_size: f64,
    step_ratio: f64,
    base_m: Vec<f64>,
    max_m: Vec<f64>,
}

impl CyclicLRConfig {
    /// Checks the arguments.
    pub fn validate(&self) -> Result<()> {
        check!(
            self.step_size_up >= 1,
            "step_size_up",
            "step_size_up must be a positive integer, got {}",
            self.step_size_up
        );
        if let Some(d) = self.step_size_down {
            check!(
                d >= 1,
                "step_size_down",
                "step_size_down must be a positive integer, got {d}"
            );
        }
        Ok(())
    }

    /// Validates and starts the schedule on `opt`: sets each group's lr to `base_lr`
    /// (and momentum to `max_momentum`) and takes the first step.
    ///
    /// # Errors
    /// Invalid arguments; `cycle_momentum` on an optimizer without momentum or betas;
    /// per-group lists of the wrong length.
    pub fn build(&self, opt: &mut dyn Optimizer) -> Result<CyclicLR> {
        self.validate()?;
        let n = opt.num_groups();
        let base_lrs = self.base_lr.per_group("base_lr", n)?;
        for (g, lr) in base_lrs.iter().enumerate() {
            opt.set_lr(g, *lr);
        }
        let max_lrs = self.max_lr.per_group("max_lr", n)?;
        let up = self.step_size_up as f64;
        let down = self.step_size_down.map(|d| d as f64).unwrap_or(up);
        let total_size = up + down;
        let (mut base_m, mut max_m) = (Vec::new(), Vec::new());
        if self.cycle_momentum {
            if opt.momentum(0).is_none() {
                return Err(Error::config(
                    "cycle_momentum",
                    "optimizer must support momentum or beta1 with `cycle_momentum` option enabled",
                ));
            }
            base_m = self.base_momentum.per_group("base_momentum", n)?;
            max_m = self.max_momentum.per_group("max_momentum", n)?;
            for (g, m) in max_m.iter().enumerate() {
                opt.set_momentum(g, *m);
            }
        }
        let rule = CyclicRule {
            cfg: self.clone(),
            max_lrs,
            total_size,
            step_ratio: up / total_size,
            base_m,
            max_m,
        };
        let mut s = Sched::start(rule, opt, self.interval.unwrap_or(Interval::Step))?;
        s.base.base_lrs = base_lrs;
        Ok(s)
    }
}

impl LrRule for CyclicRule {
    const NAME: &'static str = "CyclicLR";
    fn get_lr(&mut self, b: &Base, opt: &mut dyn Optimizer) -> Result<Vec<f64>> {
        let t = b.last_epoch as f64;
        let cycle = (1.0 + t / self.total_size).floor();
        let x = 1.0 + t / self.total_size - cycle;
        let scale_factor = if x <= self.step_ratio {
            x / self.step_ratio
        } else {
            (x - 1.0) / (self.step_ratio - 1.0)
        };
        let scale = match self.cfg.mode {
            CyclicMode::Triangular => 1.0,
            CyclicMode::Triangular2 => 1.0 / 2f64.powf(cycle - 1.0),
            CyclicMode::ExpRange => self.cfg.gamma.powf(t),
        };
        let lrs = b
            .base_lrs
            .iter()
            .zip(&self.max_lrs)
            .map(|(base, max)| base + (max - base) * scale_factor * scale)
            .collect();
        if self.cfg.cycle_momentum {
            for g in 0..self.max_m.len() {
                let height = (self.max_m[g] - self.base_m[g]) * scale_factor;
                opt.set_momentum(g, self.max_m[g] - height * scale);
            }
        }
        Ok(lrs)
    }
}
