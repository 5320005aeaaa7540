//! [`RunRecord`]: what `wick run` writes into the run directory as it trains — the
//! `step` and `epoch` rows of `metrics.csv`/`metrics.jsonl`, per-class scores and the
//! confusion matrix after `test()`, and the plots.

use crate::config_change;
use crate::error::RunError;
use crate::fit::{Callback, Control, EpochStats, Eval, StepEnd, View};
use crate::metrics::{MetricRow, MetricsConfig};
use crate::plots;
use crate::rundir::RunDir;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Least seconds between two redraws of the plots (always drawn at the end).
const PLOT_EVERY_SECS: f64 = 2.0;

/// What a resumed run needs of the record: the config it belongs to and the logged
/// steps the plots are drawn from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RecordState {
    config_md5: String,
    /// The resolved config itself (empty in checkpoints of earlier versions), so that a
    /// resume can name the keys that changed.
    #[serde(default)]
    config: String,
    /// `(step, running loss, lr)` of every logged step.
    steps: Vec<(u64, f64, f64)>,
}

/// The run directory's records (see the module doc).
pub(crate) struct RunRecord {
    dir: RunDir,
    classes: Vec<String>,
    metrics: MetricsConfig,
    state: RecordState,
    last_plot: Instant,
    /// The last metrics write failed (warned once).
    metrics_failing: bool,
}

impl RunRecord {
    /// Records into `dir`, for a run of `config` (resolved TOML) whose MD5 is
    /// `config_md5`.
    pub(crate) fn new(
        dir: RunDir,
        classes: Vec<String>,
        metrics: MetricsConfig,
        (config, config_md5): (String, String),
    ) -> Self {
        Self {
            dir,
            classes,
            metrics,
            state: RecordState {
                config_md5,
                config,
                steps: Vec::new(),
            },
            last_plot: Instant::now(),
            metrics_failing: false,
        }
    }

    /// Redraws `plots/*.png` from the history; a plot that fails is a warning.
    fn draw_plots(&mut self, history: &[EpochStats]) {
        self.last_plot = Instant::now();
        let dir = self.dir.path.join("plots");
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::warn!("cannot create {}: {e}", dir.display());
            return;
        }
        let epochs = |name: &str, f: &dyn Fn(&EpochStats) -> Option<f64>| plots::Series {
            name: name.to_string(),
            points: history
                .iter()
                .filter_map(|e| f(e).map(|v| (e.epoch as f64, v)))
                .collect(),
            band: Vec::new(),
        };
        let steps = |name: &str, f: &dyn Fn(&(u64, f64, f64)) -> f64| plots::Series {
            name: name.to_string(),
            points: self
                .state
                .steps
                .iter()
                .map(|s| (s.0 as f64, f(s)))
                .collect(),
            band: Vec::new(),
        };
        let charts = [
            ("loss.png", "loss", "epoch", "loss", {
                vec![
                    epochs("train", &|e| Some(e.train_loss)),
                    epochs("test", &|e| e.test_loss),
                ]
            }),
            ("accuracy.png", "accuracy", "epoch", "accuracy", {
                vec![
                    epochs("train", &|e| e.train_acc),
                    epochs("test", &|e| e.test_acc),
                ]
            }),
            (
                "train_loss_steps.png",
                "running training loss",
                "step",
                "loss",
                { vec![steps("train", &|s| s.1)] },
            ),
            ("lr.png", "learning rate", "step", "lr", {
                vec![steps("lr", &|s| s.2)]
            }),
        ];
        for (file, title, x, y, series) in charts {
            if let Err(e) = plots::line_chart(&dir.join(file), title, x, y, &series) {
                tracing::warn!("{e}");
            }
        }
    }

    /// Appends `row` to `metrics.csv` and `metrics.jsonl`. A write that fails (a full
    /// disk) is a warning, said once until writes work again, and training goes on: the
    /// checkpoints are what a resume needs, and a resume cuts these files back to its
    /// checkpoint.
    fn log(&mut self, row: &MetricRow) {
        match self.dir.log_metrics(row) {
            Ok(()) => self.metrics_failing = false,
            Err(e) if !self.metrics_failing => {
                self.metrics_failing = true;
                tracing::warn!("{e}; training goes on without its rows");
            }
            Err(_) => {}
        }
    }

    /// The confusion matrix as `confusion_matrix.csv` and `plots/confusion_matrix.png`.
    fn confusion_matrix(&self, matrix: &crate::metrics::ClassCounts) -> Result<(), RunError> {
        let csv = matrix.csv(&self.classes);
        if let Err(e) = self.dir.write_file("confusion_matrix.csv", csv.as_bytes()) {
            let at = self.dir.path.join("confusion_matrix.csv");
            tracing::warn!("{}: {e}", at.display());
        }
        let png = self.dir.path.join("plots").join("confusion_matrix.png");
        let _ = std::fs::create_dir_all(self.dir.path.join("plots"));
        if let Err(e) = plots::confusion_matrix(&png, &matrix.matrix, &self.classes) {
            tracing::warn!("{e}");
        }
        Ok(())
    }
}

