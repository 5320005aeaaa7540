//! Rotations and affine warps: PIL's `Image.transform(AFFINE)` on 8-bit images (as
//! torchvision's PIL path calls it) and torchvision's `affine_grid` + `grid_sample` on
//! float arrays.

use super::geometry::{dims, remap};
use crate::transforms::common::InterpolationMode;
use crate::{Array, Error, Image, Input, Result};

/// Python's `round(v, 15)` (exact decimal rounding, half to even).
fn round15(v: f64) -> f64 {
    format!("{v:.15}").parse().unwrap_or(v)
}

/// torchvision's `_get_inverse_affine_matrix(center, angle, translate, scale, shear)`:
/// the output → input map `[a, b, c, d, e, f]` (`x_in = a·x + b·y + c`) of
/// `T · C · R·S·Sh · C⁻¹`, angles in degrees.
pub fn inverse_affine_matrix(
    center: [f64; 2],
    angle: f64,
    translate: [f64; 2],
    scale: f64,
    shear: [f64; 2],
) -> [f64; 6] {
    let rot = angle.to_radians();
    let sx = shear[0].to_radians();
    let sy = shear[1].to_radians();
    let [cx, cy] = center;
    let [tx, ty] = translate;
    let a = (rot - sy).cos() / sy.cos();
    let b = -(rot - sy).cos() * sx.tan() / sy.cos() - rot.sin();
    let c = (rot - sy).sin() / sy.cos();
    let d = -(rot - sy).sin() * sx.tan() / sy.cos() + rot.cos();
    let mut m = [d, -b, 0.0, -c, a, 0.0].map(|v| v / scale);
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
    m[2] += cx;
    m[5] += cy;
    m
}

/// PIL's `FLOOR`.
#[inline]
fn pil_floor(v: f64) -> i64 {
    if v < 0.0 {
        v.floor() as i64
    } else {
        v as i64
    }
}

/// `COORD`: −1 for negatives, else truncation.
#[inline]
fn coord(v: f64) -> i64 {
    if v < 0.0 {
        -1
    } else {
        v as i64
    }
}

/// PIL's `ImagingTransformAffine` into an `ow × oh` image pre-filled with `fill`.
fn pil_transform(
    img: &Image,
    ow: usize,
    oh: usize,
    a: [f64; 6],
    mode: InterpolationMode,
    fill: &[u8],
) -> Image {
    let c = img.channels;
    let mut data = Vec::with_capacity(ow * oh * c);
    for _ in 0..ow * oh {
        data.extend_from_slice(fill);
    }
    let out = Out {
        data: &mut data,
        ow,
        oh,
    };
    match mode {
        InterpolationMode::Nearest if a[1] == 0.0 && a[3] == 0.0 => scale_nearest(img, a, out),
        InterpolationMode::Nearest => affine_nearest(img, a, out),
        _ => filtered(img, a, mode, out),
    }
    Image {
        height: oh,
        width: ow,
        channels: c,
        data,
    }
}

/// The output of [`pil_transform`]: `oh × ow` pixels, filled with the fill colour.
struct Out<'a> {
    data: &'a mut [u8],
    ow: usize,
    oh: usize,
}

impl Out<'_> {
    /// Output pixel `(x, y)` = input pixel `(xi, yi)`.
    fn copy(&mut self, img: &Image, (x, y): (usize, usize), (xi, yi): (i64, i64)) {
        let c = img.channels;
        let i = (yi as usize * img.width + xi as usize) * c;
        let o = (y * self.ow + x) * c;
        self.data[o..o + c].copy_from_slice(&img.data[i..i + c]);
    }
}

/// Nearest neighbour without rotation or shear (PIL's `ImagingScaleAffine`).
fn scale_nearest(img: &Image, a: [f64; 6], mut out: Out<'_>) {
    let (iw, ih) = (img.width as i64, img.height as i64);
    let mut xo = a[2] + a[0] * 0.5;
    let mut xin = Vec::with_capacity(out.ow);
    for _ in 0..out.ow {
        let x = coord(xo);
        xin.push((0..iw).contains(&x).then_some(x));
        xo += a[0];
    }
    let mut yo = a[5] + a[4] * 0.5;
    for y in 0..out.oh {
        let yi = coord(yo);
        if (0..ih).contains(&yi) {
            for (x, xi) in xin.iter().enumerate() {
                if let Some(xi) = xi {
                    out.copy(img, (x, y), (*xi, yi));
                }
            }
        }
        yo += a[4];
    }
}

