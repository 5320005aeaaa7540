//! Convolution computed directly from a zero-padded copy of each sample, with AVX-512
//! on f32: no im2col matrix and no GEMM packing. The `cpu` kernels use it for the
//! forward pass (any stride) and the input gradient (stride 1) of `Conv2d` with
//! dilation 1, one group and padding below the kernel size, when the CPU has AVX-512;
//! every other case (and other CPUs) keeps im2col + GEMM, and so does the weight
//! gradient. A strided forward runs over phase planes (see [`Geometry`]), where it is
//! a stride-1 correlation again.
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

/// Sizes of a correlation of `[n, cin, h, w]` with `[cout, cin, kh, kw]` over planes
/// zero-padded by `pad = (top, bottom, left, right)`, with `stride = (sH, sW)`.
///
/// A strided correlation is read as a stride-1 one over phase planes: with the padded
/// plane split into `P_ab[i, j] = xp[sH·i + a, sW·j + b]` (`a < min(sH, kH)`,
/// `b < min(sW, kW)`: the phases some tap reads), tap `(ky, kx)` of output `(y, x)`
/// reads `xp[sH·y + ky, sW·x + kx] = P_{ky mod sH, kx mod sW}[y + ky div sH, x + kx div
/// sW]`: a fixed flat offset again, on planes `HQ = ⌈HP/sH⌉` by `WQ = ⌈WP/sW⌉`.
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
    pub stride: (usize, usize),
}

