//! What one measured program reports: a JSON line on stdout.

use serde_json::{json, Value};
use wick_nn::profile::KernelTotal;

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
    /// Time and operations of wick's kernels during the loop (`wick_nn::profile`).
    kernels: Vec<KernelTotal>,
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
            kernels: Vec::new(),
        }
    }

    /// The kernels' totals counted during the loop.
    pub fn with_kernels(mut self, kernels: Vec<KernelTotal>) -> Self {
        self.kernels = kernels;
        self
    }

    /// The convolutions' seconds and operations (forward, input and weight gradient),
    /// and each counted kernel's own figures.
    fn kernels_json(&self) -> (Value, Value) {
        let conv: Vec<&KernelTotal> = self.kernels.iter().filter(|k| k.kernel.is_conv()).collect();
        let (s, f) = conv
            .iter()
            .fold((0.0, 0.0), |(s, f), k| (s + k.seconds, f + k.flops));
        let conv_gflops = if s > 0.0 {
            json!(f / s / 1e9)
        } else {
            Value::Null
        };
        let each: serde_json::Map<String, Value> = self
            .kernels
            .iter()
            .filter(|k| k.calls > 0)
            .map(|k| {
                let v = json!({"calls": k.calls, "seconds": k.seconds, "gflops": k.gflops()});
                (k.kernel.name().to_string(), v)
            })
            .collect();
        (conv_gflops, Value::Object(each))
    }

    /// The CPU seconds the loop took (`wick_runner::logging::cpu_seconds` before and
    /// after), for its busy cores.
    pub fn with_cpu_seconds(mut self, cpu: Option<f64>) -> Self {
        self.cpu_seconds = cpu;
        self
    }

    /// The JSON line the suite reads.
    pub fn to_json(&self) -> Value {
        let (conv_gflops, kernels) = self.kernels_json();
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
            "conv_gflops": conv_gflops,
            "kernels": kernels,
        })
    }
}
