//! Callbacks that stop a run: [`EarlyStopping`] and [`Converged`] at an epoch's end,
//! [`StopOn`] after a step (Ctrl-C).

use super::callback::{Callback, Control, StepEnd, View};
use super::stats::EpochStats;
use crate::error::RunError;
use crate::monitor::{Mode, Monitor};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Stops the run when `monitor` has not improved for `patience` epochs
/// (Lightning's `EarlyStopping`).
pub struct EarlyStopping {
    monitor: Monitor,
    patience: usize,
}

impl EarlyStopping {
    /// Watches `metric` (`"test_loss"`, `"test_acc"`, …) in its natural direction
    /// (`min` for losses and errors, `max` otherwise).
    pub fn new(metric: &str, patience: usize) -> Self {
        Self {
            monitor: Monitor::new(metric, None, 0.0),
            patience,
        }
    }

    /// The direction in which the metric improves.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.monitor.mode = mode;
        self
    }

    /// The smallest change that counts as an improvement.
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.monitor.min_delta = min_delta.abs();
        self
    }
}

impl Callback for EarlyStopping {
    fn on_epoch_end(&mut self, _view: &View<'_>, stats: &EpochStats) -> Result<Control, RunError> {
        let m = &mut self.monitor;
        let Some(v) = stats.metric(&m.metric) else {
            return Err(RunError::Mismatch(format!(
                "EarlyStopping: the run does not measure `{}`",
                m.metric
            )));
        };
        m.update(v, stats.epoch);
        if m.bad_epochs < self.patience {
            return Ok(Control::Continue);
        }
        Ok(Control::Stop(format!(
            "early stopping after epoch {}: {} has not improved for {} epochs (best {:.4} at epoch {})",
            stats.epoch,
            m.metric,
            self.patience,
            m.best.map_or(f64::NAN, |b| b.0),
            m.best.map_or(0, |b| b.1),
        )))
    }

    fn state_dict(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&self.monitor).ok()
    }

    fn load_state_dict(&mut self, state: serde_json::Value) -> Result<(), RunError> {
        self.monitor = serde_json::from_value(state)
            .map_err(|e| RunError::RunDir(format!("the early-stopping state: {e}")))?;
        Ok(())
    }
}

/// Stops the run at an epoch's end when its last two step losses differ by less than
/// `eps`: the course's hand-written loop,
///
/// ```python
/// for _ in range(epochs):
///     for x, y in dataloader: ...; loss_lst += [loss.item()]
///     if abs(loss_lst[-1] - loss_lst[-2]) < eps: break
/// ```
///
/// (on a GPU, where losses are read back only now and then, the last two read).
pub struct Converged {
    eps: f64,
    /// The newest step loss and the one before it.
    last: [Option<f64>; 2],
}

impl Converged {
    /// Stops when `|loss[-1] - loss[-2]| < eps`.
    pub fn new(eps: f64) -> Self {
        Self {
            eps,
            last: [None, None],
        }
    }
}

impl Callback for Converged {
    fn on_step_end(&mut self, _view: &View<'_>, step: &StepEnd) -> Result<Control, RunError> {
        if let (Some(loss), true) = (step.loss, step.fresh) {
            self.last = [Some(loss), self.last[0]];
        }
        Ok(Control::Continue)
    }

    fn on_epoch_end(&mut self, _view: &View<'_>, stats: &EpochStats) -> Result<Control, RunError> {
        let [Some(a), Some(b)] = self.last else {
            return Ok(Control::Continue);
        };
        let change = (a - b).abs();
        Ok(if change < self.eps {
            Control::Stop(format!(
                "converged after epoch {}: the last two step losses differ by {change:.3e} < {:e}",
                stats.epoch, self.eps
            ))
        } else {
            Control::Continue
        })
    }

    fn state_dict(&self) -> Option<serde_json::Value> {
        serde_json::to_value(self.last).ok()
    }

    fn load_state_dict(&mut self, state: serde_json::Value) -> Result<(), RunError> {
        self.last = serde_json::from_value(state)
            .map_err(|e| RunError::RunDir(format!("the convergence state: {e}")))?;
        Ok(())
    }
}

/// Stops the run after the current step once `flag` is set (by a Ctrl-C handler, say);
/// the trainer checkpoints there, so the run can resume at the next batch.
pub struct StopOn {
    flag: Arc<AtomicBool>,
}

impl StopOn {
    /// Watches `flag`.
    pub fn flag(flag: Arc<AtomicBool>) -> Self {
        Self { flag }
    }
}

/// The reason a [`StopOn`] gives.
pub const INTERRUPTED: &str = "interrupted";

impl Callback for StopOn {
    fn on_step_end(&mut self, _view: &View<'_>, _step: &StepEnd) -> Result<Control, RunError> {
        Ok(if self.flag.load(Ordering::SeqCst) {
            Control::Stop(INTERRUPTED.into())
        } else {
            Control::Continue
        })
    }
}
