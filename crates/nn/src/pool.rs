use crate::ops::{max_pool2d, Pool2d};
use crate::{Error, IntOrPair, Layer, Result, Shape};
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
        if padding.0 * 2 > kernel.0 || padding.1 * 2 > kernel.1 {
            return Err(Error::field(
                "padding",
                format!(
                    "pad should be at most half of effective kernel size, but got padding {} \
                     and kernel_size {}",
                    self.padding, self.kernel_size
                ),
            ));
        }
        Ok(Pool2d {
            kernel,
            stride,
            padding,
            dilation,
            ceil_mode: self.ceil_mode,
        })
    }

    /// Output shape for a per-sample `[C, H, W]` input.
    pub fn infer(&self, input: &[usize]) -> Result<Shape> {
        let g = self.geometry()?;
        let &[c, h, w] = input else {
            return Err(Error::shape(format!(
                "MaxPool2d expects [C, H, W] samples, but its input has shape {}",
                crate::shape::show_batched(input)
            )));
        };
        let (oh, ow) = g.output_hw(h, w).ok_or_else(|| {
            Error::field(
                "kernel_size",
                format!(
                    "kernel_size {} does not fit the input of shape {} (output would be empty)",
                    self.kernel_size,
                    crate::shape::show_batched(input)
                ),
            )
        })?;
        Ok(vec![c, oh, ow])
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
            crate::layer::py_bool(c.ceil_mode)
        )
    }
}
