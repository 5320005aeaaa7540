//! Convolutions on small planes: the columns of several samples side by side in one
//! GEMM.
//!
//! Per sample, each im2col kernel is a GEMM with `L = OH·OW` columns: `[cout, K] ·
//! [K, L]`. On the last stage of an ImageNet ResNet `L` is 49 while `K` is 4608, and
//! GEMMs that narrow run well below the GEMM's rate (the `gemm` crate packs the
//! 9 MB weight again for every sample, and the input gradient's `[4608, 49]` output
//! fits its register tiles badly). So when `L` is short, the samples of a group of `s` are unfolded
//! into one `[K, s·L]` matrix (sample `j` in columns `j·L..(j+1)·L`) and each kernel is
//! one GEMM per group and channel group:
//!
//! - forward: `Y = W · [cols₀ … cols_s]`, scattered into `[s, cout, L]` (+ bias);
//! - input gradient: `[cols₀ … cols_s] = Wᵀ · [g₀ … g_s]`, each sample folded by col2im;
//! - weight gradient: `gW = Σ_groups [g₀ … g_s] · [cols₀ … cols_s]ᵀ`, the groups' sums
//!   in fixed chunks added in order ([`batch_sum`]), so the result does not depend on
//!   the thread count.
//!
//! Measured on ResNet-18's convolutions at batch 16 (2 threads, AVX-512, ms per call,
//! per-sample → 8 samples per GEMM): 3×3 512 → 512 on 7×7, input gradient 35.4 → 19.7,
//! weight gradient 21.4 → 18.6, forward 17.2 → 17.4; 3×3 stride 2 256 → 512 from 14×14,
//! input gradient 13.2 → 10.1, weight gradient 9.7 → 8.8, forward 9.5 → 8.2. On 14×14
//! outputs, 2 or 3 samples per GEMM gained nothing (±5 %), so larger planes stay per
//! sample.

