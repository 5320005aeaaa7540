//! Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for
//! Convolutional Neural Networks", CVPR 2016) for 3×3 convolutions at stride 1: each
//! 2×2 block of outputs (a tile) comes from the 4×4 input patch `d` under it as
//!
//! `Y = Aᵀ [Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B)] A`,
//!
//! with `Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]`, `G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]`
//! and `Aᵀ = [1 1 1 0; 0 1 −1 −1]`: 16 multiply-adds per tile and channel pair where the
//! direct convolution takes 36, 2.25× fewer. The sum over input channels is one GEMM
//! for each of the 16 entries ξ of the 4×4 transform, `M_ξ [tiles × cout] = V_ξ [tiles ×
//! cin] · U_ξ [cin × cout]` (`V = Bᵀ d B`, `U = G g Gᵀ`), on the `gemm` crate. The
//! transforms are additions only (and the halves of `G`, once per call), 8 channels at a
//! time on channels-last data: the input rows of a block are transposed into it, the
//! outputs back to NCHW, 8 × 8 at a time ([`super::transpose`]).
//!
//! The input gradient of a stride-1 convolution is a stride-1 3×3 convolution of the
//! output gradient with the weights transposed and rotated 180°, padded by `2 − p`
//! ([`stride1_transposed`]): the same kernel. The weight gradient is the gradient of
//! the forward through its transforms: `dW = Gᵀ [Σ_tiles V ⊙ (A dY Aᵀ)] G`, the sum
//! over tiles again 16 GEMMs, `dU_ξ [cin × cout] = V_ξᵀ · dM_ξ`.
//!
//! The tiles run in blocks of about [`BLOCK_TILES`] (whole samples, or rows of tiles of
//! one sample): each GEMM has 256 rows, and a block's `V` and `M` are `16·256·cin` and
//! `16·256·cout` values (512 KB each at 32 channels, near the L2 cache; measured
//! against 128 and 400 tiles). The blocks do not depend on the thread count, so
//! neither do the results. Rounding differs from the direct sum (the transforms add up
//! to 4 values before the products), by a few ulps of the largest terms: the tests hold
//! it to the im2col + GEMM result.
//!
//! Why wick's own: candle has no Winograd convolution, and PyTorch's CPU convolutions
//! (oneDNN's direct and GEMM kernels) do not choose one by default. It is the one way
//! past the FMA peak on machines where the direct kernels are at it already.

