//! [`Epilogue`]: a layer (`ReLU`, `MaxPool2d`, `BatchNorm2d`) that the layer before it
//! may run in its own op; the `fusion` module plans which.

use crate::batchnorm::BatchNormEpilogue;
use crate::ops::{self, Pool2d};
use crate::Result;
use candle_core::Tensor;

/// A layer that the layer before it may run as its epilogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Epilogue {
    /// `nn.ReLU`.
    Relu,
    /// `nn.MaxPool2d` with this geometry.
    MaxPool(Pool2d),
    /// `nn.BatchNorm2d`: the layer itself (its parameters, running statistics, modes).
    BatchNorm(BatchNormEpilogue),
}

impl Epilogue {
    /// The epilogue on its own: `F.relu(x)`, `F.max_pool2d(x, …)`, or the
    /// normalization layer's `forward(x, train)`.
    pub fn apply(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Ok(match self {
            Self::Relu => ops::relu(x)?,
            Self::MaxPool(p) => ops::max_pool2d(x, *p)?,
            Self::BatchNorm(bn) => bn.apply(x, train, false)?,
        })
    }

    /// `epilogue` with a leading `ReLU` split off: `(true, the rest)`, else
    /// `(false, epilogue)`; for layers whose kernel fuses a ReLU and nothing more.
    pub fn leading_relu(epilogue: &[Epilogue]) -> (bool, &[Epilogue]) {
        match epilogue {
            [Epilogue::Relu, rest @ ..] => (true, rest),
            _ => (false, epilogue),
        }
    }

    /// `x` through each of `epilogues` in order, unfused: what a layer's
    /// [`Layer::forward_fused`] computes, and what it falls back to where it has no
    /// fused kernel (another device, another dtype).
    pub fn apply_all(x: Tensor, epilogues: &[Epilogue], train: bool) -> Result<Tensor> {
        epilogues.iter().try_fold(x, |x, e| e.apply(&x, train))
    }
}
