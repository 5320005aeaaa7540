//! The first training batch as one picture: torchvision's `make_grid(images,
//! normalize=True)` (defaults `nrow=8, padding=2, pad_value=0`) as an RGB PNG, what
//! the course's `writer.add_image('images', make_grid(images))` shows.
//!
//! Only an image-shaped batch `[N, C, H, W]` with `C` of 1 (grey, repeated into three
//! channels as `make_grid` does) or 3 is drawn, and of it the first [`MAX_IMAGES`]
//! images. The values (after the transforms: normalized, augmented) are scaled
//! min-max over those images to 0..=255, as `normalize=True` does; the padding stays
//! black.

use candle_core::{DType, Tensor};

/// At most this many images of the batch are drawn (eight rows of eight).
pub(crate) const MAX_IMAGES: usize = 64;
/// Images in a row of the grid (`nrow`).
const NROW: usize = 8;
/// Pixels between images and around the grid (`padding`).
const PADDING: usize = 2;

/// A batch of images laid out as a grid, RGB, row-major.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Grid {
    /// Pixel columns.
    pub width: usize,
    /// Pixel rows.
    pub height: usize,
    /// `height · width · 3` bytes.
    pub rgb: Vec<u8>,
}

/// The grid of `input`, when it is a batch of grey or RGB images.
pub(crate) fn of_batch(input: &Tensor) -> candle_core::Result<Option<Grid>> {
    let &[n, c, h, w] = input.dims() else {
        return Ok(None);
    };
    if !(c == 1 || c == 3) || n == 0 || h == 0 || w == 0 {
        return Ok(None);
    }
    let n = n.min(MAX_IMAGES);
    let values = input
        .narrow(0, 0, n)?
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    Ok(Some(grid(&values, [n, c, h, w])))
}

/// `make_grid` of `values`, shaped `[n, c, h, w]`, normalized min-max.
pub(crate) fn grid(values: &[f32], [n, c, h, w]: [usize; 4]) -> Grid {
    let bytes = to_bytes(values);
    let cols = n.min(NROW);
    let rows = n.div_ceil(cols);
    let (cell_h, cell_w) = (h + PADDING, w + PADDING);
    let (height, width) = (rows * cell_h + PADDING, cols * cell_w + PADDING);
    let mut rgb = vec![0u8; height * width * 3];
    for i in 0..n {
        let (top, left) = ((i / cols) * cell_h + PADDING, (i % cols) * cell_w + PADDING);
        for y in 0..h {
            for x in 0..w {
                let at = ((top + y) * width + left + x) * 3;
                for ch in 0..3 {
                    let src = if c == 1 { 0 } else { ch };
                    rgb[at + ch] = bytes[((i * c + src) * h + y) * w + x];
                }
            }
        }
    }
    Grid { width, height, rgb }
}

/// `values` scaled so that their minimum is 0 and maximum 255 (all 0 when they are
/// equal, as torchvision's `clamp(low, high).sub(low).div(max(high - low, 1e-5))`);
/// NaN is 0.
fn to_bytes(values: &[f32]) -> Vec<u8> {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let low = finite.clone().fold(f32::INFINITY, f32::min);
    let high = finite.fold(f32::NEG_INFINITY, f32::max);
    let range = (high - low).max(1e-5);
    values
        .iter()
        .map(|&v| {
            let v = if v.is_nan() { low } else { v.clamp(low, high) };
            // make_grid then `add_image`'s `mul(255).clamp(0, 255)`, rounded
            ((v - low) / range * 255.0).round().clamp(0.0, 255.0) as u8
        })
        .collect()
}

/// The grid as a PNG (8-bit RGB).
pub(crate) fn png(grid: &Grid) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, grid.width as u32, grid.height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header()?;
        w.write_image_data(&grid.rgb)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_has_make_grids_size() {
        // make_grid of 64 MNIST images: 8 x 8 cells of 30 pixels, plus 2
        let g = grid(&vec![0.5; 64 * 28 * 28], [64, 1, 28, 28]);
        assert_eq!((g.width, g.height), (242, 242));
        // 10 images: one row of 8, one of 2, as wide as 8
        let g = grid(&vec![0.5; 10 * 3 * 4 * 5], [10, 3, 4, 5]);
        assert_eq!((g.width, g.height), (8 * 7 + 2, 2 * 6 + 2));
        // 3 images: one row of 3
        let g = grid(&[0.5; 3 * 4], [3, 1, 2, 2]);
        assert_eq!((g.width, g.height), (3 * 4 + 2, 6));
    }

    #[test]
    fn pixels_land_in_their_cells_normalized() {
        // two 1x2 grey images: [-1, 0] and [1, 1]
        let g = grid(&[-1.0, 0.0, 1.0, 1.0], [2, 1, 1, 2]);
        assert_eq!((g.width, g.height), (2 * 4 + 2, 5));
        let px = |x: usize, y: usize| &g.rgb[(y * g.width + x) * 3..][..3];
        assert_eq!(px(0, 0), [0, 0, 0]); // padding
        assert_eq!(px(2, 2), [0, 0, 0]); // -1, the minimum
        assert_eq!(px(3, 2), [128, 128, 128]); // 0, halfway
        assert_eq!(px(6, 2), [255, 255, 255]); // image 2 starts at 2 + 4
        assert_eq!(px(7, 2), [255, 255, 255]);
        assert_eq!(px(8, 2), [0, 0, 0]);
    }

    #[test]
    fn rgb_channels_stay_apart_and_constant_images_are_black() {
        // one 1x1 RGB image: r = 0, g = 1, b = 2
        let g = grid(&[0.0, 1.0, 2.0], [1, 3, 1, 1]);
        assert_eq!(&g.rgb[(2 * g.width + 2) * 3..][..3], [0, 128, 255]);
        let g = grid(&[3.0; 4], [1, 1, 2, 2]);
        assert!(g.rgb.iter().all(|&b| b == 0));
    }

    #[test]
    fn batches_that_are_not_images_are_not_drawn() {
        let dev = candle_core::Device::Cpu;
        let flat = Tensor::zeros((4, 10), DType::F32, &dev).unwrap();
        assert!(of_batch(&flat).unwrap().is_none());
        let two_channels = Tensor::zeros((4, 2, 5, 5), DType::F32, &dev).unwrap();
        assert!(of_batch(&two_channels).unwrap().is_none());
        let many = Tensor::zeros((100, 1, 3, 3), DType::F32, &dev).unwrap();
        let g = of_batch(&many).unwrap().unwrap();
        assert_eq!((g.width, g.height), (8 * 5 + 2, 8 * 5 + 2));
        let bytes = png(&g).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }
}
