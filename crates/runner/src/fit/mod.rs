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
//! the test loader, then a per-epoch scheduler. What happens around that — progress,
//! log lines, metrics files, plots, checkpoints, early stopping, Ctrl-C — is
//! [`Callback`]s; `wick run` is this loop with its own callbacks, so the same model,
//! data and seed give the same weights either way. A run restored from a
//! [`Snapshot`] ([`Trainer::resume_from`]) continues at the batch where it stopped
//! with the numbers an uninterrupted run has.

mod callback;
mod checkpoints;
mod data_parallel;
mod embedding;
mod evaluate;
mod feed;
mod snapshot;
mod stats;
mod stopping;

pub use callback::{Callback, Control, Snapshot, StepEnd, View};
pub use checkpoints::Checkpoints;
pub use data_parallel::DataParallel;
pub(crate) use evaluate::evaluate;
pub use feed::Feed;
pub(crate) use stats::batch_total;
pub use stats::{EpochStats, Eval, TrainerState};
pub use stopping::{Converged, EarlyStopping, StopOn, INTERRUPTED};

use crate::error::RunError;
use crate::metrics::MetricsConfig;
use crate::pending::PendingMetrics;
use crate::task::Task;
use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor};
use data_parallel::StepSums;
use std::sync::Arc;
use std::time::Instant;
use wick_data::{Batch, DataLoader};
use wick_losses::{Loss, Reduction};
use wick_nn::Layer;
use wick_optim::{ClipGradNormConfig, ClipGradValueConfig, Interval, Optimizer, Scheduler};

/// On a device where losses stay on the device, they are read back at least every
/// this many batches (for the progress display).
const SYNC_EVERY: usize = 20;

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
    fn at(self, epoch: usize, batch: usize, step: u64) -> RunError {
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

/// Why a run ended before its last epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// What the callback said.
    pub reason: String,
    /// The epoch it stopped in (or after).
    pub epoch: usize,
    /// True when it stopped after a step, inside the epoch (then checkpointed).
    pub mid_epoch: bool,
}

/// What [`Trainer::fit`] reports.
#[derive(Debug, Clone)]
pub struct FitReport {
    /// Every epoch (those of the run before a resume included).
    pub epochs: Vec<EpochStats>,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Why the run ended early, if a callback stopped it.
    pub stopped: Option<Stopped>,
}

/// The state of a training pass over one epoch, between its batches.
struct Pass {
    t0: Instant,
    /// The process's CPU seconds when the pass started.
    cpu0: Option<f64>,
    /// Loss and hits of the batches not yet read back (non-CPU devices only).
    pending: PendingMetrics,
    /// The newest loss read back.
    last_loss: Option<f64>,
    /// Whether `last_loss` was read back since the last step's callbacks.
    fresh: bool,
}

impl Pass {
    /// CPU seconds the process has used since the pass started.
    fn cpu_used(&self) -> Option<f64> {
        Some(crate::logging::cpu_seconds()? - self.cpu0?)
    }
}

