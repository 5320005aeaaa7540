//! torchmetrics' `Precision`, `Recall` and `F1Score` for binary and multiclass
//! classification, micro or macro averaged, from per-class true positives, false
//! positives and false negatives counted over the pass.

use super::{Metric, MetricSpec};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

/// `task` of torchmetrics' classification metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassTask {
    /// One score per sample (`[B]` or `[B, 1]`), the positive class above `threshold`
    /// (probabilities; scores outside `[0, 1]` are logits and go through a sigmoid
    /// first, as torchmetrics does); targets 0 or 1.
    Binary,
    /// One score per class (`[B, C]`), the prediction is the largest; targets are class
    /// indices.
    #[default]
    Multiclass,
}

/// `average` of the multiclass scores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Average {
    /// The mean of the per-class scores (torchmetrics' default).
    #[default]
    Macro,
    /// The score of the counts summed over the classes.
    Micro,
}

/// Arguments of torchmetrics' `Precision`, `Recall` and `F1Score(task, threshold=0.5,
/// num_classes=None, average="macro")`. `num_classes` defaults to the width of the
/// model's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassScoreConfig {
    /// `"binary"` or `"multiclass"` (default).
    #[serde(default)]
    pub task: ClassTask,
    /// The binary decision threshold (default 0.5).
    #[serde(default = "half")]
    pub threshold: f64,
    /// Classes (multiclass); by default the output's width.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_classes: Option<usize>,
    /// `"macro"` (default) or `"micro"` (multiclass).
    #[serde(default)]
    pub average: Average,
}

fn half() -> f64 {
    0.5
}

impl Default for ClassScoreConfig {
    fn default() -> Self {
        Self {
            task: ClassTask::default(),
            threshold: 0.5,
            num_classes: None,
            average: Average::default(),
        }
    }
}

/// Which score of the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Score {
    Precision,
    Recall,
    F1,
}

impl Score {
    /// `tp/(tp+fp)`, `tp/(tp+fn)` or `2tp/(2tp+fp+fn)`; 0 where the denominator is
    /// (torchmetrics' `zero_division=0`).
    fn of(self, tp: f64, fp: f64, fne: f64) -> f64 {
        let (num, den) = match self {
            Self::Precision => (tp, tp + fp),
            Self::Recall => (tp, tp + fne),
            Self::F1 => (2.0 * tp, 2.0 * tp + fp + fne),
        };
        if den > 0.0 {
            num / den
        } else {
            0.0
        }
    }
}

macro_rules! class_scores {
    ($($(#[$doc:meta])* $name:ident => $score:expr;)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub ClassScoreConfig);

        impl MetricSpec for $name {
            fn build(&self) -> candle_core::Result<Box<dyn Metric>> {
                build(&self.0, $score)
            }
        }
    )+};
}

class_scores! {
    /// torchmetrics' `Precision`: of the predicted positives, the share that are.
    PrecisionConfig => Score::Precision;
    /// torchmetrics' `Recall`: of the actual positives, the share predicted.
    RecallConfig => Score::Recall;
    /// torchmetrics' `F1Score`: the harmonic mean of precision and recall.
    F1ScoreConfig => Score::F1;
}

fn build(cfg: &ClassScoreConfig, score: Score) -> candle_core::Result<Box<dyn Metric>> {
    if !(0.0..=1.0).contains(&cfg.threshold) {
        candle_core::bail!("threshold = {}: it must be in [0, 1]", cfg.threshold)
    }
    if cfg.num_classes == Some(0) {
        candle_core::bail!("num_classes must be at least 1")
    }
    Ok(Box::new(ClassCounts {
        cfg: cfg.clone(),
        score,
        counts: Vec::new(),
    }))
}

/// Per class `[tp, fp, fn]` over the pass.
struct ClassCounts {
    cfg: ClassScoreConfig,
    score: Score,
    counts: Vec<[u64; 3]>,
}

impl ClassCounts {
    /// Counts a prediction against its target.
    fn add(&mut self, pred: usize, target: usize) -> candle_core::Result<()> {
        let n = self.counts.len();
        if pred >= n || target >= n {
            candle_core::bail!("class {} out of range for {n} classes", pred.max(target))
        }
        if pred == target {
            self.counts[pred][0] += 1;
        } else {
            self.counts[pred][1] += 1;
            self.counts[target][2] += 1;
        }
        Ok(())
    }

    fn update_binary(&mut self, output: &Tensor, target: &Tensor) -> candle_core::Result<()> {
        let p: Vec<f64> = output.to_dtype(DType::F64)?.flatten_all()?.to_vec1()?;
        let t: Vec<f64> = target.to_dtype(DType::F64)?.flatten_all()?.to_vec1()?;
        if p.len() != t.len() {
            candle_core::bail!(
                "binary scores: {} outputs for {} targets (one score per sample)",
                p.len(),
                t.len()
            )
        }
        let logits = p.iter().any(|v| !(0.0..=1.0).contains(v));
        self.counts.resize(2, [0; 3]);
        for (&s, &y) in p.iter().zip(&t) {
            let prob = if logits { 1.0 / (1.0 + (-s).exp()) } else { s };
            self.add(usize::from(prob > self.cfg.threshold), usize::from(y > 0.5))?;
        }
        Ok(())
    }

    fn update_multiclass(&mut self, output: &Tensor, target: &Tensor) -> candle_core::Result<()> {
        let (b, c) = output.dims2()?;
        let classes = self.cfg.num_classes.unwrap_or(c);
        self.counts.resize(classes, [0; 3]);
        let scores: Vec<f32> = output.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let t: Vec<u32> = target.to_dtype(DType::U32)?.flatten_all()?.to_vec1()?;
        if t.len() != b {
            candle_core::bail!("multiclass scores: {b} outputs for {} targets", t.len())
        }
        for (row, &y) in scores.chunks(c.max(1)).zip(&t) {
            let pred = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |a, (j, &v)| if v > a.1 { (j, v) } else { a },
                )
                .0;
            self.add(pred, y as usize)?;
        }
        Ok(())
    }
}

