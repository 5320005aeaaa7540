//! The weight gradient of a stride-1 convolution without an im2col matrix: GEMMs over a
//! zero-padded channels-last copy of each sample, read as a sliding window.
//!
//! With the sample padded to `xp [HP, WP, C]` (channels last) and the output
//! gradient laid on the padded width, `gp [O, OH·WP]` (zeros at the `WP − OW` columns
//! past each row), the flat position `q = y·WP + x` and a kernel row `ky` give
//!
//! `gw[o, c, ky, kx] = Σ_q gp[o, q] · xp[(q + ky·WP)·C + kx·C + c]`,
//!
//! and for fixed `ky` the right operand `B_ky[q, j] = xp[(q + ky·WP)·C + j]`, `j = kx·C + c`,
//! is a matrix of row stride `C` and column stride 1 inside `xp`: its rows overlap and
//! it is never built. So the gradient is `kH` GEMMs `gp · B_ky` per sample, into
//! `[kH, O, kW·C]`, permuted to PyTorch's `[O, C, kH, kW]` at the end. The GEMM reads
//! both operands in place (no transposing pack of a `[C·kH·kW, OH·OW]` im2col matrix,
//! which took about as long as its multiply-adds on the benchmark's CNNs), at the price
//! of `WP/OW − 1` more operations for the padded columns.
//!
//! The sum over the batch is in fixed chunks added in order (`geometry::batch_sum`): the result
//! does not depend on the thread count.

use super::geometry::{batch_sum, ConvGeom, Dims, SUM_CHUNK};
use crate::kernel::{gemm, Float, Mat};

/// Whether [`conv_bwd_weight`] computes this convolution's weight gradient: stride 1,
/// dilation 1, one group, a kernel wider than one tap with enough channels that the
/// GEMMs have a useful width (`kW·C ≥ 32`), and padded rows at most a quarter longer
/// than the output's.
pub(crate) fn applies(d: &Dims, g: &ConvGeom) -> bool {
    let wp = d.w + g.pad_w.0 + g.pad_w.1;
    g.stride == (1, 1)
        && g.dilation == (1, 1)
        && g.groups == 1
        && d.kh * d.kw > 1
        && d.kw * d.cin >= 32
        && 4 * wp <= 5 * d.ow
        && d.h + g.pad_h.0 + g.pad_h.1 + 1 == d.oh + d.kh
        && wp + 1 == d.ow + d.kw
}

/// One sample's padded copies, reused across the samples of a chunk (the padding is
/// written once, as zeros, and never overwritten).
struct Scratch<T> {
    /// `[HP·WP + kW − 1, C]`: the sample channels-last, zero-padded, with a tail of
    /// zeros for the last window's reads.
    xp: Vec<T>,
    /// `[O, OH·WP]`: the output gradient on the padded width.
    gp: Vec<T>,
}

/// Sizes on the padded planes.
#[derive(Clone, Copy)]
struct Padded {
    hp: usize,
    wp: usize,
    top: usize,
    left: usize,
}

impl<T: Float> Scratch<T> {
    fn new(d: &Dims, p: Padded) -> Self {
        Self {
            xp: vec![T::default(); (p.hp * p.wp + d.kw - 1) * d.cin],
            gp: vec![T::default(); d.cout * d.oh * p.wp],
        }
    }

    /// Lays `x [C, H, W]` into `xp` and `g [O, OH, OW]` into `gp`.
    fn fill(&mut self, x: &[T], g: &[T], d: &Dims, p: Padded) {
        let (c, plane) = (d.cin, d.h * d.w);
        for iy in 0..d.h {
            let row = &mut self.xp[((iy + p.top) * p.wp + p.left) * c..][..d.w * c];
            // blocks of 8 channels: each pixel's 8 values are written side by side
            for c0 in (0..c).step_by(8) {
                let cb = (c - c0).min(8);
                let src = |k: usize| &x[(c0 + k) * plane + iy * d.w..][..d.w];
                if cb == 8 {
                    let s: [&[T]; 8] = std::array::from_fn(src);
                    for (ix, px) in row.chunks_exact_mut(c).enumerate() {
                        let px: &mut [T; 8] = (&mut px[c0..c0 + 8]).try_into().expect("8");
                        *px = std::array::from_fn(|k| s[k][ix]);
                    }
                } else {
                    for k in 0..cb {
                        for (ix, &v) in src(k).iter().enumerate() {
                            row[ix * c + c0 + k] = v;
                        }
                    }
                }
            }
        }
        for (dst, src) in self.gp.chunks_exact_mut(p.wp).zip(g.chunks_exact(d.ow)) {
            dst[..d.ow].copy_from_slice(src);
        }
    }
}

/// `gw [O, C, kH, kW] = Σₙ grad[n] ⋆ x[n]` for a convolution [`applies`] accepts.
pub(crate) fn conv_bwd_weight<T: Float>(x: &[T], grad: &[T], d: &Dims, g: &ConvGeom) -> Vec<T> {
    let p = Padded {
        hp: d.h + g.pad_h.0 + g.pad_h.1,
        wp: d.w + g.pad_w.0 + g.pad_w.1,
        top: g.pad_h.0,
        left: g.pad_w.0,
    };
    let (in_len, out_len) = (d.cin * d.h * d.w, d.cout * d.l());
    let (q, row) = (d.oh * p.wp, d.kw * d.cin);
    let block = d.cout * row;
    let chunk_sum = |ci: usize, par: bool| {
        let mut acc = vec![T::default(); d.kh * block];
        let mut s = Scratch::new(d, p);
        for i in ci * SUM_CHUNK..((ci + 1) * SUM_CHUNK).min(d.n) {
            s.fill(
                &x[i * in_len..][..in_len],
                &grad[i * out_len..][..out_len],
                d,
                p,
            );
            for ky in 0..d.kh {
                gemm(
                    d.cout,
                    row,
                    q,
                    &mut acc[ky * block..][..block],
                    true,
                    Mat::rows(&s.gp, q),
                    Mat::strided(&s.xp[ky * p.wp * d.cin..], d.cin, 1),
                    par,
                );
            }
        }
        acc
    };
    let acc = batch_sum(d.n, SUM_CHUNK, d.kh * block, chunk_sum);
    to_torch_layout(&acc, d)
}

/// `[kH, O, kW, C]` → `[O, C, kH, kW]`.
fn to_torch_layout<T: Float>(acc: &[T], d: &Dims) -> Vec<T> {
    let (c, kh, kw) = (d.cin, d.kh, d.kw);
    let mut gw = vec![T::default(); d.cout * c * kh * kw];
    for (o, out) in gw.chunks_exact_mut(c * kh * kw).enumerate() {
        for ky in 0..kh {
            let src = &acc[(ky * d.cout + o) * kw * c..][..kw * c];
            for kx in 0..kw {
                for ch in 0..c {
                    out[(ch * kh + ky) * kw + kx] = src[kx * c + ch];
                }
            }
        }
    }
    gw
}
