//! What can be known about a dataset before training, to check an experiment without
//! reading its data: the per-sample shape, the number of classes, whether samples are
//! images and whether targets are class indices. Inline and generated sets are built
//! (they are small); file-backed sets other than torchvision's fixed-format ones are
//! checked when the run loads them.

use wick_data::datasets::{Centers, CsvConfig, DatasetConfig, DatasetContext, LabelDtype};
use wick_data::{Dataset, Input, Split, Target};

/// A dataset's samples, as far as known without its files.
#[derive(Debug, Clone, PartialEq)]
pub struct DataInfo {
    /// The raw per-sample shape (`[C, H, W]` for images), when fixed.
    pub shape: Option<Vec<usize>>,
    /// The number of classes, when known.
    pub classes: Option<usize>,
    /// Samples are images (need `ToTensor`).
    pub images: bool,
    /// The images may differ in size (an image folder's): batching them needs a
    /// `Resize` or a crop. `false` when the size is fixed or unknown until read.
    pub sizes_vary: bool,
    /// Targets are class indices (`Some(false)`: float values).
    pub class_targets: Option<bool>,
}

impl DataInfo {
    fn images(shape: Option<Vec<usize>>, classes: Option<usize>) -> Self {
        Self {
            sizes_vary: shape.is_none(),
            shape,
            classes,
            images: true,
            class_targets: Some(true),
        }
    }
}

/// The facts of `ds` (building it when it is inline or generated).
pub fn info(ds: &DatasetConfig, seed: u64) -> Result<DataInfo, wick_data::Error> {
    Ok(match ds {
        DatasetConfig::MNIST(_) | DatasetConfig::FashionMNIST(_) | DatasetConfig::KMNIST(_) => {
            DataInfo::images(Some(vec![1, 28, 28]), Some(10))
        }
        DatasetConfig::EMNIST(c) => {
            DataInfo::images(Some(vec![1, 28, 28]), Some(c.split.classes().len()))
        }
        DatasetConfig::CIFAR10(_) => DataInfo::images(Some(vec![3, 32, 32]), Some(10)),
        DatasetConfig::CIFAR100(_) => DataInfo::images(Some(vec![3, 32, 32]), Some(100)),
        DatasetConfig::ImageFolder(_) => DataInfo::images(None, None),
        // its files may be on the hub: known when the run reads them
        DatasetConfig::HuggingFace(c) => {
            c.validate()?;
            DataInfo {
                shape: None,
                classes: None,
                images: c.images(),
                sizes_vary: false,
                class_targets: None,
            }
        }
        DatasetConfig::CSV(c) => csv_info(c),
        // The generators' facts follow from their arguments; building them here could
        // ask for any amount of memory.
        DatasetConfig::make_moons(c) => points(c.n_samples, 2, Some(2))?,
        DatasetConfig::make_circles(c) => points(c.n_samples, 2, Some(2))?,
        DatasetConfig::make_spirals(c) => points(c.n_samples, 2, Some(c.n_classes))?,
        DatasetConfig::make_blobs(c) => {
            let (features, classes) = match &c.centers {
                Some(Centers::Points(p)) => {
                    (p.first().map_or(c.n_features, Vec::len), Some(p.len()))
                }
                Some(Centers::Count(n)) => (c.n_features, Some(*n)),
                None => (c.n_features, Some(3)),
            };
            points(c.n_samples, features, classes)?
        }
        _ => {
            let ctx = DatasetContext {
                split: Split::Train,
                root: ".".into(),
                download: false,
                mirrors: None,
                seed,
            };
            built_info(ds.build(&ctx)?.as_ref())?
        }
    })
}

/// The most points a generator may be asked for (4 bytes a coordinate).
pub const MAX_GENERATED: usize = 50_000_000;

fn points(n: usize, features: usize, classes: Option<usize>) -> Result<DataInfo, wick_data::Error> {
    if n.saturating_mul(features.max(1)) > MAX_GENERATED {
        return Err(wick_data::Error::Config {
            field: "n_samples",
            message: format!("n_samples = {n} asks for more than {MAX_GENERATED} generated values"),
        });
    }
    Ok(DataInfo {
        shape: Some(vec![features]),
        classes,
        images: false,
        sizes_vary: false,
        class_targets: Some(true),
    })
}

fn csv_info(c: &CsvConfig) -> DataInfo {
    let class = c.label_dtype == LabelDtype::Class;
    DataInfo {
        shape: c.features.as_ref().map(|f| vec![f.len()]),
        classes: None,
        images: false,
        sizes_vary: false,
        class_targets: Some(class),
    }
}

fn built_info(ds: &dyn Dataset) -> Result<DataInfo, wick_data::Error> {
    if ds.is_empty() {
        return Ok(DataInfo {
            shape: None,
            classes: None,
            images: false,
            sizes_vary: false,
            class_targets: None,
        });
    }
    let first = ds.get(0)?;
    let images = matches!(first.input, Input::Image(_));
    let class_targets = matches!(first.target, Target::Class(_));
    let mut classes = ds.classes().len();
    if class_targets && classes == 0 {
        for i in 0..ds.len() {
            if let Target::Class(c) = ds.get(i)?.target {
                classes = classes.max(c as usize + 1);
            }
        }
    }
    Ok(DataInfo {
        shape: Some(first.input.shape()),
        classes: class_targets.then_some(classes),
        images,
        sizes_vary: false,
        class_targets: Some(class_targets),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(src: &str) -> DatasetConfig {
        toml::from_str(src).unwrap()
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
