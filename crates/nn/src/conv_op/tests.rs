use super::cpu::{conv_bwd_data_im2col, conv_bwd_weight_im2col, conv_fwd_im2col};
use super::device::{conv2d_candle, conv2d_generic, conv_transpose2d_generic};
use super::geometry::{valid_range, Dims};
#[cfg(target_arch = "x86_64")]
use super::simd::{available, conv_bwd_data_direct, conv_fwd_direct, direct, direct_fits};
use super::*;
use candle_core::{DType, Device};
use candle_core::{Result, Tensor};
use wick_tensor::gradcheck::gradcheck;

fn t(shape: &[usize], m: usize) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|i| ((i * m) % 17) as f64 / 8.0 - 1.0).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

fn geom(
    s: (usize, usize),
    ph: (usize, usize),
    pw: (usize, usize),
    d: (usize, usize),
    groups: usize,
) -> ConvGeom {
    ConvGeom {
        stride: s,
        pad_h: ph,
        pad_w: pw,
        dilation: d,
        groups,
    }
}

/// The sizes of a convolution of `[n, cin, h, w]` by `[cout, ·, kh, kw]` under `g`.
fn dims_of(
    n: usize,
    cin: usize,
    cout: usize,
    (h, w): (usize, usize),
    (kh, kw): (usize, usize),
    g: &ConvGeom,
) -> Dims {
    let (oh, ow) = g.conv_hw(h, w, kh, kw).unwrap();
    Dims {
        n,
        cin,
        h,
        w,
        cout,
        kh,
        kw,
        oh,
        ow,
    }
}

#[test]
fn valid_range_matches_brute_force() {
    for out in 0..6 {
        for n in 1..6 {
            for s in 1..4 {
                for off in 0..5 {
                    for p in 0..4 {
                        let ok: Vec<usize> = (0..out)
                            .filter(|&o| {
                                let i = (o * s + off) as i64 - p as i64;
                                i >= 0 && i < n as i64
                            })
                            .collect();
                        let (lo, hi) = valid_range(out, n, s, off, p);
                        assert_eq!((lo..hi).collect::<Vec<_>>(), ok, "{out} {n} {s} {off} {p}");
                    }
                }
            }
        }
    }
}

