use serde::{Deserialize, Serialize};

/// PyTorch's `reduction` argument: `'none' | 'mean' | 'sum'` (default `'mean'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduction {
    /// One loss per element.
    None,
    /// The (weighted) mean.
    #[default]
    Mean,
    /// The sum.
    Sum,
}
