use crate::download::{self, Resource};
use crate::{idx, Dataset, Error, Image, Input, Result, Sample, Target};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Which member of the MNIST family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MnistKind {
    /// `torchvision.datasets.MNIST`: handwritten digits.
    Mnist,
    /// `torchvision.datasets.FashionMNIST`: Zalando's clothing images.
    FashionMnist,
    /// `torchvision.datasets.KMNIST`: Kuzushiji (cursive Japanese) characters.
    Kmnist,
    /// `torchvision.datasets.EMNIST(split=...)`: handwritten letters and digits.
    Emnist(EmnistSplit),
}

/// The `split` argument of `torchvision.datasets.EMNIST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmnistSplit {
    /// 62 classes: digits, upper and lower case letters.
    Byclass,
    /// 47 classes: letters whose cases look alike merged.
    Bymerge,
    /// 47 classes, balanced.
    Balanced,
    /// 26 letters (labels 1 to 26; class 0 is `N/A`).
    Letters,
    /// 10 digits.
    Digits,
    /// 10 digits, MNIST-sized.
    Mnist,
}

/// `emnist-<split>-<train|test>-<images-idx3|labels-idx1>-ubyte.gz` as static names.
macro_rules! emnist_files {
    ($split:ident, $($s:ident => $name:literal),+) => {
        match $split {
            $( EmnistSplit::$s => (
                [concat!("emnist-", $name, "-train-images-idx3-ubyte.gz"),
                 concat!("emnist-", $name, "-train-labels-idx1-ubyte.gz")],
                [concat!("emnist-", $name, "-test-images-idx3-ubyte.gz"),
                 concat!("emnist-", $name, "-test-labels-idx1-ubyte.gz")],
            ), )+
        }
    };
}

