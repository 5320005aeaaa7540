use crate::{Error, Layer, Result, Shape};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.Flatten(start_dim=1, end_dim=-1)`. Dimensions count the
/// batch dimension, as in PyTorch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlattenConfig {
    /// First dimension to flatten (default 1).
    #[serde(default = "one")]
    pub start_dim: i64,
    /// Last dimension to flatten (default -1).
    #[serde(default = "minus_one")]
    pub end_dim: i64,
}

fn one() -> i64 {
    1
}
fn minus_one() -> i64 {
    -1
}

impl Default for FlattenConfig {
    fn default() -> Self {
        Self {
            start_dim: 1,
            end_dim: -1,
        }
    }
}

impl FlattenConfig {
    fn dims(&self, rank: usize) -> Result<(usize, usize)> {
        let norm = |d: i64, field: &'static str| -> Result<usize> {
            let r = rank as i64;
            let v = if d < 0 { d + r } else { d };
            if v < 0 || v >= r {
                return Err(Error::field(
                    field,
                    format!("{field} = {d} is out of range for a {rank}-d input (batch included)"),
                ));
            }
            Ok(v as usize)
        };
        let (s, e) = (
            norm(self.start_dim, "start_dim")?,
            norm(self.end_dim, "end_dim")?,
        );
        if s > e {
            return Err(Error::field("start_dim", "start_dim comes after end_dim"));
        }
        Ok((s, e))
    }

    /// Output shape for a per-sample input shape (the batch dimension is implied).
    pub fn infer(&self, input: &[usize]) -> Result<Shape> {
        let mut batched = vec![1];
        batched.extend_from_slice(input);
        let (s, e) = self.dims(batched.len())?;
        if s == 0 {
            return Err(Error::field(
                "start_dim",
                "start_dim = 0 would flatten the batch dimension into the samples",
            ));
        }
        let mut out: Vec<usize> = batched[..s].to_vec();
        let merged = batched[s..=e]
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::shape(format!("flattening {input:?} overflows")))?;
        out.push(merged);
        out.extend_from_slice(&batched[e + 1..]);
        Ok(out[1..].to_vec())
    }

    /// The layer.
    pub fn init(&self) -> Flatten {
        Flatten(self.clone())
    }
}

/// `torch.nn.Flatten`: merges dimensions `start_dim..=end_dim` into one.
pub struct Flatten(FlattenConfig);

impl Layer for Flatten {
    fn type_name(&self) -> &'static str {
        "Flatten"
    }
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let (s, e) = self.0.dims(x.rank())?;
        Ok(x.flatten(s, e)?)
    }
    fn describe(&self) -> String {
        format!(
            "Flatten(start_dim={}, end_dim={})",
            self.0.start_dim, self.0.end_dim
        )
    }
}
