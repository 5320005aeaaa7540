use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A per-sample shape, as written in an experiment's `model.input` (`[1, 28, 28]`).
pub type Shape = Vec<usize>;

/// A PyTorch `int or tuple` argument such as `kernel_size=3` or `kernel_size=(3, 5)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrPair {
    /// The same value for both spatial dimensions.
    Int(usize),
    /// `(height, width)`.
    Pair([usize; 2]),
}

impl IntOrPair {
    /// `(height, width)`.
    pub fn pair(self) -> (usize, usize) {
        match self {
            Self::Int(v) => (v, v),
            Self::Pair([h, w]) => (h, w),
        }
    }
}

impl From<usize> for IntOrPair {
    fn from(v: usize) -> Self {
        Self::Int(v)
    }
}

impl fmt::Display for IntOrPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, w) = self.pair();
        write!(f, "({h}, {w})")
    }
}

/// Formats a per-sample shape with the batch dimension in front, as `[-1, 1, 28, 28]`.
pub fn show_batched(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[-1, {}]", dims.join(", "))
}

/// The most parameters one layer may have (2²⁸, 1 GiB in f32): more is a typo on a
/// machine like this, and would exhaust memory instead of giving an error.
pub const MAX_LAYER_PARAMS: usize = 1 << 28;

/// Checks that a weight of shape `dims` is not absurdly large, blaming `field`.
pub(crate) fn check_param_count(field: &'static str, dims: &[usize]) -> Result<()> {
    let n = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    match n {
        Some(n) if n <= MAX_LAYER_PARAMS => Ok(()),
        _ => Err(Error::field(
            field,
            format!("a weight of shape {dims:?} is larger than wick's limit of {MAX_LAYER_PARAMS} parameters per layer"),
        )),
    }
}
