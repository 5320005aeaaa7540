use super::common::{coin, probability};
use super::functional::vflip;
use super::Transform;
use crate::{Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

fn half() -> f64 {
    0.5
}

/// Arguments of `torchvision.transforms.RandomVerticalFlip(p=0.5)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomVerticalFlipConfig {
    /// Probability of flipping.
    #[serde(default = "half")]
    pub p: f64,
}

impl Default for RandomVerticalFlipConfig {
    fn default() -> Self {
        Self { p: 0.5 }
    }
}

impl RandomVerticalFlipConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<RandomVerticalFlip> {
        Ok(RandomVerticalFlip {
            p: probability(self.p, "p")?,
        })
    }
}

/// `torchvision.transforms.RandomVerticalFlip`: flips ([`vflip`]) when `torch.rand(1) < p`.
pub struct RandomVerticalFlip {
    p: f64,
}

impl RandomVerticalFlip {
    /// Whether this sample is flipped.
    pub fn get_params(&self, rng: &mut SeedRng) -> bool {
        coin(rng, self.p)
    }
}

impl Transform for RandomVerticalFlip {
    fn apply(&self, input: Input, rng: &mut SeedRng) -> Result<Input> {
        if self.get_params(rng) {
            vflip(input)
        } else {
            Ok(input)
        }
    }
}
