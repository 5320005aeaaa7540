use super::Sampler;
use crate::{Error, Result};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

/// Arguments of `torch.utils.data.SubsetRandomSampler(indices)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsetRandomSamplerConfig {
    /// The dataset indices to draw from (required).
    pub indices: Vec<usize>,
}

/// `torch.utils.data.SubsetRandomSampler`: the given indices in a fresh random order
/// every epoch, without replacement.
pub struct SubsetRandomSampler {
    indices: Vec<usize>,
}

impl SubsetRandomSampler {
    /// A sampler over `cfg.indices`, which must all be below the dataset length `len`.
    pub fn new(len: usize, cfg: &SubsetRandomSamplerConfig) -> Result<Self> {
        if let Some((pos, &i)) = cfg.indices.iter().enumerate().find(|(_, &i)| i >= len) {
            return Err(Error::config(
                "indices",
                format!("indices[{pos}] = {i} is out of range for a dataset of {len} samples"),
            ));
        }
        Ok(Self {
            indices: cfg.indices.clone(),
        })
    }
}

impl Sampler for SubsetRandomSampler {
    fn indices(&self, epoch: u64, seed: u64) -> Vec<usize> {
        let mut rng = SeedRng::stream(seed, "sampler", &[epoch]);
        let mut out = self.indices.clone();
        out.shuffle(rng.inner());
        out
    }
    fn len(&self) -> usize {
        self.indices.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutes_the_subset_each_epoch() {
        let cfg = SubsetRandomSamplerConfig {
            indices: (10..40).collect(),
        };
        let s = SubsetRandomSampler::new(50, &cfg).unwrap();
        let a = s.indices(0, 3);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, cfg.indices);
        assert_ne!(a, cfg.indices);
        assert_ne!(a, s.indices(1, 3));
        assert_eq!(a, s.indices(0, 3));
        let e = SubsetRandomSampler::new(20, &cfg)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("indices[10] = 20"), "{e}");
    }
}
