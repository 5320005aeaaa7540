//! Metrics: what `[metrics]` asks for, accumulated over an evaluation pass, and the
//! rows written to `metrics.jsonl` and `metrics.csv`.
//!
//! ```toml
//! [metrics]
//! top_k = [5]               # test_top5_acc (torchmetrics Accuracy(top_k=5))
//! per_class = true          # test_acc_<class> for every class (jsonl only)
//! confusion_matrix = true   # confusion_matrix.csv and plots/confusion_matrix.png
//! collection = [{ type = "MeanAbsoluteError" }]   # test_mean_absolute_error (crate::metric)
//! ```
//! Classification runs always report loss and accuracy; regression runs (float
//! targets) report `mae`, `mse` and `r2` (torchmetrics' MeanAbsoluteError,
//! MeanSquaredError, R2Score, over all outputs).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[metrics]`: extra classification metrics for the test split.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Top-k accuracies to report (`test_top<k>_acc`), e.g. `[5]` (default none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_k: Vec<usize>,
    /// Per-class accuracy (recall) as `test_acc_<class>` (default false).
    #[serde(default)]
    pub per_class: bool,
    /// Write the confusion matrix each epoch (default false).
    #[serde(default)]
    pub confusion_matrix: bool,
    /// Metrics by class name, computed over the test split (torchmetrics'
    /// `MetricCollection`): `[{ type = "MeanAbsoluteError" }]`, a user's own included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collection: Vec<crate::metric::MetricConfig>,
}

/// Counts over a classification pass: the confusion matrix and top-k hits.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassCounts {
    /// `matrix[true][predicted]`.
    pub matrix: Vec<Vec<u64>>,
    /// `(k, hits)` for each requested k.
    pub top_k: Vec<(usize, u64)>,
}

impl ClassCounts {
    /// Empty counts for `classes` classes.
    pub fn new(classes: usize, top_k: &[usize]) -> Self {
        Self {
            matrix: vec![vec![0; classes]; classes],
            top_k: top_k.iter().map(|&k| (k, 0)).collect(),
        }
    }

    /// Adds a batch: `scores` row-major `[n, classes]`, `targets` class indices.
    /// Targets outside the classes (e.g. `ignore_index`) are not counted.
    pub fn update(&mut self, scores: &[f32], targets: &[u32]) {
        let c = self.matrix.len();
        if c == 0 {
            return;
        }
        for (row, &t) in scores.chunks_exact(c).zip(targets) {
            let t = t as usize;
            if t >= c {
                continue;
            }
            // argmax, first maximum on ties (as torch.argmax)
            let mut best = 0;
            for j in 1..c {
                if row[j] > row[best] {
                    best = j;
                }
            }
            self.matrix[t][best] += 1;
            for (k, hits) in &mut self.top_k {
                // the target is in the top k when fewer than k scores beat it
                let above = row
                    .iter()
                    .enumerate()
                    .filter(|&(j, &v)| v > row[t] || (v == row[t] && j < t))
                    .count();
                if above < *k {
                    *hits += 1;
                }
            }
        }
    }

    /// Samples counted.
    pub fn total(&self) -> u64 {
        self.matrix.iter().flatten().sum()
    }

    /// Correct predictions.
    pub fn hits(&self) -> u64 {
        (0..self.matrix.len()).map(|i| self.matrix[i][i]).sum()
    }

    /// The metrics, named with `prefix` (`test_`): `top<k>_acc` and, with `per_class`,
    /// `acc_<class>`.
    pub fn metrics(
        &self,
        prefix: &str,
        classes: &[String],
        per_class: bool,
    ) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        let total = self.total().max(1) as f64;
        for (k, hits) in &self.top_k {
            m.insert(format!("{prefix}top{k}_acc"), *hits as f64 / total);
        }
        if per_class {
            for (i, row) in self.matrix.iter().enumerate() {
                let n: u64 = row.iter().sum();
                let name = classes.get(i).cloned().unwrap_or_else(|| i.to_string());
                let v = if n > 0 {
                    row[i] as f64 / n as f64
                } else {
                    f64::NAN
                };
                m.insert(format!("{prefix}acc_{name}"), v);
            }
        }
        m
    }

    /// The matrix as CSV with class names.
    pub fn csv(&self, classes: &[String]) -> String {
        let name = |i: usize| classes.get(i).cloned().unwrap_or_else(|| i.to_string());
        let mut s = String::from("true\\predicted");
        for j in 0..self.matrix.len() {
            s.push(',');
            s.push_str(&name(j));
        }
        s.push('\n');
        for (i, row) in self.matrix.iter().enumerate() {
            s.push_str(&name(i));
            for v in row {
                s.push_str(&format!(",{v}"));
            }
            s.push('\n');
        }
        s
    }
}

/// Sums over a regression pass for MAE, MSE and R² (all outputs flattened).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegressionSums {
    n: u64,
    abs: f64,
    sq: f64,
    y: f64,
    y2: f64,
}

impl RegressionSums {
    /// Adds predictions and targets of the same length.
    pub fn update(&mut self, pred: &[f32], target: &[f32]) {
        for (&p, &t) in pred.iter().zip(target) {
            let (p, t) = (f64::from(p), f64::from(t));
            self.n += 1;
            self.abs += (p - t).abs();
            self.sq += (p - t) * (p - t);
            self.y += t;
            self.y2 += t * t;
        }
    }

