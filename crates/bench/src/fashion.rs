//! Fashion-MNIST's training split as one pre-normalized tensor, for the hand-written
//! loops (the equivalent of PyTorch's "pre-tensorized" loop).

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use std::path::{Path, PathBuf};
use wick_data::idx;

/// The directory holding Fashion-MNIST's IDX files: `$FASHION_DIR`, else Debian's
/// `dataset-fashion-mnist` location.
pub fn data_dir() -> PathBuf {
    std::env::var_os("FASHION_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/datasets/fashion-mnist"))
}

fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    [format!("{stem}.gz"), stem.to_string()]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
        .with_context(|| {
            format!(
                "no {stem}[.gz] in {} (apt-get install dataset-fashion-mnist, or set FASHION_DIR)",
                dir.display()
            )
        })
}

/// `(x [N,1,28,28] f32, y [N] u32)`: `(pixel / 255 - 0.1307) / 0.3081`, as
/// `ToTensor` + `Normalize((0.1307,), (0.3081,))` give.
pub fn train_set(dir: &Path) -> Result<(Tensor, Tensor)> {
    let images = idx::read_u8(&find(dir, "train-images-idx3-ubyte")?, 3)?;
    let labels = idx::read_u8(&find(dir, "train-labels-idx1-ubyte")?, 1)?;
    let n = images.dims[0];
    let x: Vec<f32> = images
        .data
        .iter()
        .map(|&p| (f32::from(p) / 255.0 - 0.1307) / 0.3081)
        .collect();
    let y: Vec<u32> = labels.data.iter().map(|&l| u32::from(l)).collect();
    Ok((
        Tensor::from_vec(x, (n, 1, 28, 28), &Device::Cpu)?,
        Tensor::from_vec(y, n, &Device::Cpu)?,
    ))
}

/// A random permutation of `0..n` (Fisher–Yates), the batches' order for one epoch.
pub fn permutation(n: usize, seed: u64) -> Vec<u32> {
    let mut rng = wick_tensor::SeedRng::new(seed);
    let mut p: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        p.swap(i, rng.below(i + 1));
    }
    p
}
