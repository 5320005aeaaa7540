//! `wick run`, `wick run --resume` and `wick eval`: an experiment's [`Trainer`] (see
//! `build.rs`) fitted into a fresh or reopened run directory, and what is written
//! around the fit (config, summary, classes, `meta.json`, the final summary line).
//!
//! [`Trainer`]: crate::fit::Trainer

use crate::build::{self, build, Around, Built};
use crate::checkpoint;
pub use crate::error::RunError;
use crate::fit::{evaluate, Snapshot, Stopped};
pub use crate::fit::{EpochStats, Eval};
use crate::logging;
use crate::monitor::Monitor;
use crate::rundir::{self, load_run_config, RunDir};
use crate::schema::Experiment;
use crate::task::Task;
pub use candle_core::Device;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;
use wick_dist::ProcessGroup;

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where run directories go (`runs/`).
    pub runs_dir: PathBuf,
    /// Show progress bars (on a terminal).
    pub progress: bool,
    /// Mirrors to download from instead of the official ones.
    pub mirrors: Option<Vec<String>>,
    /// The `--set` overrides applied to the file, recorded in `meta.json`.
    pub overrides: Vec<String>,
    /// Set (by a Ctrl-C handler) to stop after the current step.
    pub stop: Arc<AtomicBool>,
    /// The run directory itself, instead of a new `runs_dir/<name>/<timestamp>` (a
    /// sweep's trial); it must not exist yet.
    pub run_dir: Option<PathBuf>,
    /// The processes training together: rank 0 writes the run directory (a world of
    /// one by default).
    pub group: Arc<dyn ProcessGroup>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            runs_dir: "runs".into(),
            progress: true,
            mirrors: None,
            overrides: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            run_dir: None,
            group: Arc::new(wick_dist::Single),
        }
    }
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The run directory.
    pub dir: PathBuf,
    /// Every epoch.
    pub epochs: Vec<EpochStats>,
    /// Why the run ended before `epochs`, if it did (early stopping).
    pub stopped_early: Option<String>,
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A run in progress: the built trainer and what `meta.json` records.
struct Run<'a> {
    exp: &'a Experiment,
    opts: &'a RunOptions,
    dir: PathBuf,
    built: Built,
    config_md5: String,
    started: String,
    wall: Instant,
    /// The `--set` overrides of a resume (`meta.json`'s `resumed_with`).
    resumed_with: Vec<String>,
    /// Each rank's checksum of its parameters at the end (a distributed run).
    checksums: Vec<String>,
}

impl<'a> Run<'a> {
    /// Builds the experiment's trainer over the run directory `dir`.
    fn new(
        exp: &'a Experiment,
        opts: &'a RunOptions,
        (dir, path, device): (Option<RunDir>, PathBuf, Device),
        started: String,
        load_weights: bool,
    ) -> Result<Self, RunError> {
        let config = exp.to_toml();
        let config_md5 = md5_hex(config.as_bytes());
        let built = build(
            exp,
            Around {
                dir,
                group: Arc::clone(&opts.group),
                device,
                progress: opts.progress,
                mirrors: opts.mirrors.as_deref(),
                stop: Arc::clone(&opts.stop),
                config: (config, config_md5.clone()),
                load_weights,
                overrides: opts.overrides.clone(),
            },
        )?;
        Ok(Self {
            exp,
            opts,
            dir: path,
            built,
            config_md5,
            started,
            wall: Instant::now(),
            resumed_with: Vec::new(),
            checksums: Vec::new(),
        })
    }

    /// Whether this process writes the run directory (rank 0).
    fn writes(&self) -> bool {
        crate::distributed::writes(self.opts.group.as_ref())
    }

