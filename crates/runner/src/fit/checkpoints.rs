//! [`Checkpoints`]: Lightning's `ModelCheckpoint` — checkpoint folders of the whole
//! trainer, `last` always pointing at the newest, `best` at the best epoch so far.

use super::callback::{Callback, Snapshot, View};
use super::stats::EpochStats;
use super::Control;
use crate::checkpoint;
use crate::error::RunError;
use crate::monitor::{Mode, Monitor};
use std::path::PathBuf;
use std::time::Instant;

/// Writes checkpoint folders (the model's `state_dict` under PyTorch's names, the
/// optimizer's and scheduler's state, and the loop's, in safetensors) under a
/// directory, with links `last` (the newest) and `best` (when a metric is watched):
///
/// - at an epoch's end: `epoch-NNNN` every `every_n_epochs` epochs (kept), else a
///   `step-NNNNNNNNN` folder that the next one replaces, written at most once per
///   `min_interval` seconds (short epochs would spend their time in `fsync`), and
///   always after the last epoch. A new `best` not written at once is kept in memory
///   until the next write;
/// - mid-epoch: every `every_n_steps` optimizer steps, and when the run is stopped
///   (Ctrl-C), so that `Trainer::resume_from` continues at the next batch.
pub struct Checkpoints {
    dir: PathBuf,
    every_n_epochs: usize,
    every_n_steps: u64,
    min_interval: f64,
    keep_last: usize,
    best: Option<Monitor>,
    last_save: Instant,
    /// At this epoch's end: the best improved / a write is due.
    improved: bool,
    due: bool,
    /// A `best` checkpoint not written yet: its folder name and contents.
    pending_best: Option<(String, Snapshot)>,
}

impl Checkpoints {
    /// `last` at every epoch's end (at most one write a second, and the final one).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            every_n_epochs: 0,
            every_n_steps: 0,
            min_interval: 1.0,
            keep_last: 2,
            best: None,
            last_save: Instant::now(),
            improved: false,
            due: false,
            pending_best: None,
        }
    }

    /// A kept `epoch-NNNN` folder after every epoch, in `dir`.
    pub fn every_epoch(dir: impl Into<PathBuf>) -> Self {
        Self::every_n_epochs(dir, 1)
    }

    /// A kept `epoch-NNNN` folder after every `n`-th epoch (`n` = 0: none kept), in
    /// `dir`.
    pub fn every_n_epochs(dir: impl Into<PathBuf>, n: usize) -> Self {
        let mut c = Self::new(dir);
        c.every_n_epochs = n;
        c
    }

    /// Also a mid-epoch `last` every `n` optimizer steps (0: never).
    pub fn every_n_steps(mut self, n: u64) -> Self {
        self.every_n_steps = n;
        self
    }

    /// Least seconds between two epoch-end writes that are not kept folders.
    pub fn min_interval(mut self, seconds: f64) -> Self {
        self.min_interval = seconds;
        self
    }

    /// How many of the newest `step-*` folders are kept (default 2, at least 1): a
    /// damaged `last` then leaves a whole checkpoint before it.
    pub fn keep_last(mut self, n: usize) -> Self {
        self.keep_last = n.max(1);
        self
    }

    /// Points `best` at the epoch where `metric` was best (`mode`: its natural
    /// direction when `None`, `min` for losses and errors).
    pub fn best(mut self, metric: &str, mode: Option<Mode>) -> Self {
        self.best = Some(Monitor::new(metric, mode, 0.0));
        self
    }

    /// The best value of the watched metric so far and its epoch.
    pub fn best_so_far(&self) -> Option<(&str, f64, usize)> {
        let m = self.best.as_ref()?;
        m.best.map(|(v, e)| (m.metric.as_str(), v, e))
    }

    fn write(&mut self, id: &str, snapshot: &Snapshot, links: &[&str]) -> Result<(), RunError> {
        if let Some((pid, p)) = self.pending_best.take() {
            checkpoint::save(&self.dir, &pid, &p, &["best"], self.keep_last)?;
        }
        checkpoint::save(&self.dir, id, snapshot, links, self.keep_last)?;
        tracing::debug!(
            step = snapshot.state.step,
            "checkpoint {id} ({})",
            links.join(", ")
        );
        self.last_save = Instant::now();
        Ok(())
    }

    /// The folder name for an epoch-end checkpoint, and whether it is kept.
    fn epoch_end_id(&self, view: &View<'_>) -> (String, bool) {
        let epoch = view.history().last().map_or(0, |e| e.epoch);
        if self.every_n_epochs > 0 && epoch.is_multiple_of(self.every_n_epochs) {
            (format!("epoch-{epoch:04}"), true)
        } else {
            (format!("step-{:09}", view.step()), false)
        }
    }
}

impl Callback for Checkpoints {
    fn on_epoch_end(&mut self, _view: &View<'_>, stats: &EpochStats) -> Result<Control, RunError> {
        self.improved = match &mut self.best {
            Some(m) => match stats.metric(&m.metric) {
                Some(v) => m.update(v, stats.epoch),
                None => false,
            },
            None => false,
        };
        Ok(Control::Continue)
    }

    fn wants_checkpoint(&mut self, view: &View<'_>) -> bool {
        if view.state.batch > 0 {
            // not after an epoch's last batch: the epoch's end is taken next, under the
            // same `step-N` name, and it holds the epoch's results
            let epoch_ends = view.state.batch >= view.batches;
            return self.every_n_steps > 0
                && view.step().is_multiple_of(self.every_n_steps)
                && !epoch_ends;
        }
        let (_, kept) = self.epoch_end_id(view);
        self.due = kept
            || view.state.finished
            || self.last_save.elapsed().as_secs_f64() >= self.min_interval;
        self.due || self.improved
    }

    fn on_checkpoint(&mut self, view: &View<'_>, snapshot: &Snapshot) -> Result<(), RunError> {
        if view.state.batch > 0 {
            return self.write(&format!("step-{:09}", view.step()), snapshot, &["last"]);
        }
        let (id, _) = self.epoch_end_id(view);
        let improved = std::mem::take(&mut self.improved);
        if improved && !self.due {
            self.pending_best = Some((id, snapshot.clone()));
            return Ok(());
        }
        let links: &[&str] = if improved {
            &["last", "best"]
        } else {
            &["last"]
        };
        self.write(&id, snapshot, links)
    }

    fn state_dict(&self) -> Option<serde_json::Value> {
        self.best
            .as_ref()
            .and_then(|m| serde_json::to_value(m).ok())
    }

    fn load_state_dict(&mut self, state: serde_json::Value) -> Result<(), RunError> {
        if self.best.is_some() {
            let m: Monitor = serde_json::from_value(state)
                .map_err(|e| RunError::RunDir(format!("the best-checkpoint state: {e}")))?;
            self.best = Some(m);
        }
        Ok(())
    }
}
