//! `torch.utils.data` samplers: the order in which a loader visits a dataset.

use crate::{Error, Result};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

/// Yields the dataset indices of one epoch.
pub trait Sampler: Send {
    /// The indices of epoch `epoch` (0-based), drawn from `seed`'s sampler stream.
    fn indices(&self, epoch: u64, seed: u64) -> Vec<usize>;
    /// Number of indices per epoch.
    fn len(&self) -> usize;
    /// Whether an epoch is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `torch.utils.data.SequentialSampler` takes no arguments besides the dataset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequentialSamplerConfig {}

/// Arguments of `torch.utils.data.RandomSampler(data_source, replacement=False,
/// num_samples=None)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomSamplerConfig {
    /// Draw with replacement (default `false`).
    #[serde(default)]
    pub replacement: bool,
    /// Samples per epoch (default: the dataset's length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_samples: Option<usize>,
}

wick_tensor::tagged_config! {
    /// A sampler by its PyTorch class name: `{ type = "RandomSampler" }`.
    pub enum SamplerConfig {
        /// `torch.utils.data.SequentialSampler`
        SequentialSampler(SequentialSamplerConfig),
        /// `torch.utils.data.RandomSampler`
        RandomSampler(RandomSamplerConfig),
    }
}

impl SamplerConfig {
    /// Builds the sampler for a dataset of `len` samples.
    pub fn build(&self, len: usize) -> Result<Box<dyn Sampler>> {
        Ok(match self {
            Self::SequentialSampler(_) => Box::new(SequentialSampler(len)),
            Self::RandomSampler(c) => {
                if c.num_samples == Some(0) {
                    return Err(Error::config(
                        "num_samples",
                        "num_samples should be a positive integer value, but got num_samples=0",
                    ));
                }
                Box::new(RandomSampler {
                    len,
                    replacement: c.replacement,
                    num_samples: c.num_samples.unwrap_or(len),
                })
            }
        })
    }
}

/// Visits `0..len` in order.
pub struct SequentialSampler(pub usize);

impl Sampler for SequentialSampler {
    fn indices(&self, _epoch: u64, _seed: u64) -> Vec<usize> {
        (0..self.0).collect()
    }
    fn len(&self) -> usize {
        self.0
    }
}

/// A fresh random permutation every epoch (or `num_samples` draws with replacement).
/// Epoch `e`'s order depends only on the seed and `e`, so a resumed run sees the same
/// order.
pub struct RandomSampler {
    len: usize,
    replacement: bool,
    num_samples: usize,
}

impl Sampler for RandomSampler {
    fn len(&self) -> usize {
        if self.len == 0 {
            0
        } else {
            self.num_samples
        }
    }
    fn indices(&self, epoch: u64, seed: u64) -> Vec<usize> {
        let mut rng = SeedRng::stream(seed, "sampler", &[epoch]);
        if self.len == 0 {
            return Vec::new();
        }
        if self.replacement {
            return (0..self.num_samples).map(|_| rng.below(self.len)).collect();
        }
        // Like PyTorch: whole permutations, concatenated until num_samples is reached.
        let mut out = Vec::with_capacity(self.num_samples);
        while out.len() < self.num_samples {
            let mut perm: Vec<usize> = (0..self.len).collect();
            perm.shuffle(rng.inner());
            let take = (self.num_samples - out.len()).min(self.len);
            out.extend_from_slice(&perm[..take]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_sampler_is_a_seeded_permutation_per_epoch() {
        let s = SamplerConfig::RandomSampler(Default::default())
            .build(100)
            .unwrap();
        let a = s.indices(0, 1);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(a, s.indices(0, 1));
        assert_ne!(a, s.indices(1, 1));
        assert_ne!(a, s.indices(0, 2));
    }

    #[test]
    fn replacement_and_num_samples() {
        let cfg = RandomSamplerConfig {
            replacement: true,
            num_samples: Some(250),
        };
        let idx = SamplerConfig::RandomSampler(cfg)
            .build(10)
            .unwrap()
            .indices(0, 0);
        assert_eq!(idx.len(), 250);
        assert!(idx.iter().all(|&i| i < 10));
        let cfg = RandomSamplerConfig {
            replacement: false,
            num_samples: Some(25),
        };
        let idx = SamplerConfig::RandomSampler(cfg)
            .build(10)
            .unwrap()
            .indices(0, 0);
        assert_eq!(idx.len(), 25);
        let mut first: Vec<usize> = idx[..10].to_vec();
        first.sort();
        assert_eq!(first, (0..10).collect::<Vec<_>>());
    }
}
