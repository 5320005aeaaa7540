//! wick-data: `torch.utils.data` and torchvision's datasets and transforms, in Rust.
//!
//! - [`Dataset`]: indexed samples (`__len__`, `__getitem__`) of an [`Input`] (image or
//!   float array) and a [`Target`] (class index or float values).
//!   [`Mnist`] reads MNIST, Fashion-MNIST, KMNIST and EMNIST from IDX files (gzipped or
//!   not, checksum-verified download), [`Cifar`] CIFAR-10/100 from their python or binary
//!   archives; [`datasets`] has `ImageFolder`, CSV, inline `Tensors`, scikit-learn-style
//!   point sets, Hugging Face hub datasets (parquet, with the `hub` feature), `Subset`/`ConcatDataset`/`random_split`, and the [`datasets::DatasetConfig`]
//!   catalog of them all.
//! - [`transforms`]: torchvision's transforms by name (`ToTensor`, `Normalize`, …), with
//!   randomness drawn from a per-sample seeded stream.
//! - [`sampler`]: `SequentialSampler`, `RandomSampler`, `SubsetRandomSampler`,
//!   `WeightedRandomSampler`, `BatchSampler`, seeded per epoch.
//! - [`DataLoader`]: batches collated ([`collate`]) into candle tensors — inputs
//!   `[B, …]` f32, targets u32 `[B]` or f32 `[B, …]` — decoded on worker threads, in
//!   the same order with the same contents whatever `num_workers` is, resumable
//!   mid-epoch.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod archive;
mod cifar;
mod cifar_python;
pub mod collate;
mod dataloader;
mod dataset;
pub mod datasets;
pub mod download;
mod error;
pub mod idx;
pub mod image_decode;
mod mnist;
pub mod pickle;
pub mod sampler;
#[doc(hidden)]
pub mod testing;
pub mod transforms;

pub use cifar::{Cifar, CifarConfig, CifarKind};
pub use dataloader::{Batch, BatchIter, DataLoader, DataLoaderConfig};
pub use dataset::{Array, CropBox, Dataset, Image, Input, RegionPicker, Sample, Target};
pub use error::{Error, Result};
pub use mnist::{data_root, EmnistSplit, Mnist, MnistKind, Split};