use super::geometry::{batch_sum, stride1_transposed, ConvGeom, Dims, SUM_CHUNK};
use super::transpose::{transpose, transpose_uninit};
use crate::kernel::{gemm, written, Mat};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Tiles per block (the rows of each block's 16 GEMMs). Measured on 32 channels on
/// 28×28 at batch 128 (forward ms, fastest of 5): 128 tiles 14.8, 256 13.3, 400 14.4.
const BLOCK_TILES: usize = 256;

/// Fewest input and output channels for this kernel: below them the transforms (memory
/// bound, `16/cout` and `16/cin` of a value per multiply-add) and the relayouts cost
/// what the multiplies saved. Measured on an AVX2 Zen 3 (ms, forward / input
/// gradient, fastest of 3 interleaved runs, 2 threads, the kernels before → this one):
/// 16 channels on 28×28 at batch 128 6.7 / 7.9 → 7.0 / 6.5 (a tie in the noise), 32 on
/// 28×28 14.6 / 14.5 → 13.6 / 13.1, 32 on 14×14 4.7 / 5.1 → 4.9 / 4.3, 64 on 14×14
/// 13.4 / 13.1 → 10.3 / 9.5; at batch 16: 64 on 56×56 26.0 / 26.0 → 16.4 / 16.4, 256 on
/// 14×14 33.2 / 33.0 → 23.7 / 22.3, 512 on 7×7 34.7 / 35.3 → 20.3 / 21.0.
const MIN_CHANNELS: usize = 32;

/// Whether [`conv_fwd`] computes this convolution: 3×3, stride 1, dilation 1, one
/// group, at least [`MIN_CHANNELS`] in and out, and a batch that fills the threads (it
/// runs in parallel over samples).
pub(super) fn applies(d: &Dims, g: &ConvGeom) -> bool {
    fits(d, g) && d.cin >= MIN_CHANNELS && d.cout >= MIN_CHANNELS
}

/// Whether the kernel can compute this convolution (see [`applies`] for where it does).
pub(super) fn fits(d: &Dims, g: &ConvGeom) -> bool {
    (d.kh, d.kw) == (3, 3)
        && g.stride == (1, 1)
        && g.dilation == (1, 1)
        && g.groups == 1
        && d.n >= rayon::current_num_threads()
        && d.oh > 0
        && d.ow > 0
}

/// Whether [`conv_bwd_data`] computes the input gradient of this convolution: its
/// transposed convolution [`applies`].
pub(super) fn applies_bwd_data(d: &Dims, g: &ConvGeom) -> bool {
    stride1_transposed(d, g).is_some_and(|(db, gb)| applies(&db, &gb))
}

/// `y [n, cout, oh, ow] = conv(x, wt) (+ bias)`, then `max(·, 0)` when `relu`.
pub(super) fn conv_fwd(
    x: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    d: &Dims,
    g: &ConvGeom,
    relu: bool,
) -> Vec<f32> {
    assert!(fits(d, g), "winograd: not a 3×3 stride-1 convolution");
    let u = transform_weights(wt, d.cout, d.cin, false);
    correlate(x, &u, bias, &Plan::new(d, g), relu)
}

/// `gx [n, cin, h, w]` from `grad [n, cout, oh, ow]` and the forward weights `wt`.
pub(super) fn conv_bwd_data(grad: &[f32], wt: &[f32], d: &Dims, g: &ConvGeom) -> Vec<f32> {
    let (db, gb) = stride1_transposed(d, g).expect("a stride-1 convolution");
    assert!(fits(&db, &gb), "winograd: not a 3×3 stride-1 convolution");
    let u = transform_weights(wt, db.cout, db.cin, true);
    correlate(grad, &u, None, &Plan::new(&db, &gb), false)
}

/// Whether [`conv_bwd_weight`] computes the weight gradient of this convolution: where
/// the forward [`applies`] and a chunk of the sum holds at least [`MIN_CHUNK_TILES`].
pub(super) fn applies_bwd_weight(d: &Dims, g: &ConvGeom) -> bool {
    applies(d, g) && {
        let p = Plan::new(d, g);
        p.th * p.tw * p.chunk().min(d.n) >= MIN_CHUNK_TILES
    }
}

/// Fewest tiles per chunk of the weight gradient's sum (the inner size of its GEMMs,
/// each of which adds into `16·cin·cout` partial sums). Measured on an AVX2 Zen 3
/// (weight-gradient ms, fastest of 3 interleaved runs, the kernels before → this one):
/// 32 channels on 28×28 at batch 128 (1568 tiles a chunk) 22.6 → 20.5, 64 on 14×14 at
/// batch 128 (490) 19.9 → 20.6, at batch 16 64 on 56×56 (6272) 24.3 → 18.3, 256 on
/// 14×14 (490) 27.8 → 20.6, 512 on 7×7 (128) 27.0 → 38.8.
const MIN_CHUNK_TILES: usize = 256;

/// `gw [cout, cin, 3, 3]` from `x [n, cin, h, w]` and `grad [n, cout, oh, ow]`: the
/// gradient of the forward through its transforms, `dW = Gᵀ [Σ_tiles V ⊙ (A dY Aᵀ)] G`,
/// the sum over tiles a GEMM for each ξ, `dU_ξ [cin × cout] = V_ξᵀ · dM_ξ`, over chunks
/// of samples added in order ([`batch_sum`]).
pub(super) fn conv_bwd_weight(x: &[f32], grad: &[f32], d: &Dims, g: &ConvGeom) -> Vec<f32> {
    assert!(fits(d, g), "winograd: not a 3×3 stride-1 convolution");
    let p = Plan::new(d, g);
    assert!(x.len() >= d.n * d.cin * d.h * d.w && grad.len() >= d.n * d.cout * d.l());
    let chunk = p.chunk();
    let len = 16 * d.cin * d.cout;
    let du = batch_sum(d.n, chunk, len, |c, par| {
        let mut s = Scratch::default();
        let mut du = vec![0f32; len];
        for block in p.blocks(c * chunk..((c + 1) * chunk).min(d.n)) {
            accumulate_block(x, grad, &p, &block, &mut s, &mut du, par);
        }
        du
    });
    untransform_weights(&du, d.cout, d.cin)
}

/// The sizes of one call: the convolution's and its tiles'.
#[derive(Clone, Copy)]
struct Plan {
    d: Dims,
    top: usize,
    left: usize,
    /// Rows and columns of tiles: `⌈oh/2⌉`, `⌈ow/2⌉`.
    th: usize,
    tw: usize,
    /// Rows of tiles per block (all of a sample's when whole samples make a block).
    rows: usize,
    /// Samples per block: 1, or more when a sample has fewer than [`BLOCK_TILES`].
    samples: usize,
}

impl Plan {
    fn new(d: &Dims, g: &ConvGeom) -> Self {
        let (th, tw) = (d.oh.div_ceil(2), d.ow.div_ceil(2));
        let per_sample = th * tw;
        let (rows, samples) = if per_sample >= BLOCK_TILES {
            ((BLOCK_TILES / tw).max(1), 1)
        } else {
            (th, (BLOCK_TILES / per_sample).min(d.n.div_ceil(2)).max(1))
        };
        Self {
            d: *d,
            top: g.pad_h.0,
            left: g.pad_w.0,
            th,
            tw,
            rows,
            samples,
        }
    }
    /// The blocks of the samples `samples`, from its first: groups of
    /// [`Plan::samples`] samples, each in groups of [`Plan::rows`] tile rows.
    fn blocks(&self, samples: std::ops::Range<usize>) -> impl Iterator<Item = Block> + '_ {
        let (step, end) = (self.samples, samples.end);
        samples.step_by(step).flat_map(move |i| {
            (0..self.th).step_by(self.rows).map(move |r0| Block {
                samples: i..(i + step).min(end),
                rows: r0..(r0 + self.rows).min(self.th),
            })
        })
    }
    /// Samples per chunk of the weight gradient's sum: [`SUM_CHUNK`] rounded up to
    /// whole blocks.
    fn chunk(&self) -> usize {
        SUM_CHUNK.div_ceil(self.samples) * self.samples
    }
    /// Width of the padded input rows a tile row reads: `2·tw + 2`.
    fn wp(&self) -> usize {
        2 * self.tw + 2
    }
}