impl Callback for RunRecord {
    fn name(&self) -> String {
        "run".into()
    }

    fn on_step_end(&mut self, view: &View<'_>, s: &StepEnd) -> Result<Control, RunError> {
        if let Some(mean) = s.running_loss {
            let row = MetricRow {
                kind: "step",
                epoch: s.epoch,
                step: s.step,
                batch: Some(s.batch),
                train_loss: Some(mean),
                lr: Some(view.lr()),
                ..Default::default()
            };
            self.log(&row);
            self.state.steps.push((s.step, mean, view.lr()));
        }
        Ok(Control::Continue)
    }

    fn on_test_end(
        &mut self,
        _view: &View<'_>,
        ev: &Eval,
        stats: &mut EpochStats,
    ) -> Result<(), RunError> {
        if let Some(counts) = &ev.counts {
            let mc = &self.metrics;
            stats
                .extra
                .extend(counts.metrics("test_", &self.classes, mc.per_class));
            if mc.confusion_matrix {
                self.confusion_matrix(counts)?;
            }
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, view: &View<'_>, stats: &EpochStats) -> Result<Control, RunError> {
        self.log(&MetricRow {
            kind: "epoch",
            epoch: stats.epoch,
            step: view.step(),
            train_loss: Some(stats.train_loss),
            train_acc: stats.train_acc,
            test_loss: stats.test_loss,
            test_acc: stats.test_acc,
            lr: stats.lr,
            seconds: Some(stats.seconds),
            samples_per_sec: Some(stats.samples_per_sec),
            busy_cores: stats.cpu_seconds.map(|c| c / stats.seconds.max(1e-9)),
            extra: stats.extra.clone(),
            ..Default::default()
        });
        if self.last_plot.elapsed().as_secs_f64() >= PLOT_EVERY_SECS {
            self.draw_plots(view.history());
        }
        Ok(Control::Continue)
    }

    fn on_fit_end(&mut self, view: &View<'_>) -> Result<(), RunError> {
        self.draw_plots(view.history());
        Ok(())
    }

    fn state_dict(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&self.state).ok()
    }

    fn load_state_dict(&mut self, state: serde_json::Value) -> Result<(), RunError> {
        let saved: RecordState = serde_json::from_value(state)
            .map_err(|e| RunError::RunDir(format!("the run's record: {e}")))?;
        if saved.config_md5 != self.state.config_md5 {
            if saved.config.is_empty() {
                return Err(RunError::RunDir(format!(
                    "the checkpoint was written for another config (MD5 {}, config.toml has {})",
                    saved.config_md5, self.state.config_md5
                )));
            }
            let changes = config_change::diff(&saved.config, &self.state.config)?;
            config_change::check(&changes)?;
            for c in &changes {
                tracing::info!("resuming with {c}");
            }
        }
        // the config is this run's (a resume may have changed what it may change)
        self.state.steps = saved.steps;
        Ok(())
    }
}
