use super::geometry::{Kind, Windows};
use super::*;
use candle_core::{DType, Device};
use candle_core::{Result, Tensor};
use std::sync::Arc;
use wick_tensor::gradcheck::gradcheck;

fn pool(k: usize, s: usize, p: usize, d: usize, ceil: bool) -> Pool2d {
    Pool2d {
        kernel: (k, k),
        stride: (s, s),
        padding: (p, p),
        dilation: (d, d),
        ceil_mode: ceil,
    }
}

fn distinct(shape: (usize, usize, usize, usize)) -> Tensor {
    // distinct values so that finite differences do not cross a tie
    let n = shape.0 * shape.1 * shape.2 * shape.3;
    let vals: Vec<f64> = (0..n).map(|i| ((i * 53) % 97) as f64 / 10.0).collect();
    Tensor::from_vec(vals, shape, &Device::Cpu).unwrap()
}

#[test]
fn gradient_is_not_scaled_like_candles() {
    let x = Tensor::new(&[[[[1f32, 2.], [3., 4.]]]], &Device::Cpu).unwrap();
    let v = candle_core::Var::from_tensor(&x).unwrap();
    let y = max_pool2d(v.as_tensor(), pool(2, 2, 0, 1, false)).unwrap();
    let g = y.sum_all().unwrap().backward().unwrap();
    let g: Vec<f32> = g
        .get(v.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(g, vec![0., 0., 0., 1.]);
}

#[test]
fn output_sizes_match_aten() {
    assert_eq!(Pool2d::out_len(28, 2, 2, 0, 1, false), Some(14));
    assert_eq!(Pool2d::out_len(5, 2, 2, 0, 1, false), Some(2));
    assert_eq!(Pool2d::out_len(5, 2, 2, 0, 1, true), Some(3));
    assert_eq!(Pool2d::out_len(6, 3, 2, 1, 1, false), Some(3));
    // ceil mode never starts a window in the right padding
    assert_eq!(Pool2d::out_len(4, 2, 2, 1, 1, true), Some(3));
    assert_eq!(Pool2d::out_len(1, 3, 1, 0, 1, false), None);
}

#[test]
fn adaptive_windows_match_aten() {
    let w = Windows::adaptive(5, 3);
    assert_eq!(w.idx, vec![vec![0, 1], vec![1, 2, 3], vec![3, 4]]);
    let w = Windows::adaptive(2, 4);
    assert_eq!(w.idx, vec![vec![0], vec![0], vec![1], vec![1]]);
}

#[test]
fn gradcheck_max_pool_all_geometries() {
    let x = distinct((2, 2, 7, 6));
    for p in [
        pool(2, 2, 0, 1, false),
        pool(3, 2, 1, 1, false),
        pool(2, 1, 0, 2, false),
        pool(3, 2, 0, 1, true),
        pool(2, 3, 1, 1, true),
        Pool2d {
            kernel: (3, 1),
            stride: (1, 2),
            padding: (1, 0),
            dilation: (1, 3),
            ceil_mode: true,
        },
    ] {
        gradcheck(|v| max_pool2d(&v[0], p), std::slice::from_ref(&x)).unwrap();
    }
}

#[test]
fn gradcheck_avg_pool_all_options() {
    let x = distinct((2, 2, 7, 6));
    for (p, include, over) in [
        (pool(2, 2, 0, 1, false), true, None),
        (pool(3, 2, 1, 1, false), true, None),
        (pool(3, 2, 1, 1, false), false, None),
        (pool(3, 2, 1, 1, true), true, None),
        (pool(3, 2, 1, 1, true), false, Some(5)),
        (pool(2, 3, 0, 1, true), false, None),
    ] {
        gradcheck(
            |v| avg_pool2d(&v[0], p, include, over),
            std::slice::from_ref(&x),
        )
        .unwrap();
    }
}

/// `f` on the CPU kernel and on the generic path: values and gradients of
/// `sum(f(x) · w)` must agree to `tol` (relative to the largest magnitude).
fn kernel_vs_generic(x: &Tensor, f: impl Fn(&Tensor) -> Result<Tensor>, tol: f64, what: &str) {
    let run = |generic: bool| {
        let v = candle_core::Var::from_tensor(x).unwrap();
        let y = if generic {
            wick_tensor::device_path::force_generic(|| f(v.as_tensor())).unwrap()
        } else {
            f(v.as_tensor()).unwrap()
        };
        let n = y.elem_count();
        let w: Vec<f64> = (0..n).map(|i| ((i * 13) % 7) as f64 - 2.5).collect();
        let w = Tensor::from_vec(w, y.shape(), &Device::Cpu)
            .unwrap()
            .to_dtype(y.dtype())
            .unwrap();
        let g = (&y * w).unwrap().sum_all().unwrap().backward().unwrap();
        (y.clone(), g.get(v.as_tensor()).unwrap().clone())
    };
    let (yk, gk) = run(false);
    let (yg, gg) = run(true);
    assert_eq!(yk.dims(), yg.dims(), "{what}");
    let e = wick_tensor::testing::rel_error(&yg, &yk);
    assert!(e <= tol, "{what}: value error {e}");
    let e = wick_tensor::testing::rel_error(&gg, &gk);
    assert!(e <= tol, "{what}: gradient error {e}");
}

fn geometries() -> Vec<Pool2d> {
    vec![
        pool(2, 2, 0, 1, false),
        pool(3, 2, 1, 1, false),
        pool(2, 1, 0, 2, false),
        pool(3, 2, 0, 1, true),
        pool(2, 3, 1, 1, true),
        pool(3, 3, 1, 1, true),
        Pool2d {
            kernel: (3, 1),
            stride: (1, 2),
            padding: (1, 0),
            dilation: (1, 3),
            ceil_mode: true,
        },
    ]
}

#[test]
fn generic_max_pool_equals_the_kernel() {
    let x = distinct((2, 3, 7, 6));
    // ties: the gradient must go to the first maximum on both paths
    let ties = Tensor::from_vec(
        (0..2 * 3 * 7 * 6)
            .map(|i| ((i * 5) % 3) as f64)
            .collect::<Vec<_>>(),
        (2, 3, 7, 6),
        &Device::Cpu,
    )
    .unwrap();
    for p in geometries() {
        for (x, tol) in [
            (x.clone(), 0.0),
            (x.to_dtype(DType::F32).unwrap(), 0.0),
            (ties.clone(), 0.0),
        ] {
            kernel_vs_generic(&x, |t| max_pool2d(t, p), tol, &format!("max {p:?}"));
        }
        gradcheck(
            |v| wick_tensor::device_path::force_generic(|| max_pool2d(&v[0], p)),
            std::slice::from_ref(&x),
        )
        .unwrap();
    }
}

#[test]
fn window_max_kernels_equal_the_span_kernel() {
    // values with ties, NaNs and infinities; every geometry the fast paths take
    for (h, w) in [(11, 9), (28, 28), (14, 14), (7, 16), (5, 7), (4, 6)] {
        uniform_max_equals_spans(h, w);
    }
    // padding or ceil mode reach past the input: not uniform
    let (rows, _) = pool(2, 2, 1, 1, false).axes(11, 9).unwrap();
    assert_eq!(rows.uniform, None);
    let (rows, _) = pool(2, 2, 0, 1, true).axes(11, 9).unwrap();
    assert_eq!(rows.uniform, None);
}

fn uniform_max_equals_spans(h: usize, w: usize) {
    let vals: Vec<f32> = (0..2 * 3 * h * w)
        .map(|i| match i % 23 {
            0 => f32::NAN,
            5 => f32::NEG_INFINITY,
            9 => f32::INFINITY,
            _ => ((i * 7) % 5) as f32,
        })
        .collect();
    // the uniform windows, then windows cut by padding (ResNet's MaxPool2d(3, 2, 1))
    // and by ceil mode
    let geometries = [(2, 2), (2, 1), (3, 3), (3, 2), (3, 1)]
        .map(|(k, s)| (k, s, 0, false))
        .into_iter()
        .chain([
            (3, 2, 1, false),
            (3, 1, 1, false),
            (2, 2, 1, false),
            (3, 2, 0, true),
            (2, 2, 1, true),
        ]);
    for (k, s, pad, ceil) in geometries {
        if k > h.min(w) {
            continue;
        }
        let p = pool(k, s, pad, 1, ceil);
        let (rows, cols) = p.axes(h, w).unwrap();
        if pad == 0 && !ceil {
            // (a single window's stride is taken as 1)
            let kernel = |u: Option<(usize, usize)>| u.map(|(k, _)| k);
            assert_eq!(
                (kernel(rows.uniform), kernel(cols.uniform)),
                (Some(k), Some(k))
            );
        }
        let op = || PoolOp {
            rows: Arc::new(rows.clone()),
            cols: Arc::new(cols.clone()),
            kind: Kind::Max,
            argmax: Arc::default(),
        };
        let (fast, spans) = (op(), op());
        let a = fast.forward(&vals, h * w);
        let b = spans.max_spans(
            &vals,
            h * w,
            rows.spans.as_ref().unwrap(),
            cols.spans.as_ref().unwrap(),
        );
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b), "values, k={k} s={s} p={pad}, {h}x{w}");
        assert_eq!(
            fast.argmax.get(),
            spans.argmax.get(),
            "indices, k={k} s={s} p={pad}, {h}x{w}"
        );
    }
}

