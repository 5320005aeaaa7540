//! Time of one `optimizer.step()` over the parameters of the 5-layer MLP
//! (784-512-256-128-64-10, 575,050 parameters, f32, CPU), per optimizer.
//! Compare with `scripts/bench_optim.py` (PyTorch, same shapes).
//!
//! `cargo run --release -p wick-optim --example bench_update`

use candle_core::{DType, Device, Tensor, Var};
use std::time::Instant;
use wick_optim::OptimizerConfig;
use wick_tensor::Param;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dev = Device::Cpu;
    let sizes = [784usize, 512, 256, 128, 64, 10];
    let mut params = Vec::new();
    for (i, w) in sizes.windows(2).enumerate() {
        let weight = Var::from_tensor(&(Tensor::randn(0f32, 1.0, (w[1], w[0]), &dev)? * 0.01)?)?;
        let bias = Var::zeros(w[1], DType::F32, &dev)?;
        params.push(Param::new(format!("{}.weight", 2 * i), weight));
        params.push(Param::new(format!("{}.bias", 2 * i), bias));
    }
    let n: usize = params.iter().map(|p| p.numel()).sum();
    // a GradStore with a random gradient for every parameter
    let mut total = Tensor::new(0f32, &dev)?;
    for p in &params {
        total = (total + p.tensor().sum_all()?)?;
    }
    let mut grads = total.backward()?;
    for p in &params {
        let g = (Tensor::randn(0f32, 1.0, p.tensor().shape(), &dev)? * 1e-3)?;
        grads.insert(p.tensor(), g);
    }
    let configs = [
        r#"{"type": "SGD", "lr": 0.01}"#,
        r#"{"type": "SGD", "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4}"#,
        r#"{"type": "Adam"}"#,
        r#"{"type": "AdamW", "amsgrad": true}"#,
        r#"{"type": "RMSprop", "centered": true, "momentum": 0.9}"#,
        r#"{"type": "Adagrad"}"#,
        r#"{"type": "Adadelta"}"#,
        r#"{"type": "Adamax"}"#,
        r#"{"type": "NAdam"}"#,
        r#"{"type": "RAdam"}"#,
    ];
    println!("{n} parameters; ms per step (median of 200, after 10 warm-up steps)");
    for c in configs {
        let cfg: OptimizerConfig = serde_json::from_str(c)?;
        let mut opt = cfg.build(params.clone())?;
        for _ in 0..10 {
            opt.step(&grads)?;
        }
        let mut times: Vec<f64> = (0..200)
            .map(|_| {
                let t = Instant::now();
                opt.step(&grads).map(|_| t.elapsed().as_secs_f64() * 1e3)
            })
            .collect::<Result<_, _>>()?;
        times.sort_by(f64::total_cmp);
        println!("{:<70} {:8.3}", c, times[times.len() / 2]);
    }
    Ok(())
}
