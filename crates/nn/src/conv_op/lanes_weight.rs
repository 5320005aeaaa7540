//! The weight gradient of the convolutions [`super::lanes`] computes forward, with the
//! output channels as the AVX-512 lanes again:
//!
//! `gw[o, c, ky, kx] = Σ_{n, y, x} gy[n, o, y, x] · xp[n, c, y·sH + ky, x·sW + kx]`.
//!
//! A register tile holds 2 blocks of 16 output channels × up to 12 taps `(c, ky, kx)`
//! of one input channel (whole kernel rows; all 9 of a 3×3 kernel). It sweeps every
//! position of a sample: each position is two vector loads of the output gradient laid
//! channels-last (`[n][oh·ow][32]` per block of 32 channels, transposed once a call)
//! and one broadcast of the zero-padded input per tap. The positions are the sum's
//! terms, so no lane is wasted on planes of 7×7 or 14×14, and there is no im2col
//! matrix (on ResNet's 512 channels on 7×7 the im2col path runs at ~190 GFLOP/s).
//!
//! The output-channel blocks (and groups of input channels, where the blocks are fewer
//! than the threads) run in parallel and each sums the batch's samples in order, so the
//! result does not depend on the thread count.

use super::geometry::{ConvGeom, Dims};
use super::isa::Isa;
use super::lanes::{pad_planes, Shape, BW};
use crate::kernel::written;
use rayon::prelude::*;
use std::mem::MaybeUninit;
use std::ops::Range;

/// Most taps in a tile (24 accumulators of the 32 registers).
const MAX_TAPS: usize = 12;

/// Most output positions per plane: on larger planes the GEMMs of
/// [`super::channels_last`] (long sums, both operands read in place) are faster.
/// Measured (weight-gradient ms, batch 16, 2 threads, 3×3, interleaved runs, GEMM →
/// this kernel): 512 on 7×7 18.7 → 15.0, 256 on 14×14 14.3 → 12.8, 128 → 256 on 14×14
/// 7.5 → 6.8, at stride 2 256 → 512 on 14×14 10.5 → 9.1, but 128 on 28×28 14.2 →
/// 15.4.
const MAX_POSITIONS: usize = 256;

/// Fewest taps (`cin·kH·kW`) from which this kernel computes the weight gradients that
/// the channels-last GEMMs cannot (strides above 1): there it replaces im2col + GEMM.
/// Measured (ms, batch 64, 3×3 stride 2 on 28×28, 2 threads, interleaved, im2col →
/// this kernel): 16 → 32 1.52 → 1.21, 16 → 64 1.83 → 1.53; 8 → 32 (72 taps) 0.87 →
/// 0.90, 4 → 32 0.60 → 0.75. Where the channels-last GEMMs apply (stride 1) they stay
/// faster below [`super::lanes`]'s 576 taps (32 → 32 on 14×14: 1.08 against 1.41).
///
/// On AVX2 (an AVX2 Zen 3, same runs) the kernel is used there only: 16 → 32 stride 2
/// 2.1–2.8 → 1.6–2.1 ms; at stride 1 it ties with the channels-last GEMMs (64 on 14×14
/// at batch 128 13–22 ms either way, 256 on 14×14 at batch 16 29–41 → 30–34), which
/// stay.
const MIN_TAPS_STRIDED: usize = 144;

/// The instruction set on which [`conv_bwd_weight`] computes this convolution's weight
/// gradient, if it does: one the kernel [`fits`], with at least 576 taps on AVX-512
/// (where [`super::lanes`] computes the forward) or, on AVX-512 and AVX2, at least
/// [`MIN_TAPS_STRIDED`] where the channels-last GEMMs do not apply.
pub(super) fn applies(d: &Dims, g: &ConvGeom) -> Option<Isa> {
    let isa = Isa::best()?;
    let taps = d.cin * d.kh * d.kw;
    let enough = (isa == Isa::Avx512 && taps >= super::lanes::MIN_TAPS)
        || (taps >= MIN_TAPS_STRIDED && !super::channels_last::applies(d, g));
    (enough && fits(d, g)).then_some(isa)
}

/// Whether the kernel can compute this convolution's weight gradient: any stride,
/// dilation 1, one group, a kernel of more than one tap and at most 12 in a row,
/// padding below the kernel, output channels a multiple of 32, at most
/// [`MAX_POSITIONS`] output positions and a batch that fills the threads.
pub(super) fn fits(d: &Dims, g: &ConvGeom) -> bool {
    super::simd::geometry_fits(d, g, false).is_some()
        && d.kh * d.kw > 1
        && d.kw <= MAX_TAPS
        && d.cout.is_multiple_of(BW)
        && d.l() <= MAX_POSITIONS
        && d.n >= rayon::current_num_threads()
}

