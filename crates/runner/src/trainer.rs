//! The training loop: the PyTorch course's `train(epoch)` / `test()` pair, with the
//! run directory, checkpoints, resume, metrics and progress around it.

use crate::checkpoint::{self, Checkpoint};
pub use crate::error::RunError;
use crate::fit::{batch_total, evaluate, Trainer};
pub use crate::fit::{EpochStats, Eval};
use crate::logging;
use crate::metrics::MetricRow;
use crate::monitor::Monitor;
use crate::pending::PendingMetrics;
use crate::plots;
use crate::rundir::RunDir;
use crate::schema::{Experiment, SplitConfig};
use crate::task::Task;
pub use candle_core::Device;
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use wick_data::datasets::{random_split, DatasetContext, SplitLengths};
use wick_data::transforms::Compose;
use wick_data::{data_root, DataLoader, Dataset, Split};
use wick_nn::{BuildCtx, Sequential};
use wick_optim::{Interval, Scheduler};
use wick_tensor::SeedRng;

/// Scheduler entries in a checkpoint's `state.safetensors`, beside the optimizer's.
const SCHEDULER_PREFIX: &str = "scheduler.";
/// Least seconds between two epoch-end checkpoints (unless `every_n_epochs` asks).
const SAVE_EVERY_SECS: f64 = 1.0;
/// Least seconds between two redraws of the plots (always drawn at the end).
const PLOT_EVERY_SECS: f64 = 2.0;
/// Seconds between plain progress lines when there is no progress bar.
const PLAIN_PROGRESS_SECS: f64 = 10.0;
/// Share of an epoch spent waiting for data above which the run is called input-bound.
const INPUT_BOUND: f64 = 0.3;

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
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            runs_dir: "runs".into(),
            progress: true,
            mirrors: None,
            overrides: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
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

/// Sums over the batches of the epoch in progress.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct EpochAcc {
    running: f64,
    loss_sum: f64,
    hits: f64,
    /// Predictions scored (samples, or outputs for multi-label).
    #[serde(default)]
    counted: usize,
    seen: usize,
    seconds: f64,
    data_seconds: f64,
}

/// Everything besides weights and optimizer state that a resumed run needs to continue
/// exactly: stored as JSON in the checkpoint's `state.safetensors` header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TrainState {
    wick_version: String,
    config_md5: String,
    /// The 1-based epoch in progress (or next to start when `batch == 0`).
    epoch: usize,
    /// Batches of `epoch` already trained.
    batch: usize,
    /// Optimizer steps so far.
    step: u64,
    partial: EpochAcc,
    history: Vec<EpochStats>,
    /// `(step, running loss, lr)` of every logged step, for the plots.
    steps: Vec<(u64, f64, f64)>,
    /// Dropout layers' mask counters (their random streams' positions).
    #[serde(default)]
    rng_counters: Vec<(String, u64)>,
    best: Monitor,
    early: Option<Monitor>,
    /// True once the run has ended (all epochs or early stopping).
    finished: bool,
}

fn split_of(split: &SplitConfig) -> Split {
    if split.split == "train" {
        Split::Train
    } else {
        Split::Test
    }
}

/// The training dataset and, when there is one, the test dataset.
type TrainTest = (Arc<dyn Dataset>, Option<Arc<dyn Dataset>>);

/// The training dataset and the test dataset (its own, or held out of the training
/// data), as the experiment describes them.
fn load_data(exp: &Experiment, opts: &RunOptions) -> Result<TrainTest, RunError> {
    let root = data_root(exp.data.root.as_deref());
    let ctx = |split: Split| DatasetContext {
        split,
        root: root.clone(),
        download: exp.data.download,
        mirrors: opts.mirrors.as_deref(),
        seed: exp.seed,
    };
    let train_cfg = &exp.data.train;
    let train = exp
        .split_dataset(train_cfg)
        .build(&ctx(split_of(train_cfg)))?;
    let (train, test) = match &exp.data.test {
        None => (train, None),
        Some(t) => match t.holdout {
            Some(h) => {
                let mut parts =
                    random_split(train, &SplitLengths::Fractions(vec![1.0 - h, h]), exp.seed)?;
                let test = parts.pop().map(|p| Arc::new(p) as Arc<dyn Dataset>);
                let train = Arc::new(parts.pop().expect("two parts")) as Arc<dyn Dataset>;
                (train, test)
            }
            None => {
                let test = exp.split_dataset(t).build(&ctx(split_of(t)))?;
                (train, Some(test))
            }
        },
    };
    tracing::info!(
        "{} train: {} samples",
        exp.split_dataset(train_cfg).type_name(),
        train.len()
    );
    if let (Some(t), Some(ds)) = (&exp.data.test, &test) {
        let how = if t.holdout.is_some() {
            " (held out of the training data)"
        } else {
            ""
        };
        tracing::info!(
            "{} {}: {} samples{how}",
            exp.split_dataset(t).type_name(),
            t.split,
            ds.len()
        );
    }
    if train.is_empty() {
        return Err(RunError::Mismatch("the training dataset is empty".into()));
    }
    Ok((train, test))
}