/// `U [cin][16][cout] = G g Gᵀ` for the 3×3 kernels `g[o][c]` of `w [cout, cin, 3, 3]`,
/// or when `flipped` of `w [cin, cout, 3, 3]` rotated 180° (the input gradient's).
fn transform_weights(w: &[f32], cout: usize, cin: usize, flipped: bool) -> Vec<f32> {
    assert!(w.len() >= cout * cin * 9);
    // `G v` for the three values of a kernel row or column
    let g3 = |v: [f32; 3]| {
        [
            v[0],
            (v[0] + v[1] + v[2]) * 0.5,
            (v[0] - v[1] + v[2]) * 0.5,
            v[2],
        ]
    };
    let fill = |u: &mut [MaybeUninit<f32>]| {
        u.par_chunks_mut(16 * cout)
            .enumerate()
            .for_each(|(c, dst)| {
                for o in 0..cout {
                    let k: [f32; 9] = if flipped {
                        std::array::from_fn(|t| w[(c * cout + o) * 9 + 8 - t])
                    } else {
                        w[(o * cin + c) * 9..][..9].try_into().expect("9 taps")
                    };
                    // G g: its columns from the kernel's, then (G g) Gᵀ from its rows
                    let gc: [[f32; 4]; 3] = std::array::from_fn(|x| g3([k[x], k[3 + x], k[6 + x]]));
                    for i in 0..4 {
                        let u = g3([gc[0][i], gc[1][i], gc[2][i]]);
                        for (j, v) in u.into_iter().enumerate() {
                            dst[(4 * i + j) * cout + o].write(v);
                        }
                    }
                }
            });
    };
    // SAFETY: the chunks cover the buffer and each writes every element.
    unsafe { written(16 * cout * cin, fill) }
}

/// A thread's buffers: the block's `V [16][tiles][cin]` and `M [16][tiles][cout]`, one
/// sample's padded input rows channels-last, one row of tiles' outputs channels-last.
#[derive(Default)]
struct Scratch {
    v: Vec<f32>,
    m: Vec<f32>,
    pad: Vec<f32>,
    q: Vec<f32>,
}

