//! wick-runner: the experiment file, its validation and diagnostics, the trainer, and
//! the run directory. It composes wick-nn, wick-losses, wick-optim and wick-data and
//! adds nothing numerical of its own.
#![warn(missing_docs)]

mod decode;
pub mod diagnostic;
mod keypath;
pub mod logging;
pub mod metrics;
pub mod rundir;
pub mod schema;
pub mod trainer;

pub use diagnostic::Diagnostic;
pub use keypath::{KeyPath, Segment};
pub use schema::Experiment;
pub use trainer::{build_model, run, RunError, RunOptions, RunReport};

use std::io::IsTerminal;
use std::path::Path;

/// An experiment file that cannot be used: the diagnostic, rendered against the file.
#[derive(Debug, thiserror::Error)]
#[error("{rendered}")]
pub struct ExperimentError {
    /// The problem.
    pub diagnostic: Box<Diagnostic>,
    /// The problem shown as `file:line:column` with the text underlined.
    pub rendered: String,
}

/// Reads, parses and validates an experiment file.
pub fn load_experiment(path: &Path) -> Result<Experiment, ExperimentError> {
    let file = path.display().to_string();
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            let d = Diagnostic::value(KeyPath::root(), format!("cannot read {file}: {e}"));
            return Err(ExperimentError {
                rendered: format!("error: cannot read {file}: {e}\n"),
                diagnostic: Box::new(d),
            });
        }
    };
    Experiment::from_toml(&src).map_err(|d| {
        let color = std::io::stderr().is_terminal();
        let rendered = diagnostic::render(&file, &src, std::slice::from_ref(&d), color);
        ExperimentError {
            diagnostic: Box::new(d),
            rendered,
        }
    })
}
