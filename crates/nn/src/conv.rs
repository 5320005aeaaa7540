//! `torch.nn.Conv2d` and `torch.nn.Conv1d`.

use crate::layer::py_bool;
use crate::ops::{self, ConvGeom, PadMode};
use crate::{BuildCtx, Epilogue, Error, IntOrPair, Layer, Result, Shape};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::fmt;
use wick_tensor::{init, Param, Parameter};

/// `padding="same"` or `padding="valid"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaddingString {
    /// Pad so that the output has the input's size (stride 1 only); when the total
    /// padding `dilation·(kernel−1)` is odd, the extra element goes to the end.
    Same,
    /// No padding.
    Valid,
}

/// A convolution's `padding`: `1`, `[1, 2]`, `"same"` or `"valid"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ConvPadding {
    /// `"same"` or `"valid"`.
    Mode(PaddingString),
    /// The same zero padding on both sides of every spatial dimension.
    Int(usize),
    /// `(height, width)` padding on both sides.
    Pair([usize; 2]),
}

impl<'de> Deserialize<'de> for ConvPadding {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ConvPadding;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a padding: an integer, a pair [H, W], \"same\" or \"valid\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
                usize::try_from(v)
                    .map(ConvPadding::Int)
                    .map_err(|_| E::custom("padding too large"))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("padding must not be negative, got {v}")))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: serde::de::Error>(
                self,
                v: &str,
            ) -> std::result::Result<Self::Value, E> {
                match v {
                    "same" => Ok(ConvPadding::Mode(PaddingString::Same)),
                    "valid" => Ok(ConvPadding::Mode(PaddingString::Valid)),
                    _ => Err(E::custom(format!(
                        "Invalid padding string {v:?}, should be one of {{'valid', 'same'}}"
                    ))),
                }
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let h: usize = seq
                    .next_element()?
                    .ok_or_else(|| serde::de::Error::invalid_length(0, &self))?;
                let w: usize = seq
                    .next_element()?
                    .ok_or_else(|| serde::de::Error::invalid_length(1, &self))?;
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(serde::de::Error::invalid_length(3, &self));
                }
                Ok(ConvPadding::Pair([h, w]))
            }
        }
        d.deserialize_any(V)
    }
}

impl From<IntOrPair> for ConvPadding {
    fn from(v: IntOrPair) -> Self {
        match v {
            IntOrPair::Int(v) => Self::Int(v),
            IntOrPair::Pair(p) => Self::Pair(p),
        }
    }
}

impl From<usize> for ConvPadding {
    fn from(v: usize) -> Self {
        Self::Int(v)
    }
}

impl ConvPadding {
    /// Padding `(before, after)` of each of `kernel.len()` dimensions.
    fn resolve(
        self,
        kernel: &[usize],
        stride: &[usize],
        dilation: &[usize],
    ) -> Result<Vec<(usize, usize)>> {
        let n = kernel.len();
        Ok(match self {
            Self::Int(p) => vec![(p, p); n],
            Self::Pair([h, w]) if n == 2 => vec![(h, h), (w, w)],
            Self::Pair(_) => {
                return Err(Error::field(
                    "padding",
                    "a 1-d convolution takes one padding, not a pair",
                ))
            }
            Self::Mode(PaddingString::Valid) => vec![(0, 0); n],
            Self::Mode(PaddingString::Same) => {
                if stride.iter().any(|&s| s != 1) {
                    return Err(Error::field(
                        "padding",
                        "padding='same' is not supported for strided convolutions",
                    ));
                }
                kernel
                    .iter()
                    .zip(dilation)
                    .map(|(&k, &d)| {
                        let total = d * (k - 1);
                        (total / 2, total - total / 2)
                    })
                    .collect()
            }
        })
    }
}

impl fmt::Display for ConvPadding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mode(PaddingString::Same) => f.write_str("same"),
            Self::Mode(PaddingString::Valid) => f.write_str("valid"),
            Self::Int(v) => write!(f, "({v}, {v})"),
            Self::Pair([h, w]) => write!(f, "({h}, {w})"),
        }
    }
}

pub(crate) fn one() -> IntOrPair {
    IntOrPair::Int(1)
}
fn zero_padding() -> ConvPadding {
    ConvPadding::Int(0)
}
pub(crate) fn one_usize() -> usize {
    1
}
pub(crate) fn yes() -> bool {
    true
}

