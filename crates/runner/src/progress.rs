//! [`ProgressLog`]: what `wick run` shows while it trains — a progress bar per epoch
//! (or, without a terminal, a plain line every few seconds), the course's
//! `[epoch, batch] loss: x.xxx` lines, the epoch's line and `test()`'s.

use crate::error::RunError;
use crate::fit::{Callback, Control, EpochStats, Eval, StepEnd, View};
use crate::logging;
use indicatif::ProgressBar;
use std::time::Instant;

/// Seconds between plain progress lines when there is no progress bar.
const PLAIN_PROGRESS_SECS: f64 = 10.0;
/// Share of an epoch spent waiting for data above which the run is called input-bound.
const INPUT_BOUND: f64 = 0.3;
/// The bar's loss is refreshed every this many batches.
const BAR_EVERY: usize = 20;

/// The progress and log lines of a run (see the module doc).
pub(crate) struct ProgressLog {
    show_bar: bool,
    bar: ProgressBar,
    t0: Instant,
    last_line: Instant,
    /// The batch the pass started at (not 0 when resumed mid-epoch).
    start: usize,
}

impl ProgressLog {
    /// With progress bars (on a terminal) or plain lines.
    pub(crate) fn new(show_bar: bool) -> Self {
        Self {
            show_bar,
            bar: ProgressBar::hidden(),
            t0: Instant::now(),
            last_line: Instant::now(),
            start: 0,
        }
    }

    /// No progress bar (output to a file or CI): a plain line now and then.
    fn plain_line(&mut self, view: &View<'_>, s: &StepEnd) {
        self.last_line = Instant::now();
        let total = view.batches;
        let done = s.batch - self.start;
        let elapsed = self.t0.elapsed().as_secs_f64();
        let left = total.saturating_sub(s.batch);
        tracing::info!(
            "epoch {}: {}/{total} batches, loss {:.3}, eta {:.0} s",
            s.epoch,
            s.batch,
            s.loss.unwrap_or(f64::NAN),
            elapsed / done.max(1) as f64 * left as f64
        );
    }
}

impl Drop for ProgressLog {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl Callback for ProgressLog {
    fn on_epoch_start(&mut self, view: &View<'_>) -> Result<(), RunError> {
        self.bar = logging::progress_bar(view.batches as u64, self.show_bar);
        self.bar
            .set_prefix(format!("epoch {}/{}", view.state.epoch, view.epochs));
        self.bar.set_position(view.state.batch as u64);
        self.t0 = Instant::now();
        self.last_line = Instant::now();
        self.start = view.state.batch;
        Ok(())
    }

    fn on_step_end(&mut self, view: &View<'_>, s: &StepEnd) -> Result<Control, RunError> {
        self.bar.inc(1);
        if (s.batch - 1).is_multiple_of(BAR_EVERY) {
            self.bar
                .set_message(format!("loss {:.3}", s.loss.unwrap_or(f64::NAN)));
        }
        if !self.show_bar && self.last_line.elapsed().as_secs_f64() >= PLAIN_PROGRESS_SECS {
            self.plain_line(view, s);
        }
        if let Some(mean) = s.running_loss {
            tracing::info!(
                epoch = s.epoch,
                batch = s.batch,
                loss = mean,
                "[{}, {:5}] loss: {:.3}",
                s.epoch,
                s.batch,
                mean
            );
        }
        Ok(Control::Continue)
    }

    fn on_train_epoch_end(&mut self, _view: &View<'_>, stats: &EpochStats) -> Result<(), RunError> {
        self.bar.finish_and_clear();
        let (epoch, seconds) = (stats.epoch, stats.seconds);
        let waiting = stats.data_seconds / seconds.max(1e-9);
        if waiting > INPUT_BOUND && seconds > 1.0 {
            tracing::warn!(
                "epoch {epoch} is input-bound: {:.0} % of its {seconds:.1} s went to waiting for data (raise data.train.num_workers)",
                100.0 * waiting
            );
        }
        tracing::info!(
            epoch,
            train_loss = stats.train_loss,
            seconds,
            data_seconds = stats.data_seconds,
            samples_per_sec = stats.samples_per_sec,
            "epoch {epoch}: train loss {:.4}{}, {:.1} s ({:.1} s waiting for data), {:.0} samples/s{}",
            stats.train_loss,
            stats
                .train_acc
                .map(|a| format!(", accuracy {:.2} %", 100.0 * a))
                .unwrap_or_default(),
            seconds,
            stats.data_seconds,
            stats.samples_per_sec,
            stats
                .cpu_seconds
                .map(|c| format!(", {:.1} cores busy", c / seconds.max(1e-9)))
                .unwrap_or_default()
        );
        Ok(())
    }

    fn on_test_end(
        &mut self,
        _view: &View<'_>,
        ev: &Eval,
        stats: &mut EpochStats,
    ) -> Result<(), RunError> {
        for (k, v) in &stats.extra {
            tracing::info!(metric = %k, value = v, "{k}: {v:.4}");
        }
        log_eval(ev, stats.epoch);
        Ok(())
    }
}

/// The course's test line: accuracy (classification) or the regression errors.
fn log_eval(ev: &Eval, epoch: usize) {
    if ev.has_accuracy {
        let acc = ev.accuracy();
        tracing::info!(
            epoch,
            test_loss = ev.loss,
            test_acc = acc,
            "Accuracy on test set: {:.2} % ({}/{}), test loss {:.4}",
            100.0 * acc,
            ev.hits,
            ev.counted,
            ev.loss
        );
    } else {
        let m = |k: &str| ev.extra.get(k).copied().unwrap_or(f64::NAN);
        tracing::info!(
            epoch,
            test_loss = ev.loss,
            "Test loss {:.4}: MAE {:.4}, MSE {:.4}, R² {:.4} ({} samples)",
            ev.loss,
            m("mae"),
            m("mse"),
            m("r2"),
            ev.total
        );
    }
}
