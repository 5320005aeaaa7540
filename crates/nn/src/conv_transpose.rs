//! `torch.nn.ConvTranspose2d`.

use crate::conv::{one, one_usize, yes};
use crate::layer::py_bool;
use crate::ops::{self, ConvGeom, PadMode};
use crate::{BuildCtx, Error, IntOrPair, Layer, Result, Shape};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use wick_tensor::{init, Param, Parameter};

fn zero() -> IntOrPair {
    IntOrPair::Int(0)
}

/// Arguments of `torch.nn.ConvTranspose2d(in_channels, out_channels, kernel_size,
/// stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1,
/// padding_mode='zeros')`.
///
/// `in_channels` may be left out: it is inferred from the input shape. Only
/// `padding_mode = "zeros"` exists, as in PyTorch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvTranspose2dConfig {
    /// Channels of the input; inferred when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_channels: Option<usize>,
    /// Channels produced.
    pub out_channels: usize,
    /// Kernel size, `k` or `[kH, kW]`.
    pub kernel_size: IntOrPair,
    /// Stride (default 1).
    #[serde(default = "one")]
    pub stride: IntOrPair,
    /// `dilation·(kernel−1) − padding` zero padding of the output's convolution
    /// (default 0): removes `padding` from each side of the output.
    #[serde(default = "zero")]
    pub padding: IntOrPair,
    /// Extra size added to one side of the output (default 0; smaller than the stride
    /// or the dilation).
    #[serde(default = "zero")]
    pub output_padding: IntOrPair,
    /// Blocked connections from input to output channels (default 1).
    #[serde(default = "one_usize")]
    pub groups: usize,
    /// Whether to learn a bias (default `true`).
    #[serde(default = "yes")]
    pub bias: bool,
    /// Spacing between kernel elements (default 1).
    #[serde(default = "one")]
    pub dilation: IntOrPair,
    /// Only `"zeros"`.
    #[serde(default)]
    pub padding_mode: PadMode,
    /// `torch.nn.init` schemes for `weight`/`bias` (default: PyTorch's init).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<crate::ParamInit>,
}