/// Arguments of `torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride=1,
/// padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros')`.
///
/// `in_channels` may be left out: it is inferred from the input shape. `kernel_size`,
/// `stride`, `padding` and `dilation` take an int or an `[H, W]` pair; `padding` also
/// `"same"` (stride 1 only) or `"valid"`. `padding_mode` is `"zeros"`, `"reflect"`,
/// `"replicate"` or `"circular"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv2dConfig {
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
    /// Padding on both sides (default 0), or `"same"` / `"valid"`.
    #[serde(default = "zero_padding")]
    pub padding: ConvPadding,
    /// Spacing between kernel elements (default 1).
    #[serde(default = "one")]
    pub dilation: IntOrPair,
    /// Blocked connections from input to output channels (default 1).
    #[serde(default = "one_usize")]
    pub groups: usize,
    /// Whether to learn a bias (default `true`).
    #[serde(default = "yes")]
    pub bias: bool,
    /// How the padding is filled (default `"zeros"`).
    #[serde(default)]
    pub padding_mode: PadMode,
    /// `torch.nn.init` schemes for `weight`/`bias` (default: PyTorch's init).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<crate::ParamInit>,
}

/// The validated geometry of a convolution, per spatial dimension.
#[derive(Debug, Clone, PartialEq)]
struct Resolved {
    kernel: Vec<usize>,
    stride: Vec<usize>,
    dilation: Vec<usize>,
    /// `(before, after)` per dimension.
    pad: Vec<(usize, usize)>,
}

/// Checks what 1-d and 2-d convolutions share and computes the output sizes.
#[allow(clippy::too_many_arguments)]
fn check_conv(
    name: &str,
    input: &[usize],
    in_channels: &mut Option<usize>,
    out_channels: usize,
    groups: usize,
    r: &Resolved,
    mode: PadMode,
) -> Result<Shape> {
    let spatial = r.kernel.len();
    if input.len() != spatial + 1 {
        let want = if spatial == 1 { "[C, L]" } else { "[C, H, W]" };
        return Err(Error::shape(format!(
            "{name} expects {want} samples, but its input has shape {}",
            crate::shape::show_batched(input)
        )));
    }
    let c = input[0];
    match *in_channels {
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
        _ => *in_channels = Some(c),
    }
    if out_channels == 0 {
        return Err(Error::field(
            "out_channels",
            "out_channels must be at least 1",
        ));
    }
    if r.kernel.contains(&0) {
        return Err(Error::field("kernel_size", "kernel_size must be positive"));
    }
    if r.stride.contains(&0) {
        return Err(Error::field("stride", "stride must be positive"));
    }
    if r.dilation.contains(&0) {
        return Err(Error::field("dilation", "dilation must be positive"));
    }
    if groups == 0 || !c.is_multiple_of(groups) || !out_channels.is_multiple_of(groups) {
        return Err(Error::field(
            "groups",
            format!(
                "groups = {groups} must be positive and divide in_channels ({c}) and \
                 out_channels ({out_channels})"
            ),
        ));
    }
    let mut wdims = vec![out_channels, c / groups];
    wdims.extend(&r.kernel);
    crate::shape::check_param_count("out_channels", &wdims)?;
    let mut out = vec![out_channels];
    for (i, &n) in input[1..].iter().enumerate() {
        let (p0, p1) = r.pad[i];
        if mode != PadMode::Zeros {
            if let Err(e) = mode.source_indices(n, p0, p1) {
                return Err(Error::field("padding", format!("{name}: {e}")));
            }
        }
        match ConvGeom::conv_len(n, r.kernel[i], r.stride[i], r.pad[i], r.dilation[i]) {
            Some(o) => out.push(o),
            None => {
                return Err(Error::field(
                    "kernel_size",
                    format!(
                        "{name}: kernel size {} (dilation {}) is larger than the padded input \
                         size {} of input shape {}",
                        r.kernel[i],
                        r.dilation[i],
                        n + p0 + p1,
                        crate::shape::show_batched(input)
                    ),
                ))
            }
        }
    }
    Ok(out)
}

