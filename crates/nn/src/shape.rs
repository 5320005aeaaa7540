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
