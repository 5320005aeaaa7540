//! The trainer as a [`Snapshot`] (weights, optimizer and scheduler state, where the loop
//! stands, the callbacks' states) and back: what checkpoints hold and resume restores.

use super::callback::{Callback, Snapshot};
use super::Trainer;
use crate::checkpoint::{self, Checkpoint};
use crate::error::RunError;
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::Path;
use wick_nn::Layer;

/// Scheduler entries in a checkpoint's `state.safetensors`, beside the optimizer's.
const SCHEDULER_PREFIX: &str = "scheduler.";

impl<M: Layer> Trainer<M> {
    /// The whole trainer now, in memory: copies, so a snapshot kept for later does not
    /// follow the in-place updates of the steps after it.
    pub fn snapshot(&self) -> Result<Snapshot, RunError> {
        self.snapshot_with(&self.callbacks)
    }

    /// [`Trainer::snapshot`] with the states of `callbacks` (taken out of the trainer
    /// while they run).
    pub(super) fn snapshot_with(
        &self,
        callbacks: &[Box<dyn Callback>],
    ) -> Result<Snapshot, RunError> {
        let mut optimizer = self.optimizer.state_dict()?;
        if let Some(s) = &self.scheduler {
            optimizer.extend(
                s.state_dict()
                    .into_iter()
                    .map(|(k, t)| (format!("{SCHEDULER_PREFIX}{k}"), t)),
            );
        }
        let mut state = self.state.clone();
        state.rng_counters = self.model.rng_counters();
        state.callbacks = callbacks
            .iter()
            .filter_map(|cb| cb.state_dict().map(|v| (cb.name(), v)))
            .collect();
        let model = self
            .model
            .state_dict()
            .into_iter()
            .map(|(k, t)| t.detach().copy().map(|t| (k, t)))
            .collect::<candle_core::Result<_>>()?;
        Ok(Checkpoint {
            model,
            optimizer,
            state,
        })
    }

    /// Restores a snapshot read from the checkpoint folder `origin` (named in errors):
    /// the callbacks' states first (a callback may refuse a checkpoint that is not its
    /// run's), then weights, optimizer, scheduler, random streams and the loop's state.
    pub fn restore(&mut self, snapshot: Snapshot, origin: &Path) -> Result<(), RunError> {
        let at = |e: &dyn std::fmt::Display| RunError::RunDir(format!("{}: {e}", origin.display()));
        for cb in &mut self.callbacks {
            if let Some(v) = snapshot.state.callbacks.get(&cb.name()) {
                cb.load_state_dict(v.clone()).map_err(|e| at(&e))?;
            }
        }
        let weights: HashMap<String, Tensor> = snapshot.model.into_iter().collect();
        wick_nn::load_state_dict(&self.model, &weights).map_err(|e| {
            RunError::RunDir(format!(
                "{}: {e}",
                origin.join(checkpoint::MODEL_FILE).display()
            ))
        })?;
        let (sched, optim): (Vec<_>, Vec<_>) = snapshot
            .optimizer
            .into_iter()
            .partition(|(k, _)| k.starts_with(SCHEDULER_PREFIX));
        self.optimizer.load_state_dict(&optim)?;
        if let Some(s) = &mut self.scheduler {
            let sched: Vec<(String, Tensor)> = sched
                .into_iter()
                .map(|(k, t)| (k[SCHEDULER_PREFIX.len()..].to_string(), t))
                .collect();
            s.load_state_dict(&sched)?;
        }
        wick_nn::set_rng_counters(&self.model, &snapshot.state.rng_counters).map_err(|e| at(&e))?;
        self.state = snapshot.state;
        Ok(())
    }

    /// Continues from the checkpoint folder `dir` (as [`Checkpoints`](super::Checkpoints)
    /// writes them), its tensors loaded onto `device`.
    pub fn resume_from(&mut self, dir: &Path, device: &Device) -> Result<(), RunError> {
        let snapshot: Snapshot = checkpoint::load(dir, device)?;
        self.restore(snapshot, dir)
    }
}
