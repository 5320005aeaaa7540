//! The convolution's CPU kernels on f32 and f64: im2col / col2im around the GEMM of
//! [`crate::kernel`], parallel over the batch (or inside the GEMM for small batches);
//! Winograd's F(2×2, 3×3) ([`super::winograd`]) and the direct kernels of
//! [`super::lanes`] and [`super::simd`] where they apply and are faster.

use super::geometry::{batch_parallel, batch_sum, ConvGeom, Dims, SUM_CHUNK};
use super::unfold::{col2im, im2col};
use crate::kernel::{assume_init, from_zeros_par, gemm, gemm_uninit, Float, Mat};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Samples per rayon task: about four tasks per thread, so that the im2col buffer (one
/// per task) is allocated a few times per call rather than once per sample, while a
/// descheduled thread still leaves work to steal.
pub(crate) fn min_samples_per_task(n: usize) -> usize {
    (n / (4 * rayon::current_num_threads()).max(1)).max(1)
}

/// Convolution forward: `out [n, cout, oh, ow]` from `x [n, cin, h, w]`, `wt` and an
/// optional `bias [cout]`, then `max(·, 0)` when `relu`: on f32 Winograd or a direct
/// kernel where one applies, else im2col + GEMM.
pub(crate) fn conv_fwd<T: Float>(
    x: &[T],
    wt: &[T],
    bias: Option<&[T]>,
    d: &Dims,
    g: &ConvGeom,
    relu: bool,
) -> Vec<T> {
    if let (true, Some(x), Some(w)) = (super::winograd::applies(d, g), T::as_f32(x), T::as_f32(wt))
    {
        let y = super::winograd::conv_fwd(x, w, bias.and_then(T::as_f32), d, g, relu);
        return T::from_f32(y).expect("f32 in, f32 out");
    }
    #[cfg(target_arch = "x86_64")]
    if let (Some(isa), Some(x), Some(w)) =
        (super::lanes::applies(d, g), T::as_f32(x), T::as_f32(wt))
    {
        let y = super::lanes::conv_fwd(isa, x, w, bias.and_then(T::as_f32), d, g, relu);
        return T::from_f32(y).expect("f32 in, f32 out");
    }
    #[cfg(target_arch = "x86_64")]
    if let (Some(dg), Some(x), Some(w)) = (
        super::simd::direct(d, g, false),
        T::as_f32(x),
        T::as_f32(wt),
    ) {
        let y = super::simd::conv_fwd_direct(x, w, bias.and_then(T::as_f32), d, &dg, relu);
        return T::from_f32(y).expect("f32 in, f32 out");
    }
    let s = super::stacked::samples_per_gemm(d);
    let mut y = if s > 1 {
        super::stacked::conv_fwd(x, wt, bias, d, g, s)
    } else {
        conv_fwd_im2col(x, wt, bias, d, g)
    };
    if relu {
        crate::kernel::relu_inplace(&mut y);
    }
    y
}

/// [`conv_fwd`] by im2col + GEMM, without the ReLU.
pub(crate) fn conv_fwd_im2col<T: Float>(
    x: &[T],
    wt: &[T],
    bias: Option<&[T]>,
    d: &Dims,
    g: &ConvGeom,
) -> Vec<T> {
    let (kg, l) = (d.kg(g), d.l());
    let mg = d.cout / g.groups;
    let pointwise = d.is_pointwise(g);
    let len = d.n * d.cout * l;
    // The output is written once, without a memset first: the bias (or the first GEMM,
    // without one) initializes every element.
    let mut out: Vec<T> = Vec::with_capacity(len);
    let sample = |cols: &mut Vec<T>, i: usize, out_n: &mut [MaybeUninit<T>], par: bool| {
        let x_n = &x[i * d.cin * d.h * d.w..(i + 1) * d.cin * d.h * d.w];
        let cols: &[T] = if pointwise {
            x_n
        } else {
            cols.resize(d.cin * d.kh * d.kw * l, T::default());
            im2col(x_n, cols, l, d, g);
            cols
        };
        let operands = |gi: usize| {
            (
                Mat::rows(&wt[gi * mg * kg..], kg),
                Mat::rows(&cols[gi * kg * l..], l),
            )
        };
        match bias {
            Some(b) => {
                for (o, row) in out_n.chunks_mut(l).enumerate() {
                    row.iter_mut().for_each(|v| {
                        v.write(b[o]);
                    });
                }
                // SAFETY: the bias initialized every element.
                let out_n = unsafe { assume_init(out_n) };
                for gi in 0..g.groups {
                    let (a, bm) = operands(gi);
                    gemm(
                        mg,
                        l,
                        kg,
                        &mut out_n[gi * mg * l..(gi + 1) * mg * l],
                        true,
                        a,
                        bm,
                        par,
                    );
                }
            }
            None => {
                for (gi, out_g) in out_n.chunks_mut(mg * l).enumerate() {
                    let (a, bm) = operands(gi);
                    gemm_uninit(mg, l, kg, out_g, a, bm, par);
                }
            }
        }
    };
    let buf = &mut out.spare_capacity_mut()[..len];
    if batch_parallel(d.n) {
        buf.par_chunks_mut(d.cout * l)
            .with_min_len(min_samples_per_task(d.n))
            .enumerate()
            .for_each_init(Vec::new, |cols, (i, out_n)| sample(cols, i, out_n, false));
    } else {
        let mut cols = Vec::new();
        for (i, out_n) in buf.chunks_mut(d.cout * l).enumerate() {
            sample(&mut cols, i, out_n, true);
        }
    }
    // SAFETY: every sample's chunk was initialized above (the chunks cover `len`).
    unsafe { out.set_len(len) };
    out
}

/// Convolution grad input: `gx [n, cin, h, w]` from `grad [n, cout, oh, ow]` and `wt`:
/// the direct kernel on f32 where it applies, else GEMM + col2im.
pub(crate) fn conv_bwd_data<T: Float>(grad: &[T], wt: &[T], d: &Dims, g: &ConvGeom) -> Vec<T> {
    if let (true, Some(gy), Some(w)) = (
        super::winograd::applies_bwd_data(d, g),
        T::as_f32(grad),
        T::as_f32(wt),
    ) {
        let gx = super::winograd::conv_bwd_data(gy, w, d, g);
        return T::from_f32(gx).expect("f32 in, f32 out");
    }
    #[cfg(target_arch = "x86_64")]
    if let (Some(isa), Some(gy), Some(w)) = (
        super::lanes::applies_bwd_data(d, g),
        T::as_f32(grad),
        T::as_f32(wt),
    ) {
        let gx = super::lanes::conv_bwd_data(isa, gy, w, d, g);
        return T::from_f32(gx).expect("f32 in, f32 out");
    }
    #[cfg(target_arch = "x86_64")]
    if let (Some(dg), Some(gy), Some(w)) = (
        super::simd::direct(d, g, true),
        T::as_f32(grad),
        T::as_f32(wt),
    ) {
        let gx = super::simd::conv_bwd_data_direct(gy, w, d, &dg);
        return T::from_f32(gx).expect("f32 in, f32 out");
    }
    match super::stacked::samples_per_gemm(d) {
        1 => conv_bwd_data_im2col(grad, wt, d, g),
        s => super::stacked::conv_bwd_data(grad, wt, d, g, s),
    }
}

/// [`conv_bwd_data`] by GEMM + col2im.
pub(crate) fn conv_bwd_data_im2col<T: Float>(
    grad: &[T],
    wt: &[T],
    d: &Dims,
    g: &ConvGeom,
) -> Vec<T> {
    let (kg, l) = (d.kg(g), d.l());
    let mg = d.cout / g.groups;
    let pointwise = d.is_pointwise(g);
    let in_len = d.cin * d.h * d.w;
    let sample = |cols: &mut Vec<T>, i: usize, gx_n: &mut [T], par: bool| {
        let g_n = &grad[i * d.cout * l..(i + 1) * d.cout * l];
        let dst: &mut [T] = if pointwise {
            gx_n
        } else {
            cols.resize(d.cin * d.kh * d.kw * l, T::default());
            cols
        };
        for gi in 0..g.groups {
            gemm(
                kg,
                l,
                mg,
                &mut dst[gi * kg * l..(gi + 1) * kg * l],
                false,
                Mat::rows_t(&wt[gi * mg * kg..], kg),
                Mat::rows(&g_n[gi * mg * l..], l),
                par,
            );
        }
        if !pointwise {
            col2im(cols, gx_n, l, d, g);
        }
    };
    if batch_parallel(d.n) {
        let min = min_samples_per_task(d.n);
        return from_zeros_par(d.n * in_len, in_len, min, Vec::new, |cols, i, gx_n| {
            sample(cols, i, gx_n, false)
        });
    }
    let mut gx = vec![T::default(); d.n * in_len];
    let mut cols = Vec::new();
    for (i, gx_n) in gx.chunks_mut(in_len).enumerate() {
        sample(&mut cols, i, gx_n, true);
    }
    gx
}

/// Convolution grad weight: `gw [cout, cin/groups, kh, kw] = Σₙ grad[n] · im2col(x[n])ᵀ`
/// (on f32 through Winograd's transforms or a direct kernel where one applies).
///
/// (A direct AVX-512 kernel for this one, over the flat padded planes as in
/// [`super::simd`] with the sums across lanes at the end, ran slower than
/// im2col + GEMM: 2.6–3.0 ms vs 1.75–1.85 ms for the W2 convolution 32 → 64 at batch
/// 64, in several register tilings.)
pub(crate) fn conv_bwd_weight<T: Float>(x: &[T], grad: &[T], d: &Dims, g: &ConvGeom) -> Vec<T> {
    if let (true, Some(x), Some(gy)) = (
        super::winograd::applies_bwd_weight(d, g),
        T::as_f32(x),
        T::as_f32(grad),
    ) {
        let gw = super::winograd::conv_bwd_weight(x, gy, d, g);
        return T::from_f32(gw).expect("f32 in, f32 out");
    }
    #[cfg(target_arch = "x86_64")]
    if let (Some(isa), Some(x), Some(gy)) = (
        super::lanes_weight::applies(d, g),
        T::as_f32(x),
        T::as_f32(grad),
    ) {
        let gw = super::lanes_weight::conv_bwd_weight(isa, x, gy, d, g);
        return T::from_f32(gw).expect("f32 in, f32 out");
    }
    if super::channels_last::applies(d, g) {
        return super::channels_last::conv_bwd_weight(x, grad, d, g);
    }
    match super::stacked::samples_per_gemm(d) {
        1 => conv_bwd_weight_im2col(x, grad, d, g),
        s => super::stacked::conv_bwd_weight(x, grad, d, g, s),
    }
}

/// [`conv_bwd_weight`] by im2col + GEMM.
pub(crate) fn conv_bwd_weight_im2col<T: Float>(
    x: &[T],
    grad: &[T],
    d: &Dims,
    g: &ConvGeom,
) -> Vec<T> {
    let (kg, l) = (d.kg(g), d.l());
    let mg = d.cout / g.groups;
    let pointwise = d.is_pointwise(g);
    let in_len = d.cin * d.h * d.w;
    let w_len = d.cout * kg;
    let accumulate = |acc: &mut Vec<T>, cols: &mut Vec<T>, i: usize, par: bool| {
        let x_n = &x[i * in_len..(i + 1) * in_len];
        let g_n = &grad[i * d.cout * l..(i + 1) * d.cout * l];
        let cols: &[T] = if pointwise {
            x_n
        } else {
            cols.resize(d.cin * d.kh * d.kw * l, T::default());
            im2col(x_n, cols, l, d, g);
            cols
        };
        for gi in 0..g.groups {
            gemm(
                mg,
                kg,
                l,
                &mut acc[gi * mg * kg..(gi + 1) * mg * kg],
                true,
                Mat::rows(&g_n[gi * mg * l..], l),
                Mat::rows_t(&cols[gi * kg * l..], l),
                par,
            );
        }
    };
    let chunk_sum = |c: usize, par: bool| {
        let mut acc = vec![T::default(); w_len];
        let mut cols = Vec::new();
        for i in c * SUM_CHUNK..((c + 1) * SUM_CHUNK).min(d.n) {
            accumulate(&mut acc, &mut cols, i, par);
        }
        acc
    };
    batch_sum(d.n, SUM_CHUNK, w_len, chunk_sum)
}

/// `Σ_{n, y, x} grad[n, c, y, x]` for `grad [n, c, l]`, channels in parallel.
pub(crate) fn channel_sum<T: Float>(grad: &[T], n: usize, c: usize, l: usize) -> Vec<T> {
    (0..c)
        .into_par_iter()
        .map(|o| {
            (0..n).fold(T::default(), |acc, i| {
                let start = (i * c + o) * l;
                acc + crate::kernel::sum(&grad[start..start + l])
            })
        })
        .collect()
}
