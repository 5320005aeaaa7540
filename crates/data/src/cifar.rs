//! CIFAR-10 and CIFAR-100, in either format of <https://www.cs.toronto.edu/~kriz/cifar.html>:
//! the "python version" torchvision downloads (pickled batches, read by
//! [`crate::cifar_python`]) or the "binary version" (fixed-size records).

use crate::download::{self, Resource};
use crate::{archive, mnist::Split, Dataset, Error, Image, Input, Result, Sample, Target};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Which CIFAR set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CifarKind {
    /// `torchvision.datasets.CIFAR10`: 10 classes; records of 1 label + 3072 bytes.
    Cifar10,
    /// `torchvision.datasets.CIFAR100`: 100 fine classes (20 coarse); records of
    /// coarse label, fine label + 3072 bytes.
    Cifar100,
}

/// Arguments of `torchvision.datasets.CIFAR10(root, train=True, download=False)` (and
/// `CIFAR100`); `train` comes from the split.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CifarConfig {
    /// Folder holding `cifar-10-batches-bin/` (or the archive), default the data root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    /// Download the archive when missing (default `false`).
    #[serde(default)]
    pub download: bool,
}

impl CifarKind {
    /// torchvision's class name.
    pub fn class_name(self) -> &'static str {
        match self {
            Self::Cifar10 => "CIFAR10",
            Self::Cifar100 => "CIFAR100",
        }
    }

    /// The folder the archive unpacks to.
    pub fn folder(self) -> &'static str {
        match self {
            Self::Cifar10 => "cifar-10-batches-bin",
            Self::Cifar100 => "cifar-100-binary",
        }
    }

    /// The archive torchvision downloads (the python version) and its official MD5.
    pub fn archive(self) -> Resource {
        match self {
            Self::Cifar10 => Resource {
                file: "cifar-10-python.tar.gz",
                md5: "c58f30108f718f92721af3b95e74349a",
            },
            Self::Cifar100 => Resource {
                file: "cifar-100-python.tar.gz",
                md5: "eb9058c3a382ffc7106e4002c42a8d85",
            },
        }
    }

    /// The binary version's archive and its official MD5 (unpacked when it is there).
    pub fn binary_archive(self) -> Resource {
        match self {
            Self::Cifar10 => Resource {
                file: "cifar-10-binary.tar.gz",
                md5: "c32a1d4ab5d03f1284b67883e8d87530",
            },
            Self::Cifar100 => Resource {
                file: "cifar-100-binary.tar.gz",
                md5: "03b5dce01913d631647c71ecec9e9cb8",
            },
        }
    }

    /// The folder the python archive unpacks to.
    pub fn python_folder(self) -> &'static str {
        match self {
            Self::Cifar10 => "cifar-10-batches-py",
            Self::Cifar100 => "cifar-100-python",
        }
    }

    /// The python version's batches of a split and what they hold.
    fn python_layout(self, split: Split) -> crate::cifar_python::Layout {
        let files = match (self, split) {
            (Self::Cifar10, Split::Train) => vec![
                "data_batch_1",
                "data_batch_2",
                "data_batch_3",
                "data_batch_4",
                "data_batch_5",
            ],
            (Self::Cifar10, Split::Test) => vec!["test_batch"],
            (Self::Cifar100, Split::Train) => vec!["train"],
            (Self::Cifar100, Split::Test) => vec!["test"],
        };
        let c100 = self == Self::Cifar100;
        crate::cifar_python::Layout {
            files,
            labels: if c100 { "fine_labels" } else { "labels" },
            coarse: c100,
            classes: self.n_classes(),
            meta: if c100 {
                ("meta", "fine_label_names")
            } else {
                ("batches.meta", "label_names")
            },
        }
    }

    /// The official mirror.
    pub fn mirrors(self) -> Vec<String> {
        vec!["https://www.cs.toronto.edu/~kriz/".into()]
    }

    /// The data files of a split.
    pub fn files(self, split: Split) -> Vec<&'static str> {
        match (self, split) {
            (Self::Cifar10, Split::Train) => vec![
                "data_batch_1.bin",
                "data_batch_2.bin",
                "data_batch_3.bin",
                "data_batch_4.bin",
                "data_batch_5.bin",
            ],
            (Self::Cifar10, Split::Test) => vec!["test_batch.bin"],
            (Self::Cifar100, Split::Train) => vec!["train.bin"],
            (Self::Cifar100, Split::Test) => vec!["test.bin"],
        }
    }

    /// The file naming the (fine) classes, one per line.
    pub fn meta(self) -> &'static str {
        match self {
            Self::Cifar10 => "batches.meta.txt",
            Self::Cifar100 => "fine_label_names.txt",
        }
    }

    /// Label bytes before the pixels.
    fn label_bytes(self) -> usize {
        match self {
            Self::Cifar10 => 1,
            Self::Cifar100 => 2,
        }
    }

    fn n_classes(self) -> usize {
        match self {
            Self::Cifar10 => 10,
            Self::Cifar100 => 100,
        }
    }
}