/// Nearest neighbour of any affine map: PIL's 16.16 fixed point (`affine_fixed`) where
/// the coordinates fit it, else floating point.
fn affine_nearest(img: &Image, a: [f64; 6], mut out: Out<'_>) {
    let (iw, ih) = (img.width as i64, img.height as i64);
    let inside = |xi: i64, yi: i64| (0..iw).contains(&xi) && (0..ih).contains(&yi);
    let check = |x: f64, y: f64| {
        (x * a[0] + y * a[1] + a[2]).abs() < 32768.0 && (x * a[3] + y * a[4] + a[5]).abs() < 32768.0
    };
    let (fw, fh) = (out.ow as f64, out.oh as f64);
    if check(0.0, 0.0) && check(fw, fh) && check(0.0, fh) && check(fw, 0.0) {
        let fix = |v: f64| pil_floor(v * 65536.0 + 0.5) as i32;
        let (a0, a1, a3, a4) = (fix(a[0]), fix(a[1]), fix(a[3]), fix(a[4]));
        let mut a2 = fix(a[2] + a[0] * 0.5 + a[1] * 0.5);
        let mut a5 = fix(a[5] + a[3] * 0.5 + a[4] * 0.5);
        for y in 0..out.oh {
            let (mut xx, mut yy) = (a2, a5);
            for x in 0..out.ow {
                let (xi, yi) = (i64::from(xx >> 16), i64::from(yy >> 16));
                if inside(xi, yi) {
                    out.copy(img, (x, y), (xi, yi));
                }
                xx = xx.wrapping_add(a0);
                yy = yy.wrapping_add(a3);
            }
            a2 = a2.wrapping_add(a1);
            a5 = a5.wrapping_add(a4);
        }
    } else {
        let mut xo = a[2] + a[1] * 0.5 + a[0] * 0.5;
        let mut yo = a[5] + a[4] * 0.5 + a[3] * 0.5;
        for y in 0..out.oh {
            let (mut xx, mut yy) = (xo, yo);
            for x in 0..out.ow {
                let (xi, yi) = (coord(xx), coord(yy));
                if inside(xi, yi) {
                    out.copy(img, (x, y), (xi, yi));
                }
                xx += a[0];
                yy += a[3];
            }
            xo += a[1];
            yo += a[4];
        }
    }
}

/// Bilinear or bicubic (PIL's `ImagingGenericTransform` with `bilinear_filter` /
/// `bicubic_filter`): input rows and columns clamped at the edges, output pixels whose
/// source lies outside the input keep the fill.
fn filtered(img: &Image, a: [f64; 6], mode: InterpolationMode, out: Out<'_>) {
    let c = img.channels;
    let (iw, ih) = (img.width as f64, img.height as f64);
    for y in 0..out.oh {
        for x in 0..out.ow {
            let (xf, yf) = (x as f64 + 0.5, y as f64 + 0.5);
            let xin = a[0] * xf + a[1] * yf + a[2];
            let yin = a[3] * xf + a[4] * yf + a[5];
            if xin < 0.0 || xin >= iw || yin < 0.0 || yin >= ih {
                continue;
            }
            let (xs, ys) = (xin - 0.5, yin - 0.5);
            let (xi, yi) = (pil_floor(xs), pil_floor(ys));
            let d = (xs - xi as f64, ys - yi as f64);
            let o = (y * out.ow + x) * c;
            for ch in 0..c {
                out.data[o + ch] = if mode == InterpolationMode::Bilinear {
                    bilinear(img, ch, (xi, yi), d)
                } else {
                    bicubic(img, ch, (xi, yi), d)
                };
            }
        }
    }
}

/// Channel `ch` of `img` at column `x`, row `y`, the column clamped to the image.
fn at(img: &Image, ch: usize, x: i64, y: i64) -> f64 {
    let x = x.clamp(0, img.width as i64 - 1);
    f64::from(img.data[(y as usize * img.width + x as usize) * img.channels + ch])
}

/// PIL's `bilinear_filter` at `(xi + dx, yi + dy)`.
fn bilinear(img: &Image, ch: usize, (xi, yi): (i64, i64), (dx, dy): (f64, f64)) -> u8 {
    let ih = img.height as i64;
    let l = |r: i64| {
        let (p, q) = (at(img, ch, xi, r), at(img, ch, xi + 1, r));
        p + (q - p) * dx
    };
    let v1 = l(yi.clamp(0, ih - 1));
    let v2 = if yi + 1 >= 0 && yi + 1 < ih {
        l(yi + 1)
    } else {
        v1
    };
    (v1 + (v2 - v1) * dy) as u8
}

