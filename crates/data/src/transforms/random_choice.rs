use super::{Kind, Transform, TransformConfig};
use crate::{Error, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

/// Arguments of `torchvision.transforms.RandomChoice(transforms, p=None)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomChoiceConfig {
    /// One of them is applied to each sample.
    pub transforms: Vec<TransformConfig>,
    /// Relative weights (need not sum to 1); equal when absent.
    #[serde(default)]
    pub p: Option<Vec<f64>>,
}

impl RandomChoiceConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<RandomChoice> {
        if self.transforms.is_empty() {
            return Err(Error::config(
                "transforms",
                "RandomChoice needs at least one transform",
            ));
        }
        let weights = match &self.p {
            None => vec![1.0; self.transforms.len()],
            Some(p) if p.len() != self.transforms.len() => {
                return Err(Error::config(
                    "p",
                    format!(
                        "Length of p doesn't match the number of transforms: {} != {}",
                        p.len(),
                        self.transforms.len()
                    ),
                ))
            }
            Some(p) => p.clone(),
        };
        if weights
            .iter()
            .any(|&w| w.is_nan() || w < 0.0 || !w.is_finite())
            || weights.iter().sum::<f64>() <= 0.0
        {
            return Err(Error::config(
                "p",
                "weights must be non-negative with a positive sum",
            ));
        }
        let mut cum = Vec::with_capacity(weights.len());
        let mut acc = 0.0;
        for w in weights {
            acc += w;
            cum.push(acc);
        }
        Ok(RandomChoice {
            transforms: self
                .transforms
                .iter()
                .map(|t| t.build())
                .collect::<Result<_>>()?,
            cum,
        })
    }
}

/// `torchvision.transforms.RandomChoice`: one transform of the list, picked as
/// Python's `random.choices(transforms, weights=p)` (cumulative weights, a uniform draw
/// times the total, the first cumulative weight above it).
pub struct RandomChoice {
    transforms: Vec<Box<dyn Transform>>,
    cum: Vec<f64>,
}

impl RandomChoice {
    /// The index of the transform applied to this sample.
    pub fn get_params(&self, rng: &mut SeedRng) -> usize {
        let total = *self.cum.last().unwrap_or(&1.0);
        let u = rng.uniform(0.0, 1.0) * total;
        self.cum
            .iter()
            .position(|&c| u < c)
            .unwrap_or(self.cum.len() - 1)
    }
}

impl Transform for RandomChoice {
    fn apply(&self, input: Input, rng: &mut SeedRng) -> Result<Input> {
        let i = self.get_params(rng);
        self.transforms[i].apply(input, rng)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let first = self.transforms[0].output_shape(input)?;
        for t in &self.transforms[1..] {
            let s = t.output_shape(input)?;
            if s != first {
                return Err(Error::Transform(format!(
                    "RandomChoice's transforms give different shapes ({first:?} and {s:?}) for \
                     {input:?}, so the output shape is not static"
                )));
            }
        }
        Ok(first)
    }

    fn output_kind(&self, input: Kind) -> Result<Kind> {
        let first = self.transforms[0].output_kind(input)?;
        for t in &self.transforms[1..] {
            if t.output_kind(input)? != first {
                return Err(Error::Transform(
                    "RandomChoice's transforms give images and tensors mixed".into(),
                ));
            }
        }
        Ok(first)
    }
}
