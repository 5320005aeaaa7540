use super::sequential_lr::{load_composite, validate_children};
use super::{Interval, Scheduler, SchedulerConfig, State};
use crate::{Error, Optimizer, Result};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.optim.lr_scheduler.ChainedScheduler(schedulers)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainedSchedulerConfig {
    /// The schedulers, all stepped at each step, in order (no ReduceLROnPlateau).
    pub schedulers: Vec<SchedulerConfig>,
    /// `"epoch"` or `"step"` (default: the first scheduler's); set it here, not on the
    /// inner schedulers (wick's addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
}

/// `ChainedScheduler`: steps every scheduler in turn, each scaling the lr the previous
/// one set.
pub struct ChainedScheduler {
    children: Vec<Box<dyn Scheduler>>,
    last_lr: Vec<f64>,
    interval: Interval,
}

impl ChainedSchedulerConfig {
    /// Checks the arguments with PyTorch's messages.
    pub fn validate(&self) -> Result<()> {
        validate_children("ChainedScheduler", &self.schedulers)
    }

    /// Builds the schedulers on `opt`, in order (each takes its initial step).
    pub fn build(&self, opt: &mut dyn Optimizer) -> Result<ChainedScheduler> {
        self.validate()?;
        let mut children = Vec::with_capacity(self.schedulers.len());
        for c in &self.schedulers {
            children.push(c.build(opt)?);
        }
        let interval = self.interval.unwrap_or_else(|| children[0].interval());
        Ok(ChainedScheduler {
            children,
            last_lr: opt.lrs(),
            interval,
        })
    }
}

impl Scheduler for ChainedScheduler {
    fn type_name(&self) -> &'static str {
        "ChainedScheduler"
    }
    fn step(&mut self, opt: &mut dyn Optimizer, _metric: Option<f64>) -> Result<()> {
        for c in &mut self.children {
            c.step(opt, None)?;
        }
        self.last_lr = opt.lrs();
        Ok(())
    }
    fn last_lr(&self) -> &[f64] {
        &self.last_lr
    }
    fn interval(&self) -> Interval {
        self.interval
    }
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        let mut s = State::default();
        s.put("last_lr", self.last_lr.clone());
        let mut out = s.to_tensors();
        for (i, c) in self.children.iter().enumerate() {
            out.extend(
                c.state_dict()
                    .into_iter()
                    .map(|(k, t)| (format!("schedulers.{i}.{k}"), t)),
            );
        }
        out
    }
    fn load_state_dict(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        load_composite(&mut self.children, state)?;
        let s = State::from_tensors(state)?;
        self.last_lr = s.get_n("last_lr", self.last_lr.len())?;
        Ok(())
    }
    fn jump_to(&mut self, _opt: &mut dyn Optimizer, _epoch: i64) -> Result<()> {
        Err(Error::config(
            "schedulers",
            "a ChainedScheduler cannot follow a milestone of a SequentialLR",
        ))
    }
    fn initial_step(&mut self, opt: &mut dyn Optimizer) -> Result<()> {
        self.step(opt, None)
    }
    fn rewind(&mut self) {
        for c in &mut self.children {
            c.rewind();
        }
    }
}
