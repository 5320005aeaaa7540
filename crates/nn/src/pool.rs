//! `torch.nn.MaxPool1d/2d` and `AvgPool1d/2d`.

use crate::layer::py_bool;
use crate::ops::{avg_pool2d, max_pool2d, Pool2d};
use crate::{Epilogue, Error, IntOrPair, Layer, Result, Shape};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.MaxPool2d(kernel_size, stride=None, padding=0, dilation=1,
/// return_indices=False, ceil_mode=False)`. `stride` defaults to `kernel_size`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxPool2dConfig {
    /// Window size.
    pub kernel_size: IntOrPair,
    /// Window step (default: `kernel_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<IntOrPair>,
    /// Implicit `-inf` padding on both sides (default 0, at most half the kernel).
    #[serde(default = "zero")]
    pub padding: IntOrPair,
    /// Spacing between window elements (default 1).
    #[serde(default = "one")]
    pub dilation: IntOrPair,
    /// Use ceil instead of floor for the output size (default `false`).
    #[serde(default)]
    pub ceil_mode: bool,
}

fn zero() -> IntOrPair {
    IntOrPair::Int(0)
}
fn one() -> IntOrPair {
    IntOrPair::Int(1)
}

impl MaxPool2dConfig {
    /// `MaxPool2d(kernel_size)`.
    pub fn new(kernel_size: usize) -> Self {
        Self {
            kernel_size: kernel_size.into(),
            stride: None,
            padding: zero(),
            dilation: one(),
            ceil_mode: false,
        }
    }

    fn geometry(&self) -> Result<Pool2d> {
        let kernel = self.kernel_size.pair();
        let stride = self.stride.unwrap_or(self.kernel_size).pair();
        let padding = self.padding.pair();
        let dilation = self.dilation.pair();
        if kernel.0 == 0 || kernel.1 == 0 {
            return Err(Error::field("kernel_size", "kernel_size must be positive"));
        }
        if stride.0 == 0 || stride.1 == 0 {
            return Err(Error::field("stride", "stride must be positive"));
        }
        if dilation.0 == 0 || dilation.1 == 0 {
            return Err(Error::field("dilation", "dilation must be positive"));
        }
        check_padding("max_pool2d", padding, kernel)?;
        Ok(Pool2d {
            kernel,
            stride,
            padding,
            dilation,
            ceil_mode: self.ceil_mode,
        })
    }

    /// Output shape for a per-sample `[C, H, W]` input:
    /// `H_out = ⌊(H + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1` (or ⌈⌉ in
    /// ceil mode, never starting a window in the right padding).
    pub fn infer(&self, input: &[usize]) -> Result<Shape> {
        infer_2d("MaxPool2d", &self.geometry()?, input)
    }

    /// The layer.
    pub fn init(&self) -> Result<MaxPool2d> {
        Ok(MaxPool2d {
            cfg: self.clone(),
            geometry: self.geometry()?,
        })
    }
}

/// `torch.nn.MaxPool2d`: the maximum of each window. The gradient goes to the first
/// maximum of each window, as in PyTorch (candle's own backward is wrong; see
/// [`crate::ops`]).
pub struct MaxPool2d {
    cfg: MaxPool2dConfig,
    geometry: Pool2d,
}

impl Layer for MaxPool2d {
    fn type_name(&self) -> &'static str {
        "MaxPool2d"
    }
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(max_pool2d(x, self.geometry)?)
    }
    fn epilogue(&self) -> Option<Epilogue> {
        Some(Epilogue::MaxPool(self.geometry))
    }
    fn describe(&self) -> String {
        let c = &self.cfg;
        let k = |v: IntOrPair| match v {
            IntOrPair::Int(i) => i.to_string(),
            p => p.to_string(),
        };
        format!(
            "MaxPool2d(kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={})",
            k(c.kernel_size),
            k(c.stride.unwrap_or(c.kernel_size)),
            k(c.padding),
            k(c.dilation),
            py_bool(c.ceil_mode)
        )
    }
}

/// PyTorch's "pad should be smaller than or equal to half of kernel size".
fn check_padding(op: &str, padding: (usize, usize), kernel: (usize, usize)) -> Result<()> {
    if padding.0 * 2 > kernel.0 || padding.1 * 2 > kernel.1 {
        return Err(Error::field(
            "padding",
            format!(
                "{op}: pad should be smaller than or equal to half of kernel size, but got \
                 padding ({}, {}) and kernel_size ({}, {})",
                padding.0, padding.1, kernel.0, kernel.1
            ),
        ));
    }
    Ok(())
}