use super::geometry::{batch_parallel, batch_sum, ConvGeom, Dims, SUM_CHUNK};
use super::unfold::{col2im, im2col};
use crate::kernel::{assume_init, gemm, Float, Mat};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Planes of fewer positions than this are stacked (measured: on 14×14 planes,
/// stacking 2 or 3 samples is no faster, on 7×7 it is).
const SMALL_PLANE: usize = 128;
/// Columns a GEMM of stacked planes aims at.
const STACKED_COLS: usize = 512;

/// Samples per GEMM for this convolution: 1 unless a plane has fewer than
/// [`SMALL_PLANE`] positions, else enough samples for [`STACKED_COLS`] columns,
/// balanced over the batch (16 samples of 7×7 make two groups of 8, not 11 + 5).
pub(super) fn samples_per_gemm(d: &Dims) -> usize {
    let l = d.l().max(1);
    if l >= SMALL_PLANE || d.n < 2 {
        return 1;
    }
    let want = STACKED_COLS.div_ceil(l).min(d.n);
    d.n.div_ceil(d.n.div_ceil(want))
}

/// Per-task buffers: the stacked columns `[K, s·L]` and a stacked `[cout, s·L]`
/// matrix (the forward's output, the gradients' gathered output gradient).
#[derive(Default)]
struct Buffers<T> {
    cols: Vec<T>,
    wide: Vec<T>,
}

impl<T: Float> Buffers<T> {
    /// The buffers sized for `ns` samples (zeros where they grow; every element the
    /// kernels read is written first).
    fn sized(&mut self, d: &Dims, ns: usize) -> (&mut [T], &mut [T]) {
        let ld = ns * d.l();
        self.cols.resize(d.cin * d.kh * d.kw * ld, T::default());
        self.wide.resize(d.cout * ld, T::default());
        (&mut self.cols[..], &mut self.wide[..])
    }
}

/// Unfolds samples `first..first + ns` of `x` side by side into `cols` (row stride `ns·L`).
fn unfold_group<T: Float>(
    x: &[T],
    cols: &mut [T],
    first: usize,
    ns: usize,
    d: &Dims,
    g: &ConvGeom,
) {
    let (l, in_len) = (d.l(), d.cin * d.h * d.w);
    for j in 0..ns {
        let x_n = &x[(first + j) * in_len..][..in_len];
        im2col(x_n, &mut cols[j * l..], ns * l, d, g);
    }
}

/// Lays the output gradients of samples `first..first + ns` side by side:
/// `wide [cout, ns·L]`.
fn gather_group<T: Float>(grad: &[T], wide: &mut [T], first: usize, ns: usize, d: &Dims) {
    let l = d.l();
    for j in 0..ns {
        let g_n = &grad[(first + j) * d.cout * l..][..d.cout * l];
        for (o, src) in g_n.chunks_exact(l).enumerate() {
            wide[o * ns * l + j * l..][..l].copy_from_slice(src);
        }
    }
}

/// Runs `group(buffers, first_sample, chunk, par)` over the batch's groups of `s`
/// samples, `chunk` being the group's part of `out` (`per_sample` values each): in
/// parallel when there are enough groups, else one after the other with the GEMMs on
/// the threads.
fn for_groups<T: Float, U: Send>(
    out: &mut [U],
    per_sample: usize,
    s: usize,
    group: impl Fn(&mut Buffers<T>, usize, &mut [U], bool) + Sync,
) {
    let groups = out.len().div_ceil(s * per_sample);
    if batch_parallel(groups) {
        out.par_chunks_mut(s * per_sample)
            .enumerate()
            .for_each_init(Buffers::default, |b, (i, c)| group(b, i * s, c, false));
    } else {
        let mut b = Buffers::default();
        for (i, c) in out.chunks_mut(s * per_sample).enumerate() {
            group(&mut b, i * s, c, true);
        }
    }
}

/// The forward convolution `[n, cout, OH, OW]`, `s` samples per GEMM.
pub(super) fn conv_fwd<T: Float>(
    x: &[T],
    wt: &[T],
    bias: Option<&[T]>,
    d: &Dims,
    g: &ConvGeom,
    s: usize,
) -> Vec<T> {
    let (kg, l) = (d.kg(g), d.l());
    let mg = d.cout / g.groups;
    let len = d.n * d.cout * l;
    let mut out: Vec<T> = Vec::with_capacity(len);
    let group = |b: &mut Buffers<T>, first: usize, out_c: &mut [MaybeUninit<T>], par| {
        let ns = out_c.len() / (d.cout * l);
        let ld = ns * l;
        let (cols, wide) = b.sized(d, ns);
        unfold_group(x, cols, first, ns, d, g);
        for gi in 0..g.groups {
            let w = Mat::rows(&wt[gi * mg * kg..], kg);
            let c = Mat::rows(&cols[gi * kg * ld..], ld);
            gemm(mg, ld, kg, &mut wide[gi * mg * ld..], false, w, c, par);
        }
        scatter(wide, out_c, bias, d);
    };
    for_groups(&mut out.spare_capacity_mut()[..len], d.cout * l, s, group);
    // SAFETY: `scatter` initialized every group's chunk, and the chunks cover `len`.
    unsafe { out.set_len(len) };
    out
}

/// `out [ns, cout, L] = wide [cout, ns·L]` regrouped by sample, plus the bias.
fn scatter<T: Float>(wide: &[T], out: &mut [MaybeUninit<T>], bias: Option<&[T]>, d: &Dims) {
    let l = d.l();
    let ld = out.len() / d.cout;
    for (j, out_n) in out.chunks_exact_mut(d.cout * l).enumerate() {
        for (o, row) in out_n.chunks_exact_mut(l).enumerate() {
            let b = bias.map_or(T::default(), |b| b[o]);
            for (v, &y) in row.iter_mut().zip(&wide[o * ld + j * l..][..l]) {
                v.write(y + b);
            }
        }
    }
}

/// The input gradient `[n, cin, H, W]`, `s` samples per GEMM.
pub(super) fn conv_bwd_data<T: Float>(
    grad: &[T],
    wt: &[T],
    d: &Dims,
    g: &ConvGeom,
    s: usize,
) -> Vec<T> {
    let (kg, l) = (d.kg(g), d.l());
    let mg = d.cout / g.groups;
    let in_len = d.cin * d.h * d.w;
    let len = d.n * in_len;
    let mut gx: Vec<T> = Vec::with_capacity(len);
    let group = |b: &mut Buffers<T>, first: usize, gx_c: &mut [MaybeUninit<T>], par| {
        // zeros for col2im to add into, written by the task that uses them
        gx_c.fill(MaybeUninit::new(T::default()));
        // SAFETY: every element was written just above.
        let gx_c = unsafe { assume_init(gx_c) };
        let ns = gx_c.len() / in_len;
        let ld = ns * l;
        let (cols, wide) = b.sized(d, ns);
        gather_group(grad, wide, first, ns, d);
        for gi in 0..g.groups {
            let w = Mat::rows_t(&wt[gi * mg * kg..], kg);
            let gy = Mat::rows(&wide[gi * mg * ld..], ld);
            gemm(kg, ld, mg, &mut cols[gi * kg * ld..], false, w, gy, par);
        }
        for (j, gx_n) in gx_c.chunks_exact_mut(in_len).enumerate() {
            col2im(&cols[j * l..], gx_n, ld, d, g);
        }
    };
    for_groups(&mut gx.spare_capacity_mut()[..len], in_len, s, group);
    // SAFETY: every group's chunk was zeroed, and the chunks cover `len`.
    unsafe { gx.set_len(len) };
    gx
}

/// The weight gradient `[cout, cin/groups, kH, kW]`, `s` samples per GEMM; the batch is
/// summed in chunks of whole groups (about [`SUM_CHUNK`] samples).
pub(super) fn conv_bwd_weight<T: Float>(
    x: &[T],
    grad: &[T],
    d: &Dims,
    g: &ConvGeom,
    s: usize,
) -> Vec<T> {
    let (kg, l) = (d.kg(g), d.l());
    let mg = d.cout / g.groups;
    let w_len = d.cout * kg;
    let chunk = s * SUM_CHUNK.div_ceil(s);
    let chunk_sum = |c: usize, par: bool| {
        let mut acc = vec![T::default(); w_len];
        let mut b = Buffers::default();
        let end = ((c + 1) * chunk).min(d.n);
        for first in (c * chunk..end).step_by(s) {
            let ns = s.min(end - first);
            let ld = ns * l;
            let (cols, wide) = b.sized(d, ns);
            unfold_group(x, cols, first, ns, d, g);
            gather_group(grad, wide, first, ns, d);
            for gi in 0..g.groups {
                let gy = Mat::rows(&wide[gi * mg * ld..], ld);
                let c = Mat::rows_t(&cols[gi * kg * ld..], ld);
                gemm(mg, kg, ld, &mut acc[gi * mg * kg..], true, gy, c, par);
            }
        }
        acc
    };
    batch_sum(d.n, chunk, w_len, chunk_sum)
}
