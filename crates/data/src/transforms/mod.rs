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
mod five_crop;
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
#[cfg(test)]
mod split_tests;
mod to_tensor;

pub use crate::CropBox;
pub use center_crop::{CenterCrop, CenterCropConfig};
pub use color_jitter::{ColorJitter, ColorJitterConfig, ColorJitterParams};
pub use common::{Fill, InterpolationMode, NumOrRange, PaddingMode, Size};
pub use compose::{Compose, ComposeConfig};
pub use convert_image_dtype::{ConvertImageDtype, ConvertImageDtypeConfig, ImageDtype};
pub use five_crop::{FiveCropConfig, NCrop, TenCropConfig};
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
pub use random_resized_crop::{RandomResizedCrop, RandomResizedCropConfig};
pub use random_rotation::{RandomRotation, RandomRotationConfig};
pub use random_vertical_flip::{RandomVerticalFlip, RandomVerticalFlipConfig};
pub use resize::{Resize, ResizeConfig};
pub use to_tensor::{ToTensor, ToTensorConfig};

// (the catalog's types are declared below)

use crate::{Input, Result};
use std::any::Any;
use std::fmt::Debug;
use wick_tensor::catalog::{Catalog, Tagged};
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
    /// Whether the transform brings images to a size of its own choosing (`Resize`,
    /// the crops), so that images of many sizes can be batched after it; `false` by
    /// default.
    fn resizes(&self) -> bool {
        false
    }
    /// For a transform that begins by cutting a box out of the image (the crops):
    /// draws its parameters for an image of `height × width`, as [`apply`](Self::apply)
    /// would, and returns the box and what remains to be done to the cut-out pixels, so
    /// that a dataset can decode only the box ([`Dataset::get_region`]). `rest(crop)`
    /// equals `apply(image)` bit for bit, and both draw the same numbers from `rng`.
    /// `None` (the default), drawing nothing, where the transform needs the whole image
    /// (it pads it, or the crop does not fit).
    ///
    /// [`Dataset::get_region`]: crate::Dataset::get_region
    fn split_crop(
        &self,
        height: usize,
        width: usize,
        rng: &mut SeedRng,
    ) -> Result<Option<(CropBox, AfterCrop<'_>)>> {
        let _ = (height, width, rng);
        Ok(None)
    }
}

/// What remains of a transform after its crop ([`Transform::split_crop`]): applied to
/// the cut-out image, with the sample's stream.
pub type AfterCrop<'a> = Box<dyn FnOnce(Input, &mut SeedRng) -> Result<Input> + 'a>;

/// The `AfterCrop` of a plain crop: nothing left to do.
pub(crate) fn nothing_after<'a>() -> AfterCrop<'a> {
    Box::new(|input, _| Ok(input))
}

/// The arguments of a transform class (`transforms.RandomCrop(size, padding, …)`): what
/// a config type implements to be named in an experiment file's `transforms`. It is
/// also `serde`'s, `Clone` and `Debug`.
pub trait TransformSpec:
    wick_tensor::dyn_clone::DynClone + wick_tensor::erased_serde::Serialize + Any + Debug + Send + Sync
{
    /// Validates the arguments and builds the transform.
    ///
    /// # Errors
    /// Invalid arguments, with torchvision's messages.
    fn build(&self) -> Result<Box<dyn Transform>>;
}

/// A transform by its torchvision class name: `{ type = "RandomCrop", size = 28 }`.
pub type TransformConfig = Tagged<dyn TransformSpec>;

/// The transform classes an experiment file can name.
pub type TransformCatalog = Catalog<dyn TransformSpec>;

/// Implements [`TransformSpec`] for the built-in configs and generates
/// [`register_builtins`].
macro_rules! builtin_transforms {
    ($( $name:ident($cfg:ident) { build: |$c:ident| $build:expr } )+) => {
        $(
            impl TransformSpec for $cfg {
                fn build(&self) -> Result<Box<dyn Transform>> {
                    let $c = self;
                    let _ = &$c;
                    Ok(Box::new($build))
                }
            }
        )+

        wick_tensor::open_catalog! {
            spec = TransformSpec, what = "transform", register = RegisterTransform::transform,
            constructor = transform, builtins = register_builtins { $( $name($cfg), )+ }
        }
    };
}

builtin_transforms! {
    Compose(ComposeConfig) { build: |c| ComposeConfig::build(c)? }
    ToTensor(ToTensorConfig) { build: |c| ToTensor }
    PILToTensor(PILToTensorConfig) { build: |c| PILToTensor }
    ConvertImageDtype(ConvertImageDtypeConfig) { build: |c| c.build() }
    Normalize(NormalizeConfig) { build: |c| NormalizeConfig::build(c)? }
    Resize(ResizeConfig) { build: |c| ResizeConfig::build(c)? }
    CenterCrop(CenterCropConfig) { build: |c| CenterCropConfig::build(c)? }
    FiveCrop(FiveCropConfig) { build: |c| FiveCropConfig::build(c)? }
    TenCrop(TenCropConfig) { build: |c| TenCropConfig::build(c)? }
    RandomCrop(RandomCropConfig) { build: |c| RandomCropConfig::build(c)? }
    RandomResizedCrop(RandomResizedCropConfig) { build: |c| RandomResizedCropConfig::build(c)? }
    RandomHorizontalFlip(RandomHorizontalFlipConfig) { build: |c| RandomHorizontalFlipConfig::build(c)? }
    RandomVerticalFlip(RandomVerticalFlipConfig) { build: |c| RandomVerticalFlipConfig::build(c)? }
    RandomRotation(RandomRotationConfig) { build: |c| RandomRotationConfig::build(c)? }
    RandomAffine(RandomAffineConfig) { build: |c| RandomAffineConfig::build(c)? }
    Pad(PadConfig) { build: |c| PadConfig::build(c)? }
    Grayscale(GrayscaleConfig) { build: |c| GrayscaleConfig::build(c)? }
    RandomGrayscale(RandomGrayscaleConfig) { build: |c| RandomGrayscaleConfig::build(c)? }
    ColorJitter(ColorJitterConfig) { build: |c| ColorJitterConfig::build(c)? }
    GaussianBlur(GaussianBlurConfig) { build: |c| GaussianBlurConfig::build(c)? }
    RandomErasing(RandomErasingConfig) { build: |c| RandomErasingConfig::build(c)? }
    RandomApply(RandomApplyConfig) { build: |c| RandomApplyConfig::build(c)? }
    RandomChoice(RandomChoiceConfig) { build: |c| RandomChoiceConfig::build(c)? }
}

pub(crate) fn needs_tensor(what: &str) -> crate::Error {
    crate::Error::Transform(format!(
        "{what} expects a tensor, but the samples are still images here; put ToTensor before it"
    ))
}
