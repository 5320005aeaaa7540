use crate::ops::{class_weight, float_input, nonempty_weight};
use crate::{Error, Loss, Reduction, Result, TargetKind};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.NLLLoss(weight=None, ignore_index=-100, reduction='mean')`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NLLLossConfig {
    /// A manual rescaling weight per class, `[C]` (default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Vec<f64>>,
    /// A target value that is ignored and does not count in the mean (default -100).
    #[serde(default = "default_ignore")]
    pub ignore_index: i64,
    /// `none`, `mean` (default) or `sum`.
    #[serde(default)]
    pub reduction: Reduction,
}

pub(crate) fn default_ignore() -> i64 {
    -100
}

impl Default for NLLLossConfig {
    fn default() -> Self {
        Self {
            weight: None,
            ignore_index: -100,
            reduction: Reduction::Mean,
        }
    }
}

/// `torch.nn.NLLLoss`: the negative log-likelihood of log-probabilities `x` (e.g. the
/// output of `LogSoftmax`) at the target classes:
/// `ℓₙ = −w_{yₙ}·xₙ[yₙ]` (0 where `yₙ = ignore_index`); `mean` divides `Σ ℓₙ` by
/// `Σ w_{yₙ}` over the targets not ignored (NaN when every target is ignored, as PyTorch).
///
/// # Shapes
/// input `[N, C]`, `[C]` or `[N, C, d₁, …]`; target class indices (u32 or i64) `[N]`,
/// `[]` or `[N, d₁, …]`; output a scalar, or the target's shape with `reduction = "none"`.
///
/// # Errors
/// A class index outside `[0, C)` (naming it), a target of the wrong shape or dtype, a
/// weight whose length is not `C`.
#[derive(Debug, Clone)]
pub struct NLLLoss {
    cfg: NLLLossConfig,
}

impl NLLLoss {
    /// Validates the arguments as PyTorch does.
    pub fn new(cfg: NLLLossConfig) -> Result<Self> {
        cfg.reduction.check_standard()?;
        nonempty_weight(cfg.weight.as_deref(), "weight")?;
        Ok(Self { cfg })
    }
}

impl Loss for NLLLoss {
    fn type_name(&self) -> &'static str {
        "NLLLoss"
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::ClassIndex
    }
    fn reduction(&self) -> Reduction {
        self.cfg.reduction
    }
    fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        let name = self.type_name();
        float_input(name, "input", input)?;
        if target.dtype().is_float() {
            return Err(Error::Shape(format!(
                "{name}: expected class indices (an integer tensor) as the target, got {:?}",
                target.dtype()
            )));
        }
        let (x, batch) = to_rows(name, input)?;
        let c = x.dim(1)?;
        let w = class_weight(name, self.cfg.weight.as_deref(), c, "classes", &x)?;
        let nll = ClassNll::new(
            name,
            &x,
            &batch,
            input.dims(),
            target,
            w.as_ref(),
            self.cfg.ignore_index,
        )?;
        nll.reduce(nll.per(&x, w.as_ref())?, self.cfg.reduction, &batch)
    }
}

/// Moves the class dimension (1, or 0 for a 1-D input) last and flattens:
/// `[N, C, d…]` → `[N·d…, C]`; also returns the batch shape `[N, d…]` (`[]` for `[C]`).
pub(crate) fn to_rows(loss: &str, x: &Tensor) -> Result<(Tensor, Vec<usize>)> {
    match x.rank() {
        0 => Err(Error::Shape(format!(
            "{loss}: input must have a class dimension, got a scalar"
        ))),
        1 => Ok((x.unsqueeze(0)?, vec![])),
        2 => Ok((x.clone(), vec![x.dim(0)?])),
        r => {
            let c = x.dim(1)?;
            let mut perm: Vec<usize> = (0..r).collect();
            perm.remove(1);
            perm.push(1);
            let mut batch = x.dims().to_vec();
            batch.remove(1);
            Ok((x.permute(perm)?.contiguous()?.reshape(((), c))?, batch))
        }
    }
}

/// Class-index targets as a one-hot matrix, with the mask of the targets not ignored and
/// the weighted count that `mean` divides by.
pub(crate) struct ClassNll {
    /// `[M, C]`: 1 at `(m, yₘ)`, 0 elsewhere and on ignored rows.
    pub onehot: Tensor,
    /// `[M]`: 1 where the target is not ignored.
    pub valid: Tensor,
    /// `Σ w_{yₘ}` over the targets not ignored (a scalar).
    pub weight_sum: Tensor,
}

impl ClassNll {
    /// Checks the targets against the rows `x` `[M, C]` and builds the one-hot matrix.
    pub(crate) fn new(
        loss: &str,
        x: &Tensor,
        batch: &[usize],
        input_dims: &[usize],
        target: &Tensor,
        weight: Option<&Tensor>,
        ignore: i64,
    ) -> Result<Self> {
        let (m, c) = x.dims2()?;
        if target.dims() != batch {
            return Err(Error::Shape(format!(
                "{loss}: expected class-index targets of shape {batch:?} for input of shape \
                 {input_dims:?}, got {:?}",
                target.dims()
            )));
        }
        let t: Vec<i64> = target.flatten_all()?.to_dtype(DType::I64)?.to_vec1()?;
        let mut onehot = vec![0f32; m * c];
        let mut valid = vec![0f32; m];
        for (i, &y) in t.iter().enumerate() {
            if y == ignore {
                continue;
            }
            if y < 0 || y >= c as i64 {
                return Err(Error::Shape(format!(
                    "{loss}: target {y} is out of bounds for {c} classes (expected 0 ≤ target < {c}, \
                     or ignore_index = {ignore})"
                )));
            }
            onehot[i * c + y as usize] = 1.0;
            valid[i] = 1.0;
        }
        let (dev, dtype) = (x.device(), x.dtype());
        let onehot = Tensor::from_vec(onehot, (m, c), dev)?.to_dtype(dtype)?;
        let valid = Tensor::from_vec(valid, m, dev)?.to_dtype(dtype)?;
        let weight_sum = match weight {
            Some(w) => onehot.broadcast_mul(w)?.sum_all()?,
            None => valid.sum_all()?,
        };
        Ok(Self {
            onehot,
            valid,
            weight_sum,
        })
    }

    /// `−w_{yₘ}·logp[m, yₘ]` per row `[M]`.
    pub(crate) fn per(&self, logp: &Tensor, weight: Option<&Tensor>) -> Result<Tensor> {
        let picked = (&self.onehot * logp)?;
        let picked = match weight {
            Some(w) => picked.broadcast_mul(w)?,
            None => picked,
        };
        Ok(picked.sum(1)?.neg()?)
    }

    /// Reduces per-row losses: `mean` divides by the weighted count of targets not
    /// ignored.
    pub(crate) fn reduce(&self, per: Tensor, r: Reduction, batch: &[usize]) -> Result<Tensor> {
        Ok(match r {
            Reduction::Mean => per.sum_all()?.div(&self.weight_sum)?,
            Reduction::None => per.reshape(batch)?,
            r => r.apply(&per)?,
        })
    }
}
