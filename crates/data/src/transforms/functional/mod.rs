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
pub(crate) use geometry::centred;
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
    if let Input::Image(img) = &input {
        let (ih, iw) = (img.height as i64, img.width as i64);
        let inside =
            top >= 0 && left >= 0 && top + height as i64 <= ih && left + width as i64 <= iw;
        if inside
            && interpolation != InterpolationMode::Nearest
            && height != size.0
            && width != size.1
            && height > 0
            && width > 0
            && size.0 > 0
            && size.1 > 0
        {
            let window = (top as usize, left as usize, height, width);
            return Ok(Input::Image(resample::resized_window_u8(
                img,
                window,
                size.0,
                size.1,
                interpolation,
            )));
        }
    }
    let c = crop(input, top, left, height, width)?;
    resize_exact(c, size.0, size.1, interpolation, antialias)
}
