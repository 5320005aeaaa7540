//! wick-nn: the `torch.nn` layers, usable from Rust and from experiment files.
//!
//! Every layer has a config struct with PyTorch's argument names and defaults
//! (`LinearConfig { in_features, out_features, bias }`), infers its output shape from
//! its input shape, fills inferred arguments (`in_features`, `in_channels`) and builds a
//! [`Layer`] with PyTorch's default initialization. [`Sequential`] composes them and
//! names parameters as `nn.Sequential`'s `state_dict` does (`"1.weight"`).
#![warn(missing_docs)]

mod activation;
mod adaptive_pool;
mod config;
mod conv;
mod conv_op;
mod conv_transpose;
mod error;
mod flatten;
mod layer;
mod linear;
pub mod ops;
mod pad_op;
mod pool;
mod pool_op;
mod sequential;
mod shape;

pub use activation::{ReLU, ReLUConfig};
pub use adaptive_pool::{
    AdaptiveAvgPool2d, AdaptiveMaxPool2d, AdaptivePool2dConfig, OutputDim, OutputSize,
};
pub use config::LayerConfig;
pub use conv::{
    conv1d, conv2d, Conv1d, Conv1dConfig, Conv2d, Conv2dConfig, ConvPadding, PaddingString,
};
pub use conv_transpose::{conv_transpose2d, ConvTranspose2d, ConvTranspose2dConfig};
pub use error::{Error, Result};
pub use flatten::{Flatten, FlattenConfig};
pub use layer::{BuildCtx, Layer};
pub use linear::{Linear, LinearConfig};
pub use ops::PadMode;
pub use pool::{
    AvgPool1d, AvgPool1dConfig, AvgPool2d, AvgPool2dConfig, MaxPool1d, MaxPool1dConfig, MaxPool2d,
    MaxPool2dConfig,
};
pub use sequential::{LayerSummary, Sequential, Summary};
pub use shape::{IntOrPair, Shape};