impl Conv2dConfig {
    /// `Conv2d(in_channels, out_channels, kernel_size)` with PyTorch's defaults.
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: usize) -> Self {
        Self {
            in_channels: Some(in_channels),
            out_channels,
            kernel_size: IntOrPair::Int(kernel_size),
            stride: one(),
            padding: zero_padding(),
            dilation: one(),
            groups: 1,
            bias: true,
            padding_mode: PadMode::Zeros,
            init: None,
        }
    }

    fn resolved(&self) -> Result<Resolved> {
        let pair = |v: IntOrPair| {
            let (a, b) = v.pair();
            vec![a, b]
        };
        let (kernel, stride, dilation) = (
            pair(self.kernel_size),
            pair(self.stride),
            pair(self.dilation),
        );
        let pad = self.padding.resolve(&kernel, &stride, &dilation)?;
        Ok(Resolved {
            kernel,
            stride,
            dilation,
            pad,
        })
    }

    /// Checks the arguments against the per-sample input `[C_in, H, W]`, fills
    /// `in_channels`, and returns `[C_out, H_out, W_out]` with
    /// `H_out = ⌊(H + 2·padding − dilation·(kernel−1) − 1) / stride⌋ + 1`.
    ///
    /// # Errors
    /// A bad argument (zero sizes, groups not dividing the channels, `"same"` with a
    /// stride, reflect padding not smaller than the input), `in_channels` disagreeing
    /// with the input, or a kernel larger than the padded input.
    pub fn infer(&mut self, input: &[usize]) -> Result<Shape> {
        let r = self.resolved()?;
        let out = check_conv(
            "Conv2d",
            input,
            &mut self.in_channels,
            self.out_channels,
            self.groups,
            &r,
            self.padding_mode,
        )?;
        if let (Some(i), Some(c)) = (&self.init, self.in_channels) {
            let w = [
                self.out_channels,
                c / self.groups.max(1),
                r.kernel[0],
                r.kernel[1],
            ];
            i.validate(&w, self.bias.then_some(&[self.out_channels][..]))?;
        }
        Ok(out)
    }

    /// Creates the layer with PyTorch's default init (`kaiming_uniform_(a=√5)` for the
    /// weight, `U(±1/√fan_in)` for the bias); `in_channels` must be known.
    pub fn init(&self, ctx: &mut BuildCtx) -> Result<Conv2d> {
        let c = self
            .in_channels
            .ok_or_else(|| Error::field("in_channels", "in_channels is not known"))?;
        if self.groups == 0 || !c.is_multiple_of(self.groups) {
            return Err(Error::field("groups", "groups must divide in_channels"));
        }
        let r = self.resolved()?;
        let shape = [self.out_channels, c / self.groups, r.kernel[0], r.kernel[1]];
        let (w, b) =
            init::torch_default_weight_bias(&shape, self.bias, ctx.dtype, ctx.device, ctx.rng)?;
        let scheme = self.init.clone().unwrap_or_default();
        let w = scheme.apply("weight", w, ctx)?;
        let b = b.map(|b| scheme.apply("bias", b, ctx)).transpose()?;
        Ok(Conv2d {
            cfg: self.clone(),
            resolved: r,
            weight: Parameter::new(&w)?,
            bias: b.map(|b| Parameter::new(&b)).transpose()?,
        })
    }
}

/// The input and the convolution's geometry for `[N, C, H, W]` given the resolved
/// options: explicit padding first for the non-zero modes.
fn padded(x: &Tensor, r: &Resolved, groups: usize, mode: PadMode) -> Result<(Tensor, ConvGeom)> {
    let (ph, pw) = (r.pad[0], r.pad[1]);
    let (x, ph, pw) = if mode == PadMode::Zeros {
        (x.clone(), ph, pw)
    } else {
        (ops::pad2d(x, ph, pw, mode)?, (0, 0), (0, 0))
    };
    let geom = ConvGeom {
        stride: (r.stride[0], r.stride[1]),
        pad_h: ph,
        pad_w: pw,
        dilation: (r.dilation[0], r.dilation[1]),
        groups,
    };
    Ok((x, geom))
}

/// `F.conv2d` with the options of a [`Conv2dConfig`] (padding mode included), on
/// `[N, C_in, H, W]` with `weight [C_out, C_in/groups, kH, kW]` and `bias [C_out]`.
pub fn conv2d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    cfg: &Conv2dConfig,
) -> Result<Tensor> {
    let (x, geom) = padded(x, &cfg.resolved()?, cfg.groups, cfg.padding_mode)?;
    Ok(ops::conv2d(&x, weight, bias, geom)?)
}

