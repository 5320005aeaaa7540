//! The forward convolution and its input gradient with output channels as the vector
//! lanes (AVX-512, or AVX2 with FMA: [`super::isa`]), for convolutions with many input
//! channels (ResNet's 64- to 512-channel layers), where [`super::simd`]'s kernel (flat
//! positions as the lanes) outgrows the L1 cache and im2col + GEMM packs a large weight
//! matrix for every sample.
//!
//! A register tile ([`super::lanes_tile`]) holds 2 blocks of 16 output channels × 7
//! consecutive positions of one output row (14 accumulators; on AVX2 each half in
//! turn): each tap `(c, ky, kx)` is two vector loads of the re-laid weights `wb[ob][c][ky·kW + kx][0..32]` and 7 broadcasts of the input scalars
//! `xp[c, y·sH + ky, x·sW + kx]` read from the zero-padded sample (any stride costs the
//! same), so no lane is wasted on 7×7 or 14×14 planes (as oneDNN's AVX-512 kernels lay
//! their vectors). The input channels run in blocks of [`CB`], whose weights
//! (`CB·kH·kW·32` values, 37 KB for 3×3) stay in the L1 cache while the tile sweeps
//! every row of a chunk of the thread's samples (their padded planes in the L2 cache);
//! the partial sums wait in a channels-last buffer between blocks. The result is
//! transposed into NCHW at the end, with the bias and the ReLU.
//!
//! The input gradient of a stride-1 convolution is the same kernel run on the output
//! gradient with the weights transposed (`cin` and `cout` swapped) and each kernel
//! rotated 180°, padded by `k − 1 − p`; the relayout reads them so from the forward
//! weights.

use super::geometry::{stride1_transposed, ConvGeom, Dims};
use super::isa::Isa;
use super::lanes_tile::Tile;
use crate::kernel::{assume_init, written};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Output channels per tile (two vectors).
pub(super) const BW: usize = 32;
/// Positions per tile.
pub(super) const UR: usize = 7;
/// Input channels per weight block.
const CB: usize = 32;
/// Bytes of padded input planes a thread sweeps with every block of output channels
/// before it moves on to the next samples.
const CHUNK_BYTES: usize = 1536 << 10;
/// Fewest taps `cin·kH·kW` for this kernel: from 64 input channels at 3×3. Measured
/// (forward ms, batch 16, 2 threads, 3 interleaved runs, before → this kernel): 3×3
/// 512 on 7×7 17.5 → 13.4, 256 on 14×14 16.4 → 12.8, 128 → 256 on 14×14 10.2 → 6.5,
/// 128 on 28×28 16.0 → 13.5; at stride 2 (im2col + GEMM → this kernel) 128 → 256 on
/// 28×28 9.7 → 8.1, 256 → 512 on 14×14 9.5 → 9.1. At 576 taps, against the
/// flat-position kernel (forward / input gradient): 64 on 56×56 16.6 → 14.5 / 16.3 →
/// 14.3, 64 on 14×14 at batch 128 9.1 → 7.7 / 8.9 → 7.6, 64 → 128 on 28×28 at batch 32
/// 16.1 → 14.1 / 14.5 → 13.6, 64 → 128 at stride 2 on 56×56 (forward, im2col + GEMM
/// before) 11.0 → 7.7; at 288 taps it is slower (32 on 28×28 at batch 128 8.5 →
/// 9.6 / 8.1 → 9.1).
pub(super) const MIN_TAPS: usize = 576;

/// [`MIN_TAPS`] on AVX2, where the other way is im2col + GEMM (the flat-position kernel
/// is AVX-512 only): from 32 input channels at 3×3. Measured on an AVX2 Zen 3 (ms,
/// batch 128, 2 threads, 3 interleaved runs, forward / input gradient, im2col + GEMM →
/// this kernel): 64 on 14×14 ≈21 / 19 → 17 / 17; at 288 taps 32 on 28×28 17–20 / 17–19
/// → 15–17 / 15–17, 32 → 64 on 14×14 8–11 / 8–10 → 8–9 / 8.
const MIN_TAPS_AVX2: usize = 288;

/// The fewest taps from which the kernel runs on `isa`.
pub(super) fn min_taps(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 => MIN_TAPS,
        Isa::Avx2 => MIN_TAPS_AVX2,
    }
}

