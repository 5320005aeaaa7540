//! torchvision's transforms, by their class names and arguments.
//!
//! A transform maps an [`Input`] to an [`Input`]. Random transforms draw their
//! parameters from the per-sample stream they are given, so a sample's augmentation
//! depends only on the seed, the epoch and the sample's position — not on which worker
//! thread decodes it.

mod normalize;
mod to_tensor;

pub use normalize::{Normalize, NormalizeConfig};
pub use to_tensor::{ToTensor, ToTensorConfig};

use crate::{Input, Result};
use wick_tensor::SeedRng;

/// One transform.
pub trait Transform: Send + Sync {
    /// Applies the transform; random ones draw from `rng`.
    fn apply(&self, input: Input, rng: &mut SeedRng) -> Result<Input>;
    /// The output shape for an input shape (`[C, H, W]`).
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }
}

wick_tensor::tagged_config! {
    /// A transform by its torchvision class name: `{ type = "Normalize", mean = [0.1307], std = [0.3081] }`.
    pub enum TransformConfig {
        /// `torchvision.transforms.ToTensor`
        ToTensor(ToTensorConfig),
        /// `torchvision.transforms.Normalize`
        Normalize(NormalizeConfig),
    }
}

impl TransformConfig {
    /// Validates the arguments and builds the transform.
    pub fn build(&self) -> Result<Box<dyn Transform>> {
        Ok(match self {
            Self::ToTensor(_) => Box::new(ToTensor),
            Self::Normalize(c) => Box::new(c.build()?),
        })
    }
}

/// `torchvision.transforms.Compose`: transforms applied in order.
#[derive(Default)]
pub struct Compose(pub Vec<Box<dyn Transform>>);

impl Compose {
    /// Builds every transform of a list.
    pub fn from_configs(cfgs: &[TransformConfig]) -> Result<Self> {
        Ok(Self(
            cfgs.iter()
                .map(TransformConfig::build)
                .collect::<Result<_>>()?,
        ))
    }
}

impl Transform for Compose {
    fn apply(&self, mut input: Input, rng: &mut SeedRng) -> Result<Input> {
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
}
