//! Stride-1 convolution computed directly from a zero-padded copy of each sample, with
//! AVX-512 on f32: no im2col matrix and no GEMM packing. The `cpu` kernels use it for
//! the forward pass and the input gradient of `Conv2d` with stride 1, dilation 1, one
//! group and padding below the kernel size, when the CPU has AVX-512; every other case
//! (and other CPUs) keeps im2col + GEMM, and so does the weight gradient.
//!
//! The layout trick: a padded plane `[HP, WP]` is read as one flat row. Output position
//! `(y, x)` is the flat position `q = y·WP + x`, and kernel tap `t = (c, ky, kx)` reads
//! the flat input at `q + off(t)` with `off(t) = c·HP·WP + ky·WP + kx`. So each tap is
//! a contiguous 16-lane load at a fixed offset, and the correlation
//!
//! `y[o, q] = b[o] + Σ_t w[o, t] · xp[q + off(t)]`
//!
//! is a GEMM whose right operand is never built: a tile of 4 output channels × up to 6
//! vectors of 16 flat positions is accumulated in 24 registers over the taps, as a GEMM
//! microkernel does. The lanes with `x ≥ OW` (the `WP − OW` positions at the end of
//! each padded row) are computed and dropped: the stores compress each vector's valid
//! lanes into the dense `[OH, OW]` output.
//!
//! The input gradient is the same correlation of the output gradient, padded by
//! `k − 1 − p` on each side, with the kernel flipped and its channels swapped:
//! `gx[c, y, x] = Σ_{o, ky, kx} w[o, c, kH−1−ky, kW−1−kx] · gp[o, y + ky, x + kx]`.

use super::geometry::{batch_parallel, ConvGeom, Dims};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Lanes of one AVX-512 f32 vector.
const LANES: usize = 16;
/// Output channels (forward) or weight-gradient channels per register tile.
const MO: usize = 4;
/// Vectors of flat positions per forward tile (`MO · NQ = 24` accumulators).
const NQ: usize = 6;

/// Whether the CPU runs the kernels of this module (AVX-512F, detected once).
pub(crate) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// Sizes of a stride-1 correlation of `[n, cin, h, w]` with `[cout, cin, kh, kw]` over
/// planes zero-padded by `pad = (top, bottom, left, right)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    pub n: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub kh: usize,
    pub kw: usize,
    pub pad: (usize, usize, usize, usize),
}

impl Geometry {
    fn hp(&self) -> usize {
        self.h + self.pad.0 + self.pad.1
    }
    fn wp(&self) -> usize {
        self.w + self.pad.2 + self.pad.3
    }
    /// Output height `HP − kH + 1`.
    pub fn oh(&self) -> usize {
        self.hp() + 1 - self.kh
    }
    /// Output width `WP − kW + 1`.
    pub fn ow(&self) -> usize {
        self.wp() + 1 - self.kw
    }
    fn plane(&self) -> usize {
        self.hp() * self.wp()
    }
    /// Vectors covering the flat output positions `0..OH·WP`.
    fn vectors(&self) -> usize {
        (self.oh() * self.wp()).div_ceil(LANES)
    }
    /// Length of one padded sample: the planes, then zeros for the reads of the last
    /// vector past the last plane (at most `kW + 14` elements, see [`Self::taps`]).
    fn padded_len(&self) -> usize {
        self.cin * self.plane() + self.kw + LANES
    }
    /// The flat offset of each tap `(c, ky, kx)`, in weight order. The last vector's
    /// last lane reads `off(t) + 16·vectors − 1 ≤ (cin−1)·HP·WP + (kH−1)·WP + kW − 1 +
    /// OH·WP + 14 = cin·HP·WP + kW + 13`, inside [`Self::padded_len`].
    fn taps(&self) -> Vec<usize> {
        let (plane, wp) = (self.plane(), self.wp());
        (0..self.cin)
            .flat_map(|c| {
                (0..self.kh)
                    .flat_map(move |ky| (0..self.kw).map(move |kx| c * plane + ky * wp + kx))
            })
            .collect()
    }
    /// For each vector, the mask of its lanes that are output positions (`x < OW` and
    /// inside the plane) and the dense index `y·OW + x` of its first such lane.
    fn lanes(&self) -> Vec<(u16, usize)> {
        let (wp, ow, len) = (self.wp(), self.ow(), self.oh() * self.wp());
        (0..self.vectors())
            .map(|v| {
                let q0 = v * LANES;
                let mask = (0..LANES)
                    .filter(|&l| q0 + l < len && (q0 + l) % wp < ow)
                    .fold(0u16, |m, l| m | 1 << l);
                (mask, (q0 / wp) * ow + (q0 % wp).min(ow))
            })
            .collect()
    }
}

