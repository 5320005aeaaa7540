//! The hand-written candle training loops: what a candle user writes for W1 and W2
//! with candle's own ops (`matmul`, `broadcast_add`, `relu`, `conv2d`, `max_pool2d`,
//! `backward`) and the optimizer as tensor arithmetic. No wick code runs inside the
//! loop; it is the baseline that the runner's overhead is measured against.

use crate::fashion;
use crate::report::LoopReport;
use anyhow::Result;
use candle_core::{DType, Device, Tensor, Var, D};
use std::time::Instant;
use wick_tensor::SeedRng;

/// `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`, the bound of PyTorch's default init.
fn uniform(shape: &[usize], fan_in: usize, rng: &mut SeedRng) -> Result<Var> {
    let b = 1.0 / (fan_in as f64).sqrt();
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.uniform(-b, b) as f32).collect();
    Ok(Var::from_tensor(&Tensor::from_vec(
        v,
        shape,
        &Device::Cpu,
    )?)?)
}

/// `F.cross_entropy(logits, y)`: `mean(logsumexp(z) - z[y])`.
fn cross_entropy(logits: &Tensor, y: &Tensor) -> Result<Tensor> {
    let m = logits.max_keepdim(D::Minus1)?.detach();
    let shifted = logits.broadcast_sub(&m)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    let picked = shifted.gather(&y.unsqueeze(1)?, 1)?;
    Ok((lse - picked)?.mean_all()?)
}

trait Model {
    fn forward(&self, x: &Tensor) -> Result<Tensor>;
    fn vars(&self) -> Vec<Var>;
}

/// W1: Flatten, Linear(784,520) ... Linear(120,10) with ReLU between.
struct Mlp {
    layers: Vec<(Var, Var)>,
}

impl Mlp {
    fn new(rng: &mut SeedRng) -> Result<Self> {
        let sizes = [784, 520, 320, 240, 120, 10];
        let layers = sizes
            .windows(2)
            .map(|w| {
                Ok((
                    uniform(&[w[1], w[0]], w[0], rng)?,
                    uniform(&[w[1]], w[0], rng)?,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(Self { layers })
    }
}

impl Model for Mlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.flatten_from(1)?;
        for (i, (w, b)) in self.layers.iter().enumerate() {
            h = h.matmul(&w.t()?)?.broadcast_add(b)?;
            if i + 1 < self.layers.len() {
                h = h.relu()?;
            }
        }
        Ok(h)
    }
    fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect()
    }
}

/// W2: Conv2d(1,32,3,p1), ReLU, MaxPool2d(2), Conv2d(32,64,3,p1), ReLU, MaxPool2d(2),
/// Flatten, Linear(3136,128), ReLU, Linear(128,10).
struct Cnn {
    c1: (Var, Var),
    c2: (Var, Var),
    l1: (Var, Var),
    l2: (Var, Var),
}

impl Cnn {
    fn new(rng: &mut SeedRng) -> Result<Self> {
        Ok(Self {
            c1: (uniform(&[32, 1, 3, 3], 9, rng)?, uniform(&[32], 9, rng)?),
            c2: (
                uniform(&[64, 32, 3, 3], 288, rng)?,
                uniform(&[64], 288, rng)?,
            ),
            l1: (
                uniform(&[128, 3136], 3136, rng)?,
                uniform(&[128], 3136, rng)?,
            ),
            l2: (uniform(&[10, 128], 128, rng)?, uniform(&[10], 128, rng)?),
        })
    }
}

fn conv(x: &Tensor, (w, b): &(Var, Var)) -> Result<Tensor> {
    let y = x.conv2d(w, 1, 1, 1, 1)?;
    Ok(y.broadcast_add(&b.reshape((1, (), 1, 1))?)?)
}

fn linear(x: &Tensor, (w, b): &(Var, Var)) -> Result<Tensor> {
    Ok(x.matmul(&w.t()?)?.broadcast_add(b)?)
}

impl Model for Cnn {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = conv(x, &self.c1)?.relu()?.max_pool2d(2)?;
        let h = conv(&h, &self.c2)?.relu()?.max_pool2d(2)?;
        let h = linear(&h.flatten_from(1)?, &self.l1)?.relu()?;
        linear(&h, &self.l2)
    }
    fn vars(&self) -> Vec<Var> {
        [&self.c1, &self.c2, &self.l1, &self.l2]
            .into_iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect()
    }
}

