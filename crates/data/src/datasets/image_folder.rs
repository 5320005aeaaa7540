use crate::{
    image_decode, CropBox, Dataset, Error, Image, Input, RegionPicker, Result, Sample, Target,
};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// torchvision's `IMG_EXTENSIONS`: the file names `ImageFolder` takes (compared in
/// lower case). `.gif` is not among them.
pub const IMG_EXTENSIONS: &[&str] = &[
    ".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp",
];

/// Arguments of `torchvision.datasets.ImageFolder(root, allow_empty=False)`, plus
/// `skip_bad`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageFolderConfig {
    /// The folder holding one sub-folder per class (`root/ants/xxx.jpg`).
    pub root: PathBuf,
    /// Skip (and count, with a warning) files that cannot be read as images, instead
    /// of failing (default `false`). See [`ImageFolder`] for when files are checked.
    #[serde(default)]
    pub skip_bad: bool,
    /// Accept class folders without any image (default `false`: an error, as
    /// torchvision).
    #[serde(default)]
    pub allow_empty: bool,
}

impl ImageFolderConfig {
    /// A config for `root` with the defaults.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            skip_bad: false,
            allow_empty: false,
        }
    }

    /// Scans `self.root` (see [`ImageFolder::scan`]).
    pub fn build(&self) -> Result<ImageFolder> {
        ImageFolder::scan(&self.root, self)
    }
}

/// `torchvision.datasets.ImageFolder`: images in `root/<class>/…`, labelled by folder.
///
/// - Classes are the sub-folders of `root` (hidden ones too, as torchvision), sorted
///   by name in code-point (byte) order; `class_to_idx` maps each to its position.
/// - Within a class, every file at any depth whose name ends (case-insensitively) in
///   one of [`IMG_EXTENSIONS`] is a sample; folders are walked in sorted path order
///   and files sorted by name, as torchvision's `make_dataset`, so sample `i` is the
///   same file in both.
/// - Images are decoded by content, not by extension (a GIF named `.jpg` is read as a
///   GIF), and converted to 8-bit RGB as PIL's `.convert("RGB")` does: gray is
///   replicated, alpha dropped (not blended). JPEGs are decoded by libjpeg-turbo's
///   decoder, as PIL's, so their pixels are PIL's exactly; where the transforms begin
///   with a crop (`RandomResizedCrop`, `RandomCrop`, `CenterCrop`), only the cropped
///   box is decoded ([`Dataset::get_region`]), with the same pixels. Other formats go
///   through the `image` crate ([`crate::image_decode`]). Differences: 16-bit images
///   are scaled to 8 bits (PIL clips them), TIFF is not supported, CMYK JPEGs are
///   converted by the `image` crate's formula.
/// - Files are decoded when a sample is read (on the loader's workers), so scanning
///   is fast. With `skip_bad = false`, an unreadable file fails its `get` with an
///   error naming it. With `skip_bad = true`, the scan reads every candidate's header
///   (format and size, not its pixels), leaves out those that fail, counts them
///   ([`ImageFolder::skipped`]) and warns naming each; a file whose header is fine but
///   whose data is damaged still fails at `get`, naming it.
pub struct ImageFolder {
    root: PathBuf,
    classes: Vec<String>,
    samples: Vec<(PathBuf, u32)>,
    skipped: Vec<PathBuf>,
}

impl ImageFolder {
    /// Scans `root` for classes and images.
    pub fn scan(root: &Path, cfg: &ImageFolderConfig) -> Result<Self> {
        let entries = std::fs::read_dir(root).map_err(|e| Error::io(root, e))?;
        let mut classes = Vec::new();
        for e in entries {
            let e = e.map_err(|e| Error::io(root, e))?;
            // `is_dir` through symlinks, as `os.scandir(...).is_dir()`
            if e.path().is_dir() {
                classes.push(e.file_name());
            }
        }
        classes.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
        if classes.is_empty() {
            return Err(Error::NotFound(format!(
                "Couldn't find any class folder in {}.",
                root.display()
            )));
        }
        let mut samples = Vec::new();
        let mut skipped = Vec::new();
        let mut empty = Vec::new();
        for (ci, class) in classes.iter().enumerate() {
            let files = walk_sorted(&root.join(class))?;
            let before = samples.len();
            for path in files {
                let lower = path.to_string_lossy().to_lowercase();
                if !IMG_EXTENSIONS.iter().any(|x| lower.ends_with(x)) {
                    continue;
                }
                if cfg.skip_bad {
                    if let Err(e) = read_header(&path) {
                        tracing::warn!("skipping {}: {e}", path.display());
                        skipped.push(path);
                        continue;
                    }
                }
                samples.push((path, ci as u32));
            }
            if samples.len() == before {
                empty.push(class.to_string_lossy().into_owned());
            }
        }
        if !empty.is_empty() && !cfg.allow_empty {
            return Err(Error::NotFound(format!(
                "Found no valid file for the classes {} in {}. Supported extensions are: {}",
                empty.join(", "),
                root.display(),
                IMG_EXTENSIONS.join(", ")
            )));
        }
        if !skipped.is_empty() {
            tracing::warn!(
                "{}: skipped {} unreadable file(s) of {}",
                root.display(),
                skipped.len(),
                skipped.len() + samples.len()
            );
        }
        Ok(Self {
            root: root.to_path_buf(),
            classes: classes
                .into_iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect(),
            samples,
            skipped,
        })
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every sample's file and class index, in order (torchvision's `samples`).
    pub fn samples(&self) -> &[(PathBuf, u32)] {
        &self.samples
    }

