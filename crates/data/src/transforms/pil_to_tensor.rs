use super::{Kind, Transform};
use crate::{Error, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

/// `torchvision.transforms.PILToTensor()` takes no arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PILToTensorConfig {}

/// `torchvision.transforms.PILToTensor`: a PIL image becomes a `uint8` tensor with the
/// same values.
///
/// In wick an 8-bit image and a `uint8` tensor are the same [`Input::Image`] (the
/// `[C, H, W]` order is a matter of layout), so this leaves the sample as it is; follow
/// it with `ConvertImageDtype` (`dtype = "float32"`, values / 255) to get the float
/// tensor the loader collates. Errors on a float array, as torchvision rejects a tensor.
pub struct PILToTensor;

impl Transform for PILToTensor {
    fn apply(&self, input: Input, _rng: &mut SeedRng) -> Result<Input> {
        match input {
            Input::Image(_) => Ok(input),
            Input::Array(_) => Err(Error::Transform(
                "PILToTensor expects a PIL image, but got a float tensor".into(),
            )),
        }
    }

    fn output_kind(&self, input: Kind) -> Result<Kind> {
        match input {
            Kind::Image => Ok(Kind::Image),
            Kind::Tensor => Err(Error::Transform(
                "PILToTensor expects a PIL image, but the samples are already tensors".into(),
            )),
        }
    }
}
