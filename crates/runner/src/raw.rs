//! The experiment file as written: the raw document (sections whose classes are not
//! yet decoded), decoded into the typed [`Experiment`] through the catalogs in force,
//! key path by key path, then validated.

use crate::blocks::Blocks;
use crate::decode::{decode, decode_open};
use crate::diagnostic::{suggest, Diagnostic};
use crate::keypath::KeyPath;
use crate::metrics::MetricsConfig;
use crate::model_decode::RawModel;
use crate::schema::{DataConfig, Experiment, PredictConfig, SplitConfig, TrainConfig};
use crate::tensorboard::LogConfig;
use serde::Deserialize;
use std::path::PathBuf;
use wick_data::datasets::{DatasetConfig, DatasetSpec};
use wick_data::sampler::SamplerSpec;
use wick_data::DataLoaderConfig;
use wick_tensor::DeviceSpec;

fn one() -> usize {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExperiment {
    name: String,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    device: DeviceSpec,
    data: RawData,
    model: toml::Value,
    #[serde(default)]
    blocks: Option<toml::Table>,
    loss: toml::Value,
    optimizer: toml::Value,
    #[serde(default)]
    scheduler: Option<toml::Value>,
    #[serde(default)]
    train: TrainConfig,
    #[serde(default)]
    metrics: MetricsConfig,
    #[serde(default)]
    log: LogConfig,
    #[serde(default)]
    predict: Option<PredictConfig>,
    #[serde(default)]
    distributed: Option<crate::distributed::DistributedConfig>,
    #[serde(default)]
    sweep: Option<toml::Value>,
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
        let doc = toml::Value::Table(doc);
        if let Some((path, x)) = non_finite(&doc, &root()) {
            return Err(
                Diagnostic::value(path, format!("{x} is not a finite number"))
                    .with_label("not finite")
                    .with_help("every number of an experiment is finite (but `norm_type = inf`)"),
            );
        }
        let raw: RawExperiment = decode(doc, &root())?;
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
        let layers = wick_tensor::catalog::Catalog::<dyn wick_nn::LayerSpec>::current();
        let zoo = crate::zoo::zoo()?;
        let blocks = Blocks::new(raw.blocks, |n| layers.contains(n))?.with_zoo(&zoo.blocks)?;
        let model = RawModel::resolve_value(raw.model, &blocks, zoo)?;
        let mut exp = Experiment {
            name: raw.name,
            seed: raw.seed,
            device: raw.device,
            data,
            model,
            loss: decode_open(&raw.loss, &root().key("loss"))?,
            optimizer: decode_open(&raw.optimizer, &root().key("optimizer"))?,
            scheduler: raw
                .scheduler
                .as_ref()
                .map(|s| decode_open(s, &root().key("scheduler")))
                .transpose()?,
            train: raw.train,
            metrics: raw.metrics,
            log: raw.log,
            predict: raw.predict,
            distributed: raw.distributed,
            sweep: raw
                .sweep
                .map(|s| crate::sweep_config::SweepConfig::decode(&s, &root().key("sweep")))
                .transpose()?,
        };
        exp.validate()?;
        Ok(exp)
    }
}

/// The first number of the file that is not finite (`inf`, `nan`), with its key path:
/// no hyperparameter is one, but for the order of a norm (`norm_type = inf`, PyTorch's
/// infinity norm). A learning rate of `inf` would otherwise pass `lr ≥ 0` and train
/// NaNs.
fn non_finite(v: &toml::Value, path: &KeyPath) -> Option<(KeyPath, f64)> {
    match v {
        toml::Value::Float(x) if !x.is_finite() => Some((path.clone(), *x)),
        toml::Value::Table(t) => t
            .iter()
            .filter(|(k, _)| k.as_str() != "norm_type")
            .find_map(|(k, v)| non_finite(v, &path.key(k))),
        toml::Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| non_finite(v, &path.index(i))),
        _ => None,
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

/// A TOML syntax error, with the key path guessed from the enclosing table header and
/// the key on the failing line.
pub(crate) fn syntax_error(src: &str, e: &toml::de::Error) -> Diagnostic {
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
