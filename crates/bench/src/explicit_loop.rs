//! The other design of issue 8, measured: the W1 MLP as layers with an explicit
//! backward into preallocated buffers (the way Caffe and the course's hand-built
//! network work), without candle's autograd: per step, the forward GEMMs write the
//! activations in place, the backward GEMMs write each gradient once, and SGD with
//! momentum updates the parameters in place. Same GEMM (the `gemm` crate with its
//! AVX-512 kernels, on candle's rayon pool), same data and batch order as
//! `wick-crates-loop`; only W1 (its layers are `Linear` + `ReLU` and the loss is
//! `CrossEntropyLoss`).
//!
//! It answers how much of a step wick's candle-based design (custom ops with
//! hand-written backward, inside candle's autograd) costs against the leanest loop
//! the same kernels allow.

use crate::fashion;
use crate::report::LoopReport;
use anyhow::Result;
use rayon::prelude::*;
use std::time::Instant;

/// Elements per rayon task of the elementwise loops.
const GRAIN: usize = 8192;

/// `torch.nn.Linear(fan_in, fan_out)` with its buffers for one batch.
struct Layer {
    fan_in: usize,
    fan_out: usize,
    /// `[fan_out, fan_in]`, U(±1/√fan_in) as PyTorch's default init.
    w: Vec<f32>,
    b: Vec<f32>,
    gw: Vec<f32>,
    gb: Vec<f32>,
    /// Momentum buffers.
    mw: Vec<f32>,
    mb: Vec<f32>,
    /// Output `[batch, fan_out]` (after the ReLU, but for the last layer).
    y: Vec<f32>,
    /// Gradient of the output.
    gy: Vec<f32>,
}

/// Whether an `r × c` matrix at non-negative strides `(rs, cs)` lies inside `s`.
fn fits(s: &[f32], r: usize, c: usize, (rs, cs): (isize, isize)) -> bool {
    let (Ok(rs), Ok(cs)) = (usize::try_from(rs), usize::try_from(cs)) else {
        return false;
    };
    r == 0
        || c == 0
        || (r - 1)
            .checked_mul(rs)
            .zip((c - 1).checked_mul(cs))
            .and_then(|(a, b)| a.checked_add(b))
            .is_some_and(|last| last < s.len())
}

/// `dst (m × n) = a (m × k) · b (k × n)` with element strides `(rs, cs)` for `a` and `b`,
/// on all of rayon's threads.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    a: &[f32],
    (ars, acs): (isize, isize),
    b: &[f32],
    (brs, bcs): (isize, isize),
) {
    assert!(dst.len() >= m * n, "gemm: dst too small");
    assert!(
        fits(a, m, k, (ars, acs)) && fits(b, k, n, (brs, bcs)),
        "gemm: an operand does not hold its matrix"
    );
    let threads = rayon::current_num_threads();
    let par = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: `a` and `b` hold their m × k and k × n matrices at the given strides, and
    // `dst` m·n elements (all asserted above).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            acs,
            ars,
            b.as_ptr(),
            bcs,
            brs,
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

impl Layer {
    fn new(fan_in: usize, fan_out: usize, batch: usize, rng: &mut wick_tensor::SeedRng) -> Self {
        let bound = 1.0 / (fan_in as f64).sqrt();
        let mut uniform =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.uniform(-bound, bound) as f32).collect() };
        Self {
            fan_in,
            fan_out,
            w: uniform(fan_out * fan_in),
            b: uniform(fan_out),
            gw: vec![0.0; fan_out * fan_in],
            gb: vec![0.0; fan_out],
            mw: vec![0.0; fan_out * fan_in],
            mb: vec![0.0; fan_out],
            y: vec![0.0; batch * fan_out],
            gy: vec![0.0; batch * fan_out],
        }
    }

    /// `y = x · Wᵀ + b`, then `max(y, 0)` when `relu`.
    fn forward(&mut self, x: &[f32], rows: usize, relu: bool) {
        let (i, o) = (self.fan_in, self.fan_out);
        gemm(
            (rows, o, i),
            &mut self.y,
            x,
            (i as isize, 1),
            &self.w,
            (1, i as isize),
        );
        let b = &self.b;
        self.y[..rows * o]
            .par_chunks_mut(o)
            .with_min_len(GRAIN / o + 1)
            .for_each(|row| {
                for (v, &b) in row.iter_mut().zip(b) {
                    let s = *v + b;
                    *v = if relu && s < 0.0 { 0.0 } else { s };
                }
            });
    }

    /// From `gy`: `gW = gyᵀ · x`, `gb = Σ_rows gy`, and `gx = gy · W` into `gx` when
    /// given (masked by `x > 0`, the ReLU before this layer, when `relu_in`).
    fn backward(&mut self, x: &[f32], rows: usize, gx: Option<&mut [f32]>, relu_in: bool) {
        let (i, o) = (self.fan_in, self.fan_out);
        gemm(
            (o, i, rows),
            &mut self.gw,
            &self.gy,
            (1, o as isize),
            x,
            (i as isize, 1),
        );
        self.gb.fill(0.0);
        for row in self.gy[..rows * o].chunks_exact(o) {
            for (g, &v) in self.gb.iter_mut().zip(row) {
                *g += v;
            }
        }
        if let Some(gx) = gx {
            gemm(
                (rows, i, o),
                gx,
                &self.gy,
                (o as isize, 1),
                &self.w,
                (i as isize, 1),
            );
            if relu_in {
                gx[..rows * i]
                    .par_chunks_mut(GRAIN)
                    .zip(x[..rows * i].par_chunks(GRAIN))
                    .for_each(|(g, x)| {
                        for (g, &v) in g.iter_mut().zip(x) {
                            if v <= 0.0 {
                                *g = 0.0;
                            }
                        }
                    });
            }
        }
    }

    /// PyTorch's SGD with momentum (no dampening): `buf = μ·buf + g`, `p -= lr·buf`.
    fn sgd(&mut self, lr: f32, momentum: f32) {
        let step = |p: &mut [f32], m: &mut [f32], g: &[f32]| {
            p.par_chunks_mut(GRAIN)
                .zip(m.par_chunks_mut(GRAIN))
                .zip(g.par_chunks(GRAIN))
                .for_each(|((p, m), g)| {
                    for ((p, m), &g) in p.iter_mut().zip(m.iter_mut()).zip(g) {
                        *m = momentum * *m + g;
                        *p -= lr * *m;
                    }
                });
        };
        step(&mut self.w, &mut self.mw, &self.gw);
        step(&mut self.b, &mut self.mb, &self.gb);
    }
}