/// `torch.nn.Conv2d`: `out[n, o] = bias[o] + Σ_c weight[o, c] ⋆ input[n, c]`.
///
/// # Shapes
/// input `[N, C_in, H, W]`, output `[N, C_out, H_out, W_out]`; weight
/// `[C_out, C_in/groups, kH, kW]`, bias `[C_out]`, both `U(±1/√(C_in/groups·kH·kW))`.
pub struct Conv2d {
    cfg: Conv2dConfig,
    resolved: Resolved,
    weight: Parameter,
    bias: Option<Parameter>,
}

impl Conv2d {
    /// The convolution, then the epilogues `then` (fused on the CPU: none, a `ReLU`, a
    /// `ReLU` and a max pooling, a `BatchNorm2d` and a `ReLU` and max pooling after it).
    fn apply(&self, x: &Tensor, then: &[Epilogue], train: bool) -> Result<Tensor> {
        let (x, geom) = padded(x, &self.resolved, self.cfg.groups, self.cfg.padding_mode)?;
        let (weight, bias) = (
            self.weight.tensor(),
            self.bias.as_ref().map(Parameter::tensor),
        );
        let bias = bias.as_ref();
        Ok(match then {
            [] => ops::conv2d_act(&x, &weight, bias, geom, false)?,
            [Epilogue::Relu] => ops::conv2d_act(&x, &weight, bias, geom, true)?,
            [Epilogue::Relu, Epilogue::MaxPool(p)] => {
                ops::conv2d_relu_max_pool2d(&x, &weight, bias, geom, *p)?
            }
            [Epilogue::BatchNorm(bn), rest @ ..] if bias.is_none() => {
                bn.after_conv2d(&x, &weight, geom, train, rest)?
            }
            _ => {
                let y = ops::conv2d_act(&x, &weight, bias, geom, false)?;
                Epilogue::apply_all(y, then, train)?
            }
        })
    }
}

impl Layer for Conv2d {
    fn type_name(&self) -> &'static str {
        "Conv2d"
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.apply(x, &[], train)
    }

    /// A `ReLU`, and a `MaxPool2d` after it, run as the convolution's epilogue; or,
    /// without bias, a `BatchNorm2d`, and a `ReLU` and a `MaxPool2d` after it.
    fn fuses(&self, next: &[Epilogue]) -> usize {
        match next {
            [Epilogue::Relu, Epilogue::MaxPool(_), ..] => 2,
            [Epilogue::Relu, ..] => 1,
            [Epilogue::BatchNorm(_), rest @ ..] if self.bias.is_none() => match rest {
                [Epilogue::Relu, Epilogue::MaxPool(_), ..] => 3,
                [Epilogue::Relu, ..] | [Epilogue::MaxPool(_), ..] => 2,
                _ => 1,
            },
            _ => 0,
        }
    }

    fn forward_fused(&self, x: &Tensor, train: bool, epilogue: &[Epilogue]) -> Result<Tensor> {
        self.apply(x, epilogue, train)
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
            "Conv2d({}, {}, kernel_size={}, stride={}",
            c.in_channels.unwrap_or(0),
            c.out_channels,
            c.kernel_size,
            c.stride
        );
        if c.padding != ConvPadding::Int(0) && c.padding != ConvPadding::Pair([0, 0]) {
            s += &format!(", padding={}", c.padding);
        }
        if c.dilation.pair() != (1, 1) {
            s += &format!(", dilation={}", c.dilation);
        }
        if c.groups != 1 {
            s += &format!(", groups={}", c.groups);
        }
        if !c.bias {
            s += &format!(", bias={}", py_bool(false));
        }
        if c.padding_mode != PadMode::Zeros {
            s += &format!(", padding_mode={}", c.padding_mode.as_str());
        }
        s + ")"
    }
}

