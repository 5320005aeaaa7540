//! The experiment file: its typed form, its defaults, and its validation.
//!
//! ```toml
//! name = "mnist-mlp"
//! seed = 0
//! device = "auto"
//! [data]          # dataset, root, download, [data.train], [data.test]
//! [model]         # input = [1, 28, 28], layers = [{ type = "Linear", ... }, ...]
//! [loss]          # type = "CrossEntropyLoss", ...
//! [optimizer]     # type = "SGD", lr = 0.01, ...
//! [train]         # epochs, log_interval
//! ```

use crate::checkpoint::CheckpointConfig;
use crate::decode::{decode, decode_open};
use crate::diagnostic::{suggest, Diagnostic};
use crate::keypath::KeyPath;
use crate::metrics::MetricsConfig;
use crate::monitor::EarlyStoppingConfig;
use crate::task::Task;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use wick_data::datasets::{DatasetConfig, DatasetSpec, Nested};
use wick_data::sampler::SamplerSpec;
use wick_data::transforms::{Kind, TransformConfig};
use wick_data::DataLoaderConfig;
use wick_losses::LossConfig;
use wick_nn::{LayerConfig, Sequential};
use wick_optim::{ClipGradNormConfig, ClipGradValueConfig, OptimizerConfig, SchedulerConfig};
use wick_tensor::DeviceSpec;

/// A whole experiment, resolved: every default filled, every inferred argument set.
/// Serializing it gives the `config.toml` of a run directory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Experiment {
    /// The run's name (its folder under `runs/`).
    pub name: String,
    /// The seed driving init, sampling and augmentation (default 0).
    pub seed: u64,
    /// `auto`, `cpu`, `cuda`, `cuda:N` (default `auto`).
    pub device: DeviceSpec,
    /// Dataset and loaders.
    pub data: DataConfig,
    /// The model.
    pub model: ModelConfig,
    /// The loss (`torch.nn` class name and arguments).
    pub loss: LossConfig,
    /// The optimizer (`torch.optim` class name and arguments).
    pub optimizer: OptimizerConfig,
    /// The learning-rate scheduler (`torch.optim.lr_scheduler` class name and arguments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<SchedulerConfig>,
    /// The training loop.
    pub train: TrainConfig,
    /// `[metrics]`: extra metrics for the test split.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// `[predict]`: inputs to run the trained model on, printed at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predict: Option<PredictConfig>,
}

/// `[predict]`: `inputs = [[4.0]]` prints `model(torch.tensor([[4.0]]))` after training,
/// as the course's regression programs do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictConfig {
    /// The inputs, `[N, ...model.input]`.
    pub inputs: Nested,
}

/// `[data]`: which dataset, where, and how each split is loaded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataConfig {
    /// The dataset of both splits: a torchvision class name (`dataset = "MNIST"`) or a
    /// table with its arguments (`dataset = { type = "ImageFolder", root = "..." }`).
    pub dataset: DatasetConfig,
    /// Where the files are (default: `$WICK_DATA`, else `./data`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    /// Download missing files from the official mirrors (default `false`).
    pub download: bool,
    /// The training loader.
    pub train: SplitConfig,
    /// The evaluation loader, run after every epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<SplitConfig>,
}

/// `[data.train]` / `[data.test]`: a split, its transforms and its `DataLoader`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitConfig {
    /// `train` or `test`: which files of a torchvision dataset (`train=True/False`).
    pub split: String,
    /// This split's own dataset (default: `[data] dataset`), e.g. another image folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<DatasetConfig>,
    /// Test only: hold out this fraction of the training dataset as the test split
    /// (`random_split` by the run's seed); training uses the rest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holdout: Option<f64>,
    /// torchvision transforms, applied in order (a `Compose`).
    pub transforms: Vec<TransformConfig>,
    /// `DataLoader` arguments.
    #[serde(flatten)]
    pub loader: DataLoaderConfig,
}

