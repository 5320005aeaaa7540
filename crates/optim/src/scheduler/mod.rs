//! `torch.optim.lr_scheduler`: learning-rate schedulers that set each parameter group's
//! lr (and, for OneCycleLR and CyclicLR, its momentum) the way PyTorch computes them,
//! step by step (PyTorch's recursive "chainable" forms, so the numbers are PyTorch's).
//!
//! A scheduler does not own its optimizer: it is given the optimizer at each call, as
//! the runner owns both. Like PyTorch's, building a scheduler already takes its first
//! step (the lr of epoch 0).

mod chained_scheduler;
mod config;
mod constant_lr;
mod cosine_annealing_lr;
mod cosine_annealing_warm_restarts;
mod cyclic_lr;
mod exponential_lr;
mod linear_lr;
mod multi_step_lr;
mod one_cycle_lr;
mod polynomial_lr;
mod reduce_lr_on_plateau;
mod sequential_lr;
mod step_lr;

pub use chained_scheduler::{ChainedScheduler, ChainedSchedulerConfig};
pub use config::{
    register_builtins, scheduler, RegisterScheduler, SchedulerCatalog, SchedulerConfig,
    SchedulerSpec,
};
pub use constant_lr::{ConstantLR, ConstantLRConfig};
pub use cosine_annealing_lr::{CosineAnnealingLR, CosineAnnealingLRConfig};
pub use cosine_annealing_warm_restarts::{
    CosineAnnealingWarmRestarts, CosineAnnealingWarmRestartsConfig,
};
pub use cyclic_lr::{CyclicLR, CyclicLRConfig, CyclicMode};
pub use exponential_lr::{ExponentialLR, ExponentialLRConfig};
pub use linear_lr::{LinearLR, LinearLRConfig};
pub use multi_step_lr::{MultiStepLR, MultiStepLRConfig};
pub use one_cycle_lr::{AnnealStrategy, OneCycleLR, OneCycleLRConfig};
pub use polynomial_lr::{PolynomialLR, PolynomialLRConfig};
pub use reduce_lr_on_plateau::{
    PlateauMode, ReduceLROnPlateau, ReduceLROnPlateauConfig, ThresholdMode,
};
pub use sequential_lr::{SequentialLR, SequentialLRConfig};
pub use step_lr::{StepLR, StepLRConfig};

use crate::{Error, Optimizer, Result};
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

/// When a scheduler steps: after every epoch (most schedulers, as PyTorch examples
/// call them) or after every optimizer step (OneCycleLR, CyclicLR). An experiment file
/// may override it with `interval = "epoch"` or `interval = "step"` (wick's addition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    /// Once per epoch, after evaluation.
    Epoch,
    /// Once per batch, after `optimizer.step()`.
    Step,
}

/// A value for every parameter group, or one value for all (`max_lr = 0.1` or
/// `max_lr = [0.1, 0.05]`), as PyTorch's `float | list[float]` arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerGroup {
    /// The same value for every group.
    One(f64),
    /// One value per group.
    Many(Vec<f64>),
}

impl PerGroup {
    /// The value of each of `groups` groups.
    ///
    /// # Errors
    /// A list whose length is not the number of groups (PyTorch's message).
    pub fn per_group(&self, name: &'static str, groups: usize) -> Result<Vec<f64>> {
        match self {
            Self::One(v) => Ok(vec![*v; groups]),
            Self::Many(v) if v.len() == groups => Ok(v.clone()),
            Self::Many(v) => Err(Error::config(
                name,
                format!("expected {groups} values for {name}, got {}", v.len()),
            )),
        }
    }
}

