use crate::{Layer, Result, Shape};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// `torch.nn.Identity()` (PyTorch accepts and ignores any argument; wick takes none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {}

impl IdentityConfig {
    /// The output shape is the input shape.
    pub fn infer(&self, input: &[usize]) -> Result<Shape> {
        Ok(input.to_vec())
    }
}

/// `torch.nn.Identity`: returns its input.
pub struct Identity;

impl Layer for Identity {
    fn type_name(&self) -> &'static str {
        "Identity"
    }
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(x.clone())
    }
    fn describe(&self) -> String {
        "Identity()".into()
    }
}
