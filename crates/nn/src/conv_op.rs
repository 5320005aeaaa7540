//! 2-D convolution and transposed convolution as candle custom ops with their own
//! backward: im2col + GEMM (the `gemm` crate candle itself uses), parallel over the
//! batch with rayon.
//!
//! candle's conv2d backward fails on strides that leave different remainders in H and W
//! and its conv_transpose has no backward; these ops compute, in one place each:
//!
//! - forward: `out[n, g] = W[g] · im2col(x[n, g]) (+ bias)`;
//! - grad input: `col2im(W[g]ᵀ · grad[n, g])`;
//! - grad weight: `Σₙ grad[n, g] · im2col(x[n, g])ᵀ`;
//! - grad bias: `Σ_{n, y, x} grad[n, o, y, x]`.
//!
//! The transposed convolution is the same three kernels with the roles swapped (its
//! forward is the convolution's grad input). On devices other than the CPU, or for
//! dtypes other than f32/f64, [`conv2d`] and [`conv_transpose2d`] are compositions of
//! candle ops with checked gradients (im2col by `index_select` and a matmul, col2im by
//! `index_add`), so they run on the device itself.

use crate::index_cache::indices;
use crate::kernel::{assume_init, gemm, gemm_uninit, with_floats, Float, Mat};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::mem::MaybeUninit;
use wick_tensor::device_path::cpu_kernel;

/// Geometry of a 2-D convolution: stride, zero padding (possibly different on each
/// side), dilation and groups, each per dimension `(H, W)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    /// `(sH, sW)`.
    pub stride: (usize, usize),
    /// Zero padding `(top, bottom)`.
    pub pad_h: (usize, usize),
    /// Zero padding `(left, right)`.
    pub pad_w: (usize, usize),
    /// `(dH, dW)`.
    pub dilation: (usize, usize),
    /// Channel groups.
    pub groups: usize,
}

impl ConvGeom {
    /// A geometry with the same padding on both sides.
    pub fn symmetric(
        stride: (usize, usize),
        padding: (usize, usize),
        dilation: (usize, usize),
        groups: usize,
    ) -> Self {
        Self {
            stride,
            pad_h: (padding.0, padding.0),
            pad_w: (padding.1, padding.1),
            dilation,
            groups,
        }
    }

    /// Output length of a convolution along one dimension:
    /// `⌊(n + p₀ + p₁ − d·(k−1) − 1) / s⌋ + 1`, `None` when the kernel does not fit.
    pub fn conv_len(n: usize, k: usize, s: usize, p: (usize, usize), d: usize) -> Option<usize> {
        let padded = n.checked_add(p.0)?.checked_add(p.1)?;
        let span = padded.checked_sub(d.checked_mul(k.checked_sub(1)?)?.checked_add(1)?)?;
        Some(span / s.max(1) + 1)
    }

    /// `(H_out, W_out)` of a convolution of an `h × w` input with a `kh × kw` kernel.
    pub fn conv_hw(&self, h: usize, w: usize, kh: usize, kw: usize) -> Option<(usize, usize)> {
        Some((
            Self::conv_len(h, kh, self.stride.0, self.pad_h, self.dilation.0)?,
            Self::conv_len(w, kw, self.stride.1, self.pad_w, self.dilation.1)?,
        ))
    }
}

/// Sizes of one convolution, in the convolution's own terms: input `[n, cin, h, w]`,
/// weight `[cout, cin/groups, kh, kw]`, output `[n, cout, oh, ow]`.
#[derive(Debug, Clone, Copy)]
struct Dims {
    n: usize,
    cin: usize,
    h: usize,
    w: usize,
    cout: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
}

impl Dims {
    /// Rows of one group's im2col matrix: `cin/groups · kh · kw`.
    fn kg(&self, g: &ConvGeom) -> usize {
        self.cin / g.groups * self.kh * self.kw
    }
    fn l(&self) -> usize {
        self.oh * self.ow
    }
    /// Whether im2col is the identity (1×1 kernel, stride 1, no padding).
    fn is_pointwise(&self, g: &ConvGeom) -> bool {
        self.kh == 1 && self.kw == 1 && g.stride == (1, 1) && g.pad_h == (0, 0) && g.pad_w == (0, 0)
    }
}

/// Range of output positions `o` in `0..out` whose input position `o·s + off − p` lies
/// in `0..n`.
fn valid_range(out: usize, n: usize, s: usize, off: usize, p: usize) -> (usize, usize) {
    // o·s ≥ p − off
    let lo = if p > off { (p - off).div_ceil(s) } else { 0 };
    // o·s < n + p − off
    let hi = if n + p > off {
        (n + p - off).div_ceil(s)
    } else {
        0
    };
    (lo.min(out), hi.min(out).max(lo.min(out)))
}