/// A `torch.optim.lr_scheduler` scheduler.
pub trait Scheduler: Send {
    /// The PyTorch class name.
    fn type_name(&self) -> &'static str;
    /// `scheduler.step()` (`scheduler.step(metric)` for ReduceLROnPlateau, which
    /// needs `metric`; the others ignore it): computes the next learning rates and sets
    /// them on `opt`.
    fn step(&mut self, opt: &mut dyn Optimizer, metric: Option<f64>) -> Result<()>;
    /// `get_last_lr()`: the learning rate of each group after the last step.
    fn last_lr(&self) -> &[f64];
    /// Whether it steps per epoch or per batch.
    fn interval(&self) -> Interval;
    /// The metric ReduceLROnPlateau watches (`monitor`); `None` for the others.
    fn monitor(&self) -> Option<&str> {
        None
    }
    /// The scheduler's state (`last_epoch`, base lrs, counters), to resume a run.
    fn state_dict(&self) -> Vec<(String, Tensor)>;
    /// Loads a [`state_dict`](Self::state_dict) of the same class and number of groups.
    ///
    /// # Errors
    /// [`Error::State`] for a missing or misshapen entry.
    fn load_state_dict(&mut self, state: &[(String, Tensor)]) -> Result<()>;
    /// PyTorch's `_update_lr(epoch)`: jumps to `epoch`, by the closed form where the
    /// class has one (SequentialLR does this at its milestones).
    fn jump_to(&mut self, opt: &mut dyn Optimizer, epoch: i64) -> Result<()>;
    /// PyTorch's `_initial_step()`: restarts the step count and takes the first step.
    fn initial_step(&mut self, opt: &mut dyn Optimizer) -> Result<()>;
    /// Steps `last_epoch` back by one, as SequentialLR's `recursive_undo`.
    fn rewind(&mut self);
}

/// What every scheduler keeps: PyTorch's `last_epoch`, `_step_count`, `base_lrs`,
/// `_last_lr`.
#[derive(Debug, Clone)]
pub struct Base {
    /// Steps taken (0 after construction).
    pub last_epoch: i64,
    /// `_step_count`: `step()` calls since the initial step.
    pub step_count: u64,
    /// Each group's `initial_lr`.
    pub base_lrs: Vec<f64>,
    /// Each group's lr after the last step.
    pub last_lr: Vec<f64>,
    /// True during the initial step (PyTorch's `_is_initial`).
    pub is_initial: bool,
    /// Per epoch or per batch.
    pub interval: Interval,
}

impl Base {
    /// `LRScheduler.__init__` with `last_epoch = -1`: sets each group's `initial_lr`
    /// if not set yet and takes the base lrs from them.
    pub(crate) fn new(opt: &mut dyn Optimizer, interval: Interval) -> Self {
        let base_lrs = (0..opt.num_groups())
            .map(|g| match opt.initial_lr(g) {
                Some(v) => v,
                None => {
                    let lr = opt.lr(g);
                    opt.set_initial_lr(g, lr);
                    lr
                }
            })
            .collect();
        Self {
            last_epoch: -1,
            step_count: 0,
            base_lrs,
            last_lr: opt.lrs(),
            is_initial: false,
            interval,
        }
    }

    pub(crate) fn save(&self, out: &mut State) {
        out.put("last_epoch", vec![self.last_epoch as f64]);
        out.put("step_count", vec![self.step_count as f64]);
        out.put("base_lrs", self.base_lrs.clone());
        out.put("last_lr", self.last_lr.clone());
    }

    pub(crate) fn load(&mut self, s: &State) -> Result<()> {
        self.last_epoch = s.get1("last_epoch")? as i64;
        self.step_count = s.get1("step_count")? as u64;
        self.base_lrs = s.get_n("base_lrs", self.base_lrs.len())?;
        self.last_lr = s.get_n("last_lr", self.last_lr.len())?;
        Ok(())
    }
}

/// A scheduler state as named f64 vectors, saved as f64 tensors.
#[derive(Debug, Clone, Default)]
pub struct State(pub(crate) Vec<(String, Vec<f64>)>);

impl State {
    pub(crate) fn put(&mut self, key: &str, v: Vec<f64>) {
        self.0.push((key.to_string(), v));
    }
    pub(crate) fn get(&self, key: &str) -> Result<&[f64]> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
            .ok_or_else(|| Error::State(format!("scheduler state has no `{key}`")))
    }
    pub(crate) fn get1(&self, key: &str) -> Result<f64> {
        Ok(self.get_n(key, 1)?[0])
    }
    pub(crate) fn get_n(&self, key: &str, n: usize) -> Result<Vec<f64>> {
        let v = self.get(key)?;
        if v.len() != n {
            return Err(Error::State(format!(
                "scheduler state `{key}` has {} values, expected {n} (one per parameter group?)",
                v.len()
            )));
        }
        Ok(v.to_vec())
    }
    pub(crate) fn to_tensors(&self) -> Vec<(String, Tensor)> {
        self.0
            .iter()
            .filter_map(|(k, v)| {
                Tensor::from_slice(v, v.len(), &Device::Cpu)
                    .ok()
                    .map(|t| (k.clone(), t))
            })
            .collect()
    }
    pub(crate) fn from_tensors(state: &[(String, Tensor)]) -> Result<Self> {
        let mut out = State::default();
        for (k, t) in state {
            let v = t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
            out.put(k, v);
        }
        Ok(out)
    }
}