/// Builds the model of an experiment with PyTorch's default init from its seed.
pub fn build_model(exp: &Experiment, device: &Device) -> Result<Sequential, RunError> {
    let mut rng = SeedRng::stream(exp.seed, "init", &[]);
    let mut layers = exp.model.layers.clone();
    let mut ctx = BuildCtx {
        device,
        dtype: DType::F32,
        rng: &mut rng,
    };
    Ok(Sequential::new(&exp.model.input, &mut layers, &mut ctx)?)
}

/// What validation could not check without the data: the samples' shape after the
/// transforms against `model.input`, and the number of classes against the output.
fn check_data(
    exp: &Experiment,
    model: &Sequential,
    task: Task,
    classes: &[String],
    train: &DataLoader,
    test: Option<&DataLoader>,
) -> Result<(), RunError> {
    for (name, loader) in [("train", Some(train)), ("test", test)] {
        let Some(loader) = loader else { continue };
        if loader.dataset().is_empty() {
            continue;
        }
        let shape = loader.sample_shape()?;
        if shape != exp.model.input {
            return Err(RunError::Mismatch(format!(
                "model.input is {:?}, but the {name} samples after the transforms have shape {shape:?}: set input = {shape:?} in [model]",
                exp.model.input
            )));
        }
    }
    let out = model.output_shape();
    if task == Task::Classify && !classes.is_empty() && out != [classes.len()] {
        return Err(RunError::Mismatch(format!(
            "{} needs one score per class: the data has {} classes ({}), but the model outputs per-sample shape {out:?}",
            exp.loss.type_name(),
            classes.len(),
            classes.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                + if classes.len() > 5 { ", ..." } else { "" }
        )));
    }
    Ok(())
}

/// When the scheduler steps: the file's `interval`, else the class's own.
fn interval(exp: &Experiment, s: &dyn Scheduler) -> Interval {
    exp.scheduler
        .as_ref()
        .and_then(|c| c.interval_override())
        .unwrap_or_else(|| s.interval())
}

/// The model's `state_dict()` (parameters and buffers), PyTorch's key names.
fn model_state(model: &Sequential) -> Vec<(String, Tensor)> {
    model
        .state_dict()
        .into_iter()
        .map(|(k, t)| (k, t.detach()))
        .collect()
}

/// Loads a `state_dict` into the model; every key must match.
fn load_model_state(
    model: &Sequential,
    state: Vec<(String, Tensor)>,
    file: &Path,
) -> Result<(), RunError> {
    let map: HashMap<String, Tensor> = state.into_iter().collect();
    model
        .load_state_dict(&map)
        .map_err(|e| RunError::RunDir(format!("{}: {e}", file.display())))
}

fn summed(exp: &Experiment) -> bool {
    exp.loss.reduction() == wick_losses::Reduction::Sum
}

/// The course's test line: accuracy (classification) or the regression errors.
fn log_eval(ev: &Eval, epoch: usize) {
    if ev.has_accuracy {
        let acc = ev.accuracy();
        tracing::info!(
            epoch,
            test_loss = ev.loss,
            test_acc = acc,
            "Accuracy on test set: {:.2} % ({}/{}), test loss {:.4}",
            100.0 * acc,
            ev.hits,
            ev.counted,
            ev.loss
        );
    } else {
        let m = |k: &str| ev.extra.get(k).copied().unwrap_or(f64::NAN);
        tracing::info!(
            epoch,
            test_loss = ev.loss,
            "Test loss {:.4}: MAE {:.4}, MSE {:.4}, R² {:.4} ({} samples)",
            ev.loss,
            m("mae"),
            m("mse"),
            m("r2"),
            ev.total
        );
    }
}

