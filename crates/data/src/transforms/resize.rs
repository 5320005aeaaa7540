use super::common::{InterpolationMode, Size};
use super::functional::{dims, resize_exact, resized_output_size};
use super::Transform;
use crate::{Error, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

fn yes() -> bool {
    true
}

/// Arguments of `torchvision.transforms.Resize(size, interpolation=BILINEAR,
/// max_size=None, antialias=True)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResizeConfig {
    /// An int (or `[s]`): the smaller edge becomes `s`, the other
    /// `int(s · long / short)`; `[h, w]`: exactly that size.
    pub size: Size,
    /// `"bilinear"` (default), `"nearest"` or `"bicubic"`.
    #[serde(default)]
    pub interpolation: InterpolationMode,
    /// The longer edge is capped at `max_size` (only with an int `size`).
    #[serde(default)]
    pub max_size: Option<usize>,
    /// Antialiasing for tensors (images are always antialiased, as PIL). Default true.
    #[serde(default = "yes")]
    pub antialias: bool,
}

impl ResizeConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<Resize> {
        let size = match &self.size {
            Size::Int(s) => vec![*s],
            Size::Seq(v) if v.len() == 1 || v.len() == 2 => v.clone(),
            Size::Seq(v) => {
                return Err(Error::config(
                    "size",
                    format!(
                        "Size must be an int or a 1 or 2 element tuple/list, not a {} element \
                         tuple/list",
                        v.len()
                    ),
                ))
            }
        };
        if size.contains(&0) {
            return Err(Error::config("size", "size must be positive"));
        }
        if let Some(m) = self.max_size {
            if size.len() != 1 {
                return Err(Error::config(
                    "max_size",
                    "max_size should only be passed if size specifies the length of the smaller \
                     edge, i.e. size should be an int",
                ));
            }
            if m <= size[0] {
                return Err(Error::config(
                    "max_size",
                    format!(
                        "max_size = {m} must be strictly greater than the requested size for \
                         the smaller edge size = {}",
                        size[0]
                    ),
                ));
            }
        }
        Ok(Resize {
            size,
            interpolation: self.interpolation,
            max_size: self.max_size,
            antialias: self.antialias,
        })
    }
}

/// `torchvision.transforms.Resize`: resizes to `size` (see [`ResizeConfig`]) with PIL's
/// resampling on images and torch's `interpolate` on tensors
/// ([`resize_exact`](super::functional::resize_exact)). An input already of the target
/// size is returned unchanged.
pub struct Resize {
    size: Vec<usize>,
    interpolation: InterpolationMode,
    max_size: Option<usize>,
    antialias: bool,
}

impl Resize {
    fn target(&self, h: usize, w: usize) -> (usize, usize) {
        resized_output_size(h, w, &self.size, self.max_size)
    }
}

impl Transform for Resize {
    fn resizes(&self) -> bool {
        true
    }

    fn apply(&self, input: Input, _rng: &mut SeedRng) -> Result<Input> {
        let (h, w) = dims(&input)?;
        let (oh, ow) = self.target(h, w);
        resize_exact(input, oh, ow, self.interpolation, self.antialias)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let n = input.len();
        if n < 2 {
            return Err(Error::Transform(format!(
                "Resize expects [..., H, W], got {input:?}"
            )));
        }
        let (oh, ow) = self.target(input[n - 2], input[n - 1]);
        let mut s = input.to_vec();
        s[n - 2] = oh;
        s[n - 1] = ow;
        Ok(s)
    }
}
