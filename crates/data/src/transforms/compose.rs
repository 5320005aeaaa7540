use super::{AfterCrop, CropBox, Kind, Transform, TransformConfig};
use crate::Result;
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

/// Arguments of `torchvision.transforms.Compose(transforms)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeConfig {
    /// The transforms, applied in order.
    pub transforms: Vec<TransformConfig>,
}

impl ComposeConfig {
    /// Builds every transform of the list.
    pub fn build(&self) -> Result<Compose> {
        Compose::from_configs(&self.transforms)
    }
}

/// `torchvision.transforms.Compose`: transforms applied in order.
#[derive(Default)]
pub struct Compose(pub Vec<Box<dyn Transform>>);

impl Compose {
    /// Builds every transform of a list.
    pub fn from_configs(cfgs: &[TransformConfig]) -> Result<Self> {
        Ok(Self(cfgs.iter().map(|t| t.build()).collect::<Result<_>>()?))
    }
}

impl Transform for Compose {
    fn resizes(&self) -> bool {
        self.0.iter().any(|t| t.resizes())
    }

    fn apply(&self, mut input: crate::Input, rng: &mut SeedRng) -> Result<crate::Input> {
        for t in &self.0 {
            input = t.apply(input, rng)?;
        }
        Ok(input)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let mut s = input.to_vec();
        for t in &self.0 {
            s = t.output_shape(&s)?;
        }
        Ok(s)
    }

    /// The first transform's crop, then the rest of it and the other transforms.
    fn split_crop(
        &self,
        height: usize,
        width: usize,
        rng: &mut SeedRng,
    ) -> Result<Option<(CropBox, AfterCrop<'_>)>> {
        let Some((first, others)) = self.0.split_first() else {
            return Ok(None);
        };
        let Some((b, rest)) = first.split_crop(height, width, rng)? else {
            return Ok(None);
        };
        let all: AfterCrop<'_> = Box::new(move |input, rng| {
            let mut input = rest(input, rng)?;
            for t in others {
                input = t.apply(input, rng)?;
            }
            Ok(input)
        });
        Ok(Some((b, all)))
    }

    fn output_kind(&self, input: Kind) -> Result<Kind> {
        let mut k = input;
        for t in &self.0 {
            k = t.output_kind(k)?;
        }
        Ok(k)
    }
}