/// `[model]`: a `nn.Sequential` and the per-sample input shape it is built for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelConfig {
    /// Per-sample input shape, e.g. `[1, 28, 28]`.
    pub input: Vec<usize>,
    /// The layers, in order.
    pub layers: Vec<LayerConfig>,
}

/// `[train]`: the loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Passes over the training set (default 1).
    #[serde(default = "one")]
    pub epochs: usize,
    /// Batches between running-loss lines `[epoch, batch] loss: x.xxx` (default 300).
    #[serde(default = "three_hundred")]
    pub log_interval: usize,
    /// `[train.checkpoint]`: when to write checkpoints and which metric picks `best`.
    #[serde(default)]
    pub checkpoint: CheckpointConfig,
    /// `[train.early_stopping]`: stop when a metric stops improving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<EarlyStoppingConfig>,
    /// `torch.nn.utils.clip_grad_norm_` before every step: `{ max_norm = 1.0 }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_grad_norm: Option<ClipGradNormConfig>,
    /// `torch.nn.utils.clip_grad_value_` before every step: `{ clip_value = 0.5 }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_grad_value: Option<ClipGradValueConfig>,
}

fn one() -> usize {
    1
}
fn three_hundred() -> usize {
    300
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            log_interval: 300,
            checkpoint: CheckpointConfig::default(),
            early_stopping: None,
            clip_grad_norm: None,
            clip_grad_value: None,
        }
    }
}

// ---- the file as written, before the catalogs are decoded ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExperiment {
    name: String,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    device: DeviceSpec,
    data: RawData,
    model: RawModel,
    loss: toml::Value,
    optimizer: toml::Value,
    #[serde(default)]
    scheduler: Option<toml::Value>,
    #[serde(default)]
    train: TrainConfig,
    #[serde(default)]
    metrics: MetricsConfig,
    #[serde(default)]
    predict: Option<PredictConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawData {
    dataset: toml::Value,
    #[serde(default)]
    root: Option<PathBuf>,
    #[serde(default)]
    download: bool,
    train: RawSplit,
    #[serde(default)]
    test: Option<RawSplit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSplit {
    #[serde(default)]
    split: Option<String>,
    #[serde(default)]
    dataset: Option<toml::Value>,
    #[serde(default)]
    holdout: Option<f64>,
    #[serde(default)]
    transforms: Vec<toml::Value>,
    #[serde(default = "one")]
    batch_size: usize,
    #[serde(default)]
    shuffle: bool,
    #[serde(default)]
    sampler: Option<toml::Value>,
    #[serde(default)]
    drop_last: bool,
    #[serde(default)]
    num_workers: usize,
    #[serde(default)]
    prefetch_factor: Option<usize>,
    #[serde(default)]
    pin_memory: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    input: Vec<usize>,
    layers: Vec<toml::Value>,
}

fn root() -> KeyPath {
    KeyPath::root()
}

impl RawSplit {
    fn resolve(self, path: &KeyPath, default_split: &str) -> Result<SplitConfig, Diagnostic> {
        let transforms = self
            .transforms
            .iter()
            .enumerate()
            .map(|(i, t)| decode_open(t, &path.key("transforms").index(i)))
            .collect::<Result<_, _>>()?;
        let sampler = self
            .sampler
            .as_ref()
            .map(|s| decode_open::<dyn SamplerSpec>(s, &path.key("sampler")))
            .transpose()?;
        let split = self.split.unwrap_or_else(|| default_split.to_string());
        if split != "train" && split != "test" {
            let d = Diagnostic::value(path.key("split"), format!("unknown split `{split}`"))
                .with_label("unknown split");
            return Err(match suggest(&split, ["train", "test"]) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help("MNIST-style datasets have the splits `train` and `test`"),
            });
        }
        let dataset = self
            .dataset
            .as_ref()
            .map(|d| decode_dataset(d, &path.key("dataset")))
            .transpose()?;
        if let Some(h) = self.holdout {
            if default_split == "train" {
                return Err(Diagnostic::key(
                    path.key("holdout"),
                    "holdout belongs in [data.test]: it carves the test split from the training data",
                )
                .with_label("only for the test split"));
            }
            if !(h > 0.0 && h < 1.0) {
                return Err(Diagnostic::value(
                    path.key("holdout"),
                    format!("holdout must be a fraction between 0 and 1, got {h}"),
                )
                .with_label("not in (0, 1)"));
            }
            if dataset.is_some() {
                return Err(Diagnostic::key(
                    path.key("holdout"),
                    "holdout carves the test split from the training data, but this split has its own dataset",
                )
                .with_label("one or the other"));
            }
        }
        Ok(SplitConfig {
            split,
            dataset,
            holdout: self.holdout,
            transforms,
            loader: DataLoaderConfig {
                batch_size: self.batch_size,
                shuffle: self.shuffle,
                sampler,
                drop_last: self.drop_last,
                num_workers: self.num_workers,
                prefetch_factor: self.prefetch_factor,
                pin_memory: self.pin_memory,
            },
        })
    }
}