/// The instruction set on which [`conv_fwd`] computes this convolution, if it does:
/// AVX-512 or AVX2 with FMA, for a convolution the kernel [`fits`] with at least
/// [`min_taps`].
pub(super) fn applies(d: &Dims, g: &ConvGeom) -> Option<Isa> {
    let isa = Isa::best()?;
    (fits(d, g) && d.cin * d.kh * d.kw >= min_taps(isa)).then_some(isa)
}

/// Whether the kernel can compute this convolution: any stride, dilation 1, one group,
/// a kernel of more than one tap with padding below its size (the direct forward's
/// geometry), output channels a multiple of 32 and a batch that fills the threads.
pub(super) fn fits(d: &Dims, g: &ConvGeom) -> bool {
    super::simd::geometry_fits(d, g, false).is_some()
        && d.kh * d.kw > 1
        && d.cout.is_multiple_of(BW)
        && d.n >= rayon::current_num_threads()
}

/// Sizes of the padded samples and the tiles.
#[derive(Clone, Copy)]
pub(super) struct Shape {
    pub(super) d: Dims,
    top: usize,
    left: usize,
    pub(super) hp: usize,
    pub(super) wp: usize,
    /// The stride `(sH, sW)`.
    pub(super) stride: (usize, usize),
    /// Output width rounded up to whole tiles.
    owr: usize,
}

impl Shape {
    pub(super) fn new(d: &Dims, g: &ConvGeom) -> Self {
        Self {
            d: *d,
            top: g.pad_h.0,
            left: g.pad_w.0,
            hp: d.h + g.pad_h.0 + g.pad_h.1,
            wp: d.w + g.pad_w.0 + g.pad_w.1,
            stride: g.stride,
            owr: d.ow.div_ceil(UR) * UR,
        }
    }
    pub(super) fn plane(&self) -> usize {
        self.hp * self.wp
    }
    /// Padded length of `ns` samples: their planes, then zeros for the reads of the
    /// last tile past the last plane's last row (at most `owr·sW + kW` values).
    pub(super) fn padded_len(&self, ns: usize) -> usize {
        ns * self.d.cin * self.plane() + self.owr * self.stride.1 + self.d.kw
    }
}

/// The weights of `d` as `[cout/32][cin][kh·kw][32]`, blocks in parallel, from `w
/// [cout, cin, kh, kw]`, or when `flipped` from the forward weights of the convolution
/// whose input gradient `d` is (`w [cin, cout, kh, kw]`, each kernel rotated 180°).
fn relayout(w: &[f32], d: &Dims, flipped: bool) -> Vec<f32> {
    let taps = d.kh * d.kw;
    assert!(w.len() >= d.cout * d.cin * taps);
    if flipped {
        blocked(d, |o, c, k| w[(c * d.cout + o) * taps + taps - 1 - k])
    } else {
        blocked(d, |o, c, k| w[(o * d.cin + c) * taps + k])
    }
}

/// `t[ob][c][k][o] = at(ob·32 + o, c, k)` for the blocks of [`relayout`].
fn blocked(d: &Dims, at: impl Fn(usize, usize, usize) -> f32 + Sync) -> Vec<f32> {
    let taps = d.kh * d.kw;
    let fill = |t: &mut [MaybeUninit<f32>]| {
        t.par_chunks_mut(d.cin * taps * BW)
            .enumerate()
            .for_each(|(ob, dst)| {
                // written in order, read from 32 kernels side by side
                for (c, dst) in dst.chunks_exact_mut(taps * BW).enumerate() {
                    for (k, out) in dst.chunks_exact_mut(BW).enumerate() {
                        for (o, v) in out.iter_mut().enumerate() {
                            v.write(at(ob * BW + o, c, k));
                        }
                    }
                }
            });
    };
    // SAFETY: `cout/32` whole blocks of `cin·taps·32` values, each written in full.
    unsafe { written(d.cout * d.cin * taps, fill) }
}

/// The instruction set on which [`conv_bwd_data`] computes the input gradient of this
/// convolution, if it does: a stride-1 one whose transposed convolution [`applies`]
/// (input channels a multiple of 32, `cout·kH·kW` at least [`min_taps`]). Measured
/// (input-gradient ms, batch 16, 2 threads, 3×3, interleaved runs, GEMM + col2im →
/// this kernel, AVX-512): 512 on 7×7 22.5 → 14.1, 256 on 14×14 20.3 → 12.3, 128 → 256
/// on 14×14 10.2 → 6.4, 128 on 28×28 15.5 → 14.6.
pub(super) fn applies_bwd_data(d: &Dims, g: &ConvGeom) -> Option<Isa> {
    stride1_transposed(d, g).and_then(|(db, gb)| applies(&db, &gb))
}