fn device_name(device: &Device) -> String {
    match device.location() {
        candle_core::DeviceLocation::Cpu => "cpu".to_string(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The model, loss, optimizer and loaders of an experiment, ready to train.
struct Session<'a> {
    exp: &'a Experiment,
    opts: &'a RunOptions,
    device: Device,
    /// The model, loss, optimizer, scheduler and test loader, and the step and
    /// `test()` every run trains with.
    trainer: Trainer<Sequential>,
    task: Task,
    /// Class names of the training data (empty when it has none).
    classes: Vec<String>,
    /// Shared so that an epoch's batch iterator does not borrow the session.
    train_loader: Arc<DataLoader>,
    dir: RunDir,
    state: TrainState,
    wall: Instant,
    last_save: Instant,
    last_plot: Instant,
    /// A `best` checkpoint not written yet (see [`SAVE_EVERY_SECS`]).
    pending_best: Option<(String, Checkpoint<TrainState>)>,
}

/// The state of a training pass over one epoch, between its batches.
struct Pass {
    /// 1-based epoch.
    epoch: usize,
    /// The batch the pass started at (not 0 when resumed mid-epoch).
    start: usize,
    t0: Instant,
    /// When the last plain progress line was written.
    last_line: Instant,
    /// Loss and hits of the batches not yet read back (non-CPU devices only).
    pending: PendingMetrics,
    bar: indicatif::ProgressBar,
}

impl<'a> Session<'a> {
    /// Loads the data and builds everything from the experiment's seed.
    fn new(exp: &'a Experiment, opts: &'a RunOptions, dir: RunDir) -> Result<Self, RunError> {
        let device = exp.device.open()?;
        let name = device_name(&device);
        tracing::info!(device = %name, requested = %exp.device, "device: {name}");
        let (train_ds, test_ds) = load_data(exp, opts)?;
        let task = Task::of(&exp.loss)?;
        let classes = train_ds.classes();
        let model = build_model(exp, &device)?;
        let criterion = exp.loss.build()?;
        let mut optimizer = exp.optimizer.build(model.parameters())?;
        let scheduler = exp
            .scheduler
            .as_ref()
            .map(|s| s.build(optimizer.as_mut()))
            .transpose()?;
        let train_loader = DataLoader::new(
            train_ds,
            Compose::from_configs(&exp.data.train.transforms)?,
            &exp.data.train.loader,
            exp.seed,
            device.clone(),
        )?;
        let test_loader = match (&exp.data.test, test_ds) {
            (Some(cfg), Some(ds)) => Some(DataLoader::new(
                ds,
                Compose::from_configs(&cfg.transforms)?,
                &cfg.loader,
                exp.seed,
                device.clone(),
            )?),
            _ => None,
        };
        check_data(
            exp,
            &model,
            task,
            &classes,
            &train_loader,
            test_loader.as_ref(),
        )?;
        let best = exp.best_metric();
        let state = TrainState {
            wick_version: env!("CARGO_PKG_VERSION").to_string(),
            config_md5: md5_hex(exp.to_toml().as_bytes()),
            epoch: 1,
            batch: 0,
            step: 0,
            partial: EpochAcc::default(),
            history: Vec::new(),
            steps: Vec::new(),
            rng_counters: Vec::new(),
            best: Monitor::new(&best, exp.train.checkpoint.mode, 0.0),
            early: exp
                .train
                .early_stopping
                .as_ref()
                .map(|e| Monitor::new(&e.monitor, e.mode, e.min_delta)),
            finished: false,
        };
        let mut trainer = Trainer::new(model, criterion, optimizer)
            .epochs(exp.train.epochs)
            .metrics(exp.metrics.clone());
        if let Some(s) = scheduler {
            let at = interval(exp, s.as_ref());
            trainer = trainer.scheduler(s);
            trainer.interval = at;
        }
        trainer.clip_grad_norm = exp.train.clip_grad_norm.clone();
        trainer.clip_grad_value = exp.train.clip_grad_value.clone();
        trainer.test_loader = test_loader;
        Ok(Self {
            exp,
            opts,
            device,
            trainer,
            task,
            classes,
            train_loader: Arc::new(train_loader),
            dir,
            state,
            wall: Instant::now(),
            last_save: Instant::now(),
            last_plot: Instant::now(),
            pending_best: None,
        })
    }

    fn checkpoints_dir(&self) -> PathBuf {
        self.dir.path.join("checkpoints")
    }

    /// Writes a `best` kept in memory since its epoch, if any.
    fn flush_best(&mut self) -> Result<(), RunError> {
        if let Some((id, ckpt)) = self.pending_best.take() {
            checkpoint::save(&self.checkpoints_dir(), &id, &ckpt, &["best"])?;
        }
        Ok(())
    }

    /// Writes a checkpoint `id` and points `links` at it.
    fn save(&self, id: &str, links: &[&str]) -> Result<(), RunError> {
        let ckpt = self.snapshot()?;
        checkpoint::save(&self.checkpoints_dir(), id, &ckpt, links)?;
        tracing::debug!(
            step = self.state.step,
            "checkpoint {id} ({})",
            links.join(", ")
        );
        Ok(())
    }

    /// The checkpoint of the current state, in memory.
    fn snapshot(&self) -> Result<Checkpoint<TrainState>, RunError> {
        let mut optimizer = self.trainer.optimizer.state_dict()?;
        if let Some(s) = &self.trainer.scheduler {
            optimizer.extend(
                s.state_dict()
                    .into_iter()
                    .map(|(k, t)| (format!("{SCHEDULER_PREFIX}{k}"), t)),
            );
        }
        let mut state = self.state.clone();
        state.rng_counters = self.trainer.model.rng_counters();
        // Copies, so a snapshot kept in memory does not follow later in-place updates.
        let model = model_state(&self.trainer.model)
            .into_iter()
            .map(|(k, t)| t.copy().map(|t| (k, t)))
            .collect::<candle_core::Result<_>>()?;
        Ok(Checkpoint {
            model,
            optimizer,
            state,
        })
    }

    /// Restores weights, optimizer state and training state from a checkpoint folder.
    fn restore(&mut self, ckpt_dir: &Path) -> Result<(), RunError> {
        let ckpt: Checkpoint<TrainState> = checkpoint::load(ckpt_dir, &self.device)?;
        if ckpt.state.config_md5 != self.state.config_md5 {
            return Err(RunError::RunDir(format!(
                "{}: the checkpoint was written for another config (MD5 {}, config.toml has {})",
                ckpt_dir.display(),
                ckpt.state.config_md5,
                self.state.config_md5
            )));
        }
        load_model_state(
            &self.trainer.model,
            ckpt.model,
            &ckpt_dir.join(checkpoint::MODEL_FILE),
        )?;
        let (sched, optim): (Vec<_>, Vec<_>) = ckpt
            .optimizer
            .into_iter()
            .partition(|(k, _)| k.starts_with(SCHEDULER_PREFIX));
        self.trainer.optimizer.load_state_dict(&optim)?;
        if let Some(s) = &mut self.trainer.scheduler {
            let sched: Vec<(String, Tensor)> = sched
                .into_iter()
                .map(|(k, t)| (k[SCHEDULER_PREFIX.len()..].to_string(), t))
                .collect();
            s.load_state_dict(&sched)?;
        }
        self.trainer
            .model
            .set_rng_counters(&ckpt.state.rng_counters)
            .map_err(|e| RunError::RunDir(format!("{}: {e}", ckpt_dir.display())))?;
        self.state = ckpt.state;
        Ok(())
    }

    /// Redraws `plots/*.png` from the history; a plot that fails is a warning.
    fn draw_plots(&self) {
        let dir = self.dir.path.join("plots");
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::warn!("cannot create {}: {e}", dir.display());
            return;
        }
        let h = &self.state.history;
        let series = |name: &str, f: &dyn Fn(&EpochStats) -> Option<f64>| plots::Series {
            name: name.to_string(),
            points: h
                .iter()
                .filter_map(|e| f(e).map(|v| (e.epoch as f64, v)))
                .collect(),
        };
        let steps = |name: &str, f: &dyn Fn(&(u64, f64, f64)) -> f64| plots::Series {
            name: name.to_string(),
            points: self
                .state
                .steps
                .iter()
                .map(|s| (s.0 as f64, f(s)))
                .collect(),
        };
        let results = [
            plots::line_chart(
                &dir.join("loss.png"),
                "loss",
                "epoch",
                "loss",
                &[
                    series("train", &|e| Some(e.train_loss)),
                    series("test", &|e| e.test_loss),
                ],
            ),
            plots::line_chart(
                &dir.join("accuracy.png"),
                "accuracy",
                "epoch",
                "accuracy",
                &[
                    series("train", &|e| e.train_acc),
                    series("test", &|e| e.test_acc),
                ],
            ),
            plots::line_chart(
                &dir.join("train_loss_steps.png"),
                "running training loss",
                "step",
                "loss",
                &[steps("train", &|s| s.1)],
            ),
            plots::line_chart(
                &dir.join("lr.png"),
                "learning rate",
                "step",
                "lr",
                &[steps("lr", &|s| s.2)],
            ),
        ];
        for r in results {
            if let Err(e) = r {
                tracing::warn!("{e}");
            }
        }
    }

    fn write_meta(&self, started: &str, ended: Option<String>) -> Result<(), RunError> {
        let meta = serde_json::json!({
            "wick_version": env!("CARGO_PKG_VERSION"),
            "name": self.exp.name,
            "seed": self.exp.seed,
            "config_md5": self.state.config_md5,
            "device": device_name(&self.device),
            "device_requested": self.exp.device.to_string(),
            "overrides": self.opts.overrides,
            "started": started,
            "ended": ended,
            "peak_rss_mib": logging::peak_rss_mib(),
        });
        self.dir.write_file(
            "meta.json",
            serde_json::to_string_pretty(&meta)
                .unwrap_or_default()
                .as_bytes(),
        )?;
        Ok(())
    }

    /// Trains from the current state to the last epoch (or until stopped): the course's
    /// `train(epoch)` then `test()` for every epoch, then the epoch's bookkeeping.
    fn train(&mut self) -> Result<Option<String>, RunError> {
        let mut stopped_early = None;
        while self.state.epoch <= self.exp.train.epochs && !self.state.finished {
            let epoch = self.state.epoch;
            let mut stats = self.train_epoch(epoch)?;
            self.test_epoch(&mut stats)?;
            if let Some(msg) = self.end_of_epoch(stats)? {
                stopped_early = Some(msg);
            }
        }
        Ok(stopped_early)
    }

    /// `train(epoch)`: every remaining batch of the epoch, then its statistics.
    fn train_epoch(&mut self, epoch: usize) -> Result<EpochStats, RunError> {
        let bar = logging::progress_bar(self.train_loader.len() as u64, self.opts.progress);
        bar.set_prefix(format!("epoch {epoch}/{}", self.exp.train.epochs));
        bar.set_position(self.state.batch as u64);
        let mut pass = Pass {
            epoch,
            start: self.state.batch,
            t0: Instant::now(),
            last_line: Instant::now(),
            pending: PendingMetrics::default(),
            bar,
        };
        let result = self.train_batches(&mut pass);
        pass.bar.finish_and_clear();
        result?;
        let batch_idx = self.state.batch;
        self.flush_pending(&mut pass.pending, epoch, batch_idx)?;
        let acc = std::mem::take(&mut self.state.partial);
        Ok(self.epoch_stats(epoch, &acc, acc.seconds + pass.t0.elapsed().as_secs_f64()))
    }

    /// The batch loop of [`Session::train_epoch`].
    fn train_batches(&mut self, pass: &mut Pass) -> Result<(), RunError> {
        let loader = Arc::clone(&self.train_loader);
        let mut batches = loader.epoch_from(pass.epoch as u64 - 1, pass.start);
        let mut batch_idx = pass.start;
        loop {
            let wait = Instant::now();
            let Some(batch) = batches.next() else { break };
            self.state.partial.data_seconds += wait.elapsed().as_secs_f64();
            let l = self.train_step(&batch?, pass, batch_idx)?;
            self.after_step(pass, batch_idx, l)?;
            batch_idx += 1;
        }
        Ok(())
    }

    /// One optimizer step: forward, loss, backward, clipping, `optimizer.step()` and a
    /// per-batch scheduler; the batch's loss and hits are added to the epoch's sums.
    /// Returns the loss (NaN while it stays on the device, see `pending.rs`).
    fn train_step(
        &mut self,
        batch: &wick_data::Batch,
        pass: &mut Pass,
        batch_idx: usize,
    ) -> Result<f64, RunError> {
        let exp = self.exp;
        let out = self
            .trainer
            .step(batch)
            .map_err(|e| e.at(pass.epoch, batch_idx + 1, self.state.step + 1))?;
        let (logits, target, loss) = (&out.output, &out.target, &out.loss);
        let deferred = out.value.is_none();
        let l = out.value.unwrap_or(f64::NAN);
        let st = &mut self.state;
        st.step += 1;
        st.batch = batch_idx + 1;
        let acc = &mut st.partial;
        if deferred {
            let (hits, counted) = self.task.hits_tensor(logits, target)?;
            pass.pending
                .push(loss, batch.len, summed(exp), hits.as_ref())?;
            acc.counted += counted;
        } else {
            let (hits, counted) = self.task.hits(logits, target)?;
            acc.running += l;
            acc.loss_sum += batch_total(l, batch.len, summed(exp));
            acc.hits += hits;
            acc.counted += counted;
        }
        acc.seen += batch.len;
        Ok(l)
    }

    /// After a step: progress, the running-loss line every `log_interval` batches, and
    /// a checkpoint when one is due (every `every_n_steps`, or Ctrl-C).
    fn after_step(
        &mut self,
        pass: &mut Pass,
        batch_idx: usize,
        mut l: f64,
    ) -> Result<(), RunError> {
        let log_interval = self.exp.train.log_interval;
        let every_n_steps = self.exp.train.checkpoint.every_n_steps;
        pass.bar.inc(1);
        let stop = self.opts.stop.load(Ordering::SeqCst);
        let plain_due =
            !self.opts.progress && pass.last_line.elapsed().as_secs_f64() >= PLAIN_PROGRESS_SECS;
        let save_due = stop || (every_n_steps > 0 && self.state.step.is_multiple_of(every_n_steps));
        let line_due = batch_idx % log_interval == log_interval - 1;
        if !pass.pending.is_empty()
            && (plain_due || save_due || batch_idx.is_multiple_of(20) || line_due)
        {
            if let Some(last) = self.flush_pending(&mut pass.pending, pass.epoch, batch_idx + 1)? {
                l = last;
            }
        }
        if plain_due {
            // No progress bar (output to a file or CI): a plain line now and then.
            pass.last_line = Instant::now();
            let total = self.train_loader.len();
            let done = batch_idx + 1 - pass.start;
            let elapsed = pass.t0.elapsed().as_secs_f64();
            let left = total.saturating_sub(batch_idx + 1);
            tracing::info!(
                "epoch {}: {}/{total} batches, loss {l:.3}, eta {:.0} s",
                pass.epoch,
                batch_idx + 1,
                elapsed / done as f64 * left as f64
            );
        }
        if batch_idx.is_multiple_of(20) {
            pass.bar.set_message(format!("loss {l:.3}"));
        }
        if line_due {
            self.log_running_loss(pass.epoch, batch_idx)?;
        }
        if save_due {
            self.save_mid_epoch(pass, stop)?;
        }
        Ok(())
    }

    /// Reads back the loss and hits kept on the device, adds them to the epoch's sums
    /// and returns the last batch's loss; a non-finite loss is [`RunError::Diverged`].
    fn flush_pending(
        &mut self,
        pending: &mut PendingMetrics,
        epoch: usize,
        batch: usize,
    ) -> Result<Option<f64>, RunError> {
        let Some(f) = pending.flush()? else {
            return Ok(None);
        };
        if !f.running.is_finite() {
            return Err(RunError::Diverged {
                value: if f.last.is_finite() {
                    f.running
                } else {
                    f.last
                },
                epoch,
                batch,
                step: self.state.step,
            });
        }
        let acc = &mut self.state.partial;
        acc.running += f.running;
        acc.loss_sum += f.loss_sum;
        acc.hits += f.hits;
        Ok(Some(f.last))
    }

    /// `[epoch, batch] loss: x.xxx`, the mean over the last `log_interval` batches, as
    /// a log line and a `step` row of the metrics files.
    fn log_running_loss(&mut self, epoch: usize, batch_idx: usize) -> Result<(), RunError> {
        let log_interval = self.exp.train.log_interval;
        let st = &mut self.state;
        let mean = st.partial.running / log_interval as f64;
        st.partial.running = 0.0;
        tracing::info!(
            epoch,
            batch = batch_idx + 1,
            loss = mean,
            "[{}, {:5}] loss: {:.3}",
            epoch,
            batch_idx + 1,
            mean
        );
        let row = MetricRow {
            kind: "step",
            epoch,
            step: st.step,
            batch: Some(batch_idx + 1),
            train_loss: Some(mean),
            lr: Some(self.trainer.optimizer.lr(0)),
            ..Default::default()
        };
        self.dir.log_metrics(&row)?;
        self.state
            .steps
            .push((row.step, mean, self.trainer.optimizer.lr(0)));
        Ok(())
    }

    /// A mid-epoch `last` checkpoint (and a `best` kept in memory); after Ctrl-C the
    /// run stops here with [`RunError::Interrupted`]. The time spent saving is not
    /// counted as training time.
    fn save_mid_epoch(&mut self, pass: &Pass, stop: bool) -> Result<(), RunError> {
        self.state.partial.seconds += pass.t0.elapsed().as_secs_f64();
        let id = format!("step-{:09}", self.state.step);
        self.flush_best()?;
        self.save(&id, &["last"])?;
        self.last_save = Instant::now();
        self.state.partial.seconds -= pass.t0.elapsed().as_secs_f64();
        if stop {
            return Err(RunError::Interrupted {
                epoch: pass.epoch,
                step: self.state.step,
                dir: self.dir.path.display().to_string(),
            });
        }
        Ok(())
    }

    /// The epoch's training statistics from its sums, logged.
    fn epoch_stats(&self, epoch: usize, acc: &EpochAcc, seconds: f64) -> EpochStats {
        let n = acc.seen.max(1) as f64;
        let stats = EpochStats {
            epoch,
            train_loss: acc.loss_sum / n,
            train_acc: self
                .task
                .has_accuracy()
                .then(|| acc.hits / acc.counted.max(1) as f64),
            test_loss: None,
            test_acc: None,
            seconds,
            data_seconds: acc.data_seconds,
            samples_per_sec: acc.seen as f64 / seconds.max(1e-9),
            extra: BTreeMap::new(),
        };
        let waiting = acc.data_seconds / seconds.max(1e-9);
        if waiting > INPUT_BOUND && seconds > 1.0 {
            tracing::warn!(
                "epoch {epoch} is input-bound: {:.0} % of its {seconds:.1} s went to waiting for data (raise data.train.num_workers)",
                100.0 * waiting
            );
        }
        tracing::info!(
            epoch,
            train_loss = stats.train_loss,
            seconds,
            data_seconds = stats.data_seconds,
            samples_per_sec = stats.samples_per_sec,
            "epoch {epoch}: train loss {:.4}{}, {:.1} s ({:.1} s waiting for data), {:.0} samples/s",
            stats.train_loss,
            stats
                .train_acc
                .map(|a| format!(", accuracy {:.2} %", 100.0 * a))
                .unwrap_or_default(),
            seconds,
            stats.data_seconds,
            stats.samples_per_sec
        );
        stats
    }

    /// `test()`: the test split's loss, accuracy and `[metrics]`, into `stats`; the
    /// confusion matrix when asked for.
    fn test_epoch(&mut self, stats: &mut EpochStats) -> Result<(), RunError> {
        let Some(ev) = self.trainer.evaluate()? else {
            return Ok(());
        };
        let mc = &self.exp.metrics;
        stats.record_test(&ev);
        if let Some(counts) = &ev.counts {
            stats
                .extra
                .extend(counts.metrics("test_", &self.classes, mc.per_class));
            if mc.confusion_matrix {
                self.dir
                    .write_file("confusion_matrix.csv", counts.csv(&self.classes).as_bytes())?;
                let png = self.dir.path.join("plots").join("confusion_matrix.png");
                let _ = std::fs::create_dir_all(self.dir.path.join("plots"));
                if let Err(e) = plots::confusion_matrix(&png, &counts.matrix, &self.classes) {
                    tracing::warn!("{e}");
                }
            }
        }
        for (k, v) in &stats.extra {
            tracing::info!(metric = %k, value = v, "{k}: {v:.4}");
        }
        log_eval(&ev, stats.epoch);
        Ok(())
    }

    /// After `test()`: the epoch's metrics row, a per-epoch scheduler step, `best`,
    /// early stopping, plots and checkpoints. Returns the early-stopping message when
    /// the run stops here.
    fn end_of_epoch(&mut self, stats: EpochStats) -> Result<Option<String>, RunError> {
        let epoch = stats.epoch;
        self.dir.log_metrics(&MetricRow {
            kind: "epoch",
            epoch,
            step: self.state.step,
            train_loss: Some(stats.train_loss),
            train_acc: stats.train_acc,
            test_loss: stats.test_loss,
            test_acc: stats.test_acc,
            lr: Some(self.trainer.optimizer.lr(0)),
            seconds: Some(stats.seconds),
            samples_per_sec: Some(stats.samples_per_sec),
            extra: stats.extra.clone(),
            ..Default::default()
        })?;
        self.trainer.epoch_scheduler_step(&stats)?;
        let mut links = vec!["last"];
        let best_metric = self.state.best.metric.clone();
        if let Some(v) = stats.metric(&best_metric) {
            if self.state.best.update(v, epoch) {
                links.push("best");
                tracing::debug!("best {best_metric} so far: {v:.4} (epoch {epoch})");
            }
        }
        let stopped_early = self.early_stop(&stats);
        self.state.history.push(stats);
        self.state.epoch += 1;
        self.state.batch = 0;
        if self.state.epoch > self.exp.train.epochs {
            self.state.finished = true;
        }
        if self.state.finished || self.last_plot.elapsed().as_secs_f64() >= PLOT_EVERY_SECS {
            self.draw_plots();
            self.last_plot = Instant::now();
        }
        self.save_epoch_end(epoch, &links)?;
        Ok(stopped_early)
    }

    /// Early stopping: the monitored metric has not improved for `patience` epochs.
    fn early_stop(&mut self, stats: &EpochStats) -> Option<String> {
        let epoch = stats.epoch;
        let early = self.state.early.as_mut()?;
        let v = stats.metric(&early.metric)?;
        early.update(v, epoch);
        let patience = self
            .exp
            .train
            .early_stopping
            .as_ref()
            .map_or(0, |e| e.patience);
        if early.bad_epochs < patience || epoch >= self.exp.train.epochs {
            return None;
        }
        let msg = format!(
            "early stopping after epoch {epoch}: {} has not improved for {patience} epochs (best {:.4} at epoch {})",
            early.metric,
            early.best.map_or(f64::NAN, |b| b.0),
            early.best.map_or(0, |b| b.1),
        );
        tracing::info!("{msg}");
        self.state.finished = true;
        Some(msg)
    }

    /// Checkpoints at epoch ends, at most one a second unless asked for: short epochs
    /// (a few inline points) would spend their time in fsync otherwise. A new best
    /// that is not written at once is kept in memory until the next.
    fn save_epoch_end(&mut self, epoch: usize, links: &[&str]) -> Result<(), RunError> {
        let every = self.exp.train.checkpoint.every_n_epochs;
        let kept = every > 0 && epoch.is_multiple_of(every);
        let id = if kept {
            format!("epoch-{epoch:04}")
        } else {
            format!("step-{:09}", self.state.step)
        };
        let due = kept
            || self.state.finished
            || self.last_save.elapsed().as_secs_f64() >= SAVE_EVERY_SECS;
        if due {
            self.flush_best()?;
            self.save(&id, links)?;
            self.last_save = Instant::now();
        } else if links.contains(&"best") {
            let snapshot = self.snapshot()?;
            self.pending_best = Some((id, snapshot));
        }
        Ok(())
    }

    /// `[predict]`: the trained model on the listed inputs, printed (softmax
    /// probabilities and the class for classification).
    fn predict(&self) -> Result<(), RunError> {
        let Some(p) = &self.exp.predict else {
            return Ok(());
        };
        let flat = p
            .inputs
            .flatten("inputs")
            .map_err(|e| RunError::Mismatch(e.to_string()))?;
        let data: Vec<f32> = flat.data.iter().map(|&v| v as f32).collect();
        let x = Tensor::from_vec(data, flat.shape.clone(), &self.device)?;
        let out = self.trainer.model.forward(&x, false)?.detach();
        let per = flat.shape[1..].iter().product::<usize>().max(1);
        let rows = out
            .to_dtype(DType::F32)?
            .flatten_to(0)?
            .reshape((flat.shape[0], ()))?;
        let probs = match self.task {
            Task::Classify => Some(candle_core::Tensor::exp(&wick_losses::log_softmax(
                &rows, 1,
            )?)?),
            _ => None,
        };
        for i in 0..flat.shape[0] {
            let input: Vec<String> = flat.data[i * per..(i + 1) * per]
                .iter()
                .map(|v| format!("{v}"))
                .collect();
            let output: Vec<f32> = rows.get(i)?.to_vec1()?;
            let shown: Vec<String> = output.iter().map(|v| format!("{v:.4}")).collect();
            let extra = match (&probs, self.task) {
                (Some(p), _) => {
                    let p: Vec<f32> = p.get(i)?.to_vec1()?;
                    let (best, pb) =
                        p.iter()
                            .enumerate()
                            .fold((0, f32::MIN), |a, (j, &v)| if v > a.1 { (j, v) } else { a });
                    let name = self
                        .classes
                        .get(best)
                        .cloned()
                        .unwrap_or_else(|| best.to_string());
                    format!(" -> class {name} (p = {pb:.4})")
                }
                (None, Task::Binary { logits: true }) => {
                    let p: Vec<String> = output
                        .iter()
                        .map(|&z| format!("{:.4}", 1.0 / (1.0 + (-z).exp())))
                        .collect();
                    format!(" -> p = [{}]", p.join(", "))
                }
                _ => String::new(),
            };
            tracing::info!(
                "predict [{}]: [{}]{extra}",
                input.join(", "),
                shown.join(", ")
            );
        }
        Ok(())
    }

    fn finish(self, started: &str, stopped_early: Option<String>) -> Result<RunReport, RunError> {
        self.predict()?;
        let ended = chrono::Local::now().to_rfc3339();
        self.write_meta(started, Some(ended))?;
        let h = &self.state.history;
        let seconds: f64 = h.iter().map(|e| e.seconds).sum();
        let samples: f64 = h.iter().map(|e| e.samples_per_sec * e.seconds).sum();
        let best = match self.state.best.best {
            Some((v, e)) => format!("best {} {v:.4} at epoch {e}", self.state.best.metric),
            None => "no best epoch".to_string(),
        };
        tracing::info!(
            "summary: {best}; {} epochs, {seconds:.1} s training ({:.0} samples/s), {:.1} s wall",
            h.len(),
            samples / seconds.max(1e-9),
            self.wall.elapsed().as_secs_f64()
        );
        tracing::info!("done: {}", self.dir.path.display());
        logging::close_log_file();
        Ok(RunReport {
            dir: self.dir.path,
            epochs: self.state.history,
            stopped_early,
        })
    }
}

/// Trains an experiment and writes its run directory.
pub fn run(exp: &Experiment, opts: &RunOptions) -> Result<RunReport, RunError> {
    let dir = RunDir::create(&opts.runs_dir, &exp.name, &exp.extra_metrics())?;
    logging::log_to_file(&dir.path.join("log.jsonl"))?;
    let mut session = Session::new(exp, opts, dir)?;
    let config = exp.to_toml();
    session.dir.write_file("config.toml", config.as_bytes())?;
    let summary = session.trainer.model.summary();
    session
        .dir
        .write_file("summary.txt", format!("{summary}\n").as_bytes())?;
    if !session.classes.is_empty() {
        let class_to_idx: serde_json::Map<String, serde_json::Value> = session
            .classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), serde_json::Value::from(i)))
            .collect();
        let json = serde_json::json!({ "classes": session.classes, "class_to_idx": class_to_idx });
        session.dir.write_file(
            crate::rundir::CLASSES_FILE,
            serde_json::to_string_pretty(&json)
                .unwrap_or_default()
                .as_bytes(),
        )?;
    }
    let started = chrono::Local::now().to_rfc3339();
    session.write_meta(&started, None)?;
    tracing::info!(run_dir = %session.dir.path.display(), "run directory: {}", session.dir.path.display());
    let stopped = session.train()?;
    session.finish(&started, stopped)
}