/// The convolution of `x` with the transformed weights `u` for `p` (its bias and ReLU
/// in the output transform), in parallel over blocks of samples.
fn correlate(x: &[f32], u: &[f32], bias: Option<&[f32]>, p: &Plan, relu: bool) -> Vec<f32> {
    let d = &p.d;
    assert!(x.len() >= d.n * d.cin * d.h * d.w && u.len() >= 16 * d.cout * d.cin);
    assert!(bias.is_none_or(|b| b.len() >= d.cout));
    let per_sample = d.cout * d.oh * d.ow;
    // whole blocks per task, about four tasks per thread
    let tasks = 4 * rayon::current_num_threads();
    let samples_per_task = d.n.div_ceil(tasks).div_ceil(p.samples).max(1) * p.samples;
    let fill = |out: &mut [MaybeUninit<f32>]| {
        out.par_chunks_mut(samples_per_task * per_sample)
            .enumerate()
            .for_each_init(Scratch::default, |s, (t, out)| {
                let first = t * samples_per_task;
                let ns = out.len() / per_sample;
                for block in p.blocks(first..first + ns) {
                    let out = Out { out, first, relu };
                    run_block(x, u, bias, p, &block, s, out);
                }
            });
    };
    // SAFETY: every sample's every output is written by the output transform of the
    // block that holds its tile (the blocks cover every tile row of every sample).
    unsafe { written(d.n * per_sample, fill) }
}

/// The tiles of a block: the tile rows `rows` of each sample of `samples`.
struct Block {
    samples: std::ops::Range<usize>,
    rows: std::ops::Range<usize>,
}

impl Block {
    fn tiles(&self, p: &Plan) -> usize {
        self.samples.len() * self.rows.len() * p.tw
    }
}

/// Where a task's outputs go: the outputs of its samples from `first`, and whether the
/// ReLU follows.
struct Out<'a> {
    out: &'a mut [MaybeUninit<f32>],
    first: usize,
    relu: bool,
}

/// One block: the input transform, the 16 GEMMs, the output transform.
fn run_block(
    x: &[f32],
    u: &[f32],
    bias: Option<&[f32]>,
    p: &Plan,
    block: &Block,
    s: &mut Scratch,
    mut out: Out<'_>,
) {
    let d = &p.d;
    let tb = input_block(x, p, block, s);
    for xi in 0..16 {
        let a = Mat::rows(&s.v[xi * tb * d.cin..], d.cin);
        let b = Mat::strided(&u[xi * d.cout..], 16 * d.cout, 1);
        gemm(
            tb,
            d.cout,
            d.cin,
            &mut s.m[xi * tb * d.cout..],
            false,
            a,
            b,
            false,
        );
    }
    let mut t = 0;
    for i in block.samples.clone() {
        for ty in block.rows.clone() {
            let relu = out.relu;
            crate::kernel::vectorized(|| transform_output(&s.m, p, t, tb, bias, relu, &mut s.q));
            crate::kernel::vectorized(|| store_rows(&s.q, p, i, ty, &mut out));
            t += p.tw;
        }
    }
}

/// The block's `V` into `s.v` (and `s.m`, `s.q` sized for it); returns its tiles.
fn input_block(x: &[f32], p: &Plan, block: &Block, s: &mut Scratch) -> usize {
    let d = &p.d;
    let tb = block.tiles(p);
    s.v.resize(16 * tb * d.cin, 0.0);
    s.m.resize(16 * tb * d.cout, 0.0);
    s.pad
        .resize((2 * block.rows.len() + 2) * p.wp() * d.cin, 0.0);
    s.q.resize(4 * p.tw * d.cout, 0.0);
    let per_sample = block.rows.len() * p.tw;
    for (k, i) in block.samples.clone().enumerate() {
        crate::kernel::vectorized(|| load_padded(x, p, i, &block.rows, &mut s.pad));
        let (rows, t0) = (block.rows.len(), k * per_sample);
        crate::kernel::vectorized(|| transform_input(&s.pad, p, rows, t0, tb, &mut s.v));
    }
    tb
}

/// The input rows under the tile rows `rows` of sample `i`, zero-padded and
/// channels-last: `pad [2·rows + 2][wp][cin]`.
#[inline(always)]
fn load_padded(x: &[f32], p: &Plan, i: usize, rows: &std::ops::Range<usize>, pad: &mut [f32]) {
    let d = &p.d;
    let (plane, wp, cin) = (d.h * d.w, p.wp(), d.cin);
    let sample = &x[i * cin * plane..(i + 1) * cin * plane];
    let lo = p.left.min(wp);
    let n = d.w.min(wp - lo);
    for (k, row) in pad.chunks_exact_mut(wp * cin).enumerate() {
        // rows above the input wrap to past its end
        let y = (2 * rows.start + k).wrapping_sub(p.top);
        if y >= d.h {
            row.fill(0.0);
            continue;
        }
        row[..lo * cin].fill(0.0);
        row[(lo + n) * cin..].fill(0.0);
        transpose(&sample[y * d.w..], plane, &mut row[lo * cin..], cin, cin, n);
    }
}

