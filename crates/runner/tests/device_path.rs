//! The GPU path without a GPU: a whole training run with every wick op forced onto its
//! device-generic composition (`wick_tensor::device_path::force_generic`: activations,
//! pooling, padding, convolutions, BatchNorm, the loss's one-hot, the optimizer and
//! gradient clipping as candle ops, metrics accumulated as tensors and read back at log
//! lines) gives the numbers of the CPU kernels' run.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use wick_runner::schema::Experiment;
use wick_runner::trainer::{run, RunOptions, RunReport};
use wick_tensor::device_path::force_generic;

/// A small CNN over make_moons points lifted to 1×6×6 images, touching every op that
/// has a CPU kernel: conv with stride and padding mode, transposed conv, BatchNorm,
/// ReLU and other activations, max/avg/adaptive pooling, Dropout, cross-entropy,
/// Adam with clipping.
const EXPERIMENT: &str = r#"
name = "device-path"
seed = 3
device = "cpu"

[data.dataset]
type = "make_moons"
n_samples = 192
noise = 0.2

[data.train]
batch_size = 16
shuffle = true

[data.test]
batch_size = 64

[model]
input = [2]
layers = [
  { type = "Linear", out_features = 36 },
  { type = "Unflatten", dim = 1, unflattened_size = [1, 6, 6] },
  { type = "Conv2d", out_channels = 4, kernel_size = 3, padding = 1, padding_mode = "reflect" },
  { type = "BatchNorm2d" },
  { type = "ReLU" },
  { type = "ConvTranspose2d", out_channels = 3, kernel_size = 2, stride = 2 },
  { type = "ELU" },
  { type = "MaxPool2d", kernel_size = 3, stride = 2, ceil_mode = true },
  { type = "Conv2d", out_channels = 4, kernel_size = [2, 3], stride = [1, 2], padding = 1 },
  { type = "Hardswish" },
  { type = "AvgPool2d", kernel_size = 2, stride = 1, padding = 1, count_include_pad = false },
  { type = "AdaptiveMaxPool2d", output_size = 2 },
  { type = "Dropout", p = 0.2 },
  { type = "Flatten" },
  { type = "Linear", out_features = 2 },
]

[loss]
type = "CrossEntropyLoss"

[optimizer]
type = "Adam"
lr = 0.01

[train]
epochs = 2
log_interval = 4
clip_grad_norm = { max_norm = 1.0 }
"#;

fn train(generic: bool) -> RunReport {
    let exp = Experiment::from_toml(EXPERIMENT).unwrap_or_else(|e| panic!("{e:?}"));
    let tmp = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        runs_dir: tmp.path().join("runs"),
        progress: false,
        mirrors: None,
        overrides: Vec::new(),
        stop: Arc::new(AtomicBool::new(false)),
        ..Default::default()
    };
    let report = if generic {
        force_generic(|| run(&exp, &opts))
    } else {
        run(&exp, &opts)
    };
    report.unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_run_on_the_device_path_matches_the_cpu_kernels() {
    let cpu = train(false);
    let dev = train(true);
    assert_eq!(cpu.epochs.len(), 2);
    assert_eq!(dev.epochs.len(), 2);
    let close = |a: f64, b: f64, tol: f64, what: &str| {
        assert!(
            (a - b).abs() <= tol * (1.0 + b.abs()),
            "{what}: device path {a}, CPU kernels {b}"
        );
    };
    // The first epoch's training loss averages losses computed before f32 rounding
    // differences (sums in another order) have been amplified by many Adam steps: it
    // agrees tightly. Later numbers follow parameters that drift by rounding only.
    close(
        dev.epochs[0].train_loss,
        cpu.epochs[0].train_loss,
        1e-4,
        "epoch 1 train loss",
    );
    for (d, c) in dev.epochs.iter().zip(&cpu.epochs) {
        close(d.train_loss, c.train_loss, 5e-3, "train loss");
        close(
            d.test_loss.unwrap(),
            c.test_loss.unwrap(),
            5e-3,
            "test loss",
        );
        // 192 samples: rounding drift may flip a few predictions near the boundary
        close(
            d.train_acc.unwrap(),
            c.train_acc.unwrap(),
            4.0 / 192.0,
            "train accuracy",
        );
        close(
            d.test_acc.unwrap(),
            c.test_acc.unwrap(),
            4.0 / 192.0,
            "test accuracy",
        );
    }
}
