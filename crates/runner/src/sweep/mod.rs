//! `wick sweep`: one experiment, many configurations, and which one wins.
//!
//! ```sh
//! wick sweep experiments/fashion_mnist.toml \
//!     --grid optimizer.type=SGD,Adam,AdamW --grid optimizer.lr=0.1,0.01 --seeds 3 --jobs 2
//! wick sweep --resume runs/fashion-mnist-mlp/sweep-20261203-101500
//! ```
//! or a `[sweep]` table in the file (see [`crate::sweep_config`]). Every trial is a normal run
//! directory under `runs/<name>/sweep-<timestamp>/` (see [`plan`]), run by its own
//! `wick run` process (see [`driver`]); at the end come `sweep.csv`, the table and the
//! plots (see [`results`]). Every trial's configuration is validated before the first
//! one starts, with the experiment file's diagnostics.

pub mod driver;
pub mod plan;
pub mod prune;
pub mod results;

pub use crate::sweep_config::{parse_grid, Method, SweepConfig, Values};
pub use driver::{SweepOptions, TrialState};
pub use plan::{Plan, Trial};

use crate::overrides::Override;
use crate::{load_experiment_with, ExperimentError};
use std::path::{Path, PathBuf};

/// A sweep that cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The experiment, or one trial's configuration of it, is not valid.
    #[error("{}", .0.rendered.trim_end())]
    Experiment(Box<ExperimentError>),
    /// Neither `--grid` nor `[sweep]` says what to vary.
    #[error("{0} has no [sweep] table and no --grid was given: nothing to sweep")]
    NothingToSweep(String),
    /// A file of the sweep directory.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// `sweep.json` does not read.
    #[error("{path} is not a sweep plan: {message}")]
    Plan {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// Stopped (Ctrl-C); the finished trials and the stopped ones' checkpoints stay.
    #[error("the sweep was interrupted; `wick sweep --resume {0}` continues it")]
    Interrupted(String),
}

impl SweepError {
    pub(crate) fn io(path: &Path, e: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}

/// What a finished sweep reports.
#[derive(Debug)]
pub struct SweepReport {
    /// The sweep directory.
    pub dir: PathBuf,
    /// The table, best configuration first.
    pub table: String,
    /// Every trial's outcome.
    pub results: Vec<results::TrialResult>,
    /// The files written at the end (`sweep.csv`, plots).
    pub files: Vec<PathBuf>,
}

/// What to sweep when starting one.
#[derive(Debug, Clone, Default)]
pub struct SweepArgs {
    /// `--set` overrides of the experiment, applied to every trial.
    pub set: Vec<Override>,
    /// `--grid` keys and values (these replace the file's `[sweep]` parameters).
    pub grid: Vec<(String, Values)>,
    /// `--seeds`, over the file's.
    pub seeds: Option<usize>,
    /// `--prune median`: the median rule, over the file's.
    pub prune: bool,
    /// Where sweep directories go (`runs/`).
    pub runs_dir: PathBuf,
}

/// Plans the sweep of the experiment `file`, checks every trial's configuration,
/// creates the sweep directory and runs it.
pub fn start(
    file: &Path,
    args: &SweepArgs,
    opts: &SweepOptions,
) -> Result<SweepReport, SweepError> {
    let load = |set: &[Override]| {
        load_experiment_with(file, set).map_err(|e| SweepError::Experiment(Box::new(e)))
    };
    let exp = load(&args.set)?;
    let mut config = match (&exp.sweep, args.grid.is_empty()) {
        (_, false) => SweepConfig {
            method: Method::Grid,
            parameters: args.grid.clone(),
            seeds: exp.sweep.as_ref().map_or(1, |s| s.seeds),
            prune: exp.sweep.as_ref().is_some_and(|s| s.prune),
        },
        (Some(s), true) => s.clone(),
        (None, true) => return Err(SweepError::NothingToSweep(file.display().to_string())),
    };
    if let Some(n) = args.seeds {
        config.seeds = n.max(1);
    }
    config.prune |= args.prune;
    let plan = Plan::new(file, &exp, &config);
    for t in &plan.trials {
        let mut set = args.set.clone();
        for o in t.run_overrides() {
            set.push(
                o.parse()
                    .map_err(|e: crate::OverrideError| SweepError::Plan {
                        path: t.name.clone(),
                        message: e.to_string(),
                    })?,
            );
        }
        load(&set)?;
    }
    let dir = plan.create(&exp, &args.runs_dir)?;
    tracing::info!(
        "sweep of {} trials ({} configurations × {} seeds) in {}",
        plan.trials.len(),
        plan.trials.len() / plan.seeds.max(1),
        plan.seeds,
        dir.display()
    );
    finish(&dir, &plan, opts)
}

/// Continues the sweep in `dir` (`wick sweep --resume`): finished trials are kept, a
/// stopped one resumes from its checkpoint, the rest run.
pub fn resume(dir: &Path, opts: &SweepOptions) -> Result<SweepReport, SweepError> {
    let plan = Plan::load(dir)?;
    finish(dir, &plan, opts)
}

/// Runs what is left of the plan, then writes `sweep.csv` and the plots.
fn finish(dir: &Path, plan: &Plan, opts: &SweepOptions) -> Result<SweepReport, SweepError> {
    driver::run_trials(dir, plan, opts)?;
    let results = results::collect(dir, plan);
    let csv = dir.join("sweep.csv");
    crate::rundir::write_atomic(dir, "sweep.csv", results::csv(plan, &results).as_bytes())
        .map_err(|e| SweepError::io(&csv, e))?;
    let mut files = vec![csv];
    files.extend(results::draw(dir, plan, &results));
    Ok(SweepReport {
        dir: dir.to_path_buf(),
        table: results::table(plan, &results),
        results,
        files,
    })
}
