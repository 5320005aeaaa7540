//! Watching a metric across epochs: which epoch is `best`, and early stopping
//! (as Lightning's `ModelCheckpoint(monitor=...)` and `EarlyStopping`).

use serde::{Deserialize, Serialize};

/// Whether smaller or larger values are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Smaller is better (losses, errors).
    Min,
    /// Larger is better (accuracies, R²).
    Max,
}

impl Mode {
    /// The natural direction of a metric: `min` for losses and errors, `max` otherwise.
    pub fn for_metric(metric: &str) -> Self {
        if ["loss", "mae", "mse", "rmse", "error"]
            .iter()
            .any(|w| metric.contains(w))
        {
            Self::Min
        } else {
            Self::Max
        }
    }
}

/// `[train.early_stopping]`: stop when `monitor` has not improved by more than
/// `min_delta` for `patience` epochs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStoppingConfig {
    /// The metric watched (default `test_loss`).
    #[serde(default = "test_loss")]
    pub monitor: String,
    /// Epochs without improvement before stopping (default 3).
    #[serde(default = "three")]
    pub patience: usize,
    /// The smallest change that counts as an improvement (default 0).
    #[serde(default)]
    pub min_delta: f64,
    /// `min` or `max` (default: from the metric's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
}

fn test_loss() -> String {
    "test_loss".into()
}
fn three() -> usize {
    3
}

/// `[train.converged]`: stop at an epoch's end when the last two step losses differ by
/// less than `eps` (the course's `if abs(loss_lst[-1] - loss_lst[-2]) < eps: break`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvergedConfig {
    /// The change below which the loss counts as settled (the course's `eps = 1e-5`).
    pub eps: f64,
}

/// A watched metric's best value so far and how many epochs it has not improved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    /// The metric.
    pub metric: String,
    /// Its direction.
    pub mode: Mode,
    /// The smallest change that counts as an improvement.
    pub min_delta: f64,
    /// The best value and its 1-based epoch.
    pub best: Option<(f64, usize)>,
    /// Epochs since the last improvement.
    pub bad_epochs: usize,
}

impl Monitor {
    /// Watches `metric`.
    pub fn new(metric: &str, mode: Option<Mode>, min_delta: f64) -> Self {
        Self {
            metric: metric.to_string(),
            mode: mode.unwrap_or_else(|| Mode::for_metric(metric)),
            min_delta: min_delta.abs(),
            best: None,
            bad_epochs: 0,
        }
    }

    /// Records an epoch's value; true when it is a new best. NaN never improves.
    pub fn update(&mut self, value: f64, epoch: usize) -> bool {
        let improved = match self.best {
            _ if value.is_nan() => false,
            None => true,
            Some((b, _)) => match self.mode {
                Mode::Min => value < b - self.min_delta,
                Mode::Max => value > b + self.min_delta,
            },
        };
        if improved {
            self.best = Some((value, epoch));
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        improved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_from_the_name() {
        assert_eq!(Mode::for_metric("test_loss"), Mode::Min);
        assert_eq!(Mode::for_metric("test_acc"), Mode::Max);
        assert_eq!(Mode::for_metric("test_mae"), Mode::Min);
        assert_eq!(Mode::for_metric("test_r2"), Mode::Max);
    }

    #[test]
    fn patience_counts_epochs_without_improvement() {
        let mut m = Monitor::new("test_loss", None, 0.1);
        assert!(m.update(1.0, 1));
        assert!(!m.update(0.95, 2)); // within min_delta
        assert!(m.update(0.85, 3));
        assert!(!m.update(f64::NAN, 4));
        assert!(!m.update(0.9, 5));
        assert_eq!(m.bad_epochs, 2);
        assert_eq!(m.best, Some((0.85, 3)));
        let mut m = Monitor::new("test_acc", None, 0.0);
        m.update(0.5, 1);
        assert!(m.update(0.6, 2));
        assert!(!m.update(0.6, 3));
    }
}
