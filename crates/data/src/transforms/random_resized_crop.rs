use super::center_crop::with_hw;
use super::common::{pair, InterpolationMode, Size};
use super::functional::{dims, resized_crop};
use super::{AfterCrop, Transform};
use crate::{CropBox, Error, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

fn default_scale() -> Vec<f64> {
    vec![0.08, 1.0]
}
fn default_ratio() -> Vec<f64> {
    vec![3.0 / 4.0, 4.0 / 3.0]
}
fn yes() -> bool {
    true
}

/// Arguments of `torchvision.transforms.RandomResizedCrop(size, scale=(0.08, 1.0),
/// ratio=(3/4, 4/3), interpolation=BILINEAR, antialias=True)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomResizedCropConfig {
    /// Output size, `s` (square) or `[h, w]`.
    pub size: Size,
    /// Range of the crop's area as a fraction of the image's.
    #[serde(default = "default_scale")]
    pub scale: Vec<f64>,
    /// Range of the crop's aspect ratio `w / h`.
    #[serde(default = "default_ratio")]
    pub ratio: Vec<f64>,
    /// `"bilinear"` (default), `"nearest"` or `"bicubic"`.
    #[serde(default)]
    pub interpolation: InterpolationMode,
    /// Antialiasing for tensors (images are always antialiased). Default true.
    #[serde(default = "yes")]
    pub antialias: bool,
}

impl RandomResizedCropConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<RandomResizedCrop> {
        let size = self.size.hw("size")?;
        let scale = pair(&self.scale, "scale")?;
        let ratio = pair(&self.ratio, "ratio")?;
        if ratio.0 <= 0.0 || scale.0 < 0.0 {
            return Err(Error::config(
                "ratio",
                "scale must be non-negative and ratio positive",
            ));
        }
        Ok(RandomResizedCrop {
            size,
            scale,
            ratio,
            interpolation: self.interpolation,
            antialias: self.antialias,
        })
    }
}

/// `torchvision.transforms.RandomResizedCrop`: a random crop of random area and aspect
/// ratio ([`RandomResizedCrop::get_params`]) resized to `size`
/// ([`resized_crop`]).
pub struct RandomResizedCrop {
    size: (usize, usize),
    scale: (f64, f64),
    ratio: (f64, f64),
    interpolation: InterpolationMode,
    antialias: bool,
}

impl RandomResizedCrop {
    /// torchvision's `RandomResizedCrop.get_params`: up to 10 attempts drawing
    /// `area · U(scale)` and `exp(U(log ratio))`, `w = round(√(a·r))`,
    /// `h = round(√(a/r))`, accepted when it fits, then `top = randint(0, H − h + 1)`,
    /// `left = randint(0, W − w + 1)`; otherwise the centred crop of the whole image
    /// clamped to the ratio range.
    pub fn get_params(&self, rng: &mut SeedRng, height: usize, width: usize) -> CropBox {
        let area = (height * width) as f64;
        // torch.log(torch.tensor(ratio)) is float32
        let lr = ((self.ratio.0 as f32).ln(), (self.ratio.1 as f32).ln());
        for _ in 0..10 {
            let target_area = area * rng.uniform(self.scale.0, self.scale.1);
            let aspect = rng.uniform(f64::from(lr.0), f64::from(lr.1)).exp();
            let w = (target_area * aspect).sqrt().round_ties_even() as usize;
            let h = (target_area / aspect).sqrt().round_ties_even() as usize;
            if 0 < w && w <= width && 0 < h && h <= height {
                let top = rng.below(height - h + 1);
                let left = rng.below(width - w + 1);
                return CropBox {
                    top,
                    left,
                    height: h,
                    width: w,
                };
            }
        }
        let in_ratio = width as f64 / height as f64;
        let (w, h) = if in_ratio < self.ratio.0 {
            (
                width,
                (width as f64 / self.ratio.0).round_ties_even() as usize,
            )
        } else if in_ratio > self.ratio.1 {
            (
                (height as f64 * self.ratio.1).round_ties_even() as usize,
                height,
            )
        } else {
            (width, height)
        };
        CropBox {
            top: (height - h) / 2,
            left: (width - w) / 2,
            height: h,
            width: w,
        }
    }
}

impl Transform for RandomResizedCrop {
    fn resizes(&self) -> bool {
        true
    }

    fn apply(&self, input: Input, rng: &mut SeedRng) -> Result<Input> {
        let (h, w) = dims(&input)?;
        let b = self.get_params(rng, h, w);
        resized_crop(
            input,
            b.top as i64,
            b.left as i64,
            b.height,
            b.width,
            self.size,
            self.interpolation,
            self.antialias,
        )
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        with_hw(input, self.size.0, self.size.1, "RandomResizedCrop")
    }

    /// The random box; what remains is the resize of the cut-out image.
    fn split_crop(
        &self,
        height: usize,
        width: usize,
        rng: &mut SeedRng,
    ) -> Result<Option<(CropBox, AfterCrop<'_>)>> {
        let b = self.get_params(rng, height, width);
        let rest: AfterCrop<'_> = Box::new(move |input, _| {
            let (size, mode) = (self.size, self.interpolation);
            resized_crop(input, 0, 0, b.height, b.width, size, mode, self.antialias)
        });
        Ok(Some((b, rest)))
    }
}
