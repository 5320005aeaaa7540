//! CIFAR-10 and CIFAR-100 in the "python version" torchvision downloads
//! (`cifar-10-batches-py/`: `data_batch_1`…`data_batch_5`, `test_batch`,
//! `batches.meta`; `cifar-100-python/`: `train`, `test`, `meta`): each file a pickled
//! dict whose `data` is a NumPy `uint8` array `[n, 3072]` (channels, then rows) and
//! whose `labels` (`fine_labels`, `coarse_labels`) are lists of ints, read with
//! [`crate::pickle`], which runs nothing.

use crate::pickle::{self, Value};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

const PIXELS: usize = 3 * 32 * 32;

/// A split read from the python files.
pub(crate) struct Batches {
    /// `n × 3072` bytes.
    pub pixels: Vec<u8>,
    /// The (fine) labels.
    pub labels: Vec<u8>,
    /// CIFAR-100's coarse labels (empty for CIFAR-10).
    pub coarse: Vec<u8>,
    /// The class names.
    pub classes: Vec<String>,
}

/// Where a split's batches are and what they hold.
pub(crate) struct Layout {
    /// The pickled batches of the split.
    pub files: Vec<&'static str>,
    /// The key of the (fine) labels: `labels`, `fine_labels`.
    pub labels: &'static str,
    /// Whether the batches hold `coarse_labels` too (CIFAR-100).
    pub coarse: bool,
    /// The number of (fine) classes.
    pub classes: usize,
    /// The file and key of the class names: `batches.meta`/`label_names`,
    /// `meta`/`fine_label_names`.
    pub meta: (&'static str, &'static str),
}

fn corrupt(path: &Path, message: impl Into<String>) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Reads the file as a pickle.
fn unpickle(path: &Path) -> Result<Value> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    pickle::load(&bytes).map_err(|e| corrupt(path, e.to_string()))
}

/// Reads a split's batches and the class names from `dir`.
pub(crate) fn read(dir: &Path, layout: &Layout) -> Result<Batches> {
    let mut out = Batches {
        pixels: Vec::new(),
        labels: Vec::new(),
        coarse: Vec::new(),
        classes: Vec::new(),
    };
    for f in &layout.files {
        let path = dir.join(f);
        let batch = unpickle(&path)?;
        let data = batch
            .get("data")
            .ok_or_else(|| corrupt(&path, "no `data` entry"))?;
        let (shape, data) =
            pickle::ndarray_u8(data).map_err(|m| corrupt(&path, format!("`data`: {m}")))?;
        if shape.len() != 2 || shape[1] != PIXELS {
            return Err(corrupt(
                &path,
                format!("`data` of shape {shape:?}, not [n, 3072]"),
            ));
        }
        out.labels.extend(labels(
            &batch,
            layout.labels,
            shape[0],
            layout.classes,
            &path,
        )?);
        if layout.coarse {
            out.coarse
                .extend(labels(&batch, "coarse_labels", shape[0], 20, &path)?);
        }
        out.pixels.extend(data);
    }
    out.classes = class_names(dir, layout)?;
    Ok(out)
}

/// The list `key` of `batch`: `n` labels in `0..classes`.
fn labels(batch: &Value, key: &str, n: usize, classes: usize, path: &Path) -> Result<Vec<u8>> {
    let list = batch
        .get(key)
        .and_then(Value::items)
        .ok_or_else(|| corrupt(path, format!("no `{key}` list")))?;
    if list.len() != n {
        return Err(corrupt(
            path,
            format!("{} `{key}` for {n} images", list.len()),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Int(c) if (0..classes as i64).contains(c) => Ok(*c as u8),
            other => Err(corrupt(
                path,
                format!("`{key}`[{i}] = {other:?} is not a class in 0..{classes}"),
            )),
        })
        .collect()
}

/// The class names from `batches.meta` (`label_names`) or `meta` (`fine_label_names`).
fn class_names(dir: &Path, layout: &Layout) -> Result<Vec<String>> {
    let (file, key) = layout.meta;
    let path: PathBuf = dir.join(file);
    let meta = unpickle(&path)?;
    let names: Option<Vec<String>> = meta
        .get(key)
        .and_then(Value::items)
        .map(|l| l.iter().filter_map(Value::text).collect());
    match names {
        Some(n) if n.len() == layout.classes => Ok(n),
        Some(n) => Err(corrupt(
            &path,
            format!("{} class names, expected {}", n.len(), layout.classes),
        )),
        None => Err(corrupt(&path, format!("no `{key}` list"))),
    }
}
