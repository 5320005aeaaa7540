//! Colour operations: PIL's formulas on 8-bit images (`ImageEnhance`, `convert("L")`,
//! `convert("HSV")`), torchvision's tensor formulas on float arrays (`[…, C, H, W]`,
//! values in `[0, 1]`).

use crate::{Array, Error, Image, Input, Result};

/// PIL's RGB → L: `(R·19595 + G·38470 + B·7471 + 0x8000) >> 16`, i.e.
/// `R·299/1000 + G·587/1000 + B·114/1000` rounded.
#[inline]
pub fn luma_u8(r: u8, g: u8, b: u8) -> u8 {
    ((u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000) >> 16) as u8
}

/// torchvision's tensor grayscale: `0.2989·R + 0.587·G + 0.114·B` in `f32`.
#[inline]
pub fn luma_f32(r: f32, g: f32, b: f32) -> f32 {
    0.2989 * r + 0.587 * g + 0.114 * b
}

fn check_channels(c: usize, what: &str) -> Result<()> {
    if c == 1 || c == 3 {
        Ok(())
    } else {
        Err(Error::Transform(format!(
            "{what} expects 1 or 3 channels, got {c}"
        )))
    }
}

/// `[…, C, H, W]` → (groups of C planes, C, H·W).
fn array_layout(a: &Array, what: &str) -> Result<(usize, usize, usize)> {
    let n = a.shape.len();
    if n < 3 {
        return Err(Error::Transform(format!(
            "{what} expects a tensor [..., C, H, W], got shape {:?}",
            a.shape
        )));
    }
    let c = a.shape[n - 3];
    let hw = a.shape[n - 2] * a.shape[n - 1];
    check_channels(c, what)?;
    Ok((a.data.len() / (c * hw).max(1), c, hw))
}

/// `torchvision.transforms.functional.rgb_to_grayscale(img, num_output_channels)`
/// (and `to_grayscale` for PIL images): 1 or 3 identical channels of the luma.
pub fn rgb_to_grayscale(input: Input, num_output_channels: usize) -> Result<Input> {
    if num_output_channels != 1 && num_output_channels != 3 {
        return Err(Error::Transform(format!(
            "num_output_channels should be either 1 or 3, got {num_output_channels}"
        )));
    }
    match input {
        Input::Image(img) => {
            check_channels(img.channels, "Grayscale")?;
            let data = if img.channels == 1 && num_output_channels == 1 {
                img.data
            } else {
                let mut d = Vec::with_capacity(img.height * img.width * num_output_channels);
                for p in img.data.chunks_exact(img.channels) {
                    let l = if img.channels == 3 {
                        luma_u8(p[0], p[1], p[2])
                    } else {
                        p[0]
                    };
                    d.extend(std::iter::repeat_n(l, num_output_channels));
                }
                d
            };
            Ok(Input::Image(Image {
                channels: num_output_channels,
                data,
                ..img
            }))
        }
        Input::Array(a) => {
            let (groups, c, hw) = array_layout(&a, "Grayscale")?;
            let mut data = Vec::with_capacity(groups * num_output_channels * hw);
            for g in a.data.chunks_exact(c * hw) {
                let start = data.len();
                if c == 3 {
                    let (r, rest) = g.split_at(hw);
                    let (gg, b) = rest.split_at(hw);
                    data.extend((0..hw).map(|i| luma_f32(r[i], gg[i], b[i])));
                } else {
                    data.extend_from_slice(g);
                }
                for _ in 1..num_output_channels {
                    data.extend_from_within(start..start + hw);
                }
            }
            let mut shape = a.shape;
            let n = shape.len();
            shape[n - 3] = num_output_channels;
            Ok(Input::Array(Array { shape, data }))
        }
    }
}

/// PIL's `Image.blend(degenerate, img, alpha)` for one 8-bit value, in `f32` as
/// `ImagingBlend`: `deg + alpha·(v − deg)`, truncated, clipped when extrapolating.
#[inline]
fn blend_u8(deg: u8, v: u8, alpha: f32) -> u8 {
    let t = f32::from(deg) + alpha * (f32::from(v) - f32::from(deg));
    if (0.0..=1.0).contains(&alpha) {
        t as u8
    } else if t <= 0.0 {
        0
    } else if t >= 255.0 {
        255
    } else {
        t as u8
    }
}

/// torchvision's `_blend`: `(r·a + (1 − r)·b).clamp(0, 1)`.
#[inline]
fn blend_f32(a: f32, b: f32, r: f32) -> f32 {
    (r * a + (1.0 - r) * b).clamp(0.0, 1.0)
}