/// Arguments of `torch.nn.Conv1d(in_channels, out_channels, kernel_size, stride=1,
/// padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros')`.
///
/// As [`Conv2dConfig`] with one spatial dimension: sizes are ints, `padding` an int,
/// `"same"` or `"valid"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv1dConfig {
    /// Channels of the input; inferred when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_channels: Option<usize>,
    /// Channels produced.
    pub out_channels: usize,
    /// Kernel size.
    pub kernel_size: usize,
    /// Stride (default 1).
    #[serde(default = "one_usize")]
    pub stride: usize,
    /// Padding on both sides (default 0), or `"same"` / `"valid"`.
    #[serde(default = "zero_padding")]
    pub padding: ConvPadding,
    /// Spacing between kernel elements (default 1).
    #[serde(default = "one_usize")]
    pub dilation: usize,
    /// Blocked connections from input to output channels (default 1).
    #[serde(default = "one_usize")]
    pub groups: usize,
    /// Whether to learn a bias (default `true`).
    #[serde(default = "yes")]
    pub bias: bool,
    /// How the padding is filled (default `"zeros"`).
    #[serde(default)]
    pub padding_mode: PadMode,
    /// `torch.nn.init` schemes for `weight`/`bias` (default: PyTorch's init).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<crate::ParamInit>,
}

impl Conv1dConfig {
    /// `Conv1d(in_channels, out_channels, kernel_size)` with PyTorch's defaults.
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: usize) -> Self {
        Self {
            in_channels: Some(in_channels),
            out_channels,
            kernel_size,
            stride: 1,
            padding: zero_padding(),
            dilation: 1,
            groups: 1,
            bias: true,
            padding_mode: PadMode::Zeros,
            init: None,
        }
    }

    fn resolved(&self) -> Result<Resolved> {
        let pad = self
            .padding
            .resolve(&[self.kernel_size], &[self.stride], &[self.dilation])?;
        Ok(Resolved {
            kernel: vec![self.kernel_size],
            stride: vec![self.stride],
            dilation: vec![self.dilation],
            pad,
        })
    }

    /// The same geometry as a convolution over `[1, L]` planes.
    fn resolved_2d(&self) -> Result<Resolved> {
        let r = self.resolved()?;
        Ok(Resolved {
            kernel: vec![1, r.kernel[0]],
            stride: vec![1, r.stride[0]],
            dilation: vec![1, r.dilation[0]],
            pad: vec![(0, 0), r.pad[0]],
        })
    }

    /// Checks the arguments against the per-sample input `[C_in, L]`, fills
    /// `in_channels`, and returns `[C_out, L_out]`,
    /// `L_out = ⌊(L + 2·padding − dilation·(kernel−1) − 1) / stride⌋ + 1`.
    ///
    /// # Errors
    /// As [`Conv2dConfig::infer`].
    pub fn infer(&mut self, input: &[usize]) -> Result<Shape> {
        let r = self.resolved()?;
        let out = check_conv(
            "Conv1d",
            input,
            &mut self.in_channels,
            self.out_channels,
            self.groups,
            &r,
            self.padding_mode,
        )?;
        if let (Some(i), Some(c)) = (&self.init, self.in_channels) {
            let w = [self.out_channels, c / self.groups.max(1), self.kernel_size];
            i.validate(&w, self.bias.then_some(&[self.out_channels][..]))?;
        }
        Ok(out)
    }

    /// Creates the layer with PyTorch's default init; `in_channels` must be known.
    pub fn init(&self, ctx: &mut BuildCtx) -> Result<Conv1d> {
        let c = self
            .in_channels
            .ok_or_else(|| Error::field("in_channels", "in_channels is not known"))?;
        if self.groups == 0 || !c.is_multiple_of(self.groups) {
            return Err(Error::field("groups", "groups must divide in_channels"));
        }
        let shape = [self.out_channels, c / self.groups, self.kernel_size];
        let (w, b) =
            init::torch_default_weight_bias(&shape, self.bias, ctx.dtype, ctx.device, ctx.rng)?;
        let scheme = self.init.clone().unwrap_or_default();
        let w = scheme.apply("weight", w, ctx)?;
        let b = b.map(|b| scheme.apply("bias", b, ctx)).transpose()?;
        Ok(Conv1d {
            cfg: self.clone(),
            resolved: self.resolved_2d()?,
            weight: Parameter::new(&w)?,
            bias: b.map(|b| Parameter::new(&b)).transpose()?,
        })
    }
}