fn check_positive(kernel: (usize, usize), stride: (usize, usize)) -> Result<()> {
    if kernel.0 == 0 || kernel.1 == 0 {
        return Err(Error::field(
            "kernel_size",
            "kernel_size must be greater than zero",
        ));
    }
    if stride.0 == 0 || stride.1 == 0 {
        return Err(Error::field("stride", "stride should be greater than zero"));
    }
    Ok(())
}

/// `[C, H_out, W_out]` of a 2-d pooling of a per-sample `[C, H, W]` input.
fn infer_2d(name: &str, g: &Pool2d, input: &[usize]) -> Result<Shape> {
    let &[c, h, w] = input else {
        return Err(Error::shape(format!(
            "{name} expects [C, H, W] samples, but its input has shape {}",
            crate::shape::show_batched(input)
        )));
    };
    let (oh, ow) = g.output_hw(h, w).ok_or_else(|| {
        Error::field(
            "kernel_size",
            format!(
                "{name}: kernel ({}, {}) does not fit the input of shape {} (output would \
                 be empty)",
                g.kernel.0,
                g.kernel.1,
                crate::shape::show_batched(input)
            ),
        )
    })?;
    Ok(vec![c, oh, ow])
}

/// `[C, L_out]` of a 1-d pooling (a 2-d one over `[C, 1, L]`).
fn infer_1d(name: &str, g: &Pool2d, input: &[usize]) -> Result<Shape> {
    let &[c, l] = input else {
        return Err(Error::shape(format!(
            "{name} expects [C, L] samples, but its input has shape {}",
            crate::shape::show_batched(input)
        )));
    };
    let out = infer_2d(name, g, &[c, 1, l]).map_err(|_| {
        Error::field(
            "kernel_size",
            format!(
                "{name}: kernel_size {} does not fit the input of shape {} (output would be \
                 empty)",
                g.kernel.1,
                crate::shape::show_batched(input)
            ),
        )
    })?;
    Ok(vec![out[0], out[2]])
}

/// Runs a 2-d pooling on `[N, C, L]` as `[N, C, 1, L]`.
fn on_1d(x: &Tensor, f: impl FnOnce(&Tensor) -> candle_core::Result<Tensor>) -> Result<Tensor> {
    Ok(f(&x.unsqueeze(2)?)?.squeeze(2)?)
}

fn one_usize() -> usize {
    1
}
fn yes() -> bool {
    true
}

/// Arguments of `torch.nn.MaxPool1d(kernel_size, stride=None, padding=0, dilation=1,
/// return_indices=False, ceil_mode=False)`. `stride` defaults to `kernel_size`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxPool1dConfig {
    /// Window size.
    pub kernel_size: usize,
    /// Window step (default: `kernel_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<usize>,
    /// Implicit `-inf` padding on both sides (default 0, at most half the kernel).
    #[serde(default)]
    pub padding: usize,
    /// Spacing between window elements (default 1).
    #[serde(default = "one_usize")]
    pub dilation: usize,
    /// Use ceil instead of floor for the output size (default `false`).
    #[serde(default)]
    pub ceil_mode: bool,
}

impl MaxPool1dConfig {
    /// `MaxPool1d(kernel_size)`.
    pub fn new(kernel_size: usize) -> Self {
        Self {
            kernel_size,
            stride: None,
            padding: 0,
            dilation: 1,
            ceil_mode: false,
        }
    }

    fn geometry(&self) -> Result<Pool2d> {
        let stride = self.stride.unwrap_or(self.kernel_size);
        check_positive((1, self.kernel_size), (1, stride))?;
        if self.dilation == 0 {
            return Err(Error::field(
                "dilation",
                "dilation should be greater than zero",
            ));
        }
        if self.padding * 2 > self.kernel_size {
            return Err(Error::field(
                "padding",
                format!(
                    "max_pool1d() padding should be at most half of kernel size, but got \
                     padding={} and kernel_size={}",
                    self.padding, self.kernel_size
                ),
            ));
        }
        Ok(Pool2d {
            kernel: (1, self.kernel_size),
            stride: (1, stride),
            padding: (0, self.padding),
            dilation: (1, self.dilation),
            ceil_mode: self.ceil_mode,
        })
    }

