use super::functional::rgb_to_grayscale;
use super::Transform;
use crate::{Error, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

fn one() -> usize {
    1
}

/// Arguments of `torchvision.transforms.Grayscale(num_output_channels=1)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrayscaleConfig {
    /// 1 or 3 (identical) output channels.
    #[serde(default = "one")]
    pub num_output_channels: usize,
}

impl GrayscaleConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<Grayscale> {
        if self.num_output_channels != 1 && self.num_output_channels != 3 {
            return Err(Error::config(
                "num_output_channels",
                format!(
                    "num_output_channels should be either 1 or 3, got {}",
                    self.num_output_channels
                ),
            ));
        }
        Ok(Grayscale {
            n: self.num_output_channels,
        })
    }
}

/// `torchvision.transforms.Grayscale`: PIL's `convert("L")`
/// (`(R·19595 + G·38470 + B·7471 + 2¹⁵) >> 16`) on images, `0.2989 R + 0.587 G +
/// 0.114 B` on tensors ([`rgb_to_grayscale`]).
pub struct Grayscale {
    n: usize,
}

impl Transform for Grayscale {
    fn apply(&self, input: Input, _rng: &mut SeedRng) -> Result<Input> {
        rgb_to_grayscale(input, self.n)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        set_channels(input, self.n, "Grayscale")
    }
}

/// `input` (`[…, C, H, W]`, C of 1 or 3) with `n` channels.
pub(crate) fn set_channels(input: &[usize], n: usize, what: &str) -> Result<Vec<usize>> {
    let k = input.len();
    if k < 3 || !(input[k - 3] == 1 || input[k - 3] == 3) {
        return Err(Error::Transform(format!(
            "{what} expects [..., C, H, W] with 1 or 3 channels, got {input:?}"
        )));
    }
    let mut s = input.to_vec();
    s[k - 3] = n;
    Ok(s)
}
