//! What can be known about a dataset before training, to check an experiment without
//! reading its data: the per-sample shape, the number of classes, whether samples are
//! images and whether targets are class indices ([`DatasetSpec::info`]).
//!
//! [`DatasetSpec::info`]: super::DatasetSpec::info

use crate::{Dataset, Input, Result, Target};

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
    /// The names of a sample's inputs ([`Dataset::input_names`]), all of the shape
    /// `shape`.
    pub inputs: Vec<String>,
    /// The raw per-sample shape of each input where they differ (a CSV's column
    /// groups); `None`: every input has `shape`.
    pub input_shapes: Option<Vec<Vec<usize>>>,
}

impl DataInfo {
    /// Each input's name and facts (its own shape where the inputs differ).
    pub fn per_input(&self) -> Vec<(String, DataInfo)> {
        self.inputs
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let shape = match &self.input_shapes {
                    Some(s) => s.get(i).cloned(),
                    None => self.shape.clone(),
                };
                (
                    name.clone(),
                    DataInfo {
                        shape,
                        ..self.clone()
                    },
                )
            })
            .collect()
    }
}

/// The input names of a dataset of one input: `["input"]`.
pub fn one_input() -> Vec<String> {
    vec!["input".into()]
}

impl DataInfo {
    /// Images of a fixed size (`Some(shape)`) or of any (`None`), with class targets.
    pub fn images(shape: Option<Vec<usize>>, classes: Option<usize>) -> Self {
        Self {
            sizes_vary: shape.is_none(),
            shape,
            classes,
            images: true,
            class_targets: Some(true),
            inputs: one_input(),
            input_shapes: None,
        }
    }
}

/// The most points a generator may be asked for (4 bytes a coordinate).
pub const MAX_GENERATED: usize = 50_000_000;

pub(crate) fn points(
    n: usize,
    features: usize,
    classes: Option<usize>,
) -> Result<DataInfo, crate::Error> {
    if n.saturating_mul(features.max(1)) > MAX_GENERATED {
        return Err(crate::Error::Config {
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
        inputs: one_input(),
        input_shapes: None,
    })
}

/// The facts of a built dataset, read off its first sample (and its labels, for the
/// class count when the dataset names no classes).
pub fn built_info(ds: &dyn Dataset) -> Result<DataInfo> {
    if ds.is_empty() {
        return Ok(DataInfo {
            shape: None,
            classes: None,
            images: false,
            sizes_vary: false,
            class_targets: None,
            inputs: one_input(),
            input_shapes: None,
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
        inputs: ds.input_names(),
        input_shapes: None,
    })
}
