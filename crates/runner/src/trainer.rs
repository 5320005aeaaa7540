//! The training loop: the PyTorch course's `train(epoch)` / `test()` pair, with the
//! run directory, metrics and progress around it.

use crate::logging;
use crate::metrics::MetricRow;
use crate::rundir::RunDir;
use crate::schema::{Experiment, SplitConfig};
pub use candle_core::Device;
use candle_core::{DType, Tensor};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use wick_data::transforms::Compose;
use wick_data::{data_root, DataLoader, Dataset, Mnist, MnistKind, Split};
use wick_losses::Loss;
use wick_nn::{BuildCtx, Sequential};
use wick_tensor::SeedRng;

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
    #[error("cannot write the run directory: {0}")]
    Io(#[from] std::io::Error),
    /// The loss became NaN or infinite.
    #[error("the loss is {value} at epoch {epoch}, batch {batch}: training diverged")]
    Diverged {
        /// The bad value.
        value: f64,
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch.
        batch: usize,
    },
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where run directories go (`runs/`).
    pub runs_dir: PathBuf,
    /// Show progress bars (on a terminal).
    pub progress: bool,
    /// Mirrors to download from instead of the official ones.
    pub mirrors: Option<Vec<String>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            runs_dir: "runs".into(),
            progress: true,
            mirrors: None,
        }
    }
}

/// One epoch's numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochStats {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's samples.
    pub train_loss: f64,
    /// Training accuracy in [0, 1].
    pub train_acc: f64,
    /// Mean test loss, when there is a test split.
    pub test_loss: Option<f64>,
    /// Test accuracy in [0, 1].
    pub test_acc: Option<f64>,
    /// Seconds spent in the training pass.
    pub seconds: f64,
    /// Training samples per second.
    pub samples_per_sec: f64,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The run directory.
    pub dir: PathBuf,
    /// Every epoch.
    pub epochs: Vec<EpochStats>,
}