#[test]
fn fused_relu_equals_conv_then_relu() {
    use candle_core::Var;
    let g = geom((1, 1), (1, 1), (1, 1), (1, 1), 1);
    let x = Var::from_tensor(&t(&[2, 3, 5, 4], 13)).unwrap();
    let w = Var::from_tensor(&t(&[4, 3, 3, 3], 7)).unwrap();
    // the inputs are multiples of 1/8: an offset keeps the pre-activations off the kink
    let b = Var::from_tensor(&(t(&[4], 5) + 0.01234).unwrap()).unwrap();
    let up = t(&[2, 4, 5, 4], 11);
    let fused = conv2d_act(&x, &w, Some(&b), g, true).unwrap();
    let plain = crate::relu_op::relu(&conv2d(&x, &w, Some(&b), g).unwrap()).unwrap();
    let max_diff = |a: &Tensor, c: &Tensor| {
        (a - c)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    assert!(max_diff(&fused, &plain) < 1e-12);
    let g1 = (&fused * &up)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let g2 = (&plain * &up)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    for v in [&x, &w, &b] {
        assert!(max_diff(g1.get(v).unwrap(), g2.get(v).unwrap()) < 1e-12);
    }
    // away from the kink, the numerical gradient agrees too
    gradcheck(
        |v| conv2d_act(&v[0], &v[1], Some(&v[2]), g, true),
        &[
            x.as_tensor().clone(),
            w.as_tensor().clone(),
            b.as_tensor().clone(),
        ],
    )
    .unwrap();
}

#[test]
fn gradcheck_conv2d_all_geometries() {
    for (cin, cout, k, g) in [
        (2, 3, (3, 2), geom((1, 1), (1, 1), (0, 0), (1, 1), 1)),
        (2, 3, (3, 3), geom((2, 3), (1, 0), (2, 1), (1, 2), 1)),
        (4, 2, (2, 3), geom((1, 2), (0, 1), (1, 1), (2, 1), 2)),
        (3, 3, (1, 1), geom((1, 1), (0, 0), (0, 0), (1, 1), 3)),
        (2, 4, (1, 1), geom((2, 1), (1, 0), (0, 0), (1, 1), 1)),
    ] {
        let x = t(&[2, cin, 5, 6], 13);
        let w = t(&[cout, cin / g.groups, k.0, k.1], 7);
        let b = t(&[cout], 5);
        gradcheck(
            |v| conv2d(&v[0], &v[1], Some(&v[2]), g),
            &[x.clone(), w.clone(), b],
        )
        .unwrap();
        gradcheck(|v| conv2d(&v[0], &v[1], None, g), &[x, w]).unwrap();
    }
}

#[test]
fn gradcheck_conv2d_single_sample_uses_gemm_threads() {
    let g = geom((2, 1), (1, 1), (1, 2), (1, 1), 1);
    let x = t(&[1, 2, 5, 4], 11);
    let w = t(&[3, 2, 3, 3], 7);
    let b = t(&[3], 5);
    gradcheck(|v| conv2d(&v[0], &v[1], Some(&v[2]), g), &[x, w, b]).unwrap();
}

#[test]
fn gradcheck_conv_transpose2d() {
    for (cin, cout, k, g, out_pad) in [
        (
            2,
            3,
            (3, 3),
            geom((2, 2), (1, 1), (1, 1), (1, 1), 1),
            (1, 0),
        ),
        (
            4,
            2,
            (2, 3),
            geom((1, 2), (0, 0), (1, 1), (2, 1), 2),
            (0, 1),
        ),
        (
            2,
            2,
            (3, 2),
            geom((3, 2), (0, 0), (0, 0), (1, 1), 1),
            (2, 1),
        ),
    ] {
        let (h, w) = (4, 3);
        let len = |n: usize, k: usize, s: usize, p: (usize, usize), d: usize, op: usize| {
            (n - 1) * s + d * (k - 1) + 1 + op - p.0 - p.1
        };
        let out_hw = (
            len(h, k.0, g.stride.0, g.pad_h, g.dilation.0, out_pad.0),
            len(w, k.1, g.stride.1, g.pad_w, g.dilation.1, out_pad.1),
        );
        let x = t(&[2, cin, h, w], 13);
        let wt = t(&[cin, cout / g.groups, k.0, k.1], 7);
        let b = t(&[cout], 5);
        gradcheck(
            |v| conv_transpose2d(&v[0], &v[1], Some(&v[2]), g, out_hw),
            &[x.clone(), wt.clone(), b],
        )
        .unwrap();
        gradcheck(
            |v| conv_transpose2d(&v[0], &v[1], None, g, out_hw),
            &[x, wt],
        )
        .unwrap();
    }
}

/// Values and gradients (for every input) of `sum(f(inputs) · w)`.
fn value_and_grads(inputs: &[Tensor], f: &dyn Fn(&[Tensor]) -> Result<Tensor>) -> Vec<Tensor> {
    let vars: Vec<candle_core::Var> = inputs
        .iter()
        .map(|t| candle_core::Var::from_tensor(t).unwrap())
        .collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let y = f(&ts).unwrap();
    let n = y.elem_count();
    let w: Vec<f64> = (0..n).map(|i| ((i * 13) % 7) as f64 / 4.0 - 0.7).collect();
    let w = Tensor::from_vec(w, y.shape(), &Device::Cpu)
        .unwrap()
        .to_dtype(y.dtype())
        .unwrap();
    let g = (&y * w).unwrap().sum_all().unwrap().backward().unwrap();
    let mut out = vec![y];
    out.extend(ts.iter().map(|t| g.get(t).unwrap().clone()));
    out
}

fn agree(
    what: &str,
    inputs: &[Tensor],
    a: &dyn Fn(&[Tensor]) -> Result<Tensor>,
    b: &dyn Fn(&[Tensor]) -> Result<Tensor>,
) {
    for dtype in [DType::F64, DType::F32] {
        let inputs: Vec<Tensor> = inputs.iter().map(|t| t.to_dtype(dtype).unwrap()).collect();
        let tol = if dtype == DType::F64 { 1e-13 } else { 1e-5 };
        let (ra, rb) = (value_and_grads(&inputs, a), value_and_grads(&inputs, b));
        for (i, (p, q)) in ra.iter().zip(&rb).enumerate() {
            assert_eq!(p.dims(), q.dims(), "{what} {i}");
            let err = wick_tensor::testing::rel_error(p, q);
            assert!(err < tol, "{what} {dtype:?} output {i} (0 = value): {err}");
        }
    }
}

fn conv_cases() -> Vec<(usize, usize, (usize, usize), ConvGeom)> {
    vec![
        (2, 3, (3, 2), geom((1, 1), (1, 1), (0, 0), (1, 1), 1)),
        (2, 3, (3, 3), geom((2, 3), (1, 0), (2, 1), (1, 2), 1)),
        (4, 2, (2, 3), geom((1, 2), (0, 1), (1, 1), (2, 1), 2)),
        (3, 3, (1, 1), geom((1, 1), (0, 0), (0, 0), (1, 1), 3)),
        (2, 4, (1, 1), geom((2, 1), (1, 0), (0, 0), (1, 1), 1)),
        (4, 6, (3, 2), geom((2, 2), (1, 2), (0, 1), (1, 1), 2)),
        (4, 6, (3, 2), geom((3, 3), (0, 0), (1, 1), (2, 2), 1)),
    ]
}

#[test]
fn generic_conv2d_equals_the_kernel() {
    for (cin, cout, k, g) in conv_cases() {
        let x = t(&[2, cin, 7, 6], 13);
        let w = t(&[cout, cin / g.groups, k.0, k.1], 7);
        let b = t(&[cout], 5);
        let what = format!("{g:?}");
        let kernel = |v: &[Tensor]| conv2d(&v[0], &v[1], Some(&v[2]), g);
        let generic = |v: &[Tensor]| conv2d_generic(&v[0], &v[1], Some(&v[2]), g);
        // the public entry with the generic path forced: what a GPU runs
        let device = |v: &[Tensor]| {
            wick_tensor::device_path::force_generic(|| conv2d(&v[0], &v[1], Some(&v[2]), g))
        };
        agree(&what, &[x.clone(), w.clone(), b.clone()], &kernel, &generic);
        agree(&what, &[x.clone(), w.clone(), b], &kernel, &device);
        agree(
            &what,
            &[x.clone(), w.clone()],
            &|v: &[Tensor]| conv2d(&v[0], &v[1], None, g),
            &|v: &[Tensor]| conv2d_generic(&v[0], &v[1], None, g),
        );
        gradcheck(|v| conv2d_generic(&v[0], &v[1], None, g), &[x, w]).unwrap();
    }
}

#[test]
fn generic_conv_transpose2d_equals_the_kernel() {
    for (cin, cout, k, g, out_pad) in [
        (
            2,
            3,
            (3, 3),
            geom((2, 2), (1, 1), (1, 1), (1, 1), 1),
            (1, 0),
        ),
        (
            4,
            2,
            (2, 3),
            geom((1, 2), (0, 0), (1, 1), (2, 1), 2),
            (0, 1),
        ),
        (
            2,
            2,
            (3, 2),
            geom((3, 2), (0, 0), (0, 0), (1, 1), 1),
            (2, 1),
        ),
        (
            4,
            6,
            (1, 1),
            geom((2, 1), (0, 0), (0, 0), (1, 1), 2),
            (1, 0),
        ),
        (
            3,
            3,
            (3, 3),
            geom((1, 1), (2, 2), (2, 2), (2, 2), 3),
            (0, 0),
        ),
    ] {
        let (h, w) = (4, 3);
        let len = |n: usize, k: usize, s: usize, p: (usize, usize), d: usize, op: usize| {
            (n - 1) * s + d * (k - 1) + 1 + op - p.0 - p.1
        };
        let out_hw = (
            len(h, k.0, g.stride.0, g.pad_h, g.dilation.0, out_pad.0),
            len(w, k.1, g.stride.1, g.pad_w, g.dilation.1, out_pad.1),
        );
        let x = t(&[2, cin, h, w], 13);
        let wt = t(&[cin, cout / g.groups, k.0, k.1], 7);
        let b = t(&[cout], 5);
        let what = format!("{g:?} {out_pad:?}");
        agree(
            &what,
            &[x.clone(), wt.clone(), b],
            &|v: &[Tensor]| conv_transpose2d(&v[0], &v[1], Some(&v[2]), g, out_hw),
            &|v: &[Tensor]| {
                wick_tensor::device_path::force_generic(|| {
                    conv_transpose2d(&v[0], &v[1], Some(&v[2]), g, out_hw)
                })
            },
        );
        agree(
            &what,
            &[x.clone(), wt.clone()],
            &|v: &[Tensor]| conv_transpose2d(&v[0], &v[1], None, g, out_hw),
            &|v: &[Tensor]| conv_transpose2d_generic(&v[0], &v[1], None, g, out_hw),
        );
        gradcheck(
            |v| conv_transpose2d_generic(&v[0], &v[1], None, g, out_hw),
            &[x, wt],
        )
        .unwrap();
    }
}

#[test]
fn candle_fallback_agrees_with_the_kernel() {
    for g in [
        geom((2, 2), (1, 2), (0, 1), (1, 1), 2),
        geom((3, 3), (0, 0), (1, 1), (2, 2), 1),
    ] {
        let x = t(&[2, 4, 7, 6], 13);
        let w = t(&[6, 4 / g.groups, 3, 2], 7);
        let b = t(&[6], 5);
        let fast = conv2d(&x, &w, Some(&b), g).unwrap();
        let slow = conv2d_candle(&x, &w, Some(&b), g).unwrap();
        let err = wick_tensor::testing::rel_error(&fast, &slow);
        assert!(err < 1e-12, "{err}");
        // and its gradient, which non-CPU devices rely on
        gradcheck(|v| conv2d_candle(&v[0], &v[1], Some(&v[2]), g), &[x, w, b]).unwrap();
    }
}

/// Deterministic values in [−1, 1) (a small LCG).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// `max |a − b|`, relative to `1 + max |b|`.
fn rel_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = 1.0 + b.iter().fold(0f32, |m, v| m.max(v.abs()));
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
}