impl ConvTranspose2dConfig {
    /// `ConvTranspose2d(in_channels, out_channels, kernel_size)` with PyTorch's defaults.
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: usize) -> Self {
        Self {
            in_channels: Some(in_channels),
            out_channels,
            kernel_size: IntOrPair::Int(kernel_size),
            stride: one(),
            padding: zero(),
            output_padding: zero(),
            groups: 1,
            bias: true,
            dilation: one(),
            padding_mode: PadMode::Zeros,
            init: None,
        }
    }

    fn geom(&self) -> ConvGeom {
        ConvGeom::symmetric(
            self.stride.pair(),
            self.padding.pair(),
            self.dilation.pair(),
            self.groups,
        )
    }

    /// `(H_out, W_out)` of an `h × w` input:
    /// `H_out = (H − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1`.
    fn out_hw(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let len = |n: usize, k: usize, s: usize, p: usize, d: usize, op: usize| -> Option<usize> {
            let full = n
                .checked_sub(1)?
                .checked_mul(s)?
                .checked_add(d.checked_mul(k.checked_sub(1)?)?)?
                .checked_add(op)?
                .checked_add(1)?;
            full.checked_sub(2 * p).filter(|&o| o > 0)
        };
        let (k, s, p, d, op) = (
            self.kernel_size.pair(),
            self.stride.pair(),
            self.padding.pair(),
            self.dilation.pair(),
            self.output_padding.pair(),
        );
        Some((
            len(h, k.0, s.0, p.0, d.0, op.0)?,
            len(w, k.1, s.1, p.1, d.1, op.1)?,
        ))
    }

    /// Checks the arguments against the per-sample input `[C_in, H, W]`, fills
    /// `in_channels` and returns `[C_out, H_out, W_out]` (see the struct's fields).
    ///
    /// # Errors
    /// Zero sizes, groups not dividing the channels, `output_padding` not smaller than
    /// the stride or the dilation, a padding mode other than zeros, an empty output.
    pub fn infer(&mut self, input: &[usize]) -> Result<Shape> {
        let &[c, h, w] = input else {
            return Err(Error::shape(format!(
                "ConvTranspose2d expects [C, H, W] samples, but its input has shape {}",
                crate::shape::show_batched(input)
            )));
        };
        match self.in_channels {
            Some(given) if given != c => {
                return Err(Error::field(
                    "in_channels",
                    format!(
                        "in_channels = {given}, but the input to this layer has {c} channels \
                         (shape {}); set in_channels = {c} or leave it out",
                        crate::shape::show_batched(input)
                    ),
                ))
            }
            _ => self.in_channels = Some(c),
        }
        if self.padding_mode != PadMode::Zeros {
            return Err(Error::field(
                "padding_mode",
                format!(
                    "Only \"zeros\" padding mode is supported for ConvTranspose2d, not {:?}",
                    self.padding_mode.as_str()
                ),
            ));
        }
        if self.out_channels == 0 {
            return Err(Error::field(
                "out_channels",
                "out_channels must be at least 1",
            ));
        }
        let (k, s, d) = (
            self.kernel_size.pair(),
            self.stride.pair(),
            self.dilation.pair(),
        );
        if k.0 == 0 || k.1 == 0 {
            return Err(Error::field("kernel_size", "kernel_size must be positive"));
        }
        if s.0 == 0 || s.1 == 0 {
            return Err(Error::field("stride", "stride must be positive"));
        }
        if d.0 == 0 || d.1 == 0 {
            return Err(Error::field("dilation", "dilation must be positive"));
        }
        let op = self.output_padding.pair();
        if (op.0 >= s.0 && op.0 >= d.0) || (op.1 >= s.1 && op.1 >= d.1) {
            return Err(Error::field(
                "output_padding",
                format!(
                    "output padding must be smaller than either stride or dilation, but got \
                     output_padding={}, stride={}, dilation={}",
                    self.output_padding, self.stride, self.dilation
                ),
            ));
        }
        let g = self.groups;
        if g == 0 || !c.is_multiple_of(g) || !self.out_channels.is_multiple_of(g) {
            return Err(Error::field(
                "groups",
                format!(
                    "groups = {g} must be positive and divide in_channels ({c}) and \
                     out_channels ({})",
                    self.out_channels
                ),
            ));
        }
        crate::shape::check_param_count("out_channels", &[c, self.out_channels / g, k.0, k.1])?;
        let (oh, ow) = self.out_hw(h, w).ok_or_else(|| {
            Error::field(
                "padding",
                format!(
                    "padding {} leaves an empty output for input shape {}",
                    self.padding,
                    crate::shape::show_batched(input)
                ),
            )
        })?;
        if let Some(i) = &self.init {
            let (kh, kw) = self.kernel_size.pair();
            let w = [c, self.out_channels / self.groups.max(1), kh, kw];
            i.validate(&w, self.bias.then_some(&[self.out_channels][..]))?;
        }
        Ok(vec![self.out_channels, oh, ow])
    }

    /// Creates the layer with PyTorch's default init: weight `[C_in, C_out/groups, kH,
    /// kW]` `kaiming_uniform_(a=√5)` with `fan_in = C_out/groups·kH·kW` (computed, as in
    /// PyTorch, from the weight's second dimension), bias `U(±1/√fan_in)`.
    pub fn init(&self, ctx: &mut BuildCtx) -> Result<ConvTranspose2d> {
        let c = self
            .in_channels
            .ok_or_else(|| Error::field("in_channels", "in_channels is not known"))?;
        if self.groups == 0 || !self.out_channels.is_multiple_of(self.groups) {
            return Err(Error::field("groups", "groups must divide out_channels"));
        }
        let (kh, kw) = self.kernel_size.pair();
        let shape = [c, self.out_channels / self.groups, kh, kw];
        let w = init::kaiming_uniform(&shape[..], 5f64.sqrt(), ctx.dtype, ctx.device, ctx.rng)?;
        let b = if self.bias {
            let (fan_in, _) = init::fan_in_fan_out(&shape);
            let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
            Some(init::uniform(
                self.out_channels,
                -bound,
                bound,
                ctx.dtype,
                ctx.device,
                ctx.rng,
            )?)
        } else {
            None
        };
        let scheme = self.init.clone().unwrap_or_default();
        let w = scheme.apply("weight", w, ctx)?;
        let b = b.map(|b| scheme.apply("bias", b, ctx)).transpose()?;
        Ok(ConvTranspose2d {
            cfg: self.clone(),
            weight: Parameter::new(&w)?,
            bias: b.map(|b| Parameter::new(&b)).transpose()?,
        })
    }
}