    fn write_meta(&self, ended: Option<String>) -> Result<(), RunError> {
        if !self.writes() {
            return Ok(());
        }
        let mut meta = serde_json::json!({
            "wick_version": env!("CARGO_PKG_VERSION"),
            "name": self.exp.name,
            "seed": self.exp.seed,
            "config_md5": self.config_md5,
            "device": rundir::device_name(&self.built.device),
            "device_requested": self.exp.device.to_string(),
            "overrides": self.opts.overrides,
            "resumed_with": self.resumed_with,
            "started": self.started,
            "ended": ended,
            "peak_rss_mib": logging::peak_rss_mib(),
        });
        let group = self.opts.group.as_ref();
        if group.world_size() > 1 || self.exp.distributed.is_some() {
            meta["distributed"] = crate::distributed::meta(self.exp, group);
            if !self.checksums.is_empty() {
                meta["distributed"]["parameter_md5"] = self.checksums.clone().into();
            }
        }
        let text = serde_json::to_string_pretty(&meta).unwrap_or_default();
        rundir::write_atomic(&self.dir, "meta.json", text.as_bytes())?;
        Ok(())
    }

    /// Fits the trainer from where it stands; a run stopped mid-epoch (Ctrl-C) is
    /// [`RunError::Interrupted`], its checkpoint written.
    fn fit(mut self) -> Result<RunReport, RunError> {
        let report = self.built.trainer.fit()?;
        match report.stopped {
            Some(Stopped {
                mid_epoch: true,
                epoch,
                ..
            }) => Err(RunError::Interrupted {
                epoch,
                step: report.steps,
                dir: self.dir.display().to_string(),
            }),
            stopped => self.finish(stopped.map(|s| s.reason)),
        }
    }

    /// After the last epoch: `[predict]`, `meta.json`'s end, the summary line.
    fn finish(mut self, stopped_early: Option<String>) -> Result<RunReport, RunError> {
        let group = Arc::clone(&self.opts.group);
        if group.world_size() > 1 {
            let model = self.built.trainer.model();
            self.checksums = crate::distributed::parameter_checksums(group.as_ref(), model)?;
        }
        let b = &self.built;
        if let (Some(p), true) = (&self.exp.predict, self.writes()) {
            let model = b.trainer.model();
            crate::predict::print_all(p, model, (b.task, &b.classes), &b.device, "after training")?;
        }
        self.write_meta(Some(chrono::Local::now().to_rfc3339()))?;
        let h = &b.trainer.state().history;
        let seconds: f64 = h.iter().map(|e| e.seconds).sum();
        let samples: f64 = h.iter().map(|e| e.samples_per_sec * e.seconds).sum();
        let best = match best_epoch(self.exp, h) {
            Some((metric, v, e)) => format!("best {metric} {v:.4} at epoch {e}"),
            None => "no best epoch".to_string(),
        };
        tracing::info!(
            "summary: {best}; {} epochs, {seconds:.1} s training ({:.0} samples/s), {:.1} s wall",
            h.len(),
            samples / seconds.max(1e-9),
            self.wall.elapsed().as_secs_f64()
        );
        tracing::info!("done: {}", self.dir.display());
        logging::close_log_file();
        Ok(RunReport {
            dir: self.dir,
            epochs: h.clone(),
            stopped_early,
        })
    }
}

/// The epoch whose `best` metric (`train.checkpoint.monitor`) was best, as the
/// checkpoints' `best` link saw it.
fn best_epoch(exp: &Experiment, history: &[EpochStats]) -> Option<(String, f64, usize)> {
    let metric = exp.best_metric();
    let mut m = Monitor::new(&metric, exp.train.checkpoint.mode, 0.0);
    for e in history {
        if let Some(v) = e.metric(&metric) {
            m.update(v, e.epoch);
        }
    }
    m.best.map(|(v, e)| (metric, v, e))
}

/// Trains an experiment and writes its run directory (in a distributed run, rank 0
/// writes it and every rank trains).
pub fn run(exp: &Experiment, opts: &RunOptions) -> Result<RunReport, RunError> {
    let device = crate::distributed::open_device(exp, opts.group.as_ref())?;
    let writes = crate::distributed::writes(opts.group.as_ref());
    let dir = if writes {
        let dir = match &opts.run_dir {
            Some(path) => RunDir::create_at(path, &exp.extra_metrics())?,
            None => RunDir::create(&opts.runs_dir, &exp.name, &exp.extra_metrics())?,
        };
        logging::log_to_file(&dir.path.join("log.jsonl"))?;
        Some(dir)
    } else {
        None
    };
    let path =
        crate::distributed::share_path(opts.group.as_ref(), dir.as_ref().map(|d| d.path.clone()))?;
    let started = chrono::Local::now().to_rfc3339();
    let run = Run::new(exp, opts, (dir, path, device), started, true)?;
    if writes {
        run.write_files()?;
    }
    run.fit()
}

