//! What the loss makes of the model's output, and so how labels reach it and how
//! predictions are scored.
//!
//! | loss | task | target given to the loss | score |
//! |---|---|---|---|
//! | CrossEntropyLoss, NLLLoss | classify | class indices u32 `[B]` | argmax accuracy |
//! | BCEWithLogitsLoss, SoftMarginLoss, MultiLabelSoftMarginLoss | binary / multi-label (logits) | f32 like the output | accuracy of `output > 0` |
//! | BCELoss | binary / multi-label (probabilities) | f32 like the output | accuracy of `output > 0.5` |
//! | MSELoss, L1Loss, SmoothL1Loss, HuberLoss, ... | regression | f32 like the output | MAE, MSE, R² |
//!
//! Class labels given to a float loss become floats: shaped like the output when it
//! has one value per sample (`[B]` → `[B, 1]`), one-hot when it has one per class.

use candle_core::{DType, Tensor};
use wick_losses::{Loss, LossConfig, TargetKind};

/// How the model's output is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// One score per class; the target is a class index.
    Classify,
    /// Independent yes/no outputs; `logits` when the threshold is 0 (else 0.5).
    Binary {
        /// The output is a logit (threshold 0) rather than a probability (0.5).
        logits: bool,
    },
    /// Real-valued outputs.
    Regress,
    /// Several outputs the loss compares: `CosineEmbeddingLoss` and
    /// `MarginRankingLoss` with a `1`/`-1` per sample (`signs`), `TripletMarginLoss`
    /// without a target.
    Compare {
        /// How many outputs the loss takes.
        inputs: usize,
        /// Whether it takes a `±1` target per sample.
        signs: bool,
    },
}

/// A loss wick cannot train a `Sequential` with (several inputs, or no target).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TaskError(pub String);

impl Task {
    /// The task a loss implies.
    pub fn of(loss: &LossConfig) -> Result<Self, TaskError> {
        let built = loss.build().map_err(|e| TaskError(e.to_string()))?;
        Self::of_loss(built.as_ref())
    }

    /// The task a built loss implies.
    pub fn of_loss(built: &dyn Loss) -> Result<Self, TaskError> {
        let loss = built;
        if built.input_arity() != 1 {
            let signs = match built.target_kind() {
                TargetKind::PairSign => true,
                TargetKind::NoTarget => false,
                other => {
                    return Err(TaskError(format!(
                        "{} takes {other:?} targets, which a dataset does not give",
                        loss.type_name()
                    )))
                }
            };
            return Ok(Self::Compare {
                inputs: built.input_arity(),
                signs,
            });
        }
        Ok(match built.target_kind() {
            TargetKind::ClassIndex => Self::Classify,
            TargetKind::Float => match built.decision_threshold() {
                Some(t) => Self::Binary { logits: t == 0.0 },
                None => Self::Regress,
            },
            other => {
                return Err(TaskError(format!(
                    "{} takes {other:?} targets, which a dataset does not give",
                    loss.type_name()
                )))
            }
        })
    }

    /// The loss of a batch: `criterion(output, target)`, or for [`Task::Compare`]
    /// `criterion(*outputs, target)` (without the target where it takes none).
    pub fn loss(
        self,
        loss: &dyn Loss,
        outputs: &[Tensor],
        target: &Tensor,
    ) -> Result<Tensor, wick_losses::Error> {
        match self {
            Self::Compare { signs, .. } => {
                let refs: Vec<&Tensor> = outputs.iter().collect();
                loss.forward_inputs(&refs, signs.then_some(target))
            }
            _ => loss.forward(&outputs[0], target),
        }
    }

    /// Whether predictions have an accuracy.
    pub fn has_accuracy(self) -> bool {
        !matches!(self, Self::Regress | Self::Compare { .. })
    }

    /// The batch's labels in the form the loss takes, given the model's output.
    pub fn target(self, target: &Tensor, output: &Tensor) -> Result<Tensor, TaskError> {
        let shapes = || {
            format!(
                "the model's output is {:?} and the targets are {:?} ({:?})",
                output.dims(),
                target.dims(),
                target.dtype()
            )
        };
        let err = |e: candle_core::Error| TaskError(e.to_string());
        match self {
            Self::Compare { signs: false, .. } => Ok(target.clone()),
            Self::Compare { signs: true, .. } => {
                if target.dtype() == DType::U32 {
                    return Err(TaskError(format!(
                        "the loss needs a 1 or -1 per sample (pairs of samples), but the \
                         dataset gives class indices: {}",
                        shapes()
                    )));
                }
                let b = target.dim(0).map_err(err)?;
                target
                    .to_dtype(output.dtype())
                    .and_then(|t| t.reshape(b))
                    .map_err(err)
            }
            Self::Classify => {
                if target.dtype() != DType::U32 {
                    return Err(TaskError(format!(
                        "the loss needs class indices, but the dataset gives float targets: {} \
                         (for a CSV, set label_dtype = \"class\")",
                        shapes()
                    )));
                }
                Ok(target.clone())
            }
            _ => {
                if target.elem_count() == output.elem_count() {
                    return target
                        .to_dtype(output.dtype())
                        .and_then(|t| t.reshape(output.dims()))
                        .map_err(err);
                }
                let (b, c) = match output.dims() {
                    [b, c] => (*b, *c),
                    _ => return Err(TaskError(format!("targets do not fit: {}", shapes()))),
                };
                if target.dtype() == DType::U32 && target.dims() == [b] {
                    // class labels against one output per class: one-hot
                    let classes = Tensor::arange(0u32, c as u32, target.device())
                        .and_then(|a| a.reshape((1, c)))
                        .map_err(err)?;
                    return target
                        .reshape((b, 1))
                        .and_then(|t| t.broadcast_eq(&classes))
                        .and_then(|m| m.to_dtype(output.dtype()))
                        .map_err(err);
                }
                Err(TaskError(format!("targets do not fit: {}", shapes())))
            }
        }
    }

