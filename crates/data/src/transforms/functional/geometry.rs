//! Crops, pads and flips: every output pixel is copied from one input pixel or is a
//! fill value, so these work alike on 8-bit images (`H×W×C`) and float arrays
//! (`[…, H, W]`), exactly (no rounding).

use crate::transforms::common::PaddingMode;
use crate::{Array, Error, Image, Input, Result};

/// `(height, width)` of an image or of the last two axes of an array.
pub fn dims(input: &Input) -> Result<(usize, usize)> {
    match input {
        Input::Image(i) => Ok((i.height, i.width)),
        Input::Array(a) if a.shape.len() >= 2 => {
            let n = a.shape.len();
            Ok((a.shape[n - 2], a.shape[n - 1]))
        }
        Input::Array(a) => Err(Error::Transform(format!(
            "expected an image or a tensor with at least 2 dimensions [..., H, W], got shape {:?}",
            a.shape
        ))),
    }
}

/// The number of channels: the image's, or the third axis from the end of an array
/// (1 for a 2-D array).
pub fn channels(input: &Input) -> usize {
    match input {
        Input::Image(i) => i.channels,
        Input::Array(a) if a.shape.len() >= 3 => a.shape[a.shape.len() - 3],
        Input::Array(_) => 1,
    }
}

/// Copies `out[y][x] = in[rows[y]][cols[x]]`, or the channel's fill value where
/// `rows[y]` or `cols[x]` is `None`.
pub(crate) fn remap(
    input: Input,
    rows: &[Option<usize>],
    cols: &[Option<usize>],
    fill: &[f64],
) -> Result<Input> {
    let (oh, ow) = (rows.len(), cols.len());
    match input {
        Input::Image(img) => {
            let c = img.channels;
            let fill: Vec<u8> = (0..c)
                .map(|k| fill.get(k).copied().unwrap_or(0.0).clamp(0.0, 255.0) as u8)
                .collect();
            let mut data = Vec::with_capacity(oh * ow * c);
            let src_stride = img.width * c;
            for r in rows {
                match r {
                    None => {
                        for _ in 0..ow {
                            data.extend_from_slice(&fill);
                        }
                    }
                    Some(r) => {
                        let row = &img.data[r * src_stride..(r + 1) * src_stride];
                        copy_row(row, cols, c, &fill, &mut data);
                    }
                }
            }
            Ok(Input::Image(Image {
                height: oh,
                width: ow,
                channels: c,
                data,
            }))
        }
        Input::Array(a) => {
            let n = a.shape.len();
            let (h, w) = (a.shape[n - 2], a.shape[n - 1]);
            let planes = a.data.len() / (h * w).max(1);
            let ch = if n >= 3 { a.shape[n - 3] } else { 1 };
            let mut data = Vec::with_capacity(planes * oh * ow);
            for p in 0..planes {
                let f = [fill.get(p % ch.max(1)).copied().unwrap_or(0.0) as f32];
                let plane = &a.data[p * h * w..(p + 1) * h * w];
                for r in rows {
                    match r {
                        None => data.extend(std::iter::repeat_n(f[0], ow)),
                        Some(r) => copy_row(&plane[r * w..(r + 1) * w], cols, 1, &f, &mut data),
                    }
                }
            }
            let mut shape = a.shape;
            shape[n - 2] = oh;
            shape[n - 1] = ow;
            Ok(Input::Array(Array { shape, data }))
        }
    }
}

fn copy_row<T: Copy>(row: &[T], cols: &[Option<usize>], c: usize, fill: &[T], out: &mut Vec<T>) {
    // contiguous runs of columns are copied as slices
    let mut x = 0;
    while x < cols.len() {
        match cols[x] {
            None => {
                out.extend_from_slice(fill);
                x += 1;
            }
            Some(s) => {
                let mut e = x + 1;
                while e < cols.len() && cols[e] == Some(s + (e - x)) {
                    e += 1;
                }
                out.extend_from_slice(&row[s * c..(s + e - x) * c]);
                x = e;
            }
        }
    }
}

/// `torchvision.transforms.functional.crop(img, top, left, height, width)`: the region
/// may reach outside the image, where it is filled with 0 (as PIL's `crop`).
pub fn crop(input: Input, top: i64, left: i64, height: usize, width: usize) -> Result<Input> {
    let (h, w) = dims(&input)?;
    if top == 0 && left == 0 && height == h && width == w {
        return Ok(input);
    }
    let inside = |start: i64, len: usize, n: usize| -> Vec<Option<usize>> {
        (0..len as i64)
            .map(|i| {
                let s = start + i;
                (s >= 0 && (s as usize) < n).then_some(s as usize)
            })
            .collect()
    };
    remap(input, &inside(top, height, h), &inside(left, width, w), &[])
}

