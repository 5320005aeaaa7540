//! wick's own crates (wick-nn's model, wick-losses, wick-optim) driven by a plain loop
//! over the pre-built tensors: the kernels without the runner, its data pipeline,
//! metrics and logs. The runner's overhead is `wick run`'s epoch time over this one.

use crate::fashion;
use crate::report::LoopReport;
use anyhow::Result;
use candle_core::{DType, Device, Tensor};
use std::path::Path;
use std::time::Instant;

/// Trains the model, loss and optimizer of the experiment file `exp` for one epoch of
/// the pre-built Fashion-MNIST tensors (or its first `max_steps` batches); W6 on
/// synthetic images of the model's input shape instead.
pub fn run(workload: &str, exp: &Path, max_steps: Option<usize>) -> Result<LoopReport> {
    let exp = wick_runner::load_experiment(exp)?;
    let (x, y) = match workload {
        "w6" => synthetic(&exp, max_steps.unwrap_or(20))?,
        _ => fashion::train_set(&fashion::data_dir())?,
    };
    let n = x.dim(0)?;
    let model = wick_runner::build_model(&exp, &Device::Cpu)?;
    let criterion = exp.loss.build()?;
    let mut opt = exp.optimizer.build(model.parameters())?;
    let perm = fashion::permutation(n, 1);
    let batch = exp.data.train.loader.batch_size;
    let total = n.div_ceil(batch);
    let steps = max_steps.map_or(total, |s| s.min(total));
    wick_nn::profile::reset();
    wick_nn::profile::enable(true);
    let cpu0 = wick_runner::logging::cpu_seconds();
    let t0 = Instant::now();
    let body = || -> Result<f64> {
        let mut running = 0.0;
        let mut last = f64::NAN;
        for s in 0..steps {
            let idx = &perm[s * batch..((s + 1) * batch).min(n)];
            let idx = Tensor::from_slice(idx, idx.len(), &Device::Cpu)?;
            let (xb, yb) = (x.index_select(&idx, 0)?, y.index_select(&idx, 0)?);
            let loss = criterion.forward(&model.forward(&xb, true)?, &yb)?;
            let grads = loss.backward()?;
            opt.step(&grads)?;
            running += f64::from(loss.to_dtype(DType::F32)?.to_scalar::<f32>()?);
            if (s + 1) % 100 == 0 {
                last = running / 100.0;
                running = 0.0;
            }
        }
        Ok(last)
    };
    // As `wick run` does: the loop runs on a thread of candle's pool.
    let last = wick::process::in_compute_pool(body)?;
    wick_nn::profile::enable(false);
    let cpu = wick_runner::logging::cpu_seconds()
        .zip(cpu0)
        .map(|(b, a)| b - a);
    let (n, total) = match workload {
        "w6" => (steps * batch, steps),
        _ => (n, total),
    };
    let seconds = t0.elapsed().as_secs_f64();
    Ok(
        LoopReport::new("wick_crates_loop", workload, n, steps, total, seconds, last)
            .with_cpu_seconds(cpu)
            .with_kernels(wick_nn::profile::totals()),
    )
}

/// `steps` batches of random images of the model's input shape (standard normal, as
/// `torch.randn`) with random labels of its 1000 classes: W6's synthetic inputs.
fn synthetic(exp: &wick_runner::Experiment, steps: usize) -> Result<(Tensor, Tensor)> {
    let n = steps * exp.data.train.loader.batch_size;
    let mut shape = vec![n];
    shape.extend_from_slice(exp.model.input());
    let x = Tensor::randn(0f32, 1.0, shape, &Device::Cpu)?;
    let y = (Tensor::rand(0f32, 1000.0, n, &Device::Cpu)?.floor()?).to_dtype(DType::U32)?;
    Ok((x, y))
}