/// `F.conv1d` with the options of a [`Conv1dConfig`], on `[N, C_in, L]` with
/// `weight [C_out, C_in/groups, k]`: the 2-d convolution of `[N, C_in, 1, L]`.
pub fn conv1d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    cfg: &Conv1dConfig,
) -> Result<Tensor> {
    run_conv1d(x, weight, bias, &cfg.resolved_2d()?, cfg)
}

fn run_conv1d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    r: &Resolved,
    cfg: &Conv1dConfig,
) -> Result<Tensor> {
    let (x, geom) = padded(&x.unsqueeze(2)?, r, cfg.groups, cfg.padding_mode)?;
    let y = ops::conv2d(&x, &weight.unsqueeze(2)?, bias, geom)?;
    Ok(y.squeeze(2)?)
}

/// `torch.nn.Conv1d`: `out[n, o] = bias[o] + Σ_c weight[o, c] ⋆ input[n, c]`.
///
/// # Shapes
/// input `[N, C_in, L]`, output `[N, C_out, L_out]`; weight `[C_out, C_in/groups, k]`,
/// bias `[C_out]`, both `U(±1/√(C_in/groups·k))`.
pub struct Conv1d {
    cfg: Conv1dConfig,
    resolved: Resolved,
    weight: Parameter,
    bias: Option<Parameter>,
}

