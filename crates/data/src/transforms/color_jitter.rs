use super::common::NumOrRange;
use super::functional::{adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation};
use super::Transform;
use crate::{Error, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

fn zero() -> NumOrRange {
    NumOrRange::Num(0.0)
}

/// Arguments of `torchvision.transforms.ColorJitter(brightness=0, contrast=0,
/// saturation=0, hue=0)`. A number `x` means the factor range `[max(0, 1 − x), 1 + x]`
/// (hue: `[−x, x]`, `0 <= x <= 0.5`); `[min, max]` is taken as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColorJitterConfig {
    /// Brightness factor range.
    #[serde(default = "zero")]
    pub brightness: NumOrRange,
    /// Contrast factor range.
    #[serde(default = "zero")]
    pub contrast: NumOrRange,
    /// Saturation factor range.
    #[serde(default = "zero")]
    pub saturation: NumOrRange,
    /// Hue shift range, within `[−0.5, 0.5]`.
    #[serde(default = "zero")]
    pub hue: NumOrRange,
}

impl Default for ColorJitterConfig {
    fn default() -> Self {
        Self {
            brightness: zero(),
            contrast: zero(),
            saturation: zero(),
            hue: zero(),
        }
    }
}

/// torchvision's `ColorJitter._check_input`.
fn check(
    v: &NumOrRange,
    name: &'static str,
    center: f64,
    bound: (f64, f64),
    clip_first_on_zero: bool,
) -> Result<Option<(f64, f64)>> {
    let (lo, hi) = match v {
        NumOrRange::Num(x) => {
            if *x < 0.0 {
                return Err(Error::config(
                    name,
                    format!("If {name} is a single number, it must be non negative."),
                ));
            }
            let lo = center - x;
            (
                if clip_first_on_zero { lo.max(0.0) } else { lo },
                center + x,
            )
        }
        NumOrRange::Seq(s) if s.len() == 2 => (s[0], s[1]),
        NumOrRange::Seq(_) => {
            return Err(Error::config(
                name,
                format!("{name} should be a single number or a list/tuple with length 2."),
            ))
        }
    };
    if !(bound.0 <= lo && lo <= hi && hi <= bound.1) {
        return Err(Error::config(
            name,
            format!(
                "{name} values should be between ({}, {}), but got [{lo}, {hi}].",
                bound.0, bound.1
            ),
        ));
    }
    Ok(if lo == center && hi == center {
        None
    } else {
        Some((lo, hi))
    })
}

impl ColorJitterConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<ColorJitter> {
        let inf = (0.0, f64::INFINITY);
        Ok(ColorJitter {
            brightness: check(&self.brightness, "brightness", 1.0, inf, true)?,
            contrast: check(&self.contrast, "contrast", 1.0, inf, true)?,
            saturation: check(&self.saturation, "saturation", 1.0, inf, true)?,
            hue: check(&self.hue, "hue", 0.0, (-0.5, 0.5), false)?,
        })
    }
}

/// `torchvision.transforms.ColorJitter`: brightness, contrast, saturation and hue
/// adjustments (see [`functional`](super::functional)) with random factors, applied in
/// a random order.
pub struct ColorJitter {
    brightness: Option<(f64, f64)>,
    contrast: Option<(f64, f64)>,
    saturation: Option<(f64, f64)>,
    hue: Option<(f64, f64)>,
}

/// The random part of a [`ColorJitter`]: the order (0 brightness, 1 contrast,
/// 2 saturation, 3 hue) and the factors of the enabled adjustments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorJitterParams {
    /// A permutation of `0..4`.
    pub order: [usize; 4],
    /// Brightness factor.
    pub brightness: Option<f64>,
    /// Contrast factor.
    pub contrast: Option<f64>,
    /// Saturation factor.
    pub saturation: Option<f64>,
    /// Hue shift.
    pub hue: Option<f64>,
}

impl ColorJitter {
    /// torchvision's `ColorJitter.get_params`: a uniform random permutation of the
    /// four adjustments (`torch.randperm(4)`), then `U(min, max)` for each enabled one
    /// in the order brightness, contrast, saturation, hue.
    pub fn get_params(&self, rng: &mut SeedRng) -> ColorJitterParams {
        let mut order = [0, 1, 2, 3];
        for i in (1..4).rev() {
            let j = rng.below(i + 1);
            order.swap(i, j);
        }
        let mut draw = |r: Option<(f64, f64)>| r.map(|(a, b)| rng.uniform(a, b));
        let brightness = draw(self.brightness);
        let contrast = draw(self.contrast);
        let saturation = draw(self.saturation);
        let hue = draw(self.hue);
        ColorJitterParams {
            order,
            brightness,
            contrast,
            saturation,
            hue,
        }
    }

    /// Applies fixed parameters.
    pub fn apply_params(p: &ColorJitterParams, mut input: Input) -> Result<Input> {
        for &k in &p.order {
            input = match (k, p.brightness, p.contrast, p.saturation, p.hue) {
                (0, Some(f), ..) => adjust_brightness(input, f)?,
                (1, _, Some(f), ..) => adjust_contrast(input, f)?,
                (2, _, _, Some(f), _) => adjust_saturation(input, f)?,
                (3, .., Some(f)) => adjust_hue(input, f)?,
                _ => input,
            };
        }
        Ok(input)
    }
}

impl Transform for ColorJitter {
    fn apply(&self, input: Input, rng: &mut SeedRng) -> Result<Input> {
        let p = self.get_params(rng);
        Self::apply_params(&p, input)
    }
}
