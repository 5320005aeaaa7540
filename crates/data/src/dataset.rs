use crate::Result;

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

/// One sample: an input and its class index.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The input.
    pub input: Input,
    /// The class index.
    pub target: u32,
}

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
    /// Class names, where the dataset knows them.
    fn classes(&self) -> Vec<String> {
        Vec::new()
    }
}