impl Experiment {
    /// Parses and validates an experiment from TOML text. The error is a diagnostic
    /// with the key path; [`crate::diagnostic::render`] shows it against the text.
    pub fn from_toml(src: &str) -> Result<Self, Diagnostic> {
        let doc: toml::Table = toml::from_str(src).map_err(|e| syntax_error(src, &e))?;
        let raw: RawExperiment = decode(toml::Value::Table(doc), &root())?;
        let data_path = root().key("data");
        let data = DataConfig {
            dataset: decode_dataset(&raw.data.dataset, &data_path.key("dataset"))?,
            root: raw.data.root,
            download: raw.data.download,
            train: raw.data.train.resolve(&data_path.key("train"), "train")?,
            test: raw
                .data
                .test
                .map(|t| t.resolve(&data_path.key("test"), "test"))
                .transpose()?,
        };
        let layers_path = root().key("model").key("layers");
        let layers = raw
            .model
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| decode_open(l, &layers_path.index(i)))
            .collect::<Result<_, _>>()?;
        let mut exp = Experiment {
            name: raw.name,
            seed: raw.seed,
            device: raw.device,
            data,
            model: ModelConfig {
                input: raw.model.input,
                layers,
            },
            loss: decode_open(&raw.loss, &root().key("loss"))?,
            optimizer: decode_open(&raw.optimizer, &root().key("optimizer"))?,
            scheduler: raw
                .scheduler
                .as_ref()
                .map(|s| decode_open(s, &root().key("scheduler")))
                .transpose()?,
            train: raw.train,
            metrics: raw.metrics,
            predict: raw.predict,
        };
        exp.validate()?;
        Ok(exp)
    }

    /// The dataset of a split (its own, else `[data] dataset`).
    pub fn split_dataset<'a>(&'a self, split: &'a SplitConfig) -> &'a DatasetConfig {
        split.dataset.as_ref().unwrap_or(&self.data.dataset)
    }

    /// Checks everything that can be checked without data: names, arguments, shapes,
    /// and that data, model and loss fit together. Fills inferred arguments.
    fn validate(&mut self) -> Result<(), Diagnostic> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !self.name.starts_with('.');
        if !name_ok {
            return Err(Diagnostic::value(
                root().key("name"),
                format!("invalid name {:?}", self.name),
            )
            .with_label("used as a folder name")
            .with_help("use letters, digits, `-`, `_` and `.`"));
        }
        let model_path = root().key("model");
        if self.model.input.is_empty() || self.model.input.contains(&0) {
            return Err(Diagnostic::value(
                model_path.key("input"),
                format!(
                    "model.input must be a non-empty shape of positive sizes, got {:?}",
                    self.model.input
                ),
            )
            .with_label("per-sample input shape, e.g. [1, 28, 28]"));
        }
        if self.model.layers.is_empty() {
            return Err(
                Diagnostic::value(model_path.key("layers"), "the model has no layers")
                    .with_label("empty"),
            );
        }
        // data → model input
        let mut classes = None;
        let mut class_targets = None;
        for (split, key) in [
            (Some(&self.data.train), "train"),
            (self.data.test.as_ref(), "test"),
        ] {
            let Some(split) = split else { continue };
            let path = root().key("data").key(key);
            split
                .loader
                .sampler_config()
                .map_err(|e| data_error(e, &path))?;
            let ds = self.split_dataset(split);
            let ds_path = if split.dataset.is_some() {
                path.key("dataset")
            } else {
                root().key("data").key("dataset")
            };
            let info = ds.info(self.seed).map_err(|e| data_error(e, &ds_path))?;
            if key == "train" {
                classes = info.classes;
                class_targets = info.class_targets;
            }
            // Images of unknown size: probe two sizes; a pipeline with a fixed-size
            // Resize/crop gives the same shape for both.
            let probes: Vec<Vec<usize>> = match &info.shape {
                Some(s) => vec![s.clone()],
                None if info.images => vec![vec![3, 333, 500], vec![3, 517, 401]],
                None => vec![],
            };
            let mut shapes: Vec<Vec<usize>> = probes;
            let mut is_image = info.images;
            for (i, t) in split.transforms.iter().enumerate() {
                let tp = path.key("transforms").index(i);
                let built = t.build().map_err(|e| data_error(e, &tp))?;
                let kind = if is_image { Kind::Image } else { Kind::Tensor };
                is_image = built
                    .output_kind(kind)
                    .map_err(|e| kind_error(e, t.type_name(), kind, info.images, &tp))?
                    == Kind::Image;
                let mut next = Vec::new();
                for s in &shapes {
                    match built.output_shape(s) {
                        Ok(o) => next.push(o),
                        // unknown sizes: the shape is checked when the data is read
                        Err(_) if info.shape.is_none() => {}
                        Err(e) => return Err(data_error(e, &tp)),
                    }
                }
                shapes = next;
            }
            if is_image {
                return Err(Diagnostic::value(
                    path.key("transforms"),
                    "the samples are images; the transforms need a `ToTensor`",
                )
                .with_label("no ToTensor")
                .with_help("add { type = \"ToTensor\" }"));
            }
            let fixed = shapes.first().filter(|s| shapes.iter().all(|o| o == *s));
            if let Some(shape) = fixed {
                if *shape != self.model.input {
                    return Err(Diagnostic::value(
                        model_path.key("input"),
                        format!(
                            "model.input is {:?}, but {} {} samples after the transforms have shape {shape:?}",
                            self.model.input,
                            ds.type_name(),
                            key
                        ),
                    )
                    .with_label("does not match the data")
                    .with_help(format!("set input = {shape:?}")));
                }
            } else if info.sizes_vary && !split.transforms.is_empty() {
                // Images of many sizes must be brought to one before batching.
                let batched = split.loader.batch_size > 1;
                let resized = split.transforms.iter().any(|t| {
                    matches!(
                        t.type_name(),
                        "Resize" | "CenterCrop" | "RandomCrop" | "RandomResizedCrop"
                    )
                });
                if batched && !resized {
                    return Err(Diagnostic::value(
                        path.key("transforms"),
                        format!(
                            "{} images come in many sizes, but batches need one: no transform here makes them the same size",
                            ds.type_name()
                        ),
                    )
                    .with_label("no Resize or crop")
                    .with_help("add { type = \"Resize\", size = [224, 224] } or a Resize and a CenterCrop"));
                }
            }
        }
        let task = Task::of(&self.loss).map_err(|e| {
            Diagnostic::value(root().key("loss").key("type"), e.0).with_label("not trainable here")
        })?;
        if task == Task::Classify && class_targets == Some(false) {
            return Err(Diagnostic::value(
                root().key("loss").key("type"),
                format!(
                    "{} needs class indices, but {} gives float targets",
                    self.loss.type_name(),
                    self.data.dataset.type_name()
                ),
            )
            .with_label("needs class labels")
            .with_help("use a regression loss such as MSELoss, or class labels (label_dtype = \"class\" for a CSV)"));
        }

        let shapes = Sequential::infer(&self.model.input, &mut self.model.layers)
            .map_err(|e| nn_error(e, &model_path))?;

        // model output → loss
        let out = shapes.last().cloned().unwrap_or_default();
        let last = self.model.layers.len() - 1;
        if self.loss.reduction() == wick_losses::Reduction::None {
            return Err(Diagnostic::value(
                root().key("loss").key("reduction"),
                "training needs a scalar loss, but reduction = \"none\" gives one per sample",
            )
            .with_label("not a scalar")
            .with_help("use \"mean\" (the default) or \"sum\""));
        }
        if let (Task::Classify, Some(classes)) = (task, classes) {
            if out.len() != 1 || out[0] != classes {
                let field = self.model.layers[last].output_argument().unwrap_or("type");
                return Err(Diagnostic::value(
                    model_path.key("layers").index(last).key(field),
                    format!(
                        "{} needs one score per class: {} has {classes} classes, \
                         but the model outputs per-sample shape {out:?}",
                        self.loss.type_name(),
                        self.data.dataset.type_name()
                    ),
                )
                .with_label("model output")
                .with_help(format!("end the model with a layer producing [{classes}]")));
            }
            self.loss.check_classes(classes).map_err(|e| match e {
                wick_losses::Error::Config { field, message } => {
                    Diagnostic::value(root().key("loss").key(field), message)
                        .with_label("one entry per class")
                }
                e => Diagnostic::value(root().key("loss"), e.to_string()),
            })?;
        }
        self.loss.build().map_err(|e| match e {
            wick_losses::Error::Config { field, message } => invalid("loss", field, message),
            e => Diagnostic::value(root().key("loss"), e.to_string()),
        })?;
        self.optimizer.validate().map_err(|e| match e {
            wick_optim::Error::Config { field, message } => invalid("optimizer", field, message),
            e => Diagnostic::value(root().key("optimizer"), e.to_string()),
        })?;
        if self.train.epochs == 0 {
            return Err(Diagnostic::value(
                root().key("train").key("epochs"),
                "epochs must be at least 1",
            )
            .with_label("zero"));
        }
        if let Some(sc) = &self.scheduler {
            sc.validate().map_err(|e| match e {
                wick_optim::Error::Config { field, message } => {
                    invalid("scheduler", field, message)
                }
                e => Diagnostic::value(root().key("scheduler"), e.to_string()),
            })?;
        }
        let tp = root().key("train");
        for (cfg, key) in [
            (
                self.train.clip_grad_norm.as_ref().map(|c| c.validate()),
                "clip_grad_norm",
            ),
            (
                self.train.clip_grad_value.as_ref().map(|c| c.validate()),
                "clip_grad_value",
            ),
        ] {
            if let Some(Err(e)) = cfg {
                return Err(match e {
                    wick_optim::Error::Config { field, message } => {
                        Diagnostic::value(tp.key(key).key(field), message)
                            .with_label("invalid value")
                    }
                    e => Diagnostic::value(tp.key(key), e.to_string()),
                });
            }
        }
        if let Some(p) = &self.predict {
            let path = root().key("predict").key("inputs");
            let flat = p
                .inputs
                .flatten("inputs")
                .map_err(|e| data_error(e, &path))?;
            if flat.shape.get(1..) != Some(&self.model.input[..]) {
                return Err(Diagnostic::value(
                    path,
                    format!(
                        "inputs have shape {:?}, but the model takes [N, {}]",
                        flat.shape,
                        self.model
                            .input
                            .iter()
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .with_label("wrong shape")
                .with_help("give a list of inputs, each shaped like model.input"));
            }
        }
        self.validate_metrics()?;
        let metrics = self.epoch_metrics();
        let plateau = self
            .scheduler
            .as_ref()
            .and_then(|s| s.monitor().map(str::to_string));
        let watched = [
            (plateau.as_ref(), root().key("scheduler").key("monitor")),
            (
                self.train.checkpoint.monitor.as_ref(),
                tp.key("checkpoint").key("monitor"),
            ),
            (
                self.train.early_stopping.as_ref().map(|e| &e.monitor),
                tp.key("early_stopping").key("monitor"),
            ),
        ];
        for (m, path) in watched {
            let Some(m) = m else { continue };
            if !metrics.contains(m) {
                let d = Diagnostic::value(path, format!("unknown metric `{m}`"))
                    .with_label("not measured by this experiment");
                return Err(match suggest(m, metrics.iter().map(String::as_str)) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("this experiment measures {}", metrics.join(", "))),
                });
            }
        }
        if self.train.log_interval == 0 {
            return Err(Diagnostic::value(
                root().key("train").key("log_interval"),
                "log_interval must be at least 1",
            )
            .with_label("zero"));
        }
        Ok(())
    }

    /// `[metrics] collection`: each builds, and each has a column of its own.
    fn validate_metrics(&self) -> Result<(), Diagnostic> {
        let path = root().key("metrics").key("collection");
        let mut seen: Vec<String> = Vec::new();
        for (i, m) in self.metrics.collection.iter().enumerate() {
            if let Err(e) = m.build() {
                return Err(
                    Diagnostic::value(path.index(i), e.to_string()).with_label("invalid metric")
                );
            }
            let col = crate::metric::column(m);
            if seen.contains(&col) {
                return Err(Diagnostic::value(
                    path.index(i),
                    format!("a second metric named `{col}`"),
                )
                .with_label("measured twice"));
            }
            seen.push(col);
        }
        Ok(())
    }

    /// The per-epoch metrics this experiment measures (the names `monitor` can take).
    pub fn epoch_metrics(&self) -> Vec<String> {
        let acc = Task::of(&self.loss).is_ok_and(|t| t.has_accuracy());
        let mut m = vec!["train_loss"];
        if acc {
            m.push("train_acc");
        }
        if self.data.test.is_some() {
            m.push("test_loss");
            if acc {
                m.push("test_acc");
            }
        }
        m.into_iter()
            .map(String::from)
            .chain(self.extra_metrics())
            .collect()
    }

    /// The `[metrics]` columns of metrics.csv (`test_top5_acc`, ...).
    pub fn extra_metrics(&self) -> Vec<String> {
        if self.data.test.is_none() {
            return Vec::new();
        }
        let collection = self.metrics.collection.iter().map(crate::metric::column);
        if Task::of(&self.loss) == Ok(Task::Regress) {
            return ["test_mae", "test_mse", "test_r2"]
                .map(String::from)
                .into_iter()
                .chain(collection)
                .collect();
        }
        self.metrics
            .top_k
            .iter()
            .map(|k| format!("test_top{k}_acc"))
            .chain(collection)
            .collect()
    }

    /// The metric that picks the `best` checkpoint.
    pub fn best_metric(&self) -> String {
        if let Some(m) = &self.train.checkpoint.monitor {
            return m.clone();
        }
        let m = self.epoch_metrics();
        let has = |n: &str| m.iter().any(|x| x == n);
        if has("test_acc") {
            "test_acc".into()
        } else if has("test_loss") {
            "test_loss".into()
        } else {
            "train_loss".into()
        }
    }

    /// The resolved experiment as TOML (the run directory's `config.toml`).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self)
            .unwrap_or_else(|e| format!("# cannot serialize the config: {e}\n"))
    }
}

