use super::Sampler;
use serde::{Deserialize, Serialize};

/// `torch.utils.data.SequentialSampler` takes no arguments besides the dataset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequentialSamplerConfig {}

/// `torch.utils.data.SequentialSampler`: visits `0..len` in order, every epoch.
pub struct SequentialSampler(pub usize);

impl SequentialSampler {
    /// A sampler over a dataset of `len` samples.
    pub fn new(len: usize) -> Self {
        Self(len)
    }
}

impl Sampler for SequentialSampler {
    fn indices(&self, _epoch: u64, _seed: u64) -> Vec<usize> {
        (0..self.0).collect()
    }
    fn len(&self) -> usize {
        self.0
    }
}
