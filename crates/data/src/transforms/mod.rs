//! torchvision's transforms, by their class names and arguments.
//!
//! A transform maps an [`Input`] to an [`Input`]: an 8-bit image ([`Input::Image`],
//! `H×W×C`, 1 or 3 channels — a PIL image in mode `"L"` or `"RGB"`, or equally a
//! `uint8` tensor) or a float array ([`Input::Array`], `[…, C, H, W]`). On images the
//! transforms compute what torchvision computes on PIL images (PIL's resampling,
//! rounding and colour formulas); on arrays what it computes on float tensors.
//!
//! Random transforms draw all their parameters in one `get_params` step from the
//! per-sample stream they are given, so a sample's augmentation depends only on the
//! seed, the epoch and the sample's position — not on which worker thread decodes it.
//! The deterministic operations behind them are in [`functional`], with explicit
//! parameters, as `torchvision.transforms.functional`.

mod center_crop;
mod color_jitter;
pub mod common;
mod compose;
mod convert_image_dtype;
pub mod functional;
mod gaussian_blur;
mod grayscale;
mod normalize;
mod pad;
mod pil_to_tensor;
mod random_affine;
mod random_apply;
mod random_choice;
mod random_crop;
mod random_erasing;
mod random_grayscale;
mod random_horizontal_flip;
mod random_resized_crop;
mod random_rotation;
#[cfg(test)]
mod random_tests;
mod random_vertical_flip;
mod resize;
mod to_tensor;

pub use center_crop::{CenterCrop, CenterCropConfig};
pub use color_jitter::{ColorJitter, ColorJitterConfig, ColorJitterParams};
pub use common::{Fill, InterpolationMode, NumOrRange, PaddingMode, Size};
pub use compose::{Compose, ComposeConfig};
pub use convert_image_dtype::{ConvertImageDtype, ConvertImageDtypeConfig, ImageDtype};
pub use gaussian_blur::{GaussianBlur, GaussianBlurConfig, KernelSize};
pub use grayscale::{Grayscale, GrayscaleConfig};
pub use normalize::{Normalize, NormalizeConfig};
pub use pad::{Pad, PadConfig, Padding};
pub use pil_to_tensor::{PILToTensor, PILToTensorConfig};
pub use random_affine::{AffineParams, RandomAffine, RandomAffineConfig};
pub use random_apply::{RandomApply, RandomApplyConfig};
pub use random_choice::{RandomChoice, RandomChoiceConfig};
pub use random_crop::{CropParams, RandomCrop, RandomCropConfig};
pub use random_erasing::{
    erase, ErasingValue, RandomErasing, RandomErasingConfig, RandomErasingParams,
};
pub use random_grayscale::{RandomGrayscale, RandomGrayscaleConfig};
pub use random_horizontal_flip::{RandomHorizontalFlip, RandomHorizontalFlipConfig};
pub use random_resized_crop::{CropBox, RandomResizedCrop, RandomResizedCropConfig};
pub use random_rotation::{RandomRotation, RandomRotationConfig};
pub use random_vertical_flip::{RandomVerticalFlip, RandomVerticalFlipConfig};
pub use resize::{Resize, ResizeConfig};
pub use to_tensor::{ToTensor, ToTensorConfig};

use crate::{Input, Result};
use wick_tensor::SeedRng;

/// What a sample is between transforms: an 8-bit image (PIL image or `uint8` tensor)
/// or a float tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An 8-bit [`Input::Image`].
    Image,
    /// A float [`Input::Array`].
    Tensor,
}

/// One transform.
pub trait Transform: Send + Sync {
    /// Applies the transform; random ones draw from `rng`.
    fn apply(&self, input: Input, rng: &mut SeedRng) -> Result<Input>;
    /// The output shape for an input shape (`[C, H, W]`), or an error when the output
    /// shape is not the same for every sample of that shape (`RandomRotation` with
    /// `expand = true`, a `RandomChoice` between different sizes).
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }
    /// What the output is for an input of kind `input`, or an error when the transform
    /// cannot take that kind (e.g. `Normalize` before `ToTensor`).
    fn output_kind(&self, input: Kind) -> Result<Kind> {
        Ok(input)
    }
}

