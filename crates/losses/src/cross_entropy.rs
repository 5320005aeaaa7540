use crate::{Error, Loss, Reduction, Result, TargetKind};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.CrossEntropyLoss(weight=None, ignore_index=-100,
/// reduction='mean', label_smoothing=0.0)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossEntropyLossConfig {
    /// A manual rescaling weight per class, `[C]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Vec<f64>>,
    /// A target value that is ignored and does not count in the mean (default -100).
    #[serde(default = "default_ignore")]
    pub ignore_index: i64,
    /// `none`, `mean` (default) or `sum`.
    #[serde(default)]
    pub reduction: Reduction,
    /// Smoothing ε in [0, 1]: the target becomes `(1−ε)·onehot + ε/C` (default 0).
    #[serde(default)]
    pub label_smoothing: f64,
}

fn default_ignore() -> i64 {
    -100
}

impl Default for CrossEntropyLossConfig {
    fn default() -> Self {
        Self {
            weight: None,
            ignore_index: -100,
            reduction: Reduction::Mean,
            label_smoothing: 0.0,
        }
    }
}

/// `log_softmax(x, dim)` = `x − max − log Σ exp(x − max)`, composed of ops whose
/// gradients wick checks (candle's fused softmax has no backward).
pub fn log_softmax(x: &Tensor, dim: usize) -> candle_core::Result<Tensor> {
    let max = x.max_keepdim(dim)?.detach();
    let shifted = x.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(dim)?.log()?;
    shifted.broadcast_sub(&lse)
}

/// `torch.nn.CrossEntropyLoss`: log-softmax over the class dimension, then the negative
/// log-likelihood.
///
/// For class-index targets `y`, with class weights `w` (default 1) and smoothing ε:
/// `ℓₙ = −w_{yₙ}·log pₙ[yₙ]` (0 where `yₙ = ignore_index`); `mean` divides
/// `Σ ℓₙ` by `Σ w_{yₙ}` over the targets not ignored. With ε > 0 the loss is
/// `(1−ε)·nll + ε/C · smooth`, `smooth = −Σ_c w_c log pₙ[c]`, reduced the same way.
/// For probability targets `t` (float, shaped like the input):
/// `ℓₙ = −Σ_c w_c·t'ₙ꜀·log pₙ꜀` with `t' = (1−ε)t + ε/C`; `mean` divides by N.
///
/// # Shapes
/// input `[N, C]`, `[C]` or `[N, C, d₁, …]`; target `[N]` / `[]` / `[N, d₁, …]` class
/// indices (u32 or i64), or probabilities shaped like the input; output a scalar, or
/// `[N, d₁, …]` with `reduction = "none"`.
///
/// # Errors
/// Class indices out of `[0, C)`, shapes that do not fit, a weight of the wrong length.
pub struct CrossEntropyLoss {
    cfg: CrossEntropyLossConfig,
}

impl CrossEntropyLoss {
    /// Validates the arguments as PyTorch does.
    pub fn new(cfg: CrossEntropyLossConfig) -> Result<Self> {
        if !(0.0..=1.0).contains(&cfg.label_smoothing) {
            return Err(Error::Config {
                field: "label_smoothing",
                message: format!(
                    "label_smoothing must be between 0.0 and 1.0, got {}",
                    cfg.label_smoothing
                ),
            });
        }
        if let Some(w) = &cfg.weight {
            if w.is_empty() {
                return Err(Error::Config {
                    field: "weight",
                    message: "weight must not be empty".into(),
                });
            }
        }
        Ok(Self { cfg })
    }

