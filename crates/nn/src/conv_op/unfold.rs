//! im2col and col2im: a sample's receptive fields as the columns of a matrix, and
//! back (the adjoint, summing overlaps), at any row stride so that several samples'
//! columns can lie side by side in one matrix.

use super::geometry::{valid_range, ConvGeom, Dims};
use crate::kernel::Float;

/// Unfolds one sample `x [cin, h, w]` into `cols [cin·kh·kw, oh·ow]` at row stride
/// `ld ≥ oh·ow` (row `r` is `cols[r·ld..][..oh·ow]`; the rest of each row is left as it
/// is, where the columns of other samples go).
pub(crate) fn im2col<T: Float>(x: &[T], cols: &mut [T], ld: usize, d: &Dims, g: &ConvGeom) {
    let (h, w, oh, ow) = (d.h, d.w, d.oh, d.ow);
    let l = oh * ow;
    let zero = T::default();
    for c in 0..d.cin {
        let plane = &x[c * h * w..(c + 1) * h * w];
        for ky in 0..d.kh {
            let (y_lo, y_hi) = valid_range(oh, h, g.stride.0, ky * g.dilation.0, g.pad_h.0);
            for kx in 0..d.kw {
                let row = (c * d.kh + ky) * d.kw + kx;
                let dst = &mut cols[row * ld..][..l];
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

/// Folds `cols [cin·kh·kw, oh·ow]` (at row stride `ld`, as [`im2col`] writes it) back
/// into one sample `x [cin, h, w]`, summing overlaps: the adjoint of [`im2col`]. `x`
/// must hold zeros.
pub(crate) fn col2im<T: Float>(cols: &[T], x: &mut [T], ld: usize, d: &Dims, g: &ConvGeom) {
    let (h, w, oh, ow) = (d.h, d.w, d.oh, d.ow);
    let l = oh * ow;
    for c in 0..d.cin {
        let plane = &mut x[c * h * w..(c + 1) * h * w];
        for ky in 0..d.kh {
            let (y_lo, y_hi) = valid_range(oh, h, g.stride.0, ky * g.dilation.0, g.pad_h.0);
            for kx in 0..d.kw {
                let row = (c * d.kh + ky) * d.kw + kx;
                let src = &cols[row * ld..][..l];
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
