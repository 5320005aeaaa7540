//! [`Callback`]: an observer of the loop (Lightning's `Callback`), and what it sees.
//!
//! The loop calls, in order: `on_fit_start`; per epoch `on_epoch_start`, per step
//! `on_train_batch_start` and `on_step_end`, then `on_train_epoch_end`, `on_test_end`
//! (when there is a test loader), `on_epoch_end`; at the end `on_fit_end`. After a
//! step or an epoch every callback is asked [`Callback::wants_checkpoint`]; when one
//! does (or the run stops mid-epoch) the trainer takes one [`Snapshot`] — weights,
//! optimizer and scheduler state, [`TrainerState`] and every callback's
//! [`Callback::state_dict`] — and hands it to every [`Callback::on_checkpoint`]. A
//! callback's state comes back through [`Callback::load_state_dict`] when a run
//! resumes, so a resumed run's callbacks continue where they were (early stopping's
//! patience, the best value so far).

use super::stats::{EpochStats, Eval, TrainerState};
use crate::checkpoint::Checkpoint;
use crate::error::RunError;
use wick_data::Batch;
use wick_nn::Layer;
use wick_optim::{Optimizer, Scheduler};

/// A checkpoint of the whole trainer, in memory.
pub type Snapshot = Checkpoint<TrainerState>;

/// Whether the run goes on after a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop, for this reason: after this step (from `on_step_end`, the run then ends
    /// mid-epoch, checkpointed) or after this epoch (from `on_epoch_end`; ignored after
    /// the last epoch).
    Stop(String),
}

/// What a callback can see of the trainer.
pub struct View<'a> {
    /// The model.
    pub model: &'a dyn Layer,
    /// The optimizer.
    pub optimizer: &'a dyn Optimizer,
    /// The scheduler, if any.
    pub scheduler: Option<&'a dyn Scheduler>,
    /// Where the loop stands: epoch, batch, step, every finished epoch.
    pub state: &'a TrainerState,
    /// Epochs the run trains for.
    pub epochs: usize,
    /// Batches in an epoch of the training loader.
    pub batches: usize,
}

impl View<'_> {
    /// Optimizer steps so far.
    pub fn step(&self) -> u64 {
        self.state.step
    }

    /// Every finished epoch.
    pub fn history(&self) -> &[EpochStats] {
        &self.state.history
    }

    /// The learning rate of the first parameter group now.
    pub fn lr(&self) -> f64 {
        self.optimizer.lr(0)
    }
}

/// One optimizer step, as `on_step_end` sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepEnd {
    /// 1-based epoch.
    pub epoch: usize,
    /// 1-based batch of the epoch.
    pub batch: usize,
    /// 1-based optimizer step of the run.
    pub step: u64,
    /// The newest loss read back: this step's on the CPU; on a GPU, where losses stay
    /// on the device between read-backs, the last one read (`None` before any).
    pub loss: Option<f64>,
    /// Whether `loss` was read back at this step (always on the CPU; on a GPU only at
    /// the read-backs), so that a callback comparing successive losses skips stale ones.
    pub fresh: bool,
    /// At every `log_every_n_steps`-th batch: the mean loss over those batches (the
    /// course's `[epoch, batch] loss: x.xxx` line).
    pub running_loss: Option<f64>,
}

/// An observer of the loop (see the module doc). Every method has a default that does
/// nothing.
pub trait Callback {
    /// The key of this callback's state in a checkpoint (its type's name by default);
    /// two callbacks with state in one trainer need two names.
    fn name(&self) -> String {
        let full = std::any::type_name::<Self>();
        let base = full.split('<').next().unwrap_or(full);
        base.rsplit("::").next().unwrap_or(base).to_string()
    }
    /// Before the first step (or the first step after a resume).
    fn on_fit_start(&mut self, view: &View<'_>) -> Result<(), RunError> {
        let _ = view;
        Ok(())
    }
    /// Before an epoch's first batch (or the first batch left after a resume).
    fn on_epoch_start(&mut self, view: &View<'_>) -> Result<(), RunError> {
        let _ = view;
        Ok(())
    }
    /// Before an optimizer step, with its batch as the model gets it (transformed,
    /// collated, on the model's device); `view.state.batch` is the batches of the epoch
    /// done before it.
    fn on_train_batch_start(&mut self, view: &View<'_>, batch: &Batch) -> Result<(), RunError> {
        let _ = (view, batch);
        Ok(())
    }
    /// After an optimizer step.
    fn on_step_end(&mut self, view: &View<'_>, step: &StepEnd) -> Result<Control, RunError> {
        let _ = (view, step);
        Ok(Control::Continue)
    }
    /// After an epoch's training pass, before `test()`: its training numbers.
    fn on_train_epoch_end(&mut self, view: &View<'_>, stats: &EpochStats) -> Result<(), RunError> {
        let _ = (view, stats);
        Ok(())
    }
    /// After `test()`, whose numbers are already in `stats`; a callback may add metrics
    /// of its own to `stats.extra` (per-class scores, say).
    fn on_test_end(
        &mut self,
        view: &View<'_>,
        eval: &Eval,
        stats: &mut EpochStats,
    ) -> Result<(), RunError> {
        let _ = (view, eval, stats);
        Ok(())
    }
    /// After the epoch's scheduler step, the epoch recorded in `view.history()`.
    fn on_epoch_end(&mut self, view: &View<'_>, stats: &EpochStats) -> Result<Control, RunError> {
        let _ = (view, stats);
        Ok(Control::Continue)
    }
    /// Whether a checkpoint should be taken now (after a step, or an epoch's end with
    /// `view.state.batch == 0`).
    fn wants_checkpoint(&mut self, view: &View<'_>) -> bool {
        let _ = view;
        false
    }
    /// A snapshot of the whole trainer, taken because a callback wanted one or the run
    /// stops mid-epoch.
    fn on_checkpoint(&mut self, view: &View<'_>, snapshot: &Snapshot) -> Result<(), RunError> {
        let _ = (view, snapshot);
        Ok(())
    }
    /// After the last epoch, or when the run stopped.
    fn on_fit_end(&mut self, view: &View<'_>) -> Result<(), RunError> {
        let _ = view;
        Ok(())
    }
    /// What a resumed run needs of this callback, as JSON (none by default).
    fn state_dict(&self) -> Option<serde_json::Value> {
        None
    }
    /// Restores what [`Callback::state_dict`] returned.
    fn load_state_dict(&mut self, state: serde_json::Value) -> Result<(), RunError> {
        let _ = state;
        Ok(())
    }
}