fn load_split(
    exp: &Experiment,
    split: &SplitConfig,
    opts: &RunOptions,
) -> Result<Arc<dyn Dataset>, RunError> {
    let kind = match exp.data.dataset.as_str() {
        "FashionMNIST" => MnistKind::FashionMnist,
        _ => MnistKind::Mnist,
    };
    let s = if split.split == "train" {
        Split::Train
    } else {
        Split::Test
    };
    let root = data_root(exp.data.root.as_deref());
    let ds = Mnist::load(kind, &root, s, exp.data.download, opts.mirrors.as_deref())?;
    tracing::info!(
        "{} {}: {} samples from {}",
        kind.class_name(),
        split.split,
        ds.len(),
        ds.images_path.display()
    );
    Ok(Arc::new(ds))
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

fn correct(logits: &Tensor, target: &Tensor) -> candle_core::Result<f64> {
    let pred = logits.argmax(1)?;
    let hits = pred
        .eq(&target.to_dtype(pred.dtype())?)?
        .to_dtype(DType::F32)?
        .sum_all()?;
    Ok(f64::from(hits.to_scalar::<f32>()?))
}

/// `test()`: mean loss and accuracy over a loader, in eval mode.
/// The sum of per-sample losses in a batch, from the loss value: `mean × n`, or the
/// value itself with `reduction = "sum"`.
fn batch_total(loss: f64, n: usize, summed: bool) -> f64 {
    if summed {
        loss
    } else {
        loss * n as f64
    }
}

fn summed(exp: &Experiment) -> bool {
    exp.loss.reduction() == wick_losses::Reduction::Sum
}

/// What `test()` measures.
struct Eval {
    loss: f64,
    hits: u64,
    total: usize,
}

/// `test()`: mean per-sample loss and the correct predictions over a loader, in eval mode.
fn evaluate(
    model: &Sequential,
    loss: &dyn Loss,
    loader: &DataLoader,
    summed: bool,
) -> Result<Eval, RunError> {
    let (mut total, mut loss_sum, mut hits) = (0usize, 0f64, 0f64);
    for batch in loader.epoch(0) {
        let batch = batch?;
        let logits = model.forward(&batch.input, false)?.detach();
        let l = f64::from(
            loss.forward(&logits, &batch.target)?
                .to_dtype(DType::F32)?
                .to_scalar::<f32>()?,
        );
        loss_sum += batch_total(l, batch.len, summed);
        hits += correct(&logits, &batch.target)?;
        total += batch.len;
    }
    Ok(Eval {
        loss: loss_sum / total.max(1) as f64,
        hits: hits as u64,
        total,
    })
}

/// Trains an experiment and writes its run directory.
pub fn run(exp: &Experiment, opts: &RunOptions) -> Result<RunReport, RunError> {
    let device = exp.device.open()?;
    let device_name = match device.location() {
        candle_core::DeviceLocation::Cpu => "cpu".to_string(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    };
    tracing::info!(device = %device_name, requested = %exp.device, "device: {device_name}");
    let train_ds = load_split(exp, &exp.data.train, opts)?;
    let test_ds = exp
        .data
        .test
        .as_ref()
        .map(|t| load_split(exp, t, opts))
        .transpose()?;

    let model = build_model(exp, &device)?;
    let criterion = exp.loss.build()?;
    let mut optimizer = exp.optimizer.build(model.parameters())?;
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

    let mut dir = RunDir::create(&opts.runs_dir, &exp.name)?;
    logging::log_to_file(&dir.path.join("log.jsonl"))?;
    let config = exp.to_toml();
    dir.write_file("config.toml", config.as_bytes())?;
    let config_md5: String = {
        use md5::{Digest, Md5};
        Md5::digest(config.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let summary = model.summary();
    dir.write_file("summary.txt", format!("{summary}\n").as_bytes())?;
    let started = chrono::Local::now();
    let meta = |end: Option<String>| {
        serde_json::json!({
            "wick_version": env!("CARGO_PKG_VERSION"),
            "name": exp.name,
            "seed": exp.seed,
            "config_md5": config_md5,
            "device": device_name,
            "device_requested": exp.device.to_string(),
            "started": started.to_rfc3339(),
            "ended": end,
        })
    };
    dir.write_file(
        "meta.json",
        serde_json::to_string_pretty(&meta(None))
            .unwrap_or_default()
            .as_bytes(),
    )?;
    tracing::info!(run_dir = %dir.path.display(), "run directory: {}", dir.path.display());

    let log_interval = exp.train.log_interval;
    let summed = summed(exp);
    let mut step: u64 = 0;
    let mut epochs = Vec::new();
    for epoch in 1..=exp.train.epochs {
        // ---- train(epoch) ----
        let bar = logging::progress_bar(train_loader.len() as u64, opts.progress);
        bar.set_prefix(format!("epoch {epoch}/{}", exp.train.epochs));
        let t0 = Instant::now();
        let (mut running, mut loss_sum, mut hits, mut seen) = (0f64, 0f64, 0f64, 0usize);
        for (batch_idx, batch) in train_loader.epoch(epoch as u64 - 1).enumerate() {
            let batch = batch?;
            let logits = model.forward(&batch.input, true)?;
            let loss = criterion.forward(&logits, &batch.target)?;
            let l = f64::from(loss.to_dtype(DType::F32)?.to_scalar::<f32>()?);
            if !l.is_finite() {
                bar.finish_and_clear();
                return Err(RunError::Diverged {
                    value: l,
                    epoch,
                    batch: batch_idx + 1,
                });
            }
            let grads = loss.backward()?;
            optimizer.step(&grads)?;
            step += 1;
            running += l;
            loss_sum += batch_total(l, batch.len, summed);
            hits += correct(&logits.detach(), &batch.target)?;
            seen += batch.len;
            bar.inc(1);
            if batch_idx % 20 == 0 {
                bar.set_message(format!("loss {l:.3}"));
            }
            if batch_idx % log_interval == log_interval - 1 {
                let mean = running / log_interval as f64;
                tracing::info!(
                    epoch,
                    batch = batch_idx + 1,
                    loss = mean,
                    "[{}, {:5}] loss: {:.3}",
                    epoch,
                    batch_idx + 1,
                    mean
                );
                dir.log_metrics(&MetricRow {
                    kind: "step",
                    epoch,
                    step,
                    batch: Some(batch_idx + 1),
                    train_loss: Some(mean),
                    lr: Some(optimizer.lr()),
                    ..Default::default()
                })?;
                running = 0.0;
            }
        }
        let seconds = t0.elapsed().as_secs_f64();
        bar.finish_and_clear();
        let n = seen.max(1) as f64;
        let mut stats = EpochStats {
            epoch,
            train_loss: loss_sum / n,
            train_acc: hits / n,
            test_loss: None,
            test_acc: None,
            seconds,
            samples_per_sec: seen as f64 / seconds.max(1e-9),
        };
        tracing::info!(
            epoch,
            train_loss = stats.train_loss,
            seconds,
            samples_per_sec = stats.samples_per_sec,
            "epoch {epoch}: train loss {:.4}, accuracy {:.2} %, {:.1} s, {:.0} samples/s",
            stats.train_loss,
            100.0 * stats.train_acc,
            seconds,
            stats.samples_per_sec
        );
        // ---- test() ----
        if let Some(loader) = &test_loader {
            let ev = evaluate(&model, criterion.as_ref(), loader, summed)?;
            let acc = ev.hits as f64 / ev.total.max(1) as f64;
            stats.test_loss = Some(ev.loss);
            stats.test_acc = Some(acc);
            tracing::info!(
                epoch,
                test_loss = ev.loss,
                test_acc = acc,
                "Accuracy on test set: {:.2} % ({}/{}), test loss {:.4}",
                100.0 * acc,
                ev.hits,
                ev.total,
                ev.loss
            );
        }
        dir.log_metrics(&MetricRow {
            kind: "epoch",
            epoch,
            step,
            train_loss: Some(stats.train_loss),
            train_acc: Some(stats.train_acc),
            test_loss: stats.test_loss,
            test_acc: stats.test_acc,
            lr: Some(optimizer.lr()),
            seconds: Some(stats.seconds),
            samples_per_sec: Some(stats.samples_per_sec),
            ..Default::default()
        })?;
        epochs.push(stats);
    }
    let ended = chrono::Local::now().to_rfc3339();
    dir.write_file(
        "meta.json",
        serde_json::to_string_pretty(&meta(Some(ended)))
            .unwrap_or_default()
            .as_bytes(),
    )?;
    tracing::info!("done: {}", dir.path.display());
    logging::close_log_file();
    Ok(RunReport {
        dir: dir.path,
        epochs,
    })
}
