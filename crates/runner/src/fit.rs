//! [`Trainer`]: the training loop as a library type, from Rust with no experiment file,
//! as burn's `Learner` or Lightning's `Trainer`.
//!
//! ```ignore
//! let report = Trainer::new(model, loss, optimizer)
//!     .train_loader(train)
//!     .test_loader(test)
//!     .epochs(10)
//!     .callback(Checkpoints::every_epoch("runs/mine"))
//!     .fit()?;
//! ```
//!
//! One step is the course's: `optimizer.zero_grad(); loss = criterion(model(x), y);
//! loss.backward(); optimizer.step()` (gradient clipping between, a per-batch
//! scheduler after); an epoch is every batch of the training loader, then `test()` on
//! the test loader, then a per-epoch scheduler. The TOML runner trains through the
//! same [`Trainer::step`] and [`Trainer::evaluate`], so the same model, data and seed
//! give the same weights either way. Around the loop, [`Callback`]s observe steps and
//! epochs and may stop the run.

use crate::checkpoint::{self, Checkpoint};
use crate::error::RunError;
use crate::metrics::{ClassCounts, MetricsConfig, RegressionSums};
use crate::monitor::{Mode, Monitor};
use crate::task::Task;
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use wick_data::{Batch, DataLoader};
use wick_losses::{Loss, Reduction};
use wick_nn::Layer;
use wick_optim::{ClipGradNormConfig, ClipGradValueConfig, Interval, Optimizer, Scheduler};

/// One epoch's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's samples.
    pub train_loss: f64,
    /// Training accuracy in [0, 1] (none for regression).
    pub train_acc: Option<f64>,
    /// Mean test loss, when there is a test split.
    pub test_loss: Option<f64>,
    /// Test accuracy in [0, 1].
    pub test_acc: Option<f64>,
    /// Seconds spent in the training pass.
    pub seconds: f64,
    /// Of those, seconds spent waiting for the loader's next batch.
    #[serde(default)]
    pub data_seconds: f64,
    /// Training samples per second.
    pub samples_per_sec: f64,
    /// `[metrics]` and regression metrics by name (`test_top5_acc`, `test_mae`).
    #[serde(default)]
    pub extra: BTreeMap<String, f64>,
}

impl EpochStats {
    /// Records `test()`'s loss, accuracy and metrics (named `test_<name>`).
    pub fn record_test(&mut self, ev: &Eval) {
        self.test_loss = Some(ev.loss);
        self.test_acc = ev.has_accuracy.then(|| ev.accuracy());
        self.extra = ev
            .extra
            .iter()
            .map(|(k, v)| (format!("test_{k}"), *v))
            .collect();
    }

    /// A metric by its name (`train_loss`, `test_acc`, `test_top5_acc`, ...).
    pub fn metric(&self, name: &str) -> Option<f64> {
        match name {
            "train_loss" => Some(self.train_loss),
            "train_acc" => self.train_acc,
            "test_loss" => self.test_loss,
            "test_acc" => self.test_acc,
            _ => self.extra.get(name).copied(),
        }
    }
}

/// What `test()` measures.
#[derive(Debug, Clone, PartialEq)]
pub struct Eval {
    /// Mean per-sample loss.
    pub loss: f64,
    /// Correct predictions (samples; outputs for multi-label).
    pub hits: u64,
    /// Predictions scored.
    pub counted: usize,
    /// Samples seen.
    pub total: usize,
    /// Whether predictions have an accuracy (not for regression).
    pub has_accuracy: bool,
    /// The confusion matrix and top-k hits (classification).
    pub counts: Option<ClassCounts>,
    /// Regression metrics (`mae`, `mse`, `r2`) and the `[metrics]` ones, unprefixed.
    pub extra: BTreeMap<String, f64>,
}

impl Eval {
    /// Accuracy in [0, 1].
    pub fn accuracy(&self) -> f64 {
        self.hits as f64 / self.counted.max(1) as f64
    }
}

/// What a step produced: the loss (0-d, on the model's device), the model's output
/// (detached) and the target in the loss's form.
pub struct StepOut {
    /// The loss.
    pub loss: Tensor,
    /// The batch's loss read back (`None` on a device where it stays until needed).
    pub value: Option<f64>,
    /// The model's output.
    pub output: Tensor,
    /// The target, as the loss took it.
    pub target: Tensor,
}

