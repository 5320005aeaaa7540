//! A metric of the user's own: the F1 score of one class against the rest.
//!
//! ```python
//! torchmetrics.classification.MulticlassF1Score(num_classes, average=None)[positive]
//! ```
//!
//! `2·TP / (2·TP + FP + FN)` where a sample is predicted `positive` when that class has
//! the highest score (the argmax, ties to the lower index as `torch.argmax`).

use serde::{Deserialize, Serialize};
use wick::runner::metric::{Metric, MetricSpec};
use wick::tensor::candle_core::{self, DType, Tensor};

/// The arguments of `F1(positive=1)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct F1Config {
    /// The class whose F1 score is computed (default 1).
    #[serde(default = "one")]
    pub positive: u32,
}

fn one() -> u32 {
    1
}

impl MetricSpec for F1Config {
    fn build(&self) -> candle_core::Result<Box<dyn Metric>> {
        Ok(Box::new(F1 {
            positive: self.positive,
            ..F1::default()
        }))
    }
}

/// True positives, false positives and false negatives so far.
#[derive(Debug, Default)]
pub struct F1 {
    positive: u32,
    tp: u64,
    fp: u64,
    fn_: u64,
}

impl Metric for F1 {
    /// `output` `[B, classes]` scores, `target` `[B]` class indices.
    fn update(&mut self, output: &Tensor, target: &Tensor) -> candle_core::Result<()> {
        let pred: Vec<u32> = output.argmax(1)?.to_dtype(DType::U32)?.to_vec1()?;
        let truth: Vec<u32> = target.to_dtype(DType::U32)?.to_vec1()?;
        for (p, t) in pred.into_iter().zip(truth) {
            match (p == self.positive, t == self.positive) {
                (true, true) => self.tp += 1,
                (true, false) => self.fp += 1,
                (false, true) => self.fn_ += 1,
                (false, false) => {}
            }
        }
        Ok(())
    }

    /// 0 when there is no positive at all (torchmetrics' `zero_division=0`).
    fn compute(&self) -> f64 {
        let d = 2 * self.tp + self.fp + self.fn_;
        if d == 0 {
            0.0
        } else {
            2.0 * self.tp as f64 / d as f64
        }
    }
}