    /// Moves the class dimension last and flattens: `[N, C, d…]` → `[N·d…, C]`.
    fn to_rows(x: &Tensor) -> Result<(Tensor, Vec<usize>)> {
        match x.rank() {
            0 => Err(Error::Shape(
                "CrossEntropyLoss: input must have a class dimension".into(),
            )),
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

    fn reduce(&self, per: Tensor, denom: Option<Tensor>, batch: &[usize]) -> Result<Tensor> {
        Ok(match self.cfg.reduction {
            Reduction::None => per.reshape(batch)?,
            Reduction::Sum => per.sum_all()?,
            Reduction::Mean => match denom {
                Some(d) => per.sum_all()?.div(&d)?,
                None => per.mean_all()?,
            },
        })
    }
}

impl Loss for CrossEntropyLoss {
    fn type_name(&self) -> &'static str {
        "CrossEntropyLoss"
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::ClassIndex
    }

    fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        let (x, batch) = Self::to_rows(input)?;
        let (n, c) = x.dims2()?;
        let dtype = x.dtype();
        let dev = x.device();
        let w = match &self.cfg.weight {
            Some(w) if w.len() != c => {
                return Err(Error::Shape(format!(
                    "CrossEntropyLoss: weight has {} entries but the input has {c} classes",
                    w.len()
                )))
            }
            Some(w) => Some(Tensor::from_slice(w, c, dev)?.to_dtype(dtype)?),
            None => None,
        };
        let logp = log_softmax(&x, 1)?;
        let eps = self.cfg.label_smoothing;
        let weighted = |t: Tensor| -> Result<Tensor> {
            Ok(match &w {
                Some(w) => t.broadcast_mul(w)?,
                None => t,
            })
        };

        if target.dtype().is_float() {
            if target.dims() != input.dims() {
                return Err(Error::Shape(format!(
                    "CrossEntropyLoss: probability targets must have the input's shape {:?}, got {:?}",
                    input.dims(),
                    target.dims()
                )));
            }
            let (t, _) = Self::to_rows(&target.to_dtype(dtype)?)?;
            let t = if eps > 0.0 {
                ((t * (1.0 - eps))? + eps / c as f64)?
            } else {
                t
            };
            let per = weighted((t * &logp)?)?.sum(1)?.neg()?;
            return self.reduce(per, None, &batch);
        }

        // class indices
        let expected: Vec<usize> = batch.clone();
        if target.dims() != expected.as_slice() {
            return Err(Error::Shape(format!(
                "CrossEntropyLoss: expected class-index targets of shape {expected:?} for input of \
                 shape {:?}, got {:?}",
                input.dims(),
                target.dims()
            )));
        }
        let t: Vec<i64> = target.flatten_all()?.to_dtype(DType::I64)?.to_vec1()?;
        let ignore = self.cfg.ignore_index;
        let mut onehot = vec![0f32; n * c];
        let mut valid = vec![0f32; n];
        for (i, &y) in t.iter().enumerate() {
            if y == ignore {
                continue;
            }
            if y < 0 || y >= c as i64 {
                return Err(Error::Shape(format!(
                    "CrossEntropyLoss: target {y} is out of bounds for {c} classes"
                )));
            }
            onehot[i * c + y as usize] = 1.0;
            valid[i] = 1.0;
        }
        let onehot = Tensor::from_vec(onehot, (n, c), dev)?.to_dtype(dtype)?;
        let wy = weighted(onehot.clone())?.sum(1)?; // w[yₙ], 0 where ignored
        let nll = weighted((&onehot * &logp)?)?.sum(1)?.neg()?;
        let mean_denom = match self.cfg.reduction {
            Reduction::Mean => Some(wy.sum_all()?),
            _ => None,
        };
        let nll = self.reduce(nll, mean_denom.clone(), &batch)?;
        if eps == 0.0 {
            return Ok(nll);
        }
        let valid = Tensor::from_vec(valid, n, dev)?.to_dtype(dtype)?;
        let smooth = (weighted(logp)?.sum(1)?.neg()? * valid)?;
        let smooth = self.reduce(smooth, mean_denom, &batch)?;
        Ok(((nll * (1.0 - eps))? + (smooth * (eps / c as f64))?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use wick_tensor::gradcheck::gradcheck;

    #[test]
    fn matches_hand_computed_value() {
        let x = Tensor::new(&[[1f32, 2., 3.], [1., 1., 1.]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[2u32, 0], &Device::Cpu).unwrap();
        let l = CrossEntropyLoss::new(Default::default())
            .unwrap()
            .forward(&x, &y)
            .unwrap();
        let e = 1f64.exp() + 2f64.exp() + 3f64.exp();
        let want = ((-(3f64.exp() / e).ln()) + 3f64.ln()) / 2.0;
        assert!((l.to_scalar::<f32>().unwrap() as f64 - want).abs() < 1e-6);
    }

    #[test]
    fn out_of_range_target_is_an_error() {
        let x = Tensor::zeros((2, 3), DType::F32, &Device::Cpu).unwrap();
        let y = Tensor::new(&[2u32, 3], &Device::Cpu).unwrap();
        let e = CrossEntropyLoss::new(Default::default())
            .unwrap()
            .forward(&x, &y)
            .unwrap_err();
        assert!(e.to_string().contains("target 3 is out of bounds"), "{e}");
    }

    #[test]
    fn gradcheck_every_variant() {
        let x: Vec<f64> = (0..4 * 5)
            .map(|i| ((i * 7) % 11) as f64 / 3.0 - 1.5)
            .collect();
        let x = Tensor::from_vec(x, (4, 5), &Device::Cpu).unwrap();
        let y = Tensor::new(&[1i64, 4, -100, 0], &Device::Cpu).unwrap();
        for (red, w, eps) in [
            (Reduction::Mean, None, 0.0),
            (Reduction::Sum, Some(vec![0.5, 1., 2., 1.5, 0.3]), 0.1),
            (Reduction::Mean, Some(vec![0.5, 1., 2., 1.5, 0.3]), 0.2),
            (Reduction::None, None, 0.3),
        ] {
            let l = CrossEntropyLoss::new(CrossEntropyLossConfig {
                weight: w,
                reduction: red,
                label_smoothing: eps,
                ..Default::default()
            })
            .unwrap();
            gradcheck(
                |v| {
                    l.forward(&v[0], &y)
                        .map_err(|e| candle_core::Error::Msg(e.to_string()))
                },
                std::slice::from_ref(&x),
            )
            .unwrap();
        }
    }
}
