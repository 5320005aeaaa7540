//! MaxPool2d against PyTorch (`scripts/make_fixtures.py`): outputs and gradients on
//! inputs full of ties, which pin PyTorch's first-maximum rule.

use candle_core::Var;
use wick_nn::ops::{max_pool2d, Pool2d};
use wick_tensor::testing::{assert_close, load_fixture};

#[test]
fn max_pool2d_matches_pytorch_with_ties() {
    let f = load_fixture("parity.safetensors");
    let x = Var::from_tensor(&f["pool.input"]).unwrap();
    let p = |k: usize, s: usize, pad: usize, d: usize, ceil: bool| Pool2d {
        kernel: (k, k),
        stride: (s, s),
        padding: (pad, pad),
        dilation: (d, d),
        ceil_mode: ceil,
    };
    for (case, geometry) in [
        ("k2", p(2, 2, 0, 1, false)),
        ("k3s2p1", p(3, 2, 1, 1, false)),
        ("k2s1d2", p(2, 1, 0, 2, false)),
        ("k3s2ceil", p(3, 2, 0, 1, true)),
        ("k2ceil", p(2, 2, 0, 1, true)),
    ] {
        let out = max_pool2d(x.as_tensor(), geometry).unwrap();
        assert_close(
            &format!("{case} out"),
            &out,
            &f[&format!("pool.{case}.out")],
            0.0,
        );
        let w = &f[&format!("pool.{case}.w")];
        let grads = (out * w).unwrap().sum_all().unwrap().backward().unwrap();
        let g = grads.get(x.as_tensor()).unwrap();
        assert_close(
            &format!("{case} grad"),
            g,
            &f[&format!("pool.{case}.grad")],
            1e-6,
        );
    }
}
