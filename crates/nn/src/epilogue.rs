//! [`Epilogue`]: a layer (`ReLU`, `MaxPool2d`, `BatchNorm2d`) that the layer before it
//! may run in its own op; the `fusion` module plans which.

use crate::ops::{self, ConvGeom, Pool2d};
use crate::Result;
use candle_core::Tensor;
use std::sync::Arc;

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
    /// [`crate::Layer::forward_fused`] computes, and what it falls back to where it has no
    /// fused kernel (another device, another dtype).
    pub fn apply_all(x: Tensor, epilogues: &[Epilogue], train: bool) -> Result<Tensor> {
        epilogues.iter().try_fold(x, |x, e| e.apply(&x, train))
    }
}

/// A per-channel normalization that the convolution before it may run in its own op
/// (wick's `BatchNorm2d`); a layer of yours implements it to be fused the same way,
/// offering itself as [`Epilogue::BatchNorm`] from [`crate::Layer::epilogue`].
pub trait FusedNorm: Send + Sync {
    /// The layer's `forward(x, train)`, then `F.relu` when `relu`.
    fn apply(&self, x: &Tensor, train: bool, relu: bool) -> Result<Tensor>;
    /// `F.conv2d(x, weight, None, …)` (geometry `geom`, zero padding), then the layer,
    /// then `then`, the epilogues of the layers after it, with the values, gradients
    /// and state updates of the layers one by one.
    fn after_conv2d(
        &self,
        x: &Tensor,
        weight: &Tensor,
        geom: ConvGeom,
        train: bool,
        then: &[Epilogue],
    ) -> Result<Tensor>;
    /// The layer as PyTorch prints it, short (`BatchNorm2d(64)`).
    fn name(&self) -> String;
}

/// A normalization layer as the epilogue of the layer before it
/// ([`Epilogue::BatchNorm`]): a handle that shares the layer's parameters, running
/// statistics and modes, so a convolution that runs it (`Conv2d → BatchNorm2d → ReLU
/// (→ MaxPool2d)`, fused when the model is built) computes what the layers compute one
/// after the other, running statistics included. A user's convolution fuses it through
/// [`BatchNormEpilogue::after_conv2d`], as `Conv2d` does.
#[derive(Clone)]
pub struct BatchNormEpilogue(Arc<dyn FusedNorm>);

impl BatchNormEpilogue {
    /// The handle of `norm` (the layer's shared state).
    pub fn new(norm: Arc<dyn FusedNorm>) -> Self {
        Self(norm)
    }

    /// The layer's `forward(x, train)`, then `F.relu` when `relu`: the epilogue on its
    /// own.
    pub fn apply(&self, x: &Tensor, train: bool, relu: bool) -> Result<Tensor> {
        self.0.apply(x, train, relu)
    }

    /// `F.conv2d(x, weight, None, …)` (geometry `geom`, zero padding), then this
    /// normalization, then the epilogues `then` of the layers after it
    /// ([`FusedNorm::after_conv2d`]; for `BatchNorm2d`, one op in train mode on the CPU
    /// with a `ReLU` and a `MaxPool2d` in `then`: [`crate::ops::conv2d_batch_norm`]).
    pub fn after_conv2d(
        &self,
        x: &Tensor,
        weight: &Tensor,
        geom: ConvGeom,
        train: bool,
        then: &[Epilogue],
    ) -> Result<Tensor> {
        self.0.after_conv2d(x, weight, geom, train, then)
    }
}

impl PartialEq for BatchNormEpilogue {
    /// The same layer.
    fn eq(&self, other: &Self) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&other.0))
    }
}

impl Eq for BatchNormEpilogue {}

impl std::fmt::Debug for BatchNormEpilogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.name())
    }
}