/// Reads the resolved experiment of a run directory (`config.toml`).
pub fn load_run_config(run_dir: &Path) -> Result<Experiment, RunError> {
    let path = run_dir.join("config.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        RunError::RunDir(format!(
            "{}: {e} (is {} a run directory?)",
            path.display(),
            run_dir.display()
        ))
    })?;
    Experiment::from_toml(&text).map_err(|d| {
        RunError::RunDir(format!(
            "{}: {}",
            path.display(),
            crate::diagnostic::render(&path.display().to_string(), &text, &[d], false)
        ))
    })
}

/// Continues the run in `run_dir` from its `last` checkpoint (`wick run --resume`),
/// mid-epoch included, giving the same numbers as an uninterrupted run (CPU).
pub fn resume(run_dir: &Path, opts: &RunOptions) -> Result<RunReport, RunError> {
    let exp = load_run_config(run_dir)?;
    let ckpts = run_dir.join("checkpoints");
    let last = checkpoint::resolve(&ckpts, "last").ok_or_else(|| {
        RunError::RunDir(format!(
            "{}: no `last` checkpoint to resume from",
            ckpts.display()
        ))
    })?;
    // Peek at the state first: the run directory's metric files are cut back to it.
    let peek: Checkpoint<TrainState> = checkpoint::load(&last, &Device::Cpu)?;
    let dir = RunDir::reopen(
        run_dir,
        peek.state.step,
        peek.state.history.len(),
        &exp.extra_metrics(),
    )?;
    logging::log_to_file(&dir.path.join("log.jsonl"))?;
    let mut session = Session::new(&exp, opts, dir)?;
    session.restore(&last)?;
    let started = std::fs::read_to_string(run_dir.join("meta.json"))
        .ok()
        .and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok())
        .and_then(|v| v.get("started")?.as_str().map(str::to_string))
        .unwrap_or_else(|| chrono::Local::now().to_rfc3339());
    if session.state.finished {
        tracing::info!("{} has already finished", run_dir.display());
    } else {
        tracing::info!(
            "resuming {} at epoch {}, batch {} (step {})",
            run_dir.display(),
            session.state.epoch,
            session.state.batch,
            session.state.step
        );
    }
    let stopped = session.train()?;
    session.finish(&started, stopped)
}