/// The rule of a scheduler that steps the standard way (`LRScheduler.step`); its
/// config struct implements it and [`Sched`] drives it.
pub trait LrRule: Send + 'static {
    /// The PyTorch class name.
    const NAME: &'static str;
    /// `get_lr()`: the next lrs, from the optimizer's current ones (may also set the
    /// momentum).
    fn get_lr(&mut self, b: &Base, opt: &mut dyn Optimizer) -> Result<Vec<f64>>;
    /// `_get_closed_form_lr()`, where the class has one.
    fn closed_form(&self, _b: &Base) -> Option<Vec<f64>> {
        None
    }
    /// Saves the rule's own state (beyond [`Base`]).
    fn save(&self, _out: &mut State) {}
    /// Loads what [`save`](Self::save) wrote.
    fn load(&mut self, _s: &State) -> Result<()> {
        Ok(())
    }
}

/// A scheduler of rule `R`, stepping as `LRScheduler.step` does.
pub struct Sched<R> {
    pub(crate) base: Base,
    pub(crate) rule: R,
}

impl<R: LrRule> Sched<R> {
    /// `LRScheduler.__init__`: base lrs from the groups' `initial_lr`, then the first step.
    pub(crate) fn start(rule: R, opt: &mut dyn Optimizer, interval: Interval) -> Result<Self> {
        let mut s = Self {
            base: Base::new(opt, interval),
            rule,
        };
        s.initial_step(opt)?;
        Ok(s)
    }

    fn update(&mut self, opt: &mut dyn Optimizer, epoch: Option<i64>) -> Result<()> {
        let lrs = match epoch {
            None => {
                self.base.last_epoch += 1;
                self.rule.get_lr(&self.base, opt)?
            }
            Some(e) => {
                self.base.last_epoch = e;
                match self.rule.closed_form(&self.base) {
                    Some(v) => v,
                    None => self.rule.get_lr(&self.base, opt)?,
                }
            }
        };
        for (g, lr) in lrs.into_iter().enumerate() {
            opt.set_lr(g, lr);
        }
        self.base.last_lr = opt.lrs();
        Ok(())
    }

    /// The number of `step()` calls so far (PyTorch's `last_epoch`).
    pub fn last_epoch(&self) -> i64 {
        self.base.last_epoch
    }

    /// The lrs the schedule scales (PyTorch's `base_lrs`).
    pub fn base_lrs(&self) -> &[f64] {
        &self.base.base_lrs
    }
}

impl<R: LrRule> Scheduler for Sched<R> {
    fn type_name(&self) -> &'static str {
        R::NAME
    }
    fn step(&mut self, opt: &mut dyn Optimizer, _metric: Option<f64>) -> Result<()> {
        self.base.step_count += 1;
        self.update(opt, None)
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
        self.rule.save(&mut s);
        s.to_tensors()
    }
    fn load_state_dict(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        let s = State::from_tensors(state)?;
        let mut base = self.base.clone();
        base.load(&s)?;
        self.rule.load(&s)?;
        self.base = base;
        Ok(())
    }
    fn jump_to(&mut self, opt: &mut dyn Optimizer, epoch: i64) -> Result<()> {
        self.update(opt, Some(epoch))
    }
    fn initial_step(&mut self, opt: &mut dyn Optimizer) -> Result<()> {
        self.base.step_count = 0;
        self.base.is_initial = true;
        let r = self.step(opt, None);
        self.base.is_initial = false;
        r
    }
    fn rewind(&mut self) {
        self.base.last_epoch -= 1;
    }
}

/// The current lr of every group.
pub(crate) fn group_lrs(opt: &dyn Optimizer) -> Vec<f64> {
    opt.lrs()
}

/// Python's `%` (the result has the sign of the divisor).
pub(crate) fn py_mod(a: i64, b: i64) -> i64 {
    ((a % b) + b) % b
}
