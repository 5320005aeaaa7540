use super::common::Size;
use super::functional::{center_crop, centred, dims};
use super::{nothing_after, AfterCrop, CropBox, Transform};
use crate::{Error, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

/// Arguments of `torchvision.transforms.CenterCrop(size)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CenterCropConfig {
    /// `s` (square) or `[h, w]`.
    pub size: Size,
}

impl CenterCropConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<CenterCrop> {
        let (h, w) = self.size.hw("size")?;
        Ok(CenterCrop { h, w })
    }
}

/// `torchvision.transforms.CenterCrop`: the centred `h × w` region, top
/// `round((H − h) / 2)`, left `round((W − w) / 2)`; an input smaller than the crop is
/// zero-padded first as torchvision does ([`center_crop`]).
pub struct CenterCrop {
    h: usize,
    w: usize,
}

impl Transform for CenterCrop {
    fn resizes(&self) -> bool {
        true
    }

    fn apply(&self, input: Input, _rng: &mut SeedRng) -> Result<Input> {
        dims(&input)?;
        center_crop(input, self.h, self.w)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        with_hw(input, self.h, self.w, "CenterCrop")
    }

    /// The centred box, where it fits in the image (a smaller image is padded first).
    fn split_crop(
        &self,
        height: usize,
        width: usize,
        _rng: &mut SeedRng,
    ) -> Result<Option<(CropBox, AfterCrop<'_>)>> {
        if self.h > height || self.w > width {
            return Ok(None);
        }
        let (top, left) = centred(height, width, self.h, self.w);
        let b = CropBox {
            top: top as usize,
            left: left as usize,
            height: self.h,
            width: self.w,
        };
        Ok(Some((b, nothing_after())))
    }
}

/// `input` with its last two axes replaced by `h, w`.
pub(crate) fn with_hw(input: &[usize], h: usize, w: usize, what: &str) -> Result<Vec<usize>> {
    let n = input.len();
    if n < 2 {
        return Err(Error::Transform(format!(
            "{what} expects [..., H, W], got {input:?}"
        )));
    }
    let mut s = input.to_vec();
    s[n - 2] = h;
    s[n - 1] = w;
    Ok(s)
}