/// A step that could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The loss is NaN or infinite; nothing was updated.
    #[error("the loss is {0}")]
    NonFinite(f64),
    /// Anything else.
    #[error(transparent)]
    Run(#[from] RunError),
}

impl StepError {
    /// The run's error for a step of `epoch`, batch `batch` (1-based), that would have
    /// been optimizer step `step`: a non-finite loss is [`RunError::Diverged`].
    pub(crate) fn at(self, epoch: usize, batch: usize, step: u64) -> RunError {
        match self {
            Self::NonFinite(value) => RunError::Diverged {
                value,
                epoch,
                batch,
                step,
            },
            Self::Run(e) => e,
        }
    }
}

/// Whether the run goes on after a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop after this epoch (early stopping).
    Stop,
}

/// An observer of the loop (Lightning's `Callback`): it sees every step and every
/// epoch, with read access to the trainer, and may stop the run at an epoch's end.
/// Every method has a default that does nothing.
pub trait Callback {
    /// After optimizer step `step` (1-based) of `epoch`, whose loss is `loss` when it
    /// was read back.
    fn on_step_end(&mut self, epoch: usize, step: u64, loss: Option<f64>) -> Result<(), RunError> {
        let _ = (epoch, step, loss);
        Ok(())
    }
    /// After an epoch's training pass, `test()` and scheduler step.
    fn on_epoch_end(&mut self, view: &View<'_>, stats: &EpochStats) -> Result<Control, RunError> {
        let _ = (view, stats);
        Ok(Control::Continue)
    }
}

/// What a callback can see of the trainer.
pub struct View<'a> {
    /// The model.
    pub model: &'a dyn Layer,
    /// The optimizer.
    pub optimizer: &'a dyn Optimizer,
    /// The scheduler, if any.
    pub scheduler: Option<&'a dyn Scheduler>,
    /// Optimizer steps so far.
    pub step: u64,
    /// Every finished epoch.
    pub history: &'a [EpochStats],
}

/// What [`Trainer::fit`] reports.
#[derive(Debug, Clone)]
pub struct FitReport {
    /// Every epoch.
    pub epochs: Vec<EpochStats>,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Whether a callback stopped the run before its last epoch.
    pub stopped_early: bool,
}

/// The model, loss, optimizer, scheduler and loaders of a run, and the loop over them
/// (see the module doc).
pub struct Trainer<M: Layer = Box<dyn Layer>> {
    pub(crate) model: M,
    pub(crate) loss: Box<dyn Loss>,
    pub(crate) optimizer: Box<dyn Optimizer>,
    pub(crate) scheduler: Option<Box<dyn Scheduler>>,
    /// When the scheduler steps (its own interval unless overridden).
    pub(crate) interval: Interval,
    pub(crate) train_loader: Option<Arc<DataLoader>>,
    pub(crate) test_loader: Option<DataLoader>,
    pub(crate) epochs: usize,
    pub(crate) clip_grad_norm: Option<ClipGradNormConfig>,
    pub(crate) clip_grad_value: Option<ClipGradValueConfig>,
    pub(crate) metrics: MetricsConfig,
    callbacks: Vec<Box<dyn Callback>>,
}

impl<M: Layer> Trainer<M> {
    /// A trainer of `model` with `loss` and `optimizer` (built over the model's
    /// parameters), for one epoch, without loaders yet.
    pub fn new(model: M, loss: Box<dyn Loss>, optimizer: Box<dyn Optimizer>) -> Self {
        Self {
            model,
            loss,
            optimizer,
            scheduler: None,
            interval: Interval::Epoch,
            train_loader: None,
            test_loader: None,
            epochs: 1,
            clip_grad_norm: None,
            clip_grad_value: None,
            metrics: MetricsConfig::default(),
            callbacks: Vec::new(),
        }
    }

    /// An LR scheduler, stepped at its own interval (per epoch, or per batch for
    /// OneCycleLR and CyclicLR).
    pub fn scheduler(mut self, scheduler: Box<dyn Scheduler>) -> Self {
        self.interval = scheduler.interval();
        self.scheduler = Some(scheduler);
        self
    }

    /// The training loader.
    pub fn train_loader(mut self, loader: DataLoader) -> Self {
        self.train_loader = Some(Arc::new(loader));
        self
    }

    /// The loader `test()` runs after every epoch.
    pub fn test_loader(mut self, loader: DataLoader) -> Self {
        self.test_loader = Some(loader);
        self
    }

