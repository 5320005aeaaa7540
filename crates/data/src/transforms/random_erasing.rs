use super::common::{coin, pair, probability};
use super::{needs_tensor, Kind, Transform};
use crate::{Error, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

/// RandomErasing's `value`: a number, one number per channel, or `"random"`
/// (standard normal values per erased element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ErasingValue {
    /// One value for every channel.
    Num(f64),
    /// One value, or one per channel.
    Seq(Vec<f64>),
    /// `"random"`.
    Str(String),
}

impl Default for ErasingValue {
    fn default() -> Self {
        ErasingValue::Num(0.0)
    }
}

fn half() -> f64 {
    0.5
}
fn default_scale() -> Vec<f64> {
    vec![0.02, 0.33]
}
fn default_ratio() -> Vec<f64> {
    vec![0.3, 3.3]
}

/// Arguments of `torchvision.transforms.RandomErasing(p=0.5, scale=(0.02, 0.33),
/// ratio=(0.3, 3.3), value=0, inplace=False)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomErasingConfig {
    /// Probability of erasing.
    #[serde(default = "half")]
    pub p: f64,
    /// Range of the erased area as a fraction of the image's.
    #[serde(default = "default_scale")]
    pub scale: Vec<f64>,
    /// Range of the erased box's aspect ratio.
    #[serde(default = "default_ratio")]
    pub ratio: Vec<f64>,
    /// The erasing value (see [`ErasingValue`]).
    #[serde(default)]
    pub value: ErasingValue,
    /// Accepted for compatibility; changes no result.
    #[serde(default)]
    pub inplace: bool,
}

impl RandomErasingConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<RandomErasing> {
        let value = match &self.value {
            ErasingValue::Num(v) => Some(vec![*v as f32]),
            ErasingValue::Seq(v) if !v.is_empty() => Some(v.iter().map(|&x| x as f32).collect()),
            ErasingValue::Seq(_) => {
                return Err(Error::config(
                    "value",
                    "value should be a non-empty sequence",
                ))
            }
            ErasingValue::Str(s) if s == "random" => None,
            ErasingValue::Str(s) => {
                return Err(Error::config(
                    "value",
                    format!("If value is str, it should be 'random', got {s:?}"),
                ))
            }
        };
        let scale = pair(&self.scale, "scale")?;
        let ratio = pair(&self.ratio, "ratio")?;
        if scale.0 < 0.0 || scale.1 > 1.0 {
            return Err(Error::config("scale", "Scale should be between 0 and 1"));
        }
        if ratio.0 <= 0.0 {
            return Err(Error::config("ratio", "ratio should be positive"));
        }
        Ok(RandomErasing {
            p: probability(self.p, "p")?,
            scale,
            ratio,
            value,
        })
    }
}

/// `torchvision.transforms.RandomErasing` (tensors only): with probability `p`, a box
/// of random area and aspect ratio is set to `value`.
pub struct RandomErasing {
    p: f64,
    scale: (f64, f64),
    ratio: (f64, f64),
    value: Option<Vec<f32>>,
}

