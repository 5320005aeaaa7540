use super::center_crop::with_hw;
use super::common::{Fill, PaddingMode};
use super::functional::{channels, pad};
use super::Transform;
use crate::{Error, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

/// A padding argument: an int (every side), `[left/right, top/bottom]` or
/// `[left, top, right, bottom]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Padding {
    /// Every side.
    Int(i64),
    /// 1, 2 or 4 values.
    Seq(Vec<i64>),
}

impl Padding {
    /// `[left, top, right, bottom]`.
    pub fn ltrb(&self) -> Result<[i64; 4]> {
        Ok(match self {
            Padding::Int(p) => [*p; 4],
            Padding::Seq(v) => match v.as_slice() {
                [p] => [*p; 4],
                [x, y] => [*x, *y, *x, *y],
                [l, t, r, b] => [*l, *t, *r, *b],
                _ => {
                    return Err(Error::config(
                        "padding",
                        format!(
                            "Padding must be an int or a 1, 2, or 4 element tuple, not a {} \
                             element tuple",
                            v.len()
                        ),
                    ))
                }
            },
        })
    }
}

/// Arguments of `torchvision.transforms.Pad(padding, fill=0, padding_mode="constant")`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PadConfig {
    /// See [`Padding`].
    pub padding: Padding,
    /// The constant-mode value, one or one per channel (8-bit images: 0..=255).
    #[serde(default)]
    pub fill: Fill,
    /// `"constant"` (default), `"edge"`, `"reflect"` or `"symmetric"`.
    #[serde(default)]
    pub padding_mode: PaddingMode,
}

impl PadConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<Pad> {
        Ok(Pad {
            ltrb: self.padding.ltrb()?,
            fill: self.fill.clone(),
            mode: self.padding_mode,
        })
    }
}

/// `torchvision.transforms.Pad`: pads each side ([`pad`]); negative padding crops.
pub struct Pad {
    ltrb: [i64; 4],
    fill: Fill,
    mode: PaddingMode,
}

impl Transform for Pad {
    fn apply(&self, input: Input, _rng: &mut SeedRng) -> Result<Input> {
        let fill = self.fill.per_channel(channels(&input))?;
        pad(input, self.ltrb, &fill, self.mode)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        padded_shape(input, self.ltrb, "Pad")
    }
}

pub(crate) fn padded_shape(
    input: &[usize],
    [l, t, r, b]: [i64; 4],
    what: &str,
) -> Result<Vec<usize>> {
    let n = input.len().max(2);
    let h = *input.get(n - 2).unwrap_or(&0) as i64 + t + b;
    let w = *input.get(n - 1).unwrap_or(&0) as i64 + l + r;
    if h <= 0 || w <= 0 {
        return Err(Error::Transform(format!(
            "{what}: padding [{l}, {t}, {r}, {b}] leaves nothing of shape {input:?}"
        )));
    }
    with_hw(input, h as usize, w as usize, what)
}
