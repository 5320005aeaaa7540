use super::common::{coin, probability};
use super::functional::hflip;
use super::Transform;
use crate::{Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

fn half() -> f64 {
    0.5
}

/// Arguments of `torchvision.transforms.RandomHorizontalFlip(p=0.5)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomHorizontalFlipConfig {
    /// Probability of flipping.
    #[serde(default = "half")]
    pub p: f64,
}

impl Default for RandomHorizontalFlipConfig {
    fn default() -> Self {
        Self { p: 0.5 }
    }
}

impl RandomHorizontalFlipConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<RandomHorizontalFlip> {
        Ok(RandomHorizontalFlip {
            p: probability(self.p, "p")?,
        })
    }
}

/// `torchvision.transforms.RandomHorizontalFlip`: flips ([`hflip`]) when `torch.rand(1) < p`.
pub struct RandomHorizontalFlip {
    p: f64,
}

impl RandomHorizontalFlip {
    /// Whether this sample is flipped.
    pub fn get_params(&self, rng: &mut SeedRng) -> bool {
        coin(rng, self.p)
    }
}

impl Transform for RandomHorizontalFlip {
    fn apply(&self, input: Input, rng: &mut SeedRng) -> Result<Input> {
        if self.get_params(rng) {
            hflip(input)
        } else {
            Ok(input)
        }
    }
}