/// PIL's `bicubic_filter` (a = −1) at `(xi + dx, yi + dy)`, clamped to `0..=255`.
fn bicubic(img: &Image, ch: usize, (xi, yi): (i64, i64), (dx, dy): (f64, f64)) -> u8 {
    let ih = img.height as i64;
    let cubic = |v1: f64, v2: f64, v3: f64, v4: f64, d: f64| {
        let p1 = v2;
        let p2 = -v1 + v3;
        let p3 = 2.0 * (v1 - v2) + v3 - v4;
        let p4 = -v1 + v2 - v3 + v4;
        p1 + d * (p2 + d * (p3 + d * p4))
    };
    let row = |r: i64| {
        let p = |k: i64| at(img, ch, xi + k, r);
        cubic(p(-1), p(0), p(1), p(2), dx)
    };
    let y0 = yi - 1;
    let v1 = row(y0.clamp(0, ih - 1));
    let next = |r: i64, prev: f64| if (0..ih).contains(&r) { row(r) } else { prev };
    let v2 = next(y0 + 1, v1);
    let v3 = next(y0 + 2, v2);
    let v4 = next(y0 + 3, v3);
    let v = cubic(v1, v2, v3, v4, dy);
    if v <= 0.0 {
        0
    } else if v >= 255.0 {
        255
    } else {
        v as u8
    }
}

fn fill_u8(fill: &[f64], c: usize) -> Vec<u8> {
    (0..c)
        .map(|k| {
            let v = if fill.len() == 1 {
                fill[0]
            } else {
                fill.get(k).copied().unwrap_or(0.0)
            };
            v.clamp(0.0, 255.0) as u8
        })
        .collect()
}

fn fill_f32(fill: &[f64], c: usize) -> Vec<f32> {
    (0..c)
        .map(|k| {
            (if fill.len() == 1 {
                fill[0]
            } else {
                fill.get(k).copied().unwrap_or(0.0)
            }) as f32
        })
        .collect()
}

/// torchvision's `affine_grid` + `grid_sample(padding_mode="zeros", align_corners=False)`
/// with its fill handling: `theta` maps output offsets from the output centre to input
/// offsets from the input centre.
fn grid_transform(
    a: &Array,
    ow: usize,
    oh: usize,
    theta: [f64; 6],
    mode: InterpolationMode,
    fill: &[f32],
) -> Result<Array> {
    let n = a.shape.len();
    if n < 3 {
        return Err(Error::Transform(format!(
            "rotate/affine expects a tensor [..., C, H, W], got {:?}",
            a.shape
        )));
    }
    let (c, h, w) = (a.shape[n - 3], a.shape[n - 2], a.shape[n - 1]);
    let planes = a.data.len() / (h * w).max(1);
    let t: Vec<f32> = theta.iter().map(|&v| v as f32).collect();
    let (hw, hh) = (0.5 * w as f32, 0.5 * h as f32);
    // per output pixel: input coordinates in pixels
    let mut coords = Vec::with_capacity(ow * oh);
    for y in 0..oh {
        let yb = -(oh as f32) * 0.5 + 0.5 + y as f32;
        for x in 0..ow {
            let xb = -(ow as f32) * 0.5 + 0.5 + x as f32;
            let gx = (t[0] * xb + t[1] * yb + t[2]) / hw;
            let gy = (t[3] * xb + t[4] * yb + t[5]) / hh;
            coords.push((
                ((gx + 1.0) * w as f32 - 1.0) / 2.0,
                ((gy + 1.0) * h as f32 - 1.0) / 2.0,
            ));
        }
    }
    let mut data = Vec::with_capacity(planes * oh * ow);
    for p in 0..planes {
        let plane = &a.data[p * h * w..(p + 1) * h * w];
        let f = fill.get(p % c.max(1)).copied().unwrap_or(0.0);
        let get = |x: i64, y: i64| -> Option<f32> {
            ((0..w as i64).contains(&x) && (0..h as i64).contains(&y))
                .then(|| plane[y as usize * w + x as usize])
        };
        for &(ix, iy) in &coords {
            let v = if mode == InterpolationMode::Nearest {
                let (x, y) = (ix.round_ties_even() as i64, iy.round_ties_even() as i64);
                get(x, y).unwrap_or(f)
            } else {
                let (x0, y0) = (ix.floor(), iy.floor());
                let (dx, dy) = (ix - x0, iy - y0);
                let (x0, y0) = (x0 as i64, y0 as i64);
                let mut v = 0f32;
                let mut m = 0f32;
                for (xx, yy, wgt) in [
                    (x0, y0, (1.0 - dx) * (1.0 - dy)),
                    (x0 + 1, y0, dx * (1.0 - dy)),
                    (x0, y0 + 1, (1.0 - dx) * dy),
                    (x0 + 1, y0 + 1, dx * dy),
                ] {
                    if let Some(s) = get(xx, yy) {
                        v += s * wgt;
                        m += wgt;
                    }
                }
                v * m + (1.0 - m) * f
            };
            data.push(v);
        }
    }
    let mut shape = a.shape.clone();
    shape[n - 2] = oh;
    shape[n - 1] = ow;
    Ok(Array { shape, data })
}