/// A dataset given by name (`"MNIST"`) or as a table with arguments.
fn decode_dataset(v: &toml::Value, path: &KeyPath) -> Result<DatasetConfig, Diagnostic> {
    match v {
        toml::Value::String(ds) => {
            let catalog = wick_tensor::catalog::Catalog::<dyn DatasetSpec>::current();
            if !catalog.contains(ds) {
                let names: Vec<_> = catalog.names().collect();
                let d = Diagnostic::value(path.clone(), format!("unknown dataset `{ds}`"))
                    .with_label("unknown dataset");
                return Err(match suggest(ds, names.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("wick reads {}", names.join(", "))),
                });
            }
            let mut t = toml::Table::new();
            t.insert("type".into(), v.clone());
            decode_open(&toml::Value::Table(t), path)
        }
        _ => decode_open(v, path),
    }
}

/// A transform given what it cannot take: an image where it needs a tensor (before
/// `ToTensor`), or a tensor where it needs an image.
fn kind_error(
    e: wick_data::Error,
    ty: &str,
    given: Kind,
    images: bool,
    path: &KeyPath,
) -> Diagnostic {
    let d = Diagnostic::value(path.key("type"), e.to_string());
    match (given, images) {
        (Kind::Image, _) => d
            .with_label("before ToTensor")
            .with_help(format!("put {{ type = \"ToTensor\" }} before {ty}")),
        (Kind::Tensor, true) => d
            .with_label(format!("second {ty}"))
            .with_help(format!("keep one {ty}")),
        (Kind::Tensor, false) => d
            .with_label("not an image")
            .with_help(format!("this dataset gives tensors: remove {ty}")),
    }
}

