//! [`TensorBoard`]: the callback that writes a run's event files, point for point what
//! `RunRecord` writes to `metrics.csv` (the tags are in the module doc of
//! `tensorboard`).

use super::event::{self, What};
use super::hparams::{self, HValue, Status};
use super::image;
use super::writer::{now, EventWriter};
use crate::error::RunError;
use crate::fit::{Callback, Control, EpochStats, Snapshot, StepEnd, View};
use std::io;
use std::path::PathBuf;
use wick_data::Batch;

/// Where the run stands for the hparams plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Session {
    /// No session record written (no hyperparameters, or not started).
    None,
    /// The start is written, the end is not.
    Started,
    /// The fit ended (its end written, unless it was interrupted to be resumed).
    Ended,
}

/// Writes the run directory's TensorBoard event file (see the module doc of
/// `tensorboard`). A write that fails is a warning, said once until writes work again;
/// the run goes on.
pub(crate) struct TensorBoard {
    dir: PathBuf,
    /// The resolved config (TOML).
    config: String,
    /// metrics.csv's columns after the fixed ones (`test_top5_acc`, ...).
    extra: Vec<String>,
    /// The run's `--set` overrides as hyperparameters.
    hparams: Vec<(String, HValue)>,
    writer: Option<EventWriter>,
    /// The last write failed (warned once).
    failing: bool,
    /// The first batch was looked at.
    image_done: bool,
    session: Session,
    /// The newest optimizer step seen.
    step: u64,
}

impl TensorBoard {
    /// Writes into `dir` for a run of `config` (resolved TOML) whose metrics.csv has
    /// the columns `extra` after the fixed ones, made with the `--set` `overrides`.
    pub(crate) fn new(
        dir: PathBuf,
        config: String,
        extra: Vec<String>,
        overrides: &[String],
    ) -> Self {
        Self {
            dir,
            config,
            extra,
            hparams: hparams::from_overrides(overrides),
            writer: None,
            failing: false,
            image_done: false,
            session: Session::None,
            step: 0,
        }
    }

    /// A write's outcome: an error is warned of once, until writes work again.
    fn ok(&mut self, result: io::Result<()>) {
        match result {
            Ok(()) => self.failing = false,
            Err(e) if !self.failing => {
                self.failing = true;
                let file = self.writer.as_ref().map(|w| w.path().display().to_string());
                let file = file.unwrap_or_else(|| self.dir.display().to_string());
                tracing::warn!("{file}: {e}; training goes on without its TensorBoard events");
            }
            Err(_) => {}
        }
    }

    /// Appends an event at `step` (nothing when the file could not be created).
    fn write(&mut self, step: u64, what: &What) {
        if let Some(w) = &mut self.writer {
            let r = w.write(step, what);
            self.ok(r);
        }
    }

    fn summary(&mut self, step: u64, values: Vec<event::Value>) {
        self.write(step, &What::Summary(values));
    }

    /// Hands the buffered events to the file.
    fn flush(&mut self) {
        if let Some(w) = &mut self.writer {
            let r = w.flush();
            self.ok(r);
        }
    }

    /// The hparams plugin's end of the session.
    fn end_session(&mut self, status: Status) {
        let content = hparams::session_end(status, now());
        let step = self.step;
        self.summary(
            step,
            vec![hparams::value(hparams::SESSION_END_TAG, content)],
        );
    }

    /// The grid of the run's first batch, at step 0.
    fn first_batch(&mut self, batch: &Batch) {
        let grid = match image::of_batch(&batch.input) {
            Ok(Some(g)) => g,
            Ok(None) => return,
            Err(e) => return tracing::warn!("the first batch as an image: {e}"),
        };
        match image::png(&grid) {
            Ok(png) => {
                let size = (grid.width as u32, grid.height as u32);
                self.summary(0, vec![event::image("images", size, 3, png)]);
            }
            Err(e) => tracing::warn!("the first batch as a PNG: {e}"),
        }
    }
}

/// Scalars tagged `<prefix>/<column>`.
fn scalars(prefix: &str, columns: &[(&str, f64)]) -> Vec<event::Value> {
    columns
        .iter()
        .map(|(c, v)| event::scalar(&format!("{prefix}/{c}"), *v))
        .collect()
}

