use crate::Result;
use std::collections::BTreeMap;

/// An 8-bit image in height × width × channels order, as a PIL image is before
/// `ToTensor`.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// 1 (grayscale) or 3 (RGB).
    pub channels: usize,
    /// `height·width·channels` bytes, row-major, channels interleaved.
    pub data: Vec<u8>,
}

/// A box of an image: rows `top..top + height`, columns `left..left + width`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropBox {
    /// First row.
    pub top: usize,
    /// First column.
    pub left: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl CropBox {
    /// The whole of a `height × width` image.
    pub fn whole(height: usize, width: usize) -> Self {
        Self {
            top: 0,
            left: 0,
            height,
            width,
        }
    }
}

/// A float array with its shape (`[C, H, W]` after `ToTensor`).
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// The shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// What a dataset yields and a transform consumes: an image or a float array.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A decoded image.
    Image(Image),
    /// A float array.
    Array(Array),
}

impl Input {
    /// The shape as a tensor would have it: `[C, H, W]` for images.
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Self::Image(i) => vec![i.channels, i.height, i.width],
            Self::Array(a) => a.shape.clone(),
        }
    }
}

/// What a sample is labelled with.
///
/// A classification dataset gives class indices, collated into a u32 tensor `[B]`
/// (what `CrossEntropyLoss`/`NLLLoss` take). A regression dataset, a CSV with float
/// labels or a multi-label set gives float values with their per-sample shape,
/// collated into an f32 tensor `[B, …]` (what `MSELoss`/`BCELoss` take). Converting
/// class indices to floats where a loss needs them is the caller's (the runner's) job.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A class index.
    Class(u32),
    /// Float values with their shape (`[]` for a scalar, `[1]` for one output, …).
    Values(Array),
}

impl Target {
    /// The class index, if this is one.
    pub fn class(&self) -> Option<u32> {
        match self {
            Self::Class(c) => Some(*c),
            Self::Values(_) => None,
        }
    }

    /// A one-value target of shape `[1]`.
    pub fn scalar(v: f32) -> Self {
        Self::Values(Array {
            shape: vec![1],
            data: vec![v],
        })
    }

    /// The per-sample shape in a collated batch: `[]` for a class index.
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Self::Class(_) => Vec::new(),
            Self::Values(a) => a.shape.clone(),
        }
    }

    /// `"class index"` or `"float values of shape [..]"`, for error messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Class(_) => "a class index".into(),
            Self::Values(a) => format!("float values of shape {:?}", a.shape),
        }
    }
}

impl From<u32> for Target {
    fn from(c: u32) -> Self {
        Self::Class(c)
    }
}

/// One sample: an input and its target, and the further inputs of a dataset that
/// yields several per sample (pairs, triplets; see [`Dataset::input_names`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The input (the first, where there are several).
    pub input: Input,
    /// The class index or float values.
    pub target: Target,
    /// The inputs after the first, in [`Dataset::input_names`] order.
    pub extra: Vec<Input>,
}

impl Sample {
    /// A sample of one input.
    pub fn new(input: Input, target: Target) -> Self {
        Self {
            input,
            target,
            extra: Vec::new(),
        }
    }
}

/// What [`Dataset::get_region`] calls with an image's `(height, width)` to learn which
/// box of it to decode.
pub type RegionPicker<'a> = dyn FnMut(usize, usize) -> Result<CropBox> + 'a;

/// A map-style dataset, as `torch.utils.data.Dataset` (`__len__` and `__getitem__`).
pub trait Dataset: Send + Sync {
    /// Number of samples.
    fn len(&self) -> usize;
    /// Whether there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The sample at `index` (< `len()`).
    fn get(&self, index: usize) -> Result<Sample>;
    /// Sample `index` with only a box of its image, which `crop` picks from the
    /// image's `(height, width)` before the pixels are decoded (the loader's `crop`
    /// draws a crop transform's parameters: [`Transform::split_crop`]). A dataset of
    /// encoded images overrides this to decode only the box (`ImageFolder` does, for
    /// JPEGs); it calls `crop` once, and returns the box's pixels as the sample's
    /// input. `Ok(None)` (the default), without calling `crop`, where the dataset does
    /// not: the caller reads the whole sample with [`get`](Self::get).
    ///
    /// [`Transform::split_crop`]: crate::transforms::Transform::split_crop
    fn get_region(&self, index: usize, crop: &mut RegionPicker<'_>) -> Result<Option<Sample>> {
        let _ = (index, crop);
        Ok(None)
    }
    /// Class names, where the dataset knows them.
    fn classes(&self) -> Vec<String> {
        Vec::new()
    }
    /// The names of a sample's inputs, which a model's inputs are matched to: one,
    /// `input`, unless the dataset yields several (`x1`, `x2` for pairs).
    fn input_names(&self) -> Vec<String> {
        vec!["input".into()]
    }
    /// The class index of sample `index`, where its target is one; a dataset that can
    /// tell without decoding its input overrides this (it reads the whole sample).
    fn class_of(&self, index: usize) -> Result<Option<u32>> {
        Ok(self.get(index)?.target.class())
    }
    /// `class_to_idx`: each class name and its index, as torchvision's
    /// `dataset.class_to_idx` (empty where the dataset has no class names).
    fn class_to_idx(&self) -> BTreeMap<String, u32> {
        self.classes()
            .into_iter()
            .enumerate()
            .map(|(i, c)| (c, i as u32))
            .collect()
    }
}

impl<D: Dataset + ?Sized> Dataset for std::sync::Arc<D> {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn get(&self, index: usize) -> Result<Sample> {
        (**self).get(index)
    }
    fn get_region(&self, index: usize, crop: &mut RegionPicker<'_>) -> Result<Option<Sample>> {
        (**self).get_region(index, crop)
    }
    fn classes(&self) -> Vec<String> {
        (**self).classes()
    }
    fn input_names(&self) -> Vec<String> {
        (**self).input_names()
    }
    fn class_of(&self, index: usize) -> Result<Option<u32>> {
        (**self).class_of(index)
    }
    fn class_to_idx(&self) -> BTreeMap<String, u32> {
        (**self).class_to_idx()
    }
}
