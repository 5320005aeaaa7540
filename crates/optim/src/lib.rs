//! wick-optim: the `torch.optim` optimizers, updating parameters exactly as PyTorch
//! does (same formulas, same order of operations), usable from Rust and from
//! experiment files (`[optimizer] type = "SGD"`), with parameter groups and
//! state dicts by parameter name; the `torch.optim.lr_scheduler` schedulers
//! ([`scheduler`]); and `torch.nn.utils`' gradient clipping ([`clip`]).
//!
//! ```toml
//! [optimizer]
//! type = "AdamW"
//! lr = 1e-3
//! weight_decay = 0.05
//! # no weight decay on biases and norm weights; any argument can be overridden per group
//! param_groups = [{ params = ["*.bias", "1.weight"], weight_decay = 0.0 }]
//!
//! [scheduler]
//! type = "OneCycleLR"          # steps per batch, as in PyTorch (`interval = "epoch"` overrides)
//! max_lr = 0.01
//! epochs = 10
//! steps_per_epoch = 938
//!
//! # or: type = "ReduceLROnPlateau", monitor = "test_loss", patience = 2
//!
//! [train]
//! clip_grad_norm = { max_norm = 1.0 }
//! ```
//!
//! Parameter groups: group 0 holds the parameters no `param_groups` entry selects
//! (left out when there are none), then one group per entry, in file order. Patterns
//! are globs over `state_dict` names (`*` any run of characters, dots included; `?`
//! one character); a pattern selecting nothing, or a parameter selected by two
//! entries, is an error.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
// The updates are written as PyTorch's formulas, `θ = θ + c·g`, term by term.
#![allow(clippy::assign_op_pattern)]

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
mod lanes;
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
pub use clip::{
    clip_grad_norm, clip_grad_norm_on_device, clip_grad_value, ClipGradNormConfig,
    ClipGradValueConfig,
};
pub use config::{
    optimizer, register_builtins, OptimizerCatalog, OptimizerConfig, OptimizerSpec,
    RegisterOptimizer,
};
pub use engine::{Optim, Rule};
pub use error::{Error, Result};
pub use nadam::{Nadam, NadamConfig, NadamGroup};
pub use optimizer::Optimizer;
pub use radam::{Radam, RadamConfig, RadamGroup};
pub use rmsprop::{Rmsprop, RmspropConfig, RmspropGroup};
pub use scheduler::{
    Interval, RegisterScheduler, Scheduler, SchedulerCatalog, SchedulerConfig, SchedulerSpec,
};
pub use sgd::{Sgd, SgdConfig, SgdGroup};
