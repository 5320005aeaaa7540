//! wick-runner: the experiment file, its validation and diagnostics, the trainer, and
//! the run directory. It composes wick-nn, wick-losses, wick-optim and wick-data and
//! adds nothing numerical of its own.
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod blocks;
mod boundary;
mod build;
pub mod checkpoint;
pub mod compare;
mod config_base;
pub mod config_change;
pub mod data_info;
mod decode;
pub mod diagnostic;
pub mod distributed;
mod error;
pub mod export;
mod export_model;
mod export_pairs;
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
pub mod sweep;
pub mod sweep_config;
mod sync_batchnorm;
pub mod task;
pub mod tensorboard;
pub mod trainer;
pub mod transfer;
mod validate;
pub mod weights_file;
pub mod zoo;

pub use build::{build_model, load_weights};
pub use diagnostic::Diagnostic;
pub use fit::{
    Callback, Checkpoints, Control, Converged, EarlyStopping, FitReport, Snapshot, StopOn, Trainer,
    View,
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

/// Reads an experiment file (and the files it inherits from with `base = "..."`),
/// applies `--set` overrides to its text, then parses and validates it. An error in an
/// overridden value is shown on the overridden text, with a note naming the `--set` it
/// came from; any other error is shown in the file of the chain that writes the key.
pub fn load_experiment_with(
    path: &Path,
    overrides: &[Override],
) -> Result<Experiment, ExperimentError> {
    let chain = config_base::Chain::load(path).map_err(|e| ExperimentError {
        diagnostic: e.diagnostic,
        rendered: e.rendered,
    })?;
    let merged = chain.text();
    let src = if overrides.is_empty() {
        merged.clone()
    } else {
        overrides::apply(&merged, overrides).map_err(|e| {
            let d = Diagnostic::value(KeyPath::root(), e.to_string());
            ExperimentError {
                rendered: format!("error: {e}\n"),
                diagnostic: Box::new(d),
            }
        })?
    };
    parse_overridden(&merged, src, overrides)
        .map_err(|e| experiment_error(&chain, &e.0, overrides, e.1))
}

/// Parses `src` (`before` with `overrides` applied); a key left stale by an override
/// of a `type` is dropped with a note (see [`overrides::stale_key`]).
fn parse_overridden(
    before: &str,
    mut src: String,
    overrides: &[Override],
) -> Result<Experiment, Box<(String, Diagnostic)>> {
    loop {
        let d = match Experiment::from_toml(&src) {
            Ok(exp) => return Ok(exp),
            Err(d) => d,
        };
        let Some(path) = overrides::stale_key(&d, before, overrides) else {
            return Err(Box::new((src, d)));
        };
        match overrides::remove(&src, &path) {
            Some(s) => {
                tracing::info!("{path} left out: the class set by --set does not take it");
                src = s;
            }
            None => return Err(Box::new((src, d))),
        }
    }
}

/// `d`, rendered against the file of the chain that writes its key, or against the
/// overridden text when a `--set` wrote it.
fn experiment_error(
    chain: &config_base::Chain,
    src: &str,
    overrides: &[Override],
    mut d: Diagnostic,
) -> ExperimentError {
    let color = std::io::stderr().is_terminal();
    let set_by = overrides.iter().rev().find(|o| {
        !d.path.0.is_empty() && (d.path.0.starts_with(&o.path.0) || o.path.0.starts_with(&d.path.0))
    });
    let owner = chain.owner(&d.path);
    let (file, text) = match set_by {
        Some(o) => {
            let note = format!("set by `--set {o}`");
            d.help = Some(match d.help.take() {
                Some(h) => format!("{h} ({note})"),
                None => note,
            });
            let merged = if chain.files.len() > 1 {
                " merged with its base"
            } else {
                ""
            };
            (
                format!(
                    "{}{merged} (with --set)",
                    chain.files.last().map_or("", |f| f.file.as_str())
                ),
                src,
            )
        }
        None if chain.files.len() > 1 => {
            // the span of a syntax error is the merged text's; the key path finds it
            d.span = None;
            (owner.file.clone(), owner.src.as_str())
        }
        None if overrides.is_empty() => (owner.file.clone(), src),
        None => (format!("{} (with --set)", owner.file), src),
    };
    let rendered = diagnostic::render(&file, text, std::slice::from_ref(&d), color);
    ExperimentError {
        diagnostic: Box::new(d),
        rendered,
    }
}
