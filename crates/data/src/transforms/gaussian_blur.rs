use super::common::NumOrRange;
use super::functional::gaussian_blur;
use super::Transform;
use crate::{Error, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

/// A kernel size: one odd number, or `[kx, ky]` (width first, as torchvision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KernelSize {
    /// Square kernel.
    Int(usize),
    /// `[kx, ky]`.
    Seq(Vec<usize>),
}

fn default_sigma() -> NumOrRange {
    NumOrRange::Seq(vec![0.1, 2.0])
}

/// Arguments of `torchvision.transforms.GaussianBlur(kernel_size, sigma=(0.1, 2.0))`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaussianBlurConfig {
    /// Odd, positive; `k` or `[kx, ky]`.
    pub kernel_size: KernelSize,
    /// A fixed σ, or the `[min, max]` range σ is drawn from.
    #[serde(default = "default_sigma")]
    pub sigma: NumOrRange,
}

impl GaussianBlurConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<GaussianBlur> {
        let kernel = match &self.kernel_size {
            KernelSize::Int(k) => (*k, *k),
            KernelSize::Seq(v) if v.len() == 1 => (v[0], v[0]),
            KernelSize::Seq(v) if v.len() == 2 => (v[0], v[1]),
            KernelSize::Seq(_) => {
                return Err(Error::config(
                    "kernel_size",
                    "Kernel size should be a tuple/list of two integers",
                ))
            }
        };
        for k in [kernel.0, kernel.1] {
            if k == 0 || k % 2 == 0 {
                return Err(Error::config(
                    "kernel_size",
                    "Kernel size value should be an odd and positive number.",
                ));
            }
        }
        let sigma = match &self.sigma {
            NumOrRange::Num(s) if *s > 0.0 => (*s, *s),
            NumOrRange::Num(_) => {
                return Err(Error::config(
                    "sigma",
                    "If sigma is a single number, it must be positive.",
                ))
            }
            NumOrRange::Seq(v) if v.len() == 2 && 0.0 < v[0] && v[0] <= v[1] => (v[0], v[1]),
            NumOrRange::Seq(_) => {
                return Err(Error::config(
                    "sigma",
                    "sigma values should be positive and of the form (min, max).",
                ))
            }
        };
        Ok(GaussianBlur { kernel, sigma })
    }
}

/// `torchvision.transforms.GaussianBlur`: σ drawn from `U(min, max)`, then
/// [`gaussian_blur`] with `(σ, σ)`.
pub struct GaussianBlur {
    kernel: (usize, usize),
    sigma: (f64, f64),
}

impl GaussianBlur {
    /// The random σ.
    pub fn get_params(&self, rng: &mut SeedRng) -> f64 {
        if self.sigma.0 == self.sigma.1 {
            self.sigma.0
        } else {
            rng.uniform(self.sigma.0, self.sigma.1)
        }
    }
}

impl Transform for GaussianBlur {
    fn apply(&self, input: Input, rng: &mut SeedRng) -> Result<Input> {
        let s = self.get_params(rng);
        gaussian_blur(input, self.kernel, (s, s))
    }
}