/// `gw [cout, cin, kh, kw]` from `x [n, cin, h, w]` and `grad [n, cout, oh, ow]`, for a
/// convolution the kernel [`fits`], on `isa` (which the CPU must run).
pub(super) fn conv_bwd_weight(
    isa: Isa,
    x: &[f32],
    grad: &[f32],
    d: &Dims,
    g: &ConvGeom,
) -> Vec<f32> {
    assert!(fits(d, g) && isa.runs());
    assert!(x.len() >= d.n * d.cin * d.h * d.w && grad.len() >= d.n * d.cout * d.l());
    let s = Shape::new(d, g);
    let sample = d.cin * s.plane();
    let fill = |xp: &mut [MaybeUninit<f32>]| {
        let (planes, tail) = xp.split_at_mut(d.n * sample);
        planes
            .par_chunks_mut(sample)
            .zip(x.par_chunks(d.cin * d.h * d.w))
            .for_each(|(dst, src)| pad_planes(dst, src, &s));
        tail.fill(MaybeUninit::new(0.0));
    };
    // SAFETY: `pad_planes` writes every value of each sample's planes, the tail is
    // zeroed.
    let xp = unsafe { written(s.padded_len(d.n), fill) };
    let taps = d.kh * d.kw;
    let group = channel_group(d);
    let fill = |gwb: &mut [MaybeUninit<f32>]| {
        gwb.par_chunks_mut(d.cin * taps * BW)
            .enumerate()
            .for_each(|(ob, gw)| {
                let gl = channels_last(grad, ob, d);
                gw.par_chunks_mut(group * taps * BW)
                    .enumerate()
                    .for_each(|(k, gw)| {
                        let chans = k * group..(k * group + group).min(d.cin);
                        for i in 0..d.n {
                            let (xs, gs) = (&xp[i * sample..], &gl[i * d.l() * BW..]);
                            sweep(isa, (xs, gs), gw, (i == 0, chans.clone()), &s);
                        }
                    });
            });
    };
    // SAFETY: the first sample's sweep writes every tap of every input channel of each
    // block (`n ≥ 1`: `applies`).
    let gwb = unsafe { written(d.cout * d.cin * taps, fill) };
    unblocked(&gwb, d)
}

/// Input channels per task: all of them where the output-channel blocks alone give
/// every thread two tasks, else fewer, so that a convolution of 32 or 64 output
/// channels runs on every thread too. Each task sums the whole batch in order for its
/// own gradients: the result does not depend on the split.
fn channel_group(d: &Dims) -> usize {
    let blocks = d.cout / BW;
    let parts = (2 * rayon::current_num_threads()).div_ceil(blocks.max(1));
    d.cin.div_ceil(parts.clamp(1, d.cin.max(1)))
}

/// Output channels `ob·32..ob·32 + 32` of `grad [n, cout, l]` as `[n][l][32]`.
fn channels_last(grad: &[f32], ob: usize, d: &Dims) -> Vec<f32> {
    let l = d.l();
    let fill = |gl: &mut [MaybeUninit<f32>]| {
        for (i, dst) in gl.chunks_exact_mut(l * BW).enumerate() {
            let src = &grad[(i * d.cout + ob * BW) * l..][..BW * l];
            for (o, plane) in src.chunks_exact(l).enumerate() {
                for (p, &v) in plane.iter().enumerate() {
                    dst[p * BW + o].write(v);
                }
            }
        }
    };
    // SAFETY: every (sample, position, channel) of the block is written.
    unsafe { written(d.n * l * BW, fill) }
}

/// Bytes of output gradients a band of rows holds (`rows·ow·32` values): they stay in
/// the L1 cache while every tile of the band reads them.
const BAND_BYTES: usize = 24 << 10;

