use crate::{Layer, Result, Shape};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.ReLU(inplace=False)`. `inplace` is accepted for
/// compatibility; wick never modifies a layer's input.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReLUConfig {
    /// Accepted and ignored, as it changes no result.
    #[serde(default)]
    pub inplace: bool,
}

impl ReLUConfig {
    /// Elementwise: the output shape is the input shape.
    pub fn infer(&self, input: &[usize]) -> Result<Shape> {
        Ok(input.to_vec())
    }
}

/// `torch.nn.ReLU`: `max(x, 0)`, with gradient `1` where `x > 0` and `0` elsewhere.
pub struct ReLU;

impl Layer for ReLU {
    fn type_name(&self) -> &'static str {
        "ReLU"
    }
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(crate::ops::relu(x)?)
    }
    fn describe(&self) -> String {
        "ReLU()".into()
    }
}
