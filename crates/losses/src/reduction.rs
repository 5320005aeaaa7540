use crate::{Error, Result};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// PyTorch's `reduction` argument: `'none' | 'mean' | 'sum'` (default `'mean'`), and
/// `'batchmean'`, which only [`KLDivLoss`](crate::KLDivLoss) accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduction {
    /// One loss per element (or per sample, for losses that reduce over features).
    None,
    /// The (weighted) mean.
    #[default]
    Mean,
    /// The sum.
    Sum,
    /// The sum divided by the batch size `input.size(0)` (KLDivLoss only).
    #[serde(rename = "batchmean")]
    BatchMean,
}

impl Reduction {
    /// PyTorch's spelling: `"none"`, `"mean"`, `"sum"` or `"batchmean"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Mean => "mean",
            Self::Sum => "sum",
            Self::BatchMean => "batchmean",
        }
    }

    /// Rejects `batchmean` for the losses that do not take it, with PyTorch's message.
    pub(crate) fn check_standard(self) -> Result<Self> {
        if self == Self::BatchMean {
            return Err(Error::Config {
                field: "reduction",
                message: "batchmean is not a valid value for reduction \
                          (expected \"none\", \"mean\" or \"sum\"; only KLDivLoss takes \"batchmean\")"
                    .into(),
            });
        }
        Ok(self)
    }

    /// Applies the reduction to per-element losses: unchanged, their mean or their sum.
    /// `batchmean` divides the sum by the size of the first dimension (1 for a scalar).
    pub fn apply(self, per: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Self::None => per.clone(),
            Self::Mean => per.mean_all()?,
            Self::Sum => per.sum_all()?,
            Self::BatchMean => {
                let n = if per.rank() == 0 { 1 } else { per.dim(0)? };
                (per.sum_all()? / n as f64)?
            }
        })
    }
}