fn check_mode(mode: InterpolationMode, input: &Input) -> Result<()> {
    if mode == InterpolationMode::Bicubic && matches!(input, Input::Array(_)) {
        return Err(Error::Transform(
            "rotate/affine on tensors supports nearest and bilinear interpolation".into(),
        ));
    }
    Ok(())
}

/// `torchvision.transforms.functional.rotate(img, angle, interpolation, expand, center,
/// fill)`: counter-clockwise by `angle` degrees about `center` (pixel coordinates,
/// default the image centre). Images: PIL's `Image.rotate` (exact transposes for
/// multiples of 90°, nearest in 16.16 fixed point, bilinear/bicubic truncated to 8
/// bits); tensors: torchvision's grid sampling. `expand` enlarges the output to hold
/// the whole rotated image.
pub fn rotate(
    input: Input,
    angle: f64,
    interpolation: InterpolationMode,
    expand: bool,
    center: Option<[f64; 2]>,
    fill: &[f64],
) -> Result<Input> {
    check_mode(interpolation, &input)?;
    let (h, w) = dims(&input)?;
    match input {
        Input::Image(img) => {
            let angle = angle.rem_euclid(360.0);
            if center.is_none() {
                if angle == 0.0 {
                    return Ok(Input::Image(img));
                }
                if angle == 180.0 {
                    let rows: Vec<_> = (0..h).rev().map(Some).collect();
                    let cols: Vec<_> = (0..w).rev().map(Some).collect();
                    return remap(Input::Image(img), &rows, &cols, &[]);
                }
                if (angle == 90.0 || angle == 270.0) && (expand || w == h) {
                    return Ok(Input::Image(transpose90(&img, angle == 90.0)));
                }
            }
            let (fw, fh) = (w as f64, h as f64);
            let [cx, cy] = center.unwrap_or([fw / 2.0, fh / 2.0]);
            let r = -angle.to_radians();
            let mut m = [
                round15(r.cos()),
                round15(r.sin()),
                0.0,
                round15(-r.sin()),
                round15(r.cos()),
                0.0,
            ];
            let tf = |m: &[f64; 6], x: f64, y: f64| {
                (m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5])
            };
            (m[2], m[5]) = tf(&m, -cx, -cy);
            m[2] += cx;
            m[5] += cy;
            let (mut ow, mut oh) = (w, h);
            if expand {
                let pts = [(0.0, 0.0), (fw, 0.0), (fw, fh), (0.0, fh)].map(|(x, y)| tf(&m, x, y));
                let mx = |f: fn(&(f64, f64)) -> f64| {
                    let v: Vec<f64> = pts.iter().map(f).collect();
                    (
                        v.iter().cloned().fold(f64::INFINITY, f64::min),
                        v.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                    )
                };
                let (x0, x1) = mx(|p| p.0);
                let (y0, y1) = mx(|p| p.1);
                let nw = (x1.ceil() - x0.floor()) as i64;
                let nh = (y1.ceil() - y0.floor()) as i64;
                (m[2], m[5]) = tf(
                    &m,
                    -((nw - w as i64) as f64) / 2.0,
                    -((nh - h as i64) as f64) / 2.0,
                );
                ow = nw.max(1) as usize;
                oh = nh.max(1) as usize;
            }
            let f = fill_u8(fill, img.channels);
            Ok(Input::Image(pil_transform(
                &img,
                ow,
                oh,
                m,
                interpolation,
                &f,
            )))
        }
        Input::Array(a) => {
            let center_f = center.map_or([0.0, 0.0], |[cx, cy]| {
                [cx - w as f64 * 0.5, cy - h as f64 * 0.5]
            });
            let m = inverse_affine_matrix(center_f, -angle, [0.0, 0.0], 1.0, [0.0, 0.0]);
            let (ow, oh) = if expand {
                tensor_expanded_size(&m, w, h)
            } else {
                (w, h)
            };
            let c = a.shape[a.shape.len().saturating_sub(3)];
            let f = fill_f32(fill, c);
            Ok(Input::Array(grid_transform(
                &a,
                ow,
                oh,
                m,
                interpolation,
                &f,
            )?))
        }
    }
}

