use crate::nll::{default_ignore, to_rows, ClassNll};
use crate::ops::{class_weight, float_input, nonempty_weight};
use crate::{Error, Loss, Reduction, Result, TargetKind};
use candle_core::Tensor;
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
/// log-likelihood (as [`NLLLoss`](crate::NLLLoss)).
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
/// Class indices out of `[0, C)` (naming the index), shapes that do not fit, a weight of
/// the wrong length.
#[derive(Debug, Clone)]
pub struct CrossEntropyLoss {
    cfg: CrossEntropyLossConfig,
}

impl CrossEntropyLoss {
    /// Validates the arguments as PyTorch does.
    pub fn new(cfg: CrossEntropyLossConfig) -> Result<Self> {
        cfg.reduction.check_standard()?;
        if !(0.0..=1.0).contains(&cfg.label_smoothing) {
            return Err(Error::Config {
                field: "label_smoothing",
                message: format!(
                    "label_smoothing must be between 0.0 and 1.0, got {}",
                    cfg.label_smoothing
                ),
            });
        }
        nonempty_weight(cfg.weight.as_deref(), "weight")?;
        Ok(Self { cfg })
    }
}

impl Loss for CrossEntropyLoss {
    fn type_name(&self) -> &'static str {
        "CrossEntropyLoss"
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
        let (x, batch) = to_rows(name, input)?;
        let c = x.dim(1)?;
        let w = class_weight(name, self.cfg.weight.as_deref(), c, "classes", &x)?;
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
                    "{name}: probability targets must have the input's shape {:?}, got {:?}",
                    input.dims(),
                    target.dims()
                )));
            }
            let (t, _) = to_rows(name, &target.to_dtype(x.dtype())?)?;
            let t = if eps > 0.0 {
                ((t * (1.0 - eps))? + eps / c as f64)?
            } else {
                t
            };
            let per = weighted((t * &logp)?)?.sum(1)?.neg()?;
            let per = match self.cfg.reduction {
                Reduction::None => per.reshape(batch)?,
                r => r.apply(&per)?,
            };
            return Ok(per);
        }

        let nll = ClassNll::new(
            name,
            &x,
            &batch,
            input.dims(),
            target,
            w.as_ref(),
            self.cfg.ignore_index,
        )?;
        let red = self.cfg.reduction;
        let loss = nll.reduce(nll.per(&logp, w.as_ref())?, red, &batch)?;
        if eps == 0.0 {
            return Ok(loss);
        }
        let smooth = (weighted(logp)?.sum(1)?.neg()? * &nll.valid)?;
        let smooth = nll.reduce(smooth, red, &batch)?;
        Ok(((loss * (1.0 - eps))? + (smooth * (eps / c as f64))?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
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
