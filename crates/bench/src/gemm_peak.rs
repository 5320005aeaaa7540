//! The machine's attainable multiply-add rate, measured in the same run as the
//! workloads: the best of several square f32 GEMMs (`2·n³` operations each) with the
//! `gemm` crate that wick's kernels call, on every thread of the pool the training
//! runs on. The suite divides the convolutions' rate in training by it ("the fraction
//! of the machine's FMA peak").

use crate::explicit_loop::gemm;
use anyhow::Result;
use serde_json::{json, Value};
use std::time::Instant;

/// GFLOP/s of the best of `reps` GEMMs of size `n` (after one warm-up), as one JSON
/// line's value.
pub fn run(n: usize, reps: usize) -> Result<Value> {
    anyhow::ensure!(
        n > 0 && reps > 0,
        "gemm-peak: size and reps must be positive"
    );
    let a: Vec<f32> = (0..n * n).map(|i| ((i % 17) as f32 - 8.0) * 0.01).collect();
    let b: Vec<f32> = (0..n * n).map(|i| ((i % 13) as f32 - 6.0) * 0.01).collect();
    let mut c = vec![0f32; n * n];
    let stride = (n as isize, 1);
    let best = wick::process::in_compute_pool(|| {
        let mut best = f64::INFINITY;
        for _ in 0..=reps {
            let t0 = Instant::now();
            gemm((n, n, n), &mut c, &a, stride, &b, stride);
            best = best.min(t0.elapsed().as_secs_f64());
        }
        best
    });
    let flops = 2.0 * (n as f64).powi(3);
    Ok(json!({
        "implementation": "gemm",
        "workload": "peak",
        "mode": "peak",
        "size": n,
        "seconds": best,
        "gflops": flops / best / 1e9,
        "threads": rayon::current_num_threads(),
        "check": c[n * n / 2],
    }))
}
