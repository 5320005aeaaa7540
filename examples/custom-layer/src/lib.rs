//! The course's `MyLayer` as a wick layer of a user's own crate.
//!
//! ```python
//! class MyLayer(nn.Module):
//!     def __init__(self, in_features, out_features):
//!         super().__init__()
//!         self.weight = nn.Parameter(torch.empty(out_features, in_features))
//!         self.bias = nn.Parameter(torch.empty(out_features))
//!         # ... initialized as nn.Linear's
//!     def forward(self, x):
//!         return x @ self.weight.T + self.bias
//! ```
//!
//! Two types make a layer: its config (the arguments an experiment file gives, with
//! serde's derive) implementing [`LayerSpec`], and the layer itself implementing
//! [`Layer`]. The crate also has a dataset of its own ([`XorConfig`]: a
//! `torch.utils.data.Dataset` subclass) and a metric ([`F1Config`]: a torchmetrics
//! `Metric`), and the course's two-input `DisMult` ([`DisMultConfig`]) with pairs to
//! train it on ([`RelationPairsConfig`]). [`register`] names them in a [`Registry`].

mod dismult;
mod f1;
mod xor;

pub use dismult::{DisMult, DisMultConfig, RelationPairs, RelationPairsConfig};
pub use f1::{F1Config, F1};
pub use xor::{Xor, XorConfig};

use serde::{Deserialize, Serialize};
use wick::nn::{BuildCtx, Error, Layer, LayerSpec, Result, Shape};
use wick::tensor::candle_core::Tensor;
use wick::tensor::{init, Param, Parameter};
use wick::Registry;

/// The arguments of `MyLayer(in_features, out_features)`; `in_features` may be left
/// out and is then inferred from the input, as wick's `Linear` does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MyLayerConfig {
    /// Size of each input sample; inferred when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_features: Option<usize>,
    /// Size of each output sample.
    pub out_features: usize,
}

impl LayerSpec for MyLayerConfig {
    /// `[in_features]` → `[out_features]`.
    fn infer(&mut self, input: &[usize]) -> Result<Shape> {
        let &[last] = input else {
            return Err(Error::shape(format!(
                "MyLayer takes flat samples [in_features], got {input:?}: put a Flatten before it"
            )));
        };
        if let Some(given) = self.in_features.filter(|&g| g != last) {
            return Err(Error::field(
                "in_features",
                format!("in_features = {given}, but the input has {last} features"),
            ));
        }
        if self.out_features == 0 {
            return Err(Error::field(
                "out_features",
                "out_features must be at least 1",
            ));
        }
        self.in_features = Some(last);
        Ok(vec![self.out_features])
    }

    /// Weight `[out, in]` and bias `[out]` drawn as `nn.Linear` draws them:
    /// `U(−1/√in, 1/√in)`, from the run's init stream.
    fn build(&self, ctx: &mut BuildCtx) -> Result<Box<dyn Layer>> {
        let in_features = self
            .in_features
            .ok_or_else(|| Error::field("in_features", "in_features is not known"))?;
        let (weight, bias) = init::torch_default_weight_bias(
            &[self.out_features, in_features],
            true,
            ctx.dtype,
            ctx.device,
            ctx.rng,
        )?;
        let bias = bias.ok_or_else(|| Error::shape("no bias drawn"))?;
        Ok(Box::new(MyLayer {
            weight: Parameter::new(&weight)?,
            bias: Parameter::new(&bias)?,
        }))
    }

    fn output_argument(&self) -> Option<&'static str> {
        Some("out_features")
    }
}

/// `y = x · weightᵀ + bias`, its gradient by candle's autograd.
pub struct MyLayer {
    weight: Parameter,
    bias: Parameter,
}

impl MyLayer {
    /// The layer on given parameters (weight `[out, in]`, bias `[out]`).
    pub fn from_tensors(weight: &Tensor, bias: &Tensor) -> Result<Self> {
        Ok(Self {
            weight: Parameter::new(weight)?,
            bias: Parameter::new(bias)?,
        })
    }

    /// The forward formula on plain tensors (what the gradient check differentiates).
    pub fn apply(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
        Ok(x.matmul(&weight.t()?)?.broadcast_add(bias)?)
    }
}

impl Layer for MyLayer {
    fn type_name(&self) -> &'static str {
        "MyLayer"
    }

    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Self::apply(x, &self.weight.tensor(), &self.bias.tensor())
    }

    /// `weight`, then `bias`: `named_parameters()` order, so checkpoints hold
    /// `3.weight` and `3.bias` as PyTorch's `state_dict` would.
    fn parameters(&self) -> Vec<Param> {
        vec![
            Param::of("weight", &self.weight),
            Param::of("bias", &self.bias),
        ]
    }

    fn describe(&self) -> String {
        let d = self.weight.var().dims();
        format!("MyLayer(in_features={}, out_features={})", d[1], d[0])
    }
}

/// Adds this crate's classes to `registry`.
pub fn register(registry: &mut Registry) -> &mut Registry {
    registry
        .layer::<MyLayerConfig>("MyLayer")
        .layer::<DisMultConfig>("DisMult")
        .dataset::<XorConfig>("Xor")
        .dataset::<RelationPairsConfig>("RelationPairs")
        .metric::<F1Config>("F1")
}
