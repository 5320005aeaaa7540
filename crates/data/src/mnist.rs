use crate::download::{self, Resource};
use crate::{idx, Dataset, Error, Image, Input, Result, Sample, Target};
use std::path::{Path, PathBuf};

/// Which member of the MNIST family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MnistKind {
    /// `torchvision.datasets.MNIST`: handwritten digits.
    Mnist,
    /// `torchvision.datasets.FashionMNIST`: Zalando's clothing images.
    FashionMnist,
}

/// `train=True` or `train=False`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training set.
    Train,
    /// The test set.
    Test,
}

impl MnistKind {
    /// torchvision's class name, also its folder under `root`.
    pub fn class_name(self) -> &'static str {
        match self {
            Self::Mnist => "MNIST",
            Self::FashionMnist => "FashionMNIST",
        }
    }

    /// The name of the system-wide copy, as Debian installs it under
    /// `/usr/share/datasets/`.
    fn system_name(self) -> &'static str {
        match self {
            Self::Mnist => "mnist",
            Self::FashionMnist => "fashion-mnist",
        }
    }

    /// The official mirrors torchvision downloads from.
    pub fn mirrors(self) -> Vec<String> {
        match self {
            Self::Mnist => vec![
                "https://ossci-datasets.s3.amazonaws.com/mnist/".into(),
                "http://yann.lecun.com/exdb/mnist/".into(),
            ],
            Self::FashionMnist => {
                vec!["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/".into()]
            }
        }
    }

    /// The images and labels files of a split, with their official checksums.
    pub fn resources(self, split: Split) -> [Resource; 2] {
        use Split::*;
        let r = |file, md5| Resource { file, md5 };
        match (self, split) {
            (Self::Mnist, Train) => [
                r(
                    "train-images-idx3-ubyte.gz",
                    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                ),
                r(
                    "train-labels-idx1-ubyte.gz",
                    "d53e105ee54ea40749a09fcbcd1e9432",
                ),
            ],
            (Self::Mnist, Test) => [
                r(
                    "t10k-images-idx3-ubyte.gz",
                    "9fb629c4189551a2d022fa330f9573f3",
                ),
                r(
                    "t10k-labels-idx1-ubyte.gz",
                    "ec29112dd5afa0611ce80d1b7f02629c",
                ),
            ],
            (Self::FashionMnist, Train) => [
                r(
                    "train-images-idx3-ubyte.gz",
                    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                ),
                r(
                    "train-labels-idx1-ubyte.gz",
                    "25c81989df183df01b3e8a0aad5dffbe",
                ),
            ],
            (Self::FashionMnist, Test) => [
                r(
                    "t10k-images-idx3-ubyte.gz",
                    "bef4ecab320f06d8554ea6380940ec79",
                ),
                r(
                    "t10k-labels-idx1-ubyte.gz",
                    "bb300cfdad3c16e7a12a480ee83cd310",
                ),
            ],
        }
    }

    /// The class names, as torchvision lists them.
    pub fn classes(self) -> Vec<String> {
        let names: &[&str] = match self {
            Self::Mnist => &[
                "0 - zero",
                "1 - one",
                "2 - two",
                "3 - three",
                "4 - four",
                "5 - five",
                "6 - six",
                "7 - seven",
                "8 - eight",
                "9 - nine",
            ],
            Self::FashionMnist => &[
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
        };
        names.iter().map(|s| s.to_string()).collect()
    }
}

