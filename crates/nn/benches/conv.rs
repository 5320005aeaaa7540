//! Conv2d forward + backward at batch 64 for the two convolutions of issue 8's W2 CNN
//! (`[64,1,28,28] → 32` and `[64,32,14,14] → 64`, 3×3, padding 1), on 2 threads.
//! `scripts/bench_conv_torch.py` times the same (`loss = (conv(x) * g).sum()`,
//! backward to input, weight and bias) in PyTorch.
//!
//! Run: `RAYON_NUM_THREADS=2 cargo bench -p wick-nn --bench conv`.

use candle_core::{DType, Device, Tensor, Var};
use criterion::{criterion_group, criterion_main, Criterion};
use wick_nn::{conv2d, Conv2dConfig, IntOrPair};

fn bench(c: &mut Criterion) {
    let dev = Device::Cpu;
    let mut group = c.benchmark_group("conv2d_fwd_bwd");
    group.sample_size(20);
    group.measurement_time(std::time::Duration::from_secs(6));
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
                let y = conv2d(x.as_tensor(), w.as_tensor(), Some(b.as_tensor()), &cfg).unwrap();
                let grads = (y * &g).unwrap().sum_all().unwrap().backward().unwrap();
                assert!(grads.get(x.as_tensor()).is_some());
                grads
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
