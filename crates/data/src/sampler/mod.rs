//! `torch.utils.data` samplers: the order in which a loader visits a dataset.
//!
//! A sampler gives the dataset indices of a whole epoch at once, drawn from the
//! `("sampler", [epoch])` stream of the run seed, so epoch `e`'s order depends only on
//! the seed and `e`: a run resumed mid-epoch recomputes the epoch's list and skips the
//! batches it has done ([`crate::DataLoader::epoch_from`]).
//! [`BatchSampler`] cuts that list into batches (`batch_size`, `drop_last`).

mod batch;
mod distributed;
mod random;
mod sequential;
mod subset_random;
mod weighted_random;

pub use batch::BatchSampler;
pub use distributed::DistributedSampler;
pub use random::{RandomSampler, RandomSamplerConfig};
pub use sequential::{SequentialSampler, SequentialSamplerConfig};
pub use subset_random::{SubsetRandomSampler, SubsetRandomSamplerConfig};
pub use weighted_random::{Balanced, WeightedRandomSampler, WeightedRandomSamplerConfig, Weights};

use crate::{Dataset, Result};
use std::any::Any;
use std::fmt::Debug;
use wick_tensor::catalog::{Catalog, Tagged};

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

/// The arguments of a sampler class (`RandomSampler(data_source, replacement,
/// num_samples)` without `data_source`): what a config type implements to be named
/// as `sampler = { type = "..." }`. It is also `serde`'s, `Clone` and `Debug`.
pub trait SamplerSpec:
    wick_tensor::dyn_clone::DynClone + wick_tensor::erased_serde::Serialize + Any + Debug + Send + Sync
{
    /// Checks the arguments without the dataset; nothing by default.
    ///
    /// # Errors
    /// [`crate::Error::Config`] naming the argument.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
    /// The sampler over `data` (PyTorch's `data_source`): its length, and its samples'
    /// classes ([`Dataset::class_of`]) for the samplers that weigh them.
    ///
    /// # Errors
    /// Arguments that do not fit the dataset (indices past its end, a weight per
    /// sample that is missing).
    fn build(&self, data: &dyn Dataset) -> Result<Box<dyn Sampler>>;
}

/// A sampler by its `torch.utils.data` class name: `sampler = { type = "RandomSampler" }`.
pub type SamplerConfig = Tagged<dyn SamplerSpec>;

/// The sampler classes an experiment file can name.
pub type SamplerCatalog = Catalog<dyn SamplerSpec>;

/// Implements [`SamplerSpec`] for the built-in configs and generates
/// [`register_builtins`].
macro_rules! builtin_samplers {
    ($( $name:ident($cfg:ident) { validate: |$v:ident| $validate:expr, build: |$c:ident, $len:ident| $build:expr } )+) => {
        $(
            impl SamplerSpec for $cfg {
                fn validate(&self) -> Result<()> {
                    let $v = self;
                    let _ = &$v;
                    $validate
                }
                fn build(&self, $len: &dyn Dataset) -> Result<Box<dyn Sampler>> {
                    let $c = self;
                    let _ = &$c;
                    Ok(Box::new($build))
                }
            }
        )+

        wick_tensor::open_catalog! {
            spec = SamplerSpec, what = "sampler", register = RegisterSampler::sampler,
            constructor = sampler, builtins = register_builtins { $( $name($cfg), )+ }
        }
    };
}

builtin_samplers! {
    SequentialSampler(SequentialSamplerConfig) {
        validate: |c| Ok(()),
        build: |c, data| SequentialSampler::new(data.len())
    }
    RandomSampler(RandomSamplerConfig) {
        validate: |c| RandomSamplerConfig::validate(c),
        build: |c, data| RandomSampler::new(data.len(), c)?
    }
    SubsetRandomSampler(SubsetRandomSamplerConfig) {
        validate: |c| SubsetRandomSamplerConfig::validate(c),
        build: |c, data| SubsetRandomSampler::new(data.len(), c)?
    }
    WeightedRandomSampler(WeightedRandomSamplerConfig) {
        validate: |c| WeightedRandomSamplerConfig::validate(c),
        build: |c, data| WeightedRandomSampler::new(data, c)?
    }
}

/// A dataset of labels alone, for the samplers' tests.
#[cfg(test)]
pub(crate) struct Labels(pub Vec<Option<u32>>);

#[cfg(test)]
impl Labels {
    /// `n` samples without classes.
    pub(crate) fn unlabeled(n: usize) -> Self {
        Self(vec![None; n])
    }
}

#[cfg(test)]
impl Dataset for Labels {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn get(&self, index: usize) -> Result<crate::Sample> {
        let target = match self.0[index] {
            Some(c) => crate::Target::Class(c),
            None => crate::Target::scalar(0.0),
        };
        let input = crate::Input::Image(crate::Image {
            height: 1,
            width: 1,
            channels: 1,
            data: vec![0],
        });
        Ok(crate::Sample::new(input, target))
    }
}
