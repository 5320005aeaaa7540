//! `torch.nn.AdaptiveAvgPool2d` and `torch.nn.AdaptiveMaxPool2d`.

use crate::ops::{adaptive_avg_pool2d, adaptive_max_pool2d};
use crate::{Error, Layer, Result, Shape};
use candle_core::Tensor;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// One entry of an adaptive pooling's `output_size`: a size, or `None` (written
/// `"None"` in TOML, which has no null) to keep the input's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputDim(pub Option<usize>);

impl Serialize for OutputDim {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            Some(v) => s.serialize_u64(v as u64),
            None => s.serialize_str("None"),
        }
    }
}

impl<'de> Deserialize<'de> for OutputDim {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = OutputDim;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size (non-negative integer) or \"None\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<OutputDim, E> {
                usize::try_from(v)
                    .map(|v| OutputDim(Some(v)))
                    .map_err(|_| E::custom("size too large"))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<OutputDim, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("output size must not be negative, got {v}")))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<OutputDim, E> {
                if v == "None" {
                    Ok(OutputDim(None))
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }
            fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<OutputDim, E> {
                Ok(OutputDim(None))
            }
            fn visit_none<E: serde::de::Error>(self) -> std::result::Result<OutputDim, E> {
                Ok(OutputDim(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for OutputDim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{v}"),
            None => f.write_str("None"),
        }
    }
}

/// `output_size` of a 2-d adaptive pooling: `5`, `[5, 7]` or `[5, "None"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OutputSize {
    /// The same size for H and W.
    Int(usize),
    /// `(H_out, W_out)`, each possibly `None` (the input's size).
    Pair([OutputDim; 2]),
}

impl OutputSize {
    /// `(H_out, W_out)` for an `h × w` input.
    pub fn resolve(self, h: usize, w: usize) -> (usize, usize) {
        match self {
            Self::Int(v) => (v, v),
            Self::Pair([a, b]) => (a.0.unwrap_or(h), b.0.unwrap_or(w)),
        }
    }
}

impl fmt::Display for OutputSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(v) => write!(f, "{v}"),
            Self::Pair([a, b]) => write!(f, "({a}, {b})"),
        }
    }
}

/// Arguments of `torch.nn.AdaptiveAvgPool2d(output_size)` and
/// `torch.nn.AdaptiveMaxPool2d(output_size, return_indices=False)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptivePool2dConfig {
    /// The output's `(H, W)`.
    pub output_size: OutputSize,
}

impl AdaptivePool2dConfig {
    /// Per-sample `[C, H, W]` → `[C, H_out, W_out]`.
    ///
    /// # Errors
    /// An input that is not `[C, H, W]`, an empty input or an output size of 0.
    pub fn infer(&self, input: &[usize]) -> Result<Shape> {
        let &[c, h, w] = input else {
            return Err(Error::shape(format!(
                "adaptive 2-d pooling expects [C, H, W] samples, but its input has shape {}",
                crate::shape::show_batched(input)
            )));
        };
        if h == 0 || w == 0 {
            return Err(Error::shape(format!(
                "adaptive pooling needs a non-empty input, got {}",
                crate::shape::show_batched(input)
            )));
        }
        let (oh, ow) = self.output_size.resolve(h, w);
        if oh == 0 || ow == 0 {
            return Err(Error::field(
                "output_size",
                format!("output_size must be positive, got {}", self.output_size),
            ));
        }
        Ok(vec![c, oh, ow])
    }
}

variant_config! {
    /// Arguments of `torch.nn.AdaptiveAvgPool2d(output_size)`.
    AdaptiveAvgPool2dConfig(AdaptivePool2dConfig)
}

variant_config! {
    /// Arguments of `torch.nn.AdaptiveMaxPool2d(output_size, return_indices=False)`.
    AdaptiveMaxPool2dConfig(AdaptivePool2dConfig)
}

/// `torch.nn.AdaptiveAvgPool2d`: output `(i, j)` is the mean of rows
/// `[⌊i·H/H_out⌋, ⌈(i+1)·H/H_out⌉)` × the same for columns.
pub struct AdaptiveAvgPool2d {
    cfg: AdaptivePool2dConfig,
}

impl AdaptivePool2dConfig {
    /// `output_size = [h, w]`.
    pub fn new(h: usize, w: usize) -> Self {
        Self {
            output_size: OutputSize::Pair([OutputDim(Some(h)), OutputDim(Some(w))]),
        }
    }

    /// The `AdaptiveAvgPool2d` layer.
    pub fn init_avg(&self) -> AdaptiveAvgPool2d {
        AdaptiveAvgPool2d { cfg: self.clone() }
    }

    /// The `AdaptiveMaxPool2d` layer.
    pub fn init_max(&self) -> AdaptiveMaxPool2d {
        AdaptiveMaxPool2d { cfg: self.clone() }
    }
}

fn out_hw(cfg: &AdaptivePool2dConfig, x: &Tensor) -> Result<(usize, usize)> {
    let (_, _, h, w) = x.dims4()?;
    Ok(cfg.output_size.resolve(h, w))
}

impl Layer for AdaptiveAvgPool2d {
    fn type_name(&self) -> &'static str {
        "AdaptiveAvgPool2d"
    }
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(adaptive_avg_pool2d(x, out_hw(&self.cfg, x)?)?)
    }
    fn describe(&self) -> String {
        format!("AdaptiveAvgPool2d(output_size={})", self.cfg.output_size)
    }
}

/// `torch.nn.AdaptiveMaxPool2d`: the maximum over the windows of
/// [`AdaptiveAvgPool2d`], the gradient to the first maximum.
pub struct AdaptiveMaxPool2d {
    cfg: AdaptivePool2dConfig,
}

impl Layer for AdaptiveMaxPool2d {
    fn type_name(&self) -> &'static str {
        "AdaptiveMaxPool2d"
    }
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(adaptive_max_pool2d(x, out_hw(&self.cfg, x)?)?)
    }
    fn describe(&self) -> String {
        format!("AdaptiveMaxPool2d(output_size={})", self.cfg.output_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_size_forms() {
        let c: AdaptivePool2dConfig =
            serde_json::from_str(r#"{"output_size": [5, "None"]}"#).unwrap();
        assert_eq!(c.infer(&[3, 9, 7]).unwrap(), vec![3, 5, 7]);
        assert_eq!(
            c.init_avg().describe(),
            "AdaptiveAvgPool2d(output_size=(5, None))"
        );
        let c: AdaptivePool2dConfig =
            serde_json::from_str(r#"{"output_size": [null, 2]}"#).unwrap();
        assert_eq!(c.infer(&[3, 9, 7]).unwrap(), vec![3, 9, 2]);
        let c: AdaptivePool2dConfig = serde_json::from_str(r#"{"output_size": 3}"#).unwrap();
        assert_eq!(c.init_max().describe(), "AdaptiveMaxPool2d(output_size=3)");
        assert!(c.infer(&[3, 9]).is_err());
        let c: AdaptivePool2dConfig = serde_json::from_str(r#"{"output_size": 0}"#).unwrap();
        assert!(c
            .infer(&[3, 9, 9])
            .unwrap_err()
            .to_string()
            .contains("positive"));
        assert!(
            serde_json::from_str::<AdaptivePool2dConfig>(r#"{"output_size": [1, "x"]}"#).is_err()
        );
    }
}