    /// The files left out by `skip_bad`.
    pub fn skipped(&self) -> &[PathBuf] {
        &self.skipped
    }

    /// Decodes one file as an 8-bit RGB image (by content).
    pub fn load(path: &Path) -> Result<Image> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        image_decode::rgb(&bytes, None).map_err(|e| corrupt(path, e))
    }

    /// Decodes the box of one file that `crop` picks from the image's size.
    pub fn load_region(path: &Path, crop: &mut RegionPicker<'_>) -> Result<Image> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let (h, w) = image_decode::size(&bytes).map_err(|e| corrupt(path, e))?;
        let b = crop(h, w)?;
        let region = (b != CropBox::whole(h, w)).then_some(b);
        image_decode::rgb(&bytes, region).map_err(|e| corrupt(path, e))
    }
}

fn corrupt(path: &Path, e: String) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        message: format!("cannot decode the image: {e}"),
    }
}

/// Format and size from the header, without decoding the pixels.
fn read_header(path: &Path) -> std::result::Result<(u32, u32), String> {
    let r = image::ImageReader::open(path)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    if r.format().is_none() {
        return Err("not an image in a known format".into());
    }
    r.into_dimensions().map_err(|e| e.to_string())
}

/// Every file under `dir` (following symlinks), folders in sorted path order and
/// files sorted by name within each, as `sorted(os.walk(dir, followlinks=True))`.
fn walk_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut folders: Vec<(PathBuf, Vec<std::ffi::OsString>)> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = HashSet::new();
    while let Some(d) = stack.pop() {
        // a symlink cycle would walk forever
        if let Ok(c) = d.canonicalize() {
            if !seen.insert(c) {
                continue;
            }
        }
        let mut files = Vec::new();
        for e in std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))? {
            let e = e.map_err(|e| Error::io(&d, e))?;
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(e.file_name());
            }
        }
        files.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
        folders.push((d, files));
    }
    folders.sort_by(|a, b| {
        a.0.as_os_str()
            .as_encoded_bytes()
            .cmp(b.0.as_os_str().as_encoded_bytes())
    });
    Ok(folders
        .into_iter()
        .flat_map(|(d, files)| files.into_iter().map(move |f| d.join(f)))
        .collect())
}

impl Dataset for ImageFolder {
    fn len(&self) -> usize {
        self.samples.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        Error::check_index(index, self.samples.len())?;
        let (path, class) = &self.samples[index];
        Ok(Sample {
            input: Input::Image(Self::load(path)?),
            target: Target::Class(*class),
            extra: Vec::new(),
        })
    }

    /// Decodes only the box `crop` picks: a JPEG's other rows and columns are not
    /// transformed, its rows below the box not read at all.
    fn get_region(&self, index: usize, crop: &mut RegionPicker<'_>) -> Result<Option<Sample>> {
        Error::check_index(index, self.samples.len())?;
        let (path, class) = &self.samples[index];
        Ok(Some(Sample {
            input: Input::Image(Self::load_region(path, crop)?),
            target: Target::Class(*class),
            extra: Vec::new(),
        }))
    }

    fn classes(&self) -> Vec<String> {
        self.classes.clone()
    }

