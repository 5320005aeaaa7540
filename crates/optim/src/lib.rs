//! wick-optim: the `torch.optim` optimizers, updating parameters exactly as PyTorch
//! does (same formulas, same order of operations), usable from Rust and from
//! experiment files (`[optimizer] type = "SGD"`), with parameter groups and
//! state dicts by parameter name; the `torch.optim.lr_scheduler` schedulers
//! ([`scheduler`]); and `torch.nn.utils`' gradient clipping ([`clip`]).
#![warn(missing_docs)]

#[macro_use]
mod macros;

mod adadelta;
mod adagrad;
mod adam;
mod adamax;
mod adamw;
pub mod clip;
mod config;
mod engine;
mod error;
pub mod float;
pub mod groups;
mod nadam;
mod optimizer;
mod radam;
mod rmsprop;
pub mod scheduler;
mod sgd;

pub use adadelta::{Adadelta, AdadeltaConfig, AdadeltaGroup};
pub use adagrad::{Adagrad, AdagradConfig, AdagradGroup};
pub use adam::{Adam, AdamConfig, AdamGroup};
pub use adamax::{Adamax, AdamaxConfig, AdamaxGroup};
pub use adamw::{AdamW, AdamWConfig, AdamWGroup};
pub use clip::{clip_grad_norm, clip_grad_value, ClipGradNormConfig, ClipGradValueConfig};
pub use config::OptimizerConfig;
pub use engine::{Optim, Rule};
pub use error::{Error, Result};
pub use nadam::{Nadam, NadamConfig, NadamGroup};
pub use optimizer::Optimizer;
pub use radam::{Radam, RadamConfig, RadamGroup};
pub use rmsprop::{Rmsprop, RmspropConfig, RmspropGroup};
pub use scheduler::{Interval, Scheduler, SchedulerConfig};
pub use sgd::{Sgd, SgdConfig, SgdGroup};
