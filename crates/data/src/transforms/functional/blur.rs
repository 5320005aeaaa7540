//! Gaussian blur as torchvision computes it (also for PIL images, which it blurs as
//! tensors): a normalized `f32` kernel, reflect padding, then rounding back to 8 bits.

use super::geometry::dims;
use crate::{Error, Image, Input, Result};

/// torchvision's `_get_gaussian_kernel1d`: `exp(−x²/(2σ²))` at
/// `x = linspace(−(k−1)/2, (k−1)/2, k)`, normalized to sum 1, in `f32`.
pub fn gaussian_kernel1d(kernel_size: usize, sigma: f64) -> Vec<f32> {
    let half = (kernel_size as f32 - 1.0) * 0.5;
    let sigma = sigma as f32;
    let step = if kernel_size > 1 {
        2.0 * half / (kernel_size as f32 - 1.0)
    } else {
        0.0
    };
    let pdf: Vec<f32> = (0..kernel_size)
        .map(|i| {
            let x = -half + step * i as f32;
            (-0.5 * (x / sigma).powi(2)).exp()
        })
        .collect();
    let s: f32 = pdf.iter().sum();
    pdf.into_iter().map(|v| v / s).collect()
}

/// Reflect index (no edge repeat), as torch's `reflect` padding.
fn reflect(i: i64, n: usize) -> usize {
    let n = n as i64;
    if n == 1 {
        return 0;
    }
    let m = 2 * (n - 1);
    let k = i.rem_euclid(m);
    (if k >= n { m - k } else { k }) as usize
}

/// Blurs one `h × w` plane in place with separable kernels.
fn blur_plane(plane: &mut [f32], h: usize, w: usize, kx: &[f32], ky: &[f32], tmp: &mut Vec<f32>) {
    let (rx, ry) = (kx.len() / 2, ky.len() / 2);
    let cols: Vec<Vec<usize>> = (0..w)
        .map(|x| {
            (0..kx.len())
                .map(|j| reflect(x as i64 + j as i64 - rx as i64, w))
                .collect()
        })
        .collect();
    tmp.clear();
    tmp.resize(h * w, 0.0);
    for (row, trow) in plane.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
        for (t, idx) in trow.iter_mut().zip(&cols) {
            *t = idx.iter().zip(kx).map(|(&i, &k)| row[i] * k).sum();
        }
    }
    for (y, orow) in plane.chunks_exact_mut(w).enumerate() {
        orow.fill(0.0);
        for (j, &k) in ky.iter().enumerate() {
            let sy = reflect(y as i64 + j as i64 - ry as i64, h);
            for (o, &t) in orow.iter_mut().zip(&tmp[sy * w..(sy + 1) * w]) {
                *o += t * k;
            }
        }
    }
}

/// `torchvision.transforms.functional.gaussian_blur(img, [kx, ky], [σx, σy])`: odd,
/// positive kernel sizes, σ > 0. Images are rounded back to 8 bits.
pub fn gaussian_blur(input: Input, kernel: (usize, usize), sigma: (f64, f64)) -> Result<Input> {
    let (kx_n, ky_n) = kernel;
    if kx_n == 0 || ky_n == 0 || kx_n % 2 == 0 || ky_n % 2 == 0 {
        return Err(Error::Transform(format!(
            "kernel size should have odd and positive integers. Got {kernel:?}"
        )));
    }
    if sigma.0 <= 0.0 || sigma.1 <= 0.0 {
        return Err(Error::Transform(format!(
            "sigma should have positive values. Got {sigma:?}"
        )));
    }
    let kx = gaussian_kernel1d(kx_n, sigma.0);
    let ky = gaussian_kernel1d(ky_n, sigma.1);
    let (h, w) = dims(&input)?;
    if h == 0 || w == 0 {
        return Ok(input);
    }
    let mut tmp = Vec::new();
    match input {
        Input::Image(img) => {
            let c = img.channels;
            let mut out = vec![0u8; img.data.len()];
            let mut plane = vec![0f32; h * w];
            for ch in 0..c {
                for (p, px) in plane.iter_mut().zip(img.data.chunks_exact(c)) {
                    *p = f32::from(px[ch]);
                }
                blur_plane(&mut plane, h, w, &kx, &ky, &mut tmp);
                for (o, &p) in out.chunks_exact_mut(c).zip(&plane) {
                    o[ch] = p.round_ties_even().clamp(0.0, 255.0) as u8;
                }
            }
            Ok(Input::Image(Image { data: out, ..img }))
        }
        Input::Array(mut a) => {
            for plane in a.data.chunks_exact_mut(h * w) {
                blur_plane(plane, h, w, &kx, &ky, &mut tmp);
            }
            Ok(Input::Array(a))
        }
    }
}
