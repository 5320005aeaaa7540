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

/// Arguments of `torch.nn.Unflatten(dim, unflattened_size)`: dimension `dim` (counting
/// the batch dimension; negative counts from the end) is split into `unflattened_size`,
/// one entry of which may be `-1` (inferred).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnflattenConfig {
    /// The dimension to split (batch included).
    pub dim: i64,
    /// The sizes it is split into.
    pub unflattened_size: Vec<i64>,
}

impl UnflattenConfig {
    /// The batched output shape for a batched input shape.
    fn apply(&self, batched: &[usize]) -> Result<Vec<usize>> {
        let r = batched.len() as i64;
        let d = if self.dim < 0 { self.dim + r } else { self.dim };
        if d < 0 || d >= r {
            return Err(Error::field(
                "dim",
                format!(
                    "Dimension out of range (expected to be in range of [{}, {}], but got {})",
                    -r,
                    r - 1,
                    self.dim
                ),
            ));
        }
        let d = d as usize;
        let size = batched[d];
        let mut sizes = Vec::with_capacity(self.unflattened_size.len());
        let mut infer_at = None;
        for (i, &s) in self.unflattened_size.iter().enumerate() {
            match s {
                -1 if infer_at.is_none() => {
                    infer_at = Some(i);
                    sizes.push(1);
                }
                s if s >= 1 => sizes.push(s as usize),
                _ => {
                    return Err(Error::field(
                        "unflattened_size",
                        format!("invalid unflattened_size {:?}: sizes must be positive, with at most one -1", self.unflattened_size),
                    ))
                }
            }
        }
        let known = sizes
            .iter()
            .try_fold(1usize, |a, &s| a.checked_mul(s))
            .unwrap_or(0);
        if let Some(i) = infer_at {
            if known == 0 || !size.is_multiple_of(known) {
                return Err(Error::field(
                    "unflattened_size",
                    format!(
                        "unflattened_size {:?} does not fit dimension {d} of size {size}",
                        self.unflattened_size
                    ),
                ));
            }
            sizes[i] = size / known;
        } else if known != size {
            return Err(Error::field(
                "unflattened_size",
                format!(
                    "unflattened_size {:?} must multiply to the size of dimension {d}, {size} \
                     (input {batched:?})",
                    self.unflattened_size
                ),
            ));
        }
        let mut out = batched[..d].to_vec();
        out.extend(sizes);
        out.extend_from_slice(&batched[d + 1..]);
        Ok(out)
    }

    /// Output shape for a per-sample input shape (`dim` 0, the batch, is not allowed).
    pub fn infer(&self, input: &[usize]) -> Result<Shape> {
        let mut batched = vec![1];
        batched.extend_from_slice(input);
        let r = batched.len() as i64;
        if self.dim == 0 || self.dim == -r {
            return Err(Error::field(
                "dim",
                "dim = 0 would unflatten the batch dimension",
            ));
        }
        Ok(self.apply(&batched)?[1..].to_vec())
    }

    /// The layer.
    pub fn init(&self) -> Unflatten {
        Unflatten(self.clone())
    }
}

/// `torch.nn.Unflatten`: splits one dimension into several.
pub struct Unflatten(UnflattenConfig);

impl Layer for Unflatten {
    fn type_name(&self) -> &'static str {
        "Unflatten"
    }
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(x.reshape(self.0.apply(x.dims())?)?)
    }
    fn describe(&self) -> String {
        let s: Vec<String> = self
            .0
            .unflattened_size
            .iter()
            .map(ToString::to_string)
            .collect();
        let tuple = if s.len() == 1 {
            format!("({},)", s[0])
        } else {
            format!("({})", s.join(", "))
        };
        format!("Unflatten(dim={}, unflattened_size={tuple})", self.0.dim)
    }
}