/// `torchvision.transforms.functional.adjust_brightness`: PIL's
/// `ImageEnhance.Brightness` (blend with black), or `(f·x).clamp(0, 1)` on tensors.
pub fn adjust_brightness(input: Input, factor: f64) -> Result<Input> {
    check_factor(factor, "brightness_factor")?;
    Ok(match input {
        Input::Image(mut img) => {
            let f = factor as f32;
            for v in &mut img.data {
                *v = blend_u8(0, *v, f);
            }
            Input::Image(img)
        }
        Input::Array(mut a) => {
            array_layout(&a, "adjust_brightness")?;
            let f = factor as f32;
            for v in &mut a.data {
                *v = blend_f32(*v, 0.0, f);
            }
            Input::Array(a)
        }
    })
}

fn check_factor(f: f64, name: &str) -> Result<()> {
    if f < 0.0 {
        Err(Error::Transform(format!(
            "{name} ({f}) is not non-negative."
        )))
    } else {
        Ok(())
    }
}

/// `torchvision.transforms.functional.adjust_contrast`: PIL's `ImageEnhance.Contrast`
/// (blend with a uniform grey of the mean of the L image, `int(mean + 0.5)`), or on
/// tensors a blend with the mean of the tensor grayscale.
pub fn adjust_contrast(input: Input, factor: f64) -> Result<Input> {
    check_factor(factor, "contrast_factor")?;
    Ok(match input {
        Input::Image(mut img) => {
            check_channels(img.channels, "adjust_contrast")?;
            let sum: u64 = if img.channels == 3 {
                img.data
                    .chunks_exact(3)
                    .map(|p| u64::from(luma_u8(p[0], p[1], p[2])))
                    .sum()
            } else {
                img.data.iter().map(|&v| u64::from(v)).sum()
            };
            let count = (img.height * img.width).max(1) as f64;
            let mean = (sum as f64 / count + 0.5) as i64 as u8;
            let f = factor as f32;
            for v in &mut img.data {
                *v = blend_u8(mean, *v, f);
            }
            Input::Image(img)
        }
        Input::Array(mut a) => {
            let (_, c, hw) = array_layout(&a, "adjust_contrast")?;
            let f = factor as f32;
            for g in a.data.chunks_exact_mut(c * hw) {
                let mean = if c == 3 {
                    let s: f32 = (0..hw)
                        .map(|i| luma_f32(g[i], g[hw + i], g[2 * hw + i]))
                        .sum();
                    s / hw as f32
                } else {
                    g.iter().sum::<f32>() / hw as f32
                };
                for v in g.iter_mut() {
                    *v = blend_f32(*v, mean, f);
                }
            }
            Input::Array(a)
        }
    })
}

/// `torchvision.transforms.functional.adjust_saturation`: PIL's `ImageEnhance.Color`
/// (blend with the L image), or on tensors a blend with the tensor grayscale;
/// 1-channel inputs are returned unchanged.
pub fn adjust_saturation(input: Input, factor: f64) -> Result<Input> {
    check_factor(factor, "saturation_factor")?;
    Ok(match input {
        Input::Image(mut img) => {
            check_channels(img.channels, "adjust_saturation")?;
            if img.channels == 3 {
                let f = factor as f32;
                for p in img.data.chunks_exact_mut(3) {
                    let l = luma_u8(p[0], p[1], p[2]);
                    for v in p.iter_mut() {
                        *v = blend_u8(l, *v, f);
                    }
                }
            }
            Input::Image(img)
        }
        Input::Array(mut a) => {
            let (_, c, hw) = array_layout(&a, "adjust_saturation")?;
            if c == 3 {
                let f = factor as f32;
                for g in a.data.chunks_exact_mut(3 * hw) {
                    for i in 0..hw {
                        let l = luma_f32(g[i], g[hw + i], g[2 * hw + i]);
                        for k in 0..3 {
                            g[k * hw + i] = blend_f32(g[k * hw + i], l, f);
                        }
                    }
                }
            }
            Input::Array(a)
        }
    })
}

/// PIL's `rgb2hsv` for one pixel (hue and saturation scaled to 0..=255).
fn rgb2hsv_u8(r: u8, g: u8, b: u8) -> [u8; 3] {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    if maxc == minc {
        return [0, 0, maxc];
    }
    let cr = f32::from(maxc - minc);
    let s = cr / f32::from(maxc);
    let rc = f32::from(maxc - r) / cr;
    let gc = f32::from(maxc - g) / cr;
    let bc = f32::from(maxc - b) / cr;
    // as C evaluates PIL's `h = bc - gc` (float) and `h = 2.0 + rc - bc` (the double
    // literal makes it double, stored back into the float)
    let h: f32 = if r == maxc {
        bc - gc
    } else if g == maxc {
        (2.0 + f64::from(rc) - f64::from(bc)) as f32
    } else {
        (4.0 + f64::from(gc) - f64::from(rc)) as f32
    };
    let h = ((f64::from(h) / 6.0 + 1.0) % 1.0) as f32;
    let clip = |v: f64| (v as i32).clamp(0, 255) as u8;
    [clip(f64::from(h) * 255.0), clip(f64::from(s) * 255.0), maxc]
}

