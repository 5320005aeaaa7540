use super::{
    CsvConfig, HuggingFaceConfig, ImageFolderConfig, MakeBlobsConfig, MakeCirclesConfig,
    MakeMoonsConfig, MakeSpiralsConfig, TensorsConfig,
};
use crate::{Cifar, CifarConfig, CifarKind, Dataset, EmnistSplit, Mnist, MnistKind, Result, Split};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Arguments of `torchvision.datasets.MNIST(root, train, download)` (also
/// `FashionMNIST`, `KMNIST`); `train` comes from the split.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MnistConfig {
    /// The data root (default: the experiment's, `$WICK_DATA` or `./data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    /// Download missing files (default: the experiment's `download`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<bool>,
}

/// Arguments of `torchvision.datasets.EMNIST(root, split, train, download)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmnistConfig {
    /// `byclass`, `bymerge`, `balanced`, `letters`, `digits` or `mnist` (required).
    pub split: EmnistSplit,
    /// The data root (default: the experiment's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    /// Download missing files (EMNIST cannot be; the error says what to do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<bool>,
}

/// What a dataset is built for: the split, and the experiment-wide settings.
#[derive(Debug, Clone)]
pub struct DatasetContext<'a> {
    /// `train=True` or `False`.
    pub split: Split,
    /// The data root (`[data] root`, `$WICK_DATA` or `./data`; see [`crate::data_root`]).
    pub root: PathBuf,
    /// Download missing files of torchvision's datasets.
    pub download: bool,
    /// Mirrors overriding the official ones (tests, `WICK_MIRRORS`).
    pub mirrors: Option<&'a [String]>,
    /// The run seed (synthetic sets without `random_state` derive theirs from it).
    pub seed: u64,
}

impl DatasetContext<'_> {
    /// A relative file or folder of a dataset: under the data root when it exists
    /// there, else as given (relative to the working directory).
    pub fn resolve(&self, p: &Path) -> PathBuf {
        let p = crate::data_root(Some(p));
        if p.is_absolute() {
            return p;
        }
        let under = self.root.join(&p);
        if under.exists() {
            under
        } else {
            p
        }
    }

    fn root_of(&self, root: &Option<PathBuf>) -> PathBuf {
        match root {
            Some(r) => crate::data_root(Some(r)),
            None => self.root.clone(),
        }
    }
}

wick_tensor::tagged_config! {
    /// A dataset by its torchvision class name (scikit-learn's function name for the
    /// point generators): `{ type = "ImageFolder", root = "hymenoptera/train" }`.
    #[allow(non_camel_case_types)]
    pub enum DatasetConfig {
        /// `torchvision.datasets.MNIST`
        MNIST(MnistConfig),
        /// `torchvision.datasets.FashionMNIST`
        FashionMNIST(MnistConfig),
        /// `torchvision.datasets.KMNIST`
        KMNIST(MnistConfig),
        /// `torchvision.datasets.EMNIST`
        EMNIST(EmnistConfig),
        /// `torchvision.datasets.CIFAR10`
        CIFAR10(CifarConfig),
        /// `torchvision.datasets.CIFAR100`
        CIFAR100(CifarConfig),
        /// `torchvision.datasets.ImageFolder`
        ImageFolder(ImageFolderConfig),
        /// A CSV file of numbers
        CSV(CsvConfig),
        /// `datasets.load_dataset` of the Hugging Face hub (parquet; `--features hub`)
        HuggingFace(HuggingFaceConfig),
        /// `TensorDataset` of numbers written inline
        Tensors(TensorsConfig),
        /// `sklearn.datasets.make_moons`
        make_moons(MakeMoonsConfig),
        /// `sklearn.datasets.make_circles`
        make_circles(MakeCirclesConfig),
        /// `sklearn.datasets.make_blobs`
        make_blobs(MakeBlobsConfig),
        /// CS231n's spirals, with scikit-learn-style arguments
        make_spirals(MakeSpiralsConfig),
    }
}