/// `w [cout, taps]` as `[taps, ldw]` with `ldw = cout` rounded up to [`MO`] (zeros
/// beyond `cout`): the weights of the forward correlation, a tile's `MO` channels of a
/// tap side by side.
pub(crate) fn taps_major(w: &[f32], cout: usize, taps: usize) -> Vec<f32> {
    let ldw = cout.next_multiple_of(MO);
    let mut t = vec![0.0; taps * ldw];
    for (o, row) in w.chunks_exact(taps).take(cout).enumerate() {
        for (k, &v) in row.iter().enumerate() {
            t[k * ldw + o] = v;
        }
    }
    t
}

/// The weights of the input-gradient correlation: `w [cout, cin, kh, kw]` flipped in
/// both spatial dimensions with its channels swapped, as `[(o, ky, kx), ldw]` with
/// `ldw = cin` rounded up to [`MO`].
pub(crate) fn flipped_taps_major(
    w: &[f32],
    cout: usize,
    cin: usize,
    kh: usize,
    kw: usize,
) -> Vec<f32> {
    let ldw = cin.next_multiple_of(MO);
    let mut t = vec![0.0; cout * kh * kw * ldw];
    for o in 0..cout {
        for c in 0..cin {
            for ky in 0..kh {
                for kx in 0..kw {
                    let tap = (o * kh + (kh - 1 - ky)) * kw + (kw - 1 - kx);
                    t[tap * ldw + c] = w[((o * cin + c) * kh + ky) * kw + kx];
                }
            }
        }
    }
    t
}

/// Samples per rayon task (about four tasks per thread).
fn min_samples_per_task(n: usize) -> usize {
    (n / (4 * rayon::current_num_threads()).max(1)).max(1)
}

/// `y [n, cout, OH, OW]` with `y[o, q] = b[o] + Σ_t wt[t, o] · xp[q + off(t)]`, then
/// `max(·, 0)` when `relu`; `wt` from [`taps_major`] (or [`flipped_taps_major`]).
///
/// Only call when [`available`].
pub(crate) fn correlate(
    x: &[f32],
    g: &Geometry,
    wt: &[f32],
    bias: Option<&[f32]>,
    relu: bool,
) -> Vec<f32> {
    assert!(available(), "conv: AVX-512 kernel on a CPU without AVX-512");
    let (in_len, out_len) = (g.cin * g.h * g.w, g.cout * g.oh() * g.ow());
    let taps = g.taps();
    let lanes = g.lanes();
    let ldw = g.cout.next_multiple_of(MO);
    assert!(x.len() >= g.n * in_len && wt.len() >= taps.len() * ldw);
    let mut bias4 = vec![0.0; ldw];
    if let Some(b) = bias {
        bias4[..g.cout].copy_from_slice(&b[..g.cout]);
    }
    let len = g.n * out_len;
    let mut y: Vec<f32> = Vec::with_capacity(len);
    y.spare_capacity_mut()[..len]
        .par_chunks_mut(out_len.max(1))
        .with_min_len(min_samples_per_task(g.n))
        .enumerate()
        .for_each(|(i, y_n)| {
            with_scratch(g.padded_len(), |xp| {
                pad_into(xp, &x[i * in_len..(i + 1) * in_len], g);
                correlate_sample(xp, &taps, &lanes, wt, &bias4, relu, y_n, g);
            })
        });
    // SAFETY: the compressed stores wrote every dense output position of every sample
    // (each position is a valid lane of exactly one vector).
    unsafe { y.set_len(len) };
    y
}