    /// `mae`, `mse` and `r2` named with `prefix`. R² = 1 − SS_res / SS_tot (NaN when
    /// the targets are constant).
    pub fn metrics(&self, prefix: &str) -> BTreeMap<String, f64> {
        let n = self.n.max(1) as f64;
        let ss_tot = self.y2 - self.y * self.y / n;
        let mut m = BTreeMap::new();
        m.insert(format!("{prefix}mae"), self.abs / n);
        m.insert(format!("{prefix}mse"), self.sq / n);
        m.insert(
            format!("{prefix}r2"),
            if ss_tot > 0.0 {
                1.0 - self.sq / ss_tot
            } else {
                f64::NAN
            },
        );
        m
    }
}

/// One row: a logged training step (`kind = "step"`) or an epoch (`kind = "epoch"`).
/// Fields that do not apply are empty in the CSV and absent from the JSON.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MetricRow {
    /// `step` or `epoch`.
    pub kind: &'static str,
    /// 1-based epoch.
    pub epoch: usize,
    /// Optimizer steps so far.
    pub step: u64,
    /// 1-based batch within the epoch (step rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
    /// Mean training loss (running mean for step rows, epoch mean for epoch rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_loss: Option<f64>,
    /// Training accuracy over the epoch, in [0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_acc: Option<f64>,
    /// Mean test loss.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_loss: Option<f64>,
    /// Test accuracy, in [0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_acc: Option<f64>,
    /// Learning rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Wall-clock seconds of the epoch's training pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Training samples per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples_per_sec: Option<f64>,
    /// Average busy cores during the training pass (CPU seconds over `seconds`; JSON
    /// only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busy_cores: Option<f64>,
    /// Further metrics by name (`test_top5_acc`, `test_mae`, ...).
    #[serde(flatten)]
    pub extra: BTreeMap<String, f64>,
}

impl MetricRow {
    /// The CSV header, in field order.
    pub const CSV_HEADER: &'static str =
        "kind,epoch,step,batch,train_loss,train_acc,test_loss,test_acc,lr,seconds,samples_per_sec";

    /// The CSV header with `extra` columns after the fixed ones.
    pub fn csv_header(extra: &[String]) -> String {
        let mut h = Self::CSV_HEADER.to_string();
        for e in extra {
            h.push(',');
            h.push_str(e);
        }
        h
    }

    /// The row as CSV, with the `extra` columns named.
    pub fn csv_with(&self, extra: &[String]) -> String {
        let mut s = self.csv();
        for e in extra {
            s.push(',');
            if let Some(v) = self.extra.get(e) {
                s.push_str(&v.to_string());
            }
        }
        s
    }

    /// The row as CSV (the fixed columns).
    pub fn csv(&self) -> String {
        fn o<T: ToString>(v: Option<T>) -> String {
            v.map(|v| v.to_string()).unwrap_or_default()
        }
        [
            self.kind.to_string(),
            self.epoch.to_string(),
            self.step.to_string(),
            o(self.batch),
            o(self.train_loss),
            o(self.train_acc),
            o(self.test_loss),
            o(self.test_acc),
            o(self.lr),
            o(self.seconds),
            o(self.samples_per_sec),
        ]
        .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_matrix_and_top_k() {
        let mut c = ClassCounts::new(3, &[1, 2]);
        c.update(&[0.1, 0.3, 0.6, 0.5, 0.4, 0.1, 0.2, 0.2, 0.1], &[0, 0, 1]);
        // row 0: pred 2, true 0 -> top1 miss, top2 miss; row 1: pred 0, true 0 -> hit;
        // row 2: tie 0/1 -> argmax 0, true 1 -> miss; top2: 0 ranks above 1 (index tie
        // rule), so 1 is second -> hit
        assert_eq!(c.matrix, vec![vec![1, 0, 1], vec![1, 0, 0], vec![0, 0, 0]]);
        assert_eq!(c.hits(), 1);
        assert_eq!(c.top_k, vec![(1, 1), (2, 2)]);
        let m = c.metrics("test_", &["a".into(), "b".into(), "c".into()], true);
        assert_eq!(m["test_top2_acc"], 2.0 / 3.0);
        assert_eq!(m["test_acc_a"], 0.5);
        assert_eq!(m["test_acc_b"], 0.0);
        assert!(m["test_acc_c"].is_nan());
        assert!(c.csv(&[]).starts_with("true\\predicted,0,1,2\n0,1,0,1\n"));
    }

    #[test]
    fn regression_metrics() {
        let mut r = RegressionSums::default();
        r.update(&[1.0, 2.0, 4.0], &[1.0, 3.0, 5.0]);
        let m = r.metrics("");
        assert!((m["mae"] - 2.0 / 3.0).abs() < 1e-12);
        assert!((m["mse"] - 2.0 / 3.0).abs() < 1e-12);
        // ss_tot = 1 + 9 + 25 - 81/3 = 8
        assert!((m["r2"] - (1.0 - 2.0 / 8.0)).abs() < 1e-12);
    }
}
