//! `torch.utils.data` samplers: the order in which a loader visits a dataset.
//!
//! A sampler gives the dataset indices of a whole epoch at once, drawn from the
//! `("sampler", [epoch])` stream of the run seed, so epoch `e`'s order depends only on
//! the seed and `e`: a run resumed mid-epoch recomputes the epoch's list and skips the
//! batches it has done ([`crate::DataLoader::epoch_from`]).
//! [`BatchSampler`] cuts that list into batches (`batch_size`, `drop_last`).

mod batch;
mod random;
mod sequential;
mod subset_random;
mod weighted_random;

pub use batch::BatchSampler;
pub use random::{RandomSampler, RandomSamplerConfig};
pub use sequential::{SequentialSampler, SequentialSamplerConfig};
pub use subset_random::{SubsetRandomSampler, SubsetRandomSamplerConfig};
pub use weighted_random::{WeightedRandomSampler, WeightedRandomSamplerConfig};

use crate::Result;

/// Yields the dataset indices of one epoch.
pub trait Sampler: Send + Sync {
    /// The indices of epoch `epoch` (0-based), drawn from `seed`'s sampler stream.
    fn indices(&self, epoch: u64, seed: u64) -> Vec<usize>;
    /// Number of indices per epoch.
    fn len(&self) -> usize;
    /// Whether an epoch is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Upper bound on `num_samples`, so that a typo does not exhaust memory.
pub const MAX_SAMPLES: usize = 1 << 32;

wick_tensor::tagged_config! {
    /// A sampler by its PyTorch class name: `{ type = "RandomSampler" }`.
    pub enum SamplerConfig {
        /// `torch.utils.data.SequentialSampler`
        SequentialSampler(SequentialSamplerConfig),
        /// `torch.utils.data.RandomSampler`
        RandomSampler(RandomSamplerConfig),
        /// `torch.utils.data.SubsetRandomSampler`
        SubsetRandomSampler(SubsetRandomSamplerConfig),
        /// `torch.utils.data.WeightedRandomSampler`
        WeightedRandomSampler(WeightedRandomSamplerConfig),
    }
}

impl SamplerConfig {
    /// Checks the arguments without a dataset (what can be checked before loading).
    pub fn validate(&self) -> Result<()> {
        match self {
            Self::SequentialSampler(_) => Ok(()),
            Self::RandomSampler(c) => c.validate(),
            Self::SubsetRandomSampler(_) => Ok(()),
            Self::WeightedRandomSampler(c) => c.validate(),
        }
    }

    /// Builds the sampler for a dataset of `len` samples; indices past the dataset
    /// (`SubsetRandomSampler`, `WeightedRandomSampler`) are errors.
    pub fn build(&self, len: usize) -> Result<Box<dyn Sampler>> {
        Ok(match self {
            Self::SequentialSampler(_) => Box::new(SequentialSampler::new(len)),
            Self::RandomSampler(c) => Box::new(RandomSampler::new(len, c)?),
            Self::SubsetRandomSampler(c) => Box::new(SubsetRandomSampler::new(len, c)?),
            Self::WeightedRandomSampler(c) => Box::new(WeightedRandomSampler::new(len, c)?),
        })
    }
}
