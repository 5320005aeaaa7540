//! The dataset catalog: what `[data] dataset = "MNIST"` names.
//!
//! A dataset class is a config type implementing [`DatasetSpec`] (build the dataset
//! for a split; say what is known of it before reading) registered under its
//! torchvision class name in a [`DatasetCatalog`]; wick's own are registered by
//! [`register_builtins`] as a user's crate registers its own.

use super::info::{points, DataInfo};
use super::Centers;
use super::{
    CsvConfig, HuggingFaceConfig, ImageFolderConfig, MakeBlobsConfig, MakeCirclesConfig,
    MakeMoonsConfig, MakeSpiralsConfig, TensorsConfig,
};
use crate::{Cifar, CifarConfig, CifarKind, Dataset, EmnistSplit, Mnist, MnistKind, Result, Split};
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wick_tensor::catalog::{Catalog, Tagged};

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

/// The arguments of a dataset class (`datasets.MNIST(root, train, download)`): what a
/// config type implements to be named in an experiment file. It is also `serde`'s,
/// `Clone` and `Debug`.
pub trait DatasetSpec:
    wick_tensor::dyn_clone::DynClone + wick_tensor::erased_serde::Serialize + Any + Debug + Send + Sync
{
    /// Builds (finds, reads or generates) the dataset for a split.
    ///
    /// # Errors
    /// Missing or corrupt files (named), invalid arguments.
    fn build(&self, ctx: &DatasetContext<'_>) -> Result<Arc<dyn Dataset>>;
    /// What is known before training, to check an experiment: sample shape, class
    /// count, images or tensors, class or float targets. By default the dataset is
    /// built for the training split under the working directory and its first sample
    /// read; a dataset whose files are large or elsewhere says what it knows instead.
    ///
    /// # Errors
    /// Invalid arguments; whatever building the dataset returns.
    fn info(&self, seed: u64) -> Result<DataInfo> {
        let ctx = DatasetContext {
            split: Split::Train,
            root: ".".into(),
            download: false,
            mirrors: None,
            seed,
        };
        super::info::built_info(self.build(&ctx)?.as_ref())
    }
}

/// A dataset by its torchvision class name (scikit-learn's function name for the
/// point generators): `{ type = "ImageFolder", root = "hymenoptera/train" }`.
pub type DatasetConfig = Tagged<dyn DatasetSpec>;

/// The dataset classes an experiment file can name.
pub type DatasetCatalog = Catalog<dyn DatasetSpec>;

/// Arguments of `torchvision.datasets.FashionMNIST` (see [`MnistConfig`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FashionMnistConfig(pub MnistConfig);

/// Arguments of `torchvision.datasets.KMNIST` (see [`MnistConfig`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KmnistConfig(pub MnistConfig);

/// Arguments of `torchvision.datasets.CIFAR100` (see [`CifarConfig`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cifar100Config(pub CifarConfig);

/// A split of MNIST's family.
fn mnist(kind: MnistKind, c: &MnistConfig, ctx: &DatasetContext<'_>) -> Result<Arc<dyn Dataset>> {
    Ok(Arc::new(Mnist::load(
        kind,
        &ctx.root_of(&c.root),
        ctx.split,
        c.download.unwrap_or(ctx.download),
        ctx.mirrors,
    )?))
}

/// A split of CIFAR.
fn cifar(kind: CifarKind, c: &CifarConfig, ctx: &DatasetContext<'_>) -> Result<Arc<dyn Dataset>> {
    Ok(Arc::new(Cifar::load(
        kind,
        &ctx.root_of(&c.root),
        ctx.split,
        c.download || ctx.download,
        ctx.mirrors,
    )?))
}

/// The synthetic sets draw the test split from another stream of the run seed.
fn split_id(ctx: &DatasetContext<'_>) -> u64 {
    match ctx.split {
        Split::Train => 0,
        Split::Test => 1,
    }
}

/// The blobs' feature and class counts, from their arguments.
fn blobs_info(c: &MakeBlobsConfig) -> Result<DataInfo> {
    let (features, classes) = match &c.centers {
        Some(Centers::Points(p)) => (p.first().map_or(c.n_features, Vec::len), Some(p.len())),
        Some(Centers::Count(n)) => (c.n_features, Some(*n)),
        None => (c.n_features, Some(3)),
    };
    points(c.n_samples, features, classes)
}

/// Implements [`DatasetSpec`] for the built-in configs and generates
/// [`register_builtins`]. torchvision's sets read the split's files. `ImageFolder`,
/// `CSV` and `Tensors` have no split: they give the same samples for both (carve a
/// validation set with [`super::train_val_split`], or give each split its own
/// `root`/`path`). The synthetic sets draw the test split from another stream of the
/// run seed than the training split (unless `random_state` fixes it); their facts
/// follow from their arguments (building them to check could ask for any amount of
/// memory).
macro_rules! builtin_datasets {
    ($( $name:ident($cfg:ty) { build: |$c:ident, $ctx:ident| $build:expr $(, info: |$ic:ident $(, $sd:ident)?| $info:expr)? } )+) => {
        $(
            impl DatasetSpec for $cfg {
                fn build(&self, $ctx: &DatasetContext<'_>) -> Result<Arc<dyn Dataset>> {
                    let $c = self;
                    let _ = (&$c, &$ctx);
                    $build
                }
                $( fn info(&self, seed: u64) -> Result<DataInfo> {
                    let $ic = self;
                    $( let $sd = seed; )?
                    let _ = (&$ic, seed);
                    $info
                } )?
            }
        )+

        wick_tensor::open_catalog! {
            spec = DatasetSpec, what = "dataset", register = RegisterDataset::dataset,
            constructor = dataset, builtins = register_builtins { $( $name($cfg), )+ }
        }
    };
}

builtin_datasets! {
    MNIST(MnistConfig) {
        build: |c, ctx| mnist(MnistKind::Mnist, c, ctx),
        info: |c| Ok(DataInfo::images(Some(vec![1, 28, 28]), Some(10)))
    }
    FashionMNIST(FashionMnistConfig) {
        build: |c, ctx| mnist(MnistKind::FashionMnist, &c.0, ctx),
        info: |c| Ok(DataInfo::images(Some(vec![1, 28, 28]), Some(10)))
    }
    KMNIST(KmnistConfig) {
        build: |c, ctx| mnist(MnistKind::Kmnist, &c.0, ctx),
        info: |c| Ok(DataInfo::images(Some(vec![1, 28, 28]), Some(10)))
    }
    EMNIST(EmnistConfig) {
        build: |c, ctx| mnist(
            MnistKind::Emnist(c.split),
            &MnistConfig { root: c.root.clone(), download: c.download },
            ctx,
        ),
        info: |c| Ok(DataInfo::images(Some(vec![1, 28, 28]), Some(c.split.classes().len())))
    }
    CIFAR10(CifarConfig) {
        build: |c, ctx| cifar(CifarKind::Cifar10, c, ctx),
        info: |c| Ok(DataInfo::images(Some(vec![3, 32, 32]), Some(10)))
    }
    CIFAR100(Cifar100Config) {
        build: |c, ctx| cifar(CifarKind::Cifar100, &c.0, ctx),
        info: |c| Ok(DataInfo::images(Some(vec![3, 32, 32]), Some(100)))
    }
    ImageFolder(ImageFolderConfig) {
        build: |c, ctx| Ok(Arc::new(super::ImageFolder::scan(&ctx.resolve(&c.root), c)?)),
        info: |c| Ok(DataInfo::images(None, None))
    }
    CSV(CsvConfig) {
        build: |c, ctx| Ok(Arc::new(c.load(&ctx.resolve(&c.path))?)),
        info: |c| Ok(c.info())
    }
    // its files may be on the hub: known when the run reads them
    HuggingFace(HuggingFaceConfig) {
        build: |c, ctx| c.build(ctx.split),
        info: |c| {
            c.validate()?;
            Ok(DataInfo {
                shape: None,
                classes: None,
                images: c.images(),
                sizes_vary: false,
                class_targets: None,
                inputs: super::info::one_input(),
                input_shapes: None,
            })
        }
    }
    Tensors(TensorsConfig) {
        build: |c, ctx| Ok(Arc::new(c.build()?))
    }
    Pairs(super::PairsConfig) {
        build: |c, ctx| Ok(Arc::new(c.build(ctx)?)),
        info: |c, seed| c.info(seed)
    }
    Triplets(super::TripletsConfig) {
        build: |c, ctx| Ok(Arc::new(c.build(ctx)?)),
        info: |c, seed| c.info(seed)
    }
    make_moons(MakeMoonsConfig) {
        build: |c, ctx| Ok(Arc::new(c.build(ctx.seed, split_id(ctx))?)),
        info: |c| points(c.n_samples, 2, Some(2))
    }
    make_circles(MakeCirclesConfig) {
        build: |c, ctx| Ok(Arc::new(c.build(ctx.seed, split_id(ctx))?)),
        info: |c| points(c.n_samples, 2, Some(2))
    }
    make_blobs(MakeBlobsConfig) {
        build: |c, ctx| Ok(Arc::new(c.build(ctx.seed, split_id(ctx))?)),
        info: |c| blobs_info(c)
    }
    make_spirals(MakeSpiralsConfig) {
        build: |c, ctx| Ok(Arc::new(c.build(ctx.seed, split_id(ctx))?)),
        info: |c| points(c.n_samples, 2, Some(c.n_classes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(ds: &DatasetConfig, seed: u64) -> Result<DataInfo> {
        ds.info(seed)
    }

    fn ds(src: &str) -> DatasetConfig {
        toml::from_str(src).unwrap()
    }

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
        use wick_tensor::catalog::Kind;
        let catalog = <dyn DatasetSpec>::builtins();
        assert!(catalog.contains("ImageFolder"));
        assert_eq!(
            catalog.fields_of("make_circles").unwrap(),
            &["n_samples", "shuffle", "noise", "random_state", "factor"]
        );
    }

    #[test]
    fn facts_without_files() {
        let i = info(&ds("type = \"CIFAR10\""), 0).unwrap();
        assert_eq!(
            (i.shape, i.classes, i.images),
            (Some(vec![3, 32, 32]), Some(10), true)
        );
        let i = info(&ds("type = \"make_moons\"\nn_samples = 50"), 0).unwrap();
        assert_eq!(
            (i.shape, i.classes, i.images),
            (Some(vec![2]), Some(2), false)
        );
        let i = info(
            &ds("type = \"Tensors\"\nx = [[1.0], [2.0]]\ny = [[2.0], [4.0]]"),
            0,
        )
        .unwrap();
        assert_eq!((i.shape, i.class_targets), (Some(vec![1]), Some(false)));
        let i = info(&ds("type = \"Tensors\"\nx = [[1.0], [2.0]]\ny = [0, 3]"), 0).unwrap();
        assert_eq!(i.classes, Some(4));
        let e = info(&ds("type = \"make_moons\"\nn_samples = 100000000000"), 0).unwrap_err();
        assert!(e.to_string().contains("n_samples"), "{e}");
        let i = info(&ds("type = \"make_blobs\"\ncenters = 5\nn_features = 3"), 0).unwrap();
        assert_eq!((i.shape, i.classes), (Some(vec![3]), Some(5)));
        let i = info(&ds("type = \"ImageFolder\"\nroot = \"nowhere\""), 0).unwrap();
        assert_eq!((i.shape, i.classes, i.sizes_vary), (None, None, true));
        // a hub dataset is not read (nor fetched) to check an experiment
        let i = info(&ds("type = \"HuggingFace\"\npath = \"nobody/nothing\""), 0).unwrap();
        assert_eq!((i.shape, i.images, i.sizes_vary), (None, true, false));
        let i = info(
            &ds("type = \"HuggingFace\"\npath = \"o/n\"\nfeature_columns = [\"x\"]"),
            0,
        )
        .unwrap();
        assert!(!i.images);
        let e = info(&ds("type = \"HuggingFace\"\npath = \"a/b/c\""), 0).unwrap_err();
        assert!(
            e.to_string().contains("not a hub dataset repository"),
            "{e}"
        );
    }
}