/// The numbers of metrics.csv's `epoch` row of `stats`, by column: the fixed columns
/// that have a value, then those of `extra` that do.
fn epoch_columns<'a>(stats: &'a EpochStats, extra: &'a [String]) -> Vec<(&'a str, f64)> {
    let fixed = [
        ("train_loss", Some(stats.train_loss)),
        ("train_acc", stats.train_acc),
        ("test_loss", stats.test_loss),
        ("test_acc", stats.test_acc),
        ("lr", stats.lr),
        ("seconds", Some(stats.seconds)),
        ("samples_per_sec", Some(stats.samples_per_sec)),
    ];
    let extra = extra
        .iter()
        .filter_map(|c| Some((c.as_str(), *stats.extra.get(c)?)));
    fixed
        .into_iter()
        .filter_map(|(c, v)| Some((c, v?)))
        .chain(extra)
        .collect()
}

/// The resolved config as the text plugin shows it: a fenced TOML block.
fn config_markdown(config: &str) -> String {
    format!("```toml\n{}\n```", config.trim_end())
}

impl Callback for TensorBoard {
    fn name(&self) -> String {
        "tensorboard".into()
    }

    /// Opens a new event file. A resumed run (at step `s` of its checkpoint) marks a
    /// restart at `s + 1`, so that TensorBoard drops what the interrupted run wrote
    /// after its checkpoint; the config (and the hyperparameters) are written at the
    /// start step.
    fn on_fit_start(&mut self, view: &View<'_>) -> Result<(), RunError> {
        self.step = view.step();
        let start = if self.step == 0 { 0 } else { self.step + 1 };
        match EventWriter::create(&self.dir) {
            Ok(w) => self.writer = Some(w),
            Err(e) => self.ok(Err(e)),
        }
        self.write(start, &What::SessionStart);
        let text = event::text("config", &config_markdown(&self.config));
        self.summary(start, vec![text]);
        if !self.hparams.is_empty() {
            let content = hparams::session_start(&self.hparams, now());
            let start_info = hparams::value(hparams::SESSION_START_TAG, content);
            self.summary(start, vec![start_info]);
            self.session = Session::Started;
        }
        self.flush();
        Ok(())
    }

    fn on_train_batch_start(&mut self, view: &View<'_>, batch: &Batch) -> Result<(), RunError> {
        if !self.image_done {
            self.image_done = true;
            if view.step() == 0 && self.writer.is_some() {
                self.first_batch(batch);
                self.flush();
            }
        }
        Ok(())
    }

    fn on_step_end(&mut self, view: &View<'_>, s: &StepEnd) -> Result<Control, RunError> {
        self.step = s.step;
        if let Some(mean) = s.running_loss {
            let values = scalars("step", &[("train_loss", mean), ("lr", view.lr())]);
            self.summary(s.step, values);
            self.flush();
        }
        Ok(Control::Continue)
    }

    fn on_epoch_end(&mut self, view: &View<'_>, stats: &EpochStats) -> Result<Control, RunError> {
        self.step = view.step();
        let values = scalars("epoch", &epoch_columns(stats, &self.extra));
        self.summary(self.step, values);
        self.flush();
        Ok(Control::Continue)
    }

    fn on_checkpoint(&mut self, _view: &View<'_>, _snapshot: &Snapshot) -> Result<(), RunError> {
        // what the checkpoint covers is on disk before a resume can start from it
        self.flush();
        Ok(())
    }

    /// Ends the hparams session as a success when the run finished (its epochs, or
    /// stopped early); a run interrupted mid-epoch is left open for its resume.
    fn on_fit_end(&mut self, view: &View<'_>) -> Result<(), RunError> {
        self.step = view.step();
        if self.session == Session::Started && view.state.finished {
            self.end_session(Status::Success);
        }
        self.session = Session::Ended;
        self.flush();
        Ok(())
    }
}

impl Drop for TensorBoard {
    /// A fit that ended in an error (a diverged loss) never reached `on_fit_end`: its
    /// session ends as a failure.
    fn drop(&mut self) {
        if self.session == Session::Started {
            self.end_session(Status::Failure);
            self.flush();
        }
    }
}
