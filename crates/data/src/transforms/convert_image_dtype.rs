use super::{Kind, Transform};
use crate::{Error, Image, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

/// The dtypes `ConvertImageDtype` converts between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageDtype {
    /// `torch.float32` (also spelled `"float"`).
    #[serde(
        rename = "float32",
        alias = "float",
        alias = "torch.float32",
        alias = "torch.float"
    )]
    Float32,
    /// `torch.uint8`.
    #[serde(rename = "uint8", alias = "torch.uint8")]
    Uint8,
}

/// Arguments of `torchvision.transforms.ConvertImageDtype(dtype)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvertImageDtypeConfig {
    /// `"float32"` or `"uint8"` (required).
    pub dtype: ImageDtype,
}

/// `torchvision.transforms.ConvertImageDtype`: converts an image tensor's dtype and
/// rescales its values.
///
/// - `uint8 → float32`: `x / 255` (an 8-bit [`Input::Image`] becomes a `[C, H, W]`
///   float [`Input::Array`], exactly as `ToTensor`).
/// - `float32 → uint8`: `floor(x · 255.999…)` as torchvision
///   (`(x · (255 + 1 − eps)).to(uint8)`), for 1- or 3-channel `[C, H, W]` arrays.
/// - same dtype: unchanged.
pub struct ConvertImageDtype {
    dtype: ImageDtype,
}

impl ConvertImageDtypeConfig {
    /// Builds the transform.
    pub fn build(&self) -> ConvertImageDtype {
        ConvertImageDtype { dtype: self.dtype }
    }
}

impl Transform for ConvertImageDtype {
    fn apply(&self, input: Input, rng: &mut SeedRng) -> Result<Input> {
        match (input, self.dtype) {
            (i @ Input::Image(_), ImageDtype::Float32) => super::ToTensor.apply(i, rng),
            (Input::Array(a), ImageDtype::Uint8) => {
                if a.shape.len() != 3 || !(a.shape[0] == 1 || a.shape[0] == 3) {
                    return Err(Error::Transform(format!(
                        "ConvertImageDtype to uint8 expects a [C, H, W] tensor with 1 or 3 \
                         channels, got shape {:?}",
                        a.shape
                    )));
                }
                let (c, h, w) = (a.shape[0], a.shape[1], a.shape[2]);
                // torch: eps = 1e-3; result = (x * (255 + 1 - eps)).to(uint8)
                let scale = 256.0f32 - 1e-3;
                let mut data = vec![0u8; c * h * w];
                for ch in 0..c {
                    for (i, &v) in a.data[ch * h * w..(ch + 1) * h * w].iter().enumerate() {
                        data[i * c + ch] = (v * scale).clamp(0.0, 255.0) as u8;
                    }
                }
                Ok(Input::Image(Image {
                    height: h,
                    width: w,
                    channels: c,
                    data,
                }))
            }
            (i, _) => Ok(i),
        }
    }

    fn output_kind(&self, _input: Kind) -> Result<Kind> {
        Ok(match self.dtype {
            ImageDtype::Float32 => Kind::Tensor,
            ImageDtype::Uint8 => Kind::Image,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Array;

    #[test]
    fn round_trip() {
        let img = Input::Image(Image {
            height: 1,
            width: 2,
            channels: 3,
            data: vec![0, 1, 2, 128, 254, 255],
        });
        let mut rng = SeedRng::new(0);
        let f = ConvertImageDtypeConfig {
            dtype: ImageDtype::Float32,
        }
        .build()
        .apply(img.clone(), &mut rng)
        .unwrap();
        let Input::Array(Array {
            ref data,
            ref shape,
        }) = f
        else {
            panic!()
        };
        assert_eq!(shape, &vec![3, 1, 2]);
        assert_eq!(data[1], 128.0 / 255.0);
        let back = ConvertImageDtypeConfig {
            dtype: ImageDtype::Uint8,
        }
        .build()
        .apply(f, &mut rng)
        .unwrap();
        assert_eq!(back, img);
    }
}