impl EmnistSplit {
    /// The split's name, as torchvision spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Byclass => "byclass",
            Self::Bymerge => "bymerge",
            Self::Balanced => "balanced",
            Self::Letters => "letters",
            Self::Digits => "digits",
            Self::Mnist => "mnist",
        }
    }

    fn files(self, split: Split) -> [&'static str; 2] {
        let (train, test) = emnist_files!(self,
            Byclass => "byclass", Bymerge => "bymerge", Balanced => "balanced",
            Letters => "letters", Digits => "digits", Mnist => "mnist");
        match split {
            Split::Train => train,
            Split::Test => test,
        }
    }

    /// torchvision's `classes_split_dict[split]`.
    pub fn classes(self) -> Vec<String> {
        let digits = ('0'..='9').map(String::from);
        let upper = ('A'..='Z').map(String::from);
        let lower = ('a'..='z').map(String::from);
        // merged: the lower-case letters that look like their upper case
        let merged = "cijklmopsuvwxyz";
        match self {
            Self::Byclass => digits.chain(upper).chain(lower).collect(),
            Self::Bymerge | Self::Balanced => digits
                .chain(upper)
                .chain(lower.filter(|c| !merged.contains(c.as_str())))
                .collect(),
            Self::Letters => std::iter::once("N/A".to_string()).chain(lower).collect(),
            Self::Digits | Self::Mnist => digits.collect(),
        }
    }
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
            Self::Kmnist => "KMNIST",
            Self::Emnist(_) => "EMNIST",
        }
    }

    /// The raw-file name stem of a split, for messages (`train-images-idx3-ubyte`).
    fn describe(self) -> String {
        match self {
            Self::Emnist(s) => format!("EMNIST ({})", s.name()),
            other => other.class_name().to_string(),
        }
    }

    /// Whether MNIST and Fashion-MNIST files of the same names may be told apart in a
    /// flat root; KMNIST's files have the same names and cannot be, so KMNIST is only
    /// looked for in its own folders.
    fn searches_flat_root(self) -> bool {
        !matches!(self, Self::Kmnist)
    }

    /// The name of the system-wide copy, as Debian installs it under
    /// `/usr/share/datasets/`.
    fn system_name(self) -> Option<&'static str> {
        match self {
            Self::Mnist => Some("mnist"),
            Self::FashionMnist => Some("fashion-mnist"),
            Self::Kmnist | Self::Emnist(_) => None,
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
            Self::Kmnist => vec!["http://codh.rois.ac.jp/kmnist/dataset/kmnist/".into()],
            // EMNIST comes as one 560 MB zip (gzip.zip), which wick does not unpack
            Self::Emnist(_) => Vec::new(),
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
            (Self::Kmnist, Train) => [
                r(
                    "train-images-idx3-ubyte.gz",
                    "bdb82020997e1d708af4cf47b453dcf7",
                ),
                r(
                    "train-labels-idx1-ubyte.gz",
                    "e144d726b3acfaa3e44228e80efcd344",
                ),
            ],
            (Self::Kmnist, Test) => [
                r(
                    "t10k-images-idx3-ubyte.gz",
                    "5c965bf0a639b31b8f53240b1b52f4d7",
                ),
                r(
                    "t10k-labels-idx1-ubyte.gz",
                    "7320c461ea6c1c855c0b718fb2a4b134",
                ),
            ],
            // torchvision checks only the zip's MD5; the files inside have none
            (Self::Emnist(s), split) => {
                let [a, b] = s.files(split);
                [r(a, ""), r(b, "")]
            }
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
            Self::Kmnist => &["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
            Self::Emnist(s) => return s.classes(),
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
    /// (torchvision's layout), `root/<Class>`, `root` (not for KMNIST, whose file names
    /// are MNIST's), then the system-wide copy under `/usr/share/datasets/<name>`
    /// (MNIST and Fashion-MNIST).
    pub fn search_dirs(kind: MnistKind, root: &Path) -> Vec<PathBuf> {
        let class = kind.class_name();
        let mut dirs = vec![root.join(class).join("raw"), root.join(class)];
        if kind.searches_flat_root() {
            dirs.push(root.to_path_buf());
        }
        if let Some(sys) = kind.system_name() {
            dirs.push(Path::new("/usr/share/datasets").join(sys));
        }
        dirs
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
                Some((
                    [find(imgs.file)?, find(labels.file)?],
                    i == 2 && kind.searches_flat_root(),
                ))
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
        if download && kind.mirrors().is_empty() && mirrors.is_none() {
            let [a, b] = kind.resources(split);
            return Err(Error::NotFound(format!(
                "{} is distributed as one zip archive (gzip.zip, 560 MB), which wick does \
                 not unpack: download it from the NIST EMNIST page, extract {} and {} \
                 (gzipped or not) into {}",
                kind.describe(),
                a.file,
                b.file,
                root.join(kind.class_name()).join("raw").display()
            )));
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
                kind.describe(),
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
            _ => None, // EMNIST's names are its own; KMNIST skips the flat root
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
        let n_classes = kind.classes().len();
        if let Some(bad) = lab.data.iter().find(|&&l| usize::from(l) >= n_classes) {
            return Err(corrupt(
                labels,
                format!(
                    "label {bad} is not a class of {} (0..{n_classes})",
                    kind.describe()
                ),
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
            extra: Vec::new(),
        })
    }

    fn classes(&self) -> Vec<String> {
        self.kind.classes()
    }

    fn class_of(&self, index: usize) -> Result<Option<u32>> {
        Error::check_index(index, self.len())?;
        Ok(Some(u32::from(self.labels[index])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::encode_u8;

    fn write_split(dir: &Path, files: [&str; 2], labels: &[u8]) {
        std::fs::create_dir_all(dir).unwrap();
        let n = labels.len();
        let imgs: Vec<u8> = (0..n * 784).map(|i| (i / 784) as u8).collect();
        let plain = |f: &str| dir.join(f.trim_end_matches(".gz"));
        std::fs::write(plain(files[0]), encode_u8(&[n, 28, 28], &imgs)).unwrap();
        std::fs::write(plain(files[1]), encode_u8(&[n], labels)).unwrap();
    }

    #[test]
    fn kmnist_and_emnist_from_their_folders() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let k = MnistKind::Kmnist;
        let [a, b] = k.resources(Split::Test);
        write_split(&root.join("KMNIST/raw"), [a.file, b.file], &[3, 9]);
        let ds = Mnist::load(k, root, Split::Test, false, None).unwrap();
        assert_eq!(ds.len(), 2);
        assert_eq!(ds.get(1).unwrap().target, Target::Class(9));
        assert_eq!(ds.classes()[3], "tsu");
        // KMNIST's file names are MNIST's: never taken from the flat root
        write_split(root, [a.file, b.file], &[1]);
        std::fs::remove_dir_all(root.join("KMNIST")).unwrap();
        let e = Mnist::load(k, root, Split::Test, false, None)
            .err()
            .unwrap();
        assert!(e.to_string().contains("KMNIST test files not found"), "{e}");

        let e = MnistKind::Emnist(EmnistSplit::Letters);
        let [a, b] = e.resources(Split::Train);
        assert_eq!(a.file, "emnist-letters-train-images-idx3-ubyte.gz");
        write_split(root, [a.file, b.file], &[1, 26]);
        let ds = Mnist::load(e, root, Split::Train, false, None).unwrap();
        assert_eq!(ds.get(1).unwrap().target, Target::Class(26));
        assert_eq!(ds.classes().len(), 27);
        assert_eq!(ds.classes()[26], "z");
        let digits = MnistKind::Emnist(EmnistSplit::Digits);
        let [a, b] = digits.resources(Split::Train);
        write_split(root, [a.file, b.file], &[10]);
        let err = Mnist::load(digits, root, Split::Train, false, None)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("label 10 is not a class of EMNIST (digits)"),
            "{err}"
        );
        let err = Mnist::load(digits, root, Split::Test, true, None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("gzip.zip"), "{err}");
    }

    #[test]
    fn emnist_class_lists_match_torchvision() {
        assert_eq!(EmnistSplit::Byclass.classes().len(), 62);
        let b = EmnistSplit::Balanced.classes();
        assert_eq!(b.len(), 47);
        assert_eq!(b[36..].join(""), "abdefghnqrt");
        assert_eq!(EmnistSplit::Mnist.classes().len(), 10);
    }
}