    /// The folder's class, without decoding the image.
    fn class_of(&self, index: usize) -> Result<Option<u32>> {
        Error::check_index(index, self.samples.len())?;
        Ok(Some(self.samples[index].1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, ImageFormat, Rgba, RgbaImage};

    fn save(img: DynamicImage, path: &Path, fmt: ImageFormat) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        img.save_with_format(path, fmt).unwrap();
    }

    fn rgba(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgba8(RgbaImage::from_fn(w, h, |x, y| {
            Rgba([x as u8 * 10, y as u8 * 20, 7, 100])
        }))
    }

    #[test]
    fn classes_order_extensions_and_decoding_by_content() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        // byte order: uppercase before lowercase, "b" before "b_x"
        save(rgba(3, 2), &r.join("b/z.PNG"), ImageFormat::Png);
        save(rgba(3, 2), &r.join("b/a.png"), ImageFormat::Png);
        save(rgba(3, 2), &r.join("b/sub/c.png"), ImageFormat::Png);
        save(rgba(4, 4), &r.join("B/gif-named.jpg"), ImageFormat::Gif);
        save(rgba(4, 4), &r.join("B/real.gif"), ImageFormat::Gif);
        save(
            DynamicImage::ImageLuma8(image::GrayImage::from_pixel(2, 2, image::Luma([9]))),
            &r.join("b_x/g.bmp"),
            ImageFormat::Bmp,
        );
        std::fs::write(r.join("not-a-class.png"), b"x").unwrap();
        let ds = ImageFolderConfig::new(r).build().unwrap();
        assert_eq!(ds.classes(), vec!["B", "b", "b_x"]);
        assert_eq!(ds.class_to_idx()["b_x"], 2);
        let names: Vec<String> = ds
            .samples()
            .iter()
            .map(|(p, c)| format!("{}:{c}", p.strip_prefix(r).unwrap().display()))
            .collect();
        assert_eq!(
            names,
            vec![
                "B/gif-named.jpg:0",
                "b/a.png:1",
                "b/z.PNG:1",
                "b/sub/c.png:1",
                "b_x/g.bmp:2"
            ]
        );
        // the GIF named .jpg decodes as a GIF, to RGB
        let s = ds.get(0).unwrap();
        assert_eq!(s.input.shape(), vec![3, 4, 4]);
        // RGBA → RGB drops alpha, as PIL's convert("RGB")
        let Input::Image(img) = ds.get(1).unwrap().input else {
            panic!()
        };
        assert_eq!((img.height, img.width), (2, 3));
        assert_eq!(&img.data[..6], &[0, 0, 7, 10, 0, 7]);
        // gray → replicated
        let Input::Image(img) = ds.get(4).unwrap().input else {
            panic!()
        };
        assert_eq!(img.data, vec![9; 12]);
        assert_eq!(ds.get(4).unwrap().target, Target::Class(2));
    }

    #[test]
    fn bad_files_error_or_are_skipped() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        save(rgba(3, 2), &r.join("a/ok.png"), ImageFormat::Png);
        std::fs::write(r.join("a/broken.jpg"), b"this is not an image").unwrap();
        let ds = ImageFolderConfig::new(r).build().unwrap();
        assert_eq!(ds.len(), 2);
        let e = ds.get(0).unwrap_err().to_string();
        assert!(e.contains("broken.jpg"), "{e}");
        let cfg = ImageFolderConfig {
            skip_bad: true,
            ..ImageFolderConfig::new(r)
        };
        let ds = cfg.build().unwrap();
        assert_eq!(ds.len(), 1);
        assert_eq!(ds.skipped().len(), 1);
        assert!(ds.get(0).is_ok());
        // a class with no image
        std::fs::create_dir_all(r.join("empty")).unwrap();
        let e = ImageFolderConfig::new(r).build().err().unwrap().to_string();
        assert!(
            e.contains("Found no valid file for the classes empty"),
            "{e}"
        );
        let cfg = ImageFolderConfig {
            allow_empty: true,
            ..ImageFolderConfig::new(r)
        };
        assert_eq!(cfg.build().unwrap().classes().len(), 2);
        let e = ImageFolderConfig::new(r.join("nope"))
            .build()
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn hymenoptera_as_torchvision_sees_it() {
        let Some(shared) = crate::testing::shared_datasets() else {
            eprintln!("skipped: the shared datasets are not found");
            return;
        };
        let train = ImageFolderConfig::new(shared.join("hymenoptera/train"))
            .build()
            .unwrap();
        assert_eq!(train.classes(), vec!["ants", "bees"]);
        assert_eq!(train.len(), 244);
        let val = ImageFolderConfig::new(shared.join("hymenoptera/val"))
            .build()
            .unwrap();
        assert_eq!(val.len(), 153);
        for i in [0, 100, 243] {
            let s = train.get(i).unwrap();
            assert_eq!(s.input.shape()[0], 3);
        }
    }
}
