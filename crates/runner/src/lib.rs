//! wick-runner: the experiment file, its validation and diagnostics, the trainer, and
//! the run directory. It composes wick-nn, wick-losses, wick-optim and wick-data and
//! adds nothing numerical of its own.
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod blocks;
mod build;
pub mod checkpoint;
pub mod config_change;
mod decode;
pub mod diagnostic;
mod error;
pub mod export;
mod export_model;
mod export_sampler;
mod export_transfer;
mod expr;
pub mod fit;
mod keypath;
pub mod landscape;
pub mod landscape_files;
pub mod logging;
pub mod metric;
pub mod metrics;
mod model_decode;
pub mod monitor;
mod numpy_fmt;
pub mod overrides;
mod pending;
pub mod plots;
pub mod predict;
mod progress;
mod raw;
mod record;
pub mod registry;
pub mod rundir;
pub mod schema;
pub mod task;
pub mod trainer;
pub mod transfer;
mod validate;
pub mod weights_file;
pub mod zoo;

pub use build::{build_model, load_weights};
pub use diagnostic::Diagnostic;
pub use fit::{
    Callback, Checkpoints, Control, EarlyStopping, FitReport, Snapshot, StopOn, Trainer, View,
};
pub use keypath::{KeyPath, Segment};
pub use overrides::{Override, OverrideError};
pub use registry::{Registry, RegistryError};
pub use schema::Experiment;
pub use trainer::{run, RunError, RunOptions, RunReport};

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
    load_experiment_with(path, &[])
}

/// Reads an experiment file, applies `--set` overrides to its text, then parses and
/// validates it. An error in an overridden value is shown on the overridden text, with
/// a note naming the `--set` it came from.
pub fn load_experiment_with(
    path: &Path,
    overrides: &[Override],
) -> Result<Experiment, ExperimentError> {
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
    let (src, file) = if overrides.is_empty() {
        (src, file)
    } else {
        match overrides::apply(&src, overrides) {
            Ok(s) => (s, format!("{file} (with --set)")),
            Err(e) => {
                let d = Diagnostic::value(KeyPath::root(), e.to_string());
                return Err(ExperimentError {
                    rendered: format!("error: {e}\n"),
                    diagnostic: Box::new(d),
                });
            }
        }
    };
    Experiment::from_toml(&src).map_err(|mut d| {
        let color = std::io::stderr().is_terminal();
        if let Some(o) = overrides.iter().rev().find(|o| {
            !d.path.0.is_empty()
                && (d.path.0.starts_with(&o.path.0) || o.path.0.starts_with(&d.path.0))
        }) {
            let note = format!("set by `--set {o}`");
            d.help = Some(match d.help.take() {
                Some(h) => format!("{h} ({note})"),
                None => note,
            });
        }
        let rendered = diagnostic::render(&file, &src, std::slice::from_ref(&d), color);
        ExperimentError {
            diagnostic: Box::new(d),
            rendered,
        }
    })
}
