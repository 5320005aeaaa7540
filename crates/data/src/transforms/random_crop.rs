use super::center_crop::with_hw;
use super::common::{Fill, PaddingMode, Size};
use super::functional::{channels, crop, dims, pad};
use super::pad::{padded_shape, Padding};
use super::{nothing_after, AfterCrop, CropBox, Transform};
use crate::{Error, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

/// Arguments of `torchvision.transforms.RandomCrop(size, padding=None,
/// pad_if_needed=False, fill=0, padding_mode="constant")`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomCropConfig {
    /// `s` (square) or `[h, w]`.
    pub size: Size,
    /// Padding applied first (see [`Padding`]).
    #[serde(default)]
    pub padding: Option<Padding>,
    /// Pads a side that is shorter than the crop (right/bottom side by the missing
    /// amount, as torchvision's `[w − W, 0]` padding pads both left and right).
    #[serde(default)]
    pub pad_if_needed: bool,
    /// The constant-mode padding value.
    #[serde(default)]
    pub fill: Fill,
    /// `"constant"` (default), `"edge"`, `"reflect"` or `"symmetric"`.
    #[serde(default)]
    pub padding_mode: PaddingMode,
}

impl RandomCropConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<RandomCrop> {
        let (h, w) = self.size.hw("size")?;
        Ok(RandomCrop {
            h,
            w,
            padding: self.padding.as_ref().map(Padding::ltrb).transpose()?,
            pad_if_needed: self.pad_if_needed,
            fill: self.fill.clone(),
            mode: self.padding_mode,
        })
    }
}

/// `torchvision.transforms.RandomCrop`: optional padding, then an `h × w` crop at
/// `top = randint(0, H − h + 1)`, `left = randint(0, W − w + 1)` (drawn in that order).
pub struct RandomCrop {
    h: usize,
    w: usize,
    padding: Option<[i64; 4]>,
    pad_if_needed: bool,
    fill: Fill,
    mode: PaddingMode,
}

/// The random part of a [`RandomCrop`]: the crop's top-left corner in the padded image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropParams {
    /// First row.
    pub top: usize,
    /// First column.
    pub left: usize,
}

impl RandomCrop {
    /// torchvision's `RandomCrop.get_params` for a (padded) `height × width` input.
    pub fn get_params(&self, rng: &mut SeedRng, height: usize, width: usize) -> Result<CropParams> {
        if height < self.h || width < self.w {
            return Err(Error::Transform(format!(
                "Required crop size ({}, {}) is larger than input image size ({height}, {width})",
                self.h, self.w
            )));
        }
        if height == self.h && width == self.w {
            return Ok(CropParams { top: 0, left: 0 });
        }
        let top = rng.below(height - self.h + 1);
        let left = rng.below(width - self.w + 1);
        Ok(CropParams { top, left })
    }

    fn padded(&self, mut input: Input) -> Result<Input> {
        let fill = self.fill.per_channel(channels(&input))?;
        if let Some(p) = self.padding {
            input = pad(input, p, &fill, self.mode)?;
        }
        let (h, w) = dims(&input)?;
        if self.pad_if_needed && w < self.w {
            let d = (self.w - w) as i64;
            input = pad(input, [d, 0, d, 0], &fill, self.mode)?;
        }
        if self.pad_if_needed && h < self.h {
            let d = (self.h - h) as i64;
            input = pad(input, [0, d, 0, d], &fill, self.mode)?;
        }
        Ok(input)
    }
}

impl Transform for RandomCrop {
    fn resizes(&self) -> bool {
        true
    }

    fn apply(&self, input: Input, rng: &mut SeedRng) -> Result<Input> {
        let input = self.padded(input)?;
        let (h, w) = dims(&input)?;
        let p = self.get_params(rng, h, w)?;
        crop(input, p.top as i64, p.left as i64, self.h, self.w)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let mut s = input.to_vec();
        if let Some(p) = self.padding {
            s = padded_shape(&s, p, "RandomCrop")?;
        }
        let n = s.len();
        if n < 2 {
            return Err(Error::Transform(format!(
                "RandomCrop expects [..., H, W], got {input:?}"
            )));
        }
        let (mut h, mut w) = (s[n - 2], s[n - 1]);
        if self.pad_if_needed {
            if w < self.w {
                w += 2 * (self.w - w);
            }
            if h < self.h {
                h += 2 * (self.h - h);
            }
        }
        if h < self.h || w < self.w {
            return Err(Error::Transform(format!(
                "Required crop size ({}, {}) is larger than input image size ({h}, {w})",
                self.h, self.w
            )));
        }
        with_hw(input, self.h, self.w, "RandomCrop")
    }

    /// The random box, where the image is not padded (no `padding`, and large enough
    /// that `pad_if_needed` does nothing).
    fn split_crop(
        &self,
        height: usize,
        width: usize,
        rng: &mut SeedRng,
    ) -> Result<Option<(CropBox, AfterCrop<'_>)>> {
        if self.padding.is_some() || height < self.h || width < self.w {
            return Ok(None);
        }
        let p = self.get_params(rng, height, width)?;
        let b = CropBox {
            top: p.top,
            left: p.left,
            height: self.h,
            width: self.w,
        };
        Ok(Some((b, nothing_after())))
    }
}
