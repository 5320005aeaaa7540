//! Argument types shared by several transforms: sizes, interpolation and padding modes,
//! fill values and `(min, max)` ranges, spelled as torchvision spells them.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// A size argument: an int (`224`, both edges or the smaller edge, depending on the
/// transform), `[s]` (the same) or `[h, w]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Size {
    /// One number.
    Int(usize),
    /// `[s]` or `[h, w]`.
    Seq(Vec<usize>),
}

impl Size {
    /// `(h, w)`: an int or `[s]` is square. Errors name `field` when the list has
    /// another length or a zero.
    pub fn hw(&self, field: &'static str) -> Result<(usize, usize)> {
        let (h, w) = match self {
            Size::Int(s) => (*s, *s),
            Size::Seq(v) if v.len() == 1 => (v[0], v[0]),
            Size::Seq(v) if v.len() == 2 => (v[0], v[1]),
            Size::Seq(v) => {
                return Err(Error::config(
                    field,
                    format!(
                        "Please provide only two dimensions (h, w) for size, got {} values",
                        v.len()
                    ),
                ))
            }
        };
        if h == 0 || w == 0 {
            return Err(Error::config(
                field,
                format!("{field} must be positive, got {self:?}"),
            ));
        }
        Ok((h, w))
    }
}

/// `torchvision.transforms.InterpolationMode`, by its value (`"bilinear"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InterpolationMode {
    /// PIL's NEAREST (for tensors: torch's `nearest`, `floor(dst · in/out)`).
    Nearest,
    /// PIL's BILINEAR (triangle filter, antialiased when downscaling).
    #[default]
    Bilinear,
    /// PIL's BICUBIC (Keys cubic with a = −0.5, antialiased when downscaling).
    Bicubic,
}

/// torchvision's `padding_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaddingMode {
    /// The `fill` value.
    #[default]
    Constant,
    /// The last value at the edge repeated.
    Edge,
    /// Reflection without repeating the edge value (`[2, 1 | 1, 2, 3 | 2, 1]` for 1 2 3).
    Reflect,
    /// Reflection repeating the edge value (`[2, 1 | 1, 2, 3 | 3, 2]`).
    Symmetric,
}

/// A fill value: one number for every channel or one per channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Fill {
    /// One value for every channel.
    Num(f64),
    /// One value per channel (or one value).
    Seq(Vec<f64>),
}

impl Default for Fill {
    fn default() -> Self {
        Fill::Num(0.0)
    }
}

impl Fill {
    /// The value of each of `c` channels.
    pub fn per_channel(&self, c: usize) -> Result<Vec<f64>> {
        match self {
            Fill::Num(v) => Ok(vec![*v; c]),
            Fill::Seq(v) if v.len() == 1 => Ok(vec![v[0]; c]),
            Fill::Seq(v) if v.len() == c => Ok(v.clone()),
            Fill::Seq(v) => Err(Error::Transform(format!(
                "The number of elements in 'fill' does not match the number of channels of \
                 the image ({} != {c})",
                v.len()
            ))),
        }
    }
}

/// A number or a `[min, max]` pair, as ColorJitter's and GaussianBlur's arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NumOrRange {
    /// One number.
    Num(f64),
    /// `[min, max]` (or more values, which are rejected by the transform).
    Seq(Vec<f64>),
}

/// Checks a `(min, max)` pair: two values with `min <= max`.
pub(crate) fn pair(v: &[f64], field: &'static str) -> Result<(f64, f64)> {
    match v {
        [a, b] if a <= b => Ok((*a, *b)),
        [a, b] => Err(Error::config(
            field,
            format!("{field} values should be between ({a}, {b}) with min <= max"),
        )),
        _ => Err(Error::config(
            field,
            format!("{field} should be a sequence of length 2, got {}", v.len()),
        )),
    }
}

/// `torch.rand(1) < p`: a coin with probability `p` of heads.
pub(crate) fn coin(rng: &mut wick_tensor::SeedRng, p: f64) -> bool {
    rng.uniform(0.0, 1.0) < p
}

/// Checks a probability.
pub(crate) fn probability(p: f64, field: &'static str) -> Result<f64> {
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(Error::config(
            field,
            format!("{field} should be a probability in [0, 1], got {p}"),
        ))
    }
}