/// `torchvision.transforms.functional.center_crop`: the centred `height × width`
/// region (top `round((H − h) / 2)`, Python's round half to even); an image smaller than
/// the crop is first padded with zeros as torchvision pads it.
pub fn center_crop(input: Input, height: usize, width: usize) -> Result<Input> {
    let (mut ih, mut iw) = dims(&input)?;
    let mut input = input;
    if width > iw || height > ih {
        let d = |c: usize, i: usize| if c > i { (c - i) as i64 } else { 0 };
        let (dw, dh) = (d(width, iw), d(height, ih));
        input = pad(
            input,
            [dw / 2, dh / 2, (dw + 1) / 2, (dh + 1) / 2],
            &[0.0],
            PaddingMode::Constant,
        )?;
        (ih, iw) = dims(&input)?;
        if (ih, iw) == (height, width) {
            return Ok(input);
        }
    }
    let (top, left) = centred(ih, iw, height, width);
    crop(input, top, left, height, width)
}

/// Where `center_crop` puts a `height × width` box in an `ih × iw` image: top
/// `round((ih − height) / 2)`, left `round((iw − width) / 2)`, half to even.
pub(crate) fn centred(ih: usize, iw: usize, height: usize, width: usize) -> (i64, i64) {
    (
        round_half_even((ih as f64 - height as f64) / 2.0),
        round_half_even((iw as f64 - width as f64) / 2.0),
    )
}

/// Python's `round` (half to even).
pub(crate) fn round_half_even(v: f64) -> i64 {
    let r = v.round();
    if (v - v.trunc()).abs() == 0.5 && r as i64 % 2 != 0 {
        (r - v.signum()) as i64
    } else {
        r as i64
    }
}

/// The source index of padded position `i` (which may be negative or ≥ `n`), or `None`
/// for a constant fill.
fn pad_index(i: i64, n: usize, mode: PaddingMode) -> Option<usize> {
    let n = n as i64;
    if (0..n).contains(&i) {
        return Some(i as usize);
    }
    match mode {
        PaddingMode::Constant => None,
        PaddingMode::Edge => Some(i.clamp(0, n - 1) as usize),
        PaddingMode::Reflect => {
            if n == 1 {
                return Some(0);
            }
            let m = 2 * (n - 1);
            let k = i.rem_euclid(m);
            Some(if k >= n { m - k } else { k } as usize)
        }
        PaddingMode::Symmetric => {
            let m = 2 * n;
            let k = i.rem_euclid(m);
            Some(if k >= n { m - 1 - k } else { k } as usize)
        }
    }
}

/// `torchvision.transforms.functional.pad` with `[left, top, right, bottom]`; negative
/// values crop. `fill` (per channel) is used in `constant` mode; the other modes follow
/// numpy's `np.pad` (as torchvision's PIL path does).
pub fn pad(input: Input, ltrb: [i64; 4], fill: &[f64], mode: PaddingMode) -> Result<Input> {
    let (h, w) = dims(&input)?;
    let [l, t, r, b] = ltrb;
    let oh = h as i64 + t + b;
    let ow = w as i64 + l + r;
    if oh <= 0 || ow <= 0 {
        return Err(Error::Transform(format!(
            "padding {ltrb:?} leaves nothing of a {h}×{w} image"
        )));
    }
    if mode == PaddingMode::Reflect && (h == 0 || w == 0) {
        return Err(Error::Transform("cannot reflect-pad an empty image".into()));
    }
    let rows: Vec<Option<usize>> = (0..oh).map(|y| pad_index(y - t, h, mode)).collect();
    let cols: Vec<Option<usize>> = (0..ow).map(|x| pad_index(x - l, w, mode)).collect();
    let c = channels(&input);
    let fill = if fill.len() == 1 {
        vec![fill[0]; c]
    } else {
        fill.to_vec()
    };
    remap(input, &rows, &cols, &fill)
}

/// `torchvision.transforms.functional.hflip`: mirrors left and right.
pub fn hflip(mut input: Input) -> Result<Input> {
    let (_, w) = dims(&input)?;
    match &mut input {
        // in place: each row's pixels reversed, a pixel's channels kept in order
        Input::Image(img) => {
            let c = img.channels;
            for row in img.data.chunks_exact_mut(w * c) {
                row.reverse();
                for px in row.chunks_exact_mut(c) {
                    px.reverse();
                }
            }
        }
        Input::Array(a) => a.data.chunks_exact_mut(w.max(1)).for_each(<[f32]>::reverse),
    }
    Ok(input)
}

