//! `wick export --python`: the experiment spelled as the PyTorch program it stands for
//! (the `nn.Sequential`, the loss, the optimizer, the transforms, the loaders and the
//! course's `train(epoch)` / `test()` loop), loading a checkpoint of the run.
//!
//! Every config serializes with PyTorch's argument names, so a class becomes
//! `nn.<Class>(arg=value, ...)` with each value written as a Python literal (arrays
//! become tuples, `None` stays `None`); the few wick-only keys are handled here.

use crate::export_model::{py, PyModel};
use crate::export_pairs::{base_dataset, is_multi_input, wrap, PAIRS_HELPER};
use crate::export_sampler::{needs_targets, sampler_arg, TARGETS_HELPER};
use crate::export_transfer::TransferPy;
use crate::schema::{Experiment, SplitConfig};
use crate::task::Task;
use serde::Serialize;
use std::fmt::Write;
use wick_data::datasets::HuggingFaceConfig;
use wick_data::Split;

/// A TOML value as a Python literal.
/// The Python side of wick's `HuggingFace` dataset.
const HF_DATASET: &str = r#"

def hf_dataset(args, split, transform):
    """wick's HuggingFace dataset: datasets.load_dataset, rows as (input, label)."""
    from datasets import load_dataset

    tolist = lambda v: list(v) if isinstance(v, tuple) else v
    files = args.get("data_files")
    if isinstance(files, dict):
        files = {k: tolist(v) for k, v in files.items()}
    ds = load_dataset(args["path"], args.get("name"), split=split, data_files=tolist(files),
                      revision=args.get("revision"), cache_dir=args.get("cache_dir"))
    label, features = args.get("label_column", "label"), args.get("feature_columns")
    image = args.get("image_column", "image")

    class HubDataset(torch.utils.data.Dataset):
        def __len__(self):
            return len(ds)

        def __getitem__(self, i):
            row = ds[i]
            if features:
                x = torch.tensor(np.hstack([np.asarray(row[c], dtype=np.float32).ravel() for c in features]))
            else:
                x = row[image]
                x = x.convert("L" if x.mode in ("L", "LA", "I", "I;16") else "RGB")
            return (transform(x) if transform is not None else x), row[label]

    return HubDataset()"#;

