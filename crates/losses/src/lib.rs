//! wick-losses: the `torch.nn` loss functions, with PyTorch's arguments, defaults and
//! reductions, usable from Rust and from experiment files (`[loss] type = "CrossEntropyLoss"`).
#![warn(missing_docs)]

mod config;
mod cross_entropy;
mod error;
mod loss;
mod reduction;

pub use config::LossConfig;
pub use cross_entropy::{log_softmax, CrossEntropyLoss, CrossEntropyLossConfig};
pub use error::{Error, Result};
pub use loss::{Loss, TargetKind};
pub use reduction::Reduction;
