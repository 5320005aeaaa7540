//! Times a stack of layers' forward and backward pass on random inputs, as
//! `torch.utils.benchmark` would a `nn.Sequential`: a development tool for the kernels.
//!
//! ```text
//! cargo run --release -p wick-nn --example time_layers -- \
//!     '[{ type = "MaxPool2d", kernel_size = 3, stride = 2, padding = 1 }]' 16,64,112,112 [reps]
//! ```
//! (the layers as a TOML array, the input shape with the batch first).

use candle_core::{DType, Device, Tensor, Var};
use std::time::Instant;
use wick_nn::{BuildCtx, LayerConfig, Sequential};
use wick_tensor::SeedRng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes malloc's tunables; called before any other thread
    // exists. The same tunables as `wick::process::tune_for_training` (large blocks
    // from the heap, never trimmed, one arena), so that the kernels are timed as
    // training runs them rather than the page faults of fresh mappings.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: time_layers '<TOML array of layers>' N,C,H,W [reps]";
    let (layers, shape) = match (args.get(1), args.get(2)) {
        (Some(l), Some(s)) => (l, s),
        _ => return Err(usage.into()),
    };
    let reps: usize = args.get(3).map_or(Ok(20), |r| r.parse())?;
    let shape: Vec<usize> = shape.split(',').map(str::parse).collect::<Result<_, _>>()?;
    #[derive(serde::Deserialize)]
    struct M {
        layers: Vec<LayerConfig>,
    }
    let mut m: M = toml::from_str(&format!("layers = {layers}"))?;
    let mut rng = SeedRng::new(0);
    let mut ctx = BuildCtx {
        device: &Device::Cpu,
        dtype: DType::F32,
        rng: &mut rng,
    };
    let model = Sequential::new(&shape[1..], &mut m.layers, &mut ctx)?;
    let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, shape.as_slice(), &Device::Cpu)?)?;
    let (mut fwd, mut bwd) = (Vec::new(), Vec::new());
    Device::Cpu.with_context(|| -> candle_core::Result<()> {
        for _ in 0..reps {
            let t0 = Instant::now();
            let y = model
                .forward(x.as_tensor(), true)
                .map_err(candle_core::Error::wrap)?;
            let t1 = Instant::now();
            let g = y.sum_all()?.backward()?;
            let t2 = Instant::now();
            drop(g);
            fwd.push((t1 - t0).as_secs_f64() * 1e3);
            bwd.push((t2 - t1).as_secs_f64() * 1e3);
        }
        Ok(())
    })?;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "forward {:.3} ms, backward {:.3} ms (median of {reps})",
        median(fwd),
        median(bwd)
    );
    Ok(())
}