thread_local! {
    /// Per-thread buffer for the padded samples, kept between calls: allocating a large
    /// one per call costs page faults.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's scratch buffer, of `len` elements; its contents are left
/// over from earlier calls (the caller writes all it reads).
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|s| {
        let buf = &mut *s.borrow_mut();
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
        f(&mut buf[..len])
    })
}

/// Writes one padded sample: each plane `[HP, WP]` with `x [cin, h, w]` inside and zeros
/// around it, then the zero tail.
fn pad_into(xp: &mut [f32], x: &[f32], g: &Geometry) {
    let plane = g.plane();
    let (h, w) = (g.h, g.w);
    assert!(xp.len() >= g.padded_len() && x.len() >= g.cin * h * w);
    assert!(g.pad.2 + w <= g.wp() && g.pad.0 + h <= g.hp());
    for (p, src) in xp[..g.cin * plane]
        .chunks_exact_mut(plane)
        .zip(x.chunks_exact(h * w))
    {
        // SAFETY: AVX-512F is present (the callers check); `p` holds the `hp·wp` plane,
        // `src` the `h·w` one, and the interior fits (asserted above).
        unsafe {
            avx512::pad_plane(
                p.as_mut_ptr(),
                src.as_ptr(),
                (h, w),
                (g.hp(), g.wp()),
                (g.pad.0, g.pad.2),
            )
        };
    }
    xp[g.cin * plane..g.padded_len()].fill(0.0);
}

/// The geometry of the direct kernels (this module's) for this convolution,
/// when they apply: a CPU with AVX-512, stride 1, dilation 1, one group, padding below
/// the kernel size on every side (the input gradient pads by `k − 1 − p`), a batch that
/// fills the threads, and enough work per output position: [`DIRECT_TAPS`] to
/// [`DIRECT_MAX_TAPS`]
/// taps (`channels in · kH · kW` of the correlation) and [`DIRECT_CHANNELS`] output
/// channels (`transposed`: the input gradient's, whose taps are the output channels).
///
/// Measured on the W2 shapes (batch 64, 3×3, padding 1, 2 threads, AVX-512): 32 → 64
/// on 14×14, forward 1.27 ms direct vs 1.81 ms im2col, input gradient 1.26 vs 1.67 ms;
/// 1 → 32 on 28×28 (9 taps; its input gradient has one output channel), forward 0.18
/// vs 0.13 ms, input gradient 0.37 vs 0.13 ms, so those stay on im2col.
pub(super) fn direct(d: &Dims, g: &ConvGeom, transposed: bool) -> Option<Geometry> {
    let (taps, channels) = if transposed {
        (d.cout * d.kh * d.kw, d.cin)
    } else {
        (d.cin * d.kh * d.kw, d.cout)
    };
    let worth = (DIRECT_TAPS..=DIRECT_MAX_TAPS).contains(&taps)
        && channels >= DIRECT_CHANNELS
        && batch_parallel(d.n);
    direct_fits(d, g).filter(|_| worth)
}