/// Softmax cross-entropy (mean over the batch) of `logits [rows, c]`: the loss, and its
/// gradient written into `g`.
fn cross_entropy(logits: &[f32], labels: &[u32], c: usize, g: &mut [f32]) -> f64 {
    let rows = labels.len();
    let mut loss = 0.0f64;
    for ((z, gz), &t) in logits
        .chunks_exact(c)
        .zip(g.chunks_exact_mut(c))
        .zip(labels)
    {
        let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = z.iter().map(|&v| (v - m).exp()).sum();
        let log_sum = sum.ln() + m;
        loss += f64::from(log_sum - z[t as usize]);
        for (k, (gv, &v)) in gz.iter_mut().zip(z).enumerate() {
            let p = (v - log_sum).exp();
            *gv = (p - f32::from(u8::from(k == t as usize))) / rows as f32;
        }
    }
    loss / rows as f64
}

/// One epoch (or its first `max_steps` batches) of the W1 MLP, SGD lr 0.01 momentum 0.5,
/// batch 64, on the pre-built Fashion-MNIST tensors.
pub fn run(max_steps: Option<usize>) -> Result<LoopReport> {
    let (x, y, n) = {
        let (x, y) = fashion::train_set(&fashion::data_dir())?;
        let n = x.dim(0)?;
        (x.flatten_all()?.to_vec1::<f32>()?, y.to_vec1::<u32>()?, n)
    };
    let perm = fashion::permutation(n, 1);
    let batch = 64;
    let sizes = [784, 520, 320, 240, 120, 10];
    let mut rng = wick_tensor::SeedRng::new(0);
    let mut layers: Vec<Layer> = sizes
        .windows(2)
        .map(|s| Layer::new(s[0], s[1], batch, &mut rng))
        .collect();
    let total = n.div_ceil(batch);
    let steps = max_steps.map_or(total, |s| s.min(total));
    let mut xb = vec![0.0f32; batch * 784];
    let mut yb = vec![0u32; batch];
    let t0 = Instant::now();
    let body = || -> f64 {
        let mut running = 0.0;
        let mut last = f64::NAN;
        for s in 0..steps {
            let idx = &perm[s * batch..((s + 1) * batch).min(n)];
            let rows = idx.len();
            for (r, &i) in idx.iter().enumerate() {
                let i = i as usize;
                xb[r * 784..(r + 1) * 784].copy_from_slice(&x[i * 784..(i + 1) * 784]);
                yb[r] = y[i];
            }
            let last_layer = layers.len() - 1;
            for l in 0..layers.len() {
                let (before, rest) = layers.split_at_mut(l);
                let input = before.last().map_or(&xb[..], |p| &p.y[..]);
                rest[0].forward(input, rows, l != last_layer);
            }
            let out = &mut layers[last_layer];
            let loss = cross_entropy(&out.y[..rows * 10], &yb[..rows], 10, &mut out.gy);
            for l in (0..layers.len()).rev() {
                let (before, rest) = layers.split_at_mut(l);
                match before.last_mut() {
                    Some(prev) => rest[0].backward(&prev.y, rows, Some(&mut prev.gy), true),
                    None => rest[0].backward(&xb, rows, None, false),
                }
            }
            for layer in &mut layers {
                layer.sgd(0.01, 0.5);
            }
            running += loss;
            if (s + 1) % 100 == 0 {
                last = running / 100.0;
                running = 0.0;
            }
        }
        last
    };
    let last = wick::process::in_compute_pool(body);
    let seconds = t0.elapsed().as_secs_f64();
    Ok(LoopReport::new(
        "explicit_loop",
        "w1",
        n,
        steps,
        total,
        seconds,
        last,
    ))
}
