//! `wick data EXP`: a look at an experiment's data before training on it, what the
//! course does by hand —
//!
//! ```python
//! print(len(trainset), trainset.classes)
//! images, labels = next(iter(trainloader))
//! print(images.shape, labels)          # torch.Size([4, 3, 32, 32]) tensor([0, 4, 3, 8])
//! imshow(torchvision.utils.make_grid(images))
//! ```
//! It prints the split's length, its classes, one sample's shape and label as the
//! dataset gives it, the first batch's shapes and labels after the transforms, and
//! writes that batch as a PNG grid (`make_grid`, when the inputs are images).

use crate::build;
use crate::error::RunError;
use crate::schema::Experiment;
use crate::tensorboard::image;
use candle_core::{DType, Device};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What `wick data` found.
#[derive(Debug, Clone)]
pub struct DataInfo {
    /// The report, as printed.
    pub text: String,
    /// The PNG of the first batch, when its inputs are images.
    pub grid: Option<PathBuf>,
}

/// Looks at the `split` (`train` or `test`) of the experiment's data; the batch grid
/// goes to `out` (a `.png` file).
pub fn inspect(
    exp: &Experiment,
    split: &str,
    out: &Path,
    mirrors: Option<&[String]>,
) -> Result<DataInfo, RunError> {
    let (train, test) = build::load_data(exp, mirrors)?;
    let (cfg, ds) = match (split, &exp.data.test, test) {
        ("train", _, _) => (&exp.data.train, train),
        ("test", Some(cfg), Some(ds)) => (cfg, ds),
        ("test", _, _) => {
            return Err(RunError::Mismatch(
                "the experiment has no test split".into(),
            ))
        }
        (other, _, _) => {
            return Err(RunError::Mismatch(format!(
                "no split `{other}`: train or test"
            )))
        }
    };
    let mut text = format!(
        "{} ({} split): {} samples\n",
        exp.split_dataset(cfg).type_name(),
        cfg.split,
        ds.len()
    );
    let classes = ds.classes();
    if !classes.is_empty() {
        let shown: Vec<&str> = classes.iter().take(20).map(String::as_str).collect();
        let more = if classes.len() > 20 { ", ..." } else { "" };
        let _ = writeln!(
            text,
            "classes ({}): {}{more}",
            classes.len(),
            shown.join(", ")
        );
    }
    if !ds.is_empty() {
        let s = ds.get(0)?;
        let _ = writeln!(
            text,
            "sample 0: input {:?}, target {}",
            s.input.shape(),
            target_text(&s.target)
        );
    }
    let loader = build::loader(exp, cfg, ds, &Device::Cpu)?;
    let grid = first_batch(&loader, &mut text, out)?;
    Ok(DataInfo { text, grid })
}

/// The first batch's shapes and targets, added to `text`; its grid written to `out`
/// when its inputs are images.
fn first_batch(
    loader: &wick_data::DataLoader,
    text: &mut String,
    out: &Path,
) -> Result<Option<PathBuf>, RunError> {
    let Some(batch) = loader.epoch(0).next().transpose()? else {
        return Ok(None);
    };
    let _ = writeln!(
        text,
        "first batch: input {:?}, target {:?}",
        batch.input.dims(),
        batch.target.dims()
    );
    let _ = writeln!(text, "targets: {}", targets_text(&batch.target)?);
    match image::of_batch(&batch.input)? {
        Some(g) => Ok(Some(write_grid(&g, out)?)),
        None => Ok(None),
    }
}

fn target_text(t: &wick_data::Target) -> String {
    match t {
        wick_data::Target::Class(c) => format!("class {c}"),
        wick_data::Target::Values(a) => format!("{:?} (shape {:?})", a.data, a.shape),
    }
}

/// The batch's targets as PyTorch prints a tensor's values (the first 32).
fn targets_text(t: &candle_core::Tensor) -> Result<String, RunError> {
    let v: Vec<f32> = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
    let int = t.dtype() == DType::U32;
    let shown: Vec<String> = v
        .iter()
        .take(32)
        .map(|x| {
            if int {
                format!("{}", *x as u32)
            } else {
                format!("{x:.4}")
            }
        })
        .collect();
    let more = if v.len() > 32 { ", ..." } else { "" };
    Ok(format!("tensor([{}{more}])", shown.join(", ")))
}

fn write_grid(g: &image::Grid, out: &Path) -> Result<PathBuf, RunError> {
    let bytes = image::png(g).map_err(|e| RunError::RunDir(format!("{}: {e}", out.display())))?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| RunError::RunDir(format!("{}: {e}", dir.display())))?;
    }
    std::fs::write(out, bytes).map_err(|e| RunError::RunDir(format!("{}: {e}", out.display())))?;
    Ok(out.to_path_buf())
}