/// `optim.SGD(lr, momentum)`: `buf = momentum * buf + g` (`buf = g` at the first step),
/// `p -= lr * buf`.
struct Sgd {
    lr: f64,
    momentum: f64,
    bufs: Vec<Option<Tensor>>,
}

/// `optim.Adam(lr)` with PyTorch's defaults (betas 0.9/0.999, eps 1e-8).
struct Adam {
    lr: f64,
    t: i32,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
}

enum Optim {
    Sgd(Sgd),
    Adam(Adam),
}

impl Optim {
    fn step(&mut self, vars: &[Var], grads: &candle_core::backprop::GradStore) -> Result<()> {
        match self {
            Optim::Sgd(s) => {
                for (i, v) in vars.iter().enumerate() {
                    let Some(g) = grads.get(v) else { continue };
                    let buf = match &s.bufs[i] {
                        Some(b) => ((b * s.momentum)? + g)?,
                        None => g.clone(),
                    };
                    v.set(&(v.as_tensor() - (&buf * s.lr)?)?)?;
                    s.bufs[i] = Some(buf);
                }
            }
            Optim::Adam(a) => {
                a.t += 1;
                let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
                let bc1 = 1.0 - b1.powi(a.t);
                let bc2 = 1.0 - b2.powi(a.t);
                for (i, v) in vars.iter().enumerate() {
                    let Some(g) = grads.get(v) else { continue };
                    let m = ((&a.m[i] * b1)? + (g * (1.0 - b1))?)?;
                    let s = ((&a.v[i] * b2)? + (g.sqr()? * (1.0 - b2))?)?;
                    let denom = ((s.sqrt()? / bc2.sqrt())? + eps)?;
                    let upd = (m.div(&denom)? * (a.lr / bc1))?;
                    v.set(&(v.as_tensor() - upd)?)?;
                    a.m[i] = m;
                    a.v[i] = s;
                }
            }
        }
        Ok(())
    }
}

/// Trains `workload` (`w1` or `w2`) on the pre-built tensors for one epoch, or for its
/// first `max_steps` batches, and reports the time.
pub fn run(workload: &str, max_steps: Option<usize>) -> Result<LoopReport> {
    let (x, y) = fashion::train_set(&fashion::data_dir())?;
    let n = x.dim(0)?;
    let mut rng = SeedRng::new(0);
    let model: Box<dyn Model> = match workload {
        "w1" => Box::new(Mlp::new(&mut rng)?),
        "w2" => Box::new(Cnn::new(&mut rng)?),
        w => anyhow::bail!("candle-loop knows w1 and w2, not {w}"),
    };
    let vars = model.vars();
    let mut opt = match workload {
        "w1" => Optim::Sgd(Sgd {
            lr: 0.01,
            momentum: 0.5,
            bufs: vec![None; vars.len()],
        }),
        _ => Optim::Adam(Adam {
            lr: 1e-3,
            t: 0,
            m: vars
                .iter()
                .map(|v| v.zeros_like())
                .collect::<candle_core::Result<_>>()?,
            v: vars
                .iter()
                .map(|v| v.zeros_like())
                .collect::<candle_core::Result<_>>()?,
        }),
    };
    let perm = fashion::permutation(n, 1);
    let batch = 64;
    let total = n.div_ceil(batch);
    let steps = max_steps.map_or(total, |s| s.min(total));
    let mut running = 0.0;
    let mut last = f64::NAN;
    let t0 = Instant::now();
    for s in 0..steps {
        let idx = &perm[s * batch..((s + 1) * batch).min(n)];
        let idx = Tensor::from_slice(idx, idx.len(), &Device::Cpu)?;
        let (xb, yb) = (x.index_select(&idx, 0)?, y.index_select(&idx, 0)?);
        let loss = cross_entropy(&model.forward(&xb)?, &yb)?;
        let grads = loss.backward()?;
        opt.step(&vars, &grads)?;
        running += f64::from(loss.to_dtype(DType::F32)?.to_scalar::<f32>()?);
        if (s + 1) % 100 == 0 {
            last = running / 100.0;
            running = 0.0;
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    Ok(LoopReport::new(
        "candle_loop",
        workload,
        n,
        steps,
        total,
        seconds,
        last,
    ))
}