/// The direct kernels' geometry when they can compute this convolution (whether or not
/// they are the faster way): AVX-512, stride 1, dilation 1, one group, padding below the
/// kernel size.
pub(super) fn direct_fits(d: &Dims, g: &ConvGeom) -> Option<Geometry> {
    let fits = g.stride == (1, 1)
        && g.dilation == (1, 1)
        && g.groups == 1
        && g.pad_h.0 < d.kh
        && g.pad_h.1 < d.kh
        && g.pad_w.0 < d.kw
        && g.pad_w.1 < d.kw
        && available();
    fits.then_some(Geometry {
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

/// `cpu::conv_fwd` by the direct kernel, for `dg` from [`direct_fits`].
pub(super) fn conv_fwd_direct(
    x: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    d: &Dims,
    dg: &Geometry,
    relu: bool,
) -> Vec<f32> {
    correlate(
        x,
        dg,
        &taps_major(wt, d.cout, d.cin * d.kh * d.kw),
        bias,
        relu,
    )
}

/// `cpu::conv_bwd_data` by the direct kernel, for `dg` from [`direct_fits`]: the
/// correlation of the gradient padded by `k − 1 − p` with the flipped kernel.
pub(super) fn conv_bwd_data_direct(grad: &[f32], wt: &[f32], d: &Dims, dg: &Geometry) -> Vec<f32> {
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
const DIRECT_TAPS: usize = 32;
/// Most taps for the direct kernels: past them a tile's inputs and weights outgrow the
/// L1 cache and the blocked GEMM is faster. Measured on ResNet-18 (batch 16, 224×224,
/// 2 threads): its 256- and 512-channel 3×3 convolutions (2304 and 4608 taps) by GEMM
/// take an epoch of the hymenoptera images from 20.4 s to 16.9 s; up to 1152 taps the
/// direct kernels stay at least as fast (W4's 576: 5 % faster than GEMM).
const DIRECT_MAX_TAPS: usize = 1152;
/// Fewest output channels for the direct kernels (their register tile has 4).
const DIRECT_CHANNELS: usize = 8;

/// The forward tiles of one sample: vectors of flat positions outer (their inputs stay
/// in the cache across the channel tiles), channels inner.
#[allow(clippy::too_many_arguments)]
fn correlate_sample(
    xp: &[f32],
    taps: &[usize],
    lanes: &[(u16, usize)],
    wt: &[f32],
    bias: &[f32],
    relu: bool,
    y: &mut [MaybeUninit<f32>],
    g: &Geometry,
) {
    let l = g.oh() * g.ow();
    let ldw = bias.len();
    assert!(xp.len() >= g.padded_len() && y.len() >= g.cout * l && wt.len() >= taps.len() * ldw);
    for v0 in (0..lanes.len()).step_by(NQ) {
        let nq = NQ.min(lanes.len() - v0);
        for o0 in (0..g.cout).step_by(MO) {
            let tile = avx512::Tile {
                x: xp[v0 * LANES..].as_ptr(),
                w: wt[o0..].as_ptr(),
                ldw,
                y: y[o0 * l..].as_mut_ptr().cast(),
                ldy: l,
                channels: MO.min(g.cout - o0),
            };
            let b: [f32; MO] = std::array::from_fn(|i| bias[o0 + i]);
            let lanes = &lanes[v0..v0 + nq];
            // SAFETY: AVX-512F is present (`correlate` checks). Reads: the flat input
            // up to `off(t) + 16·(v0 + nq) ≤ padded_len` (see `Geometry::taps`), the
            // weights `t·ldw + o0 + 0..MO < taps·ldw`. Writes: the valid lanes of
            // channels `o0..o0 + channels`, dense indices below `l` each.
            unsafe {
                match nq {
                    6 => tile.forward::<6>(taps, lanes, b, relu),
                    5 => tile.forward::<5>(taps, lanes, b, relu),
                    4 => tile.forward::<4>(taps, lanes, b, relu),
                    3 => tile.forward::<3>(taps, lanes, b, relu),
                    2 => tile.forward::<2>(taps, lanes, b, relu),
                    _ => tile.forward::<1>(taps, lanes, b, relu),
                }
            }
        }
    }
}

mod avx512 {
    use super::{LANES, MO};
    use std::arch::x86_64::*;

    /// Writes one padded plane `dst [hp, wp]`: zeros, with `src [h, w]` at `(top,
    /// left)`. Each vector of a row is one masked load (lanes outside `left..left + w`
    /// read as zero, without touching memory) and one store.
    ///
    /// # Safety
    /// AVX-512F is present; `dst` is valid for `hp·wp` writes, `src` for `h·w` reads,
    /// `top + h ≤ hp` and `left + w ≤ wp`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn pad_plane(
        dst: *mut f32,
        src: *const f32,
        (h, w): (usize, usize),
        (hp, wp): (usize, usize),
        (top, left): (usize, usize),
    ) {
        // lanes of the vector at j0 that lie in left..left + w
        let below = |n: usize| (1u32 << n.min(LANES)) - 1;
        let inside = |j0: usize| -> __mmask16 {
            (below((left + w).saturating_sub(j0)) & !below(left.saturating_sub(j0))) as u16
        };
        let store = |j0: usize| -> __mmask16 { below(wp - j0) as u16 };
        for y in 0..hp {
            // SAFETY: y < hp, so the row starts inside `dst`'s hp·wp elements.
            let row = unsafe { dst.add(y * wp) };
            let mut j0 = 0;
            while j0 < wp {
                let v = if (top..top + h).contains(&y) {
                    // lane l reads src[(y − top)·w + j0 + l − left] only inside the row
                    let s = src.wrapping_add((y - top) * w + j0).wrapping_sub(left);
                    // SAFETY: AVX-512F is present; the mask enables only the lanes
                    // whose column lies in left..left + w, which read row y − top < h
                    // of `src`; masked-off lanes are not accessed.
                    unsafe { _mm512_maskz_loadu_ps(inside(j0), s) }
                } else {
                    _mm512_setzero_ps()
                };
                // SAFETY: the mask enables the lanes below wp − j0: inside the row.
                unsafe { _mm512_mask_storeu_ps(row.add(j0), store(j0), v) };
                j0 += LANES;
            }
        }
    }

    /// A forward tile: `MO` output channels × `NQ` vectors of flat positions.
    pub(super) struct Tile {
        /// The flat input at the tile's first vector.
        pub x: *const f32,
        /// The weights of the tile's first channel; tap `t` at `w + t·ldw`.
        pub w: *const f32,
        pub ldw: usize,
        /// The dense output of the tile's first channel; channel stride `ldy`.
        pub y: *mut f32,
        pub ldy: usize,
        /// Channels of the tile that exist (the weights of the others are zero).
        pub channels: usize,
    }

    impl Tile {
        /// `y[i][q] = b[i] + Σ_t w[t][i] · x[off(t) + q]`, relu'd, stored compressed.
        ///
        /// # Safety
        /// AVX-512F is present; the pointers are valid as [`super::correlate_sample`]
        /// sets them up.
        #[target_feature(enable = "avx512f")]
        pub(super) unsafe fn forward<const NQ: usize>(
            &self,
            taps: &[usize],
            lanes: &[(u16, usize)],
            b: [f32; MO],
            relu: bool,
        ) {
            let mut acc = [[_mm512_setzero_ps(); NQ]; MO];
            for (i, row) in acc.iter_mut().enumerate() {
                *row = [_mm512_set1_ps(b[i]); NQ];
            }
            for (t, &off) in taps.iter().enumerate() {
                let mut xv = [_mm512_setzero_ps(); NQ];
                for (j, v) in xv.iter_mut().enumerate() {
                    // SAFETY: `correlate_sample` pads the flat input so that every
                    // tap offset plus the tile's NQ vectors stays inside it.
                    *v = unsafe { _mm512_loadu_ps(self.x.add(off + j * LANES)) };
                }
                // SAFETY: the weights hold `taps.len()` rows of `ldw ≥ MO` values.
                let w = unsafe { self.w.add(t * self.ldw) };
                for (i, row) in acc.iter_mut().enumerate() {
                    // SAFETY: i < MO ≤ ldw: inside tap t's row of weights.
                    let a = _mm512_set1_ps(unsafe { *w.add(i) });
                    for (r, &v) in row.iter_mut().zip(&xv) {
                        *r = _mm512_fmadd_ps(a, v, *r);
                    }
                }
            }
            let zero = _mm512_setzero_ps();
            for (i, row) in acc.iter().enumerate().take(self.channels) {
                for (&r, &(mask, start)) in row.iter().zip(lanes) {
                    // max(0, NaN) is NaN, as PyTorch's ReLU
                    let r = if relu { _mm512_max_ps(zero, r) } else { r };
                    let dense: __mmask16 = ((1u32 << mask.count_ones()) - 1) as u16;
                    // SAFETY: the compressed lanes are this vector's valid outputs,
                    // `count_ones(mask)` of them from `start` in channel i < channels'
                    // dense row, which the output holds.
                    unsafe {
                        _mm512_mask_storeu_ps(
                            self.y.add(i * self.ldy + start),
                            dense,
                            _mm512_maskz_compress_ps(mask, r),
                        )
                    };
                }
            }
        }
    }
}
