use super::{Sampler, MAX_SAMPLES};
use crate::{Error, Result};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

/// Arguments of `torch.utils.data.SubsetRandomSampler(indices)`: the indices as a list,
/// or as Python's `range(start, stop[, step])` (`range = [0, 50000]`), or both (the
/// list, then the range).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsetRandomSamplerConfig {
    /// The dataset indices to draw from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indices: Vec<usize>,
    /// `[stop]`, `[start, stop]` or `[start, stop, step]`, as `range(...)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<Vec<usize>>,
}

impl SubsetRandomSamplerConfig {
    /// `range`'s `(start, stop, step)`, checked as Python's `range` checks them.
    fn range_args(&self) -> Result<Option<(usize, usize, usize)>> {
        let Some(r) = &self.range else {
            return Ok(None);
        };
        let (start, stop, step) = match r[..] {
            [stop] => (0, stop, 1),
            [start, stop] => (start, stop, 1),
            [start, stop, step] => (start, stop, step),
            _ => {
                return Err(Error::config(
                    "range",
                    format!(
                        "range takes 1 to 3 numbers ([stop], [start, stop] or [start, stop,                          step]), got {}",
                        r.len()
                    ),
                ))
            }
        };
        if step == 0 {
            return Err(Error::config("range", "range() arg 3 must not be zero"));
        }
        Ok(Some((start, stop, step)))
    }

    /// Checks the arguments without the dataset: a list or a range, a valid range, not
    /// more than [`MAX_SAMPLES`] indices.
    pub fn validate(&self) -> Result<()> {
        let range = self.range_args()?;
        if self.indices.is_empty() && range.is_none() {
            return Err(Error::config(
                "indices",
                "SubsetRandomSampler needs `indices = [...]` or `range = [start, stop]`",
            ));
        }
        let from_range = range.map_or(0, |(a, b, s)| b.saturating_sub(a).div_ceil(s));
        if self.indices.len() + from_range > MAX_SAMPLES {
            return Err(Error::config(
                "range",
                format!("more than {MAX_SAMPLES} indices per epoch"),
            ));
        }
        Ok(())
    }

    /// The indices: the list, then the range's.
    pub fn all_indices(&self) -> Result<Vec<usize>> {
        self.validate()?;
        let mut out = self.indices.clone();
        if let Some((start, stop, step)) = self.range_args()? {
            out.extend((start..stop).step_by(step));
        }
        Ok(out)
    }
}

/// `torch.utils.data.SubsetRandomSampler`: the given indices in a fresh random order
/// every epoch, without replacement.
pub struct SubsetRandomSampler {
    indices: Vec<usize>,
}

impl SubsetRandomSampler {
    /// A sampler over `cfg`'s indices, which must all be below the dataset length `len`.
    pub fn new(len: usize, cfg: &SubsetRandomSamplerConfig) -> Result<Self> {
        let indices = cfg.all_indices()?;
        if let Some((pos, &i)) = indices.iter().enumerate().find(|(_, &i)| i >= len) {
            let what = if pos < cfg.indices.len() {
                format!("indices[{pos}] = {i}")
            } else {
                format!("range's index {i}")
            };
            let key = if pos < cfg.indices.len() {
                "indices"
            } else {
                "range"
            };
            return Err(Error::config(
                key,
                format!("{what} is out of range for a dataset of {len} samples"),
            ));
        }
        Ok(Self { indices })
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
            range: None,
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

    #[test]
    fn ranges_as_python_writes_them() {
        let r = |range: Vec<usize>, indices: Vec<usize>| SubsetRandomSamplerConfig {
            indices,
            range: Some(range),
        };
        let sorted = |c: &SubsetRandomSamplerConfig| {
            let mut v = SubsetRandomSampler::new(100, c).unwrap().indices(0, 1);
            v.sort();
            v
        };
        assert_eq!(sorted(&r(vec![5], vec![])), (0..5).collect::<Vec<_>>());
        assert_eq!(
            sorted(&r(vec![90, 100], vec![])),
            (90..100).collect::<Vec<_>>()
        );
        assert_eq!(sorted(&r(vec![10, 20, 4], vec![])), vec![10, 14, 18]);
        assert_eq!(sorted(&r(vec![3], vec![50])), vec![0, 1, 2, 50]);
        assert_eq!(
            SubsetRandomSampler::new(100, &r(vec![7, 3], vec![]))
                .unwrap()
                .len(),
            0
        );
        let err = |c: SubsetRandomSamplerConfig| match SubsetRandomSampler::new(100, &c) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted {c:?}"),
        };
        assert!(err(r(vec![0, 10, 0], vec![])).contains("must not be zero"));
        assert!(err(r(vec![1, 2, 3, 4], vec![])).contains("1 to 3 numbers"));
        assert!(err(r(vec![95, 105], vec![])).contains("index 100 is out of range"));
        assert!(err(SubsetRandomSamplerConfig::default()).contains("range = [start, stop]"));
    }
}