/// Evaluates a checkpoint of a run directory (`wick eval`): `which` is `last`, `best`
/// or a checkpoint folder name (`epoch-0003`). Uses the test split, else train.
pub fn eval(run_dir: &Path, which: &str, opts: &RunOptions) -> Result<Eval, RunError> {
    let exp = load_run_config(run_dir)?;
    let ckpts = run_dir.join("checkpoints");
    let ckpt_dir = checkpoint::resolve(&ckpts, which)
        .or_else(|| Some(ckpts.join(which)).filter(|p| p.is_dir()))
        .ok_or_else(|| RunError::RunDir(format!("{}: no checkpoint `{which}`", ckpts.display())))?;
    let device = exp.device.open()?;
    let model = build_model(&exp, &device)?;
    let file = ckpt_dir.join(checkpoint::MODEL_FILE);
    load_model_state(&model, checkpoint::load_model(&file, &device)?, &file)?;
    let (train_ds, test_ds) = load_data(&exp, opts)?;
    let (split, ds) = match (&exp.data.test, test_ds) {
        (Some(t), Some(ds)) => (t, ds),
        _ => (&exp.data.train, train_ds),
    };
    let loader = DataLoader::new(
        ds,
        Compose::from_configs(&split.transforms)?,
        &split.loader,
        exp.seed,
        device.clone(),
    )?;
    let criterion = exp.loss.build()?;
    let ev = evaluate(
        &model,
        criterion.as_ref(),
        Task::of(&exp.loss)?,
        &loader,
        summed(&exp),
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
