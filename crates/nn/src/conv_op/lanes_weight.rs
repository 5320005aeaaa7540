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
const MIN_TAPS_STRIDED: usize = 144;

/// Whether [`conv_bwd_weight`] computes this convolution's weight gradient: AVX-512,
/// any stride, dilation 1, one group, a kernel of more than one tap and at most 12 in a
/// row, padding below the kernel, output channels a multiple of 32, at most
/// [`MAX_POSITIONS`] output positions, a batch that fills the threads, and at least 576
/// taps (where [`super::lanes`] computes the forward) or, where the channels-last GEMMs
/// do not apply, [`MIN_TAPS_STRIDED`].
pub(super) fn applies(d: &Dims, g: &ConvGeom) -> bool {
    let taps = d.cin * d.kh * d.kw;
    let enough = taps >= super::lanes::MIN_TAPS
        || (taps >= MIN_TAPS_STRIDED && !super::channels_last::applies(d, g));
    super::simd::direct_fits(d, g, false).is_some()
        && d.kh * d.kw > 1
        && d.kw <= MAX_TAPS
        && d.cout.is_multiple_of(BW)
        && d.l() <= MAX_POSITIONS
        && d.n >= rayon::current_num_threads()
        && enough
}

/// `gw [cout, cin, kh, kw]` from `x [n, cin, h, w]` and `grad [n, cout, oh, ow]`, for a
/// convolution [`applies`] accepts.
pub(super) fn conv_bwd_weight(x: &[f32], grad: &[f32], d: &Dims, g: &ConvGeom) -> Vec<f32> {
    assert!(applies(d, g));
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
                            sweep(xs, gs, gw, (i == 0, chans.clone()), &s);
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
    xp: &[f32],
    gl: &[f32],
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
                let t = avx512::Tile {
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
                // SAFETY: AVX-512F is present (`applies`). Reads: input channel c, rows
                // `y·sH + ky..y·sH + ky + rows` and columns `x·sW..x·sW + kW` for the
                // band's output positions (y, x), inside the padded plane (asserted
                // above); the band's gradients. Writes: the tile's `rows·kW` taps × 32
                // channels, inside channel c's `kH·kW` taps (the `j`-th of `gw`'s).
                unsafe { t.run(first && y0 == 0) };
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

mod avx512 {
    use super::{BW, MAX_TAPS};
    use std::arch::x86_64::*;

    /// One tile: 32 output channels × `rows · kw` taps of one input channel, summed
    /// over the positions of a band of output rows of one sample.
    pub(super) struct Tile {
        /// The padded input plane of the channel, at the tile's first kernel row.
        pub x: *const f32,
        /// The band's output gradient channels-last, `[oh·ow][32]`.
        pub g: *const f32,
        /// The tile's gradients: `[rows·kw][32]`.
        pub out: *mut f32,
        pub rows: usize,
        pub kw: usize,
        pub wp: usize,
        /// `(sH, sW)`.
        pub stride: (usize, usize),
        /// Output rows of the band.
        pub oh: usize,
        pub ow: usize,
    }

    impl Tile {
        /// `out[r·kW + kx][o] (+)= Σ_{y, x} g[y·ow + x][o] · x[(y·sH + r)·wp + x·sW +
        /// kx]`, starting from zero when `first`.
        ///
        /// # Safety
        /// AVX-512F is present; the pointers are valid as `sweep` sets them up.
        #[target_feature(enable = "avx512f")]
        pub(super) unsafe fn run(&self, first: bool) {
            // SAFETY: as this function's, with the tile's own size.
            unsafe {
                match (self.rows, self.kw, self.stride.1) {
                    (3, 3, 1) => self.run_k::<3, 3, 1>(first),
                    (3, 3, 2) => self.run_k::<3, 3, 2>(first),
                    _ => self.run_k::<0, 0, 0>(first),
                }
            }
        }

        /// [`Self::run`] for `R` rows of `KW` taps at row stride `SW` known at compile
        /// time (`0, 0, 0`: the tile's own, read at run time).
        ///
        /// # Safety
        /// As [`Self::run`].
        // Indexed loops on purpose, as in the forward tile: with iterators the
        // accumulators stay in memory.
        #[allow(clippy::needless_range_loop)]
        #[target_feature(enable = "avx512f")]
        unsafe fn run_k<const R: usize, const KW: usize, const SW: usize>(&self, first: bool) {
            let (rows, kw, sw) = if R == 0 {
                (self.rows, self.kw, self.stride.1)
            } else {
                (R, KW, SW)
            };
            let n = rows * kw;
            let mut acc = [[_mm512_setzero_ps(); MAX_TAPS]; 2];
            if !first {
                for t in 0..n {
                    for j in 0..2 {
                        // SAFETY: inside the tile's taps × 32 gradients.
                        acc[j][t] = unsafe { _mm512_loadu_ps(self.out.add(t * BW + 16 * j)) };
                    }
                }
            }
            for y in 0..self.oh {
                // SAFETY: row y of the window and of the gradients (see `sweep`).
                let (xr, gr) = unsafe {
                    (
                        self.x.add(y * self.stride.0 * self.wp),
                        self.g.add(y * self.ow * BW),
                    )
                };
                for x in 0..self.ow {
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
                            let b = _mm512_set1_ps(unsafe { *xr.add(r * self.wp + x * sw + kx) });
                            for j in 0..2 {
                                acc[j][r * kw + kx] =
                                    _mm512_fmadd_ps(gv[j], b, acc[j][r * kw + kx]);
                            }
                        }
                    }
                }
            }
            for t in 0..n {
                for (j, a) in acc.iter().enumerate() {
                    // SAFETY: inside the tile's taps × 32 gradients.
                    unsafe { _mm512_storeu_ps(self.out.add(t * BW + 16 * j), a[t]) };
                }
            }
        }
    }
}
