//! Loader throughput, for the note (the Python counterpart is
//! `scripts/bench_loader.py`):
//!
//! - MNIST: `ToTensor` + `Normalize((0.1307,), (0.3081,))`, batch 64, shuffled,
//!   `num_workers` 0 and 2, samples/s over whole epochs;
//! - hymenoptera: `ImageFolder` decode + `ToTensor`, batch 1, `num_workers` 0 and 2,
//!   images/s; and the training pipeline of experiments/hymenoptera.toml
//!   (RandomResizedCrop 224, RandomHorizontalFlip, ToTensor, Normalize), batch 16.
//!
//! `cargo run --release -p wick-data --example bench_loader -- <shared datasets dir> [epochs]`

use std::sync::Arc;
use std::time::Instant;
use wick_data::datasets::ImageFolderConfig;
use wick_data::transforms::{Compose, TransformConfig};
use wick_data::{DataLoader, DataLoaderConfig, Dataset, Mnist, MnistKind};

fn run(
    name: &str,
    ds: Arc<dyn Dataset>,
    transforms: impl Fn() -> Compose,
    batch_size: usize,
    epochs: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    for workers in [0, 2] {
        let cfg = DataLoaderConfig {
            batch_size,
            shuffle: true,
            num_workers: workers,
            ..Default::default()
        };
        let loader = DataLoader::new(ds.clone(), transforms(), &cfg, 0, candle_core::Device::Cpu)?;
        // one warm-up epoch (page cache, allocator)
        for b in loader.epoch(0) {
            b?;
        }
        let t = Instant::now();
        let mut n = 0;
        for e in 1..=epochs {
            for b in loader.epoch(e) {
                n += b?.len;
            }
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "wick  {name:<12} num_workers={workers}  {:>10.0} samples/s  ({n} samples in {s:.3} s)",
            n as f64 / s
        );
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let shared = std::path::PathBuf::from(
        args.get(1)
            .cloned()
            .unwrap_or_else(|| "../shared/datasets".into()),
    );
    let epochs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let mnist = Mnist::from_files(
        MnistKind::Mnist,
        &shared.join("mnist/train-images-idx3-ubyte.gz"),
        &shared.join("mnist/train-labels-idx1-ubyte.gz"),
    )?;
    let t = |s: &str| -> TransformConfig { toml::from_str(s).expect("a valid transform") };
    let to_tensor = t("type = \"ToTensor\"");
    let normalize = t("type = \"Normalize\"\nmean = [0.1307]\nstd = [0.3081]");
    run(
        "MNIST",
        Arc::new(mnist),
        || Compose::from_configs(&[to_tensor.clone(), normalize.clone()]).expect("valid"),
        64,
        epochs,
    )?;
    let hym = Arc::new(ImageFolderConfig::new(shared.join("hymenoptera/train")).build()?);
    run(
        "hymenoptera",
        hym.clone(),
        || Compose::from_configs(std::slice::from_ref(&to_tensor)).expect("valid"),
        1,
        1,
    )?;
    // The training pipeline of experiments/hymenoptera.toml, batch 16.
    let train = [
        t("type = \"RandomResizedCrop\"\nsize = 224"),
        t("type = \"RandomHorizontalFlip\""),
        to_tensor.clone(),
        t("type = \"Normalize\"\nmean = [0.485, 0.456, 0.406]\nstd = [0.229, 0.224, 0.225]"),
    ];
    run(
        "hymenoptera train pipeline",
        hym,
        || Compose::from_configs(&train).expect("valid"),
        16,
        epochs,
    )?;
    Ok(())
}
