//! wick-nn: the `torch.nn` layers, usable from Rust and from experiment files.
//!
//! Every layer has a config struct with PyTorch's argument names and defaults
//! (`LinearConfig { in_features, out_features, bias }`), infers its output shape from
//! its input shape, fills inferred arguments (`in_features`, `in_channels`) and builds a
//! [`Layer`] with PyTorch's default initialization. [`Sequential`] composes them and
//! names parameters as `nn.Sequential`'s `state_dict` does (`"1.weight"`).
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[macro_use]
mod macros;

mod activation;
mod adaptive_pool;
mod batchnorm;
mod batchnorm_op;
mod bilinear;
mod children;
mod config;
mod conv;
mod conv_bn_op;
mod conv_op;
mod conv_pool_op;
mod conv_transpose;
mod dropout;
mod dropout_op;
mod embedding;
mod epilogue;
mod error;
mod flatten;
mod fusion;
mod graph_ops;
mod identity;
mod index_cache;
mod instancenorm;
mod kernel;
mod layer;
mod linear;
mod linear_op;
mod node;
mod norm;
mod normalization;
mod op;
pub mod ops;
mod pad_op;
mod param_init;
mod pool;
mod pool_op;
pub mod profile;
mod relu_op;
mod residual;
mod sequential;
mod shape;
mod state_dict;
mod summary;
mod sync_batchnorm;
pub mod unary;
mod wiring;

pub use activation::{
    Activation, CELUConfig, ELUConfig, GELUConfig, HardsigmoidConfig, HardswishConfig,
    HardtanhConfig, LeakyReLUConfig, LogSoftmaxConfig, MishConfig, PReLU, PReLUConfig, ReLU,
    ReLU6Config, ReLUConfig, SELUConfig, SiLUConfig, SigmoidConfig, SoftmaxConfig, SoftplusConfig,
    SoftsignConfig, TanhConfig, ThresholdConfig,
};
pub use adaptive_pool::{
    AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, AdaptiveMaxPool2d, AdaptiveMaxPool2dConfig,
    AdaptivePool2dConfig, OutputDim, OutputSize,
};
pub use batchnorm::{BatchNorm, BatchNorm1dConfig, BatchNorm2dConfig, BatchNormConfig};
pub use bilinear::{Bilinear, BilinearConfig};
pub use config::{layer, register_builtins, LayerCatalog, LayerConfig, LayerSpec, RegisterLayer};
pub use conv::{
    conv1d, conv2d, Conv1d, Conv1dConfig, Conv2d, Conv2dConfig, ConvPadding, PaddingString,
};
pub use conv_transpose::{conv_transpose2d, ConvTranspose2d, ConvTranspose2dConfig};
pub use dropout::{Dropout, Dropout2dConfig, DropoutConfig, StochasticDepthConfig};
pub use embedding::{Embedding, EmbeddingConfig};
pub use epilogue::{BatchNormEpilogue, Epilogue, FusedNorm};
pub use error::{Error, Result};
pub use flatten::{Flatten, FlattenConfig, Unflatten, UnflattenConfig};
pub use fusion::FusionPlan;
pub use graph_ops::{
    AddConfig, CatConfig, Dims, DivConfig, FlattenOpConfig, MatmulConfig, MeanConfig, MulConfig,
    NarrowConfig, SelectConfig, StackConfig, SubConfig, SumConfig, TransposeConfig,
};
pub use identity::{Identity, IdentityConfig};
pub use instancenorm::{InstanceNorm2d, InstanceNorm2dConfig};
pub use layer::{BuildCtx, Layer};
pub use linear::{Linear, LinearConfig};
pub use node::{NodeBody, NodeConfig};
pub use normalization::{GroupNorm, GroupNormConfig, IntOrList, LayerNorm, LayerNormConfig};
pub use op::{op, register_ops, OpCatalog, OpConfig, OpLayer, OpSpec, RegisterOp};
pub use ops::PadMode;
pub use param_init::ParamInit;
pub use pool::{
    AvgPool1d, AvgPool1dConfig, AvgPool2d, AvgPool2dConfig, MaxPool1d, MaxPool1dConfig, MaxPool2d,
    MaxPool2dConfig,
};
pub use residual::{Residual, ResidualConfig};
pub use sequential::{Sequential, SequentialConfig};
pub use shape::{IntOrPair, Shape};
pub use state_dict::{load_state_dict, load_state_dict_with, set_rng_counters, IncompatibleKeys};
pub use summary::{LayerSummary, Summary};
pub use sync_batchnorm::ProcessSum;
pub use wiring::{connections, node_names, Connections};