#[test]
fn generic_max_pool_propagates_nan_and_minus_infinity() {
    let mut v: Vec<f64> = (0..36).map(|i| i as f64).collect();
    v[7] = f64::NAN;
    v[20] = f64::NEG_INFINITY;
    v[21] = f64::NEG_INFINITY;
    v[26] = f64::NEG_INFINITY;
    v[27] = f64::NEG_INFINITY;
    let x = Tensor::from_vec(v, (1, 1, 6, 6), &Device::Cpu).unwrap();
    let p = pool(2, 2, 0, 1, false);
    let k: Vec<f64> = max_pool2d(&x, p)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let g: Vec<f64> = wick_tensor::device_path::force_generic(|| max_pool2d(&x, p))
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert!(k[0].is_nan() && g[0].is_nan());
    assert_eq!(k[1..], g[1..]);
}

#[test]
fn generic_avg_pool_equals_the_kernel() {
    let x = distinct((2, 3, 7, 6));
    for p in geometries().into_iter().filter(|p| p.dilation == (1, 1)) {
        for (include, over) in [(true, None), (false, None), (false, Some(5))] {
            for (x, tol) in [(x.clone(), 1e-15), (x.to_dtype(DType::F32).unwrap(), 1e-6)] {
                kernel_vs_generic(
                    &x,
                    |t| avg_pool2d(t, p, include, over),
                    tol,
                    &format!("avg {p:?} {include} {over:?}"),
                );
            }
        }
    }
}

#[test]
fn generic_adaptive_pools_equal_the_kernel() {
    let x = distinct((2, 2, 7, 5));
    for out in [(3, 2), (1, 1), (7, 5), (9, 4), (4, 3)] {
        kernel_vs_generic(&x, |t| adaptive_max_pool2d(t, out), 0.0, "adaptive max");
        kernel_vs_generic(&x, |t| adaptive_avg_pool2d(t, out), 1e-15, "adaptive avg");
    }
}

#[test]
fn gradcheck_adaptive_pools() {
    let x = distinct((2, 2, 7, 5));
    for out in [(3, 2), (1, 1), (7, 5), (9, 4)] {
        gradcheck(
            |v| adaptive_avg_pool2d(&v[0], out),
            std::slice::from_ref(&x),
        )
        .unwrap();
        gradcheck(
            |v| adaptive_max_pool2d(&v[0], out),
            std::slice::from_ref(&x),
        )
        .unwrap();
    }
}
