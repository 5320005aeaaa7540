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
    /// `[M]`, built on devices other than the CPU only: 1 where the target is out of
    /// range (its row's loss becomes NaN instead of an error, see [`ClassNll::new`]).
    pub out_of_range: Option<Tensor>,
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
        if !x.device().is_cpu() || wick_tensor::device_path::forced() {
            return Self::on_device(x, target, weight, ignore);
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
            out_of_range: None,
        })
    }

    /// The one-hot matrix built on `x`'s device by comparing the targets with
    /// `0..C`, without reading them back to the host (a device sync per batch on a
    /// GPU). Checking the range would need that read, so an out-of-range target is
    /// not an error here: its row's loss is NaN, which the trainer reports as a
    /// non-finite loss (PyTorch's CUDA kernels fail asynchronously in that case too).
    pub(crate) fn on_device(
        x: &Tensor,
        target: &Tensor,
        weight: Option<&Tensor>,
        ignore: i64,
    ) -> Result<Self> {
        let (m, c) = x.dims2()?;
        let (dev, dtype) = (x.device(), x.dtype());
        let t = target.flatten_all()?.to_dtype(DType::I64)?;
        let classes = Tensor::arange(0i64, c as i64, dev)?;
        let valid = t.ne(ignore as f64)?;
        let in_range = t.ge(0f64)?.mul(&t.lt(c as f64)?)?;
        let hit = t
            .reshape((m, 1))?
            .broadcast_eq(&classes.reshape((1, c))?)?
            .broadcast_mul(&valid.reshape((m, 1))?)?;
        let out_of_range = valid.mul(&in_range.eq(0f64)?)?;
        let onehot = hit.to_dtype(dtype)?;
        let valid = valid.to_dtype(dtype)?;
        let weight_sum = match weight {
            Some(w) => onehot.broadcast_mul(w)?.sum_all()?,
            None => valid.sum_all()?,
        };
        Ok(Self {
            onehot,
            valid,
            weight_sum,
            out_of_range: Some(out_of_range),
        })
    }

    /// `−w_{yₘ}·logp[m, yₘ]` per row `[M]`.
    pub(crate) fn per(&self, logp: &Tensor, weight: Option<&Tensor>) -> Result<Tensor> {
        let picked = (&self.onehot * logp)?;
        let picked = match weight {
            Some(w) => picked.broadcast_mul(w)?,
            None => picked,
        };
        let per = picked.sum(1)?.neg()?;
        Ok(match &self.out_of_range {
            Some(bad) => {
                let nan = per.detach().zeros_like()?.affine(1.0, f64::NAN)?;
                bad.where_cond(&nan, &per)?
            }
            None => per,
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn vals(t: &Tensor) -> Vec<f64> {
        t.flatten_all()
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    #[test]
    fn device_path_builds_the_same_one_hot() {
        let x = Tensor::from_vec(
            (0..24).map(|i| i as f32 / 7.0 - 1.0).collect::<Vec<_>>(),
            (6, 4),
            &Device::Cpu,
        )
        .unwrap();
        let w = Tensor::new(&[0.5f32, 2.0, 1.0, 3.0], &Device::Cpu).unwrap();
        for (target, ignore) in [
            (vec![0i64, 3, -100, 2, 1, 3], -100),
            (vec![2i64, 3, 2, 0, 1, 2], 2),
        ] {
            let t = Tensor::new(target.as_slice(), &Device::Cpu).unwrap();
            for weight in [None, Some(&w)] {
                let host = ClassNll::new("NLLLoss", &x, &[6], &[6, 4], &t, weight, ignore).unwrap();
                let dev = ClassNll::on_device(&x, &t, weight, ignore).unwrap();
                assert_eq!(vals(&host.onehot), vals(&dev.onehot));
                assert_eq!(vals(&host.valid), vals(&dev.valid));
                assert_eq!(vals(&host.weight_sum), vals(&dev.weight_sum));
                for r in [Reduction::Mean, Reduction::Sum, Reduction::None] {
                    let a = host.reduce(host.per(&x, weight).unwrap(), r, &[6]).unwrap();
                    let b = dev.reduce(dev.per(&x, weight).unwrap(), r, &[6]).unwrap();
                    assert_eq!(vals(&a), vals(&b), "{r:?}");
                }
            }
            // u32 targets too
            if target.iter().all(|&v| v >= 0) {
                let t32 = t.to_dtype(DType::U32).unwrap();
                let dev = ClassNll::on_device(&x, &t32, None, ignore).unwrap();
                let host = ClassNll::new("NLLLoss", &x, &[6], &[6, 4], &t, None, ignore).unwrap();
                assert_eq!(vals(&host.onehot), vals(&dev.onehot));
            }
        }
    }

    #[test]
    fn device_path_turns_out_of_range_targets_into_nan() {
        let x = Tensor::zeros((3, 4), DType::F32, &Device::Cpu).unwrap();
        let t = Tensor::new(&[1i64, 4, -3], &Device::Cpu).unwrap();
        assert!(ClassNll::new("NLLLoss", &x, &[3], &[3, 4], &t, None, -100).is_err());
        let dev = ClassNll::on_device(&x, &t, None, -100).unwrap();
        let per = vals(&dev.per(&x, None).unwrap());
        assert_eq!(per[0], 0.0);
        assert!(per[1].is_nan() && per[2].is_nan());
        let mean = dev
            .reduce(dev.per(&x, None).unwrap(), Reduction::Mean, &[3])
            .unwrap();
        assert!(vals(&mean)[0].is_nan());
    }
}
