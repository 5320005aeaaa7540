use super::{Kind, Transform, TransformConfig};
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

    fn output_kind(&self, input: Kind) -> Result<Kind> {
        let mut k = input;
        for t in &self.0 {
            k = t.output_kind(k)?;
        }
        Ok(k)
    }
}
