//! wick: train neural networks described in TOML experiment files, the PyTorch way,
//! on candle.
//!
//! The `wick` binary is [`cli::main_with`] over the built-in classes. A crate of a
//! user's own layers gets the same program with its names added:
//!
//! ```no_run
//! # use wick::nn::LinearConfig as MyLayerConfig;
//! fn main() -> std::process::ExitCode {
//!     let mut registry = wick::Registry::with_builtins();
//!     registry.layer::<MyLayerConfig>("MyLayer");
//!     wick::cli::main_with(registry)
//! }
//! ```
//!
//! The library crates are re-exported under their `torch` names: [`nn`] (`torch.nn`
//! layers), [`losses`], [`optim`] (`torch.optim` and its schedulers), [`data`]
//! (`torch.utils.data` and `torchvision`'s datasets and transforms), [`tensor`]
//! (devices, seeds, parameters, init, gradcheck), [`runner`] (the experiment file,
//! the trainer and the run directory) and [`dist`] (`torch.distributed`'s process
//! groups: MPI, NCCL).
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cli;
mod distributed;
mod launcher;
mod logging;
pub mod process;

pub use wick_data as data;
pub use wick_dist as dist;
pub use wick_losses as losses;
pub use wick_nn as nn;
pub use wick_optim as optim;
pub use wick_runner as runner;
pub use wick_runner::{Experiment, Registry};
pub use wick_tensor as tensor;
