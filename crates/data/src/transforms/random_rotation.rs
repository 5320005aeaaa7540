use super::common::{Fill, InterpolationMode, NumOrRange};
use super::functional::{channels, rotate};
use super::Transform;
use crate::{Error, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

/// `degrees`: `d` means `[−d, d]`; `[min, max]` as is.
pub(crate) fn degrees_range(v: &NumOrRange, name: &'static str) -> Result<(f64, f64)> {
    match v {
        NumOrRange::Num(d) if *d >= 0.0 => Ok((-d, *d)),
        NumOrRange::Num(_) => Err(Error::config(
            name,
            format!("If {name} is a single number, it must be positive."),
        )),
        NumOrRange::Seq(s) if s.len() == 2 && s[0] <= s[1] => Ok((s[0], s[1])),
        NumOrRange::Seq(_) => Err(Error::config(
            name,
            format!("{name} should be a sequence of length 2 with min <= max."),
        )),
    }
}

fn nearest() -> InterpolationMode {
    InterpolationMode::Nearest
}

/// Arguments of `torchvision.transforms.RandomRotation(degrees, interpolation=NEAREST,
/// expand=False, center=None, fill=0)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomRotationConfig {
    /// `d` (the range `[−d, d]`) or `[min, max]`, in degrees.
    pub degrees: NumOrRange,
    /// `"nearest"` (default), `"bilinear"` (`"bicubic"` on images only).
    #[serde(default = "nearest")]
    pub interpolation: InterpolationMode,
    /// Enlarges the output to hold the whole rotated image.
    #[serde(default)]
    pub expand: bool,
    /// `[x, y]` in pixels; the image centre by default.
    #[serde(default)]
    pub center: Option<[f64; 2]>,
    /// The value of pixels outside the rotated image.
    #[serde(default)]
    pub fill: Fill,
}

impl RandomRotationConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<RandomRotation> {
        Ok(RandomRotation {
            degrees: degrees_range(&self.degrees, "degrees")?,
            interpolation: self.interpolation,
            expand: self.expand,
            center: self.center,
            fill: self.fill.clone(),
        })
    }
}

/// `torchvision.transforms.RandomRotation`: rotates by an angle drawn from
/// `U(min, max)` ([`rotate`]).
///
/// With `expand = true` the output size depends on the angle, so
/// [`output_shape`](Transform::output_shape) is an error (such a pipeline has no
/// static shape); `apply` works and gives each sample its own size.
pub struct RandomRotation {
    degrees: (f64, f64),
    interpolation: InterpolationMode,
    expand: bool,
    center: Option<[f64; 2]>,
    fill: Fill,
}

impl RandomRotation {
    /// The random angle in degrees.
    pub fn get_params(&self, rng: &mut SeedRng) -> f64 {
        rng.uniform(self.degrees.0, self.degrees.1)
    }
}

impl Transform for RandomRotation {
    fn apply(&self, input: Input, rng: &mut SeedRng) -> Result<Input> {
        let fill = self.fill.per_channel(channels(&input))?;
        let angle = self.get_params(rng);
        rotate(
            input,
            angle,
            self.interpolation,
            self.expand,
            self.center,
            &fill,
        )
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        if self.expand {
            return Err(Error::Transform(
                "RandomRotation with expand = true gives each sample a size that depends on \
                 its random angle, so the output shape is not static; use expand = false"
                    .into(),
            ));
        }
        Ok(input.to_vec())
    }
}