/// PIL's `hsv2rgb` for one pixel.
fn hsv2rgb_u8(h: u8, s: u8, v: u8) -> [u8; 3] {
    if s == 0 {
        return [v, v, v];
    }
    let hh = f64::from(h as f32) * 6.0 / 255.0;
    let i = hh.floor() as i32;
    let f = (hh - f64::from(i)) as f32;
    let fs = (f64::from(s as f32) / 255.0) as f32;
    let vf = f64::from(v as f32);
    let clip = |x: f64| (x.round() as i32).clamp(0, 255) as u8;
    let p = clip(vf * (1.0 - f64::from(fs)));
    let q = clip(vf * (1.0 - f64::from(fs) * f64::from(f)));
    let t = clip(vf * (1.0 - f64::from(fs) * (1.0 - f64::from(f))));
    match i % 6 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

/// `torchvision.transforms.functional.adjust_hue` (`hue_factor` in `[−0.5, 0.5]`):
/// on images PIL's HSV with the hue byte shifted by `int(hue_factor·255)` modulo 256;
/// on tensors torchvision's float HSV with `h = (h + hue_factor) mod 1`. Grayscale
/// inputs are returned unchanged.
pub fn adjust_hue(input: Input, hue_factor: f64) -> Result<Input> {
    if !(-0.5..=0.5).contains(&hue_factor) {
        return Err(Error::Transform(format!(
            "hue_factor ({hue_factor}) is not in [-0.5, 0.5]."
        )));
    }
    Ok(match input {
        Input::Image(mut img) => {
            check_channels(img.channels, "adjust_hue")?;
            if img.channels == 3 {
                let shift = (hue_factor * 255.0) as i32 as u8;
                for p in img.data.chunks_exact_mut(3) {
                    let [h, s, v] = rgb2hsv_u8(p[0], p[1], p[2]);
                    p.copy_from_slice(&hsv2rgb_u8(h.wrapping_add(shift), s, v));
                }
            }
            Input::Image(img)
        }
        Input::Array(mut a) => {
            let (_, c, hw) = array_layout(&a, "adjust_hue")?;
            if c == 3 {
                let hf = hue_factor as f32;
                for g in a.data.chunks_exact_mut(3 * hw) {
                    for i in 0..hw {
                        let (r, gg, b) = (g[i], g[hw + i], g[2 * hw + i]);
                        let [h, s, v] = rgb2hsv_f32(r, gg, b);
                        let h = (h + hf).rem_euclid(1.0);
                        let [r, gg, b] = hsv2rgb_f32(h, s, v);
                        g[i] = r;
                        g[hw + i] = gg;
                        g[2 * hw + i] = b;
                    }
                }
            }
            Input::Array(a)
        }
    })
}

/// torchvision's `_rgb2hsv` for one pixel.
fn rgb2hsv_f32(r: f32, g: f32, b: f32) -> [f32; 3] {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    let eqc = maxc == minc;
    let cr = maxc - minc;
    let s = cr / if eqc { 1.0 } else { maxc };
    let d = if eqc { 1.0 } else { cr };
    let rc = (maxc - r) / d;
    let gc = (maxc - g) / d;
    let bc = (maxc - b) / d;
    let h = if maxc == r {
        bc - gc
    } else if maxc == g {
        2.0 + rc - bc
    } else {
        4.0 + gc - rc
    };
    // torch.fmod keeps the sign of the dividend
    let h = (h / 6.0 + 1.0) % 1.0;
    [h, s, maxc]
}

/// torchvision's `_hsv2rgb` for one pixel.
fn hsv2rgb_f32(h: f32, s: f32, v: f32) -> [f32; 3] {
    let i = (h * 6.0).floor();
    let f = h * 6.0 - i;
    let i = (i as i32).rem_euclid(6);
    let p = (v * (1.0 - s)).clamp(0.0, 1.0);
    let q = (v * (1.0 - s * f)).clamp(0.0, 1.0);
    let t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0);
    match i {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsv_round_trip_and_luma() {
        assert_eq!(luma_u8(255, 255, 255), 255);
        assert_eq!(luma_u8(255, 0, 0), 76);
        for &(r, g, b) in &[(200u8, 10u8, 30u8), (5, 250, 7), (0, 0, 255), (90, 90, 91)] {
            let [h, s, v] = rgb2hsv_u8(r, g, b);
            let [r2, g2, b2] = hsv2rgb_u8(h, s, v);
            for (x, y) in [(r, r2), (g, g2), (b, b2)] {
                assert!((i32::from(x) - i32::from(y)).abs() <= 3, "{r} {g} {b}");
            }
        }
        let [h, s, v] = rgb2hsv_f32(0.8, 0.1, 0.3);
        let [r, g, b] = hsv2rgb_f32(h, s, v);
        assert!((r - 0.8).abs() < 1e-6 && (g - 0.1).abs() < 1e-6 && (b - 0.3).abs() < 1e-6);
    }
}