/// An invalid argument `section.field`.
fn invalid(section: &str, field: &str, message: String) -> Diagnostic {
    Diagnostic::value(root().key(section).key(field), message).with_label("invalid value")
}

fn nn_error(e: wick_nn::Error, model_path: &KeyPath) -> Diagnostic {
    match e {
        wick_nn::Error::Layer { index, ty, source } => {
            let lp = model_path.key("layers").index(index);
            match *source {
                wick_nn::Error::Config {
                    field: Some(f),
                    message,
                } => Diagnostic::value(lp.key(f), format!("{ty}: {message}"))
                    .with_label("does not fit"),
                other => Diagnostic::value(lp.key("type"), format!("{ty}: {other}"))
                    .with_label("does not fit its input"),
            }
        }
        other => Diagnostic::value(model_path.clone(), other.to_string()),
    }
}

fn data_error(e: wick_data::Error, path: &KeyPath) -> Diagnostic {
    match e {
        wick_data::Error::Config { field, message } => {
            Diagnostic::value(path.key(field), message).with_label("invalid value")
        }
        other => Diagnostic::value(path.clone(), other.to_string()).with_label("invalid"),
    }
}

/// A TOML syntax error, with the key path guessed from the enclosing table header and
/// the key on the failing line.
fn syntax_error(src: &str, e: &toml::de::Error) -> Diagnostic {
    let span = e.span().unwrap_or(0..0);
    let upto = &src[..span.start.min(src.len())];
    let mut path = KeyPath::root();
    for line in upto.lines() {
        let t = line.trim();
        if t.starts_with('[') && !t.contains('=') {
            let inner = t.trim_start_matches('[').split(']').next().unwrap_or("");
            path = KeyPath::root();
            for k in inner.split('.') {
                path = path.key(k.trim().trim_matches('"'));
            }
        }
    }
    let line_start = upto.rfind('\n').map_or(0, |i| i + 1);
    let line = src[line_start..].lines().next().unwrap_or("");
    if let Some((k, _)) = line.split_once('=') {
        let k = k.trim();
        if !k.is_empty() && !k.starts_with('[') && !k.starts_with('{') {
            path = path.key(k);
        }
    }
    let message = e.message().trim().to_string();
    Diagnostic {
        span: Some(Box::new(span)),
        ..Diagnostic::value(path, format!("invalid TOML: {message}")).with_label("here")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INLINE: &str = r#"
name = "t"
[data]
dataset = "MNIST"
[data.train]
batch_size = 8
transforms = [{ type = "ToTensor" }, { type = "Normalize", mean = [0.5], std = [0.5] }]
[model]
input = [1, 28, 28]
layers = [
  { type = "Conv2d", out_channels = 4, kernel_size = 3, padding = 1 },
  { type = "ReLU" },
  { type = "MaxPool2d", kernel_size = 2 },
  { type = "Flatten" },
  { type = "Linear", out_features = 10 },
]
[loss]
type = "CrossEntropyLoss"
[optimizer]
type = "SGD"
lr = 0.1
"#;

    const LONG_HAND: &str = r#"
name = "t"
[data]
dataset = "MNIST"
[data.train]
batch_size = 8
[[data.train.transforms]]
type = "ToTensor"
[[data.train.transforms]]
type = "Normalize"
mean = [0.5]
std = [0.5]
[model]
input = [1, 28, 28]
[[model.layers]]
type = "Conv2d"
out_channels = 4
kernel_size = 3
padding = 1
[[model.layers]]
type = "ReLU"
[[model.layers]]
type = "MaxPool2d"
kernel_size = 2
[[model.layers]]
type = "Flatten"
[[model.layers]]
type = "Linear"
out_features = 10
[loss]
type = "CrossEntropyLoss"
[optimizer]
type = "SGD"
lr = 0.1
"#;

    #[test]
    fn inline_and_long_hand_tables_are_the_same_experiment() {
        let a = Experiment::from_toml(INLINE).unwrap();
        let b = Experiment::from_toml(LONG_HAND).unwrap();
        assert_eq!(a, b);
        let l = a.model.layers[4].downcast_ref::<wick_nn::LinearConfig>();
        assert_eq!(l.unwrap().in_features, Some(4 * 14 * 14));
        let c = a.model.layers[0].downcast_ref::<wick_nn::Conv2dConfig>();
        assert_eq!(c.unwrap().in_channels, Some(1));
    }

    #[test]
    fn defaults_are_pytorchs_and_the_resolved_config_round_trips() {
        let a = Experiment::from_toml(INLINE).unwrap();
        assert_eq!(a.seed, 0);
        assert_eq!(
            a.train,
            TrainConfig {
                epochs: 1,
                log_interval: 300,
                ..Default::default()
            }
        );
        assert!(!a.data.train.loader.shuffle);
        assert_eq!(a.data.train.split, "train");
        let s = a.optimizer.downcast_ref::<wick_optim::SgdConfig>().unwrap();
        assert_eq!(
            (s.momentum, s.dampening, s.weight_decay, s.nesterov),
            (0.0, 0.0, 0.0, false)
        );
        let text = a.to_toml();
        assert!(text.contains("ignore_index = -100"), "{text}");
        let again = Experiment::from_toml(&text).unwrap();
        assert_eq!(a, again);
    }

    #[test]
    fn hub_datasets_are_checked_without_their_files() {
        let hub = |args: &str| {
            INLINE.replace(
                "dataset = \"MNIST\"",
                &format!("dataset = {{ type = \"HuggingFace\", path = \"ylecun/mnist\"{args} }}"),
            )
        };
        // images of a size known only when read: batches need no Resize to validate
        let a = Experiment::from_toml(&hub(", split = { test = \"test\" }")).unwrap();
        assert_eq!(a.data.dataset.type_name(), "HuggingFace");
        let again = Experiment::from_toml(&a.to_toml()).unwrap();
        assert_eq!(a, again);
        let e = Experiment::from_toml(&hub(", labels = \"y\"")).unwrap_err();
        assert_eq!(e.path.to_string(), "data.dataset.labels", "{e}");
        let e = Experiment::from_toml(&hub(", feature_columns = [\"x\"]")).unwrap_err();
        assert!(e.message.contains("ToTensor expects an image"), "{e}");
        let e = Experiment::from_toml(&hub(", split = \"train[:10]\"")).unwrap_err();
        assert!(e.message.contains("slices"), "{e}");
    }
}