/// The data root: `root` from the experiment, else `$WICK_DATA`, else `./data`. A
/// leading `~/` is the home directory, as `os.path.expanduser` makes it in torchvision.
pub fn data_root(root: Option<&Path>) -> PathBuf {
    let root = match root {
        Some(r) => r.to_path_buf(),
        None => std::env::var_os("WICK_DATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| "data".into()),
    };
    match (root.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => root,
    }
}

/// MNIST or Fashion-MNIST from IDX files: `torchvision.datasets.MNIST(root, train,
/// download)`. Samples are 28×28 grayscale images and their class.
pub struct Mnist {
    kind: MnistKind,
    images: Vec<u8>,
    labels: Vec<u8>,
    rows: usize,
    cols: usize,
    /// Where the images were read from.
    pub images_path: PathBuf,
}

impl Mnist {
    /// Every directory searched for a split's files, in order: `root/<Class>/raw`
    /// (torchvision's layout), `root/<Class>`, `root`, then the system-wide copy under
    /// `/usr/share/datasets/<name>`.
    pub fn search_dirs(kind: MnistKind, root: &Path) -> Vec<PathBuf> {
        let class = kind.class_name();
        vec![
            root.join(class).join("raw"),
            root.join(class),
            root.to_path_buf(),
            Path::new("/usr/share/datasets").join(kind.system_name()),
        ]
    }

    /// Every directory that holds both files of the split, in search order, with
    /// whether it is the ambiguous flat root (where MNIST and Fashion-MNIST files have
    /// the same names).
    fn candidates(kind: MnistKind, root: &Path, split: Split) -> Vec<([PathBuf; 2], bool)> {
        let [imgs, labels] = kind.resources(split);
        Self::search_dirs(kind, root)
            .into_iter()
            .enumerate()
            .filter_map(|(i, dir)| {
                let find = |gz: &str| {
                    let plain = gz.trim_end_matches(".gz");
                    [dir.join(gz), dir.join(plain)]
                        .into_iter()
                        .find(|p| p.is_file())
                };
                Some(([find(imgs.file)?, find(labels.file)?], i == 2))
            })
            .collect()
    }

    /// Finds (or, with `download`, fetches into `root/<Class>/raw`) and reads a split.
    /// `mirrors` overrides the official mirrors.
    pub fn load(
        kind: MnistKind,
        root: &Path,
        split: Split,
        download: bool,
        mirrors: Option<&[String]>,
    ) -> Result<Self> {
        for ([images, labels], flat) in Self::candidates(kind, root, split) {
            let ds = Self::from_files(kind, &images, &labels)?;
            if flat {
                if let Some(other) = ds.looks_like_other_kind() {
                    tracing::warn!(
                        "skipping {}: these look like {} images, not {}",
                        images.display(),
                        other.class_name(),
                        kind.class_name()
                    );
                    continue;
                }
            }
            return Ok(ds);
        }
        if !download {
            let [a, b] = kind.resources(split);
            let dirs: Vec<String> = Self::search_dirs(kind, root)
                .iter()
                .map(|d| format!("  {}", d.display()))
                .collect();
            return Err(Error::NotFound(format!(
                "{} {} files not found: looked for {} and {} (gzipped or not) in\n{}\n\
                 put them in {} (or set `root`, or $WICK_DATA), or set `download = true`",
                kind.class_name(),
                if split == Split::Train {
                    "training"
                } else {
                    "test"
                },
                a.file,
                b.file,
                dirs.join("\n"),
                root.join(kind.class_name()).join("raw").display()
            )));
        }
        let dir = root.join(kind.class_name()).join("raw");
        let official = kind.mirrors();
        let mirrors = mirrors.unwrap_or(&official);
        // fetch only what is missing from the download folder
        let fetch = |r: &download::Resource| -> Result<PathBuf> {
            let have = [dir.join(r.file), dir.join(r.file.trim_end_matches(".gz"))]
                .into_iter()
                .find(|p| p.is_file());
            match have {
                Some(p) => Ok(p),
                None => download::download(mirrors, r, &dir),
            }
        };
        let [a, b] = kind.resources(split);
        Self::from_files(kind, &fetch(&a)?, &fetch(&b)?)
    }

    /// MNIST digits are dark (mean pixel ≈ 0.13) and Fashion-MNIST clothes brighter
    /// (≈ 0.29): the other kind, when the pixel statistics say so clearly.
    fn looks_like_other_kind(&self) -> Option<MnistKind> {
        let sample = &self.images[..self.images.len().min(784 * 2000)];
        let sum: u64 = sample.iter().map(|&p| u64::from(p)).sum();
        let mean = sum as f64 / sample.len().max(1) as f64 / 255.0;
        match self.kind {
            MnistKind::Mnist if mean > 0.22 => Some(MnistKind::FashionMnist),
            MnistKind::FashionMnist if mean < 0.19 => Some(MnistKind::Mnist),
            _ => None,
        }
    }

    /// Reads an images file and a labels file, checking that they fit together.
    pub fn from_files(kind: MnistKind, images: &Path, labels: &Path) -> Result<Self> {
        let img = idx::read_u8(images, 3)?;
        let lab = idx::read_u8(labels, 1)?;
        let corrupt = |path: &Path, message: String| Error::Corrupt {
            path: path.to_path_buf(),
            message,
        };
        if img.dims[0] != lab.dims[0] {
            return Err(corrupt(
                labels,
                format!(
                    "{} labels for {} images in {}",
                    lab.dims[0],
                    img.dims[0],
                    images.display()
                ),
            ));
        }
        if img.dims[1] != 28 || img.dims[2] != 28 {
            return Err(corrupt(
                images,
                format!(
                    "images are {}x{}, but {} images are 28x28",
                    img.dims[1],
                    img.dims[2],
                    kind.class_name()
                ),
            ));
        }
        if img.dims[0] == 0 {
            return Err(corrupt(images, "the file holds no images".into()));
        }
        if let Some(bad) = lab.data.iter().find(|&&l| l > 9) {
            return Err(corrupt(
                labels,
                format!("label {bad} is not a class in 0..10"),
            ));
        }
        Ok(Self {
            kind,
            rows: img.dims[1],
            cols: img.dims[2],
            images: img.data,
            labels: lab.data,
            images_path: images.to_path_buf(),
        })
    }

    /// Which dataset this is.
    pub fn kind(&self) -> MnistKind {
        self.kind
    }
}

impl Dataset for Mnist {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        Error::check_index(index, self.len())?;
        let n = self.rows * self.cols;
        let data = self.images[index * n..(index + 1) * n].to_vec();
        Ok(Sample {
            input: Input::Image(Image {
                height: self.rows,
                width: self.cols,
                channels: 1,
                data,
            }),
            target: Target::Class(u32::from(self.labels[index])),
        })
    }

    fn classes(&self) -> Vec<String> {
        self.kind.classes()
    }
}