/// `gx [n, cin, h, w]` from `grad [n, cout, oh, ow]` and the forward weights `wt`, for a
/// stride-1 convolution whose transposed one the kernel [`fits`], on `isa` (which the
/// CPU must run).
pub(super) fn conv_bwd_data(
    isa: Isa,
    grad: &[f32],
    wt: &[f32],
    d: &Dims,
    g: &ConvGeom,
) -> Vec<f32> {
    let (db, gb) = stride1_transposed(d, g).expect("a stride-1 convolution");
    assert!(fits(&db, &gb) && isa.runs());
    correlate(isa, grad, &relayout(wt, &db, true), None, (&db, &gb), false)
}

/// `y [n, cout, oh, ow] = conv(x, wt) (+ bias)`, then `max(·, 0)` when `relu`, for a
/// convolution the kernel [`fits`], on `isa` (which the CPU must run).
pub(super) fn conv_fwd(
    isa: Isa,
    x: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    d: &Dims,
    g: &ConvGeom,
    relu: bool,
) -> Vec<f32> {
    assert!(fits(d, g) && isa.runs());
    correlate(isa, x, &relayout(wt, d, false), bias, (d, g), relu)
}

/// [`conv_fwd`] with the weights re-laid by [`relayout`].
fn correlate(
    isa: Isa,
    x: &[f32],
    wb: &[f32],
    bias: Option<&[f32]>,
    (d, g): (&Dims, &ConvGeom),
    relu: bool,
) -> Vec<f32> {
    assert!(x.len() >= d.n * d.cin * d.h * d.w && bias.is_none_or(|b| b.len() >= d.cout));
    // (the safety of the writes below: whole blocks of 32 channels, at least one input
    // channel)
    assert!(d.cout.is_multiple_of(BW) && d.cin > 0);
    let s = Shape::new(d, g);
    let out_len = d.cout * d.l();
    let per = d.n.div_ceil(rayon::current_num_threads());
    // samples per chunk: their padded planes stay in the L2 cache while every block of
    // output channels sweeps them
    let cs = (CHUNK_BYTES / (d.cin * s.plane() * 4)).clamp(1, per);
    let fill = |y: &mut [MaybeUninit<f32>]| {
        y.par_chunks_mut(per * out_len)
            .enumerate()
            .for_each(|(t, y_t)| {
                let x_t = &x[t * per * d.cin * d.h * d.w..];
                for (j, y_c) in y_t.chunks_mut(cs * out_len).enumerate() {
                    let ns = y_c.len() / out_len;
                    let xp = padded(&x_t[j * cs * d.cin * d.h * d.w..], ns, &s);
                    let mut part = Box::new_uninit_slice(ns * d.oh * s.owr * BW);
                    for ob in 0..d.cout / BW {
                        let wb = &wb[ob * d.cin * d.kh * d.kw * BW..];
                        sweep(isa, &xp, wb, &mut part, (ns, &s));
                        // SAFETY: `sweep` wrote every partial sum (its first input-channel
                        // block writes every tile of every row of every sample).
                        store(unsafe { assume_init(&mut part) }, y_c, ob, bias, relu, &s);
                    }
                }
            });
    };
    // SAFETY: the threads' chunks cover `y`, and `store` writes every channel of each
    // block `ob` of its chunk's samples.
    unsafe { written(d.n * out_len, fill) }
}

/// `ns` samples of `x` zero-padded, then the zero tail.
fn padded(x: &[f32], ns: usize, s: &Shape) -> Vec<f32> {
    let fill = |xp: &mut [MaybeUninit<f32>]| {
        let (planes, tail) = xp.split_at_mut(ns * s.d.cin * s.plane());
        pad_planes(planes, x, s);
        tail.fill(MaybeUninit::new(0.0));
    };
    // SAFETY: `pad_planes` writes every value of the planes, the tail is zeroed.
    unsafe { written(s.padded_len(ns), fill) }
}