impl Run<'_> {
    /// The run directory's files written before training (`config.toml`,
    /// `summary.txt`, the classes, the holdout split, `meta.json`), and `[predict]`'s
    /// `before`.
    fn write_files(&self) -> Result<(), RunError> {
        let (exp, path) = (self.exp, &self.dir);
        rundir::write_atomic(path, "config.toml", exp.to_toml().as_bytes())?;
        let summary = self.built.trainer.model().summary();
        rundir::write_atomic(path, "summary.txt", format!("{summary}\n").as_bytes())?;
        rundir::write_classes(path, &self.built.classes)?;
        if let Some(parts) = &self.built.holdout {
            rundir::write_holdout(path, parts)?;
        }
        self.write_meta(None)?;
        tracing::info!(run_dir = %path.display(), "run directory: {}", path.display());
        let Some(p) = &exp.predict else {
            return Ok(());
        };
        let b = &self.built;
        let model = b.trainer.model();
        // the parameters' names are checked before any training
        crate::predict::named_values(p, model)?;
        if p.before {
            let what = (b.task, &b.classes[..]);
            crate::predict::print_all(p, model, what, &b.device, "before training")?;
        }
        Ok(())
    }
}

/// Continues the run in `run_dir` from its `last` checkpoint (`wick run --resume`),
/// mid-epoch included, giving the same numbers as an uninterrupted run (CPU).
///
/// `opts.overrides` (`--set`) change the run's config first; of its keys, a resume may
/// change those of [`crate::config_change::MAY_CHANGE`] (more `train.epochs` continue a
/// finished run), the others are refused, named with both values. They are recorded in
/// `meta.json` as `resumed_with`, and `config.toml` is rewritten with them.
pub fn resume(run_dir: &Path, opts: &RunOptions) -> Result<RunReport, RunError> {
    let exp = resume_config(run_dir, &opts.overrides)?;
    let device = crate::distributed::open_device(&exp, opts.group.as_ref())?;
    let writes = crate::distributed::writes(opts.group.as_ref());
    // Peek at the state first: the run directory's metric files are cut back to it.
    // Rank 0 picks the checkpoint (moving damaged ones aside); every rank loads it.
    let found = writes
        .then(|| newest_whole_checkpoint(run_dir))
        .transpose()?;
    let last = crate::distributed::share_path(
        opts.group.as_ref(),
        found.as_ref().map(|(folder, _)| folder.clone()),
    )?;
    let peek = match found {
        Some((_, peek)) => peek,
        None => checkpoint::load(&last, &Device::Cpu)?,
    };
    let raised_epochs = saved_epochs(&peek).is_some_and(|e| exp.train.epochs > e);
    let st = &peek.state;
    let dir = if writes {
        let dir = RunDir::reopen(run_dir, st.step, st.history.len(), &exp.extra_metrics())?;
        logging::log_to_file(&dir.path.join("log.jsonl"))?;
        Some(dir)
    } else {
        None
    };
    let started = rundir::meta_field::<String>(run_dir, "started")
        .unwrap_or_else(|| chrono::Local::now().to_rfc3339());
    let first = RunOptions {
        overrides: rundir::meta_field(run_dir, "overrides").unwrap_or_default(),
        ..opts.clone()
    };
    let at = (dir, run_dir.to_path_buf(), device);
    let mut run = Run::new(&exp, &first, at, started, false)?;
    run.resumed_with = opts.overrides.clone();
    let device = run.built.device.clone();
    run.built.trainer.resume_from(&last, &device)?;
    if writes && !opts.overrides.is_empty() {
        rundir::write_atomic(run_dir, "config.toml", exp.to_toml().as_bytes())?;
    }
    if raised_epochs {
        run.built.trainer.reopen();
    }
    let st = run.built.trainer.state();
    if st.finished {
        tracing::info!("{} has already finished", run_dir.display());
    } else {
        tracing::info!(
            "resuming {} at epoch {}, batch {} (step {})",
            run_dir.display(),
            st.epoch,
            st.batch,
            st.step
        );
    }
    run.fit()
}

