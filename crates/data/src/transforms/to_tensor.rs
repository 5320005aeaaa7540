use super::{Kind, Transform};
use crate::{Array, Error, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

/// `torchvision.transforms.ToTensor()` takes no arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToTensorConfig {}

/// `torchvision.transforms.ToTensor`: an 8-bit `H×W×C` image becomes a float
/// `[C, H, W]` array scaled to `[0, 1]` (`x / 255`).
pub struct ToTensor;

impl Transform for ToTensor {
    fn apply(&self, input: Input, _rng: &mut SeedRng) -> Result<Input> {
        let Input::Image(img) = input else {
            return Err(Error::Transform(
                "ToTensor expects an image, but got an array (ToTensor listed twice?)".into(),
            ));
        };
        let (h, w, c) = (img.height, img.width, img.channels);
        // x / 255 for every byte value, as torch divides; one channel plane after the
        // other, each written once in order (no zeroed buffer to overwrite)
        let lut: [f32; 256] = std::array::from_fn(|v| v as f32 / 255.0);
        let mut data = Vec::with_capacity(h * w * c);
        for k in 0..c {
            let channel = img.data.get(k..).unwrap_or_default();
            data.extend(channel.iter().step_by(c).map(|&v| lut[usize::from(v)]));
        }
        Ok(Input::Array(Array {
            shape: vec![c, h, w],
            data,
        }))
    }

    fn output_kind(&self, input: Kind) -> Result<Kind> {
        match input {
            Kind::Image => Ok(Kind::Tensor),
            Kind::Tensor => Err(Error::Transform(
                "ToTensor expects an image, but the samples are already tensors here".into(),
            )),
        }
    }
}
