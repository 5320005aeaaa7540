use super::{Interval, Scheduler, SchedulerConfig, State};
use crate::{Error, Optimizer, Result};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.optim.lr_scheduler.SequentialLR(optimizer, schedulers, milestones)`:
/// the schedulers as tables (`schedulers = [{ type = "LinearLR", ... }, { type = ... }]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequentialLRConfig {
    /// The schedulers, in order (at least one; no ReduceLROnPlateau).
    pub schedulers: Vec<SchedulerConfig>,
    /// The epochs at which the next scheduler takes over (one fewer than schedulers).
    pub milestones: Vec<i64>,
    /// `"epoch"` or `"step"` (default: the first scheduler's); set it here, not on the
    /// inner schedulers (wick's addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
}

/// `SequentialLR`: runs `schedulers[i]` between `milestones[i−1]` and `milestones[i]`;
/// at a milestone the next scheduler restarts from epoch 0 of its own schedule.
pub struct SequentialLR {
    children: Vec<Box<dyn Scheduler>>,
    milestones: Vec<i64>,
    last_epoch: i64,
    last_lr: Vec<f64>,
    interval: Interval,
}

/// Checks the children of SequentialLR and ChainedScheduler.
pub(crate) fn validate_children(name: &str, children: &[SchedulerConfig]) -> Result<()> {
    if children.is_empty() {
        return Err(Error::config(
            "schedulers",
            format!("{name} expects at least one scheduler, but got no scheduler."),
        ));
    }
    for (i, c) in children.iter().enumerate() {
        if c.monitor().is_some() {
            return Err(Error::config(
                "schedulers",
                format!(
                    "{name} does not support `ReduceLROnPlateau` scheduler as it requires additional \
                     kwargs to be specified when calling `step`, but got one at index {i} in the given \
                     schedulers sequence."
                ),
            ));
        }
        if c.interval_override().is_some() {
            return Err(Error::config(
                "schedulers",
                format!("schedulers[{i}]: set `interval` on the {name}, not on the schedulers inside it"),
            ));
        }
        c.validate()?;
    }
    Ok(())
}

fn bisect_right(v: &[i64], x: i64) -> usize {
    v.iter().take_while(|&&m| m <= x).count()
}

impl SequentialLRConfig {
    /// Checks the arguments with PyTorch's messages.
    pub fn validate(&self) -> Result<()> {
        validate_children("SequentialLR", &self.schedulers)?;
        if self.milestones.len() + 1 != self.schedulers.len() {
            return Err(Error::config(
                "milestones",
                format!(
                    "Sequential Schedulers expects number of schedulers provided to be one more than the \
                     number of milestone points, but got number of schedulers {} and the number of \
                     milestones to be equal to {}",
                    self.schedulers.len(),
                    self.milestones.len()
                ),
            ));
        }
        Ok(())
    }

    /// Builds the schedulers on `opt` (each takes its initial step, as in PyTorch),
    /// resets the lrs to `initial_lr` and starts the first one.
    pub fn build(&self, opt: &mut dyn Optimizer) -> Result<SequentialLR> {
        self.validate()?;
        let mut children = Vec::with_capacity(self.schedulers.len());
        for c in &self.schedulers {
            children.push(c.build(opt)?);
        }
        for g in 0..opt.num_groups() {
            if let Some(lr) = opt.initial_lr(g) {
                opt.set_lr(g, lr);
            }
        }
        for c in &mut children {
            c.rewind();
        }
        let idx = bisect_right(&self.milestones, 0);
        children[idx].initial_step(opt)?;
        let last_lr = children[idx].last_lr().to_vec();
        let interval = self.interval.unwrap_or_else(|| children[0].interval());
        Ok(SequentialLR {
            children,
            milestones: self.milestones.clone(),
            last_epoch: 0,
            last_lr,
            interval,
        })
    }
}

impl Scheduler for SequentialLR {
    fn type_name(&self) -> &'static str {
        "SequentialLR"
    }
    fn step(&mut self, opt: &mut dyn Optimizer, _metric: Option<f64>) -> Result<()> {
        self.last_epoch += 1;
        let idx = bisect_right(&self.milestones, self.last_epoch);
        let child = &mut self.children[idx];
        if idx > 0 && self.milestones[idx - 1] == self.last_epoch {
            child.jump_to(opt, 0)?;
        } else {
            child.step(opt, None)?;
        }
        self.last_lr = child.last_lr().to_vec();
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
        s.put("last_epoch", vec![self.last_epoch as f64]);
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
        self.last_epoch = s.get1("last_epoch")? as i64;
        self.last_lr = s.get_n("last_lr", self.last_lr.len())?;
        Ok(())
    }
    fn jump_to(&mut self, _opt: &mut dyn Optimizer, _epoch: i64) -> Result<()> {
        Err(Error::config(
            "schedulers",
            "a SequentialLR cannot follow a milestone of another SequentialLR",
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

/// Loads each child's entries (`schedulers.<i>.…`).
pub(crate) fn load_composite(
    children: &mut [Box<dyn Scheduler>],
    state: &[(String, Tensor)],
) -> Result<()> {
    for (i, c) in children.iter_mut().enumerate() {
        let p = format!("schedulers.{i}.");
        let sub: Vec<(String, Tensor)> = state
            .iter()
            .filter_map(|(k, t)| k.strip_prefix(&p).map(|k| (k.to_string(), t.clone())))
            .collect();
        c.load_state_dict(&sub)?;
    }
    Ok(())
}