/// The run directory's config with the resume's `--set` overrides applied.
fn resume_config(run_dir: &Path, overrides: &[String]) -> Result<Experiment, RunError> {
    if overrides.is_empty() {
        return load_run_config(run_dir);
    }
    let parsed = overrides
        .iter()
        .map(|o| o.parse::<crate::overrides::Override>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RunError::RunDir(format!("--set: {e}")))?;
    // the config read, overridden and checked as `wick run FILE --set …` does
    crate::load_experiment_with(&run_dir.join("config.toml"), &parsed).map_err(|e| {
        RunError::RunDir(
            e.rendered
                .trim_start_matches("error: ")
                .trim_end()
                .to_string(),
        )
    })
}

/// `train.epochs` of the config a checkpoint was written for (`None` for checkpoints of
/// earlier versions, which do not hold it).
fn saved_epochs(snapshot: &Snapshot) -> Option<usize> {
    let config = snapshot
        .state
        .callbacks
        .get("run")?
        .get("config")?
        .as_str()?;
    let table: toml::Table = config.parse().ok()?;
    usize::try_from(table.get("train")?.get("epochs")?.as_integer()?).ok()
}

/// The checkpoint a resume starts from: `last`, or where `last` does not read whole
/// (a disk that filled up, a file cut short), the newest checkpoint that does, with a
/// warning naming the damaged file.
fn newest_whole_checkpoint(run_dir: &Path) -> Result<(std::path::PathBuf, Snapshot), RunError> {
    let ckpts = run_dir.join("checkpoints");
    let Some(found) = checkpoint::load_newest_whole(&ckpts, &Device::Cpu) else {
        return Err(RunError::RunDir(format!(
            "{}: no checkpoint `last`",
            ckpts.display()
        )));
    };
    let (folder, snapshot, damaged) = found?;
    for e in damaged {
        // moved aside, kept for a look: the run writes that checkpoint again
        let aside = e.folder().and_then(|bad| {
            let to = bad.with_extension("damaged");
            std::fs::rename(bad, &to).is_ok().then_some(to)
        });
        let aside = aside.map_or(String::new(), |p| format!(" (moved to {})", p.display()));
        tracing::warn!("{e}{aside}; resuming from {} instead", folder.display());
    }
    Ok((folder, snapshot))
}

/// Evaluates a checkpoint of a run directory (`wick eval`): `which` is `last`, `best`
/// or a checkpoint folder name (`epoch-0003`). Uses the test split, else train.
pub fn eval(run_dir: &Path, which: &str, opts: &RunOptions) -> Result<Eval, RunError> {
    let (exp, device, model) = build::trained_model(run_dir, which)?;
    let (train_ds, test_ds) = build::load_data(&exp, opts.mirrors.as_deref())?;
    let (split, ds) = match (&exp.data.test, test_ds) {
        (Some(t), Some(ds)) => (t, ds),
        _ => (&exp.data.train, train_ds),
    };
    let loader = build::loader(&exp, split, ds, &device)?;
    let criterion = exp.loss.build()?;
    let ev = evaluate(
        &model,
        criterion.as_ref(),
        Task::of(&exp.loss)?,
        &build::feed(&exp, loader.dataset().as_ref()),
        &loader,
        exp.loss.reduction() == wick_losses::Reduction::Sum,
        &exp.metrics,
    )?;
    tracing::info!(
        "{} ({which}) on the {} split ({} samples)",
        run_dir.display(),
        split.split,
        ev.total
    );
    Ok(ev)
}
