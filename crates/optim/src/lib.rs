//! wick-optim: the `torch.optim` optimizers, updating parameters exactly as PyTorch
//! does (same formulas, same order of operations), usable from Rust and from
//! experiment files (`[optimizer] type = "SGD"`).
#![warn(missing_docs)]

mod config;
mod error;
mod optimizer;
mod sgd;

pub use config::OptimizerConfig;
pub use error::{Error, Result};
pub use optimizer::Optimizer;
pub use sgd::{Sgd, SgdConfig};
