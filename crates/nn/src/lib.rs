//! wick-nn: the `torch.nn` layers, usable from Rust and from experiment files.
//!
//! Every layer has a config struct with PyTorch's argument names and defaults
//! (`LinearConfig { in_features, out_features, bias }`), infers its output shape from
//! its input shape, fills inferred arguments (`in_features`, `in_channels`) and builds a
//! [`Layer`] with PyTorch's default initialization. [`Sequential`] composes them and
//! names parameters as `nn.Sequential`'s `state_dict` does (`"1.weight"`).
#![warn(missing_docs)]

mod activation;
mod config;
mod conv;
mod error;
mod flatten;
mod layer;
mod linear;
pub mod ops;
mod pool;
mod sequential;
mod shape;

pub use activation::{ReLU, ReLUConfig};
pub use config::LayerConfig;
pub use conv::{conv2d, Conv2d, Conv2dConfig};
pub use error::{Error, Result};
pub use flatten::{Flatten, FlattenConfig};
pub use layer::{BuildCtx, Layer};
pub use linear::{Linear, LinearConfig};
pub use pool::{MaxPool2d, MaxPool2dConfig};
pub use sequential::{LayerSummary, Sequential, Summary};
pub use shape::{IntOrPair, Shape};