impl Metric for ClassCounts {
    fn update(&mut self, output: &Tensor, target: &Tensor) -> candle_core::Result<()> {
        match self.cfg.task {
            ClassTask::Binary => self.update_binary(output, target),
            ClassTask::Multiclass => self.update_multiclass(output, target),
        }
    }

    fn compute(&self) -> f64 {
        let f = |c: &[u64; 3]| self.score.of(c[0] as f64, c[1] as f64, c[2] as f64);
        match (self.cfg.task, self.cfg.average) {
            // binary: the positive class's score
            (ClassTask::Binary, _) => self.counts.get(1).map_or(0.0, f),
            (ClassTask::Multiclass, Average::Micro) => {
                let sum = self
                    .counts
                    .iter()
                    .fold([0; 3], |a, c| [a[0] + c[0], a[1] + c[1], a[2] + c[2]]);
                f(&sum)
            }
            (ClassTask::Multiclass, Average::Macro) => {
                self.counts.iter().map(f).sum::<f64>() / self.counts.len().max(1) as f64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn run(cfg: &str, output: Tensor, target: Tensor) -> f64 {
        let cfg: crate::metric::MetricConfig = serde_json::from_str(cfg).unwrap();
        let mut m = cfg.build().unwrap();
        m.update(&output, &target).unwrap();
        m.compute()
    }

    /// Three classes; predictions [0, 1, 1, 2, 2, 2] for targets [0, 1, 2, 2, 0, 2]:
    /// tp = [1, 1, 2], fp = [0, 1, 1], fn = [1, 0, 1] (sklearn gives the same numbers).
    #[test]
    fn multiclass_macro_and_micro() {
        let d = Device::Cpu;
        let onehot = |p: &[usize]| {
            let v: Vec<f32> = p
                .iter()
                .flat_map(|&k| (0..3).map(move |j| if j == k { 1.0 } else { 0.0 }))
                .collect();
            Tensor::from_vec(v, (p.len(), 3), &d).unwrap()
        };
        let out = onehot(&[0, 1, 1, 2, 2, 2]);
        let tgt = Tensor::new(&[0u32, 1, 2, 2, 0, 2], &d).unwrap();
        let p = run(r#"{"type": "Precision"}"#, out.clone(), tgt.clone());
        assert!((p - (1.0 + 0.5 + 2.0 / 3.0) / 3.0).abs() < 1e-12, "{p}");
        let r = run(r#"{"type": "Recall"}"#, out.clone(), tgt.clone());
        assert!((r - (0.5 + 1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12, "{r}");
        let f = run(r#"{"type": "F1Score"}"#, out.clone(), tgt.clone());
        assert!(
            (f - (2.0 / 3.0 + 2.0 / 3.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12,
            "{f}"
        );
        let micro = run(r#"{"type": "F1Score", "average": "micro"}"#, out, tgt);
        assert!((micro - 4.0 / 6.0).abs() < 1e-12, "{micro}");
    }

    /// Binary on logits (scores outside [0, 1]) and on probabilities.
    #[test]
    fn binary_on_logits_and_probabilities() {
        let d = Device::Cpu;
        let t = Tensor::new(&[1f32, 0.0, 1.0, 1.0], &d).unwrap();
        // predictions 1, 1, 0, 1: tp 2, fp 1, fn 1
        let logits = Tensor::new(&[2f32, 0.5, -3.0, 4.0], &d).unwrap();
        let p = run(
            r#"{"type": "Precision", "task": "binary"}"#,
            logits.clone(),
            t.clone(),
        );
        assert!((p - 2.0 / 3.0).abs() < 1e-12);
        let probs = Tensor::new(&[[0.9f32], [0.7], [0.2], [0.6]], &d).unwrap();
        let r = run(
            r#"{"type": "Recall", "task": "binary", "threshold": 0.65}"#,
            probs,
            t.clone(),
        );
        // threshold 0.65: predictions 1, 1, 0, 0: tp 1, fn 2
        assert!((r - 1.0 / 3.0).abs() < 1e-12, "{r}");
        let cfg: crate::metric::MetricConfig =
            serde_json::from_str(r#"{"type": "F1Score", "threshold": 2.0}"#).unwrap();
        assert!(cfg.build().is_err());
    }
}
