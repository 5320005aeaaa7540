use super::common::{coin, probability};
use super::functional::{channels, rgb_to_grayscale};
use super::grayscale::set_channels;
use super::Transform;
use crate::{Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

fn tenth() -> f64 {
    0.1
}

/// Arguments of `torchvision.transforms.RandomGrayscale(p=0.1)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomGrayscaleConfig {
    /// Probability of converting.
    #[serde(default = "tenth")]
    pub p: f64,
}

impl RandomGrayscaleConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<RandomGrayscale> {
        Ok(RandomGrayscale {
            p: probability(self.p, "p")?,
        })
    }
}

/// `torchvision.transforms.RandomGrayscale`: when `torch.rand(1) < p`, grayscale with
/// as many output channels as the input has (so the shape is kept).
pub struct RandomGrayscale {
    p: f64,
}

impl RandomGrayscale {
    /// Whether this sample is converted.
    pub fn get_params(&self, rng: &mut SeedRng) -> bool {
        coin(rng, self.p)
    }
}

impl Transform for RandomGrayscale {
    fn apply(&self, input: Input, rng: &mut SeedRng) -> Result<Input> {
        if self.get_params(rng) {
            let c = channels(&input);
            rgb_to_grayscale(input, c)
        } else {
            Ok(input)
        }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let c = input.len().checked_sub(3).map_or(0, |k| input[k]);
        set_channels(input, c, "RandomGrayscale")
    }
}
