//! BatchNorm2d forward + backward in train mode at batch 64 (`[64, 32, 28, 28]`), on the
//! threads rayon is given: `y = bn(x)`, then the backward pass from a given output
//! gradient `g` to the input, weight and bias, as PyTorch's `y.backward(g)`.
//! `scripts/bench_norm_torch.py` times the same in PyTorch.
//!
//! candle has no `backward(g)`; the loss `⟨y, g⟩` here is a custom op whose gradient is
//! `g` itself, so the time measured is the layer's.
//!
//! Run: `RAYON_NUM_THREADS=2 cargo bench -p wick-nn --bench norm` (about 20 s).
//!
//! Measured on the 2-core development machine (shared, load ≈ 6), 2 threads, wick's
//! criterion median beside `scripts/bench_norm_torch.py`'s median run right after:
//!
//! | `[64, 32, 28, 28]`      | wick   | PyTorch 2.15 | ratio |
//! |-------------------------|--------|--------------|-------|
//! | train forward+backward  | 69 ms  | 49 ms        | 1.4×  |
//! | eval forward            | 19 ms  | 12 ms        | 1.6×  |
//!
//! (Before the fused train kernel, the composed-ops version took 436 ms against 64 ms.)

use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Shape, Tensor, Var};
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;
use wick_nn::{BatchNormConfig, BuildCtx, Layer};
use wick_tensor::SeedRng;

/// `⟨y, g⟩` with gradient `g` (times the incoming scalar gradient).
struct Dot(Tensor);

impl CustomOp1 for Dot {
    fn name(&self) -> &'static str {
        "bench-dot"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(y), Some((a, b))) = (s, l.contiguous_offsets()) else {
            candle_core::bail!("dot: contiguous f32 only")
        };
        let g: Vec<f32> = self.0.flatten_all()?.to_vec1()?;
        let v: f32 = y[a..b].iter().zip(&g).map(|(a, b)| a * b).sum();
        Ok((CpuStorage::F32(vec![v]), Shape::from(())))
    }

    fn bwd(&self, _: &Tensor, _: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let s = grad.to_scalar::<f32>()?;
        Ok(Some(self.0.affine(f64::from(s), 0.0)?))
    }
}

fn bench(c: &mut Criterion) {
    let dev = Device::Cpu;
    let mut rng = SeedRng::new(0);
    let mut ctx = BuildCtx {
        device: &dev,
        dtype: DType::F32,
        rng: &mut rng,
    };
    let mut cfg = BatchNormConfig::default();
    cfg.infer(2, &[32, 28, 28]).unwrap();
    let bn = cfg.init(2, &mut ctx).unwrap();
    let x = Var::from_tensor(&Tensor::randn(0f32, 1., (64, 32, 28, 28), &dev).unwrap()).unwrap();
    let g = Tensor::randn(0f32, 1., (64, 32, 28, 28), &dev).unwrap();
    let mut group = c.benchmark_group("batchnorm2d");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    group.bench_function("train fwd+bwd [64,32,28,28]", |b| {
        b.iter(|| {
            let y = bn.forward(x.as_tensor(), true).unwrap();
            let loss = y.contiguous().unwrap().apply_op1(Dot(g.clone())).unwrap();
            let grads = loss.backward().unwrap();
            assert!(grads.get(x.as_tensor()).is_some());
        })
    });
    group.bench_function("eval fwd [64,32,28,28]", |b| {
        b.iter(|| bn.forward(x.as_tensor(), false).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
