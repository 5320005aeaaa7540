use super::{Kind, Transform};
use crate::{Error, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

/// Arguments of `torchvision.transforms.Normalize(mean, std, inplace=False)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizeConfig {
    /// Per-channel means (one value broadcasts to every channel).
    pub mean: Vec<f64>,
    /// Per-channel standard deviations.
    pub std: Vec<f64>,
    /// Accepted for compatibility; changes no result.
    #[serde(default)]
    pub inplace: bool,
}

impl NormalizeConfig {
    /// Validates and builds. Like torchvision, mean and std are converted to `f32`
    /// first, and a std that is zero in `f32` is an error.
    pub fn build(&self) -> Result<Normalize> {
        if self.mean.is_empty() || self.std.is_empty() {
            return Err(Error::config(
                "mean",
                "mean and std need at least one value",
            ));
        }
        if self.mean.len() != self.std.len() && self.mean.len() != 1 && self.std.len() != 1 {
            return Err(Error::config(
                "std",
                format!(
                    "mean has {} values but std has {}",
                    self.mean.len(),
                    self.std.len()
                ),
            ));
        }
        let std: Vec<f32> = self.std.iter().map(|&s| s as f32).collect();
        if std.contains(&0.0) {
            return Err(Error::config(
                "std",
                "std evaluated to zero after conversion to float32, leading to division by zero",
            ));
        }
        Ok(Normalize {
            mean: self.mean.iter().map(|&m| m as f32).collect(),
            std,
        })
    }
}

/// `torchvision.transforms.Normalize`: `out[c] = (in[c] − mean[c]) / std[c]` over the
/// channels of a `[..., C, H, W]` float array (a stack of crops too), computed in `f32`
/// as torchvision does.
pub struct Normalize {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Transform for Normalize {
    fn apply(&self, input: Input, _rng: &mut SeedRng) -> Result<Input> {
        let Input::Array(mut a) = input else {
            return Err(Error::Transform(
                "Normalize expects a tensor; put ToTensor before it".into(),
            ));
        };
        self.output_shape(&a.shape)?;
        let axis = channel_axis(&a.shape);
        let c = a.shape[axis];
        let plane: usize = a.shape[axis + 1..].iter().product();
        for (i, block) in a.data.chunks_exact_mut(plane.max(1)).enumerate() {
            let ch = i % c.max(1);
            let m = self.mean[if self.mean.len() == 1 { 0 } else { ch }];
            let s = self.std[if self.std.len() == 1 { 0 } else { ch }];
            for v in block {
                *v = (*v - m) / s;
            }
        }
        Ok(Input::Array(a))
    }

    fn output_kind(&self, input: Kind) -> Result<Kind> {
        match input {
            Kind::Tensor => Ok(Kind::Tensor),
            Kind::Image => Err(super::needs_tensor("Normalize")),
        }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let n = self.mean.len().max(self.std.len());
        match input.get(channel_axis(input)) {
            Some(&c) if n == 1 || n == c => Ok(input.to_vec()),
            c => Err(Error::Transform(format!(
                "Normalize has {n} mean/std values but the tensor has shape {input:?} \
                 ({} channels)",
                c.copied().unwrap_or(0)
            ))),
        }
    }
}

/// The channel axis: the third from the end of `[..., C, H, W]` (torchvision's), the
/// first of a 1-D or 2-D tensor.
fn channel_axis(shape: &[usize]) -> usize {
    shape.len().saturating_sub(3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::ToTensor;
    use crate::{Array, Image};

    #[test]
    fn to_tensor_then_normalize() {
        let img = Input::Image(Image {
            height: 1,
            width: 2,
            channels: 1,
            data: vec![0, 255],
        });
        let mut rng = SeedRng::new(0);
        let t = ToTensor.apply(img, &mut rng).unwrap();
        let n = NormalizeConfig {
            mean: vec![0.1307],
            std: vec![0.3081],
            inplace: false,
        }
        .build()
        .unwrap();
        let Input::Array(a) = n.apply(t, &mut rng).unwrap() else {
            panic!()
        };
        assert_eq!(a.shape, vec![1, 1, 2]);
        assert_eq!(a.data[0], (0f32 - 0.1307f32) / 0.3081f32);
        assert_eq!(a.data[1], (1f32 - 0.1307f32) / 0.3081f32);
    }

    #[test]
    fn rgb_is_channel_first() {
        let img = Input::Image(Image {
            height: 1,
            width: 2,
            channels: 3,
            data: vec![255, 0, 0, 0, 0, 255],
        });
        let Input::Array(a) = ToTensor.apply(img, &mut SeedRng::new(0)).unwrap() else {
            panic!()
        };
        assert_eq!(a.shape, vec![3, 1, 2]);
        assert_eq!(a.data, vec![1., 0., 0., 0., 0., 1.]);
    }

    /// A stack of crops `[2, 3, 1, 2]` is normalized per channel, the third axis from
    /// the end, as torchvision's `F.normalize` does on `[..., C, H, W]`.
    #[test]
    fn channels_are_the_third_axis_from_the_end() {
        let t = NormalizeConfig {
            mean: vec![1.0, 2.0, 3.0],
            std: vec![1.0, 2.0, 4.0],
            inplace: false,
        }
        .build()
        .unwrap();
        let a = Input::Array(Array {
            shape: vec![2, 3, 1, 2],
            data: vec![1., 1., 2., 2., 3., 3., 5., 5., 6., 6., 7., 7.],
        });
        let Input::Array(a) = t.apply(a, &mut SeedRng::new(0)).unwrap() else {
            panic!()
        };
        assert_eq!(a.data, vec![0., 0., 0., 0., 0., 0., 4., 4., 2., 2., 1., 1.]);
        assert!(t.output_shape(&[2, 4, 1, 2]).is_err());
    }

    #[test]
    fn bad_arguments() {
        let e = NormalizeConfig {
            mean: vec![0.5],
            std: vec![0.0],
            inplace: false,
        }
        .build();
        assert!(e.err().unwrap().to_string().contains("division by zero"));
        let n = NormalizeConfig {
            mean: vec![0.5, 0.5, 0.5],
            std: vec![0.2, 0.2, 0.2],
            inplace: false,
        }
        .build()
        .unwrap();
        assert!(n.output_shape(&[1, 28, 28]).is_err());
    }
}