wick_tensor::tagged_config! {
    /// A transform by its torchvision class name: `{ type = "Normalize", mean = [0.1307], std = [0.3081] }`.
    pub enum TransformConfig {
        /// `torchvision.transforms.Compose`
        Compose(ComposeConfig),
        /// `torchvision.transforms.ToTensor`
        ToTensor(ToTensorConfig),
        /// `torchvision.transforms.PILToTensor`
        PILToTensor(PILToTensorConfig),
        /// `torchvision.transforms.ConvertImageDtype`
        ConvertImageDtype(ConvertImageDtypeConfig),
        /// `torchvision.transforms.Normalize`
        Normalize(NormalizeConfig),
        /// `torchvision.transforms.Resize`
        Resize(ResizeConfig),
        /// `torchvision.transforms.CenterCrop`
        CenterCrop(CenterCropConfig),
        /// `torchvision.transforms.RandomCrop`
        RandomCrop(RandomCropConfig),
        /// `torchvision.transforms.RandomResizedCrop`
        RandomResizedCrop(RandomResizedCropConfig),
        /// `torchvision.transforms.RandomHorizontalFlip`
        RandomHorizontalFlip(RandomHorizontalFlipConfig),
        /// `torchvision.transforms.RandomVerticalFlip`
        RandomVerticalFlip(RandomVerticalFlipConfig),
        /// `torchvision.transforms.RandomRotation`
        RandomRotation(RandomRotationConfig),
        /// `torchvision.transforms.RandomAffine`
        RandomAffine(RandomAffineConfig),
        /// `torchvision.transforms.Pad`
        Pad(PadConfig),
        /// `torchvision.transforms.Grayscale`
        Grayscale(GrayscaleConfig),
        /// `torchvision.transforms.RandomGrayscale`
        RandomGrayscale(RandomGrayscaleConfig),
        /// `torchvision.transforms.ColorJitter`
        ColorJitter(ColorJitterConfig),
        /// `torchvision.transforms.GaussianBlur`
        GaussianBlur(GaussianBlurConfig),
        /// `torchvision.transforms.RandomErasing`
        RandomErasing(RandomErasingConfig),
        /// `torchvision.transforms.RandomApply`
        RandomApply(RandomApplyConfig),
        /// `torchvision.transforms.RandomChoice`
        RandomChoice(RandomChoiceConfig),
    }
}

impl TransformConfig {
    /// Validates the arguments and builds the transform.
    pub fn build(&self) -> Result<Box<dyn Transform>> {
        Ok(match self {
            Self::Compose(c) => Box::new(c.build()?),
            Self::ToTensor(_) => Box::new(ToTensor),
            Self::PILToTensor(_) => Box::new(PILToTensor),
            Self::ConvertImageDtype(c) => Box::new(c.build()),
            Self::Normalize(c) => Box::new(c.build()?),
            Self::Resize(c) => Box::new(c.build()?),
            Self::CenterCrop(c) => Box::new(c.build()?),
            Self::RandomCrop(c) => Box::new(c.build()?),
            Self::RandomResizedCrop(c) => Box::new(c.build()?),
            Self::RandomHorizontalFlip(c) => Box::new(c.build()?),
            Self::RandomVerticalFlip(c) => Box::new(c.build()?),
            Self::RandomRotation(c) => Box::new(c.build()?),
            Self::RandomAffine(c) => Box::new(c.build()?),
            Self::Pad(c) => Box::new(c.build()?),
            Self::Grayscale(c) => Box::new(c.build()?),
            Self::RandomGrayscale(c) => Box::new(c.build()?),
            Self::ColorJitter(c) => Box::new(c.build()?),
            Self::GaussianBlur(c) => Box::new(c.build()?),
            Self::RandomErasing(c) => Box::new(c.build()?),
            Self::RandomApply(c) => Box::new(c.build()?),
            Self::RandomChoice(c) => Box::new(c.build()?),
        })
    }
}

/// The error of a tensor-only transform given an image.
pub(crate) fn needs_tensor(what: &str) -> crate::Error {
    crate::Error::Transform(format!(
        "{what} expects a tensor, but the samples are still images here; put ToTensor before it"
    ))
}