/// Runs `f` on a pool of 2 threads, when this CPU has AVX-512 (else says it skipped).
#[cfg(target_arch = "x86_64")]
fn with_avx512_on_two_threads(f: impl FnOnce() + Send) {
    if !available() {
        eprintln!("skipped: this CPU has no AVX-512");
        return;
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(f);
}

/// A convolution of the kernel tests: `(n, cin, cout, (h, w), (kh, kw), stride, pad_h,
/// pad_w)`.
type DirectCase = (
    usize,
    usize,
    usize,
    (usize, usize),
    (usize, usize),
    (usize, usize),
    (usize, usize),
    (usize, usize),
);

/// Runs `f(i, dims, geometry)` on each case, on two threads with AVX-512.
fn on_cases(cases: &[DirectCase], f: impl Fn(usize, &Dims, &ConvGeom) + Sync) {
    with_avx512_on_two_threads(|| {
        for (i, &(n, cin, cout, hw, k, st, ph, pw)) in cases.iter().enumerate() {
            let g = geom(st, ph, pw, (1, 1), 1);
            f(i, &dims_of(n, cin, cout, hw, k, &g), &g);
        }
    });
}

/// Runs `f` on each case, on two threads, once for each instruction set of the lanes
/// kernels this CPU runs (skipped where it runs none).
#[cfg(target_arch = "x86_64")]
fn on_lanes_cases(
    cases: &[DirectCase],
    f: impl Fn(super::isa::Isa, usize, &Dims, &ConvGeom) + Sync,
) {
    let isas = super::isa::Isa::supported();
    if isas.is_empty() {
        eprintln!("skipped: this CPU has neither AVX-512 nor AVX2 with FMA");
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for isa in isas {
        pool.install(|| {
            for (i, &(n, cin, cout, hw, k, st, ph, pw)) in cases.iter().enumerate() {
                let g = geom(st, ph, pw, (1, 1), 1);
                f(isa, i, &dims_of(n, cin, cout, hw, k, &g), &g);
            }
        });
    }
}

/// On every instruction set the CPU runs, each output of the lanes forward is the
/// chain of fused multiply-adds over `(c, ky, kx)` in order, from zero, then the bias:
/// bit for bit (so AVX-512 and AVX2 agree exactly).
#[test]
#[cfg(target_arch = "x86_64")]
fn lanes_forward_is_the_fma_chain_bit_for_bit() {
    let cases: [DirectCase; 2] = [
        (2, 70, 64, (14, 14), (3, 3), (1, 1), (1, 1), (1, 1)),
        (2, 64, 32, (11, 12), (5, 5), (3, 2), (2, 2), (1, 2)),
    ];
    on_lanes_cases(&cases, |isa, i, d, g| {
        let x = values(d.n * d.cin * d.h * d.w, 500 + i as u64);
        let wt = values(d.cout * d.cin * d.kh * d.kw, 501 + i as u64);
        let b = values(d.cout, 502 + i as u64);
        let y = super::lanes::conv_fwd(isa, &x, &wt, Some(&b), d, g, false);
        let at = |n: usize, c: usize, r: usize, q: usize| {
            let (r, q) = (r.checked_sub(g.pad_h.0)?, q.checked_sub(g.pad_w.0)?);
            (r < d.h && q < d.w).then(|| x[((n * d.cin + c) * d.h + r) * d.w + q])
        };
        for (k, &got) in y.iter().enumerate() {
            let (n, o, p) = (k / (d.cout * d.l()), k / d.l() % d.cout, k % d.l());
            let (oy, ox) = (p / d.ow, p % d.ow);
            let mut acc = 0f32;
            for c in 0..d.cin {
                for ky in 0..d.kh {
                    for kx in 0..d.kw {
                        let v = at(n, c, oy * g.stride.0 + ky, ox * g.stride.1 + kx);
                        let w = wt[((o * d.cin + c) * d.kh + ky) * d.kw + kx];
                        acc = w.mul_add(v.unwrap_or(0.0), acc);
                    }
                }
            }
            let want = acc + b[o];
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "case {i} on {isa:?}, output {k}"
            );
        }
    });
}

#[test]
#[cfg(target_arch = "x86_64")]
fn direct_kernels_equal_im2col() {
    // (n, cin, cout, (h, w), (kh, kw), pad_h, pad_w)
    let cases = [
        (4, 1, 32, (28, 28), (3, 3), (1, 1), (1, 1)),
        (3, 32, 64, (14, 14), (3, 3), (1, 1), (1, 1)),
        (3, 3, 5, (7, 9), (3, 3), (0, 0), (0, 0)),
        (2, 2, 7, (5, 17), (2, 4), (1, 0), (3, 2)),
        (2, 5, 3, (6, 1), (3, 1), (2, 0), (0, 0)),
        (11, 4, 6, (4, 33), (5, 5), (4, 4), (2, 3)),
        (2, 6, 1, (3, 3), (3, 3), (2, 2), (2, 2)),
        (17, 3, 9, (2, 2), (2, 2), (1, 1), (0, 1)),
    ];
    with_avx512_on_two_threads(|| {
        for (i, &(n, cin, cout, (h, w), (kh, kw), ph, pw)) in cases.iter().enumerate() {
            let g = geom((1, 1), ph, pw, (1, 1), 1);
            let d = dims_of(n, cin, cout, (h, w), (kh, kw), &g);
            let (oh, ow) = (d.oh, d.ow);
            let dg = direct_fits(&d, &g, true).expect("the direct kernels fit");
            let seed = i as u64 * 10;
            let x = values(n * cin * h * w, seed);
            let wt = values(cout * cin * kh * kw, seed + 1);
            let b = values(cout, seed + 2);
            let gy = values(n * cout * oh * ow, seed + 3);
            for relu in [false, true] {
                let mut want = conv_fwd_im2col(&x, &wt, Some(&b), &d, &g);
                if relu {
                    crate::kernel::relu_inplace(&mut want);
                }
                let got = conv_fwd_direct(&x, &wt, Some(&b), &d, &dg, relu);
                assert!(
                    rel_diff(&got, &want) < 1e-5,
                    "case {i} forward, relu {relu}"
                );
            }
            let got = conv_fwd_direct(&x, &wt, None, &d, &dg, false);
            let want = conv_fwd_im2col(&x, &wt, None, &d, &g);
            assert!(
                rel_diff(&got, &want) < 1e-5,
                "case {i} forward without bias"
            );
            let got = conv_bwd_data_direct(&gy, &wt, &d, &dg);
            let want = conv_bwd_data_im2col(&gy, &wt, &d, &g);
            assert!(rel_diff(&got, &want) < 1e-5, "case {i} input gradient");
        }
    });
}

/// Checks a forward kernel `got(x, wt, bias, relu)` against im2col + GEMM (then a ReLU)
/// with and without bias and ReLU, on inputs drawn from `seed`.
fn check_forward(
    d: &Dims,
    g: &ConvGeom,
    seed: u64,
    what: &str,
    got: impl Fn(&[f32], &[f32], Option<&[f32]>, bool) -> Vec<f32>,
) {
    let x = values(d.n * d.cin * d.h * d.w, seed);
    let wt = values(d.cout * d.cin * d.kh * d.kw, seed + 1);
    let b = values(d.cout, seed + 2);
    for (bias, relu) in [(true, false), (true, true), (false, false)] {
        let bias = bias.then_some(&b[..]);
        let mut want = conv_fwd_im2col(&x, &wt, bias, d, g);
        if relu {
            crate::kernel::relu_inplace(&mut want);
        }
        let got = got(&x, &wt, bias, relu);
        assert!(rel_diff(&got, &want) < 1e-5, "{what}, relu {relu}");
    }
}

/// The direct forward kernel at strides above 1 (over phase planes) equals im2col +
/// GEMM, on odd and even sizes, asymmetric padding, kernels smaller than the stride and
/// ResNet's shapes (3×3 and 1×1 at stride 2, the 7×7 stem).
#[test]
#[cfg(target_arch = "x86_64")]
fn strided_direct_forward_equals_im2col() {
    let cases: [DirectCase; 7] = [
        (3, 16, 32, (28, 28), (3, 3), (2, 2), (1, 1), (1, 1)),
        (2, 16, 8, (28, 28), (1, 1), (2, 2), (0, 0), (0, 0)),
        (2, 3, 16, (37, 30), (7, 7), (2, 2), (3, 3), (3, 3)),
        (2, 5, 6, (9, 11), (3, 2), (3, 2), (2, 0), (1, 1)),
        (3, 4, 9, (7, 8), (2, 4), (1, 3), (0, 1), (3, 2)),
        (2, 3, 5, (5, 5), (2, 2), (3, 3), (1, 1), (0, 1)),
        (5, 2, 4, (16, 15), (3, 3), (2, 2), (0, 0), (2, 2)),
    ];
    on_cases(&cases, |i, d, g| {
        let dg = direct_fits(d, g, false).expect("the direct forward fits");
        assert!(direct_fits(d, g, true).is_none() || g.stride == (1, 1));
        let what = format!("case {i}");
        check_forward(d, g, 100 + i as u64 * 10, &what, |x, wt, b, relu| {
            conv_fwd_direct(x, wt, b, d, &dg, relu)
        });
    });
}

/// The forward with output channels as lanes equals im2col + GEMM: channel counts that
/// leave a partial input-channel block, widths that leave a partial tile, asymmetric
/// padding, 3×3, 5×5 and 1×3 kernels, strides (2, 2) and (3, 2), with and without bias and
/// ReLU.
#[test]
#[cfg(target_arch = "x86_64")]
fn lanes_forward_equals_im2col() {
    let cases: [DirectCase; 9] = [
        (2, 128, 32, (9, 9), (3, 3), (1, 1), (1, 1), (1, 1)),
        (3, 140, 64, (7, 13), (3, 3), (1, 1), (1, 1), (0, 2)),
        (2, 50, 32, (6, 15), (5, 5), (1, 1), (2, 1), (2, 2)),
        (2, 400, 32, (5, 8), (1, 3), (1, 1), (0, 0), (1, 1)),
        (4, 512, 64, (7, 7), (3, 3), (1, 1), (1, 1), (1, 1)),
        // 1.8 MB of padded planes a sample: one sample per chunk
        (5, 512, 32, (28, 28), (3, 3), (1, 1), (1, 1), (1, 1)),
        // strides: ResNet's downsampling, odd sizes, (3, 2) on the generic tile
        (2, 128, 64, (14, 14), (3, 3), (2, 2), (1, 1), (1, 1)),
        (3, 160, 32, (15, 13), (3, 3), (2, 2), (1, 0), (0, 1)),
        (2, 64, 32, (11, 12), (5, 5), (3, 2), (2, 2), (1, 2)),
    ];
    on_lanes_cases(&cases, |isa, i, d, g| {
        assert!(super::lanes::applies(d, g).is_some(), "case {i} applies");
        let what = format!("case {i} on {isa:?}");
        check_forward(d, g, 200 + i as u64 * 10, &what, |x, wt, b, relu| {
            super::lanes::conv_fwd(isa, x, wt, b, d, g, relu)
        });
    });
}

/// The input gradient by the lanes kernel (flipped, transposed weights) equals GEMM +
/// col2im: no padding, asymmetric padding, partial channel blocks and tiles, 3×3, 5×5
/// and 1×3 kernels.
#[test]
#[cfg(target_arch = "x86_64")]
fn lanes_input_gradient_equals_col2im() {
    let cases: [DirectCase; 7] = [
        (2, 32, 128, (9, 9), (3, 3), (1, 1), (1, 1), (1, 1)),
        (3, 64, 140, (7, 13), (3, 3), (1, 1), (1, 1), (0, 2)),
        (2, 32, 130, (8, 10), (3, 3), (1, 1), (0, 0), (0, 0)),
        (2, 32, 50, (6, 15), (5, 5), (1, 1), (2, 1), (2, 2)),
        (2, 32, 400, (5, 8), (1, 3), (1, 1), (0, 0), (1, 1)),
        (4, 64, 512, (7, 7), (3, 3), (1, 1), (1, 1), (1, 1)),
        // one sample per chunk (the output gradient's 512 planes of 30×30)
        (5, 32, 512, (28, 28), (3, 3), (1, 1), (1, 1), (1, 1)),
    ];
    on_lanes_cases(&cases, |isa, i, d, g| {
        assert!(
            super::lanes::applies_bwd_data(d, g).is_some(),
            "case {i} applies"
        );
        let gy = values(d.n * d.cout * d.l(), 300 + i as u64);
        let wt = values(d.cout * d.cin * d.kh * d.kw, 301 + i as u64);
        let got = super::lanes::conv_bwd_data(isa, &gy, &wt, d, g);
        let want = conv_bwd_data_im2col(&gy, &wt, d, g);
        assert!(rel_diff(&got, &want) < 1e-5, "case {i} on {isa:?}");
    });
}

/// The weight gradient by the lanes kernel equals im2col + GEMM: partial tiles of
/// kernel rows (5×5: 2 + 2 + 1 rows), asymmetric padding, 3×3 and 1×3 kernels, strides
/// (2, 2) and (3, 2).
#[test]
#[cfg(target_arch = "x86_64")]
fn lanes_weight_gradient_equals_im2col() {
    let cases: [DirectCase; 10] = [
        (2, 128, 32, (9, 9), (3, 3), (1, 1), (1, 1), (1, 1)),
        (3, 140, 64, (7, 13), (3, 3), (1, 1), (1, 1), (0, 2)),
        // strided, few taps (W5's 16 → 32), input channels split across the tasks
        (2, 16, 32, (28, 28), (3, 3), (2, 2), (1, 1), (1, 1)),
        (3, 17, 64, (13, 11), (3, 3), (2, 2), (1, 1), (0, 1)),
        (2, 50, 32, (6, 15), (5, 5), (1, 1), (2, 1), (2, 2)),
        (2, 400, 32, (5, 8), (1, 3), (1, 1), (0, 0), (1, 1)),
        (5, 512, 64, (7, 7), (3, 3), (1, 1), (1, 1), (1, 1)),
        (2, 128, 64, (14, 14), (3, 3), (2, 2), (1, 1), (1, 1)),
        (3, 160, 32, (15, 13), (3, 3), (2, 2), (1, 0), (0, 1)),
        (2, 64, 32, (11, 12), (5, 5), (3, 2), (2, 2), (1, 2)),
    ];
    on_lanes_cases(&cases, |isa, i, d, g| {
        assert!(super::lanes_weight::fits(d, g), "case {i} fits");
        let x = values(d.n * d.cin * d.h * d.w, 400 + i as u64);
        let gy = values(d.n * d.cout * d.l(), 401 + i as u64);
        let got = super::lanes_weight::conv_bwd_weight(isa, &x, &gy, d, g);
        let want = conv_bwd_weight_im2col(&x, &gy, d, g);
        assert!(rel_diff(&got, &want) < 1e-5, "case {i} on {isa:?}");
    });
    // few taps at stride 1: the channels-last GEMMs' (faster there)
    let few: [DirectCase; 1] = [(2, 16, 32, (14, 14), (3, 3), (1, 1), (1, 1), (1, 1))];
    on_lanes_cases(&few, |_, _, d, g| {
        assert!(super::lanes_weight::applies(d, g).is_none())
    });
}

/// The W2 CNN's convolutions take the kernels measured fastest for them: the direct
/// ones for 32 → 64 (both passes) and 1 → 32's forward, im2col for 1 → 32's input
/// gradient (one output channel).
#[test]
#[cfg(target_arch = "x86_64")]
fn direct_kernels_where_they_are_faster() {
    if !available() {
        eprintln!("skipped: this CPU has no AVX-512");
        return;
    }
    let g = geom((1, 1), (1, 1), (1, 1), (1, 1), 1);
    let dims = |cin, cout, hw| Dims {
        n: 64,
        cin,
        h: hw,
        w: hw,
        cout,
        kh: 3,
        kw: 3,
        oh: hw,
        ow: hw,
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| {
            let (conv1, conv2) = (dims(1, 32, 28), dims(32, 64, 14));
            assert!(direct(&conv2, &g, false).is_some() && direct(&conv2, &g, true).is_some());
            // 9 taps: a forward to 32 channels direct, its input gradient (one channel)
            // and a forward to 64 channels by GEMM
            assert!(direct(&conv1, &g, false).is_some() && direct(&conv1, &g, true).is_none());
            assert!(direct(&dims(1, 64, 28), &g, false).is_none());
            // at stride 2, the forward only, and not for 1×1 kernels
            let strided = geom((2, 2), (1, 1), (1, 1), (1, 1), 1);
            let s2 = dims_of(64, 16, 32, (28, 28), (3, 3), &strided);
            assert!(
                direct(&s2, &strided, false).is_some() && direct(&s2, &strided, true).is_none()
            );
            let s2_1x1 = geom((2, 2), (0, 0), (0, 0), (1, 1), 1);
            let pointwise = dims_of(64, 64, 128, (28, 28), (1, 1), &s2_1x1);
            assert!(direct(&pointwise, &s2_1x1, false).is_none());
        });
}

/// A NaN or ∞ in the input (or the output gradient) reaches the outputs (input
/// gradients) its windows reach, and no others: the direct kernels' dropped lanes,
/// which read the next row, stay out of the results.
#[test]
#[cfg(target_arch = "x86_64")]
fn direct_kernels_keep_nan_where_im2col_does() {
    if !available() {
        eprintln!("skipped: this CPU has no AVX-512");
        return;
    }
    let (n, cin, cout, h, w) = (2, 2, 3, 5, 6);
    let g = geom((1, 1), (1, 1), (0, 0), (1, 1), 1);
    let d = dims_of(n, cin, cout, (h, w), (3, 3), &g);
    let (oh, ow) = (d.oh, d.ow);
    let mut x = values(n * cin * h * w, 7);
    x[w] = f32::NAN; // sample 0, channel 0, row 1, column 0
    x[cin * h * w + 2 * w + w - 1] = f32::INFINITY;
    let wt = values(cout * cin * 9, 8);
    let mut gy = values(n * cout * oh * ow, 9);
    gy[oh * ow + ow] = f32::NAN; // sample 0, channel 1, row 1, column 0
    gy[(2 * cout - 1) * oh * ow + ow - 1] = f32::NEG_INFINITY;
    let same = |a: &[f32], b: &[f32]| {
        a.iter().zip(b).all(|(x, y)| {
            (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() < 1e-4 * (1.0 + y.abs())
        })
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| {
            let dg = direct_fits(&d, &g, true).unwrap();
            let mixed =
                |v: &[f32]| v.iter().any(|v| v.is_finite()) && v.iter().any(|v| !v.is_finite());
            let got = conv_fwd_direct(&x, &wt, None, &d, &dg, false);
            let want = conv_fwd_im2col(&x, &wt, None, &d, &g);
            assert!(mixed(&want) && same(&got, &want));
            let got = conv_bwd_data_direct(&gy, &wt, &d, &dg);
            let want = conv_bwd_data_im2col(&gy, &wt, &d, &g);
            assert!(mixed(&want) && same(&got, &want));
        });
}

/// The channels-last weight gradient equals im2col's on every geometry it takes
/// (asymmetric padding, non-square kernels, padding past the kernel, batches that are
/// not a multiple of its chunk), in f32 and f64, serial and on two threads; it declines
/// the geometries it does not take.
#[test]
fn channels_last_weight_gradient_equals_im2col() {
    use super::channels_last;
    // (n, cin, cout, (h, w), (kh, kw), pad_h, pad_w)
    let cases = [
        (4, 32, 32, (28, 28), (3, 3), (1, 1), (1, 1)),
        (9, 16, 5, (14, 12), (3, 3), (1, 1), (1, 1)),
        (3, 11, 7, (9, 20), (2, 4), (1, 0), (2, 1)),
        (17, 8, 3, (6, 16), (5, 5), (2, 2), (2, 2)),
        (1, 40, 2, (3, 10), (1, 3), (0, 0), (1, 1)),
        (2, 33, 4, (5, 30), (3, 1), (3, 3), (0, 0)),
    ];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for (i, &(n, cin, cout, (h, w), (kh, kw), ph, pw)) in cases.iter().enumerate() {
        let g = geom((1, 1), ph, pw, (1, 1), 1);
        let d = dims_of(n, cin, cout, (h, w), (kh, kw), &g);
        let (oh, ow) = (d.oh, d.ow);
        assert!(channels_last::applies(&d, &g), "case {i}");
        let x = values(n * cin * h * w, 7 * i as u64);
        let gy = values(n * cout * oh * ow, 7 * i as u64 + 1);
        let want = conv_bwd_weight_im2col(&x, &gy, &d, &g);
        let serial = channels_last::conv_bwd_weight(&x, &gy, &d, &g);
        assert!(rel_diff(&serial, &want) < 1e-5, "case {i}");
        let threaded = pool.install(|| channels_last::conv_bwd_weight(&x, &gy, &d, &g));
        assert_eq!(
            threaded, serial,
            "case {i}: the thread count changed the sum"
        );
        let (x64, gy64): (Vec<f64>, Vec<f64>) = (
            x.iter().map(|&v| f64::from(v)).collect(),
            gy.iter().map(|&v| f64::from(v)).collect(),
        );
        let want = conv_bwd_weight_im2col(&x64, &gy64, &d, &g);
        let got = channels_last::conv_bwd_weight(&x64, &gy64, &d, &g);
        let err = got
            .iter()
            .zip(&want)
            .fold(0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(err < 1e-10, "case {i} f64: {err}");
    }
    // declined: strided, dilated, grouped, one input channel, a single tap
    let d = |cin, kh, kw| Dims {
        n: 2,
        cin,
        h: 8,
        w: 8,
        cout: 4,
        kh,
        kw,
        oh: 8,
        ow: 8,
    };
    let one = geom((1, 1), (1, 1), (1, 1), (1, 1), 1);
    assert!(channels_last::applies(&d(32, 3, 3), &one));
    assert!(!channels_last::applies(&d(1, 3, 3), &one));
    assert!(!channels_last::applies(
        &d(32, 1, 1),
        &geom((1, 1), (0, 0), (0, 0), (1, 1), 1)
    ));
    assert!(!channels_last::applies(
        &d(32, 3, 3),
        &geom((2, 2), (1, 1), (1, 1), (1, 1), 1)
    ));
    assert!(!channels_last::applies(
        &d(32, 3, 3),
        &geom((1, 1), (1, 1), (1, 1), (2, 2), 1)
    ));
    assert!(!channels_last::applies(
        &d(32, 3, 3),
        &geom((1, 1), (1, 1), (1, 1), (1, 1), 2)
    ));
}

/// A convolution's forward pass (with a bias), input gradient and weight gradient by
/// their definitions, term by term in f64: `(y, gx, gw)` for the output gradient `gy`.
fn naive_conv(
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    gy: &[f32],
    d: &Dims,
    g: &ConvGeom,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (cpg, opg) = (d.cin / g.groups, d.cout / g.groups);
    let mut y: Vec<f64> = (0..d.n * d.cout * d.oh * d.ow)
        .map(|i| f64::from(bias[(i / (d.oh * d.ow)) % d.cout]))
        .collect();
    let mut gx = vec![0f64; x.len()];
    let mut gw = vec![0f64; w.len()];
    for n in 0..d.n {
        for o in 0..d.cout {
            for c in 0..cpg {
                let ci = (o / opg) * cpg + c;
                for ky in 0..d.kh {
                    for kx in 0..d.kw {
                        let wi = ((o * cpg + c) * d.kh + ky) * d.kw + kx;
                        let wv = f64::from(w[wi]);
                        for oy in 0..d.oh {
                            for ox in 0..d.ow {
                                let iy = (oy * g.stride.0 + ky * g.dilation.0) as isize
                                    - g.pad_h.0 as isize;
                                let ix = (ox * g.stride.1 + kx * g.dilation.1) as isize
                                    - g.pad_w.0 as isize;
                                if iy < 0 || ix < 0 || iy >= d.h as isize || ix >= d.w as isize {
                                    continue;
                                }
                                let xi = ((n * d.cin + ci) * d.h + iy as usize) * d.w + ix as usize;
                                let yi = ((n * d.cout + o) * d.oh + oy) * d.ow + ox;
                                y[yi] += wv * f64::from(x[xi]);
                                gx[xi] += wv * f64::from(gy[yi]);
                                gw[wi] += f64::from(x[xi]) * f64::from(gy[yi]);
                            }
                        }
                    }
                }
            }
        }
    }
    let f = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
    (f(y), f(gx), f(gw))
}

/// Convolutions for the im2col paths: strided, padded, grouped, dilated and pointwise,
/// small and large planes, batches that are not a multiple of the weight gradient's
/// chunk: `(n, cin, cout, (h, w), (kh, kw), stride, pad, dilation, groups)`.
type Case = (
    usize,
    usize,
    usize,
    (usize, usize),
    (usize, usize),
    usize,
    usize,
    usize,
    usize,
);
const IM2COL_CASES: [Case; 6] = [
    (16, 8, 12, (7, 7), (3, 3), 1, 1, 1, 1),
    (11, 6, 4, (9, 9), (3, 3), 2, 1, 1, 2),
    (5, 4, 6, (4, 6), (1, 1), 1, 0, 1, 1),
    (9, 4, 4, (8, 8), (1, 1), 2, 0, 1, 1),
    (3, 3, 5, (10, 10), (3, 3), 1, 2, 2, 1),
    (2, 3, 4, (20, 20), (3, 3), 1, 1, 1, 1),
];

/// A case's sizes and geometry, and its random input, weight, bias and output gradient.
#[allow(clippy::type_complexity)]
fn im2col_case(i: usize) -> (Dims, ConvGeom, [Vec<f32>; 4]) {
    let (n, cin, cout, (h, w), (kh, kw), s, p, dil, groups) = IM2COL_CASES[i];
    let g = geom((s, s), (p, p), (p, p), (dil, dil), groups);
    let d = dims_of(n, cin, cout, (h, w), (kh, kw), &g);
    let (oh, ow) = (d.oh, d.ow);
    let seed = 13 * i as u64;
    let data = [
        values(n * cin * h * w, seed),
        values(cout * (cin / groups) * kh * kw, seed + 1),
        values(cout, seed + 2),
        values(n * cout * oh * ow, seed + 3),
    ];
    (d, g, data)
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// The im2col weight gradient equals its definition on every case; the thread count
/// does not change the bits.
#[test]
fn im2col_weight_gradient_equals_its_definition() {
    use super::cpu::conv_bwd_weight_im2col;
    for i in 0..IM2COL_CASES.len() {
        let (d, g, [x, wt, bias, gy]) = im2col_case(i);
        let (_, _, want) = naive_conv(&x, &wt, &bias, &gy, &d, &g);
        let serial = pool(1).install(|| conv_bwd_weight_im2col(&x, &gy, &d, &g));
        assert!(rel_diff(&serial, &want) < 1e-5, "case {i}");
        let threaded = pool(2).install(|| conv_bwd_weight_im2col(&x, &gy, &d, &g));
        assert_eq!(
            threaded, serial,
            "case {i}: the thread count changed the sum"
        );
    }
}

/// The im2col forward pass and input gradient equal their definitions on every case,
/// on 1 and 2 threads.
#[test]
fn im2col_forward_and_input_gradient_equal_their_definitions() {
    for threads in [1, 2] {
        for i in 0..IM2COL_CASES.len() {
            let (d, g, [x, wt, bias, gy]) = im2col_case(i);
            let (want_y, want_gx, _) = naive_conv(&x, &wt, &bias, &gy, &d, &g);
            let (y, gx) = pool(threads).install(|| {
                (
                    conv_fwd_im2col(&x, &wt, Some(&bias), &d, &g),
                    conv_bwd_data_im2col(&gy, &wt, &d, &g),
                )
            });
            assert!(rel_diff(&y, &want_y) < 1e-5, "case {i}, {threads} threads");
            assert!(
                rel_diff(&gx, &want_gx) < 1e-5,
                "case {i}, {threads} threads"
            );
        }
    }
}

/// The stacked kernels (several samples per GEMM) equal the definitions on every case,
/// with groups that do and do not divide the batch, on 1 and 2 threads; the weight
/// gradient's bits do not depend on the thread count.
#[test]
fn stacked_kernels_equal_their_definitions() {
    use super::stacked;
    for i in 0..IM2COL_CASES.len() {
        let (d, g, [x, wt, bias, gy]) = im2col_case(i);
        let (want_y, want_gx, want_gw) = naive_conv(&x, &wt, &bias, &gy, &d, &g);
        for s in [2, 3, d.n] {
            let mut first_gw = None;
            for threads in [1, 2] {
                let (y, gx, gw) = pool(threads).install(|| {
                    (
                        stacked::conv_fwd(&x, &wt, Some(&bias), &d, &g, s),
                        stacked::conv_bwd_data(&gy, &wt, &d, &g, s),
                        stacked::conv_bwd_weight(&x, &gy, &d, &g, s),
                    )
                });
                let at = format!("case {i}, {s} per GEMM, {threads} threads");
                assert!(rel_diff(&y, &want_y) < 1e-5, "{at}: forward");
                assert!(rel_diff(&gx, &want_gx) < 1e-5, "{at}: input gradient");
                assert!(rel_diff(&gw, &want_gw) < 1e-5, "{at}: weight gradient");
                match &first_gw {
                    None => first_gw = Some(gw),
                    Some(w) => assert_eq!(&gw, w, "{at}: the thread count changed the sum"),
                }
            }
        }
    }
}

/// Small planes are stacked up to about 512 columns, balanced over the batch; planes of
/// 128 positions and more, and single samples, are not.
#[test]
fn samples_per_gemm_stacks_only_small_planes() {
    use super::stacked::samples_per_gemm;
    let g = geom((1, 1), (1, 1), (1, 1), (1, 1), 1);
    let per_gemm = |n, hw| samples_per_gemm(&dims_of(n, 4, 4, (hw, hw), (3, 3), &g));
    assert_eq!(per_gemm(16, 7), 8); // 49 positions: 11 wanted, two groups of 8
    assert_eq!(per_gemm(64, 7), 11);
    assert_eq!(per_gemm(3, 7), 3);
    assert_eq!(per_gemm(1, 7), 1);
    assert_eq!(per_gemm(16, 11), 4); // 121 positions: 5 wanted, four groups of 4
    assert_eq!(per_gemm(16, 12), 1); // 144 positions
    assert_eq!(per_gemm(16, 56), 1);
}

/// Winograd's cases: odd sizes (partial tiles at the last row and column), asymmetric
/// and zero padding, padding 2, samples of more than one block of tile rows (40×40:
/// 400 tiles) and blocks of several samples (7×7, 5×9), batches that leave a partial
/// block and task.
const WINOGRAD_CASES: [DirectCase; 7] = [
    (2, 16, 16, (9, 9), (3, 3), (1, 1), (1, 1), (1, 1)),
    (3, 20, 33, (7, 13), (3, 3), (1, 1), (1, 0), (0, 2)),
    (2, 32, 16, (8, 10), (3, 3), (1, 1), (0, 0), (0, 0)),
    (2, 17, 24, (40, 40), (3, 3), (1, 1), (1, 1), (1, 1)),
    (7, 64, 32, (7, 7), (3, 3), (1, 1), (1, 1), (1, 1)),
    (5, 16, 48, (5, 9), (3, 3), (1, 1), (2, 2), (2, 1)),
    (3, 24, 16, (33, 31), (3, 3), (1, 1), (1, 2), (2, 0)),
];

/// Runs `f` on each of [`WINOGRAD_CASES`] on pools of 2 and 3 threads (the cases of a
/// batch that fills the threads).
fn on_winograd_cases(f: impl Fn(usize, &Dims, &ConvGeom) + Sync) {
    for threads in [2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            for (i, &(n, cin, cout, hw, k, st, ph, pw)) in WINOGRAD_CASES.iter().enumerate() {
                if n < threads {
                    continue;
                }
                let g = geom(st, ph, pw, (1, 1), 1);
                f(i, &dims_of(n, cin, cout, hw, k, &g), &g);
            }
        });
    }
}

/// The Winograd forward equals im2col + GEMM, with and without bias and ReLU.
#[test]
fn winograd_forward_equals_im2col() {
    on_winograd_cases(|i, d, g| {
        assert!(super::winograd::fits(d, g), "case {i} fits");
        check_forward(
            d,
            g,
            500 + i as u64 * 10,
            &format!("case {i}"),
            |x, wt, b, relu| super::winograd::conv_fwd(x, wt, b, d, g, relu),
        );
    });
}

/// The Winograd input gradient (flipped, transposed weights, padding `2 − p`) equals
/// GEMM + col2im.
#[test]
fn winograd_input_gradient_equals_col2im() {
    on_winograd_cases(|i, d, g| {
        let (db, gb) = super::geometry::stride1_transposed(d, g).unwrap();
        assert!(super::winograd::fits(&db, &gb), "case {i} fits");
        let gy = values(d.n * d.cout * d.l(), 600 + i as u64);
        let wt = values(d.cout * d.cin * d.kh * d.kw, 601 + i as u64);
        let got = super::winograd::conv_bwd_data(&gy, &wt, d, g);
        let want = conv_bwd_data_im2col(&gy, &wt, d, g);
        assert!(rel_diff(&got, &want) < 1e-5, "case {i}");
    });
}

/// The Winograd weight gradient (through the transforms) equals im2col + GEMM.
#[test]
fn winograd_weight_gradient_equals_im2col() {
    on_winograd_cases(|i, d, g| {
        let x = values(d.n * d.cin * d.h * d.w, 650 + i as u64);
        let gy = values(d.n * d.cout * d.l(), 651 + i as u64);
        let got = super::winograd::conv_bwd_weight(&x, &gy, d, g);
        let want = conv_bwd_weight_im2col(&x, &gy, d, g);
        assert!(rel_diff(&got, &want) < 1e-5, "case {i}");
    });
}

/// The Winograd forward and weight gradient give the same bits on any number of threads.
#[test]
fn winograd_bits_do_not_depend_on_threads() {
    let (d, g) = {
        let g = geom((1, 1), (1, 1), (1, 1), (1, 1), 1);
        (dims_of(6, 16, 16, (9, 11), (3, 3), &g), g)
    };
    let x = values(d.n * d.cin * d.h * d.w, 700);
    let wt = values(d.cout * d.cin * 9, 701);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| super::winograd::conv_fwd(&x, &wt, None, &d, &g, false))
    };
    let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
    assert_eq!(bits(run(1)), bits(run(2)));
    assert_eq!(bits(run(1)), bits(run(5)));
    let gy = values(d.n * d.cout * d.l(), 702);
    let run_w = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| super::winograd::conv_bwd_weight(&x, &gy, &d, &g))
    };
    assert_eq!(bits(run_w(1)), bits(run_w(2)));
    assert_eq!(bits(run_w(1)), bits(run_w(5)));
}