    /// Correct predictions in a batch (for `Binary`, every output counts).
    pub fn hits(self, output: &Tensor, target: &Tensor) -> candle_core::Result<(f64, usize)> {
        let (hits, counted) = self.hits_tensor(output, target)?;
        let hits = match hits {
            Some(h) => f64::from(h.to_scalar::<f32>()?),
            None => 0.0,
        };
        Ok((hits, counted))
    }

    /// [`hits`](Self::hits) left on the output's device: the count as a 0-d `f32`
    /// tensor (`None` for regression), so that a GPU is not synchronized per batch.
    pub fn hits_tensor(
        self,
        output: &Tensor,
        target: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, usize)> {
        match self {
            Self::Classify => {
                let pred = output.argmax(1)?;
                let hits = pred
                    .eq(&target.to_dtype(pred.dtype())?)?
                    .to_dtype(DType::F32)?
                    .sum_all()?;
                Ok((Some(hits), output.dim(0)?))
            }
            Self::Binary { logits } => {
                let threshold = if logits { 0.0 } else { 0.5 };
                let pred = output.gt(threshold)?;
                let truth = target.gt(0.5)?;
                let hits = pred.eq(&truth)?.to_dtype(DType::F32)?.sum_all()?;
                Ok((Some(hits), output.elem_count()))
            }
            Self::Regress => Ok((None, output.elem_count())),
            Self::Compare { .. } => Ok((None, output.dim(0)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn loss(ty: &str) -> LossConfig {
        toml::from_str(&format!("type = \"{ty}\"")).unwrap()
    }

    #[test]
    fn tasks_of_losses() {
        assert_eq!(Task::of(&loss("CrossEntropyLoss")), Ok(Task::Classify));
        assert_eq!(Task::of(&loss("NLLLoss")), Ok(Task::Classify));
        assert_eq!(
            Task::of(&loss("BCELoss")),
            Ok(Task::Binary { logits: false })
        );
        assert_eq!(
            Task::of(&loss("BCEWithLogitsLoss")),
            Ok(Task::Binary { logits: true })
        );
        assert_eq!(Task::of(&loss("MSELoss")), Ok(Task::Regress));
        assert_eq!(
            Task::of(&loss("MarginRankingLoss")),
            Ok(Task::Compare {
                inputs: 2,
                signs: true
            })
        );
        assert_eq!(
            Task::of(&loss("TripletMarginLoss")),
            Ok(Task::Compare {
                inputs: 3,
                signs: false
            })
        );
    }

    #[test]
    fn labels_become_what_the_loss_takes() {
        let d = Device::Cpu;
        let classes = Tensor::new(&[0u32, 2, 1], &d).unwrap();
        let out3 = Tensor::zeros((3, 3), DType::F32, &d).unwrap();
        let one_hot = Task::Regress.target(&classes, &out3).unwrap();
        assert_eq!(
            one_hot.to_vec2::<f32>().unwrap(),
            vec![vec![1., 0., 0.], vec![0., 0., 1.], vec![0., 1., 0.]]
        );
        let out1 = Tensor::zeros((3, 1), DType::F32, &d).unwrap();
        let t = Task::Binary { logits: true }
            .target(&classes, &out1)
            .unwrap();
        assert_eq!(t.dims(), &[3, 1]);
        assert_eq!(t.dtype(), DType::F32);
        let floats = Tensor::new(&[[1f32], [2.], [3.]], &d).unwrap();
        let e = Task::Classify.target(&floats, &out3).unwrap_err();
        assert!(e.0.contains("class indices"), "{e}");
        let out2 = Tensor::zeros((3, 2), DType::F32, &d).unwrap();
        let e = Task::Regress.target(&floats, &out2).unwrap_err();
        assert!(e.0.contains("[3, 2]") && e.0.contains("[3, 1]"), "{e}");
    }

    #[test]
    fn binary_accuracy_thresholds() {
        let d = Device::Cpu;
        let out = Tensor::new(&[[0.3f32], [-0.2], [0.7]], &d).unwrap();
        let y = Tensor::new(&[[1f32], [0.], [0.]], &d).unwrap();
        assert_eq!(
            Task::Binary { logits: true }.hits(&out, &y).unwrap(),
            (2.0, 3)
        );
        assert_eq!(
            Task::Binary { logits: false }.hits(&out, &y).unwrap(),
            (1.0, 3)
        );
    }
}