const PIXELS: usize = 3 * 32 * 32;

/// CIFAR-10 or CIFAR-100: 32×32 RGB images and their class (CIFAR-100: the fine
/// class, as torchvision; the coarse ones are [`Cifar::coarse_labels`]).
///
/// Files are looked for in `root/<folder>` then `root` itself; when absent, the
/// archive `root/<archive>.tar.gz` is unpacked into `root` (after downloading it,
/// MD5-checked, with `download = true`). Each file's size must be a whole number of
/// records (3073 bytes for CIFAR-10, 3074 for CIFAR-100), and labels in range.
pub struct Cifar {
    kind: CifarKind,
    pixels: Vec<u8>,
    labels: Vec<u8>,
    coarse: Vec<u8>,
    classes: Vec<String>,
    /// The folder the files were read from.
    pub dir: PathBuf,
}

impl Cifar {
    /// Finds (unpacking or downloading the archive if needed) and reads a split: the
    /// python version in `root/cifar-10-batches-py`, else the binary version in
    /// `root/cifar-10-batches-bin` or `root`; else an archive in `root` (the python
    /// one, then the binary one) is unpacked, the python one downloaded first with
    /// `download = true`, as torchvision does.
    pub fn load(
        kind: CifarKind,
        root: &Path,
        split: Split,
        download: bool,
        mirrors: Option<&[String]>,
    ) -> Result<Self> {
        if let Some(found) = Self::find(kind, root, split) {
            return found;
        }
        let python = root.join(kind.archive().file);
        let binary = root.join(kind.binary_archive().file);
        let tarball = if python.is_file() {
            python
        } else if binary.is_file() {
            binary
        } else if download {
            let official = kind.mirrors();
            download::download(mirrors.unwrap_or(&official), &kind.archive(), root)?
        } else {
            return Err(Error::NotFound(format!(
                "{} files not found: looked for {}/{}, {}/{} and {}, and for the archive {}\n\
                 put torchvision's download there (or set `root`, or $WICK_DATA), or set \
                 `download = true`",
                kind.class_name(),
                root.join(kind.python_folder()).display(),
                kind.python_layout(split).files[0],
                root.join(kind.folder()).display(),
                kind.files(split)[0],
                root.display(),
                python.display()
            )));
        };
        tracing::info!("unpacking {} into {}", tarball.display(), root.display());
        archive::extract_tar(&tarball, root)?;
        Self::find(kind, root, split).unwrap_or_else(|| {
            Err(Error::Corrupt {
                path: tarball,
                message: format!("the archive holds no {} batches", kind.class_name()),
            })
        })
    }

    /// The split from the folders that hold it, if one does.
    fn find(kind: CifarKind, root: &Path, split: Split) -> Option<Result<Self>> {
        let py = root.join(kind.python_folder());
        if py.join(kind.python_layout(split).files[0]).is_file() {
            return Some(Self::from_python_dir(kind, &py, split));
        }
        let has = |d: &Path| d.join(kind.files(split)[0]).is_file();
        let dirs = [root.join(kind.folder()), root.to_path_buf()];
        dirs.iter()
            .find(|d| has(d))
            .map(|d| Self::from_dir(kind, d, split))
    }

