//! The error of a run that failed after its experiment was validated.

use crate::checkpoint::CheckpointError;
use crate::task::TaskError;

/// A run that failed after the experiment was validated.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Data could not be found, downloaded or read.
    #[error(transparent)]
    Data(#[from] wick_data::Error),
    /// A layer failed.
    #[error(transparent)]
    Model(#[from] wick_nn::Error),
    /// The loss failed.
    #[error(transparent)]
    Loss(#[from] wick_losses::Error),
    /// The optimizer failed.
    #[error(transparent)]
    Optim(#[from] wick_optim::Error),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// The device could not be opened.
    #[error(transparent)]
    Device(#[from] wick_tensor::Error),
    /// Writing the run directory failed.
    // not `#[from]`: the message holds the I/O error already, and as a `source` too
    // it was printed twice (`error: … (os error 2): No such file … (os error 2)`)
    #[error("cannot write the run directory: {0}")]
    Io(std::io::Error),
    /// A checkpoint could not be written or read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The processes of a distributed run could not start or talk to each other.
    #[error("distributed: {0}")]
    Distributed(#[from] wick_dist::Error),
    /// A run directory cannot be resumed or evaluated.
    #[error("{0}")]
    RunDir(String),
    /// The data does not fit the model or the loss.
    #[error("{0}")]
    Mismatch(String),
    /// The targets do not fit the loss.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// The loss became NaN or infinite.
    #[error(
        "the loss is {value} at epoch {epoch}, batch {batch} (step {step}): training diverged"
    )]
    Diverged {
        /// The bad value.
        value: f64,
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch.
        batch: usize,
        /// 1-based optimizer step.
        step: u64,
    },
    /// Stopped by Ctrl-C (or SIGTERM) after finishing a step and writing `last`.
    #[error("interrupted at epoch {epoch}, step {step}; `last` is saved: wick run --resume {dir}")]
    Interrupted {
        /// 1-based epoch.
        epoch: usize,
        /// Optimizer steps done.
        step: u64,
        /// The run directory.
        dir: String,
    },
}

impl From<std::io::Error> for RunError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}