/// torchvision's `_compute_affine_output_size` (corners through the matrix, in `f32`,
/// truncated to 1e−4 before ceil/floor).
fn tensor_expanded_size(m: &[f64; 6], w: usize, h: usize) -> (usize, usize) {
    let (hw, hh) = (0.5 * w as f32, 0.5 * h as f32);
    let t: Vec<f32> = m.iter().map(|&v| v as f32).collect();
    let pts = [(-hw, -hh), (-hw, hh), (hw, hh), (hw, -hh)];
    let (mut min, mut max) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for (x, y) in pts {
        let p = [t[0] * x + t[1] * y + t[2], t[3] * x + t[4] * y + t[5]];
        for k in 0..2 {
            min[k] = min[k].min(p[k]);
            max[k] = max[k].max(p[k]);
        }
    }
    let tol = 1e-4f32;
    let size: Vec<usize> = (0..2)
        .map(|k| {
            let off = if k == 0 { hw } else { hh };
            let cmax = (((max[k] + off) / tol).trunc() * tol).ceil();
            let cmin = (((min[k] + off) / tol).trunc() * tol).floor();
            (cmax - cmin).max(1.0) as usize
        })
        .collect();
    (size[0], size[1])
}

/// PIL's `ROTATE_90` (counter-clockwise) or `ROTATE_270`.
fn transpose90(img: &Image, ccw: bool) -> Image {
    let (h, w, c) = (img.height, img.width, img.channels);
    let mut data = vec![0u8; h * w * c];
    for y in 0..w {
        for x in 0..h {
            let (sy, sx) = if ccw { (x, w - 1 - y) } else { (h - 1 - x, y) };
            let s = (sy * w + sx) * c;
            let o = (y * h + x) * c;
            data[o..o + c].copy_from_slice(&img.data[s..s + c]);
        }
    }
    Image {
        height: w,
        width: h,
        channels: c,
        data,
    }
}

/// `torchvision.transforms.functional.affine(img, angle, translate, scale, shear,
/// interpolation, fill, center)`: rotation by `angle` degrees (clockwise on screen, as
/// torchvision), translation in pixels, scale and shear `[x, y]` in degrees, about
/// `center` (default the image centre). Images: PIL's `Image.transform(AFFINE)` with
/// torchvision's inverse matrix; tensors: torchvision's grid sampling.
#[allow(clippy::too_many_arguments)]
pub fn affine(
    input: Input,
    angle: f64,
    translate: [f64; 2],
    scale: f64,
    shear: [f64; 2],
    interpolation: InterpolationMode,
    fill: &[f64],
    center: Option<[f64; 2]>,
) -> Result<Input> {
    check_mode(interpolation, &input)?;
    if scale <= 0.0 {
        return Err(Error::Transform("Argument scale should be positive".into()));
    }
    let (h, w) = dims(&input)?;
    match input {
        Input::Image(img) => {
            let center = center.unwrap_or([w as f64 * 0.5, h as f64 * 0.5]);
            let m = inverse_affine_matrix(center, angle, translate, scale, shear);
            let f = fill_u8(fill, img.channels);
            Ok(Input::Image(pil_transform(
                &img,
                w,
                h,
                m,
                interpolation,
                &f,
            )))
        }
        Input::Array(a) => {
            let center_f = center.map_or([0.0, 0.0], |[cx, cy]| {
                [cx - w as f64 * 0.5, cy - h as f64 * 0.5]
            });
            let m = inverse_affine_matrix(center_f, angle, translate, scale, shear);
            let c = a.shape[a.shape.len().saturating_sub(3)];
            let f = fill_f32(fill, c);
            Ok(Input::Array(grid_transform(
                &a,
                w,
                h,
                m,
                interpolation,
                &f,
            )?))
        }
    }
}