/// One sample's terms added to the block's gradient `gw [chans][kh·kw][32]` of input
/// channels `chans` (written from zero when `first`): `xp` the sample's padded planes,
/// `gl` its output gradient channels-last; in bands of output rows (a band of 14×14:
/// 13 rows of 14 × 32 gradients).
fn sweep(
    isa: Isa,
    (xp, gl): (&[f32], &[f32]),
    gw: &mut [MaybeUninit<f32>],
    (first, chans): (bool, Range<usize>),
    s: &Shape,
) {
    let (d, (sh, sw)) = (&s.d, s.stride);
    let taps = d.kh * d.kw;
    let rows = (MAX_TAPS / d.kw).min(d.kh);
    let band = (BAND_BYTES / (d.ow * BW * 4)).max(1);
    assert!(chans.end <= d.cin && xp.len() >= d.cin * s.plane() && gl.len() >= d.l() * BW);
    assert!((d.oh - 1) * sh + d.kh <= s.hp && (d.ow - 1) * sw + d.kw <= s.wp);
    assert!(gw.len() >= chans.len() * taps * BW && (1..=MAX_TAPS).contains(&(rows * d.kw)));
    for y0 in (0..d.oh).step_by(band) {
        for (j, c) in chans.clone().enumerate() {
            for ky in (0..d.kh).step_by(rows) {
                let t = Tile {
                    x: xp[c * s.plane() + (y0 * sh + ky) * s.wp..].as_ptr(),
                    g: gl[y0 * d.ow * BW..].as_ptr(),
                    out: gw[(j * taps + ky * d.kw) * BW..].as_mut_ptr().cast(),
                    rows: rows.min(d.kh - ky),
                    kw: d.kw,
                    wp: s.wp,
                    stride: (sh, sw),
                    oh: band.min(d.oh - y0),
                    ow: d.ow,
                };
                // SAFETY: the CPU runs `isa` (asserted by the caller). Reads: input channel c, rows
                // `y·sH + ky..y·sH + ky + rows` and columns `x·sW..x·sW + kW` for the
                // band's output positions (y, x), inside the padded plane (asserted
                // above); the band's gradients. Writes: the tile's `rows·kW` taps × 32
                // channels, inside channel c's `kH·kW` taps (the `j`-th of `gw`'s).
                unsafe { t.run(first && y0 == 0, isa) };
            }
        }
    }
}

/// `gwb [cout/32][cin][kh·kw][32]` as `[cout, cin, kh, kw]`: each output channel's row
/// written in order, from 16 taps (2 KB) of the block at a time.
fn unblocked(gwb: &[f32], d: &Dims) -> Vec<f32> {
    let row = d.cin * d.kh * d.kw;
    let fill = |gw: &mut [MaybeUninit<f32>]| {
        gw.par_chunks_mut(BW * row)
            .zip(gwb.par_chunks(BW * row))
            .for_each(|(dst, src)| {
                for k0 in (0..row).step_by(16) {
                    let src = &src[k0 * BW..];
                    for (o, out) in dst.chunks_exact_mut(row).enumerate() {
                        for (k, v) in out[k0..(k0 + 16).min(row)].iter_mut().enumerate() {
                            v.write(src[k * BW + o]);
                        }
                    }
                }
            });
    };
    // SAFETY: every tap `k` of every row `o` of each block is written, the blocks
    // cover `cout` (a multiple of 32: `applies`).
    unsafe { written(d.cout * row, fill) }
}

/// One tile: 32 output channels × `rows · kw` taps of one input channel, summed over
/// the positions of a band of output rows of one sample.
struct Tile {
    /// The padded input plane of the channel, at the tile's first kernel row.
    x: *const f32,
    /// The band's output gradient channels-last, `[oh·ow][32]`.
    g: *const f32,
    /// The tile's gradients: `[rows·kw][32]`.
    out: *mut f32,
    rows: usize,
    kw: usize,
    wp: usize,
    /// `(sH, sW)`.
    stride: (usize, usize),
    /// Output rows of the band.
    oh: usize,
    ow: usize,
}

impl Tile {
    /// `out[r·kW + kx][o] (+)= Σ_{y, x} g[y·ow + x][o] · x[(y·sH + r)·wp + x·sW + kx]`,
    /// starting from zero when `first`.
    ///
    /// # Safety
    /// The CPU runs `isa`; the pointers are valid as `sweep` sets them up.
    unsafe fn run(&self, first: bool, isa: Isa) {
        // SAFETY: as this function's.
        unsafe {
            match isa {
                Isa::Avx512 => avx512::run(self, first),
                Isa::Avx2 => avx2::run(self, first),
            }
        }
    }
}

mod avx512 {
    use super::{Tile, BW, MAX_TAPS};
    use std::arch::x86_64::*;