    /// `[C, L_out]` for a per-sample `[C, L]` input, `L_out` as in [`MaxPool2dConfig::infer`].
    pub fn infer(&self, input: &[usize]) -> Result<Shape> {
        infer_1d("MaxPool1d", &self.geometry()?, input)
    }

    /// The layer.
    pub fn init(&self) -> Result<MaxPool1d> {
        Ok(MaxPool1d {
            cfg: self.clone(),
            geometry: self.geometry()?,
        })
    }
}

/// `torch.nn.MaxPool1d` on `[N, C, L]`: the maximum of each window, the gradient to its
/// first maximum.
pub struct MaxPool1d {
    cfg: MaxPool1dConfig,
    geometry: Pool2d,
}

impl Layer for MaxPool1d {
    fn type_name(&self) -> &'static str {
        "MaxPool1d"
    }
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        on_1d(x, |x| max_pool2d(x, self.geometry))
    }
    fn describe(&self) -> String {
        let c = &self.cfg;
        format!(
            "MaxPool1d(kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={})",
            c.kernel_size,
            c.stride.unwrap_or(c.kernel_size),
            c.padding,
            c.dilation,
            py_bool(c.ceil_mode)
        )
    }
}

/// Arguments of `torch.nn.AvgPool2d(kernel_size, stride=None, padding=0,
/// ceil_mode=False, count_include_pad=True, divisor_override=None)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvgPool2dConfig {
    /// Window size.
    pub kernel_size: IntOrPair,
    /// Window step (default: `kernel_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<IntOrPair>,
    /// Implicit zero padding on both sides (default 0, at most half the kernel).
    #[serde(default = "zero")]
    pub padding: IntOrPair,
    /// Use ceil instead of floor for the output size (default `false`).
    #[serde(default)]
    pub ceil_mode: bool,
    /// Count the zero padding in the divisor (default `true`).
    #[serde(default = "yes")]
    pub count_include_pad: bool,
    /// Divide by this instead of the window size (default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divisor_override: Option<usize>,
}

impl AvgPool2dConfig {
    /// `AvgPool2d(kernel_size)`.
    pub fn new(kernel_size: usize) -> Self {
        Self {
            kernel_size: kernel_size.into(),
            stride: None,
            padding: zero(),
            ceil_mode: false,
            count_include_pad: true,
            divisor_override: None,
        }
    }

    fn geometry(&self) -> Result<Pool2d> {
        let kernel = self.kernel_size.pair();
        let stride = self.stride.unwrap_or(self.kernel_size).pair();
        check_positive(kernel, stride)?;
        check_padding("avg_pool2d", self.padding.pair(), kernel)?;
        if self.divisor_override == Some(0) {
            return Err(Error::field("divisor_override", "divisor must be not zero"));
        }
        Ok(Pool2d {
            kernel,
            stride,
            padding: self.padding.pair(),
            dilation: (1, 1),
            ceil_mode: self.ceil_mode,
        })
    }

    /// `[C, H_out, W_out]` for a per-sample `[C, H, W]` input, sizes as
    /// [`MaxPool2dConfig::infer`] with dilation 1.
    pub fn infer(&self, input: &[usize]) -> Result<Shape> {
        infer_2d("AvgPool2d", &self.geometry()?, input)
    }

    /// The layer.
    pub fn init(&self) -> Result<AvgPool2d> {
        Ok(AvgPool2d {
            cfg: self.clone(),
            geometry: self.geometry()?,
        })
    }
}

/// `torch.nn.AvgPool2d`: `out = Σ window / divisor`, the divisor being
/// `divisor_override`, else the window size (counting the padding inside `[−p, n + p)`
/// when `count_include_pad`, else only input elements).
pub struct AvgPool2d {
    cfg: AvgPool2dConfig,
    geometry: Pool2d,
}

impl Layer for AvgPool2d {
    fn type_name(&self) -> &'static str {
        "AvgPool2d"
    }
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(avg_pool2d(
            x,
            self.geometry,
            self.cfg.count_include_pad,
            self.cfg.divisor_override,
        )?)
    }
    fn describe(&self) -> String {
        let c = &self.cfg;
        let k = |v: IntOrPair| match v {
            IntOrPair::Int(i) => i.to_string(),
            p => p.to_string(),
        };
        format!(
            "AvgPool2d(kernel_size={}, stride={}, padding={})",
            k(c.kernel_size),
            k(c.stride.unwrap_or(c.kernel_size)),
            k(c.padding),
        )
    }
}