impl DatasetConfig {
    /// Builds (finds, reads or generates) the dataset for a split.
    ///
    /// torchvision's sets read the split's files. `ImageFolder`, `CSV` and `Tensors`
    /// have no split: they give the same samples for both (carve a validation set with
    /// [`super::train_val_split`], or give each split its own `root`/`path`). The
    /// synthetic sets draw the test split from another stream of the run seed than
    /// the training split (unless `random_state` fixes it).
    pub fn build(&self, ctx: &DatasetContext<'_>) -> Result<Arc<dyn Dataset>> {
        let split_id = match ctx.split {
            Split::Train => 0,
            Split::Test => 1,
        };
        let mnist = |kind: MnistKind, root: &Option<PathBuf>, download: Option<bool>| {
            Mnist::load(
                kind,
                &ctx.root_of(root),
                ctx.split,
                download.unwrap_or(ctx.download),
                ctx.mirrors,
            )
        };
        let cifar = |kind: CifarKind, c: &CifarConfig| {
            Cifar::load(
                kind,
                &ctx.root_of(&c.root),
                ctx.split,
                c.download || ctx.download,
                ctx.mirrors,
            )
        };
        Ok(match self {
            Self::MNIST(c) => Arc::new(mnist(MnistKind::Mnist, &c.root, c.download)?),
            Self::FashionMNIST(c) => Arc::new(mnist(MnistKind::FashionMnist, &c.root, c.download)?),
            Self::KMNIST(c) => Arc::new(mnist(MnistKind::Kmnist, &c.root, c.download)?),
            Self::EMNIST(c) => Arc::new(mnist(MnistKind::Emnist(c.split), &c.root, c.download)?),
            Self::CIFAR10(c) => Arc::new(cifar(CifarKind::Cifar10, c)?),
            Self::CIFAR100(c) => Arc::new(cifar(CifarKind::Cifar100, c)?),
            Self::ImageFolder(c) => {
                let root = ctx.resolve(&c.root);
                Arc::new(super::ImageFolder::scan(&root, c)?)
            }
            Self::CSV(c) => Arc::new(c.load(&ctx.resolve(&c.path))?),
            Self::HuggingFace(c) => c.build(ctx.split)?,
            Self::Tensors(c) => Arc::new(c.build()?),
            Self::make_moons(c) => Arc::new(c.build(ctx.seed, split_id)?),
            Self::make_circles(c) => Arc::new(c.build(ctx.seed, split_id)?),
            Self::make_blobs(c) => Arc::new(c.build(ctx.seed, split_id)?),
            Self::make_spirals(c) => Arc::new(c.build(ctx.seed, split_id)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Target;

    fn ctx(root: &Path, split: Split) -> DatasetContext<'static> {
        DatasetContext {
            split,
            root: root.to_path_buf(),
            download: false,
            mirrors: None,
            seed: 1,
        }
    }

    #[test]
    fn builds_from_toml_tables() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("t.csv"), "1,2,0\n3,4,1\n").unwrap();
        let parse = |s: &str| -> DatasetConfig { toml::from_str(s).unwrap() };
        let c = ctx(d.path(), Split::Train);
        let csv = parse("type = \"CSV\"\npath = \"t.csv\"\nlabel_dtype = \"class\"");
        let ds = csv.build(&c).unwrap();
        assert_eq!(ds.get(1).unwrap().target, Target::Class(1));
        let t = parse("type = \"Tensors\"\nx = [[1.0], [2.0]]\ny = [[2.0], [4.0]]");
        assert_eq!(t.build(&c).unwrap().len(), 2);
        let m = parse("type = \"make_moons\"\nn_samples = 10\nnoise = 0.1");
        let train = m.build(&c).unwrap();
        let test = m.build(&ctx(d.path(), Split::Test)).unwrap();
        assert_eq!(train.len(), 10);
        assert_ne!(train.get(0).unwrap(), test.get(0).unwrap());
        let e = parse("type = \"MNIST\"")
            .build(&c)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("MNIST training files not found"), "{e}");
        let e = toml::from_str::<DatasetConfig>("type = \"EMNIST\"\nsplit = \"nope\"");
        assert!(e.is_err());
        assert!(DatasetConfig::TYPES.contains(&"ImageFolder"));
        assert_eq!(
            DatasetConfig::fields_of("make_circles").unwrap(),
            &["n_samples", "shuffle", "noise", "random_state", "factor"]
        );
    }
}
