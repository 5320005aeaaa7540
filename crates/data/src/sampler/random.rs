use super::{Sampler, MAX_SAMPLES};
use crate::{Error, Result};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

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

impl RandomSamplerConfig {
    /// `num_samples` must be positive (and at most 2³²).
    pub fn validate(&self) -> Result<()> {
        match self.num_samples {
            Some(0) => Err(Error::config(
                "num_samples",
                "num_samples should be a positive integer value, but got num_samples=0",
            )),
            Some(n) if n > MAX_SAMPLES => Err(Error::config(
                "num_samples",
                format!("num_samples = {n} is more than {MAX_SAMPLES} samples per epoch"),
            )),
            _ => Ok(()),
        }
    }
}

/// `torch.utils.data.RandomSampler`: a fresh random permutation every epoch, or
/// `num_samples` uniform draws with replacement. Without replacement and with
/// `num_samples > len`, whole permutations are concatenated, as PyTorch does.
/// Epoch `e`'s order depends only on the seed and `e`.
pub struct RandomSampler {
    len: usize,
    replacement: bool,
    num_samples: usize,
}

impl RandomSampler {
    /// A sampler over a dataset of `len` samples.
    pub fn new(len: usize, cfg: &RandomSamplerConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Self {
            len,
            replacement: cfg.replacement,
            num_samples: cfg.num_samples.unwrap_or(len),
        })
    }
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
    use super::super::{Labels, SamplerConfig};
    use super::*;

    #[test]
    fn random_sampler_is_a_seeded_permutation_per_epoch() {
        let s = SamplerConfig::from(RandomSamplerConfig::default())
            .build(&Labels::unlabeled(100))
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
            num_samples: Some(2500),
        };
        let idx = SamplerConfig::from(cfg)
            .build(&Labels::unlabeled(10))
            .unwrap()
            .indices(0, 0);
        assert_eq!(idx.len(), 2500);
        assert!(idx.iter().all(|&i| i < 10));
        // with replacement: repeats within the first 10, every value about 250 times
        let mut counts = [0usize; 10];
        idx.iter().for_each(|&i| counts[i] += 1);
        assert!(
            counts.iter().all(|&c| (180..320).contains(&c)),
            "{counts:?}"
        );
        let mut first: Vec<usize> = idx[..10].to_vec();
        first.sort();
        first.dedup();
        assert!(first.len() < 10 || idx[10..20].iter().any(|i| idx[..10].contains(i)));
        let cfg = RandomSamplerConfig {
            replacement: false,
            num_samples: Some(25),
        };
        let idx = SamplerConfig::from(cfg)
            .build(&Labels::unlabeled(10))
            .unwrap()
            .indices(0, 0);
        assert_eq!(idx.len(), 25);
        let mut first: Vec<usize> = idx[..10].to_vec();
        first.sort();
        assert_eq!(first, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn zero_num_samples_is_an_error() {
        let cfg = RandomSamplerConfig {
            replacement: false,
            num_samples: Some(0),
        };
        let e = RandomSampler::new(5, &cfg).err().unwrap().to_string();
        assert!(e.contains("num_samples=0"), "{e}");
    }
}