/// Arguments of `torch.nn.AvgPool1d(kernel_size, stride=None, padding=0,
/// ceil_mode=False, count_include_pad=True)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvgPool1dConfig {
    /// Window size.
    pub kernel_size: usize,
    /// Window step (default: `kernel_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<usize>,
    /// Implicit zero padding on both sides (default 0, at most half the kernel).
    #[serde(default)]
    pub padding: usize,
    /// Use ceil instead of floor for the output size (default `false`).
    #[serde(default)]
    pub ceil_mode: bool,
    /// Count the zero padding in the divisor (default `true`).
    #[serde(default = "yes")]
    pub count_include_pad: bool,
}

impl AvgPool1dConfig {
    /// `AvgPool1d(kernel_size)`.
    pub fn new(kernel_size: usize) -> Self {
        Self {
            kernel_size,
            stride: None,
            padding: 0,
            ceil_mode: false,
            count_include_pad: true,
        }
    }

    fn geometry(&self) -> Result<Pool2d> {
        let stride = self.stride.unwrap_or(self.kernel_size);
        check_positive((1, self.kernel_size), (1, stride))?;
        check_padding("avg_pool1d", (0, self.padding), (1, self.kernel_size))?;
        Ok(Pool2d {
            kernel: (1, self.kernel_size),
            stride: (1, stride),
            padding: (0, self.padding),
            dilation: (1, 1),
            ceil_mode: self.ceil_mode,
        })
    }

    /// `[C, L_out]` for a per-sample `[C, L]` input.
    pub fn infer(&self, input: &[usize]) -> Result<Shape> {
        infer_1d("AvgPool1d", &self.geometry()?, input)
    }

    /// The layer.
    pub fn init(&self) -> Result<AvgPool1d> {
        Ok(AvgPool1d {
            cfg: self.clone(),
            geometry: self.geometry()?,
        })
    }
}

/// `torch.nn.AvgPool1d` on `[N, C, L]`, as [`AvgPool2d`] over `[N, C, 1, L]`.
pub struct AvgPool1d {
    cfg: AvgPool1dConfig,
    geometry: Pool2d,
}

impl Layer for AvgPool1d {
    fn type_name(&self) -> &'static str {
        "AvgPool1d"
    }
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        on_1d(x, |x| {
            avg_pool2d(x, self.geometry, self.cfg.count_include_pad, None)
        })
    }
    fn describe(&self) -> String {
        let c = &self.cfg;
        format!(
            "AvgPool1d(kernel_size=({},), stride=({},), padding=({},))",
            c.kernel_size,
            c.stride.unwrap_or(c.kernel_size),
            c.padding
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_errors_and_reprs() {
        let c: MaxPool1dConfig = serde_json::from_str(
            r#"{"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2, "ceil_mode": true}"#,
        )
        .unwrap();
        assert_eq!(c.infer(&[4, 9]).unwrap(), vec![4, 4]);
        assert_eq!(
            c.init().unwrap().describe(),
            "MaxPool1d(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)"
        );
        let c: AvgPool2dConfig = serde_json::from_str(
            r#"{"kernel_size": [3, 2], "stride": 1, "padding": 1, "ceil_mode": true, "count_include_pad": false, "divisor_override": 3}"#,
        )
        .unwrap();
        assert_eq!(c.infer(&[2, 5, 4]).unwrap(), vec![2, 5, 5]);
        assert_eq!(
            c.init().unwrap().describe(),
            "AvgPool2d(kernel_size=(3, 2), stride=1, padding=1)"
        );
        assert_eq!(
            AvgPool1dConfig::new(3).init().unwrap().describe(),
            "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
        );
        let e = AvgPool1dConfig {
            padding: 2,
            ..AvgPool1dConfig::new(3)
        }
        .infer(&[2, 9])
        .unwrap_err()
        .to_string();
        assert!(e.contains("half of kernel size"), "{e}");
        let e = AvgPool2dConfig {
            divisor_override: Some(0),
            ..AvgPool2dConfig::new(2)
        }
        .infer(&[2, 9, 9])
        .unwrap_err()
        .to_string();
        assert!(e.contains("divisor must be not zero"), "{e}");
        let e = MaxPool2dConfig::new(5)
            .infer(&[1, 3, 9])
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not fit"), "{e}");
        assert!(MaxPool1dConfig::new(2).infer(&[1, 2, 9]).is_err());
    }
}
