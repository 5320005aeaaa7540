//! `wick_nn::profile` counts each kernel's calls and operations in a real forward and
//! backward pass (its own test binary: the counters are process-wide).

use candle_core::{Device, Tensor, Var};
use wick_nn::profile::{self, Kernel};
use wick_nn::{conv2d, Conv2dConfig, IntOrPair, Layer, Linear};

fn total(k: Kernel) -> profile::KernelTotal {
    profile::totals()
        .into_iter()
        .find(|t| t.kernel == k)
        .expect("every kernel has a total")
}

#[test]
fn conv_and_linear_kernels_are_counted_with_their_operations() {
    let dev = Device::Cpu;
    let x = Var::from_tensor(&Tensor::randn(0f32, 1., (3, 4, 9, 7), &dev).unwrap()).unwrap();
    let w = Var::from_tensor(&Tensor::randn(0f32, 1., (6, 2, 3, 3), &dev).unwrap()).unwrap();
    let cfg = Conv2dConfig {
        stride: IntOrPair::Int(2),
        padding: IntOrPair::Int(1).into(),
        groups: 2,
        ..Conv2dConfig::new(4, 6, 3)
    };
    let lin_layer =
        Linear::from_tensors(&Tensor::randn(0f32, 1., (5, 120), &dev).unwrap(), None).unwrap();

    // off: nothing counted
    profile::reset();
    let y = conv2d(x.as_tensor(), w.as_tensor(), None, &cfg).unwrap();
    assert!(profile::totals().iter().all(|t| t.calls == 0));

    profile::enable(true);
    let y2 = conv2d(x.as_tensor(), w.as_tensor(), None, &cfg).unwrap();
    assert_eq!(y2.dims(), &[3, 6, 5, 4]);
    let z = lin_layer
        .forward(&y2.flatten_from(1).unwrap(), true)
        .unwrap();
    let grads = z.sum_all().unwrap().backward().unwrap();
    profile::enable(false);
    drop((y, grads));

    // forward, input and weight gradient each: 2 · n·oh·ow · cout · (cin/groups)·kh·kw
    let conv = 2.0 * (3 * 5 * 4) as f64 * 6.0 * (2 * 3 * 3) as f64;
    for k in [
        Kernel::ConvForward,
        Kernel::ConvInputGrad,
        Kernel::ConvWeightGrad,
    ] {
        let t = total(k);
        assert_eq!((t.calls, t.flops), (1, conv), "{k:?}");
        assert!(t.seconds > 0.0 && t.gflops() > 0.0, "{k:?}");
        assert!(k.is_conv());
    }
    // linear: [3, 120] · [120, 5], then both gradients
    let lin = 2.0 * (3 * 120 * 5) as f64;
    assert_eq!(
        (
            total(Kernel::LinearForward).calls,
            total(Kernel::LinearForward).flops
        ),
        (1, lin)
    );
    assert_eq!(
        (
            total(Kernel::LinearBackward).calls,
            total(Kernel::LinearBackward).flops
        ),
        (2, 2.0 * lin)
    );
    assert!(!Kernel::LinearForward.is_conv());

    profile::reset();
    assert!(profile::totals()
        .iter()
        .all(|t| t.calls == 0 && t.seconds == 0.0));
}
