//! Conv2d forward + backward at batch 64 for the two convolutions of issue 8's W2 CNN
//! (`[64,1,28,28] → 32` and `[64,32,14,14] → 64`, 3×3, padding 1), on 2 threads:
//! `y = conv(x)`, then the backward pass from a given output gradient `g` to the input,
//! weight and bias, as PyTorch's `y.backward(g)`. `scripts/bench_conv_torch.py` times
//! the same in PyTorch.
//!
//! candle has no `backward(g)`; the loss `⟨y, g⟩` here is a custom op whose gradient is
//! `g` itself, so the time is the convolution's (`(y * g).sum()` would add candle's slow
//! backward of a broadcast product, ~30–50 ms at these sizes, which is not the
//! convolution's cost).
//!
//! Each iteration runs on a thread of candle's pool (`Device::with_context`), as wick
//! trains (`wick::process::in_compute_pool`): called from outside the pool, every
//! GEMM hands its work over and sleeps, which would time the hand-overs too.
//!
//! malloc is tuned as `wick::process::tune_for_training` tunes it (blocks up to
//! 32 MiB from the heap, no trimming): with glibc's defaults every multi-MiB tensor is a
//! fresh mapping, and the page faults on it take more time than some of the kernels.
//!
//! Run: `RAYON_NUM_THREADS=2 CANDLE_NUM_THREADS=1 cargo bench -p wick-nn --bench conv`.

use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Shape, Tensor, Var};
use criterion::{criterion_group, criterion_main, Criterion};
use wick_nn::{conv2d, Conv2dConfig, IntOrPair};

/// `⟨y, g⟩` with gradient `g` (times the incoming scalar gradient).
struct Dot(Tensor);

impl CustomOp1 for Dot {
    fn name(&self) -> &'static str {
        "dot-with-seed"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(y), Some((a, b))) = (s, l.contiguous_offsets()) else {
            candle_core::bail!("dot: contiguous f32 only")
        };
        let (g, _) = self.0.storage_and_layout();
        let candle_core::Storage::Cpu(CpuStorage::F32(g)) = &*g else {
            candle_core::bail!("dot: g must be f32 on the CPU")
        };
        let v: f32 = y[a..b].iter().zip(g.iter()).map(|(a, b)| a * b).sum();
        Ok((CpuStorage::F32(vec![v]), Shape::from(())))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        match grad.to_scalar::<f32>()? {
            1.0 => Ok(Some(self.0.clone())),
            s => Ok(Some(self.0.affine(s as f64, 0.0)?)),
        }
    }
}

fn bench(c: &mut Criterion) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes malloc's tunables; called before the benchmark
    // allocates its tensors.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
    let dev = Device::Cpu;
    let mut group = c.benchmark_group("conv2d_fwd_bwd");
    group.sample_size(20);
    group.measurement_time(std::time::Duration::from_secs(4));
    for (cin, hw, cout) in [(1usize, 28usize, 32usize), (32, 14, 64)] {
        let cfg = Conv2dConfig {
            padding: IntOrPair::Int(1).into(),
            ..Conv2dConfig::new(cin, cout, 3)
        };
        let x =
            Var::from_tensor(&Tensor::randn(0f32, 1., (64, cin, hw, hw), &dev).unwrap()).unwrap();
        let w = Var::from_tensor(
            &(Tensor::randn(0f32, 1., (cout, cin, 3, 3), &dev).unwrap() * 0.1).unwrap(),
        )
        .unwrap();
        let b = Var::from_tensor(&Tensor::zeros(cout, DType::F32, &dev).unwrap()).unwrap();
        let g = Tensor::randn(0f32, 1., (64, cout, hw, hw), &dev).unwrap();
        group.bench_function(format!("[64,{cin},{hw},{hw}]->{cout}"), |bench| {
            bench.iter(|| {
                dev.with_context(|| {
                    let y =
                        conv2d(x.as_tensor(), w.as_tensor(), Some(b.as_tensor()), &cfg).unwrap();
                    let grads = y.apply_op1(Dot(g.clone())).unwrap().backward().unwrap();
                    assert!(grads.get(x.as_tensor()).is_some());
                    assert!(grads.get(w.as_tensor()).is_some());
                    grads
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