    /// [`Tile::run`] on AVX-512F.
    ///
    /// # Safety
    /// As [`Tile::run`], with AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn run(t: &Tile, first: bool) {
        // SAFETY: as this function's, with the tile's own size.
        unsafe {
            match (t.rows, t.kw, t.stride.1) {
                (3, 3, 1) => run_k::<3, 3, 1>(t, first),
                (3, 3, 2) => run_k::<3, 3, 2>(t, first),
                _ => run_k::<0, 0, 0>(t, first),
            }
        }
    }

    /// [`run`] for `R` rows of `KW` taps at row stride `SW` known at compile time (`0,
    /// 0, 0`: the tile's own, read at run time).
    ///
    /// # Safety
    /// As [`run`].
    // Indexed loops on purpose, as in the forward tile: with iterators the
    // accumulators stay in memory.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx512f")]
    unsafe fn run_k<const R: usize, const KW: usize, const SW: usize>(t: &Tile, first: bool) {
        let (rows, kw, sw) = if R == 0 {
            (t.rows, t.kw, t.stride.1)
        } else {
            (R, KW, SW)
        };
        let n = rows * kw;
        let mut acc = [[_mm512_setzero_ps(); MAX_TAPS]; 2];
        if !first {
            for k in 0..n {
                for j in 0..2 {
                    // SAFETY: inside the tile's taps × 32 gradients.
                    acc[j][k] = unsafe { _mm512_loadu_ps(t.out.add(k * BW + 16 * j)) };
                }
            }
        }
        for y in 0..t.oh {
            // SAFETY: row y of the window and of the gradients (see `sweep`).
            let (xr, gr) = unsafe { (t.x.add(y * t.stride.0 * t.wp), t.g.add(y * t.ow * BW)) };
            for x in 0..t.ow {
                // SAFETY: the 32 gradients of position (y, x).
                let gv = unsafe {
                    [
                        _mm512_loadu_ps(gr.add(x * BW)),
                        _mm512_loadu_ps(gr.add(x * BW + 16)),
                    ]
                };
                for r in 0..rows {
                    for kx in 0..kw {
                        // SAFETY: column x + kx of window row r (see `sweep`).
                        let b = _mm512_set1_ps(unsafe { *xr.add(r * t.wp + x * sw + kx) });
                        for j in 0..2 {
                            acc[j][r * kw + kx] = _mm512_fmadd_ps(gv[j], b, acc[j][r * kw + kx]);
                        }
                    }
                }
            }
        }
        for k in 0..n {
            for (j, a) in acc.iter().enumerate() {
                // SAFETY: inside the tile's taps × 32 gradients.
                unsafe { _mm512_storeu_ps(t.out.add(k * BW + 16 * j), a[k]) };
            }
        }
    }
}

mod avx2 {
    use super::{Tile, BW, MAX_TAPS};
    use std::arch::x86_64::*;

    /// [`Tile::run`] on AVX2 with FMA: the 32 channels as four quarters of one 8-lane
    /// vector each, in turn (up to 12 accumulators, the gradients' vector and the
    /// broadcast input: 14 of the 16 registers). Each sum is the same chain of fused
    /// multiply-adds as on AVX-512.
    ///
    /// # Safety
    /// As [`Tile::run`], with AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn run(t: &Tile, first: bool) {
        for q in [0, 8, 16, 24] {
            // SAFETY: as this function's, `q + 8 ≤ 32`.
            unsafe {
                match (t.rows, t.kw, t.stride.1) {
                    (3, 3, 1) => quarter::<3, 3, 1>(t, first, q),
                    (3, 3, 2) => quarter::<3, 3, 2>(t, first, q),
                    _ => quarter::<0, 0, 0>(t, first, q),
                }
            }
        }
    }

    /// The 8 channels from `q` of [`run`], for `R` rows of `KW` taps at row stride `SW`
    /// known at compile time (`0, 0, 0`: the tile's own).
    ///
    /// # Safety
    /// As [`run`], `q + 8 ≤ 32`.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn quarter<const R: usize, const KW: usize, const SW: usize>(
        t: &Tile,
        first: bool,
        q: usize,
    ) {
        let (rows, kw, sw) = if R == 0 {
            (t.rows, t.kw, t.stride.1)
        } else {
            (R, KW, SW)
        };
        let n = rows * kw;
        // SAFETY: `q + 8 ≤ 32`: inside each row of 32 gradients.
        let (out, g) = unsafe { (t.out.add(q), t.g.add(q)) };
        let mut acc = [_mm256_setzero_ps(); MAX_TAPS];
        if !first {
            for k in 0..n {
                // SAFETY: inside the tile's taps × 32 gradients.
                acc[k] = unsafe { _mm256_loadu_ps(out.add(k * BW)) };
            }
        }
        for y in 0..t.oh {
            // SAFETY: row y of the window and of the gradients (see `sweep`).
            let (xr, gr) = unsafe { (t.x.add(y * t.stride.0 * t.wp), g.add(y * t.ow * BW)) };
            for x in 0..t.ow {
                // SAFETY: 8 of the 32 gradients of position (y, x).
                let gv = unsafe { _mm256_loadu_ps(gr.add(x * BW)) };
                for r in 0..rows {
                    for kx in 0..kw {
                        // SAFETY: column x + kx of window row r (see `sweep`).
                        let b = _mm256_set1_ps(unsafe { *xr.add(r * t.wp + x * sw + kx) });
                        acc[r * kw + kx] = _mm256_fmadd_ps(gv, b, acc[r * kw + kx]);
                    }
                }
            }
        }
        for k in 0..n {
            // SAFETY: inside the tile's taps × 32 gradients.
            unsafe { _mm256_storeu_ps(out.add(k * BW), acc[k]) };
        }
    }
}