/// Winograd does not apply where it cannot compute or is not faster: strides, dilation,
/// groups, other kernel sizes, few channels, a batch below the threads, padding past 2
/// for the input gradient, few tiles per chunk for the weight gradient (on 2 threads).
#[test]
fn winograd_applies_only_where_it_can_and_pays() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    pool.install(|| {
        let applies = |n, cin, cout, k, s, p: usize, dil, groups| {
            let g = geom(s, (p, p), (p, p), dil, groups);
            super::winograd::applies(&dims_of(n, cin, cout, (12, 12), k, &g), &g)
        };
        assert!(applies(4, 32, 64, (3, 3), (1, 1), 1, (1, 1), 1));
        assert!(!applies(4, 32, 32, (3, 3), (2, 2), 1, (1, 1), 1));
        assert!(!applies(4, 32, 32, (3, 3), (1, 1), 2, (2, 2), 1));
        assert!(!applies(4, 32, 32, (3, 3), (1, 1), 1, (1, 1), 2));
        assert!(!applies(4, 32, 32, (5, 5), (1, 1), 2, (1, 1), 1));
        assert!(!applies(4, 16, 32, (3, 3), (1, 1), 1, (1, 1), 1));
        assert!(!applies(4, 32, 16, (3, 3), (1, 1), 1, (1, 1), 1));
        assert!(!applies(1, 32, 32, (3, 3), (1, 1), 1, (1, 1), 1));
        let g3 = geom((1, 1), (3, 3), (3, 3), (1, 1), 1);
        let d3 = dims_of(4, 32, 32, (12, 12), (3, 3), &g3);
        assert!(super::winograd::applies(&d3, &g3));
        assert!(!super::winograd::applies_bwd_data(&d3, &g3));
        // the weight gradient only with enough tiles in a chunk of its sum
        let g1 = geom((1, 1), (1, 1), (1, 1), (1, 1), 1);
        let ww =
            |n, c, hw| super::winograd::applies_bwd_weight(&dims_of(n, c, c, hw, (3, 3), &g1), &g1);
        assert!(ww(16, 64, (56, 56)) && ww(128, 32, (28, 28)) && ww(16, 256, (14, 14)));
        assert!(!ww(16, 512, (7, 7)) && !ww(2, 64, (14, 14)));
    });
}