/// Writes every value of the padded planes `dst`: the planes of `x` in the middle,
/// zeros around them (panics unless `x` has at least as many planes).
pub(super) fn pad_planes(dst: &mut [MaybeUninit<f32>], x: &[f32], s: &Shape) {
    let (d, plane) = (&s.d, s.plane());
    assert!(dst.len().is_multiple_of(plane) && x.len() / (d.h * d.w) >= dst.len() / plane);
    let zero = MaybeUninit::new(0.0);
    for (dst, src) in dst.chunks_exact_mut(plane).zip(x.chunks_exact(d.h * d.w)) {
        let (top, rest) = dst.split_at_mut(s.top * s.wp);
        let (mid, bottom) = rest.split_at_mut(d.h * s.wp);
        top.fill(zero);
        bottom.fill(zero);
        for (dst, row) in mid.chunks_exact_mut(s.wp).zip(src.chunks_exact(d.w)) {
            let (left, rest) = dst.split_at_mut(s.left);
            let (mid, right) = rest.split_at_mut(d.w);
            left.fill(zero);
            right.fill(zero);
            for (v, &x) in mid.iter_mut().zip(row) {
                v.write(x);
            }
        }
    }
}

/// The partial sums `part [ns][oh][owr][32]` of output block `wb` (its weights), over
/// every input-channel block in turn, on `isa`.
fn sweep(
    isa: Isa,
    xp: &[f32],
    wb: &[f32],
    part: &mut [MaybeUninit<f32>],
    (ns, s): (usize, &Shape),
) {
    let (d, plane, (sh, sw)) = (&s.d, s.plane(), s.stride);
    let taps = d.kh * d.kw;
    assert!(xp.len() >= s.padded_len(ns) && part.len() >= ns * d.oh * s.owr * BW);
    assert!((d.oh - 1) * sh + d.kh <= s.hp && (d.ow - 1) * sw + d.kw <= s.wp);
    assert!(wb.len() >= d.cin * taps * BW);
    for c0 in (0..d.cin).step_by(CB) {
        let cn = CB.min(d.cin - c0);
        for i in 0..ns {
            for y in 0..d.oh {
                for x0 in (0..d.ow).step_by(UR) {
                    let t = Tile {
                        x: xp[(i * d.cin + c0) * plane + y * sh * s.wp + x0 * sw..].as_ptr(),
                        w: wb[c0 * taps * BW..].as_ptr(),
                        out: part[((i * d.oh + y) * s.owr + x0) * BW..]
                            .as_mut_ptr()
                            .cast(),
                        channels: cn,
                        plane,
                        wp: s.wp,
                        sw,
                        kh: d.kh,
                        kw: d.kw,
                    };
                    // SAFETY: the CPU runs `isa` (asserted by the callers). Reads: channels
                    // `c0..c0 + cn` of sample i, rows `y·sH..y·sH + kH` (at most the
                    // last padded row), columns `x0·sW..(x0 + 6)·sW + kW`: past a row's
                    // end they read the next row (dropped outputs), and past the last
                    // plane less than `owr·sW + kW` values, inside the zero tail of
                    // `padded_len`; the weights `cn·taps` rows of 32 from `c0·taps`.
                    // Writes: 7 positions × 32 channels inside `part` (`x0 + 7 ≤ owr`).
                    unsafe { t.run(c0 == 0, isa) };
                }
            }
        }
    }
}

/// Output block `ob` of `y [ns, cout, oh, ow]` from `part` (+ bias, ReLU).
fn store(
    part: &[f32],
    y: &mut [MaybeUninit<f32>],
    ob: usize,
    bias: Option<&[f32]>,
    relu: bool,
    s: &Shape,
) {
    let d = &s.d;
    for (i, y_n) in y.chunks_exact_mut(d.cout * d.l()).enumerate() {
        for o in 0..BW {
            let ch = ob * BW + o;
            let b = bias.map_or(0.0, |b| b[ch]);
            let dst = &mut y_n[ch * d.l()..][..d.l()];
            for (r, row) in dst.chunks_exact_mut(d.ow).enumerate() {
                let src = &part[((i * d.oh + r) * s.owr) * BW + o..];
                for (xx, v) in row.iter_mut().enumerate() {
                    let z = src[xx * BW] + b;
                    // max(0, NaN) is NaN, as PyTorch's ReLU
                    v.write(if relu && z < 0.0 { 0.0 } else { z });
                }
            }
        }
    }
}
