//! The numbers of a run: one epoch's ([`EpochStats`]), `test()`'s ([`Eval`]), and where
//! the loop stands ([`TrainerState`], what a checkpoint stores besides the tensors).

use crate::task::Task;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One epoch's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's samples.
    pub train_loss: f64,
    /// Training accuracy in [0, 1] (none for regression).
    pub train_acc: Option<f64>,
    /// Mean test loss, when there is a test split.
    pub test_loss: Option<f64>,
    /// Test accuracy in [0, 1].
    pub test_acc: Option<f64>,
    /// The learning rate of the first parameter group during the epoch (before an
    /// epoch-end scheduler step).
    #[serde(default)]
    pub lr: Option<f64>,
    /// Seconds spent in the training pass.
    pub seconds: f64,
    /// Of those, seconds spent waiting for the loader's next batch.
    #[serde(default)]
    pub data_seconds: f64,
    /// Training samples per second.
    pub samples_per_sec: f64,
    /// CPU seconds (user + system, every thread of the process) the training pass used;
    /// over `seconds`, the average number of busy cores.
    #[serde(default)]
    pub cpu_seconds: Option<f64>,
    /// `[metrics]` and regression metrics by name (`test_top5_acc`, `test_mae`).
    #[serde(default)]
    pub extra: BTreeMap<String, f64>,
}

impl EpochStats {
    /// Records `test()`'s loss, accuracy and metrics (named `test_<name>`).
    pub fn record_test(&mut self, ev: &Eval) {
        self.test_loss = Some(ev.loss);
        self.test_acc = ev.has_accuracy.then(|| ev.accuracy());
        self.extra = ev
            .extra
            .iter()
            .map(|(k, v)| (format!("test_{k}"), *v))
            .collect();
    }

    /// A metric by its name (`train_loss`, `test_acc`, `test_top5_acc`, ...).
    pub fn metric(&self, name: &str) -> Option<f64> {
        match name {
            "train_loss" => Some(self.train_loss),
            "train_acc" => self.train_acc,
            "test_loss" => self.test_loss,
            "test_acc" => self.test_acc,
            _ => self.extra.get(name).copied(),
        }
    }
}

/// What `test()` measures.
#[derive(Debug, Clone, PartialEq)]
pub struct Eval {
    /// Mean per-sample loss.
    pub loss: f64,
    /// Correct predictions (samples; outputs for multi-label).
    pub hits: u64,
    /// Predictions scored.
    pub counted: usize,
    /// Samples seen.
    pub total: usize,
    /// Whether predictions have an accuracy (not for regression).
    pub has_accuracy: bool,
    /// The confusion matrix and top-k hits (classification).
    pub counts: Option<crate::metrics::ClassCounts>,
    /// Regression metrics (`mae`, `mse`, `r2`) and the `[metrics]` ones, unprefixed.
    pub extra: BTreeMap<String, f64>,
}

impl Eval {
    /// Accuracy in [0, 1].
    pub fn accuracy(&self) -> f64 {
        self.hits as f64 / self.counted.max(1) as f64
    }
}

/// Sums over the batches of the epoch in progress.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct EpochSums {
    /// Σ batch loss since the last running-loss line.
    pub running: f64,
    /// Σ per-sample loss.
    pub loss_sum: f64,
    pub hits: f64,
    /// Predictions scored (samples, or outputs for multi-label).
    #[serde(default)]
    pub counted: usize,
    pub seen: usize,
    /// Training seconds before the last checkpoint of a pass (a resumed pass adds its own).
    pub seconds: f64,
    pub data_seconds: f64,
    /// CPU seconds before the last checkpoint of a pass, as `seconds`.
    #[serde(default)]
    pub cpu_seconds: f64,
}

impl EpochSums {
    /// The epoch's training numbers from its sums, after `seconds` of training.
    pub fn stats(
        &self,
        epoch: usize,
        task: Task,
        seconds: f64,
        cpu_seconds: Option<f64>,
    ) -> EpochStats {
        EpochStats {
            epoch,
            train_loss: self.loss_sum / self.seen.max(1) as f64,
            train_acc: task
                .has_accuracy()
                .then(|| self.hits / self.counted.max(1) as f64),
            test_loss: None,
            test_acc: None,
            lr: None,
            seconds,
            data_seconds: self.data_seconds,
            samples_per_sec: self.seen as f64 / seconds.max(1e-9),
            cpu_seconds,
            extra: BTreeMap::new(),
        }
    }
}

/// Where the loop stands: what a checkpoint stores besides weights and optimizer state
/// (as JSON in the header of its `state.safetensors`), so that a resumed run continues
/// exactly, mid-epoch included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// The wick that wrote it.
    pub wick_version: String,
    /// The 1-based epoch in progress (or next to start when `batch == 0`).
    pub epoch: usize,
    /// Batches of `epoch` already trained.
    pub batch: usize,
    /// Optimizer steps so far.
    pub step: u64,
    #[serde(rename = "partial")]
    pub(crate) sums: EpochSums,
    /// Every finished epoch.
    pub history: Vec<EpochStats>,
    /// Dropout layers' mask counters (their random streams' positions).
    #[serde(default)]
    pub rng_counters: Vec<(String, u64)>,
    /// True once the run has ended (all epochs, or stopped at an epoch's end).
    pub finished: bool,
    /// The callbacks' own states, by [`Callback::name`](super::Callback::name).
    #[serde(default)]
    pub callbacks: BTreeMap<String, serde_json::Value>,
}

impl Default for TrainerState {
    fn default() -> Self {
        Self {
            wick_version: env!("CARGO_PKG_VERSION").to_string(),
            epoch: 1,
            batch: 0,
            step: 0,
            sums: EpochSums::default(),
            history: Vec::new(),
            rng_counters: Vec::new(),
            finished: false,
            callbacks: BTreeMap::new(),
        }
    }
}

/// The sum of per-sample losses in a batch, from the loss value: `mean × n`, or the
/// value itself with `reduction = "sum"`.
pub(crate) fn batch_total(loss: f64, n: usize, summed: bool) -> f64 {
    if summed {
        loss
    } else {
        loss * n as f64
    }
}