/// The random part of a [`RandomErasing`]: `None` when nothing is erased.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomErasingParams {
    /// First row.
    pub top: usize,
    /// First column.
    pub left: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `[C, height, width]` values, or one value per channel (length C or 1).
    pub values: Vec<f32>,
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut SeedRng) -> f32 {
    let u1 = 1.0 - rng.uniform(0.0, 1.0);
    let u2 = rng.uniform(0.0, 1.0);
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

impl RandomErasing {
    /// torchvision's forward and `get_params`: the coin (`rand < p`), then up to 10
    /// attempts of area `U(scale)·H·W` and ratio `exp(U(log ratio))`,
    /// `h = round(√(a·r))`, `w = round(√(a/r))`, accepted when `h < H` and `w < W`;
    /// random values are drawn before `top = randint(0, H − h + 1)` and
    /// `left = randint(0, W − w + 1)`. `None`: nothing is erased.
    pub fn get_params(
        &self,
        rng: &mut SeedRng,
        c: usize,
        height: usize,
        width: usize,
    ) -> Option<RandomErasingParams> {
        if !coin(rng, self.p) {
            return None;
        }
        let area = (height * width) as f64;
        let lr = ((self.ratio.0 as f32).ln(), (self.ratio.1 as f32).ln());
        for _ in 0..10 {
            let a = area * rng.uniform(self.scale.0, self.scale.1);
            let r = rng.uniform(f64::from(lr.0), f64::from(lr.1)).exp();
            let h = (a * r).sqrt().round_ties_even() as usize;
            let w = (a / r).sqrt().round_ties_even() as usize;
            if !(h < height && w < width) {
                continue;
            }
            let values = match &self.value {
                None => (0..c * h * w).map(|_| normal(rng)).collect(),
                Some(v) => v.clone(),
            };
            let top = rng.below(height - h + 1);
            let left = rng.below(width - w + 1);
            return Some(RandomErasingParams {
                top,
                left,
                height: h,
                width: w,
                values,
            });
        }
        None
    }
}

/// `torchvision.transforms.functional.erase` on a `[…, C, H, W]` array: the box is
/// set to `values` (`[C, h, w]` values, one per channel, or one).
pub fn erase(input: Input, p: &RandomErasingParams) -> Result<Input> {
    let Input::Array(mut a) = input else {
        return Err(needs_tensor("RandomErasing"));
    };
    let n = a.shape.len();
    if n < 3 {
        return Err(Error::Transform(format!(
            "RandomErasing expects [..., C, H, W], got {:?}",
            a.shape
        )));
    }
    let (c, h, w) = (a.shape[n - 3], a.shape[n - 2], a.shape[n - 1]);
    if p.top + p.height > h || p.left + p.width > w {
        return Err(Error::Transform("erased box outside the image".into()));
    }
    let box_len = p.height * p.width;
    let per_element = p.values.len() == c * box_len && box_len > 0;
    if !per_element && p.values.len() != 1 && p.values.len() != c {
        return Err(Error::Transform(format!(
            "If value is a sequence, it should have either a single value or {c} (number of \
             input channels)"
        )));
    }
    for (pi, plane) in a.data.chunks_exact_mut(h * w).enumerate() {
        let ch = pi % c;
        for y in 0..p.height {
            let row = &mut plane[(p.top + y) * w + p.left..(p.top + y) * w + p.left + p.width];
            for (x, v) in row.iter_mut().enumerate() {
                *v = if per_element {
                    p.values[ch * box_len + y * p.width + x]
                } else if p.values.len() == 1 {
                    p.values[0]
                } else {
                    p.values[ch]
                };
            }
        }
    }
    Ok(Input::Array(a))
}

impl Transform for RandomErasing {
    fn apply(&self, input: Input, rng: &mut SeedRng) -> Result<Input> {
        let Input::Array(a) = &input else {
            return Err(needs_tensor("RandomErasing"));
        };
        let n = a.shape.len();
        if n < 3 {
            return Err(Error::Transform(format!(
                "RandomErasing expects [..., C, H, W], got {:?}",
                a.shape
            )));
        }
        let (c, h, w) = (a.shape[n - 3], a.shape[n - 2], a.shape[n - 1]);
        if let Some(v) = &self.value {
            if v.len() != 1 && v.len() != c {
                return Err(Error::Transform(format!(
                    "If value is a sequence, it should have either a single value or {c} \
                     (number of input channels)"
                )));
            }
        }
        match self.get_params(rng, c, h, w) {
            Some(p) => erase(input, &p),
            None => Ok(input),
        }
    }

    fn output_kind(&self, input: Kind) -> Result<Kind> {
        match input {
            Kind::Tensor => Ok(Kind::Tensor),
            Kind::Image => Err(needs_tensor("RandomErasing")),
        }
    }
}