/// Unfolds one sample `x [cin, h, w]` into `cols [cin·kh·kw, oh·ow]`.
fn im2col<T: Float>(x: &[T], cols: &mut [T], d: &Dims, g: &ConvGeom) {
    let (h, w, oh, ow) = (d.h, d.w, d.oh, d.ow);
    let l = oh * ow;
    let zero = T::default();
    for c in 0..d.cin {
        let plane = &x[c * h * w..(c + 1) * h * w];
        for ky in 0..d.kh {
            let (y_lo, y_hi) = valid_range(oh, h, g.stride.0, ky * g.dilation.0, g.pad_h.0);
            for kx in 0..d.kw {
                let row = (c * d.kh + ky) * d.kw + kx;
                let dst = &mut cols[row * l..(row + 1) * l];
                let off = kx * g.dilation.1;
                let (x_lo, x_hi) = valid_range(ow, w, g.stride.1, off, g.pad_w.0);
                dst[..y_lo * ow].fill(zero);
                dst[y_hi * ow..].fill(zero);
                for oy in y_lo..y_hi {
                    let iy = oy * g.stride.0 + ky * g.dilation.0 - g.pad_h.0;
                    let src = &plane[iy * w..(iy + 1) * w];
                    let seg = &mut dst[oy * ow..(oy + 1) * ow];
                    seg[..x_lo].fill(zero);
                    seg[x_hi..].fill(zero);
                    if x_hi > x_lo {
                        let ix0 = x_lo * g.stride.1 + off - g.pad_w.0;
                        if g.stride.1 == 1 {
                            seg[x_lo..x_hi].copy_from_slice(&src[ix0..ix0 + (x_hi - x_lo)]);
                        } else {
                            for (j, v) in seg[x_lo..x_hi].iter_mut().enumerate() {
                                *v = src[ix0 + j * g.stride.1];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Folds `cols [cin·kh·kw, oh·ow]` back into one sample `x [cin, h, w]`, summing
/// overlaps: the adjoint of [`im2col`]. `x` must hold zeros.
fn col2im<T: Float>(cols: &[T], x: &mut [T], d: &Dims, g: &ConvGeom) {
    let (h, w, oh, ow) = (d.h, d.w, d.oh, d.ow);
    let l = oh * ow;
    for c in 0..d.cin {
        let plane = &mut x[c * h * w..(c + 1) * h * w];
        for ky in 0..d.kh {
            let (y_lo, y_hi) = valid_range(oh, h, g.stride.0, ky * g.dilation.0, g.pad_h.0);
            for kx in 0..d.kw {
                let row = (c * d.kh + ky) * d.kw + kx;
                let src = &cols[row * l..(row + 1) * l];
                let off = kx * g.dilation.1;
                let (x_lo, x_hi) = valid_range(ow, w, g.stride.1, off, g.pad_w.0);
                if x_hi <= x_lo {
                    continue;
                }
                for oy in y_lo..y_hi {
                    let iy = oy * g.stride.0 + ky * g.dilation.0 - g.pad_h.0;
                    let dst = &mut plane[iy * w..(iy + 1) * w];
                    let seg = &src[oy * ow + x_lo..oy * ow + x_hi];
                    let ix0 = x_lo * g.stride.1 + off - g.pad_w.0;
                    if g.stride.1 == 1 {
                        for (a, &b) in dst[ix0..ix0 + seg.len()].iter_mut().zip(seg) {
                            *a += b;
                        }
                    } else {
                        for (j, &b) in seg.iter().enumerate() {
                            dst[ix0 + j * g.stride.1] += b;
                        }
                    }
                }
            }
        }
    }
}

/// Whether to split the batch across threads (else the GEMMs use the threads).
fn batch_parallel(n: usize) -> bool {
    n >= rayon::current_num_threads()
}

/// Samples per rayon task: about four tasks per thread, so that the im2col buffer (one
/// per task) is allocated a few times per call rather than once per sample, while a
/// descheduled thread still leaves work to steal.
fn min_samples_per_task(n: usize) -> usize {
    (n / (4 * rayon::current_num_threads()).max(1)).max(1)
}

/// The geometry of the direct kernels ([`crate::conv_direct`]) for this convolution,
/// when they apply: a CPU with AVX-512, stride 1, dilation 1, one group, padding below
/// the kernel size on every side (the input gradient pads by `k − 1 − p`), a batch that
/// fills the threads, and enough work per output position: at least [`DIRECT_TAPS`]
/// taps (`channels in · kH · kW` of the correlation) and [`DIRECT_CHANNELS`] output
/// channels (`transposed`: the input gradient's, whose taps are the output channels).
///
/// Measured on the W2 shapes (batch 64, 3×3, padding 1, 2 threads, AVX-512): 32 → 64
/// on 14×14, forward 1.27 ms direct vs 1.81 ms im2col, input gradient 1.26 vs 1.67 ms;
/// 1 → 32 on 28×28 (9 taps; its input gradient has one output channel), forward 0.18
/// vs 0.13 ms, input gradient 0.37 vs 0.13 ms, so those stay on im2col.
#[cfg(target_arch = "x86_64")]
fn direct(d: &Dims, g: &ConvGeom, transposed: bool) -> Option<crate::conv_direct::Geometry> {
    let (taps, channels) = if transposed {
        (d.cout * d.kh * d.kw, d.cin)
    } else {
        (d.cin * d.kh * d.kw, d.cout)
    };
    let worth = taps >= DIRECT_TAPS && channels >= DIRECT_CHANNELS && batch_parallel(d.n);
    direct_fits(d, g).filter(|_| worth)
}

/// The direct kernels' geometry when they can compute this convolution (whether or not
/// they are the faster way): AVX-512, stride 1, dilation 1, one group, padding below the
/// kernel size.
#[cfg(target_arch = "x86_64")]
fn direct_fits(d: &Dims, g: &ConvGeom) -> Option<crate::conv_direct::Geometry> {
    let fits = g.stride == (1, 1)
        && g.dilation == (1, 1)
        && g.groups == 1
        && g.pad_h.0 < d.kh
        && g.pad_h.1 < d.kh
        && g.pad_w.0 < d.kw
        && g.pad_w.1 < d.kw
        && crate::conv_direct::available();
    fits.then_some(crate::conv_direct::Geometry {
        n: d.n,
        cin: d.cin,
        h: d.h,
        w: d.w,
        cout: d.cout,
        kh: d.kh,
        kw: d.kw,
        pad: (g.pad_h.0, g.pad_h.1, g.pad_w.0, g.pad_w.1),
    })
}

/// [`conv_fwd`] by the direct kernel, for `dg` from [`direct_fits`].
#[cfg(target_arch = "x86_64")]
fn conv_fwd_direct(
    x: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    d: &Dims,
    dg: &crate::conv_direct::Geometry,
    relu: bool,
) -> Vec<f32> {
    use crate::conv_direct::{correlate, taps_major};
    correlate(
        x,
        dg,
        &taps_major(wt, d.cout, d.cin * d.kh * d.kw),
        bias,
        relu,
    )
}

/// [`conv_bwd_data`] by the direct kernel, for `dg` from [`direct_fits`]: the
/// correlation of the gradient padded by `k − 1 − p` with the flipped kernel.
#[cfg(target_arch = "x86_64")]
fn conv_bwd_data_direct(
    grad: &[f32],
    wt: &[f32],
    d: &Dims,
    dg: &crate::conv_direct::Geometry,
) -> Vec<f32> {
    use crate::conv_direct::{correlate, flipped_taps_major, Geometry};
    let back = Geometry {
        n: d.n,
        cin: d.cout,
        h: d.oh,
        w: d.ow,
        cout: d.cin,
        kh: d.kh,
        kw: d.kw,
        pad: (
            d.kh - 1 - dg.pad.0,
            d.kh - 1 - dg.pad.1,
            d.kw - 1 - dg.pad.2,
            d.kw - 1 - dg.pad.3,
        ),
    };
    let wt = flipped_taps_major(wt, d.cout, d.cin, d.kh, d.kw);
    correlate(grad, &back, &wt, None, false)
}

/// Fewest taps per output position for the direct kernels (see [`direct`]).
#[cfg(target_arch = "x86_64")]
const DIRECT_TAPS: usize = 32;
/// Fewest output channels for the direct kernels (their register tile has 4).
#[cfg(target_arch = "x86_64")]
const DIRECT_CHANNELS: usize = 8;

/// Convolution forward: `out [n, cout, oh, ow]` from `x [n, cin, h, w]`, `wt` and an
/// optional `bias [cout]`, then `max(·, 0)` when `relu`: the direct kernel on f32 where
/// it applies, else im2col + GEMM.
fn conv_fwd<T: Float>(
    x: &[T],
    wt: &[T],
    bias: Option<&[T]>,
    d: &Dims,
    g: &ConvGeom,
    relu: bool,
) -> Vec<T> {
    #[cfg(target_arch = "x86_64")]
    if let (Some(dg), Some(x), Some(w)) = (direct(d, g, false), T::as_f32(x), T::as_f32(wt)) {
        let y = conv_fwd_direct(x, w, bias.and_then(T::as_f32), d, &dg, relu);
        return T::from_f32(y).expect("f32 in, f32 out");
    }
    let mut y = conv_fwd_im2col(x, wt, bias, d, g);
    if relu {
        crate::kernel::relu_inplace(&mut y);
    }
    y
}

/// [`conv_fwd`] by im2col + GEMM, without the ReLU.
fn conv_fwd_im2col<T: Float>(
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
            im2col(x_n, cols, d, g);
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
fn conv_bwd_data<T: Float>(grad: &[T], wt: &[T], d: &Dims, g: &ConvGeom) -> Vec<T> {
    #[cfg(target_arch = "x86_64")]
    if let (Some(dg), Some(gy), Some(w)) = (direct(d, g, true), T::as_f32(grad), T::as_f32(wt)) {
        let gx = conv_bwd_data_direct(gy, w, d, &dg);
        return T::from_f32(gx).expect("f32 in, f32 out");
    }
    conv_bwd_data_im2col(grad, wt, d, g)
}

/// [`conv_bwd_data`] by GEMM + col2im.
fn conv_bwd_data_im2col<T: Float>(grad: &[T], wt: &[T], d: &Dims, g: &ConvGeom) -> Vec<T> {
    let (kg, l) = (d.kg(g), d.l());
    let mg = d.cout / g.groups;
    let pointwise = d.is_pointwise(g);
    let in_len = d.cin * d.h * d.w;
    let mut gx = vec![T::default(); d.n * in_len];
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
            col2im(cols, gx_n, d, g);
        }
    };
    if batch_parallel(d.n) {
        gx.par_chunks_mut(in_len)
            .with_min_len(min_samples_per_task(d.n))
            .enumerate()
            .for_each_init(Vec::new, |cols, (i, gx_n)| sample(cols, i, gx_n, false));
    } else {
        let mut cols = Vec::new();
        for (i, gx_n) in gx.chunks_mut(in_len).enumerate() {
            sample(&mut cols, i, gx_n, true);
        }
    }
    gx
}

/// Convolution grad weight: `gw [cout, cin/groups, kh, kw] = Σₙ grad[n] · im2col(x[n])ᵀ`.
///
/// (A direct AVX-512 kernel for this one, over the flat padded planes as in
/// [`crate::conv_direct`] with the sums across lanes at the end, ran slower than
/// im2col + GEMM: 2.6–3.0 ms vs 1.75–1.85 ms for the W2 convolution 32 → 64 at batch
/// 64, in several register tilings.)
fn conv_bwd_weight<T: Float>(x: &[T], grad: &[T], d: &Dims, g: &ConvGeom) -> Vec<T> {
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
            im2col(x_n, cols, d, g);
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
    // Partial sums over fixed chunks of the batch, added in order: the result does not
    // depend on the thread count or on scheduling.
    const CHUNK: usize = 8;
    let chunk_sum = |c: usize, par: bool| {
        let mut acc = vec![T::default(); w_len];
        let mut cols = Vec::new();
        for i in c * CHUNK..((c + 1) * CHUNK).min(d.n) {
            accumulate(&mut acc, &mut cols, i, par);
        }
        acc
    };
    let chunks = d.n.div_ceil(CHUNK);
    let partial: Vec<Vec<T>> = if batch_parallel(chunks) {
        (0..chunks)
            .into_par_iter()
            .map(|c| chunk_sum(c, false))
            .collect()
    } else {
        (0..chunks).map(|c| chunk_sum(c, true)).collect()
    };
    let mut parts = partial.into_iter();
    let mut acc = parts.next().unwrap_or_else(|| vec![T::default(); w_len]);
    for p in parts {
        acc.iter_mut().zip(p).for_each(|(a, b)| *a += b);
    }
    acc
}

/// `Σ_{n, y, x} grad[n, c, y, x]` for `grad [n, c, l]`, channels in parallel.
fn channel_sum<T: Float>(grad: &[T], n: usize, c: usize, l: usize) -> Vec<T> {
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

fn dims4(l: &Layout, what: &str) -> Result<(usize, usize, usize, usize)> {
    match *l.dims() {
        [a, b, c, d] => Ok((a, b, c, d)),
        _ => candle_core::bail!("{what}: expected 4 dimensions, got {:?}", l.dims()),
    }
}

/// The convolution (`transpose == false`) or transposed convolution of `x` with `w`
/// (and a fused bias when applied as a `CustomOp3`).
///
/// For the transposed convolution, `out_hw` is its output size; the weight
/// `[cin, cout/groups, kh, kw]` is read as the weight of the convolution from the
/// output space back to the input space.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvOp {
    geom: ConvGeom,
    transpose: bool,
    out_hw: (usize, usize),
    /// Followed by a fused `ReLU` (forward convolutions only).
    relu: bool,
}

impl ConvOp {
    /// A (forward) convolution, followed by a fused `ReLU` when `relu`.
    pub(crate) fn conv(geom: ConvGeom, relu: bool) -> Self {
        Self {
            geom,
            transpose: false,
            out_hw: (0, 0),
            relu,
        }
    }

    /// The convolution's [`Dims`] from the op's input and weight layouts.
    fn dims(&self, lx: &Layout, lw: &Layout) -> Result<Dims> {
        let (n, c, h, w) = dims4(lx, "conv input")?;
        let (a, b, kh, kw) = dims4(lw, "conv weight")?;
        if [c, h, w, a, b, kh, kw].contains(&0) {
            candle_core::bail!(
                "conv2d: empty input {:?} or weight {:?}",
                lx.dims(),
                lw.dims()
            )
        }
        let g = self.geom.groups;
        if self.transpose {
            // conv from y [n, b·g, oh, ow] to x [n, c, h, w]
            if a != c || g == 0 || !c.is_multiple_of(g) {
                candle_core::bail!(
                    "conv_transpose2d: weight {:?} does not fit input {:?} with groups {g}",
                    lw.dims(),
                    lx.dims()
                )
            }
            let (oh, ow) = self.out_hw;
            let d = Dims {
                n,
                cin: b * g,
                h: oh,
                w: ow,
                cout: c,
                kh,
                kw,
                oh: h,
                ow: w,
            };
            // output_padding ≥ stride (allowed when < dilation) leaves output rows that
            // no input window reaches: the convolution then has more outputs than h.
            match self.geom.conv_hw(oh, ow, kh, kw) {
                Some((a, b)) if a >= h && b >= w => Ok(d),
                _ => candle_core::bail!(
                    "conv_transpose2d: output size {oh}x{ow} does not match input {h}x{w}"
                ),
            }
        } else {
            if g == 0 || b * g != c || !a.is_multiple_of(g) {
                candle_core::bail!(
                    "conv2d: weight {:?} does not fit input {:?} with groups {g}",
                    lw.dims(),
                    lx.dims()
                )
            }
            let Some((oh, ow)) = self.geom.conv_hw(h, w, kh, kw) else {
                candle_core::bail!("conv2d: kernel {kh}x{kw} does not fit input {h}x{w}")
            };
            Ok(Dims {
                n,
                cin: c,
                h,
                w,
                cout: a,
                kh,
                kw,
                oh,
                ow,
            })
        }
    }

    fn out_shape(&self, d: &Dims) -> Shape {
        if self.transpose {
            Shape::from((d.n, d.cin, d.h, d.w))
        } else {
            Shape::from((d.n, d.cout, d.oh, d.ow))
        }
    }

    pub(crate) fn forward(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        bias: Option<(&CpuStorage, &Layout)>,
    ) -> Result<(CpuStorage, Shape)> {
        let d = self.dims(l1, l2)?;
        let g = self.geom;
        let op = "conv2d";
        let out = match bias {
            None if self.transpose => {
                with_floats!(op, [(s1, l1) => x, (s2, l2) => w], conv_bwd_data(x, w, &d, &g))
            }
            None => with_floats!(op, [(s1, l1) => x, (s2, l2) => w], {
                conv_fwd(x, w, None, &d, &g, self.relu)
            }),
            Some((s3, l3)) if self.transpose => {
                with_floats!(op, [(s1, l1) => x, (s2, l2) => w, (s3, l3) => b], {
                    let mut y = conv_bwd_data(x, w, &d, &g);
                    let l = d.h * d.w;
                    for (i, plane) in y.chunks_mut(l).enumerate() {
                        let bv = b[i % d.cin];
                        plane.iter_mut().for_each(|v| *v += bv);
                    }
                    y
                })
            }
            Some((s3, l3)) => with_floats!(
                op,
                [(s1, l1) => x, (s2, l2) => w, (s3, l3) => b],
                conv_fwd(x, w, Some(b), &d, &g, self.relu)
            ),
        };
        Ok((out, self.out_shape(&d)))
    }

    /// The gradient of the convolution's own output: `grad` through the fused ReLU.
    fn through_relu(&self, res: &Tensor, grad: &Tensor) -> Result<Tensor> {
        if self.relu {
            grad.contiguous()?
                .apply_op2_no_bwd(res, &crate::kernel::ReluMask)
        } else {
            Ok(grad.clone())
        }
    }

    /// Gradients of input and weight (each only when `want_*`), for `grad` of the
    /// output.
    pub(crate) fn backward(
        &self,
        x: &Tensor,
        w: &Tensor,
        grad: &Tensor,
        want_x: bool,
        want_w: bool,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let gx = if want_x {
            Some(grad.apply_op2_no_bwd(
                w,
                &ConvGradOp {
                    op: *self,
                    what: GradWhat::Input,
                    x_dims: x.dims4()?,
                },
            )?)
        } else {
            None
        };
        let gw = if want_w {
            Some(x.apply_op2_no_bwd(
                &grad,
                &ConvGradOp {
                    op: *self,
                    what: GradWhat::Weight(w.dims4()?),
                    x_dims: x.dims4()?,
                },
            )?)
        } else {
            None
        };
        Ok((gx, gw))
    }
}

impl ConvOp {
    /// Gradients of input, weight and bias (each only when it is tracked) for `grad` of
    /// the convolution's own output.
    pub(crate) fn backward_with_bias(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (gx, gw) = self.backward(x, w, grad, x.track_op(), w.track_op())?;
        let gb = if b.track_op() {
            Some(bias_grad(grad)?)
        } else {
            None
        };
        Ok((gx, gw, gb))
    }
}

impl CustomOp2 for ConvOp {
    fn name(&self) -> &'static str {
        "wick-conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.forward(s1, l1, s2, l2, None)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = self.through_relu(res, grad)?;
        self.backward(x, w, &grad, x.track_op(), w.track_op())
    }
}

impl CustomOp3 for ConvOp {
    fn name(&self) -> &'static str {
        "wick-conv2d-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.forward(s1, l1, s2, l2, Some((s3, l3)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        self.backward_with_bias(x, w, b, &self.through_relu(res, grad)?)
    }
}

#[derive(Debug, Clone, Copy)]
enum GradWhat {
    /// Grad of the op's input; applied to `(grad, weight)`.
    Input,
    /// Grad of the op's weight (of these dims); applied to `(x, grad)`.
    Weight((usize, usize, usize, usize)),
}

/// One gradient of a [`ConvOp`], as an op without backward.
struct ConvGradOp {
    op: ConvOp,
    what: GradWhat,
    x_dims: (usize, usize, usize, usize),
}

impl CustomOp2 for ConvGradOp {
    fn name(&self) -> &'static str {
        "wick-conv2d-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = self.x_dims;
        let x_layout = Layout::contiguous((n, c, h, w));
        let g = self.op.geom;
        let op = "conv2d backward";
        match (self.what, self.op.transpose) {
            (GradWhat::Input, false) => {
                // (grad, weight) → grad of x: the adjoint of the forward
                let d = self.op.dims(&x_layout, l2)?;
                let out = with_floats!(op, [(s1, l1) => gy, (s2, l2) => wt],
                    conv_bwd_data(gy, wt, &d, &g));
                Ok((out, Shape::from((n, c, h, w))))
            }
            (GradWhat::Input, true) => {
                // grad of a transposed conv's input: the convolution of its grad
                let d = self.op.dims(&x_layout, l2)?;
                let out = with_floats!(op, [(s1, l1) => gy, (s2, l2) => wt],
                    conv_fwd(gy, wt, None, &d, &g, false));
                Ok((out, Shape::from((n, c, h, w))))
            }
            (GradWhat::Weight(wd), false) => {
                let d = self.op.dims(l1, &Layout::contiguous(wd))?;
                let out = with_floats!(op, [(s1, l1) => x, (s2, l2) => gy],
                    conv_bwd_weight(x, gy, &d, &g));
                Ok((out, Shape::from(wd)))
            }
            (GradWhat::Weight(wd), true) => {
                // the convolution's "input" is the transposed conv's output (its grad),
                // its "output" the transposed conv's input
                let d = self.op.dims(l1, &Layout::contiguous(wd))?;
                let out = with_floats!(op, [(s1, l1) => x, (s2, l2) => gy],
                    conv_bwd_weight(gy, x, &d, &g));
                Ok((out, Shape::from(wd)))
            }
        }
    }
}

/// The bias gradient of a convolution: the per-channel sum of its output gradient
/// `[N, C, …]`, as `[C]`.
fn bias_grad(grad: &Tensor) -> Result<Tensor> {
    grad.contiguous()?.apply_op1_no_bwd(&ChannelSum)
}

/// Per-channel sum of a `[N, C, …]` tensor, as `[C]`.
struct ChannelSum;

impl CustomOp1 for ChannelSum {
    fn name(&self) -> &'static str {
        "wick-channel-sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = l.dims();
        if dims.len() < 2 {
            candle_core::bail!("channel sum: expected [N, C, ...], got {dims:?}")
        }
        let (n, c) = (dims[0], dims[1]);
        let rest: usize = dims[2..].iter().product();
        let out = with_floats!("channel sum", [(s, l) => v], channel_sum(v, n, c, rest));
        Ok((out, Shape::from(c)))
    }
}

/// Pads with zeros, `(before, after)` on dimension `dim`, differentiably.
fn zero_pad(x: &Tensor, dim: usize, p: (usize, usize)) -> Result<Tensor> {
    if p == (0, 0) {
        Ok(x.clone())
    } else {
        x.pad_with_zeros(dim, p.0, p.1)
    }
}

/// `F.conv2d(x, weight, bias, stride, padding, dilation, groups)`, with padding given
/// per side, on `[N, C_in, H, W]` and `weight [C_out, C_in/groups, kH, kW]`.
///
/// On the CPU (f32/f64) this is [`ConvOp`]; elsewhere, with the same stride and
/// dilation in H and W, the padded input is cropped to the rows and columns the windows
/// reach and given to candle's conv2d (whose backward fails otherwise), and in the other
/// geometries it is [`conv2d_generic`] (im2col by `index_select`, then a batched
/// matmul). Nothing leaves the device.
pub fn conv2d(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, g: ConvGeom) -> Result<Tensor> {
    conv2d_act(x, weight, bias, g, false)
}

/// [`conv2d`] followed by `F.relu` when `relu`, fused into one op on the CPU (the
/// ReLU as the GEMM's epilogue, its backward as a mask of the output gradient).
pub fn conv2d_act(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    g: ConvGeom,
    relu: bool,
) -> Result<Tensor> {
    if cpu_kernel(x) {
        let op = ConvOp {
            geom: g,
            transpose: false,
            out_hw: (0, 0),
            relu,
        };
        let x = x.contiguous()?;
        let w = weight.contiguous()?;
        return match bias {
            Some(b) => x.apply_op3(&w, &b.contiguous()?, op),
            None => x.apply_op2(&w, op),
        };
    }
    if g.stride.0 != g.stride.1 || g.dilation.0 != g.dilation.1 {
        let y = conv2d_generic(x, weight, bias, g)?;
        return if relu {
            crate::relu_op::relu(&y)
        } else {
            Ok(y)
        };
    }
    let y = conv2d_candle(x, weight, bias, g)?;
    if relu {
        crate::relu_op::relu(&y)
    } else {
        Ok(y)
    }
}

/// Indices `o·s + k·d` for `o < out`, `k < kn`, row-major in `(o, k)`: the padded input
/// positions that output `o` reads with kernel tap `k` (im2col along one dimension).
fn tap_indices(out: usize, kn: usize, s: usize, d: usize) -> Vec<u32> {
    (0..out)
        .flat_map(|o| (0..kn).map(move |k| (o * s + k * d) as u32))
        .collect()
}

/// The same indices ordered `(k, o)`: where tap `k` of input `o` lands in the padded
/// output of a transposed convolution (col2im along one dimension).
fn tap_indices_k_major(input: usize, kn: usize, s: usize, d: usize) -> Vec<u32> {
    (0..kn)
        .flat_map(|k| (0..input).map(move |i| (i * s + k * d) as u32))
        .collect()
}

fn add_bias(y: Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    match bias {
        Some(b) => y.broadcast_add(&b.reshape((1, (), 1, 1))?),
        None => Ok(y),
    }
}

/// The convolution composed from candle ops, for any geometry on any device: zero
/// padding, im2col as two `index_select`s (`[C_in·kH·kW, N·oH·oW]` per group) and one
/// batched matmul with the weight `[groups, C_out/groups, C_in/groups·kH·kW]`. Its
/// gradient is candle's for those ops (`index_add`, matmul, `narrow`), which is
/// checked against the CPU kernel's.
pub(crate) fn conv2d_generic(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    g: ConvGeom,
) -> Result<Tensor> {
    let (n, cin, h, w) = x.dims4()?;
    let (cout, cg, kh, kw) = weight.dims4()?;
    let groups = g.groups;
    if groups == 0 || cg * groups != cin || cout % groups != 0 {
        candle_core::bail!(
            "conv2d: weight {:?} does not fit {cin} input channels in {groups} groups",
            weight.dims()
        )
    }
    let Some((oh, ow)) = g.conv_hw(h, w, kh, kw) else {
        candle_core::bail!("conv2d: kernel {kh}x{kw} does not fit input {h}x{w}")
    };
    let x = zero_pad(&zero_pad(x, 2, g.pad_h)?, 3, g.pad_w)?;
    let dev = x.device().clone();
    let rows = indices(&dev, &tap_indices(oh, kh, g.stride.0, g.dilation.0))?;
    let cols = indices(&dev, &tap_indices(ow, kw, g.stride.1, g.dilation.1))?;
    // [n, cin, oh·kh, ow·kw] → [cin, kh, kw, n, oh, ow] → [groups, cg·kh·kw, n·oh·ow]
    let cols = x
        .index_select(&rows, 2)?
        .index_select(&cols, 3)?
        .reshape((n, cin, oh, kh, ow, kw))?
        .permute((1, 3, 5, 0, 2, 4))?
        .reshape((groups, cg * kh * kw, n * oh * ow))?;
    let wm = weight.reshape((groups, cout / groups, cg * kh * kw))?;
    let y = wm
        .matmul(&cols)?
        .reshape((cout, n, oh, ow))?
        .permute((1, 0, 2, 3))?
        .contiguous()?;
    add_bias(y, bias)
}

/// The transposed convolution composed from candle ops, for any device: per group
/// `Wᵀ · x` (`[C_out/groups·kH·kW, N·H·W]`), then col2im as two `index_add`s into the
/// full output `[(H−1)·s + d·(kH−1) + 1, …]`, cropped by the padding (and extended by
/// `output_padding`) to `out_hw`. Its gradient is candle's for those ops.
pub(crate) fn conv_transpose2d_generic(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    g: ConvGeom,
    out_hw: (usize, usize),
) -> Result<Tensor> {
    let (n, cin, h, w) = x.dims4()?;
    let (wcin, cog, kh, kw) = weight.dims4()?;
    let groups = g.groups;
    if groups == 0 || wcin != cin || cin % groups != 0 {
        candle_core::bail!(
            "conv_transpose2d: weight {:?} does not fit {cin} input channels in {groups} groups",
            weight.dims()
        )
    }
    let cig = cin / groups;
    let cout = cog * groups;
    let full = |n: usize, k: usize, s: usize, d: usize| (n - 1) * s + d * (k - 1) + 1;
    let (fh, fw) = (
        full(h, kh, g.stride.0, g.dilation.0),
        full(w, kw, g.stride.1, g.dilation.1),
    );
    if h == 0 || w == 0 || out_hw.0 == 0 || out_hw.1 == 0 || kh == 0 || kw == 0 {
        candle_core::bail!("conv_transpose2d: empty input {h}x{w} or output {out_hw:?}")
    }
    // [groups, cig, n·h·w] and [groups, cog·kh·kw, cig]
    let xm = x.permute((1, 0, 2, 3))?.reshape((groups, cig, n * h * w))?;
    let wm = weight
        .reshape((groups, cig, cog * kh * kw))?
        .transpose(1, 2)?;
    // [groups, cog, kh, kw, n, h, w] → [n, groups, cog, kh, h, kw, w]
    let cols = wm
        .matmul(&xm)?
        .reshape(vec![groups, cog, kh, kw, n, h, w])?
        .permute(vec![4, 0, 1, 2, 5, 3, 6])?
        .reshape((n, cout, kh * h, kw * w))?;
    let dev = x.device().clone();
    let at_w = indices(&dev, &tap_indices_k_major(w, kw, g.stride.1, g.dilation.1))?;
    let at_h = indices(&dev, &tap_indices_k_major(h, kh, g.stride.0, g.dilation.0))?;
    let dt = x.dtype();
    let y = Tensor::zeros((n, cout, kh * h, fw), dt, &dev)?.index_add(&at_w, &cols, 3)?;
    let y = Tensor::zeros((n, cout, fh, fw), dt, &dev)?.index_add(&at_h, &y, 2)?;
    // crop the padding; output_padding adds zero rows/columns at the end
    let crop = |y: Tensor, dim: usize, f: usize, p0: usize, out: usize| -> Result<Tensor> {
        let y = y.pad_with_zeros(dim, 0, (p0 + out).saturating_sub(f))?;
        y.narrow(dim, p0, out)
    };
    let y = crop(y, 2, fh, g.pad_h.0, out_hw.0)?;
    let y = crop(y, 3, fw, g.pad_w.0, out_hw.1)?;
    add_bias(y, bias)
}

/// The convolution as a composition of candle ops, for devices without a wick kernel:
/// zero padding, a crop to the rows and columns the windows reach (candle's conv2d
/// backward fails on strides that leave a remainder otherwise) and candle's conv2d.
/// Needs the same stride and dilation in H and W.
fn conv2d_candle(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    g: ConvGeom,
) -> Result<Tensor> {
    let (_, _, kh, kw) = weight.dims4()?;
    let (_, _, h, w) = x.dims4()?;
    let (s, d) = (g.stride.0, g.dilation.0);
    let Some((oh, ow)) = g.conv_hw(h, w, kh, kw) else {
        candle_core::bail!("conv2d: kernel {kh}x{kw} does not fit input {h}x{w}")
    };
    let x = zero_pad(&zero_pad(x, 2, g.pad_h)?, 3, g.pad_w)?;
    let y = x
        .narrow(2, 0, (oh - 1) * s + d * (kh - 1) + 1)?
        .narrow(3, 0, (ow - 1) * s + d * (kw - 1) + 1)?
        .conv2d(weight, 0, s, d, g.groups)?;
    match bias {
        Some(b) => y.broadcast_add(&b.reshape((1, (), 1, 1))?),
        None => Ok(y),
    }
}

/// `F.conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups,
/// dilation)` on `[N, C_in, H, W]` with `weight [C_in, C_out/groups, kH, kW]`, whose
/// output size `(H_out, W_out)` the caller computes (it depends on `output_padding`).
///
/// On the CPU (f32/f64) this is [`ConvOp`] in transpose mode; elsewhere it is
/// [`conv_transpose2d_generic`] (candle's conv_transpose2d has no backward).
pub fn conv_transpose2d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    g: ConvGeom,
    out_hw: (usize, usize),
) -> Result<Tensor> {
    if cpu_kernel(x) {
        let op = ConvOp {
            geom: g,
            transpose: true,
            out_hw,
            relu: false,
        };
        let x = x.contiguous()?;
        let w = weight.contiguous()?;
        return match bias {
            Some(b) => x.apply_op3(&w, &b.contiguous()?, op),
            None => x.apply_op2(&w, op),
        };
    }
    conv_transpose2d_generic(x, weight, bias, g, out_hw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
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

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn direct_kernels_equal_im2col() {
        if !crate::conv_direct::available() {
            eprintln!("skipped: this CPU has no AVX-512");
            return;
        }
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
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            for (i, &(n, cin, cout, (h, w), (kh, kw), ph, pw)) in cases.iter().enumerate() {
                let g = geom((1, 1), ph, pw, (1, 1), 1);
                let (oh, ow) = g.conv_hw(h, w, kh, kw).unwrap();
                let d = Dims {
                    n,
                    cin,
                    h,
                    w,
                    cout,
                    kh,
                    kw,
                    oh,
                    ow,
                };
                let dg = direct_fits(&d, &g).expect("the direct kernels fit");
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

    /// The W2 CNN's convolutions take the kernels measured fastest for them: the direct
    /// ones for 32 → 64 (both passes), im2col for 1 → 32 (9 taps; one input channel).
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn direct_kernels_where_they_are_faster() {
        if !crate::conv_direct::available() {
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
                assert!(direct(&conv1, &g, false).is_none() && direct(&conv1, &g, true).is_none());
                let strided = geom((2, 2), (1, 1), (1, 1), (1, 1), 1);
                assert!(direct(&conv2, &strided, false).is_none());
            });
    }

    /// A NaN or ∞ in the input (or the output gradient) reaches the outputs (input
    /// gradients) its windows reach, and no others: the direct kernels' dropped lanes,
    /// which read the next row, stay out of the results.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn direct_kernels_keep_nan_where_im2col_does() {
        if !crate::conv_direct::available() {
            eprintln!("skipped: this CPU has no AVX-512");
            return;
        }
        let (n, cin, cout, h, w) = (2, 2, 3, 5, 6);
        let g = geom((1, 1), (1, 1), (0, 0), (1, 1), 1);
        let (oh, ow) = g.conv_hw(h, w, 3, 3).unwrap();
        let d = Dims {
            n,
            cin,
            h,
            w,
            cout,
            kh: 3,
            kw: 3,
            oh,
            ow,
        };
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
                let dg = direct_fits(&d, &g).unwrap();
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
}
