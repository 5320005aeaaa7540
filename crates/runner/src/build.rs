//! The builder: an [`Experiment`] turned into a [`Trainer`] — its data, model, loss,
//! optimizer, scheduler and loaders, checked against each other, and the callbacks
//! that make `wick run`'s run directory, progress and checkpoints.

use crate::boundary::DecisionBoundary;
use crate::error::RunError;
use crate::fit::{Checkpoints, Converged, EarlyStopping, StopOn, Trainer};
use crate::progress::ProgressLog;
use crate::record::RunRecord;
use crate::rundir::RunDir;
use crate::schema::{Experiment, SplitConfig};
use crate::task::Task;
use crate::tensorboard::TensorBoard;
use candle_core::{DType, Device};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use wick_data::datasets::{random_split, DatasetContext, SplitLengths};
use wick_data::transforms::Compose;
use wick_data::{data_root, DataLoader, Dataset, Split};
use wick_dist::ProcessGroup;
use wick_nn::{BuildCtx, Sequential};
use wick_tensor::SeedRng;

/// Builds the model of an experiment with PyTorch's default init from its seed, its
/// parameters frozen as `[model] freeze`/`trainable` say (weights are loaded by
/// [`load_weights`]).
pub fn build_model(exp: &Experiment, device: &Device) -> Result<Sequential, RunError> {
    build_model_as(exp, device, DType::F32)
}

/// [`build_model`] with parameters of `dtype`.
pub(crate) fn build_model_as(
    exp: &Experiment,
    device: &Device,
    dtype: DType,
) -> Result<Sequential, RunError> {
    let model = init_model(exp, device, dtype)?;
    exp.model.transfer.apply_freeze(&model)?;
    Ok(model)
}

/// Copies `[model] weights` into `model` (nothing without them), as
/// `load_state_dict(strict)` with the `ignore` keys left out.
pub fn load_weights(exp: &Experiment, model: &Sequential) -> Result<(), RunError> {
    let t = &exp.model.transfer;
    let Some(source) = &t.weights else {
        return Ok(());
    };
    let file = crate::weights_file::resolve(source)?;
    let state = crate::weights_file::read(&file)?;
    t.load(model, state, &file.display().to_string())
}

fn init_model(exp: &Experiment, device: &Device, dtype: DType) -> Result<Sequential, RunError> {
    let mut rng = SeedRng::stream(exp.seed, "init", &[]);
    let mut nodes = exp.model.layers.clone();
    let mut ctx = BuildCtx {
        device,
        dtype,
        rng: &mut rng,
    };
    Ok(Sequential::graph(
        &exp.model.inputs,
        &mut nodes,
        &exp.model.outputs,
        &mut ctx,
    )?)
}

/// How batches of `ds` reach the experiment's model ([`crate::fit::Feed`]): its inputs'
/// routing, and the rank of a sample of a single input (for stacked crops).
pub(crate) fn feed(exp: &Experiment, ds: &dyn Dataset) -> crate::fit::Feed {
    crate::fit::Feed {
        order: input_order(exp, ds),
        sample_rank: (exp.model.inputs.len() == 1).then(|| exp.model.input().len()),
    }
}

/// For each model input, the position of the dataset input of its name (empty when
/// both have one input): what [`Trainer::route_inputs`] takes.
pub(crate) fn input_order(exp: &Experiment, ds: &dyn Dataset) -> Vec<usize> {
    let names = ds.input_names();
    if exp.model.inputs.len() == 1 && names.len() == 1 {
        return Vec::new();
    }
    exp.model
        .inputs
        .iter()
        .map(|(n, _)| names.iter().position(|d| d == n).unwrap_or(0))
        .collect()
}

fn split_of(split: &SplitConfig) -> Split {
    if split.split == "train" {
        Split::Train
    } else {
        Split::Test
    }
}

/// The training dataset and, when there is one, the test dataset.
pub(crate) type TrainTest = (Arc<dyn Dataset>, Option<Arc<dyn Dataset>>);

