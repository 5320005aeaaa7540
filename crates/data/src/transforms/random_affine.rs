use super::common::{Fill, InterpolationMode, NumOrRange};
use super::functional::{affine, channels, dims};
use super::random_rotation::degrees_range;
use super::Transform;
use crate::transforms::common::pair;
use crate::{Error, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

fn nearest() -> InterpolationMode {
    InterpolationMode::Nearest
}

/// Arguments of `torchvision.transforms.RandomAffine(degrees, translate=None,
/// scale=None, shear=None, interpolation=NEAREST, fill=0, center=None)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomAffineConfig {
    /// `d` (the range `[−d, d]`) or `[min, max]`, in degrees.
    pub degrees: NumOrRange,
    /// `[a, b]`: maximal horizontal and vertical shifts as fractions of the width and
    /// height, each in `[0, 1]`.
    #[serde(default)]
    pub translate: Option<Vec<f64>>,
    /// `[min, max]` scale range (positive).
    #[serde(default)]
    pub scale: Option<Vec<f64>>,
    /// `s` (x shear in `[−s, s]`), `[min, max]` (x shear), or `[xmin, xmax, ymin,
    /// ymax]`, in degrees.
    #[serde(default)]
    pub shear: Option<NumOrRange>,
    /// `"nearest"` (default), `"bilinear"` (`"bicubic"` on images only).
    #[serde(default = "nearest")]
    pub interpolation: InterpolationMode,
    /// The value of pixels outside the transformed image.
    #[serde(default)]
    pub fill: Fill,
    /// `[x, y]` in pixels; the image centre by default.
    #[serde(default)]
    pub center: Option<[f64; 2]>,
}

impl RandomAffineConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<RandomAffine> {
        let translate = match &self.translate {
            None => None,
            Some(t) if t.len() == 2 && t.iter().all(|v| (0.0..=1.0).contains(v)) => {
                Some((t[0], t[1]))
            }
            Some(_) => {
                return Err(Error::config(
                    "translate",
                    "translate should be a sequence of 2 values, each between 0 and 1",
                ))
            }
        };
        let scale = match &self.scale {
            None => None,
            Some(s) => {
                let p = pair(s, "scale")?;
                if p.0 <= 0.0 {
                    return Err(Error::config("scale", "scale values should be positive"));
                }
                Some(p)
            }
        };
        let shear = match &self.shear {
            None => None,
            Some(NumOrRange::Num(s)) if *s >= 0.0 => Some([-s, *s, 0.0, 0.0]),
            Some(NumOrRange::Seq(v)) if v.len() == 2 => Some([v[0], v[1], 0.0, 0.0]),
            Some(NumOrRange::Seq(v)) if v.len() == 4 => Some([v[0], v[1], v[2], v[3]]),
            Some(_) => {
                return Err(Error::config(
                    "shear",
                    "shear should be a non-negative number or a sequence of 2 or 4 values",
                ))
            }
        };
        Ok(RandomAffine {
            degrees: degrees_range(&self.degrees, "degrees")?,
            translate,
            scale,
            shear,
            interpolation: self.interpolation,
            fill: self.fill.clone(),
            center: self.center,
        })
    }
}

/// `torchvision.transforms.RandomAffine`: a random rotation, translation, scale and
/// shear about the centre ([`affine`]); the size is kept.
pub struct RandomAffine {
    degrees: (f64, f64),
    translate: Option<(f64, f64)>,
    scale: Option<(f64, f64)>,
    shear: Option<[f64; 4]>,
    interpolation: InterpolationMode,
    fill: Fill,
    center: Option<[f64; 2]>,
}

/// The random part of a [`RandomAffine`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AffineParams {
    /// Degrees.
    pub angle: f64,
    /// Whole pixels `[tx, ty]`.
    pub translate: [f64; 2],
    /// Scale factor.
    pub scale: f64,
    /// `[x, y]` shear in degrees.
    pub shear: [f64; 2],
}

impl RandomAffine {
    /// torchvision's `RandomAffine.get_params` for a `width × height` input: angle,
    /// then `tx = round(U(−a·W, a·W))`, `ty = round(U(−b·H, b·H))`, then the scale, then
    /// the x and y shears.
    pub fn get_params(&self, rng: &mut SeedRng, width: usize, height: usize) -> AffineParams {
        let angle = rng.uniform(self.degrees.0, self.degrees.1);
        let translate = match self.translate {
            Some((a, b)) => {
                let (mx, my) = (a * width as f64, b * height as f64);
                let tx = rng.uniform(-mx, mx).round_ties_even();
                let ty = rng.uniform(-my, my).round_ties_even();
                [tx, ty]
            }
            None => [0.0, 0.0],
        };
        let scale = self.scale.map_or(1.0, |(a, b)| rng.uniform(a, b));
        let shear = match self.shear {
            Some(s) => {
                let x = rng.uniform(s[0], s[1]);
                let y = if s[2] != 0.0 || s[3] != 0.0 {
                    rng.uniform(s[2], s[3])
                } else {
                    0.0
                };
                [x, y]
            }
            None => [0.0, 0.0],
        };
        AffineParams {
            angle,
            translate,
            scale,
            shear,
        }
    }
}

impl Transform for RandomAffine {
    fn apply(&self, input: Input, rng: &mut SeedRng) -> Result<Input> {
        let fill = self.fill.per_channel(channels(&input))?;
        let (h, w) = dims(&input)?;
        let p = self.get_params(rng, w, h);
        affine(
            input,
            p.angle,
            p.translate,
            p.scale,
            p.shear,
            self.interpolation,
            &fill,
            self.center,
        )
    }
}