    /// Reads a split of the python version from `dir` (`cifar-10-batches-py`).
    pub fn from_python_dir(kind: CifarKind, dir: &Path, split: Split) -> Result<Self> {
        let b = crate::cifar_python::read(dir, &kind.python_layout(split))?;
        Ok(Self {
            kind,
            pixels: b.pixels,
            labels: b.labels,
            coarse: b.coarse,
            classes: b.classes,
            dir: dir.to_path_buf(),
        })
    }

    /// Reads a split's files and the class names from `dir`.
    pub fn from_dir(kind: CifarKind, dir: &Path, split: Split) -> Result<Self> {
        let record = kind.label_bytes() + PIXELS;
        let (mut pixels, mut labels, mut coarse) = (Vec::new(), Vec::new(), Vec::new());
        for f in kind.files(split) {
            let path = dir.join(f);
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let corrupt = |message: String| Error::Corrupt {
                path: path.clone(),
                message,
            };
            if bytes.is_empty() || !bytes.len().is_multiple_of(record) {
                return Err(corrupt(format!(
                    "{} bytes is not a whole number of {}-byte {} records",
                    bytes.len(),
                    record,
                    kind.class_name()
                )));
            }
            pixels.reserve(bytes.len() / record * PIXELS);
            for (i, rec) in bytes.chunks_exact(record).enumerate() {
                let (lab, px) = rec.split_at(kind.label_bytes());
                let fine = lab[kind.label_bytes() - 1];
                if usize::from(fine) >= kind.n_classes() {
                    return Err(corrupt(format!(
                        "record {i}: label {fine} is not a class in 0..{}",
                        kind.n_classes()
                    )));
                }
                if kind == CifarKind::Cifar100 {
                    if lab[0] >= 20 {
                        return Err(corrupt(format!(
                            "record {i}: coarse label {} is not in 0..20",
                            lab[0]
                        )));
                    }
                    coarse.push(lab[0]);
                }
                labels.push(fine);
                pixels.extend_from_slice(px);
            }
        }
        let meta = dir.join(kind.meta());
        let text = std::fs::read_to_string(&meta).map_err(|e| Error::io(&meta, e))?;
        let classes: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        if classes.len() != kind.n_classes() {
            return Err(Error::Corrupt {
                path: meta,
                message: format!(
                    "{} class names, expected {}",
                    classes.len(),
                    kind.n_classes()
                ),
            });
        }
        Ok(Self {
            kind,
            pixels,
            labels,
            coarse,
            classes,
            dir: dir.to_path_buf(),
        })
    }

    /// Which set this is.
    pub fn kind(&self) -> CifarKind {
        self.kind
    }

    /// CIFAR-100's coarse (superclass) labels; empty for CIFAR-10.
    pub fn coarse_labels(&self) -> &[u8] {
        &self.coarse
    }
}

