//! The experiment file: its typed form and its defaults. `raw.rs` decodes the file
//! into it; `validate.rs` checks it.
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
//! [log]           # tensorboard = true
//! ```

use crate::checkpoint::CheckpointConfig;
use crate::metrics::MetricsConfig;
use crate::monitor::{ConvergedConfig, EarlyStoppingConfig};
use crate::task::Task;
use crate::tensorboard::LogConfig;
use crate::transfer::TransferConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use wick_data::datasets::{DatasetConfig, Nested};
use wick_data::transforms::TransformConfig;
use wick_data::DataLoaderConfig;
use wick_losses::LossConfig;
use wick_nn::NodeConfig;
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
    /// `[log]`: what the run writes for other tools (TensorBoard event files).
    #[serde(default, skip_serializing_if = "LogConfig::is_default")]
    pub log: LogConfig,
    /// `[predict]`: inputs to run the trained model on, printed at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predict: Option<PredictConfig>,
    /// `[distributed]`: how the ranks of a data-parallel run work together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distributed: Option<crate::distributed::DistributedConfig>,
    /// `[sweep]`: what `wick sweep` varies (`wick run` trains the file as written). Not
    /// part of a run's resolved config: a trial is one configuration of it.
    #[serde(skip)]
    pub sweep: Option<crate::sweep_config::SweepConfig>,
}

/// `[predict]`: `inputs = [[4.0]]` prints `model(torch.tensor([[4.0]]))` after training,
/// as the course's regression programs do; `before = true` prints it before training
/// too (the course's `print("predict (before training)", 4, forward(4).item())`), and
/// `parameters = ["0.weight", "0.bias"]` prints those `state_dict` entries with it (its
/// `print('w = ', model.linear.weight.item())`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictConfig {
    /// The inputs, `[N, ...model.input]`.
    pub inputs: Nested,
    /// Also before training (default `false`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub before: bool,
    /// `state_dict` keys printed with the predictions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<String>,
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

/// `[model]`: a `nn.Sequential` (or a graph of named nodes) and the per-sample shapes
/// of its inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// The inputs by name with their per-sample shapes: `input = [1, 28, 28]` is one
    /// named `input`; `inputs = { x1 = [16], x2 = [16] }` several.
    pub inputs: Vec<(String, Vec<usize>)>,
    /// The nodes, in order (blocks expanded).
    pub layers: Vec<NodeConfig>,
    /// The nodes whose outputs the model returns (default: the last).
    pub outputs: Vec<String>,
    /// Weights to start from, and which parameters train.
    pub transfer: TransferConfig,
    /// The zoo architecture it was built from (`type = "resnet18"`), if any.
    pub architecture: Option<crate::zoo::Architecture>,
}

impl ModelConfig {
    /// The per-sample shape of the first input.
    pub fn input(&self) -> &[usize] {
        self.inputs
            .first()
            .map(|(_, s)| s.as_slice())
            .unwrap_or(&[])
    }

    /// Whether the model takes one input named `input` (written `input = [...]`).
    fn one_input(&self) -> bool {
        self.inputs.len() == 1 && self.inputs[0].0 == "input"
    }

    /// The input names.
    pub fn input_names(&self) -> Vec<String> {
        self.inputs.iter().map(|(n, _)| n.clone()).collect()
    }
}

impl Serialize for ModelConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        if self.one_input() {
            m.serialize_entry("input", &self.inputs[0].1)?;
        } else {
            let table: toml::Table = self
                .inputs
                .iter()
                .map(|(n, shape)| {
                    let dims = shape
                        .iter()
                        .map(|&d| toml::Value::Integer(d as i64))
                        .collect();
                    (n.clone(), toml::Value::Array(dims))
                })
                .collect();
            m.serialize_entry("inputs", &table)?;
        }
        if let Ok(toml::Value::Table(t)) = toml::Value::try_from(&self.transfer) {
            for (k, v) in t {
                m.serialize_entry(&k, &v)?;
            }
        }
        if let Some(a) = &self.architecture {
            m.serialize_entry("architecture", a)?;
        }
        m.serialize_entry("layers", &self.layers)?;
        if !self.outputs.is_empty() {
            m.serialize_entry("outputs", &self.outputs)?;
        }
        m.end()
    }
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
    /// `[train.converged]`: stop when the step loss stops changing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converged: Option<ConvergedConfig>,
    /// `torch.nn.utils.clip_grad_norm_` before every step: `{ max_norm = 1.0 }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_grad_norm: Option<ClipGradNormConfig>,
    /// `torch.nn.utils.clip_grad_value_` before every step: `{ clip_value = 0.5 }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_grad_value: Option<ClipGradValueConfig>,
    /// Train on at most this many batches an epoch (Lightning's `limit_train_batches`):
    /// quick trial runs and benchmarks on part of a large dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_train_batches: Option<usize>,
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
            converged: None,
            clip_grad_norm: None,
            clip_grad_value: None,
            limit_train_batches: None,
        }
    }
}

impl Experiment {
    /// The dataset of a split (its own, else `[data] dataset`).
    pub fn split_dataset<'a>(&'a self, split: &'a SplitConfig) -> &'a DatasetConfig {
        split.dataset.as_ref().unwrap_or(&self.data.dataset)
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
        let l = a.model.layers[4]
            .layer()
            .unwrap()
            .downcast_ref::<wick_nn::LinearConfig>();
        assert_eq!(l.unwrap().in_features, Some(4 * 14 * 14));
        let c = a.model.layers[0]
            .layer()
            .unwrap()
            .downcast_ref::<wick_nn::Conv2dConfig>();
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