/// A nested array as a Python list literal.
fn py_list(v: Option<&toml::Value>) -> String {
    match v {
        Some(toml::Value::Array(a)) => format!(
            "[{}]",
            a.iter()
                .map(|x| py_list(Some(x)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(other) => py(other),
        None => "[]".into(),
    }
}

/// A config's fields as a TOML table (the `type` tag removed).
fn fields<T: Serialize>(cfg: &T) -> (String, toml::Table) {
    let mut t = toml::Table::try_from(cfg).unwrap_or_default();
    let ty = match t.remove("type") {
        Some(toml::Value::String(s)) => s,
        _ => String::new(),
    };
    (ty, t)
}

/// `module.Class(k=v, ...)`, leaving out `skip` keys.
fn call(module: &str, ty: &str, args: &toml::Table, skip: &[&str]) -> String {
    let a: Vec<String> = args
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={}", py(v)))
        .collect();
    format!("{module}.{ty}({})", a.join(", "))
}

/// One layer as a PyTorch expression (nested containers indented by `indent`).
fn layer(cfg: &toml::Table, ty: &str, indent: usize) -> String {
    let pad = " ".repeat(indent + 4);
    let nested = |key: &str| -> Vec<String> {
        cfg.get(key)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|l| l.as_table())
                    .map(|l| {
                        let mut l = l.clone();
                        let t = match l.remove("type") {
                            Some(toml::Value::String(s)) => s,
                            _ => String::new(),
                        };
                        layer(&l, &t, indent + 4)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    match ty {
        "Sequential" => {
            let inner = nested("layers");
            format!(
                "nn.Sequential(\n{}\n{})",
                inner
                    .iter()
                    .map(|l| format!("{pad}{l},"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                " ".repeat(indent)
            )
        }
        "Residual" => {
            let body = nested("layers");
            let proj = nested("projection");
            let seq = |items: &[String]| {
                format!(
                    "nn.Sequential(\n{}\n{pad})",
                    items
                        .iter()
                        .map(|l| format!("{pad}    {l},"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            };
            let proj = if proj.is_empty() {
                "None".to_string()
            } else {
                seq(&proj)
            };
            format!(
                "Residual(\n{pad}{},\n{pad}{proj},\n{})",
                seq(&body),
                " ".repeat(indent)
            )
        }
        "StochasticDepth" => call("torchvision.ops", ty, cfg, &[]),
        _ => call("nn", ty, cfg, &["init"]),
    }
}

/// torchvision takes `interpolation` as an `InterpolationMode`, not its name:
/// `interpolation="bilinear"` becomes `interpolation=transforms.InterpolationMode.BILINEAR`.
fn interpolation_mode(call: String, args: &toml::Table) -> String {
    match args.get("interpolation").and_then(|v| v.as_str()) {
        Some(mode) => call.replace(
            &format!("interpolation={mode:?}"),
            &format!(
                "interpolation=transforms.InterpolationMode.{}",
                mode.to_uppercase()
            ),
        ),
        None => call,
    }
}

/// Whether a transform gives a stack of crops (the model then averages over them).
fn stacks_crops(ty: &str) -> bool {
    matches!(ty, "FiveCrop" | "TenCrop")
}

/// The script's `forward(data)` where a split stacks crops: `[B, n, C, H, W]` runs as
/// `B·n` samples, the outputs averaged over each sample's crops (torchvision's docs).
const CROPS_FORWARD: &str = "
def forward(data):
    if data.dim() == 5:
        bs, ncrops = data.shape[:2]
        return model(data.flatten(0, 1)).view(bs, ncrops, -1).mean(1)
    return model(data)
";

fn transforms(split: &SplitConfig) -> String {
    let items: Vec<String> = split
        .transforms
        .iter()
        .map(|t| {
            let (ty, args) = fields(t);
            let c = interpolation_mode(call("transforms", &ty, &args, &[]), &args);
            if stacks_crops(&ty) {
                // torchvision returns a tuple of crops: stacked as its docs do
                format!("{c}, transforms.Lambda(torch.stack)")
            } else {
                c
            }
        })
        .collect();
    format!(
        "transforms.Compose([\n{}\n])",
        items
            .iter()
            .map(|t| format!("    {t},"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// `DataLoader`'s arguments for `split` over the dataset variable `set`.
fn loader_args(split: &SplitConfig, set: &str) -> String {
    let l = &split.loader;
    let sampler = l.sampler.as_ref().and_then(|s| sampler_arg(s, set));
    let mut s = match sampler {
        Some(sampler) => format!("batch_size={}, {sampler}", l.batch_size),
        None => format!(
            "batch_size={}, shuffle={}",
            l.batch_size,
            if l.shuffle { "True" } else { "False" }
        ),
    };
    if l.drop_last {
        s.push_str(", drop_last=True");
    }
    if l.num_workers > 0 {
        write!(s, ", num_workers={}", l.num_workers).ok();
    }
    s
}

/// The experiment as a runnable PyTorch script that loads `checkpoint` (a
/// `model.safetensors`) when given `--checkpoint`, trains otherwise.
pub fn python_script(exp: &Experiment, default_checkpoint: Option<&str>) -> String {
    let mut s = String::new();
    let w = &mut s;
    script_header(w, exp);
    let tp = script_model(w, exp);
    let (step_sched, epoch_sched) = script_scheduler(w, exp);
    let run_dir = default_checkpoint
        .and_then(|c| std::path::Path::new(c).ancestors().nth(3))
        .map(|d| d.display().to_string());
    script_data(w, exp, run_dir.as_deref());
    script_loop(w, exp, default_checkpoint, (step_sched, epoch_sched), &tp);
    s
}

/// The imports, the CSV reader and, where the model has one, the Residual block.
fn script_header(w: &mut String, exp: &Experiment) {
    writeln!(
        w,
        r#"#!/usr/bin/env python3
"""{name}: the wick experiment as a PyTorch program (generated by `wick export --python`).

    python this.py --checkpoint path/to/model.safetensors   # evaluate a wick checkpoint
    python this.py --train                                  # train it in PyTorch
"""
import argparse
import copy
import fnmatch
import os
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
import torchvision
from torch.utils.data import DataLoader, TensorDataset
from torchvision import datasets, transforms


def csv_dataset(path, args):
    """wick's CSV dataset: numeric columns, the label last unless told otherwise."""
    data = np.loadtxt(path, delimiter=args.get("delimiter", ","), skiprows=1 if args.get("header") else 0, dtype=np.float32)
    label = args.get("label", -1)
    y = data[:, label]
    x = np.delete(data, label, axis=1)
    y = torch.tensor(y).long() if args.get("label_dtype") == "class" else torch.tensor(y).unsqueeze(1)
    return TensorDataset(torch.tensor(x), y)
"#,
        name = exp.name
    )
    .ok();
    let uses_residual = toml::Table::try_from(&exp.model)
        .map(|t| t.to_string().contains("\"Residual\""))
        .unwrap_or(false);
    if uses_residual {
        writeln!(
            w,
            r#"

class Residual(nn.Module):
    """wick's Residual block: layers(x) + (projection(x) if projection else x)."""

    def __init__(self, layers, projection=None):
        super().__init__()
        self.layers = layers
        self.projection = projection

    def forward(self, x):
        skip = x if self.projection is None else self.projection(x)
        return self.layers(x) + skip
"#
        )
        .ok();
    }
}

/// `torch.manual_seed`, the model (a zoo architecture as its torchvision constructor),
/// its transfer keys, the criterion and the optimizer.
fn script_model(w: &mut String, exp: &Experiment) -> TransferPy {
    let plain = |cfg: &wick_nn::LayerConfig, indent: usize| {
        let (ty, args) = fields(cfg);
        layer(&args, &ty, indent)
    };
    let model = match crate::export_transfer::torchvision_model(&exp.model, &plain) {
        Some(code) => code,
        None => {
            let mut py_model = PyModel::new(&plain);
            let model = py_model.model(&exp.model);
            w.push_str(&py_model.classes());
            format!("model = {model}\n")
        }
    };
    writeln!(w, "\ntorch.manual_seed({})", exp.seed).ok();
    write!(w, "\n{model}").ok();
    let t = &exp.model.transfer;
    let weights = t.weights.as_ref().map(|src| {
        crate::weights_file::resolve_local(src)
            .map_or_else(|| src.clone(), |p| p.display().to_string())
    });
    let tp = crate::export_transfer::transfer(t, weights.as_deref());
    w.push_str(&tp.setup);
    let (lty, largs) = fields(&exp.loss);
    writeln!(w, "\ncriterion = {}", call("nn", &lty, &largs, &[])).ok();
    let (oty, oargs) = fields(&exp.optimizer);
    let o = call("optim", &oty, &oargs, &["param_groups"]);
    let o = o
        .replacen('(', &format!("({}, ", tp.params), 1)
        .replace(", )", ")");
    writeln!(w, "optimizer = {o}").ok();
    tp
}

/// The scheduler, and where the loop steps it: the per-batch call and the per-epoch
/// call (one of them empty).
fn script_scheduler(w: &mut String, exp: &Experiment) -> (&'static str, &'static str) {
    // The scheduler, and where the loop steps it (per batch or per epoch).
    match &exp.scheduler {
        Some(sc) => {
            let (sty, sargs) = fields(sc);
            let c = call("optim.lr_scheduler", &sty, &sargs, &["interval", "monitor"])
                .replacen('(', "(optimizer, ", 1)
                .replace(", )", ")");
            writeln!(w, "scheduler = {c}").ok();
            let per_step = sc.interval() == wick_optim::Interval::Step;
            let epoch_call = if sc.monitor().is_some() {
                "scheduler.step(test_loss)"
            } else {
                "scheduler.step()"
            };
            if per_step {
                ("\n        scheduler.step()", "")
            } else {
                ("", epoch_call)
            }
        }
        None => ("", ""),
    }
}

/// The datasets torchvision reads from the four IDX files under `<root>/<Class>/raw`
/// (EMNIST's files have other names).
const IDX_DATASETS: [&str; 3] = ["MNIST", "FashionMNIST", "KMNIST"];

/// torchvision reads `<root>/<Class>/raw/<file>` unpacked; wick also reads the files
/// gzipped, from `<root>/<Class>`, from `<root>` and from Debian's system-wide copy
/// (`/usr/share/datasets/mnist`, `fashion-mnist`): the script puts the files where
/// torchvision looks, unpacked, from wherever wick would have found them.
const IDX_HELPER: &str = r#"def place_idx(root, cls, system=None):
    """Unpacks or copies the four IDX files into root/cls/raw from where wick finds them."""
    import gzip, shutil
    raw = os.path.join(root, cls, "raw")
    dirs = [raw, os.path.join(root, cls), root] + ([os.path.join("/usr/share/datasets", system)] if system else [])
    for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]:
        target = os.path.join(raw, name)
        for d in dirs:
            if os.path.exists(target):
                break
            for f, opener in [(name, open), (name + ".gz", gzip.open)]:
                src = os.path.join(d, f)
                if os.path.exists(src) and src != target:
                    os.makedirs(raw, exist_ok=True)
                    with opener(src, "rb") as a, open(target, "wb") as b:
                        shutil.copyfileobj(a, b)
                    break"#;

/// The data root the script reads (`[data] root`, else `data`).
fn root_of(exp: &Experiment) -> String {
    exp.data
        .root
        .as_ref()
        .map_or_else(|| "data".to_string(), |p| p.display().to_string())
}

/// wick's generated points as a `TensorDataset` (float32 points, int64 classes).
const POINTS_HELPER: &str = r#"def points_dataset(x, y):
    """Points and their classes as wick's generated datasets give them."""
    return TensorDataset(torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long))"#;

/// wick's `make_spirals` (scikit-learn has none), the same formula in NumPy.
const SPIRALS_HELPER: &str = r#"def make_spirals(n_samples=100, n_classes=2, noise=0.2, shuffle=True, random_state=None):
    """CS231n's interleaved spirals: arm k has r = linspace(0, 1, m) and
    theta = linspace(4k, 4(k+1), m) + noise * N(0, 1), points (r sin theta, r cos theta)."""
    rng = np.random.RandomState(random_state)
    sizes = [n_samples // n_classes + (1 if k < n_samples % n_classes else 0) for k in range(n_classes)]
    xs, ys = [], []
    for k, m in enumerate(sizes):
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(4.0 * k, 4.0 * (k + 1), m) + noise * rng.randn(m)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], 1))
        ys.append(np.full(m, k))
    x, y = np.concatenate(xs), np.concatenate(ys)
    if shuffle:
        order = rng.permutation(len(y))
        x, y = x[order], y[order]
    return x, y"#;

/// A generated point set as real code: scikit-learn's generator of the same name
/// (`make_spirals`: the helper above) with the file's arguments; without a
/// `random_state`, the experiment's seed (the test split: seed + 1). wick draws its own
/// points from the same distribution, so the points differ, not their kind.
fn generated_points(ty: &str, args: &toml::Table, seed: u64, var: &str) -> String {
    let mut call: Vec<String> = args.iter().map(|(k, v)| format!("{k}={}", py(v))).collect();
    if !args.contains_key("random_state") {
        let s = if var == "test" { seed + 1 } else { seed };
        call.push(format!("random_state={s}"));
    }
    let module = if ty == "make_spirals" {
        ""
    } else {
        "sklearn.datasets."
    };
    format!("points_dataset(*{module}{ty}({}))", call.join(", "))
}

/// The helpers the datasets of both splits need (hub, class weights, generated
/// points, IDX files), and the line that must follow `ROOT = ...`, if any.
fn data_helpers(w: &mut String, exp: &Experiment) -> Option<String> {
    let splits = [Some(&exp.data.train), exp.data.test.as_ref()];
    let types: Vec<&str> = splits
        .into_iter()
        .flatten()
        .map(|sp| base_dataset(exp.split_dataset(sp)).type_name())
        .collect();
    if splits
        .into_iter()
        .flatten()
        .any(|sp| is_multi_input(exp.split_dataset(sp)))
    {
        writeln!(w, "\n{PAIRS_HELPER}").ok();
    }
    if types.contains(&"HuggingFace") {
        writeln!(w, "{HF_DATASET}").ok();
    }
    let weighs_classes = [Some(&exp.data.train), exp.data.test.as_ref()]
        .into_iter()
        .flatten()
        .any(|sp| sp.loader.sampler.as_ref().is_some_and(needs_targets));
    if weighs_classes {
        writeln!(w, "\n{TARGETS_HELPER}").ok();
    }
    let generated: Vec<&str> = types
        .iter()
        .copied()
        .filter(|t| t.starts_with("make_"))
        .collect();
    if !generated.is_empty() {
        writeln!(w, "\n{POINTS_HELPER}").ok();
    }
    if generated.iter().any(|t| *t != "make_spirals") {
        writeln!(w, "import sklearn.datasets  # pip install scikit-learn").ok();
    }
    if generated.contains(&"make_spirals") {
        writeln!(w, "\n{SPIRALS_HELPER}").ok();
    }
    let idx = types.iter().find(|t| IDX_DATASETS.contains(t))?;
    writeln!(w, "\n{IDX_HELPER}").ok();
    let system = match *idx {
        "MNIST" => ", \"mnist\"",
        "FashionMNIST" => ", \"fashion-mnist\"",
        _ => "",
    };
    Some(format!("place_idx(ROOT, {idx:?}{system})"))
}

/// The datasets and loaders of both splits.
fn script_data(w: &mut String, exp: &Experiment, run_dir: Option<&str>) {
    let after_root = data_helpers(w, exp);
    writeln!(w, "\nROOT = {:?}", root_of(exp)).ok();
    if let Some(line) = after_root {
        writeln!(w, "{line}").ok();
    }
    w.push_str(&dataset_lines(exp, &exp.data.train, "train"));
    if let Some(t) = &exp.data.test {
        match t.holdout {
            Some(h) => {
                w.push_str(&holdout_split(h, run_dir));
                writeln!(
                    w,
                    "train_loader = DataLoader(train_set, {})\ntest_loader = DataLoader(test_set, {})",
                    loader_args(&exp.data.train, "train_set"),
                    loader_args(t, "test_set")
                )
                .ok();
            }
            None => w.push_str(&dataset_lines(exp, t, "test")),
        }
    }
}

/// `{var}_set = ...` and `{var}_loader = DataLoader(...)` for one split.
fn dataset_lines(exp: &Experiment, split: &SplitConfig, var: &str) -> String {
    let whole = exp.split_dataset(split);
    let ds = base_dataset(whole);
    let (ty, args) = fields(ds);
    let tf = transforms(split);
    let set = match ty.as_str() {
        "ImageFolder" => format!(
            "datasets.ImageFolder(os.path.join(ROOT, {}), transform={tf})",
            py(args
                .get("root")
                .unwrap_or(&toml::Value::String(String::new())))
        ),
        "HuggingFace" => {
            let hub_split = match ds.downcast_ref::<HuggingFaceConfig>() {
                Some(c) => c.hub_split(if split.split == "train" {
                    Split::Train
                } else {
                    Split::Test
                }),
                None => split.split.clone(),
            };
            format!(
                "hf_dataset({}, {hub_split:?}, transform={tf})",
                py(&toml::Value::Table(args.clone()))
            )
        }
        "Tensors" => format!(
            "TensorDataset(torch.tensor({}, dtype=torch.float32), torch.tensor({}))",
            py_list(args.get("x")),
            py_list(args.get("y"))
        ),
        "CSV" => format!(
            "csv_dataset(os.path.join(ROOT, {}), {})",
            py(args
                .get("path")
                .unwrap_or(&toml::Value::String(String::new()))),
            py(&toml::Value::Table(args.clone()))
        ),
        t if t.starts_with("make_") => generated_points(t, &args, exp.seed, var),
        _ => format!(
            "datasets.{ty}(ROOT, train={}, download={}, transform={tf})",
            if split.split == "train" {
                "True"
            } else {
                "False"
            },
            if exp.data.download { "True" } else { "False" },
        ),
    };
    let set = wrap(whole, set, exp.seed, u64::from(split.split != "train"));
    format!(
        "{var}_set = {set}\n{var}_loader = DataLoader({var}_set, {})\n",
        loader_args(split, &format!("{var}_set"))
    )
}

/// The `holdout` split: the run's own (its `holdout.json`: the same test samples as
/// wick's), else `random_split` with the same fractions (other samples).
fn holdout_split(h: f64, run_dir: Option<&str>) -> String {
    let random = format!(
        "torch.utils.data.random_split(train_set, [{}, {h}])",
        1.0 - h
    );
    let Some(dir) = run_dir else {
        return format!("train_set, test_set = {random}\n");
    };
    let file = format!("{dir}/{}", crate::rundir::HOLDOUT_FILE);
    format!(
        "HOLDOUT = {file:?}  # the run's split: the test samples are wick's\n\
         if os.path.exists(HOLDOUT):\n    import json\n    with open(HOLDOUT) as f:\n        \
         parts = json.load(f)\n    train_set, test_set = torch.utils.data.Subset(train_set, \
         parts[\"train\"]), torch.utils.data.Subset(train_set, parts[\"test\"])\n\
         else:\n    train_set, test_set = {random}\n"
    )
}

/// `test(loader)` scoring the model as wick does for its task: the first maximum of
/// the class scores; outputs above the threshold (0 for logits, 0.5 for probabilities)
/// against targets above 0.5, per element; MAE and MSE for regression; the loss alone
/// otherwise.
fn test_function(task: Option<Task>, fwd: &str) -> String {
    let (per_batch, report) = match task {
        Some(Task::Classify) => (
            "        correct += (output.argmax(1) == target).sum().item()\n        counted += len(data)",
            r#"print(f"Accuracy: {100.0 * correct / counted:.2f} % ({correct}/{counted}), loss {loss / total:.4f}")"#,
        ),
        Some(Task::Binary { logits }) => (
            if logits {
                "        target = target.view_as(output).to(output.dtype)\n        correct += ((output > 0) == (target > 0.5)).sum().item()\n        counted += output.numel()"
            } else {
                "        target = target.view_as(output).to(output.dtype)\n        correct += ((output > 0.5) == (target > 0.5)).sum().item()\n        counted += output.numel()"
            },
            r#"print(f"Accuracy: {100.0 * correct / counted:.2f} % ({correct}/{counted}), loss {loss / total:.4f}")"#,
        ),
        Some(Task::Regress) => (
            "        target = target.view_as(output).to(output.dtype)\n        abs_err += (output - target).abs().sum().item()\n        sq_err += ((output - target) ** 2).sum().item()\n        counted += output.numel()",
            r#"print(f"loss {loss / total:.4f}, MAE {abs_err / counted:.4f}, MSE {sq_err / counted:.4f} ({total} samples)")"#,
        ),
        _ => ("", r#"print(f"loss {loss / total:.4f} ({total} samples)")"#),
    };
    format!(
        "@torch.no_grad()
def test(loader):
    model.eval()
    loss, total, correct, counted, abs_err, sq_err = 0.0, 0, 0, 0, 0.0, 0.0
    for data, target in loader:
        output = {fwd}(data)
{per_batch}
        loss += criterion(output, target).item() * len(data)
        total += len(data)
    {report}
    return loss / total
"
    )
}

/// `train(epoch)`, `test(loader)` and the main block.
fn script_loop(
    w: &mut String,
    exp: &Experiment,
    default_checkpoint: Option<&str>,
    (step_sched, epoch_sched): (&str, &str),
    tp: &TransferPy,
) {
    let crops = [Some(&exp.data.train), exp.data.test.as_ref()]
        .into_iter()
        .flatten()
        .flat_map(|sp| &sp.transforms)
        .any(|t| stacks_crops(t.type_name()));
    if crops {
        w.push_str(CROPS_FORWARD);
    }
    let fwd = if crops { "forward" } else { "model" };
    let task = Task::of(&exp.loss).ok();
    if exp.train.converged.is_some() {
        w.push_str("\nloss_lst = [float(\"inf\")]  # every step's loss, for [train.converged]\n");
    }
    let test_fn = match task {
        Some(t @ Task::Compare { .. }) => crate::export_pairs::test_function(t, fwd),
        _ => test_function(task, fwd),
    };
    writeln!(
        w,
        "\n\n{}\n\n{test_fn}\n{}",
        train_function(exp, task, fwd, tp, step_sched),
        main_block(exp, default_checkpoint, epoch_sched, tp)
    )
    .ok();
}

/// `def train(epoch)`: one pass over the training loader, as the course writes it.
fn train_function(
    exp: &Experiment,
    task: Option<Task>,
    fwd: &str,
    tp: &TransferPy,
    step_sched: &str,
) -> String {
    let (forward, loss_call) = match task {
        Some(Task::Compare { signs, .. }) => crate::export_pairs::train_lines(signs, fwd),
        _ => (format!("{fwd}(data)"), "criterion(output, target)"),
    };
    let fit_target = if matches!(task, Some(Task::Binary { .. } | Task::Regress)) {
        "\n        target = target.view_as(output).to(output.dtype)"
    } else {
        ""
    };
    let limit = exp.train.limit_train_batches.map_or_else(String::new, |n| {
        format!("\n        if batch_idx == {n}:  # limit_train_batches\n            break")
    });
    let record_loss = if exp.train.converged.is_some() {
        "\n        loss_lst.append(loss.item())"
    } else {
        ""
    };
    format!(
        r#"def train(epoch):
    {train_mode}
    running = 0.0
    for batch_idx, (data, target) in enumerate(train_loader):{limit}
        optimizer.zero_grad()
        output = {forward}{fit_target}
        loss = {loss_call}
        loss.backward()
        optimizer.step(){step_sched}
        running += loss.item(){record_loss}
        if batch_idx % {li} == {li_1}:
            print(f"[{{epoch}}, {{batch_idx + 1:5d}}] loss: {{running / {li}:.3f}}")
            running = 0.0
"#,
        train_mode = tp.train_mode,
        li = exp.train.log_interval,
        li_1 = exp.train.log_interval - 1,
    )
}

/// The `__main__` block: train and test every epoch with `--train`, else evaluate the
/// checkpoint.
fn main_block(
    exp: &Experiment,
    default_checkpoint: Option<&str>,
    epoch_sched: &str,
    tp: &TransferPy,
) -> String {
    let converged = exp.train.converged.as_ref().map_or_else(String::new, |c| {
        format!(
            "\n            if abs(loss_lst[-1] - loss_lst[-2]) < {:?}:  # [train.converged]\n                break",
            c.eps
        )
    });
    format!(
        r#"
if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default={ckpt})
    ap.add_argument("--train", action="store_true")
    args = ap.parse_args()
    eval_loader = {eval_loader}
    if args.train:{load}
        for epoch in range(1, {epochs} + 1):
            train(epoch)
            test_loss = test(eval_loader)
            {epoch_sched}{converged}
    else:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(args.checkpoint))
        test(eval_loader)"#,
        load = tp.load,
        epochs = exp.train.epochs,
        ckpt = default_checkpoint.map_or_else(|| "None".to_string(), |c| format!("{c:?}")),
        eval_loader = if exp.data.test.is_some() {
            "test_loader"
        } else {
            "train_loader"
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_literals() {
        assert_eq!(py(&toml::Value::Float(0.01)), "0.01");
        assert_eq!(py(&toml::Value::Float(1e-5)), "1e-5");
        assert_eq!(py(&toml::Value::Boolean(true)), "True");
        assert_eq!(
            py(&toml::Value::Array(vec![toml::Value::Float(0.5)])),
            "(0.5,)"
        );
        assert_eq!(py(&toml::Value::String("same".into())), "\"same\"");
    }

    #[test]
    fn hub_datasets_read_as_load_dataset() {
        let src = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../experiments/mnist.toml"
        ))
        .unwrap()
        .replace(
            "dataset = \"MNIST\"",
            "dataset = { type = \"HuggingFace\", path = \"ylecun/mnist\", split = { test = \"validation\" } }",
        );
        let exp = Experiment::from_toml(&src).unwrap();
        let s = python_script(&exp, None);
        assert!(s.contains("def hf_dataset(args, split, transform):"), "{s}");
        assert!(
            s.contains("train_set = hf_dataset({\"path\": \"ylecun/mnist\", \"split\": {\"test\": \"validation\"}, \"revision\": \"refs/convert/parquet\""),
            "{s}"
        );
        assert!(
            s.contains("}, \"train\", transform=transforms.Compose(["),
            "{s}"
        );
        assert!(
            s.contains("}, \"validation\", transform=transforms.Compose(["),
            "{s}"
        );
        let plain = python_script(
            &Experiment::from_toml(&src.replace("HuggingFace", "MNIST").replace(
                ", path = \"ylecun/mnist\", split = { test = \"validation\" }",
                "",
            ))
            .unwrap(),
            None,
        );
        assert!(!plain.contains("hf_dataset"), "{plain}");
    }

    /// TenCrop at test time: the crops stacked as torchvision's docs stack them, the
    /// model's outputs averaged over them, a balanced sampler from the targets. (The
    /// script of the hymenoptera experiment so changed, run with torch on a checkpoint,
    /// printed wick's own test accuracy and loss: 85/153, 0.6877.)
    #[test]
    fn ten_crop_and_a_balanced_sampler_read_as_pytorch() {
        let src = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../experiments/hymenoptera.toml"
        ))
        .unwrap()
        .replace(
            "  { type = \"CenterCrop\", size = 224 },\n  { type = \"ToTensor\" },",
            "  { type = \"ToTensor\" },\n  { type = \"TenCrop\", size = 224 },",
        )
        .replace(
            "shuffle = true",
            "sampler = { type = \"WeightedRandomSampler\", weights = \"balanced\" }",
        );
        let exp = Experiment::from_toml(&src).unwrap();
        let s = python_script(&exp, None);
        for want in [
            "transforms.TenCrop(size=224, vertical_flip=False), transforms.Lambda(torch.stack)",
            "def forward(data):",
            "output = forward(data)",
            "def targets_of(dataset):",
            "sampler=torch.utils.data.WeightedRandomSampler((1.0 / torch.bincount(targets_of(train_set))",
        ] {
            assert!(s.contains(want), "{want}\n{s}");
        }
    }

    /// `test()` scores as wick does for the loss's task: BCELoss' probabilities by 0.5,
    /// regression by MAE and MSE (the exported linear regression printed wick's own
    /// `loss 0.0374, MAE 0.1687, MSE 0.0374` on its checkpoint), classes by argmax.
    #[test]
    fn test_scores_each_task_as_wick_does() {
        let script = |name: &str| {
            let src = std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../experiments")
                    .join(name),
            )
            .unwrap();
            python_script(&Experiment::from_toml(&src).unwrap(), None)
        };
        let bce = script("diabetes.toml");
        assert!(
            bce.contains("correct += ((output > 0.5) == (target > 0.5)).sum().item()"),
            "{bce}"
        );
        assert!(
            bce.contains("target = target.view_as(output).to(output.dtype)"),
            "{bce}"
        );
        assert!(!bce.contains("argmax"), "{bce}");
        let logits = script("points.toml");
        assert!(
            logits.contains("((output > 0) == (target > 0.5))"),
            "{logits}"
        );
        let reg = script("linear_regression.toml");
        assert!(
            reg.contains("MAE {abs_err / counted:.4f}, MSE {sq_err / counted:.4f}"),
            "{reg}"
        );
        assert!(
            script("mnist.toml").contains("correct += (output.argmax(1) == target).sum().item()")
        );
    }

    #[test]
    fn limit_train_batches_ends_the_exported_epoch_too() {
        let path = format!(
            "{}/../../experiments/fashion_resnet.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut exp = Experiment::from_toml(&std::fs::read_to_string(path).unwrap()).unwrap();
        exp.train.limit_train_batches = Some(30);
        let s = python_script(&exp, None);
        assert!(
            s.contains("        if batch_idx == 30:  # limit_train_batches\n            break"),
            "{s}"
        );
    }

    #[test]
    fn the_mnist_experiment_reads_as_pytorch() {
        let src = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../experiments/mnist.toml"
        ))
        .unwrap();
        let exp = Experiment::from_toml(&src).unwrap();
        let s = python_script(&exp, Some("runs/x/checkpoints/best/model.safetensors"));
        assert!(
            s.contains("nn.Linear(in_features=784, out_features=512, bias=True),"),
            "{s}"
        );
        assert!(
            s.contains("nn.Flatten(start_dim=1, end_dim=-1)") || s.contains("nn.Flatten("),
            "{s}"
        );
        assert!(
            s.contains("optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.5"),
            "{s}"
        );
        assert!(s.contains("criterion = nn.CrossEntropyLoss("), "{s}");
        assert!(
            s.contains("transforms.Normalize(mean=(0.1307,), std=(0.3081,)"),
            "{s}"
        );
        assert!(s.contains("datasets.MNIST(ROOT, train=True"), "{s}");
        assert!(
            s.contains("DataLoader(train_set, batch_size=64, shuffle=True)"),
            "{s}"
        );
    }

    #[test]
    fn generated_points_are_real_code() {
        let src = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../experiments/points.toml"
        ))
        .unwrap();
        let s = python_script(&Experiment::from_toml(&src).unwrap(), None);
        assert!(!s.contains("NotImplemented"), "{s}");
        assert!(s.contains("import sklearn.datasets"), "{s}");
        assert!(
            s.contains(
                "train_set = points_dataset(*sklearn.datasets.make_moons(n_samples=1000, \
                 shuffle=true, noise=0.2, random_state=0))"
                    .replace("true", "True")
                    .as_str()
            ),
            "{s}"
        );
        assert!(
            s.contains("random_state=1))"),
            "the test split draws others: {s}"
        );
        let spirals = src.replace(
            "type = \"make_moons\"\nn_samples = 1000\nnoise = 0.2",
            "type = \"make_spirals\"\nn_samples = 300\nrandom_state = 7",
        );
        assert_ne!(spirals, src);
        let s = python_script(&Experiment::from_toml(&spirals).unwrap(), None);
        assert!(
            s.contains("def make_spirals(") && !s.contains("import sklearn"),
            "{s}"
        );
        assert!(
            s.contains("points_dataset(*make_spirals(n_samples=300"),
            "{s}"
        );
        assert!(s.contains("random_state=7"), "{s}");
    }

    #[test]
    fn mnist_files_are_placed_where_torchvision_reads_them() {
        let src = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../experiments/fashion_mnist.toml"
        ))
        .unwrap();
        let s = python_script(&Experiment::from_toml(&src).unwrap(), None);
        assert!(s.contains("def place_idx(root, cls, system=None):"), "{s}");
        assert!(
            s.contains("ROOT = \"data\"\nplace_idx(ROOT, \"FashionMNIST\", \"fashion-mnist\")"),
            "{s}"
        );
        let points = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../experiments/points.toml"
        ))
        .unwrap();
        let s = python_script(&Experiment::from_toml(&points).unwrap(), None);
        assert!(!s.contains("place_idx"), "{s}");
    }

    #[test]
    fn a_holdout_takes_the_runs_own_split() {
        let with = holdout_split(0.2, Some("runs/x/20261206-101500"));
        assert!(
            with.starts_with("HOLDOUT = \"runs/x/20261206-101500/holdout.json\""),
            "{with}"
        );
        assert!(
            with.contains("torch.utils.data.Subset(train_set, parts[\"test\"])"),
            "{with}"
        );
        assert!(with.contains("else:\n    train_set, test_set = torch.utils.data.random_split(train_set, [0.8, 0.2])"), "{with}");
        let without = holdout_split(0.2, None);
        assert_eq!(
            without,
            "train_set, test_set = torch.utils.data.random_split(train_set, [0.8, 0.2])\n"
        );
    }
}
