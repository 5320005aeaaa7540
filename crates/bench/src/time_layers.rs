//! `wick-bench time-layers`: a stack of layers' forward and backward pass timed on
//! random inputs, as `torch.utils.benchmark` would time an `nn.Sequential` — for
//! working on one kernel (`MaxPool2d(3, 2, 1)` at ResNet's first pooling). Runs on a
//! thread of the compute pool with the training's malloc settings, as `wick run` does.

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor, Var};
use std::time::Instant;
use wick_nn::{BuildCtx, LayerConfig, Sequential};
use wick_tensor::SeedRng;

/// What [`run`] measured.
pub struct Timings {
    /// Median forward milliseconds.
    pub forward: f64,
    /// Median backward milliseconds.
    pub backward: f64,
    /// wick's kernels over all the runs (`wick_nn::profile`), those called.
    pub kernels: Vec<wick_nn::profile::KernelTotal>,
}

/// Median forward and backward milliseconds of `layers` (a TOML array of layer
/// tables) on inputs of `shape` (batch first), over `reps` runs, and the time in each
/// of wick's kernels.
pub fn run(layers: &str, shape: &[usize], reps: usize) -> Result<Timings> {
    anyhow::ensure!(
        shape.len() >= 2 && reps > 0,
        "time-layers: N,... shape and reps > 0"
    );
    #[derive(serde::Deserialize)]
    struct M {
        layers: Vec<LayerConfig>,
    }
    let mut m: M = toml::from_str(&format!("layers = {layers}")).context("the layers")?;
    let mut rng = SeedRng::new(0);
    let mut ctx = BuildCtx {
        device: &Device::Cpu,
        dtype: DType::F32,
        rng: &mut rng,
    };
    let model = Sequential::new(&shape[1..], &mut m.layers, &mut ctx)?;
    let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, shape, &Device::Cpu)?)?;
    let (mut fwd, mut bwd) = (Vec::new(), Vec::new());
    wick::process::in_compute_pool(|| -> Result<()> {
        drop(model.forward(x.as_tensor(), true)?.sum_all()?.backward()?);
        wick_nn::profile::reset();
        wick_nn::profile::enable(true);
        for _ in 0..reps {
            let t0 = Instant::now();
            let y = model.forward(x.as_tensor(), true)?;
            let t1 = Instant::now();
            drop(y.sum_all()?.backward()?);
            fwd.push((t1 - t0).as_secs_f64() * 1e3);
            bwd.push(t1.elapsed().as_secs_f64() * 1e3);
        }
        wick_nn::profile::enable(false);
        Ok(())
    })?;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let kernels = wick_nn::profile::totals()
        .into_iter()
        .filter(|k| k.calls > 0)
        .collect();
    Ok(Timings {
        forward: median(fwd),
        backward: median(bwd),
        kernels,
    })
}
