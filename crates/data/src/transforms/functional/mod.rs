//! `torchvision.transforms.functional`: the deterministic operations behind the
//! transforms, with explicit parameters.

mod affine;
mod blur;
mod color;
mod geometry;
mod resample;

pub use affine::{affine, inverse_affine_matrix, rotate};
pub use blur::{gaussian_blur, gaussian_kernel1d};
pub use color::{
    adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation, luma_f32, luma_u8,
    rgb_to_grayscale,
};
pub use geometry::{center_crop, channels, crop, dims, hflip, pad, vflip};
pub use resample::{resize_exact, resized_output_size};

use crate::transforms::common::InterpolationMode;
use crate::{Input, Result};

/// `torchvision.transforms.functional.resized_crop`: `crop` then `resize` to
/// `size = (h, w)`.
#[allow(clippy::too_many_arguments)]
pub fn resized_crop(
    input: Input,
    top: i64,
    left: i64,
    height: usize,
    width: usize,
    size: (usize, usize),
    interpolation: InterpolationMode,
    antialias: bool,
) -> Result<Input> {
    let c = crop(input, top, left, height, width)?;
    resize_exact(c, size.0, size.1, interpolation, antialias)
}
