use super::common::probability;
use super::{Compose, Kind, Transform, TransformConfig};
use crate::{Error, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

fn half() -> f64 {
    0.5
}

/// Arguments of `torchvision.transforms.RandomApply(transforms, p=0.5)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomApplyConfig {
    /// Applied together, in order, or not at all.
    pub transforms: Vec<TransformConfig>,
    /// Probability of applying them.
    #[serde(default = "half")]
    pub p: f64,
}

impl RandomApplyConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<RandomApply> {
        Ok(RandomApply {
            inner: Compose::from_configs(&self.transforms)?,
            p: probability(self.p, "p")?,
        })
    }
}

/// `torchvision.transforms.RandomApply`: the list is applied when `torch.rand(1) <= p`
/// (torchvision skips it when `p < rand`). The inner transforms draw from the same
/// stream after the coin.
pub struct RandomApply {
    inner: Compose,
    p: f64,
}

impl RandomApply {
    /// Whether the transforms are applied to this sample.
    pub fn get_params(&self, rng: &mut SeedRng) -> bool {
        rng.uniform(0.0, 1.0) <= self.p
    }
}

impl Transform for RandomApply {
    fn apply(&self, input: Input, rng: &mut SeedRng) -> Result<Input> {
        if self.get_params(rng) {
            self.inner.apply(input, rng)
        } else {
            Ok(input)
        }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let s = self.inner.output_shape(input)?;
        if s != input {
            return Err(Error::Transform(format!(
                "RandomApply's transforms change the shape {input:?} to {s:?}, so the output \
                 shape depends on the coin; use transforms that keep the shape"
            )));
        }
        Ok(s)
    }

    fn output_kind(&self, input: Kind) -> Result<Kind> {
        let k = self.inner.output_kind(input)?;
        if k != input {
            return Err(Error::Transform(
                "RandomApply's transforms turn images into tensors (or back), so the output \
                 depends on the coin"
                    .into(),
            ));
        }
        Ok(k)
    }
}