impl Layer for Conv1d {
    fn type_name(&self) -> &'static str {
        "Conv1d"
    }

    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        run_conv1d(
            x,
            &self.weight.tensor(),
            self.bias.as_ref().map(Parameter::tensor).as_ref(),
            &self.resolved,
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
            "Conv1d({}, {}, kernel_size=({},), stride=({},)",
            c.in_channels.unwrap_or(0),
            c.out_channels,
            c.kernel_size,
            c.stride
        );
        match c.padding {
            ConvPadding::Int(0) => {}
            ConvPadding::Int(p) => s += &format!(", padding=({p},)"),
            p => s += &format!(", padding={p}"),
        }
        if c.dilation != 1 {
            s += &format!(", dilation=({},)", c.dilation);
        }
        if c.groups != 1 {
            s += &format!(", groups={}", c.groups);
        }
        if !c.bias {
            s += &format!(", bias={}", py_bool(false));
        }
        if c.padding_mode != PadMode::Zeros {
            s += &format!(", padding_mode={}", c.padding_mode.as_str());
        }
        s + ")"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use wick_tensor::gradcheck::gradcheck;
    use wick_tensor::SeedRng;

    fn t(shape: &[usize], m: usize) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f64> = (0..n).map(|i| ((i * m) % 17) as f64 / 8.0 - 1.0).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn de(s: &str) -> Conv2dConfig {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn gradcheck_padding_modes_and_same() {
        let x = t(&[2, 2, 5, 4], 13);
        for cfg in [
            r#"{"out_channels": 3, "kernel_size": [3, 2], "padding": "same", "padding_mode": "reflect"}"#,
            r#"{"out_channels": 3, "kernel_size": 3, "padding": [2, 1], "stride": [2, 1], "padding_mode": "replicate"}"#,
            r#"{"out_channels": 4, "kernel_size": 2, "padding": "same", "dilation": [1, 2], "padding_mode": "circular", "groups": 2}"#,
            r#"{"out_channels": 3, "kernel_size": 2, "padding": "same"}"#,
        ] {
            let mut c = de(cfg);
            let out = c.infer(&[2, 5, 4]).unwrap();
            let (kh, kw) = c.kernel_size.pair();
            let w = t(&[c.out_channels, 2 / c.groups, kh, kw], 7);
            let b = t(&[c.out_channels], 5);
            let y = conv2d(&x, &w, Some(&b), &c).unwrap();
            assert_eq!(&y.dims()[1..], out.as_slice(), "{cfg}");
            gradcheck(
                |v| {
                    conv2d(&v[0], &v[1], Some(&v[2]), &c)
                        .map_err(|e| candle_core::Error::Msg(e.to_string()))
                },
                &[x.clone(), w, b],
            )
            .unwrap();
        }
    }

    #[test]
    fn errors_name_the_argument() {
        let err = |s: &str, input: &[usize]| de(s).infer(input).unwrap_err().to_string();
        assert!(err(
            r#"{"out_channels": 3, "kernel_size": 3, "padding": "same", "stride": 2}"#,
            &[1, 8, 8]
        )
        .contains("strided"));
        assert!(err(
            r#"{"out_channels": 3, "kernel_size": 3, "padding": 4, "padding_mode": "reflect"}"#,
            &[1, 4, 8]
        )
        .contains("reflect padding (4, 4) is too large"));
        assert!(
            err(r#"{"out_channels": 3, "kernel_size": 9}"#, &[1, 4, 8]).contains("kernel size 9")
        );
        assert!(err(
            r#"{"out_channels": 3, "kernel_size": 3, "groups": 2}"#,
            &[4, 8, 8]
        )
        .contains("groups = 2"));
        assert!(err(
            r#"{"in_channels": 2, "out_channels": 3, "kernel_size": 3}"#,
            &[4, 8, 8]
        )
        .contains("in_channels = 2"));
        assert!(serde_json::from_str::<Conv2dConfig>(
            r#"{"out_channels": 3, "kernel_size": 3, "padding_mode": "mirror"}"#
        )
        .is_err());
    }

    #[test]
    fn describe_matches_torch_repr() {
        let mut rng = SeedRng::new(0);
        let mut ctx = BuildCtx {
            device: &Device::Cpu,
            dtype: DType::F32,
            rng: &mut rng,
        };
        let mut c = de(
            r#"{"out_channels": 8, "kernel_size": 3, "padding": "same", "padding_mode": "reflect", "bias": false, "dilation": [1, 2]}"#,
        );
        c.infer(&[3, 9, 9]).unwrap();
        assert_eq!(
            c.init(&mut ctx).unwrap().describe(),
            "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=same, dilation=(1, 2), bias=False, padding_mode=reflect)"
        );
        let mut c = de(r#"{"out_channels": 9, "kernel_size": 3, "padding": "valid", "groups": 3}"#);
        c.infer(&[3, 9, 9]).unwrap();
        assert_eq!(
            c.init(&mut ctx).unwrap().describe(),
            "Conv2d(3, 9, kernel_size=(3, 3), stride=(1, 1), padding=valid, groups=3)"
        );
        let mut c: Conv1dConfig = serde_json::from_str(
            r#"{"out_channels": 8, "kernel_size": 3, "padding": 2, "padding_mode": "circular"}"#,
        )
        .unwrap();
        assert_eq!(c.infer(&[3, 10]).unwrap(), vec![8, 12]);
        let layer = c.init(&mut ctx).unwrap();
        assert_eq!(
            layer.describe(),
            "Conv1d(3, 8, kernel_size=(3,), stride=(1,), padding=(2,), padding_mode=circular)"
        );
        assert_eq!(layer.parameters()[0].var.as_tensor().dims(), &[8, 3, 3]);
    }

    #[test]
    fn init_schemes_from_the_config() {
        let mut rng = SeedRng::new(0);
        let mut ctx = BuildCtx {
            device: &Device::Cpu,
            dtype: DType::F32,
            rng: &mut rng,
        };
        let mut c = de(
            r#"{"out_channels": 64, "kernel_size": 3, "init": {"weight": {"type": "kaiming_normal", "mode": "fan_out", "nonlinearity": "relu"}, "bias": {"type": "constant", "val": 0.5}}}"#,
        );
        c.infer(&[32, 8, 8]).unwrap();
        let layer = c.init(&mut ctx).unwrap();
        let p = layer.parameters();
        let w: Vec<f32> = p[0]
            .var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let n = w.len() as f64;
        let mean = w.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let std = (w
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        // kaiming_normal_(mode="fan_out", nonlinearity="relu"): std = √2 / √(64·3·3)
        let expected = (2.0f64 / (64.0 * 9.0)).sqrt();
        assert!(
            (std / expected - 1.0).abs() < 0.05,
            "std {std} vs {expected}"
        );
        let b: Vec<f32> = p[1].var.as_tensor().to_vec1().unwrap();
        assert!(b.iter().all(|&v| v == 0.5));
        // a scheme that cannot apply to the bias's shape is a config error
        let mut bad = de(
            r#"{"out_channels": 4, "kernel_size": 3, "init": {"bias": {"type": "orthogonal"}}}"#,
        );
        assert!(bad.infer(&[3, 8, 8]).is_err());
    }
}