/// `torchvision.transforms.functional.vflip`: mirrors top and bottom.
pub fn vflip(mut input: Input) -> Result<Input> {
    let (h, w) = dims(&input)?;
    match &mut input {
        Input::Image(img) => {
            let row = w * img.channels;
            if row > 0 {
                swap_rows(&mut img.data, h, row);
            }
        }
        Input::Array(a) => {
            if h * w > 0 {
                for plane in a.data.chunks_exact_mut(h * w) {
                    swap_rows(plane, h, w);
                }
            }
        }
    }
    Ok(input)
}

/// Swaps row `r` with row `h − 1 − r` of a plane of `h` rows, `row` values each.
fn swap_rows<T>(plane: &mut [T], h: usize, row: usize) {
    for r in 0..h / 2 {
        let (top, bottom) = plane.split_at_mut((h - 1 - r) * row);
        top[r * row..(r + 1) * row].swap_with_slice(&mut bottom[..row]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(h: usize, w: usize, data: Vec<u8>) -> Input {
        Input::Image(Image {
            height: h,
            width: w,
            channels: 1,
            data,
        })
    }

    fn data(i: Input) -> Vec<u8> {
        match i {
            Input::Image(i) => i.data,
            _ => panic!(),
        }
    }

    #[test]
    fn padding_modes_follow_numpy() {
        let x = || img(1, 3, vec![1, 2, 3]);
        let p = |m| data(pad(x(), [2, 0, 2, 0], &[9.0], m).unwrap());
        assert_eq!(p(PaddingMode::Constant), vec![9, 9, 1, 2, 3, 9, 9]);
        assert_eq!(p(PaddingMode::Edge), vec![1, 1, 1, 2, 3, 3, 3]);
        assert_eq!(p(PaddingMode::Reflect), vec![3, 2, 1, 2, 3, 2, 1]);
        assert_eq!(p(PaddingMode::Symmetric), vec![2, 1, 1, 2, 3, 3, 2]);
        // negative padding crops
        let c = data(pad(x(), [-1, 0, 0, 0], &[0.0], PaddingMode::Edge).unwrap());
        assert_eq!(c, vec![2, 3]);
    }

    #[test]
    fn crops_flips_and_center_crop_padding() {
        let x = img(2, 3, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(data(hflip(x.clone()).unwrap()), vec![3, 2, 1, 6, 5, 4]);
        assert_eq!(data(vflip(x.clone()).unwrap()), vec![4, 5, 6, 1, 2, 3]);
        assert_eq!(data(crop(x.clone(), 1, -1, 1, 3).unwrap()), vec![0, 4, 5]);
        // in place on RGB pixels (channel order kept) and on an odd number of rows
        let rgb = Input::Image(Image {
            height: 3,
            width: 2,
            channels: 3,
            data: (0..18).collect(),
        });
        let h = [3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8, 15, 16, 17, 12, 13, 14];
        assert_eq!(data(hflip(rgb.clone()).unwrap()), h);
        let v = [12, 13, 14, 15, 16, 17, 6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5];
        assert_eq!(data(vflip(rgb).unwrap()), v);
        // a [2, 3, 2] array: every plane mirrored by itself
        let arr = || {
            Input::Array(Array {
                shape: vec![2, 3, 2],
                data: (0..12).map(|v| v as f32).collect(),
            })
        };
        let values = |i: Input| match i {
            Input::Array(a) => a.data,
            Input::Image(_) => unreachable!("an array stays an array"),
        };
        let h = [1., 0., 3., 2., 5., 4., 7., 6., 9., 8., 11., 10.];
        assert_eq!(values(hflip(arr()).unwrap()), h);
        let v = [4., 5., 2., 3., 0., 1., 10., 11., 8., 9., 6., 7.];
        assert_eq!(values(vflip(arr()).unwrap()), v);
        // a 4×4 center crop of 2×3: padded left 0, top 1, right 1, bottom 1
        let c = data(center_crop(x, 4, 4).unwrap());
        assert_eq!(c, vec![0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0]);
        assert_eq!(round_half_even(0.5), 0);
        assert_eq!(round_half_even(1.5), 2);
        assert_eq!(round_half_even(-0.5), 0);
    }
}