impl Geometry {
    fn hp(&self) -> usize {
        self.h + self.pad.0 + self.pad.1
    }
    fn wp(&self) -> usize {
        self.w + self.pad.2 + self.pad.3
    }
    /// Height of a phase plane `⌈HP / sH⌉` (`HP` at stride 1).
    fn hq(&self) -> usize {
        self.hp().div_ceil(self.stride.0)
    }
    /// Width of a phase plane `⌈WP / sW⌉`: the row length of the flat positions.
    fn wq(&self) -> usize {
        self.wp().div_ceil(self.stride.1)
    }
    /// Phases per channel `(min(sH, kH), min(sW, kW))`.
    fn phases(&self) -> (usize, usize) {
        (self.stride.0.min(self.kh), self.stride.1.min(self.kw))
    }
    /// Output height `(HP − kH) / sH + 1`.
    pub fn oh(&self) -> usize {
        (self.hp() - self.kh) / self.stride.0 + 1
    }
    /// Output width `(WP − kW) / sW + 1`.
    pub fn ow(&self) -> usize {
        (self.wp() - self.kw) / self.stride.1 + 1
    }
    fn plane(&self) -> usize {
        self.hq() * self.wq()
    }
    /// Planes of one padded sample: `cin` times the phases.
    fn planes(&self) -> usize {
        let (ph, pw) = self.phases();
        self.cin * ph * pw
    }
    /// Vectors covering the flat output positions `0..OH·WQ`.
    fn vectors(&self) -> usize {
        (self.oh() * self.wq()).div_ceil(LANES)
    }
    /// Length of one padded sample: the planes, then zeros for the reads of the last
    /// vector past the last plane (at most `kW + 14` elements, see [`Self::taps`]).
    fn padded_len(&self) -> usize {
        self.planes() * self.plane() + self.kw + LANES
    }
    /// The flat offset of each tap `(c, ky, kx)`, in weight order: plane `(c, ky mod
    /// sH, kx mod sW)`, row `ky div sH`, column `kx div sW`. Since `sH·(OH − 1) + kH ≤
    /// HP`, a tap's row plus `OH` is at most `HQ`, so the last vector's last lane reads
    /// at most `planes·HQ·WQ + kW + 13`, inside [`Self::padded_len`].
    fn taps(&self) -> Vec<usize> {
        let (plane, wq) = (self.plane(), self.wq());
        let ((sh, sw), (ph, pw)) = (self.stride, self.phases());
        (0..self.cin)
            .flat_map(|c| {
                (0..self.kh).flat_map(move |ky| {
                    (0..self.kw).map(move |kx| {
                        let p = (c * ph + ky % sh) * pw + kx % sw;
                        p * plane + ky / sh * wq + kx / sw
                    })
                })
            })
            .collect()
    }
    /// For each vector, the mask of its lanes that are output positions (`x < OW` and
    /// inside the plane) and the dense index `y·OW + x` of its first such lane.
    fn lanes(&self) -> Vec<(u16, usize)> {
        let (wq, ow, len) = (self.wq(), self.ow(), self.oh() * self.wq());
        (0..self.vectors())
            .map(|v| {
                let q0 = v * LANES;
                let mask = (0..LANES)
                    .filter(|&l| q0 + l < len && (q0 + l) % wq < ow)
                    .fold(0u16, |m, l| m | 1 << l);
                (mask, (q0 / wq) * ow + (q0 % wq).min(ow))
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
/// around it (at a stride above 1, each channel's phase planes), then the zero tail.
fn pad_into(xp: &mut [f32], x: &[f32], g: &Geometry) {
    let (plane, planes) = (g.plane(), g.planes());
    let (h, w) = (g.h, g.w);
    assert!(xp.len() >= g.padded_len() && x.len() >= g.cin * h * w);
    assert!(g.pad.2 + w <= g.wp() && g.pad.0 + h <= g.hp());
    if g.stride == (1, 1) {
        for (p, src) in xp[..planes * plane]
            .chunks_exact_mut(plane)
            .zip(x.chunks_exact(h * w))
        {
            // SAFETY: AVX-512F is present (the callers check); `p` holds the `hp·wp`
            // plane, `src` the `h·w` one, and the interior fits (asserted above).
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
    } else {
        let per_channel = planes / g.cin.max(1) * plane;
        // one padded row, as long as the phase rows cover (`sW·WQ ≥ WP`)
        let mut row = vec![0.0; g.stride.1 * g.wq()];
        for (p, src) in xp[..planes * plane]
            .chunks_exact_mut(per_channel)
            .zip(x.chunks_exact(h * w))
        {
            phase_planes(p, src, &mut row, g);
        }
    }
    xp[planes * plane..g.padded_len()].fill(0.0);
}

/// One channel's phase planes `P_ab [HQ, WQ]` (see [`Geometry`]) of `src [h, w]`
/// padded; `row` holds one padded row (`sW·WQ` values, zeros past `WP`).
fn phase_planes(dst: &mut [f32], src: &[f32], row: &mut [f32], g: &Geometry) {
    let ((sh, sw), (ph, pw)) = (g.stride, g.phases());
    let (wq, plane, (top, left)) = (g.wq(), g.plane(), (g.pad.0, g.pad.2));
    assert!(row.len() == sw * wq && left + g.w <= row.len() && dst.len() == ph * pw * plane);
    for a in 0..ph {
        for i in 0..g.hq() {
            let r = sh * i + a;
            let out = |b: usize| (a * pw + b) * plane + i * wq;
            if !(top..top + g.h).contains(&r) {
                for b in 0..pw {
                    dst[out(b)..][..wq].fill(0.0);
                }
                continue;
            }
            row[left..left + g.w].copy_from_slice(&src[(r - top) * g.w..][..g.w]);
            if sw == 2 && pw == 2 {
                let (even, odd) = dst[out(0)..].split_at_mut(plane);
                // SAFETY: AVX-512F is present (the callers check).
                unsafe { avx512::deinterleave(row, &mut even[..wq], &mut odd[..wq]) };
            } else {
                for b in 0..pw {
                    let d = &mut dst[out(b)..][..wq];
                    d.iter_mut()
                        .zip(row[b..].iter().step_by(sw))
                        .for_each(|(d, &v)| *d = v);
                }
            }
        }
    }
}

/// The geometry of the direct kernels (this module's) for this convolution,
/// when they apply: a CPU with AVX-512, dilation 1, one group, padding below the kernel
/// size on every side (the input gradient pads by `k − 1 − p`), stride 1 or (forward
/// only) a kernel of more than one tap at any stride, a batch that fills the threads,
/// and enough work per output position: [`DIRECT_TAPS`] to [`DIRECT_MAX_TAPS`]
/// taps (a forward with at most [`DIRECT_FEW_TAPS_CHANNELS`] output channels: from
/// [`DIRECT_FEW_TAPS`]; at a stride above 1, at most [`DIRECT_MAX_ROWS_STRIDED`] row
/// segments) (`channels in · kH · kW` of the correlation) and [`DIRECT_CHANNELS`] output
/// channels (`transposed`: the input gradient's, whose taps are the output channels).
///
/// Measured on the W2 shapes (batch 64, 3×3, padding 1, 2 threads, AVX-512): 32 → 64
/// on 14×14, forward 1.27 ms direct vs 1.81 ms im2col, input gradient 1.26 vs 1.67 ms;
/// 1 → 32 on 28×28 (9 taps; its input gradient has one output channel), input
/// gradient 0.37 vs 0.13 ms, so that one stays on im2col (its forward, 0.18 vs 0.13 ms
/// then, now measures even: see [`DIRECT_FEW_TAPS`]).
pub(super) fn direct(d: &Dims, g: &ConvGeom, transposed: bool) -> Option<Geometry> {
    let (taps, channels) = if transposed {
        (d.cout * d.kh * d.kw, d.cin)
    } else {
        (d.cin * d.kh * d.kw, d.cout)
    };
    // at a stride, a tile reads `cin·kH·min(sW, kW)` row segments of phase planes
    let strided_rows = d.cin * d.kh * g.stride.1.min(d.kw);
    let within = if g.stride == (1, 1) {
        taps <= DIRECT_MAX_TAPS
    } else {
        d.kh * d.kw > 1 && strided_rows <= DIRECT_MAX_ROWS_STRIDED
    };
    // a forward with few taps: direct up to 32 output channels, where the GEMM's rows
    // are too few to pay for the im2col matrix
    let few = !transposed && taps >= DIRECT_FEW_TAPS && channels <= DIRECT_FEW_TAPS_CHANNELS;
    let worth = (taps >= DIRECT_TAPS || few)
        && within
        && channels >= DIRECT_CHANNELS
        && batch_parallel(d.n);
    direct_fits(d, g, transposed).filter(|_| worth)
}

/// The direct kernels' geometry when they can compute this convolution (whether or not
/// they are the faster way): AVX-512, dilation 1, one group, padding below the kernel
/// size; the input gradient (`transposed`) also needs stride 1.
pub(super) fn direct_fits(d: &Dims, g: &ConvGeom, transposed: bool) -> Option<Geometry> {
    geometry_fits(d, g, transposed).filter(|_| available())
}

/// [`direct_fits`] without the CPU's part: the geometries a direct kernel over
/// zero-padded planes can compute, on any instruction set.
pub(super) fn geometry_fits(d: &Dims, g: &ConvGeom, transposed: bool) -> Option<Geometry> {
    let fits = (g.stride == (1, 1) || (!transposed && g.stride.0 >= 1 && g.stride.1 >= 1))
        && g.dilation == (1, 1)
        && g.groups == 1
        && g.pad_h.0 < d.kh
        && g.pad_h.1 < d.kh
        && g.pad_w.0 < d.kw
        && g.pad_w.1 < d.kw;
    fits.then_some(Geometry {
        n: d.n,
        cin: d.cin,
        h: d.h,
        w: d.w,
        cout: d.cout,
        kh: d.kh,
        kw: d.kw,
        pad: (g.pad_h.0, g.pad_h.1, g.pad_w.0, g.pad_w.1),
        stride: g.stride,
    })
    .filter(|dg| dg.oh() == d.oh && dg.ow() == d.ow)
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
        stride: (1, 1),
    };
    let wt = flipped_taps_major(wt, d.cout, d.cin, d.kh, d.kw);
    correlate(grad, &back, &wt, None, false)
}

/// Fewest taps per output position for the direct kernels (see [`direct`]).
const DIRECT_TAPS: usize = 32;
/// Fewest taps for a direct forward with at most [`DIRECT_FEW_TAPS_CHANNELS`] output
/// channels. Measured (2 threads, AVX-512, ms per forward, im2col → direct, 3
/// interleaved runs): 3 → 16 3×3 stride 2 on 224×224 at batch 16 (27 taps, W3's
/// first convolution) 3.55 → 2.13; 3 → 32 5.28 → 3.60; 1 → 32 stride 2 on 28×28 at
/// batch 128 0.69 → 0.38; 3 → 24 stride 2 on 96×96 1.54 → 1.01; 3 → 16 stride 1 on
/// 224×224 9.5 → 5.5; 2 → 16 on 28×28 at batch 64 0.41 → 0.35; 1 → 32 on 28×28
/// 0.51 → 0.49 (batch 64), 0.92 → 0.91 (batch 128). With 64 output channels the GEMM
/// wins: 3 → 64 on 32×32 at batch 128 3.9 → 5.3, stride 2 on 64×64 5.5 → 6.5.
const DIRECT_FEW_TAPS: usize = 8;
/// Most output channels of a direct forward with fewer than [`DIRECT_TAPS`] taps.
const DIRECT_FEW_TAPS_CHANNELS: usize = 32;
/// Most taps for the direct kernels: past them a tile's inputs and weights outgrow the
/// L1 cache and the blocked GEMM is faster. Measured on ResNet-18 (batch 16, 224×224,
/// 2 threads): its 256- and 512-channel 3×3 convolutions (2304 and 4608 taps) by GEMM
/// take an epoch of the hymenoptera images from 20.4 s to 16.9 s; up to 1152 taps the
/// direct kernels stay at least as fast (W4's 576: 5 % faster than GEMM).
const DIRECT_MAX_TAPS: usize = 1152;
/// Most row segments a tile of the strided forward reads, `cin·kH·min(sW, kW)` (one
/// per tap row and column phase): past them its inputs outgrow the caches and the GEMM
/// is faster, as past [`DIRECT_MAX_TAPS`] at stride 1 (3×3: 384 rows). Measured at
/// stride 2 (2 threads, AVX-512, ms per forward, im2col → direct, 3 interleaved runs):
/// 3×3 16 → 32 on 28×28 at batch 64 (96 rows) 1.56 → 0.93; 48 → 64 at batch 32 (288)
/// 2.67 → 2.10; 32 → 64 on 112×112 at batch 16 (192) 13.5 → 10.9; 5×5 32 → 32 at
/// batch 32 (320) 3.93 → 1.70; the 7×7 stem 3 → 64 on 224×224 at batch 16 (42) 25.7 →
/// 16.7; 64 → 128 on 56×56 at batch 16 (384) 9.5 → 9.8; 128 → 256 on 28×28 (768) 7.7 →
/// 10.7. 1×1 kernels at a stride stay on im2col (64 → 128: 1.57 → 2.10).
const DIRECT_MAX_ROWS_STRIDED: usize = 320;
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

    /// `even[j] = row[2j]`, `odd[j] = row[2j + 1]` for `j < even.len()`, by two-vector
    /// permutes.
    ///
    /// # Safety
    /// AVX-512F is present.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn deinterleave(row: &[f32], even: &mut [f32], odd: &mut [f32]) {
        let n = even.len();
        assert!(odd.len() == n && row.len() >= 2 * n);
        let lo = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let hi = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        let mut j = 0;
        while j + LANES <= n {
            // SAFETY: 2j + 32 ≤ 2n ≤ row.len(); j + 16 ≤ n for the stores.
            unsafe {
                let a = _mm512_loadu_ps(row.as_ptr().add(2 * j));
                let b = _mm512_loadu_ps(row.as_ptr().add(2 * j + LANES));
                _mm512_storeu_ps(even.as_mut_ptr().add(j), _mm512_permutex2var_ps(a, lo, b));
                _mm512_storeu_ps(odd.as_mut_ptr().add(j), _mm512_permutex2var_ps(a, hi, b));
            }
            j += LANES;
        }
        for j in j..n {
            even[j] = row[2 * j];
            odd[j] = row[2 * j + 1];
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
