//! Resizing as PIL's `Image.resize` (8-bit images) and torch's `interpolate` (float
//! arrays) compute it.
//!
//! Bilinear and bicubic are separable: one set of filter taps per output column and one
//! per output row is computed once ([`Taps`]), then a horizontal and a vertical pass
//! apply them. PIL's filters are scaled by the downscale factor (support
//! `filter_support · max(in/out, 1)`, the antialiasing), normalized to sum 1, and for
//! 8-bit images turned into 22-bit fixed point (`round(w · 2²²)`, half away from zero);
//! each pass adds `2²¹` and shifts right by 22, clipping to `0..=255`, horizontal pass
//! first (rows rounded to 8 bits in between), as PIL's `ImagingResample`.

use super::geometry::dims;
use crate::transforms::common::InterpolationMode;
use crate::{Array, Image, Input, Result};

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// The taps of a 1-D resampling: output `i` is `Σ_k w[i·ksize + k] · in[start[i] + k]`
/// for `k < len[i]`.
#[derive(Debug, Clone)]
pub(crate) struct Taps {
    ksize: usize,
    start: Vec<usize>,
    len: Vec<usize>,
    w: Vec<f64>,
}

fn bilinear_filter(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

fn bicubic_filter(x: f64) -> f64 {
    // Keys' cubic with a = −0.5, as PIL (and torch's antialiased bicubic)
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

impl Taps {
    /// PIL's `precompute_coeffs` (also torch's antialiased `_upsample_*_aa`): the filter
    /// centred on `(i + 0.5) · in/out`, widened by the downscale factor.
    pub(crate) fn antialiased(in_size: usize, out_size: usize, mode: InterpolationMode) -> Self {
        let (filter, support): (fn(f64) -> f64, f64) = match mode {
            InterpolationMode::Bicubic => (bicubic_filter, 2.0),
            _ => (bilinear_filter, 1.0),
        };
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = support * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let mut t = Taps {
            ksize,
            start: Vec::with_capacity(out_size),
            len: Vec::with_capacity(out_size),
            w: vec![0.0; out_size * ksize],
        };
        let ss = 1.0 / filterscale;
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            // C's (int) truncates toward zero
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let n = xmax.saturating_sub(xmin).min(ksize);
            let k = &mut t.w[xx * ksize..xx * ksize + n];
            let mut ww = 0.0;
            for (x, kx) in k.iter_mut().enumerate() {
                let w = filter(((x + xmin) as f64 - center + 0.5) * ss);
                *kx = w;
                ww += w;
            }
            if ww != 0.0 {
                for kx in k.iter_mut() {
                    *kx /= ww;
                }
            }
            t.start.push(xmin);
            t.len.push(n);
        }
        t
    }

    /// torch's `interpolate(…, align_corners=False, antialias=False)` taps: bilinear
    /// from `max((i + 0.5) · in/out − 0.5, 0)`, bicubic with a = −0.75 and clamped
    /// indices.
    pub(crate) fn plain(in_size: usize, out_size: usize, mode: InterpolationMode) -> Self {
        let scale = in_size as f32 / out_size as f32;
        let last = in_size as i64 - 1;
        let ksize = match mode {
            InterpolationMode::Bicubic => 4,
            _ => 2,
        };
        let mut t = Taps {
            ksize,
            start: Vec::with_capacity(out_size),
            len: Vec::with_capacity(out_size),
            w: vec![0.0; out_size * ksize],
        };
        for i in 0..out_size {
            let src = scale * (i as f32 + 0.5) - 0.5;
            // (index, weight) pairs, then folded into a contiguous window
            let mut pairs = [(0i64, 0f64); 4];
            let n = if mode == InterpolationMode::Bicubic {
                const A: f64 = -0.75;
                let x0 = src.floor();
                let tt = f64::from(src - x0);
                let c1 = |x: f64| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
                let c2 = |x: f64| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
                let ws = [c2(tt + 1.0), c1(tt), c1(1.0 - tt), c2(2.0 - tt)];
                for (k, w) in ws.iter().enumerate() {
                    pairs[k] = ((x0 as i64 - 1 + k as i64).clamp(0, last), *w);
                }
                4
            } else {
                let src = src.max(0.0);
                let x0 = (src.floor() as i64).min(last);
                let l1 = f64::from((src - x0 as f32).clamp(0.0, 1.0));
                let x1 = if x0 < last { x0 + 1 } else { x0 };
                pairs[0] = (x0, 1.0 - l1);
                pairs[1] = (x1, l1);
                2
            };
            let lo = pairs[..n].iter().map(|p| p.0).min().unwrap_or(0);
            let hi = pairs[..n].iter().map(|p| p.0).max().unwrap_or(0);
            for &(idx, w) in &pairs[..n] {
                t.w[i * ksize + (idx - lo) as usize] += w;
            }
            t.start.push(lo as usize);
            t.len.push((hi - lo + 1) as usize);
        }
        t
    }

    fn fixed(&self) -> Vec<i32> {
        self.w
            .iter()
            .map(|&w| {
                let v = w * f64::from(1u32 << PRECISION_BITS);
                (if w < 0.0 { v - 0.5 } else { v + 0.5 }) as i32
            })
            .collect()
    }
}

#[inline]
fn clip8(v: i32) -> u8 {
    if v >= (1 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// 22-bit taps of one pass with every window `ksize` long: a window that would run past
/// the last input is moved left and its weights right, zeros in front, so that each
/// output is a dot product of the same length (the zeros change no sum).
struct Windows {
    ksize: usize,
    start: Vec<usize>,
    w: Vec<i32>,
}

impl Windows {
    /// `None` when the input is shorter than one window.
    fn new(taps: &Taps, in_size: usize) -> Option<Self> {
        let ksize = taps.ksize;
        let last = in_size.checked_sub(ksize)?;
        let k = taps.fixed();
        let mut w = vec![0; k.len()];
        let mut start = Vec::with_capacity(taps.start.len());
        for (i, (&s, &n)) in taps.start.iter().zip(&taps.len).enumerate() {
            let at = s.min(last);
            let shift = s - at;
            w[i * ksize + shift..i * ksize + shift + n]
                .copy_from_slice(&k[i * ksize..i * ksize + n]);
            start.push(at);
        }
        Some(Self { ksize, start, w })
    }
}

/// One row of the horizontal pass with `C` interleaved channels and windows of `K`
/// taps (both known here, so the loops unroll and lose their bounds checks).
fn horizontal_row<const C: usize, const K: usize>(row: &[u8], win: &Windows, orow: &mut [u8]) {
    let half = 1i32 << (PRECISION_BITS - 1);
    for ((o, &s), w) in orow
        .chunks_exact_mut(C)
        .zip(&win.start)
        .zip(win.w.chunks_exact(K))
    {
        let src = &row[s * C..(s + K) * C];
        let mut acc = [half; C];
        for (p, &wk) in src.chunks_exact(C).zip(w) {
            for ch in 0..C {
                acc[ch] += i32::from(p[ch]) * wk;
            }
        }
        for ch in 0..C {
            o[ch] = clip8(acc[ch]);
        }
    }
}

/// One row of the horizontal pass: source row, windows, output row.
type RowKernel = fn(&[u8], &Windows, &mut [u8]);

/// The unrolled [`horizontal_row`] for `c` channels and windows of `ksize` taps, where
/// there is one.
fn unrolled_row(c: usize, ksize: usize) -> Option<RowKernel> {
    Some(match (c, ksize) {
        (1, 3) => horizontal_row::<1, 3>,
        (1, 5) => horizontal_row::<1, 5>,
        (1, 7) => horizontal_row::<1, 7>,
        (1, 9) => horizontal_row::<1, 9>,
        (3, 3) => horizontal_row::<3, 3>,
        (3, 5) => horizontal_row::<3, 5>,
        (3, 7) => horizontal_row::<3, 7>,
        (3, 9) => horizontal_row::<3, 9>,
        (3, 11) => horizontal_row::<3, 11>,
        (3, 13) => horizontal_row::<3, 13>,
        _ => return None,
    })
}

/// Horizontal pass on rows `y0..y1` of an interleaved 8-bit image, tap indices
/// counted from column `x_off`, over `width` columns.
fn horizontal_u8(
    img: &Image,
    y0: usize,
    y1: usize,
    x_off: usize,
    width: usize,
    taps: &Taps,
) -> Vec<u8> {
    horizontal(img, y0..y1, (x_off, width), taps, true)
}

/// [`horizontal_u8`], unrolled where it can be when `unroll` is set, otherwise one
/// plain sum per output value (the reference the unrolled kernels are tested against).
fn horizontal(
    img: &Image,
    rows: std::ops::Range<usize>,
    (x_off, width): (usize, usize),
    taps: &Taps,
    unroll: bool,
) -> Vec<u8> {
    let c = img.channels;
    let ow = taps.start.len();
    let stride = img.width * c;
    let fast = Windows::new(taps, width)
        .filter(|_| unroll)
        .and_then(|win| Some((unrolled_row(c, win.ksize)?, win)));
    let k = taps.fixed();
    let half = 1i32 << (PRECISION_BITS - 1);
    let mut out = vec![0u8; rows.len() * ow * c];
    for (y, orow) in rows.zip(out.chunks_exact_mut(ow * c)) {
        let row = &img.data[y * stride + x_off * c..y * stride + (x_off + width) * c];
        if let Some((row_fn, win)) = &fast {
            row_fn(row, win, orow);
            continue;
        }
        for xx in 0..ow {
            let (s, n) = (taps.start[xx], taps.len[xx]);
            let kk = &k[xx * taps.ksize..xx * taps.ksize + n];
            let src = &row[s * c..(s + n) * c];
            for ch in 0..c {
                let mut a = half;
                for (x, &w) in kk.iter().enumerate() {
                    a += i32::from(src[x * c + ch]) * w;
                }
                orow[xx * c + ch] = clip8(a);
            }
        }
    }
    out
}

/// Vertical pass: `rows` holds rows starting at source row `row0`, `stride` bytes each.
fn vertical_u8(rows: &[u8], stride: usize, row0: usize, taps: &Taps) -> Vec<u8> {
    let oh = taps.start.len();
    let k = taps.fixed();
    let mut out = vec![0u8; oh * stride];
    let mut acc = vec![0i32; stride];
    for (yy, orow) in out.chunks_exact_mut(stride).enumerate() {
        acc.fill(1 << (PRECISION_BITS - 1));
        let (s, n) = (taps.start[yy] - row0, taps.len[yy]);
        for (y, &w) in k[yy * taps.ksize..yy * taps.ksize + n].iter().enumerate() {
            let row = &rows[(s + y) * stride..(s + y + 1) * stride];
            for (a, &p) in acc.iter_mut().zip(row) {
                *a += i32::from(p) * w;
            }
        }
        for (o, &a) in orow.iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
    out
}

/// PIL's `Image.resize((w, h), BILINEAR | BICUBIC)` on an 8-bit image.
pub(crate) fn resize_u8_filtered(
    img: &Image,
    oh: usize,
    ow: usize,
    mode: InterpolationMode,
) -> Image {
    let c = img.channels;
    let vt = Taps::antialiased(img.height, oh, mode);
    let need_h = ow != img.width;
    let need_v = oh != img.height;
    let data = match (need_h, need_v) {
        (false, false) => img.data.clone(),
        (true, false) => horizontal_u8(
            img,
            0,
            img.height,
            0,
            img.width,
            &Taps::antialiased(img.width, ow, mode),
        ),
        (false, true) => vertical_u8(&img.data, img.width * c, 0, &vt),
        (true, true) => {
            // only the source rows the vertical pass reads
            let y0 = vt.start[0];
            let y1 = vt.start[oh - 1] + vt.len[oh - 1];
            let ht = Taps::antialiased(img.width, ow, mode);
            let tmp = horizontal_u8(img, y0, y1, 0, img.width, &ht);
            vertical_u8(&tmp, ow * c, y0, &vt)
        }
    };
    Image {
        height: oh,
        width: ow,
        channels: c,
        data,
    }
}

/// `crop(top, left, h, w)` then PIL's bilinear/bicubic resize to `oh × ow`, reading
/// the window in place (no copy of the crop). The window must lie inside the image and
/// both edges must change size.
pub(crate) fn resized_window_u8(
    img: &Image,
    (top, left, h, w): (usize, usize, usize, usize),
    oh: usize,
    ow: usize,
    mode: InterpolationMode,
) -> Image {
    let c = img.channels;
    let vt = Taps::antialiased(h, oh, mode);
    let ht = Taps::antialiased(w, ow, mode);
    let y0 = vt.start[0];
    let y1 = vt.start[oh - 1] + vt.len[oh - 1];
    let tmp = horizontal_u8(img, top + y0, top + y1, left, w, &ht);
    Image {
        height: oh,
        width: ow,
        channels: c,
        data: vertical_u8(&tmp, ow * c, y0, &vt),
    }
}

/// PIL's nearest-neighbour resize (`ImagingScaleAffine`): source
/// `floor((i + 0.5) · in/out)`, the position accumulated in `f64` as PIL does.
pub(crate) fn pil_nearest_index(in_size: usize, out_size: usize) -> Vec<usize> {
    let a = in_size as f64 / out_size as f64;
    let mut xo = a * 0.5;
    (0..out_size)
        .map(|_| {
            let x = if xo < 0.0 {
                0
            } else {
                (xo as usize).min(in_size - 1)
            };
            xo += a;
            x
        })
        .collect()
}

/// torch's `nearest` source index: `min(floor(i · (in/out)), in − 1)` in `f32`.
pub(crate) fn torch_nearest_index(in_size: usize, out_size: usize) -> Vec<usize> {
    (0..out_size)
        .map(|i| {
            if out_size == in_size {
                i
            } else if out_size == 2 * in_size {
                i >> 1
            } else {
                let scale = in_size as f32 / out_size as f32;
                ((i as f32 * scale).floor() as usize).min(in_size - 1)
            }
        })
        .collect()
}

/// Separable float resampling of each `[H, W]` plane of an array.
fn resize_f32(a: &Array, oh: usize, ow: usize, ht: &Taps, vt: &Taps) -> Array {
    let n = a.shape.len();
    let (h, w) = (a.shape[n - 2], a.shape[n - 1]);
    let planes = a.data.len() / (h * w).max(1);
    let hw32: Vec<f32> = ht.w.iter().map(|&v| v as f32).collect();
    let vw32: Vec<f32> = vt.w.iter().map(|&v| v as f32).collect();
    let mut data = vec![0f32; planes * oh * ow];
    let mut tmp = vec![0f32; h * ow];
    for (p, out) in data.chunks_exact_mut(oh * ow).enumerate() {
        let plane = &a.data[p * h * w..(p + 1) * h * w];
        for (row, trow) in plane.chunks_exact(w).zip(tmp.chunks_exact_mut(ow)) {
            for (xx, t) in trow.iter_mut().enumerate() {
                let (s, m) = (ht.start[xx], ht.len[xx]);
                let k = &hw32[xx * ht.ksize..xx * ht.ksize + m];
                *t = row[s..s + m].iter().zip(k).map(|(a, b)| a * b).sum();
            }
        }
        for (yy, orow) in out.chunks_exact_mut(ow).enumerate() {
            let (s, m) = (vt.start[yy], vt.len[yy]);
            for (y, &wgt) in vw32[yy * vt.ksize..yy * vt.ksize + m].iter().enumerate() {
                let trow = &tmp[(s + y) * ow..(s + y + 1) * ow];
                for (o, &t) in orow.iter_mut().zip(trow) {
                    *o += t * wgt;
                }
            }
        }
    }
    let mut shape = a.shape.clone();
    shape[n - 2] = oh;
    shape[n - 1] = ow;
    Array { shape, data }
}

/// `torchvision.transforms.functional.resize` to exactly `height × width`.
///
/// Images: PIL's `resize` (bilinear/bicubic always antialiased, nearest as PIL).
/// Arrays: torch's `interpolate` (`antialias` as torchvision's argument; bilinear and
/// bicubic with `antialias = true` use the same filters as PIL, in float, unrounded).
pub fn resize_exact(
    input: Input,
    height: usize,
    width: usize,
    mode: InterpolationMode,
    antialias: bool,
) -> Result<Input> {
    let (h, w) = dims(&input)?;
    if (h, w) == (height, width) {
        return Ok(input);
    }
    if h == 0 || w == 0 || height == 0 || width == 0 {
        return Err(crate::Error::Transform(format!(
            "cannot resize a {h}×{w} image to {height}×{width}"
        )));
    }
    Ok(match (input, mode) {
        (Input::Image(img), InterpolationMode::Nearest) => {
            let rows = pil_nearest_index(h, height);
            let cols = pil_nearest_index(w, width);
            return nearest(Input::Image(img), &rows, &cols);
        }
        (Input::Image(img), m) => Input::Image(resize_u8_filtered(&img, height, width, m)),
        (a @ Input::Array(_), InterpolationMode::Nearest) => {
            let rows = torch_nearest_index(h, height);
            let cols = torch_nearest_index(w, width);
            return nearest(a, &rows, &cols);
        }
        (Input::Array(a), m) => {
            let (ht, vt) = if antialias {
                (
                    Taps::antialiased(w, width, m),
                    Taps::antialiased(h, height, m),
                )
            } else {
                (Taps::plain(w, width, m), Taps::plain(h, height, m))
            };
            Input::Array(resize_f32(&a, height, width, &ht, &vt))
        }
    })
}

fn nearest(input: Input, rows: &[usize], cols: &[usize]) -> Result<Input> {
    let r: Vec<_> = rows.iter().map(|&v| Some(v)).collect();
    let c: Vec<_> = cols.iter().map(|&v| Some(v)).collect();
    super::geometry::remap(input, &r, &c, &[])
}

/// torchvision's `_compute_resized_output_size`: `size = [s]` matches the smaller edge
/// to `s` (the longer one becomes `int(s · long / short)`, capped by `max_size`);
/// `[h, w]` is taken as is.
pub fn resized_output_size(
    h: usize,
    w: usize,
    size: &[usize],
    max_size: Option<usize>,
) -> (usize, usize) {
    if size.len() == 2 {
        return (size[0], size[1]);
    }
    let (short, long) = if w <= h { (w, h) } else { (h, w) };
    let req = size[0];
    let (mut new_short, mut new_long) = (req, (req as f64 * long as f64 / short as f64) as usize);
    if let Some(m) = max_size {
        if new_long > m {
            new_short = (m as f64 * new_short as f64 / new_long as f64) as usize;
            new_long = m;
        }
    }
    if w <= h {
        (new_long, new_short)
    } else {
        (new_short, new_long)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_windows_equal_the_plain_sums() {
        // the unrolled kernels (moved windows, zero weights in front) against the
        // per-output sums, for both filters, down- and upscaling, 1 and 3 channels
        let mut seed = 7u32;
        for c in [1, 3] {
            for (iw, ow) in [
                (500, 224),
                (300, 224),
                (224, 100),
                (97, 224),
                (50, 7),
                (640, 224),
                (9, 4),
            ] {
                let data = (0..5 * iw * c)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        (seed >> 24) as u8
                    })
                    .collect();
                let img = Image {
                    height: 5,
                    width: iw,
                    channels: c,
                    data,
                };
                for mode in [InterpolationMode::Bilinear, InterpolationMode::Bicubic] {
                    let taps = Taps::antialiased(iw - 3, ow, mode);
                    assert_eq!(
                        horizontal(&img, 1..4, (2, iw - 3), &taps, true),
                        horizontal(&img, 1..4, (2, iw - 3), &taps, false),
                        "{c} channels, {iw} -> {ow}, {mode:?}"
                    );
                }
            }
        }
    }
}