/// `V [16][tb][cin] = Bᵀ d B` for the `rows · tw` tiles from tile `t0` of the block,
/// from their padded input `pad`, 8 channels at a time.
#[inline(always)]
fn transform_input(pad: &[f32], p: &Plan, rows: usize, t0: usize, tb: usize, v: &mut [f32]) {
    let cin = p.d.cin;
    let row = p.wp() * cin;
    for r in 0..rows {
        for tx in 0..p.tw {
            let base = 2 * r * row + 2 * tx * cin;
            let at = (t0 + r * p.tw + tx) * cin;
            by_eights(cin, |c, wide| {
                let (from, to) = (base + c, at + c);
                if wide {
                    input_tile::<8>(pad, from, row, cin, v, to, tb * cin);
                } else {
                    input_tile::<1>(pad, from, row, cin, v, to, tb * cin);
                }
            });
        }
    }
}

/// `W` lanes of one tile's `Bᵀ d B`: `d[k][j]` at `pad[base + k·row + j·cin..][..W]`,
/// entry ξ to `v[at + ξ·stride..][..W]`.
#[inline(always)]
fn input_tile<const W: usize>(
    pad: &[f32],
    base: usize,
    row: usize,
    cin: usize,
    v: &mut [f32],
    at: usize,
    stride: usize,
) {
    let ld = |k: usize, j: usize| -> [f32; W] {
        let at = base + k * row + j * cin;
        pad[at..at + W].try_into().expect("W values")
    };
    // the rows of Bᵀ d, for each column j
    let cols: [[[f32; W]; 4]; 4] = std::array::from_fn(|j| {
        let (d0, d1, d2, d3) = (ld(0, j), ld(1, j), ld(2, j), ld(3, j));
        [
            lanes(|l| d0[l] - d2[l]),
            lanes(|l| d1[l] + d2[l]),
            lanes(|l| d2[l] - d1[l]),
            lanes(|l| d1[l] - d3[l]),
        ]
    });
    // r[i][j]: row i of Bᵀ d at column j
    let r: [[[f32; W]; 4]; 4] = std::array::from_fn(|i| std::array::from_fn(|j| cols[j][i]));
    for (i, r) in r.iter().enumerate() {
        let out: [[f32; W]; 4] = [
            lanes(|l| r[0][l] - r[2][l]),
            lanes(|l| r[1][l] + r[2][l]),
            lanes(|l| r[2][l] - r[1][l]),
            lanes(|l| r[1][l] - r[3][l]),
        ];
        for (j, o) in out.iter().enumerate() {
            v[at + (4 * i + j) * stride..][..W].copy_from_slice(o);
        }
    }
}

/// `f(c, true)` for each group of 8 channels `c..c + 8` of `n`, then `f(c, false)` for
/// each channel left (the transforms' 8-lane and 1-lane tiles).
#[inline(always)]
fn by_eights(n: usize, mut f: impl FnMut(usize, bool)) {
    let full = n - n % 8;
    (0..full).step_by(8).for_each(|c| f(c, true));
    (full..n).for_each(|c| f(c, false));
}

/// `[f(0), …, f(W − 1)]`.
#[inline(always)]
fn lanes<const W: usize>(f: impl Fn(usize) -> f32) -> [f32; W] {
    std::array::from_fn(f)
}

/// `Y = Aᵀ M A` (plus the bias, then the ReLU) for the `tw` tiles from tile `t` of the
/// block, channels-last into `q [2][2·tw][cout]`, 8 channels at a time.
#[inline(always)]
fn transform_output(
    m: &[f32],
    p: &Plan,
    t: usize,
    tb: usize,
    bias: Option<&[f32]>,
    relu: bool,
    q: &mut [f32],
) {
    let cout = p.d.cout;
    let row = 2 * p.tw * cout;
    for tx in 0..p.tw {
        let (at, to) = ((t + tx) * cout, 2 * tx * cout);
        by_eights(cout, |o, wide| {
            let steps = (cout, row);
            if wide {
                output_tile::<8>(m, at + o, tb * cout, bias, o, relu, q, to + o, steps);
            } else {
                output_tile::<1>(m, at + o, tb * cout, bias, o, relu, q, to + o, steps);
            }
        });
    }
}

