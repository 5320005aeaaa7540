//! The metric catalog: what `[metrics] collection = [{ type = "F1Score" }]` names, as
//! torchmetrics' `MetricCollection` does.
//!
//! A metric class is a config type implementing [`MetricSpec`], which builds a
//! [`Metric`]: `update(output, target)` for every test batch, `compute()` at the end
//! of the pass, reported as `test_<name>` in the logs, `metrics.jsonl`/`.csv` and the
//! plots, and usable as a `monitor`. wick's own ([`register_builtins`]) are registered
//! as a user's crate registers its own (`registry.metric::<F1Config>("F1")`).

mod classification;

use candle_core::{DType, Tensor};
pub use classification::{
    Average, ClassScoreConfig, ClassTask, F1ScoreConfig, PrecisionConfig, RecallConfig,
};
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::fmt::Debug;
use wick_tensor::catalog::{Catalog, Tagged};

/// A metric accumulated over an evaluation pass (torchmetrics' `Metric`).
pub trait Metric: Send {
    /// Adds a batch: `output` the model's output `[B, …]`, `target` the labels in the
    /// form the loss takes (class indices `[B]`, or floats shaped like the output).
    ///
    /// # Errors
    /// Shapes the metric cannot score.
    fn update(&mut self, output: &Tensor, target: &Tensor) -> candle_core::Result<()>;
    /// The value over every batch given since the metric was built.
    fn compute(&self) -> f64;
}

/// The arguments of a metric class: what a config type implements to be named in
/// `[metrics] collection`. It is also `serde`'s, `Clone` and `Debug`.
pub trait MetricSpec:
    wick_tensor::dyn_clone::DynClone + wick_tensor::erased_serde::Serialize + Any + Debug + Send + Sync
{
    /// A fresh metric, before any batch.
    ///
    /// # Errors
    /// Invalid arguments.
    fn build(&self) -> candle_core::Result<Box<dyn Metric>>;
    /// The column name without the `test_` prefix; `None` (the default): the class
    /// name in snake case (`F1Score` → `f1_score`).
    fn name(&self) -> Option<String> {
        None
    }
}

/// A metric by its class name: `{ type = "MeanAbsoluteError" }`.
pub type MetricConfig = Tagged<dyn MetricSpec>;

/// The metric classes an experiment file can name.
pub type MetricCatalog = Catalog<dyn MetricSpec>;

wick_tensor::open_catalog! {
    spec = MetricSpec, what = "metric", register = RegisterMetric::metric, constructor = metric,
    builtins = register_builtins {
        MeanAbsoluteError(MeanAbsoluteErrorConfig),
        MeanSquaredError(MeanSquaredErrorConfig),
        Precision(PrecisionConfig),
        Recall(RecallConfig),
        F1Score(F1ScoreConfig),
    }
}

/// The name of a metric: its own, else its class name in snake case.
pub fn name_of(m: &MetricConfig) -> String {
    m.name().unwrap_or_else(|| snake_case(m.type_name()))
}

/// The column of a metric in the run's files: `test_<name>`.
pub fn column(m: &MetricConfig) -> String {
    format!("test_{}", name_of(m))
}

/// `F1Score` → `f1_score`, `R2Score` → `r2_score`.
fn snake_case(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Arguments of torchmetrics' `MeanAbsoluteError()`: `mean(|output − target|)` over
/// every output element.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeanAbsoluteErrorConfig {}

/// Arguments of torchmetrics' `MeanSquaredError(squared=True)`: `mean((output −
/// target)²)`, or its square root with `squared = false`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeanSquaredErrorConfig {
    /// `false`: the root mean squared error (default `true`).
    #[serde(default = "yes")]
    pub squared: bool,
}

fn yes() -> bool {
    true
}

impl MetricSpec for MeanAbsoluteErrorConfig {
    fn build(&self) -> candle_core::Result<Box<dyn Metric>> {
        Ok(Box::new(ErrorSum {
            power: 1,
            root: false,
            sum: 0.0,
            n: 0,
        }))
    }
}

impl MetricSpec for MeanSquaredErrorConfig {
    fn build(&self) -> candle_core::Result<Box<dyn Metric>> {
        Ok(Box::new(ErrorSum {
            power: 2,
            root: !self.squared,
            sum: 0.0,
            n: 0,
        }))
    }
    fn name(&self) -> Option<String> {
        (!self.squared).then(|| "root_mean_squared_error".to_string())
    }
}

/// `Σ |output − target|^power` over elements, in f64.
struct ErrorSum {
    power: i32,
    root: bool,
    sum: f64,
    n: usize,
}

impl Metric for ErrorSum {
    fn update(&mut self, output: &Tensor, target: &Tensor) -> candle_core::Result<()> {
        let flat = |t: &Tensor| -> candle_core::Result<Vec<f64>> {
            t.to_dtype(DType::F64)?.flatten_all()?.to_vec1()
        };
        let (o, t) = (flat(output)?, flat(target)?);
        if o.len() != t.len() {
            return Err(candle_core::Error::Msg(format!(
                "the output has {} values and the target {}: an error metric needs one \
                 target per output",
                o.len(),
                t.len()
            )));
        }
        self.sum += o
            .iter()
            .zip(&t)
            .map(|(a, b)| (a - b).abs().powi(self.power))
            .sum::<f64>();
        self.n += o.len();
        Ok(())
    }
    fn compute(&self) -> f64 {
        let mean = self.sum / self.n.max(1) as f64;
        if self.root {
            mean.sqrt()
        } else {
            mean
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn errors_over_batches_and_their_columns() {
        let cfg: MetricConfig =
            serde_json::from_str(r#"{"type": "MeanSquaredError", "squared": false}"#).unwrap();
        assert_eq!(column(&cfg), "test_root_mean_squared_error");
        let mut m = cfg.build().unwrap();
        let d = Device::Cpu;
        m.update(
            &Tensor::new(&[[1f32], [2.0]], &d).unwrap(),
            &Tensor::new(&[[0f32], [0.0]], &d).unwrap(),
        )
        .unwrap();
        m.update(
            &Tensor::new(&[[0f32]], &d).unwrap(),
            &Tensor::new(&[[3f32]], &d).unwrap(),
        )
        .unwrap();
        assert!((m.compute() - (14f64 / 3.0).sqrt()).abs() < 1e-12);
        let mae: MetricConfig = serde_json::from_str(r#"{"type": "MeanAbsoluteError"}"#).unwrap();
        assert_eq!(column(&mae), "test_mean_absolute_error");
        let e = mae
            .build()
            .unwrap()
            .update(
                &Tensor::new(&[1f32, 2.0], &d).unwrap(),
                &Tensor::new(&[1f32], &d).unwrap(),
            )
            .unwrap_err();
        assert!(e.to_string().contains("one target per output"), "{e}");
    }
}
