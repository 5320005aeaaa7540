//! Metric rows written to `metrics.jsonl` and `metrics.csv`.

use serde::Serialize;

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
}

impl MetricRow {
    /// The CSV header, in field order.
    pub const CSV_HEADER: &'static str =
        "kind,epoch,step,batch,train_loss,train_acc,test_loss,test_acc,lr,seconds,samples_per_sec";

    /// The row as CSV.
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