/// `W` lanes of one tile's `Aᵀ M A`: entry ξ at `m[at + ξ·stride..][..W]`, output
/// `(dy, dx)` to `q[to + dy·row + dx·cout..][..W]` (`steps = (cout, row)`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn output_tile<const W: usize>(
    m: &[f32],
    at: usize,
    stride: usize,
    bias: Option<&[f32]>,
    o: usize,
    relu: bool,
    q: &mut [f32],
    to: usize,
    (cout, row): (usize, usize),
) {
    let ld = |xi: usize| -> [f32; W] {
        let at = at + xi * stride;
        m[at..at + W].try_into().expect("W values")
    };
    // the columns of Aᵀ on each row k of M: (m₀ + m₁ + m₂, m₁ − m₂ − m₃)
    let mut a = [[0f32; W]; 4];
    let mut b = [[0f32; W]; 4];
    for k in 0..4 {
        let (m0, m1, m2, m3) = (ld(4 * k), ld(4 * k + 1), ld(4 * k + 2), ld(4 * k + 3));
        a[k] = lanes(|l| m0[l] + m1[l] + m2[l]);
        b[k] = lanes(|l| m1[l] - m2[l] - m3[l]);
    }
    let bias: [f32; W] = lanes(|l| bias.map_or(0.0, |b| b[o + l]));
    let act = |y: f32| if relu { y.max(0.0) } else { y };
    let ys: [[f32; W]; 4] = [
        lanes(|l| act(a[0][l] + a[1][l] + a[2][l] + bias[l])),
        lanes(|l| act(b[0][l] + b[1][l] + b[2][l] + bias[l])),
        lanes(|l| act(a[1][l] - a[2][l] - a[3][l] + bias[l])),
        lanes(|l| act(b[1][l] - b[2][l] - b[3][l] + bias[l])),
    ];
    for (k, y) in ys.iter().enumerate() {
        let (dy, dx) = (k / 2, k % 2);
        q[to + dy * row + dx * cout..][..W].copy_from_slice(y);
    }
}

/// The outputs of tile row `ty` of sample `i` from `q [2][2·tw][cout]` into NCHW,
/// clipped at the last row and column.
#[inline(always)]
fn store_rows(q: &[f32], p: &Plan, i: usize, ty: usize, out: &mut Out<'_>) {
    let d = &p.d;
    let (l, cout, row) = (d.oh * d.ow, d.cout, 2 * p.tw * d.cout);
    let out = &mut out.out[(i - out.first) * cout * l..][..cout * l];
    for dy in 0..2.min(d.oh - 2 * ty) {
        let at = (2 * ty + dy) * d.ow;
        transpose_uninit(&q[dy * row..], cout, &mut out[at..], l, d.ow, cout);
    }
}

/// One block's terms of the weight gradient: `dU_ξ += V_ξᵀ · dM_ξ` into `du [16][cin][cout]`
/// (the GEMMs on the threads when `par`).
fn accumulate_block(
    x: &[f32],
    grad: &[f32],
    p: &Plan,
    block: &Block,
    s: &mut Scratch,
    du: &mut [f32],
    par: bool,
) {
    let d = &p.d;
    let tb = input_block(x, p, block, s);
    let mut t = 0;
    for i in block.samples.clone() {
        for ty in block.rows.clone() {
            crate::kernel::vectorized(|| load_grad_rows(grad, p, i, ty, &mut s.q));
            crate::kernel::vectorized(|| transform_grad(&s.q, p, t, tb, &mut s.m));
            t += p.tw;
        }
    }
    for xi in 0..16 {
        let a = Mat::rows_t(&s.v[xi * tb * d.cin..], d.cin);
        let b = Mat::rows(&s.m[xi * tb * d.cout..], d.cout);
        let dst = &mut du[xi * d.cin * d.cout..];
        gemm(d.cin, d.cout, tb, dst, true, a, b, par);
    }
}

