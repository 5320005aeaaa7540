use crate::Result;
use candle_core::{DType, Device, Tensor};
use wick_tensor::{Param, SeedRng};

/// What a layer needs to create its parameters: the device, the dtype and the random
/// stream driving PyTorch's default init.
pub struct BuildCtx<'a> {
    /// Where parameters live.
    pub device: &'a Device,
    /// Parameter dtype (`F32` unless told otherwise).
    pub dtype: DType,
    /// The init stream (derived from the experiment seed).
    pub rng: &'a mut SeedRng,
}

/// A `torch.nn.Module`: forward in train or eval mode, its parameters by name, and a
/// one-line description as PyTorch prints it.
pub trait Layer: Send + Sync {
    /// The PyTorch class name (`"Linear"`).
    fn type_name(&self) -> &'static str;
    /// Runs the layer on a batch. `train` is `module.training`.
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor>;
    /// Parameters, named relative to the layer (`"weight"`, `"bias"`), in PyTorch order.
    fn parameters(&self) -> Vec<Param> {
        Vec::new()
    }
    /// `repr(module)`, e.g. `Linear(in_features=784, out_features=512, bias=True)`.
    fn describe(&self) -> String;
}

pub(crate) fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}
