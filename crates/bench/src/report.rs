//! What one measured program reports: a JSON line on stdout.

use serde_json::{json, Value};

/// The result of a hand-written loop: `steps` of the epoch's `total_steps` batches took
/// `seconds`; a partial epoch is scaled to a whole one.
pub struct LoopReport {
    implementation: &'static str,
    workload: String,
    samples: usize,
    steps: usize,
    total_steps: usize,
    seconds: f64,
    running_loss: f64,
    /// CPU seconds (user + system) of the process during the loop.
    cpu_seconds: Option<f64>,
}

impl LoopReport {
    /// A report; `running_loss` is the mean loss of the last 100 steps.
    pub fn new(
        implementation: &'static str,
        workload: &str,
        samples: usize,
        steps: usize,
        total_steps: usize,
        seconds: f64,
        running_loss: f64,
    ) -> Self {
        Self {
            implementation,
            workload: workload.to_string(),
            samples,
            steps,
            total_steps,
            seconds,
            running_loss,
            cpu_seconds: None,
        }
    }

    /// The CPU seconds the loop took (`wick_runner::logging::cpu_seconds` before and
    /// after), for its busy cores.
    pub fn with_cpu_seconds(mut self, cpu: Option<f64>) -> Self {
        self.cpu_seconds = cpu;
        self
    }

    /// The JSON line the suite reads.
    pub fn to_json(&self) -> Value {
        let epoch_seconds = self.seconds * self.total_steps as f64 / self.steps.max(1) as f64;
        json!({
            "implementation": self.implementation,
            "workload": self.workload,
            "mode": "pretensorized",
            "samples": self.samples,
            "steps": self.steps,
            "extrapolated": self.steps < self.total_steps,
            "seconds": epoch_seconds,
            "samples_per_sec": self.samples as f64 / epoch_seconds,
            "step_ms": 1000.0 * self.seconds / self.steps.max(1) as f64,
            "running_loss": if self.running_loss.is_finite() { json!(self.running_loss) } else { Value::Null },
            "peak_rss_mib": wick_runner::logging::peak_rss_mib(),
            "busy_cores": self.cpu_seconds.map(|c| c / self.seconds.max(1e-9)),
        })
    }
}
