//! torchvision's datasets and `torch.utils.data`'s dataset combinators.
//!
//! - Image sets: [`ImageFolder`] (and MNIST's family, CIFAR at the crate root).
//! - Tables and inline data: [`CsvConfig`] (CSV files), [`TensorsConfig`] (numbers
//!   written in the experiment file), both giving a [`TensorDataset`].
//! - scikit-learn-style 2-D point sets: [`MakeMoonsConfig`], [`MakeCirclesConfig`],
//!   [`MakeBlobsConfig`], [`MakeSpiralsConfig`].
//! - Hugging Face hub datasets in parquet files: [`HuggingFaceConfig`] (reading them,
//!   `HuggingFace`, needs the `hub` feature).
//! - [`Subset`], [`ConcatDataset`], [`random_split`], [`train_val_split`].
//! - [`DatasetConfig`]: every dataset above by name, built for a split; [`DatasetSpec`]
//!   for a dataset class of a user's own.

mod blobs;
mod catalog;
mod circles;
mod csv;
pub mod hub_cache;
#[cfg(feature = "hub")]
mod hub_dataset;
#[cfg(feature = "hub")]
mod hub_fetch;
mod hub_files;
mod huggingface;
mod image_folder;
mod info;
mod moons;
mod pairs;
#[cfg(feature = "hub")]
mod parquet_table;
mod spirals;
mod split;
mod synthetic;
mod tensor_dataset;
mod tensors;

pub use self::csv::{Column, CsvConfig, LabelDtype};
pub use blobs::{Centers, ClusterStd, MakeBlobsConfig};
pub use catalog::{
    dataset, register_builtins, Cifar100Config, DatasetCatalog, DatasetConfig, DatasetContext,
    DatasetSpec, EmnistConfig, FashionMnistConfig, KmnistConfig, MnistConfig, RegisterDataset,
};
pub use circles::MakeCirclesConfig;
#[cfg(feature = "hub")]
pub use hub_dataset::HuggingFace;
pub use huggingface::{DataFiles, HubSplit, HuggingFaceConfig, OneOrMany, SplitNames};
pub use image_folder::{ImageFolder, ImageFolderConfig, IMG_EXTENSIONS};
pub use info::{built_info, DataInfo, MAX_GENERATED};
pub use moons::MakeMoonsConfig;
pub use pairs::{Pairs, PairsConfig, Triplets, TripletsConfig};
pub use spirals::MakeSpiralsConfig;
pub use split::{
    random_split, split_indices, train_val_split, ConcatDataset, SplitLengths, Subset,
};
pub use tensor_dataset::{Labels, TensorDataset};
pub use tensors::{Flat, Nested, TensorsConfig};