/// The training dataset and the test dataset (its own, or held out of the training
/// data), as the experiment describes them.
pub(crate) fn load_data(
    exp: &Experiment,
    mirrors: Option<&[String]>,
) -> Result<TrainTest, RunError> {
    let root = data_root(exp.data.root.as_deref());
    let ctx = |split: Split| DatasetContext {
        split,
        root: root.clone(),
        download: exp.data.download,
        mirrors,
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
    log_sizes(exp, train.as_ref(), test.as_deref());
    if train.is_empty() {
        return Err(RunError::Mismatch("the training dataset is empty".into()));
    }
    Ok((train, test))
}

fn log_sizes(exp: &Experiment, train: &dyn Dataset, test: Option<&dyn Dataset>) {
    let train_cfg = &exp.data.train;
    tracing::info!(
        "{} train: {} samples",
        exp.split_dataset(train_cfg).type_name(),
        train.len()
    );
    if let (Some(t), Some(ds)) = (&exp.data.test, test) {
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
}

/// A loader over `ds` as `split` of the experiment configures it.
pub(crate) fn loader(
    exp: &Experiment,
    split: &SplitConfig,
    ds: Arc<dyn Dataset>,
    device: &Device,
) -> Result<DataLoader, RunError> {
    Ok(DataLoader::new(
        ds,
        Compose::from_configs(&split.transforms)?,
        &split.loader,
        exp.seed,
        device.clone(),
    )?)
}

/// What validation could not check without the data: the samples' shape after the
/// transforms against `model.input`, and the number of classes against the output.
fn check_data(
    exp: &Experiment,
    model: &Sequential,
    classes: &[String],
    loaders: [Option<&DataLoader>; 2],
) -> Result<(), RunError> {
    for (name, loader) in ["train", "test"].into_iter().zip(loaders) {
        let Some(loader) = loader else { continue };
        if loader.dataset().is_empty() {
            continue;
        }
        let names = loader.dataset().input_names();
        for (input, shape) in names.iter().zip(loader.sample_shapes()?) {
            let single = exp.model.inputs.len() == 1 && names.len() == 1;
            let Some((model_input, want)) =
                exp.model.inputs.iter().find(|(n, _)| single || n == input)
            else {
                continue;
            };
            let crops = single && shape.get(1..) == Some(&want[..]);
            if shape != *want && !crops {
                let key = if single {
                    "input".into()
                } else {
                    format!("inputs.{model_input}")
                };
                return Err(RunError::Mismatch(format!(
                    "model.{key} is {want:?}, but the {name} samples after the transforms have shape {shape:?}: set {key} = {shape:?} in [model]"
                )));
            }
        }
    }
    let out = model.output_shape();
    if Task::of(&exp.loss)? == Task::Classify && !classes.is_empty() && out != [classes.len()] {
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

/// How `wick run` trains: where the run directory is, whether progress bars are drawn,
/// the flag a Ctrl-C handler sets, and the config that checkpoints must match.
pub(crate) struct Around<'a> {
    /// The run directory; `None` on the ranks of a distributed run that do not write it.
    pub dir: Option<RunDir>,
    /// The processes training together (a world of one outside a launcher).
    pub group: Arc<dyn ProcessGroup>,
    /// The experiment's device, opened (the group is bound to it).
    pub device: Device,
    pub progress: bool,
    pub mirrors: Option<&'a [String]>,
    pub stop: Arc<AtomicBool>,
    /// The resolved config (TOML) and its MD5.
    pub config: (String, String),
    /// Whether to copy `[model] weights` in (not when a checkpoint follows).
    pub load_weights: bool,
    /// The run's `--set` overrides (the hyperparameters TensorBoard's HParams tab shows).
    pub overrides: Vec<String>,
}

/// An experiment's trainer, with what the run needs beside it.
pub(crate) struct Built {
    pub trainer: Trainer<Sequential>,
    pub device: Device,
    pub task: Task,
    /// Class names of the training data (empty when it has none).
    pub classes: Vec<String>,
    /// The indices of a `holdout` split's training and test samples, if it has one.
    pub holdout: Option<Vec<Vec<usize>>>,
}

/// Loads the data and builds the trainer from the experiment's seed, with `wick run`'s
/// callbacks: the run directory's records (TensorBoard's too, unless `[log]
/// tensorboard = false`), progress, early stopping, checkpoints and the Ctrl-C stop.
pub(crate) fn build(exp: &Experiment, around: Around<'_>) -> Result<Built, RunError> {
    let device = around.device.clone();
    let name = crate::rundir::device_name(&device);
    tracing::info!(device = %name, requested = %exp.device, "device: {name}");
    let (train_ds, test_ds) = load_data(exp, around.mirrors)?;
    let classes = train_ds.classes();
    let model = build_model(exp, &device)?;
    if around.load_weights {
        load_weights(exp, &model)?;
    }
    let mut train = loader(exp, &exp.data.train, train_ds, &device)?;
    let test = match (&exp.data.test, test_ds) {
        (Some(cfg), Some(ds)) => Some(loader(exp, cfg, ds, &device)?),
        _ => None,
    };
    check_data(exp, &model, &classes, [Some(&train), test.as_ref()])?;
    let task = Task::of(&exp.loss)?;
    let holdout = holdout_indices(exp, &train, test.as_ref())?;
    let boundary = around.dir.as_ref().and_then(|dir| {
        DecisionBoundary::new(
            dir.path.join("plots"),
            task,
            &device,
            exp.model.input(),
            train.dataset().as_ref(),
            test.as_ref().map(|t| t.dataset().as_ref()),
        )
    });
    let group = Arc::clone(&around.group);
    if group.world_size() > 1 {
        train = train.shard(group.world_size(), group.rank())?;
        if exp.distributed.as_ref().is_some_and(|d| d.sync_batchnorm) {
            let n = crate::sync_batchnorm::convert(&model, &group);
            tracing::info!("{n} BatchNorm layers synchronized across the ranks");
        }
    }
    let order = input_order(exp, train.dataset().as_ref());
    let mut trainer = trainer(exp, model)?.route_inputs(order);
    if exp.model.inputs.len() == 1 {
        trainer = trainer.sample_rank(exp.model.input().len());
    }
    let mut trainer = trainer.train_loader(train);
    if let Some(test) = test {
        trainer = trainer.test_loader(test);
    }
    let trainer = callbacks(exp, trainer, around, &classes, boundary);
    Ok(Built {
        trainer,
        device,
        task,
        classes,
        holdout,
    })
}

/// `wick run`'s callbacks: the run directory's records (TensorBoard's too, unless
/// `[log] tensorboard = false`), progress, early stopping, checkpoints and the Ctrl-C
/// stop; on the ranks of a distributed run that do not write, only what stops the run
/// (the same decisions as rank 0's), and the data-parallel side of the trainer.
fn callbacks(
    exp: &Experiment,
    mut trainer: Trainer<Sequential>,
    around: Around<'_>,
    classes: &[String],
    boundary: Option<DecisionBoundary>,
) -> Trainer<Sequential> {
    let mut stop = around.stop;
    if around.group.world_size() > 1 {
        let (dp, agreed) = crate::distributed::data_parallel(exp, &around.group, stop);
        trainer = trainer.data_parallel(dp);
        stop = agreed;
    }
    let c = &exp.train.checkpoint;
    let ckpts = around.dir.as_ref().map(|d| d.path.join("checkpoints"));
    if let Some(dir) = around.dir {
        let tensorboard = exp.log.tensorboard.then(|| {
            let (config, _) = &around.config;
            let path = dir.path.clone();
            TensorBoard::new(path, config.clone(), exp.extra_metrics(), &around.overrides)
        });
        let (metrics, config) = (exp.metrics.clone(), around.config);
        trainer = trainer.callback(RunRecord::new(dir, classes.to_vec(), metrics, config));
        if let Some(tb) = tensorboard {
            trainer = trainer.callback(tb);
        }
        if let Some(b) = boundary {
            trainer = trainer.callback(b);
        }
        trainer = trainer.callback(ProgressLog::new(around.progress));
    }
    if let Some(e) = &exp.train.early_stopping {
        let mut early = EarlyStopping::new(&e.monitor, e.patience).min_delta(e.min_delta);
        if let Some(mode) = e.mode {
            early = early.mode(mode);
        }
        trainer = trainer.callback(early);
    }
    if let Some(c) = &exp.train.converged {
        trainer = trainer.callback(Converged::new(c.eps));
    }
    if let Some(ckpts) = ckpts {
        trainer = trainer.callback(
            Checkpoints::every_n_epochs(ckpts, c.every_n_epochs)
                .every_n_steps(c.every_n_steps)
                .keep_last(c.keep_last)
                .best(&exp.best_metric(), c.mode),
        );
    }
    trainer.callback(StopOn::flag(stop))
}

/// The indices `load_data`'s `holdout` split took for training and testing (the same
/// permutation of the whole dataset, recomputed from the seed), if the test split is one.
fn holdout_indices(
    exp: &Experiment,
    train: &DataLoader,
    test: Option<&DataLoader>,
) -> Result<Option<Vec<Vec<usize>>>, RunError> {
    let Some(h) = exp.data.test.as_ref().and_then(|t| t.holdout) else {
        return Ok(None);
    };
    let n = train.dataset().len() + test.map_or(0, |t| t.dataset().len());
    let lengths = SplitLengths::Fractions(vec![1.0 - h, h]);
    Ok(Some(wick_data::datasets::split_indices(
        n, &lengths, exp.seed,
    )?))
}

/// The trainer of the experiment's model: its loss, optimizer, scheduler (at the
/// file's `interval`, else the class's own), clipping, metrics and log interval.
fn trainer(exp: &Experiment, model: Sequential) -> Result<Trainer<Sequential>, RunError> {
    let criterion = exp.loss.build()?;
    let trainable: Vec<_> = model
        .parameters()
        .into_iter()
        .filter(|p| p.requires_grad())
        .collect();
    if trainable.is_empty() {
        return Err(RunError::Mismatch(
            "every parameter of the model is frozen: nothing to train (see [model] freeze \
             and trainable)"
                .into(),
        ));
    }
    let mut optimizer = exp.optimizer.build(trainable)?;
    let scheduler = exp
        .scheduler
        .as_ref()
        .map(|s| s.build(optimizer.as_mut()))
        .transpose()?;
    let mut trainer = Trainer::new(model, criterion, optimizer)
        .epochs(exp.train.epochs)
        .metrics(exp.metrics.clone())
        .log_every_n_steps(exp.train.log_interval);
    if let Some(s) = scheduler {
        let at = exp
            .scheduler
            .as_ref()
            .and_then(|c| c.interval_override())
            .unwrap_or_else(|| s.interval());
        trainer = trainer.scheduler(s).interval(at);
    }
    if let Some(c) = &exp.train.clip_grad_norm {
        trainer = trainer.clip_grad_norm(c.clone());
    }
    if let Some(c) = &exp.train.clip_grad_value {
        trainer = trainer.clip_grad_value(c.clone());
    }
    if let Some(n) = exp.train.limit_train_batches {
        trainer = trainer.limit_train_batches(n);
    }
    Ok(trainer)
}

/// The model of a run directory with the weights of its checkpoint `which` (`last`,
/// `best`, `epoch-0003`), on the experiment's device.
pub(crate) fn trained_model(
    run_dir: &Path,
    which: &str,
) -> Result<(Experiment, Device, Sequential), RunError> {
    let exp = crate::rundir::load_run_config(run_dir)?;
    let ckpt_dir = crate::rundir::find_checkpoint(run_dir, which)?;
    let device = exp.device.open()?;
    let model = build_model(&exp, &device)?;
    let file = ckpt_dir.join(crate::checkpoint::MODEL_FILE);
    let weights = crate::checkpoint::load_model(&file, &device)?
        .into_iter()
        .collect();
    model
        .load_state_dict(&weights)
        .map_err(|e| RunError::RunDir(format!("{}: {e}", file.display())))?;
    Ok((exp, device, model))
}