/// `F.conv_transpose2d` with the options of a [`ConvTranspose2dConfig`], on
/// `[N, C_in, H, W]` with `weight [C_in, C_out/groups, kH, kW]`.
pub fn conv_transpose2d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    cfg: &ConvTranspose2dConfig,
) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let out = cfg.out_hw(h, w).ok_or_else(|| {
        Error::shape(format!(
            "ConvTranspose2d: empty output for an input of {h}x{w}"
        ))
    })?;
    Ok(ops::conv_transpose2d(x, weight, bias, cfg.geom(), out)?)
}

/// `torch.nn.ConvTranspose2d`: the gradient of a `Conv2d` with respect to its input,
/// as a layer: every input pixel scatters `weight[c]` (scaled by its value) into the
/// output, `stride` apart.
///
/// # Shapes
/// input `[N, C_in, H, W]`, output `[N, C_out, H_out, W_out]` with
/// `H_out = (H − 1)·stride − 2·padding + dilation·(kH − 1) + output_padding + 1`;
/// weight `[C_in, C_out/groups, kH, kW]`, bias `[C_out]`.
pub struct ConvTranspose2d {
    cfg: ConvTranspose2dConfig,
    weight: Parameter,
    bias: Option<Parameter>,
}

impl Layer for ConvTranspose2d {
    fn type_name(&self) -> &'static str {
        "ConvTranspose2d"
    }

    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        conv_transpose2d(
            x,
            &self.weight.tensor(),
            self.bias.as_ref().map(Parameter::tensor).as_ref(),
            &self.cfg,
        )
    }

    fn parameters(&self) -> Vec<Param> {
        let mut p = vec![Param::of("weight", &self.weight)];
        if let Some(b) = &self.bias {
            p.push(Param::of("bias", b));
        }
        p
    }

    fn describe(&self) -> String {
        let c = &self.cfg;
        let mut s = format!(
            "ConvTranspose2d({}, {}, kernel_size={}, stride={}",
            c.in_channels.unwrap_or(0),
            c.out_channels,
            c.kernel_size,
            c.stride
        );
        if c.padding.pair() != (0, 0) {
            s += &format!(", padding={}", c.padding);
        }
        if c.dilation.pair() != (1, 1) {
            s += &format!(", dilation={}", c.dilation);
        }
        if c.output_padding.pair() != (0, 0) {
            s += &format!(", output_padding={}", c.output_padding);
        }
        if c.groups != 1 {
            s += &format!(", groups={}", c.groups);
        }
        if !c.bias {
            s += &format!(", bias={}", py_bool(false));
        }
        s + ")"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use wick_tensor::SeedRng;

    #[test]
    fn shapes_errors_and_repr() {
        let mut c: ConvTranspose2dConfig = serde_json::from_str(
            r#"{"out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1, "dilation": 2, "bias": false}"#,
        )
        .unwrap();
        // (5−1)·2 − 2 + 2·2 + 1 + 1 = 12
        assert_eq!(c.infer(&[3, 5, 5]).unwrap(), vec![8, 12, 12]);
        let mut rng = SeedRng::new(0);
        let mut ctx = BuildCtx {
            device: &Device::Cpu,
            dtype: DType::F32,
            rng: &mut rng,
        };
        let layer = c.init(&mut ctx).unwrap();
        assert_eq!(
            layer.describe(),
            "ConvTranspose2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 2), output_padding=(1, 1), bias=False)"
        );
        assert_eq!(layer.parameters()[0].var.as_tensor().dims(), &[3, 8, 3, 3]);
        let mut bad = ConvTranspose2dConfig {
            output_padding: IntOrPair::Int(2),
            stride: IntOrPair::Int(2),
            ..ConvTranspose2dConfig::new(3, 8, 3)
        };
        let e = bad.infer(&[3, 5, 5]).unwrap_err().to_string();
        assert!(e.contains("output padding must be smaller"), "{e}");
        let mut bad = ConvTranspose2dConfig {
            padding_mode: PadMode::Reflect,
            ..ConvTranspose2dConfig::new(3, 8, 3)
        };
        assert!(bad.infer(&[3, 5, 5]).is_err());
    }
}
