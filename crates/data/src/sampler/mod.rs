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
    /// The sampler over a dataset of `len` samples.
    ///
    /// # Errors
    /// Arguments that do not fit the dataset (indices past its end, a weight per
    /// sample that is missing).
    fn build(&self, len: usize) -> Result<Box<dyn Sampler>>;
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
                fn build(&self, $len: usize) -> Result<Box<dyn Sampler>> {
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
        build: |c, len| SequentialSampler::new(len)
    }
    RandomSampler(RandomSamplerConfig) {
        validate: |c| RandomSamplerConfig::validate(c),
        build: |c, len| RandomSampler::new(len, c)?
    }
    SubsetRandomSampler(SubsetRandomSamplerConfig) {
        validate: |c| Ok(()),
        build: |c, len| SubsetRandomSampler::new(len, c)?
    }
    WeightedRandomSampler(WeightedRandomSamplerConfig) {
        validate: |c| WeightedRandomSamplerConfig::validate(c),
        build: |c, len| WeightedRandomSampler::new(len, c)?
    }
}
