//! wick-data: `torch.utils.data` and torchvision's datasets and transforms, in Rust.
//!
//! - [`Dataset`]: indexed samples (`__len__`, `__getitem__`), e.g. [`Mnist`] for MNIST
//!   and Fashion-MNIST from IDX files (gzipped or not), with checksum-verified download.
//! - [`transforms`]: torchvision's transforms by name (`ToTensor`, `Normalize`, …), with
//!   randomness drawn from a per-sample seeded stream.
//! - [`sampler`]: `SequentialSampler`, `RandomSampler`.
//! - [`DataLoader`]: batches collated into candle tensors, optionally decoded on worker
//!   threads, in the same order with the same contents whatever `num_workers` is.
#![warn(missing_docs)]

pub mod archive;
mod cifar;
pub mod collate;
mod dataloader;
mod dataset;
pub mod datasets;
pub mod download;
mod error;
pub mod idx;
mod mnist;
pub mod sampler;
#[doc(hidden)]
pub mod testing;
pub mod transforms;

pub use cifar::{Cifar, CifarConfig, CifarKind};
pub use dataloader::{Batch, BatchIter, DataLoader, DataLoaderConfig};
pub use dataset::{Array, Dataset, Image, Input, Sample, Target};
pub use error::{Error, Result};
pub use mnist::{data_root, EmnistSplit, Mnist, MnistKind, Split};