    /// Passes over the training set (default 1).
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// `clip_grad_norm_` before every step.
    pub fn clip_grad_norm(mut self, clip: ClipGradNormConfig) -> Self {
        self.clip_grad_norm = Some(clip);
        self
    }

    /// `clip_grad_value_` before every step.
    pub fn clip_grad_value(mut self, clip: ClipGradValueConfig) -> Self {
        self.clip_grad_value = Some(clip);
        self
    }

    /// Extra test metrics (top-k accuracy, a metric collection).
    pub fn metrics(mut self, metrics: MetricsConfig) -> Self {
        self.metrics = metrics;
        self
    }

    /// Adds an observer of the loop.
    pub fn callback(mut self, callback: impl Callback + 'static) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// What the loss makes of the model's output.
    pub(crate) fn task(&self) -> Result<Task, RunError> {
        Ok(Task::of_loss(self.loss.as_ref())?)
    }

    /// Whether the loss sums over the batch (`reduction = "sum"`).
    pub(crate) fn summed(&self) -> bool {
        self.loss.reduction() == Reduction::Sum
    }

    /// One optimizer step on `batch`: forward in training mode, the loss, backward,
    /// clipping, `optimizer.step()`, and a per-batch scheduler. A non-finite loss read
    /// back on the CPU stops before anything is updated.
    pub fn step(&mut self, batch: &Batch) -> Result<StepOut, StepError> {
        let task = self.task()?;
        let output = self
            .model
            .forward(&batch.input, true)
            .map_err(RunError::from)?;
        let target = task
            .target(&batch.target, &output)
            .map_err(RunError::from)?;
        let loss = self
            .loss
            .forward(&output, &target)
            .map_err(RunError::from)?;
        let value = if wick_tensor::device_path::cpu_kernel(&loss) {
            let l = f64::from(
                loss.to_dtype(DType::F32)
                    .and_then(|l| l.to_scalar::<f32>())
                    .map_err(RunError::from)?,
            );
            if !l.is_finite() {
                return Err(StepError::NonFinite(l));
            }
            Some(l)
        } else {
            None
        };
        self.optimize(&loss)?;
        Ok(StepOut {
            loss,
            value,
            output: output.detach(),
            target,
        })
    }

    /// Backward, clipping, the optimizer's step and a per-batch scheduler.
    fn optimize(&mut self, loss: &Tensor) -> Result<(), RunError> {
        let mut grads = loss.backward()?;
        if let Some(c) = &self.clip_grad_norm {
            c.apply_in_place(&mut grads, self.optimizer.params())?;
        }
        if let Some(c) = &self.clip_grad_value {
            c.apply(&mut grads, self.optimizer.params())?;
        }
        self.optimizer.step(&grads)?;
        if let Some(s) = &mut self.scheduler {
            if self.interval == Interval::Step {
                s.step(self.optimizer.as_mut(), None)?;
            }
        }
        Ok(())
    }

    /// A per-epoch scheduler's step, given the epoch's metrics (ReduceLROnPlateau
    /// reads its `monitor` there).
    pub(crate) fn epoch_scheduler_step(&mut self, stats: &EpochStats) -> Result<(), RunError> {
        if let Some(s) = &mut self.scheduler {
            if self.interval == Interval::Epoch {
                let metric = s.monitor().map(|m| stats.metric(m).unwrap_or(f64::NAN));
                s.step(self.optimizer.as_mut(), metric)?;
            }
        }
        Ok(())
    }

    /// `test()`: the model in eval mode over the test loader, if there is one.
    pub fn evaluate(&self) -> Result<Option<Eval>, RunError> {
        let Some(loader) = &self.test_loader else {
            return Ok(None);
        };
        evaluate(
            &self.model,
            self.loss.as_ref(),
            self.task()?,
            loader,
            self.summed(),
            &self.metrics,
        )
        .map(Some)
    }

    /// Trains for every epoch (or until a callback stops it) and reports each epoch.
    ///
    /// # Errors
    /// No training loader; a loss that diverges ([`RunError::Diverged`]); whatever
    /// the model, loss, optimizer, data or a callback returns.
    pub fn fit(mut self) -> Result<FitReport, RunError> {
        let loader = self
            .train_loader
            .clone()
            .ok_or_else(|| RunError::Mismatch("the trainer has no training loader".into()))?;
        let task = self.task()?;
        let mut report = FitReport {
            epochs: Vec::new(),
            steps: 0,
            stopped_early: false,
        };
        for epoch in 1..=self.epochs {
            let mut stats = self.fit_epoch(&loader, task, epoch, &mut report.steps)?;
            if let Some(ev) = self.evaluate()? {
                stats.record_test(&ev);
            }
            self.epoch_scheduler_step(&stats)?;
            report.epochs.push(stats);
            if self.epoch_callbacks(&report)? == Control::Stop && epoch < self.epochs {
                report.stopped_early = true;
                break;
            }
        }
        Ok(report)
    }

    /// One epoch of [`Trainer::fit`]: every batch, then the epoch's training numbers.
    fn fit_epoch(
        &mut self,
        loader: &DataLoader,
        task: Task,
        epoch: usize,
        steps: &mut u64,
    ) -> Result<EpochStats, RunError> {
        let t0 = Instant::now();
        let (mut loss_sum, mut hits, mut counted, mut seen) = (0f64, 0f64, 0usize, 0usize);
        for (b, batch) in loader.epoch(epoch as u64 - 1).enumerate() {
            let batch = batch?;
            let out = self
                .step(&batch)
                .map_err(|e| e.at(epoch, b + 1, *steps + 1))?;
            *steps += 1;
            let l = match out.value {
                Some(l) => l,
                None => f64::from(out.loss.to_dtype(DType::F32)?.to_scalar::<f32>()?),
            };
            loss_sum += batch_total(l, batch.len, self.summed());
            let (h, n) = task.hits(&out.output, &out.target)?;
            hits += h;
            counted += n;
            seen += batch.len;
            for cb in &mut self.callbacks {
                cb.on_step_end(epoch, *steps, Some(l))?;
            }
        }
        let seconds = t0.elapsed().as_secs_f64();
        Ok(EpochStats {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            train_acc: task.has_accuracy().then(|| hits / counted.max(1) as f64),
            test_loss: None,
            test_acc: None,
            seconds,
            data_seconds: 0.0,
            samples_per_sec: seen as f64 / seconds.max(1e-9),
            extra: BTreeMap::new(),
        })
    }

    /// Every callback's `on_epoch_end`; `Stop` if any says so.
    fn epoch_callbacks(&mut self, report: &FitReport) -> Result<Control, RunError> {
        let mut callbacks = std::mem::take(&mut self.callbacks);
        let view = View {
            model: &self.model,
            optimizer: self.optimizer.as_ref(),
            scheduler: self.scheduler.as_deref(),
            step: report.steps,
            history: &report.epochs,
        };
        let stats = report.epochs.last().expect("an epoch has ended");
        let mut control = Control::Continue;
        let mut result = Ok(());
        for cb in &mut callbacks {
            match cb.on_epoch_end(&view, stats) {
                Ok(Control::Stop) => control = Control::Stop,
                Ok(Control::Continue) => {}
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.callbacks = callbacks;
        result.map(|()| control)
    }
}

/// The sum of per-sample losses in a batch, from the loss value: `mean × n`, or the
/// value itself with `reduction = "sum"`.
pub(crate) fn batch_total(loss: f64, n: usize, summed: bool) -> f64 {
    if summed {
        loss
    } else {
        loss * n as f64
    }
}

/// `test()`: `model` in eval mode over `loader`, its mean loss, accuracy (or the
/// regression errors) and the metrics of `mc`.
pub(crate) fn evaluate(
    model: &dyn Layer,
    loss: &dyn Loss,
    task: Task,
    loader: &DataLoader,
    summed: bool,
    mc: &MetricsConfig,
) -> Result<Eval, RunError> {
    let (mut total, mut loss_sum, mut hits, mut counted) = (0usize, 0f64, 0f64, 0usize);
    let mut counts: Option<ClassCounts> = None;
    let mut reg = RegressionSums::default();
    let mut collection = mc
        .collection
        .iter()
        .map(|m| Ok((crate::metric::name_of(m), m.build()?)))
        .collect::<candle_core::Result<Vec<_>>>()?;
    for batch in loader.epoch(0) {
        let batch = batch?;
        let out = model.forward(&batch.input, false)?.detach();
        let target = task.target(&batch.target, &out)?;
        let l = f64::from(
            loss.forward(&out, &target)?
                .to_dtype(DType::F32)?
                .to_scalar::<f32>()?,
        );
        loss_sum += batch_total(l, batch.len, summed);
        total += batch.len;
        for (_, m) in &mut collection {
            m.update(&out, &target)?;
        }
        match task {
            Task::Classify => {
                let classes = out.dim(1)?;
                let c = counts.get_or_insert_with(|| ClassCounts::new(classes, &mc.top_k));
                let scores: Vec<f32> = out.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
                let targets: Vec<u32> = target.to_dtype(DType::U32)?.to_vec1()?;
                c.update(&scores, &targets);
            }
            Task::Binary { .. } => {
                let (h, n) = task.hits(&out, &target)?;
                hits += h;
                counted += n;
            }
            Task::Regress => {
                let p: Vec<f32> = out.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
                let t: Vec<f32> = target.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
                reg.update(&p, &t);
            }
        }
    }
    let (hits, counted) = match &counts {
        Some(c) => (c.hits(), c.total() as usize),
        None => (hits as u64, counted),
    };
    let mut extra = if task == Task::Regress {
        reg.metrics("")
    } else {
        BTreeMap::new()
    };
    extra.extend(collection.iter().map(|(n, m)| (n.clone(), m.compute())));
    Ok(Eval {
        loss: loss_sum / total.max(1) as f64,
        hits,
        counted,
        total,
        has_accuracy: task.has_accuracy(),
        counts,
        extra,
    })
}

/// Writes the model's `state_dict` and the optimizer's state as a checkpoint folder
/// `epoch-NNNN` (PyTorch's key names, safetensors) under a directory after every
/// epoch, with `last` pointing at the newest.
pub struct Checkpoints {
    dir: PathBuf,
    every: usize,
}

impl Checkpoints {
    /// A checkpoint after every epoch, in `dir`.
    pub fn every_epoch(dir: impl Into<PathBuf>) -> Self {
        Self::every_n_epochs(dir, 1)
    }

    /// A checkpoint after every `n`-th epoch (and `n` ≥ 1), in `dir`.
    pub fn every_n_epochs(dir: impl Into<PathBuf>, n: usize) -> Self {
        Self {
            dir: dir.into(),
            every: n.max(1),
        }
    }
}

/// What a [`Checkpoints`] folder records besides the tensors.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FitState {
    epoch: usize,
    step: u64,
    stats: EpochStats,
}

impl Callback for Checkpoints {
    fn on_epoch_end(&mut self, view: &View<'_>, stats: &EpochStats) -> Result<Control, RunError> {
        if !stats.epoch.is_multiple_of(self.every) {
            return Ok(Control::Continue);
        }
        let model = view
            .model
            .state_dict()
            .into_iter()
            .map(|(k, t)| t.copy().map(|t| (k, t)))
            .collect::<candle_core::Result<_>>()?;
        let ckpt = Checkpoint {
            model,
            optimizer: view.optimizer.state_dict()?,
            state: FitState {
                epoch: stats.epoch,
                step: view.step,
                stats: stats.clone(),
            },
        };
        let id = format!("epoch-{:04}", stats.epoch);
        checkpoint::save(&self.dir, &id, &ckpt, &["last"])?;
        Ok(Control::Continue)
    }
}

/// Stops the run when `monitor` has not improved for `patience` epochs
/// (Lightning's `EarlyStopping`).
pub struct EarlyStopping {
    monitor: Monitor,
    patience: usize,
}

impl EarlyStopping {
    /// Watches `metric` (`"test_loss"`, `"test_acc"`, …) in its natural direction
    /// (`min` for losses and errors, `max` otherwise).
    pub fn new(metric: &str, patience: usize) -> Self {
        Self {
            monitor: Monitor::new(metric, None, 0.0),
            patience,
        }
    }

    /// The direction and the smallest change that counts as an improvement.
    pub fn mode(mut self, mode: Mode, min_delta: f64) -> Self {
        self.monitor = Monitor::new(&self.monitor.metric, Some(mode), min_delta);
        self
    }
}

impl Callback for EarlyStopping {
    fn on_epoch_end(&mut self, _view: &View<'_>, stats: &EpochStats) -> Result<Control, RunError> {
        let Some(v) = stats.metric(&self.monitor.metric) else {
            return Err(RunError::Mismatch(format!(
                "EarlyStopping: the run does not measure `{}`",
                self.monitor.metric
            )));
        };
        self.monitor.update(v, stats.epoch);
        Ok(if self.monitor.bad_epochs >= self.patience {
            Control::Stop
        } else {
            Control::Continue
        })
    }
}