/// The model, loss, optimizer, scheduler and loaders of a run, and the loop over them
/// (see the module doc).
pub struct Trainer<M: Layer = Box<dyn Layer>> {
    model: M,
    loss: Box<dyn Loss>,
    optimizer: Box<dyn Optimizer>,
    scheduler: Option<Box<dyn Scheduler>>,
    /// When the scheduler steps (its own interval unless overridden).
    interval: Interval,
    train_loader: Option<Arc<DataLoader>>,
    test_loader: Option<DataLoader>,
    epochs: usize,
    clip_grad_norm: Option<ClipGradNormConfig>,
    clip_grad_value: Option<ClipGradValueConfig>,
    metrics: MetricsConfig,
    log_every_n_steps: usize,
    limit_train_batches: Option<usize>,
    callbacks: Vec<Box<dyn Callback>>,
    feed: Feed,
    state: TrainerState,
    data_parallel: Option<DataParallel>,
    /// The last step's numbers summed over the ranks (a data-parallel run).
    global: Option<StepSums>,
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
            log_every_n_steps: 50,
            limit_train_batches: None,
            callbacks: Vec::new(),
            feed: Feed::default(),
            state: TrainerState::default(),
            data_parallel: None,
            global: None,
        }
    }

    /// Trains as one rank of a data-parallel job (PyTorch's
    /// `DistributedDataParallel(model)`): see [`DataParallel`]. The loaders must be
    /// this rank's shards ([`DataLoader::shard`] for the training loader).
    pub fn data_parallel(mut self, dp: DataParallel) -> Self {
        self.data_parallel = Some(dp);
        self
    }

    /// An LR scheduler, stepped at its own interval (per epoch, or per batch for
    /// OneCycleLR and CyclicLR).
    pub fn scheduler(mut self, scheduler: Box<dyn Scheduler>) -> Self {
        self.interval = scheduler.interval();
        self.scheduler = Some(scheduler);
        self
    }

    /// Steps the scheduler at `interval` instead of its own (set after `scheduler`).
    pub fn interval(mut self, interval: Interval) -> Self {
        self.interval = interval;
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

    /// Which of a batch's inputs each model input takes (`order[i]` for model input
    /// `i`), where the dataset yields several in another order; by default the model
    /// takes them as they come.
    pub fn route_inputs(mut self, order: Vec<usize>) -> Self {
        self.feed.order = order;
        self
    }

    /// The rank of one sample of the model's single input (3 for `[C, H, W]`): a batch
    /// with one axis more (`[B, n, C, H, W]`, after `FiveCrop` or `TenCrop`) then runs
    /// as `B·n` samples whose outputs are averaged over each sample's `n` crops.
    pub fn sample_rank(mut self, rank: usize) -> Self {
        self.feed.sample_rank = Some(rank);
        self
    }

    /// Extra test metrics (top-k accuracy, a metric collection).
    pub fn metrics(mut self, metrics: MetricsConfig) -> Self {
        self.metrics = metrics;
        self
    }

    /// The running loss of [`StepEnd::running_loss`] every `n` batches (default 50,
    /// as Lightning's `log_every_n_steps`; the course prints every 10).
    pub fn log_every_n_steps(mut self, n: usize) -> Self {
        self.log_every_n_steps = n.max(1);
        self
    }

    /// Trains on at most `n` batches an epoch (Lightning's `limit_train_batches`).
    pub fn limit_train_batches(mut self, n: usize) -> Self {
        self.limit_train_batches = Some(n.max(1));
        self
    }

    /// Batches in a training epoch: the loader's, or fewer when limited.
    fn batches_per_epoch(&self) -> usize {
        let all = self.train_loader.as_ref().map_or(0, |l| l.len());
        self.limit_train_batches.map_or(all, |n| n.min(all))
    }

    /// Adds an observer of the loop; callbacks run in the order they were added.
    pub fn callback(mut self, callback: impl Callback + 'static) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &dyn Optimizer {
        self.optimizer.as_ref()
    }

    /// Where the loop stands.
    pub fn state(&self) -> &TrainerState {
        &self.state
    }

    /// Lets a run that finished continue when it has epochs left: after a resume with
    /// more `epochs` than the run had, `fit` trains the new ones (an early-stopped run
    /// too, its stopping callback's state as it was).
    pub fn reopen(&mut self) {
        if self.state.epoch <= self.epochs {
            self.state.finished = false;
        }
    }

    /// The batch's inputs in the order the model takes them ([`Trainer::route_inputs`]).
    /// What the loss makes of the model's output.
    fn task(&self) -> Result<Task, RunError> {
        Ok(Task::of_loss(self.loss.as_ref())?)
    }

    /// Whether the loss sums over the batch (`reduction = "sum"`).
    fn summed(&self) -> bool {
        self.loss.reduction() == Reduction::Sum
    }

    /// One optimizer step on `batch`: forward in training mode, the loss, backward,
    /// clipping, `optimizer.step()`, and a per-batch scheduler. A non-finite loss read
    /// back on the CPU stops before anything is updated.
    pub fn step(&mut self, batch: &Batch) -> Result<StepOut, StepError> {
        let task = self.task()?;
        let outputs = self
            .feed
            .forward(&self.model, batch, true)
            .map_err(RunError::from)?;
        let output = outputs[0].clone();
        let target = task
            .target(&batch.target, &output)
            .map_err(RunError::from)?;
        let loss = task
            .loss(self.loss.as_ref(), &outputs, &target)
            .map_err(RunError::from)?;
        // in a data-parallel run the loss is checked once summed over the ranks: every
        // rank must reach the all-reduce
        let value = if self.data_parallel.is_some() {
            None
        } else if wick_tensor::device_path::cpu_kernel(&loss) {
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
        let mine = self.step_sums(task, &loss, &output, &target, batch.len)?;
        let (grads, global) = self.backward(&loss, mine)?;
        let value = match global {
            Some(g) => {
                let l = g.loss(self.summed());
                if !l.is_finite() {
                    return Err(StepError::NonFinite(l));
                }
                Some(l)
            }
            None => value,
        };
        self.global = global;
        self.optimize(grads)?;
        Ok(StepOut {
            loss,
            value,
            output: output.detach(),
            target,
        })
    }

    /// This rank's loss and counts of the step, in a data-parallel run.
    fn step_sums(
        &self,
        task: Task,
        loss: &Tensor,
        output: &Tensor,
        target: &Tensor,
        len: usize,
    ) -> Result<Option<StepSums>, RunError> {
        let Some(dp) = &self.data_parallel else {
            return Ok(None);
        };
        let l = f64::from(loss.to_dtype(DType::F32)?.to_scalar::<f32>()?);
        let (hits, counted) = task.hits(output, target)?;
        Ok(Some(StepSums {
            loss_total: batch_total(l, len, self.summed()),
            len: len as f64,
            hits,
            counted: counted as f64,
            stop: if dp.asked_to_stop() { 1.0 } else { 0.0 },
        }))
    }

    /// `loss.backward()`; in a data-parallel run, the gradients averaged over the ranks
    /// and `mine` summed over them.
    fn backward(
        &mut self,
        loss: &Tensor,
        mine: Option<StepSums>,
    ) -> Result<(GradStore, Option<StepSums>), RunError> {
        let mut grads = loss.backward()?;
        let global = match (&self.data_parallel, mine) {
            (Some(dp), Some(m)) => Some(dp.reduce(&mut grads, self.optimizer.params(), m)?),
            _ => None,
        };
        Ok((grads, global))
    }

    /// Clipping, the optimizer's step and a per-batch scheduler.
    fn optimize(&mut self, mut grads: GradStore) -> Result<(), RunError> {
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
    fn epoch_scheduler_step(&mut self, stats: &EpochStats) -> Result<(), RunError> {
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
            &self.feed,
            loader,
            self.summed(),
            &self.metrics,
        )
        .map(Some)
    }

    /// Trains from where the loop stands (the start, or a restored snapshot) to the
    /// last epoch, or until a callback stops it, and reports every epoch.
    ///
    /// # Errors
    /// No training loader; a loss that diverges ([`RunError::Diverged`]); whatever
    /// the model, loss, optimizer, data or a callback returns.
    pub fn fit(&mut self) -> Result<FitReport, RunError> {
        let loader = self
            .train_loader
            .clone()
            .ok_or_else(|| RunError::Mismatch("the trainer has no training loader".into()))?;
        let task = self.task()?;
        if let Some(dp) = &self.data_parallel {
            dp.broadcast_model(&self.model)?;
        }
        self.each(|cb, v| cb.on_fit_start(v).map(|()| Control::Continue))?;
        let mut stopped = None;
        while !self.state.finished && self.state.epoch <= self.epochs {
            stopped = self.fit_epoch(&loader, task)?;
            if stopped.is_some() {
                break;
            }
        }
        self.each(|cb, v| cb.on_fit_end(v).map(|()| Control::Continue))?;
        Ok(FitReport {
            epochs: self.state.history.clone(),
            steps: self.state.step,
            stopped,
        })
    }

    /// One epoch: the remaining batches, `test()`, the scheduler, the callbacks, a
    /// checkpoint when one is wanted. Returns why the run stops here, if it does.
    fn fit_epoch(&mut self, loader: &DataLoader, task: Task) -> Result<Option<Stopped>, RunError> {
        let epoch = self.state.epoch;
        self.each(|cb, v| cb.on_epoch_start(v).map(|()| Control::Continue))?;
        let mut pass = Pass {
            t0: Instant::now(),
            cpu0: crate::logging::cpu_seconds(),
            pending: PendingMetrics::default(),
            last_loss: None,
            fresh: false,
        };
        if let Some(stopped) = self.train_batches(loader, task, &mut pass)? {
            return Ok(Some(stopped));
        }
        self.flush_pending(&mut pass)?;
        let sums = std::mem::take(&mut self.state.sums);
        let cpu = pass.cpu_used().map(|c| sums.cpu_seconds + c);
        let seconds = sums.seconds + pass.t0.elapsed().as_secs_f64();
        let mut stats = sums.stats(epoch, task, seconds, cpu);
        self.each(|cb, v| cb.on_train_epoch_end(v, &stats).map(|()| Control::Continue))?;
        if let (Some(dp), Some(_)) = (&self.data_parallel, &self.test_loader) {
            dp.broadcast_buffers(&self.model)?;
        }
        if let Some(ev) = self.evaluate()? {
            stats.record_test(&ev);
            self.each(|cb, v| {
                cb.on_test_end(v, &ev, &mut stats)
                    .map(|()| Control::Continue)
            })?;
        }
        stats.lr = Some(self.optimizer.lr(0));
        self.epoch_scheduler_step(&stats)?;
        self.state.history.push(stats.clone());
        self.state.epoch += 1;
        self.state.batch = 0;
        self.state.finished = self.state.epoch > self.epochs;
        let stop = self.each(|cb, v| cb.on_epoch_end(v, &stats))?;
        let stopped = match stop {
            Some(reason) if !self.state.finished => {
                tracing::info!("{reason}");
                self.state.finished = true;
                Some(Stopped {
                    reason,
                    epoch,
                    mid_epoch: false,
                })
            }
            _ => None,
        };
        self.checkpoint_point(false, None)?;
        Ok(stopped)
    }

    /// The batches of the epoch in progress, from `state.batch` on; stops after a step
    /// when a callback says so.
    fn train_batches(
        &mut self,
        loader: &DataLoader,
        task: Task,
        pass: &mut Pass,
    ) -> Result<Option<Stopped>, RunError> {
        let epoch = self.state.epoch;
        let last = self.batches_per_epoch();
        let mut batches = loader.epoch_from(epoch as u64 - 1, self.state.batch);
        loop {
            if self.state.batch >= last {
                return Ok(None);
            }
            let wait = Instant::now();
            let Some(batch) = batches.next() else {
                return Ok(None);
            };
            self.state.sums.data_seconds += wait.elapsed().as_secs_f64();
            let batch = batch?;
            self.each(|cb, v| {
                cb.on_train_batch_start(v, &batch)
                    .map(|()| Control::Continue)
            })?;
            self.train_step(&batch, task, pass)?;
            if let Some(reason) = self.after_step(pass)? {
                return Ok(Some(Stopped {
                    reason,
                    epoch,
                    mid_epoch: true,
                }));
            }
        }
    }

    /// [`Trainer::step`], its loss and hits added to the epoch's sums (kept on the
    /// device where losses are not read back at once, see `pending.rs`).
    fn train_step(&mut self, batch: &Batch, task: Task, pass: &mut Pass) -> Result<(), RunError> {
        let (epoch, b, step) = (self.state.epoch, self.state.batch, self.state.step);
        let out = self.step(batch).map_err(|e| e.at(epoch, b + 1, step + 1))?;
        let summed = self.summed();
        let st = &mut self.state;
        st.step += 1;
        st.batch += 1;
        let sums = &mut st.sums;
        if let Some(g) = self.global.take() {
            let l = g.loss(summed);
            sums.running += l;
            sums.loss_sum += g.loss_total;
            sums.hits += g.hits;
            sums.counted += g.counted as usize;
            sums.seen += g.len as usize;
            pass.last_loss = Some(l);
            pass.fresh = true;
            return Ok(());
        }
        match out.value {
            None => {
                let (hits, counted) = task.hits_tensor(&out.output, &out.target)?;
                pass.pending
                    .push(&out.loss, batch.len, summed, hits.as_ref())?;
                sums.counted += counted;
            }
            Some(l) => {
                let (hits, counted) = task.hits(&out.output, &out.target)?;
                sums.running += l;
                sums.loss_sum += batch_total(l, batch.len, summed);
                sums.hits += hits;
                sums.counted += counted;
                pass.last_loss = Some(l);
                pass.fresh = true;
            }
        }
        sums.seen += batch.len;
        Ok(())
    }

    /// After a step: the running loss every `log_every_n_steps` batches, the
    /// callbacks, and a checkpoint when one is wanted or the run stops here (the time
    /// spent writing it is not training time). Returns the reason to stop, if any.
    fn after_step(&mut self, pass: &mut Pass) -> Result<Option<String>, RunError> {
        let batch = self.state.batch;
        let log_point = batch.is_multiple_of(self.log_every_n_steps);
        if log_point || (batch - 1).is_multiple_of(SYNC_EVERY) {
            self.flush_pending(pass)?;
        }
        let running_loss = log_point.then(|| {
            let mean = self.state.sums.running / self.log_every_n_steps as f64;
            self.state.sums.running = 0.0;
            mean
        });
        let end = StepEnd {
            epoch: self.state.epoch,
            batch,
            step: self.state.step,
            loss: pass.last_loss,
            fresh: std::mem::take(&mut pass.fresh),
            running_loss,
        };
        let stop = self.each(|cb, v| cb.on_step_end(v, &end))?;
        self.checkpoint_point(stop.is_some(), Some(pass))?;
        Ok(stop)
    }

    /// Reads back the loss and hits kept on the device and adds them to the epoch's
    /// sums; a non-finite loss is [`RunError::Diverged`].
    fn flush_pending(&mut self, pass: &mut Pass) -> Result<(), RunError> {
        let Some(f) = pass.pending.flush()? else {
            return Ok(());
        };
        if !f.running.is_finite() {
            return Err(RunError::Diverged {
                value: if f.last.is_finite() {
                    f.running
                } else {
                    f.last
                },
                epoch: self.state.epoch,
                batch: self.state.batch,
                step: self.state.step,
            });
        }
        let sums = &mut self.state.sums;
        sums.running += f.running;
        sums.loss_sum += f.loss_sum;
        sums.hits += f.hits;
        pass.last_loss = Some(f.last);
        pass.fresh = true;
        Ok(())
    }

    /// Asks every callback whether it wants a checkpoint now (`forced`: the run stops
    /// mid-epoch, so one is taken anyway); if one does, [`Trainer::checkpoint_now`].
    fn checkpoint_point(&mut self, forced: bool, pass: Option<&mut Pass>) -> Result<(), RunError> {
        let mut callbacks = std::mem::take(&mut self.callbacks);
        let wanted = {
            let view = self.view();
            // every callback is asked (no short cut): the question may update its state
            callbacks
                .iter_mut()
                .fold(forced, |w, cb| cb.wants_checkpoint(&view) | w)
        };
        let result = if wanted {
            self.checkpoint_now(&mut callbacks, pass)
        } else {
            Ok(())
        };
        self.callbacks = callbacks;
        result
    }

    /// Takes a [`Snapshot`] and hands it to every callback. Mid-epoch (`pass`), what
    /// the pass kept on the device is read back first and its time so far recorded in
    /// the snapshot; the time spent snapshotting and writing is not training time.
    fn checkpoint_now(
        &mut self,
        callbacks: &mut [Box<dyn Callback>],
        mut pass: Option<&mut Pass>,
    ) -> Result<(), RunError> {
        if let Some(p) = pass.as_deref_mut() {
            self.flush_pending(p)?;
            self.state.sums.seconds += p.t0.elapsed().as_secs_f64();
            self.state.sums.cpu_seconds += p.cpu_used().unwrap_or(0.0);
        }
        let result = self.snapshot_with(callbacks).and_then(|snapshot| {
            let view = self.view();
            callbacks
                .iter_mut()
                .try_for_each(|cb| cb.on_checkpoint(&view, &snapshot))
        });
        if let Some(p) = pass {
            self.state.sums.seconds -= p.t0.elapsed().as_secs_f64();
            self.state.sums.cpu_seconds -= p.cpu_used().unwrap_or(0.0);
        }
        result
    }

    /// Calls `f` on every callback in order with a view of the trainer; the first
    /// [`Control::Stop`]'s reason, if any.
    fn each(
        &mut self,
        mut f: impl FnMut(&mut dyn Callback, &View<'_>) -> Result<Control, RunError>,
    ) -> Result<Option<String>, RunError> {
        let mut callbacks = std::mem::take(&mut self.callbacks);
        let mut stop = None;
        let result = (|| {
            let view = self.view();
            for cb in &mut callbacks {
                if let Control::Stop(reason) = f(cb.as_mut(), &view)? {
                    stop.get_or_insert(reason);
                }
            }
            Ok(())
        })();
        self.callbacks = callbacks;
        result.map(|()| stop)
    }

    fn view(&self) -> View<'_> {
        View {
            model: &self.model,
            optimizer: self.optimizer.as_ref(),
            scheduler: self.scheduler.as_deref(),
            state: &self.state,
            epochs: self.epochs,
            batches: self.batches_per_epoch(),
        }
    }
}