impl Dataset for Cifar {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        Error::check_index(index, self.len())?;
        // the file stores the R, G and B planes; images interleave them (HWC)
        let planes = &self.pixels[index * PIXELS..(index + 1) * PIXELS];
        let n = 32 * 32;
        let mut data = Vec::with_capacity(PIXELS);
        for i in 0..n {
            data.extend_from_slice(&[planes[i], planes[n + i], planes[2 * n + i]]);
        }
        Ok(Sample {
            input: Input::Image(Image {
                height: 32,
                width: 32,
                channels: 3,
                data,
            }),
            target: Target::Class(u32::from(self.labels[index])),
            extra: Vec::new(),
        })
    }

    fn classes(&self) -> Vec<String> {
        self.classes.clone()
    }

    fn class_of(&self, index: usize) -> Result<Option<u32>> {
        Error::check_index(index, self.len())?;
        Ok(Some(u32::from(self.labels[index])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` records; record `i` has label `i % classes` and pixel planes of value
    /// `i`, `i + 1`, `i + 2`.
    fn records(kind: CifarKind, n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            if kind == CifarKind::Cifar100 {
                out.push((i % 20) as u8);
            }
            out.push((i % kind.n_classes()) as u8);
            for c in 0..3 {
                out.extend(std::iter::repeat_n((i + c) as u8, 1024));
            }
        }
        out
    }

    fn names(n: usize) -> String {
        (0..n).map(|i| format!("class{i}\n")).collect::<String>() + "\n"
    }

    #[test]
    fn cifar10_from_the_batches_folder() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("cifar-10-batches-bin");
        std::fs::create_dir_all(&dir).unwrap();
        for (k, f) in CifarKind::Cifar10.files(Split::Train).iter().enumerate() {
            std::fs::write(dir.join(f), records(CifarKind::Cifar10, 2 + k)).unwrap();
        }
        std::fs::write(dir.join("batches.meta.txt"), names(10)).unwrap();
        let ds = Cifar::load(CifarKind::Cifar10, d.path(), Split::Train, false, None).unwrap();
        assert_eq!(ds.len(), 2 + 3 + 4 + 5 + 6);
        let s = ds.get(3).unwrap(); // the second file's record 1
        assert_eq!(s.target, Target::Class(1));
        let Input::Image(img) = s.input else { panic!() };
        assert_eq!(&img.data[..6], &[1, 2, 3, 1, 2, 3]);
        assert_eq!(ds.classes()[9], "class9");
        let e = Cifar::load(CifarKind::Cifar10, d.path(), Split::Test, false, None)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("test_batch.bin") && e.contains("download"),
            "{e}"
        );
        // a file that is not whole records
        let mut bad = records(CifarKind::Cifar10, 2);
        bad.pop();
        std::fs::write(dir.join("test_batch.bin"), bad).unwrap();
        let e = Cifar::load(CifarKind::Cifar10, d.path(), Split::Test, false, None)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("test_batch.bin") && e.contains("3073-byte"),
            "{e}"
        );
    }

    #[test]
    fn cifar100_from_the_archive() {
        let d = tempfile::tempdir().unwrap();
        let k = CifarKind::Cifar100;
        let test = records(k, 3);
        let meta = names(100);
        archive::write_tar_gz(
            &d.path().join(k.binary_archive().file),
            &[
                ("cifar-100-binary/test.bin", &test),
                ("cifar-100-binary/fine_label_names.txt", meta.as_bytes()),
            ],
        )
        .unwrap();
        let ds = Cifar::load(k, d.path(), Split::Test, false, None).unwrap();
        assert_eq!(ds.len(), 3);
        assert_eq!(ds.get(2).unwrap().target, Target::Class(2));
        assert_eq!(ds.coarse_labels(), &[0, 1, 2]);
        assert_eq!(ds.classes().len(), 100);
        // a label out of range
        let mut bad = records(k, 1);
        bad[1] = 100;
        std::fs::write(d.path().join("cifar-100-binary/test.bin"), bad).unwrap();
        let e = Cifar::load(k, d.path(), Split::Test, false, None)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("label 100"), "{e}");
    }

    #[test]
    fn the_python_archive_is_unpacked_and_read() {
        let d = tempfile::tempdir().unwrap();
        let fix = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../assets/fixtures/cifar-pickle/cifar-10-batches-py");
        let read = |f: &str| std::fs::read(fix.join(f)).unwrap();
        let (test, meta) = (read("test_batch"), read("batches.meta"));
        let k = CifarKind::Cifar10;
        archive::write_tar_gz(
            &d.path().join(k.archive().file),
            &[
                ("cifar-10-batches-py/test_batch", &test),
                ("cifar-10-batches-py/batches.meta", &meta),
            ],
        )
        .unwrap();
        let ds = Cifar::load(k, d.path(), Split::Test, false, None).unwrap();
        assert_eq!(ds.len(), 3);
        assert!(ds.dir.ends_with("cifar-10-batches-py"));
        assert_eq!(ds.classes()[1], "automobile");
    }

    #[test]
    fn download_checks_the_md5() {
        let d = tempfile::tempdir().unwrap();
        let serve = d.path().join("srv");
        std::fs::create_dir_all(&serve).unwrap();
        std::fs::write(serve.join("cifar-10-python.tar.gz"), b"not the archive").unwrap();
        let (base, _) = crate::testing::serve(serve, 4).unwrap();
        let root = d.path().join("root");
        let e = Cifar::load(CifarKind::Cifar10, &root, Split::Test, true, Some(&[base]))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("checksum mismatch"), "{e}");
    }
}
