use super::{Sampler, MAX_SAMPLES};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

/// Arguments of `torch.utils.data.WeightedRandomSampler(weights, num_samples,
/// replacement=True)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedRandomSamplerConfig {
    /// One non-negative weight per index `0..len(weights)` (need not sum to 1).
    pub weights: Vec<f64>,
    /// Draws per epoch (required).
    pub num_samples: usize,
    /// Draw with replacement (default `true`).
    #[serde(default = "yes")]
    pub replacement: bool,
}

fn yes() -> bool {
    true
}

impl WeightedRandomSamplerConfig {
    /// Checks the arguments as PyTorch does.
    pub fn validate(&self) -> Result<()> {
        if self.num_samples == 0 {
            return Err(Error::config(
                "num_samples",
                "num_samples should be a positive integer value, but got num_samples=0",
            ));
        }
        if self.num_samples > MAX_SAMPLES {
            return Err(Error::config(
                "num_samples",
                format!(
                    "num_samples = {} is more than {MAX_SAMPLES} samples per epoch",
                    self.num_samples
                ),
            ));
        }
        if let Some((i, w)) = self
            .weights
            .iter()
            .enumerate()
            .find(|(_, w)| !w.is_finite() || **w < 0.0)
        {
            return Err(Error::config(
                "weights",
                format!("weights[{i}] = {w}: weights must be finite and >= 0"),
            ));
        }
        let positive = self.weights.iter().filter(|w| **w > 0.0).count();
        if positive == 0 {
            return Err(Error::config(
                "weights",
                "invalid multinomial distribution (sum of weights <= 0)",
            ));
        }
        if !self.replacement && self.num_samples > positive {
            return Err(Error::config(
                "num_samples",
                format!(
                    "cannot draw num_samples = {} without replacement from {positive} \
                     indices of positive weight",
                    self.num_samples
                ),
            ));
        }
        Ok(())
    }
}

/// `torch.utils.data.WeightedRandomSampler`: draws indices `0..len(weights)` with
/// probability `weights[i] / Σ weights`. With replacement, each draw is independent;
/// without, it is sequential sampling without replacement (as `torch.multinomial`),
/// done with the equivalent exponential-keys method (keys `u^(1/w)`, largest first).
pub struct WeightedRandomSampler {
    cumulative: Vec<f64>,
    weights: Vec<f64>,
    num_samples: usize,
    replacement: bool,
}

impl WeightedRandomSampler {
    /// A sampler for a dataset of `len` samples: `weights` must not be longer.
    pub fn new(len: usize, cfg: &WeightedRandomSamplerConfig) -> Result<Self> {
        cfg.validate()?;
        if cfg.weights.len() > len {
            return Err(Error::config(
                "weights",
                format!(
                    "{} weights for a dataset of {len} samples: index {} would be out of range",
                    cfg.weights.len(),
                    len
                ),
            ));
        }
        let mut acc = 0.0;
        let cumulative = cfg
            .weights
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        Ok(Self {
            cumulative,
            weights: cfg.weights.clone(),
            num_samples: cfg.num_samples,
            replacement: cfg.replacement,
        })
    }
}

impl Sampler for WeightedRandomSampler {
    fn indices(&self, epoch: u64, seed: u64) -> Vec<usize> {
        let mut rng = SeedRng::stream(seed, "sampler", &[epoch]);
        let total = *self.cumulative.last().unwrap_or(&0.0);
        if self.replacement {
            return (0..self.num_samples)
                .map(|_| {
                    let u = rng.uniform(0.0, total);
                    // first index whose cumulative weight exceeds u (zero weights never)
                    let i = self.cumulative.partition_point(|&c| c <= u);
                    i.min(self.cumulative.len() - 1)
                })
                .collect();
        }
        let mut keys: Vec<(f64, usize)> = self
            .weights
            .iter()
            .enumerate()
            .filter(|(_, w)| **w > 0.0)
            .map(|(i, &w)| {
                let u = rng.uniform(f64::MIN_POSITIVE, 1.0);
                (u.ln() / w, i)
            })
            .collect();
        keys.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        keys.truncate(self.num_samples);
        keys.into_iter().map(|(_, i)| i).collect()
    }
    fn len(&self) -> usize {
        self.num_samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(weights: Vec<f64>, n: usize, replacement: bool) -> WeightedRandomSamplerConfig {
        WeightedRandomSamplerConfig {
            weights,
            num_samples: n,
            replacement,
        }
    }

    #[test]
    fn frequencies_follow_the_weights() {
        let s = WeightedRandomSampler::new(4, &cfg(vec![1.0, 0.0, 3.0, 6.0], 20000, true)).unwrap();
        let idx = s.indices(0, 9);
        let mut counts = [0f64; 4];
        idx.iter().for_each(|&i| counts[i] += 1.0);
        assert_eq!(counts[1], 0.0);
        for (c, p) in counts.iter().zip([0.1, 0.0, 0.3, 0.6]) {
            assert!((c / 20000.0 - p).abs() < 0.015, "{counts:?}");
        }
        assert_ne!(idx, s.indices(1, 9));
    }

    #[test]
    fn without_replacement_draws_distinct_indices_favoring_heavy_ones() {
        let w = vec![1.0, 1.0, 1.0, 1.0, 20.0, 0.0];
        let s = WeightedRandomSampler::new(6, &cfg(w, 3, false)).unwrap();
        let mut heavy_first = 0;
        for e in 0..500 {
            let idx = s.indices(e, 1);
            assert_eq!(idx.len(), 3);
            let mut d = idx.clone();
            d.sort();
            d.dedup();
            assert_eq!(d.len(), 3);
            assert!(!idx.contains(&5));
            heavy_first += usize::from(idx[0] == 4);
        }
        // P(first = 4) = 20/24
        assert!((380..460).contains(&heavy_first), "{heavy_first}");
    }

    #[test]
    fn invalid_arguments() {
        let e = |c| {
            WeightedRandomSampler::new(10, &c)
                .err()
                .unwrap()
                .to_string()
        };
        assert!(e(cfg(vec![1.0, -1.0], 2, true)).contains("weights[1] = -1"));
        assert!(e(cfg(vec![0.0, 0.0], 2, true)).contains("sum of weights"));
        assert!(e(cfg(vec![1.0, 0.0], 2, false)).contains("without replacement"));
        assert!(e(cfg(vec![1.0], 0, true)).contains("num_samples=0"));
        assert!(e(cfg(vec![1.0; 11], 2, true)).contains("11 weights"));
    }
}