/// The output gradient of tile row `ty` of sample `i` channels-last, zero past the last
/// row and column: `q [2][2·tw][cout]`.
#[inline(always)]
fn load_grad_rows(grad: &[f32], p: &Plan, i: usize, ty: usize, q: &mut [f32]) {
    let d = &p.d;
    let (l, cout, row) = (d.oh * d.ow, d.cout, 2 * p.tw * d.cout);
    let sample = &grad[i * cout * l..(i + 1) * cout * l];
    for (dy, q) in q.chunks_exact_mut(row).take(2).enumerate() {
        let y = 2 * ty + dy;
        if y >= d.oh {
            q.fill(0.0);
            continue;
        }
        transpose(&sample[y * d.ow..], l, q, cout, cout, d.ow);
        q[d.ow * cout..].fill(0.0);
    }
}

/// `dM = A dY Aᵀ` for the `tw` tiles from tile `t` of the block, from `q [2][2·tw][cout]`
/// into `m [16][tb][cout]`, 8 channels at a time.
#[inline(always)]
fn transform_grad(q: &[f32], p: &Plan, t: usize, tb: usize, m: &mut [f32]) {
    let cout = p.d.cout;
    let row = 2 * p.tw * cout;
    for tx in 0..p.tw {
        let (from, at) = (2 * tx * cout, (t + tx) * cout);
        by_eights(cout, |o, wide| {
            if wide {
                grad_tile::<8>(q, from + o, (cout, row), m, at + o, tb * cout);
            } else {
                grad_tile::<1>(q, from + o, (cout, row), m, at + o, tb * cout);
            }
        });
    }
}

/// `W` lanes of one tile's `A dY Aᵀ`: `dY[dy][dx]` at `q[from + dy·row + dx·cout..]`,
/// entry ξ to `m[at + ξ·stride..][..W]`.
#[inline(always)]
fn grad_tile<const W: usize>(
    q: &[f32],
    from: usize,
    (cout, row): (usize, usize),
    m: &mut [f32],
    at: usize,
    stride: usize,
) {
    let ld = |dy: usize, dx: usize| -> [f32; W] {
        let at = from + dy * row + dx * cout;
        q[at..at + W].try_into().expect("W values")
    };
    // A (p, q) = (p, p + q, p − q, −q) along each row, then down the columns
    let a2 = |p: [f32; W], q: [f32; W]| -> [[f32; W]; 4] {
        [
            p,
            lanes(|l| p[l] + q[l]),
            lanes(|l| p[l] - q[l]),
            lanes(|l| -q[l]),
        ]
    };
    let (r0, r1) = (a2(ld(0, 0), ld(0, 1)), a2(ld(1, 0), ld(1, 1)));
    for j in 0..4 {
        let col = a2(r0[j], r1[j]);
        for (i, v) in col.iter().enumerate() {
            m[at + (4 * i + j) * stride..][..W].copy_from_slice(v);
        }
    }
}

/// `gw [cout, cin, 3, 3] = Gᵀ dU G` from `du [16][cin][cout]`.
fn untransform_weights(du: &[f32], cout: usize, cin: usize) -> Vec<f32> {
    assert!(du.len() >= 16 * cin * cout);
    // `Gᵀ u` for the four values of a row or column of dU
    let gt = |u: [f32; 4]| {
        [
            u[0] + (u[1] + u[2]) * 0.5,
            (u[1] - u[2]) * 0.5,
            (u[1] + u[2]) * 0.5 + u[3],
        ]
    };
    let fill = |w: &mut [MaybeUninit<f32>]| {
        w.par_chunks_mut(cin * 9).enumerate().for_each(|(o, dst)| {
            for (c, k) in dst.chunks_exact_mut(9).enumerate() {
                let u = |i: usize, j: usize| du[((4 * i + j) * cin + c) * cout + o];
                // Gᵀ dU: its columns, then (Gᵀ dU) G from its rows
                let cols: [[f32; 3]; 4] =
                    std::array::from_fn(|j| gt([u(0, j), u(1, j), u(2, j), u(3, j)]));
                for ky in 0..3 {
                    let r = gt([cols[0][ky], cols[1][ky], cols[2][ky], cols[3][ky]]);
                    for (kx, v) in r.into_iter().enumerate() {
                        k[3 * ky + kx].write(v);
                    }
                }
            }
        });
    };
    // SAFETY: the chunks cover the buffer and each writes every element.
    unsafe { written(cout * cin * 9, fill) }
}
