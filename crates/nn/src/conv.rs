use crate::layer::py_bool;
use crate::{BuildCtx, Error, IntOrPair, Layer, Result, Shape};
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};
use wick_tensor::{init, Param};

/// Arguments of `torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride=1,
/// padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros')`.
///
/// `in_channels` may be left out: it is inferred from the input shape.
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
    /// Zero padding on both sides (default 0).
    #[serde(default = "zero")]
    pub padding: IntOrPair,
    /// Spacing between kernel elements (default 1).
    #[serde(default = "one")]
    pub dilation: IntOrPair,
    /// Blocked connections from input to output channels (default 1).
    #[serde(default = "one_usize")]
    pub groups: usize,
    /// Whether to learn a bias (default `true`).
    #[serde(default = "yes")]
    pub bias: bool,
    /// Padding mode; `"zeros"` (the default) is supported.
    #[serde(default = "zeros")]
    pub padding_mode: String,
}

fn one() -> IntOrPair {
    IntOrPair::Int(1)
}
fn zero() -> IntOrPair {
    IntOrPair::Int(0)
}
fn one_usize() -> usize {
    1
}
fn yes() -> bool {
    true
}
fn zeros() -> String {
    "zeros".into()
}

impl Conv2dConfig {
    /// `Conv2d(in_channels, out_channels, kernel_size)` with PyTorch's defaults.
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: usize) -> Self {
        Self {
            in_channels: Some(in_channels),
            out_channels,
            kernel_size: IntOrPair::Int(kernel_size),
            stride: one(),
            padding: zero(),
            dilation: one(),
            groups: 1,
            bias: true,
            padding_mode: zeros(),
        }
    }

    /// Checks the arguments against the per-sample input `[C_in, H, W]`, fills
    /// `in_channels`, and returns `[C_out, H_out, W_out]` with
    /// `H_out = ⌊(H + 2·padding − dilation·(kernel−1) − 1) / stride⌋ + 1`.
    pub fn infer(&mut self, input: &[usize]) -> Result<Shape> {
        let &[c, h, w] = input else {
            return Err(Error::shape(format!(
                "Conv2d expects [C, H, W] samples, but its input has shape {}",
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
        if self.padding_mode != "zeros" {
            return Err(Error::field(
                "padding_mode",
                format!(
                    "padding_mode {:?} is not supported; use \"zeros\"",
                    self.padding_mode
                ),
            ));
        }
        let (kh, kw) = self.kernel_size.pair();
        let (sh, sw) = self.stride.pair();
        let (dh, dw) = self.dilation.pair();
        if kh == 0 || kw == 0 {
            return Err(Error::field("kernel_size", "kernel_size must be positive"));
        }
        if sh == 0 || sw == 0 {
            return Err(Error::field("stride", "stride must be positive"));
        }
        if sh != sw {
            return Err(Error::field(
                "stride",
                "different strides for H and W are not supported",
            ));
        }
        if dh == 0 || dw == 0 {
            return Err(Error::field("dilation", "dilation must be positive"));
        }
        if dh != dw {
            return Err(Error::field(
                "dilation",
                "different dilations for H and W are not supported",
            ));
        }
        let g = self.groups;
        if g == 0 || !c.is_multiple_of(g) || !self.out_channels.is_multiple_of(g) {
            return Err(Error::field(
                "groups",
                format!(
                    "groups = {g} must divide in_channels ({c}) and out_channels ({})",
                    self.out_channels
                ),
            ));
        }
        if self.out_channels == 0 {
            return Err(Error::field(
                "out_channels",
                "out_channels must be at least 1",
            ));
        }
        crate::shape::check_param_count(
            "out_channels",
            &[
                self.out_channels,
                c / g,
                self.kernel_size.pair().0,
                self.kernel_size.pair().1,
            ],
        )?;
        let (ph, pw) = self.padding.pair();
        let out = |n: usize, p: usize, k: usize, s: usize, d: usize| -> Option<usize> {
            let padded = n.checked_add(p.checked_mul(2)?)?;
            let span = padded.checked_sub(d.checked_mul(k - 1)?.checked_add(1)?)?;
            Some(span / s + 1)
        };
        match (out(h, ph, kh, sh, dh), out(w, pw, kw, sw, dw)) {
            (Some(ho), Some(wo)) => Ok(vec![self.out_channels, ho, wo]),
            _ => Err(Error::field(
                "kernel_size",
                format!(
                    "kernel {kh}x{kw} (dilation {dh}) does not fit the padded input {}x{} of shape {}",
                    h + 2 * ph,
                    w + 2 * pw,
                    crate::shape::show_batched(input)
                ),
            )),
        }
    }

    /// Creates the layer with PyTorch's default init; `in_channels` must be known.
    pub fn init(&self, ctx: &mut BuildCtx) -> Result<Conv2d> {
        let c = self
            .in_channels
            .ok_or_else(|| Error::field("in_channels", "in_channels is not known"))?;
        let (kh, kw) = self.kernel_size.pair();
        let shape = [self.out_channels, c / self.groups, kh, kw];
        let (w, b) =
            init::torch_default_weight_bias(&shape, self.bias, ctx.dtype, ctx.device, ctx.rng)?;
        Ok(Conv2d {
            cfg: self.clone(),
            weight: Var::from_tensor(&w)?,
            bias: b.map(|b| Var::from_tensor(&b)).transpose()?,
        })
    }
}

/// `F.conv2d(x, weight, bias, stride, padding, dilation, groups)` with zero padding.
///
/// candle's conv2d backward takes the width's output padding from the height, which
/// breaks (shape error) when a stride leaves a different remainder in H and W. The
/// input is therefore cropped to the rows and columns the windows actually reach (the
/// rest gets no gradient anyway), so that both remainders are zero.
pub fn conv2d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    cfg: &Conv2dConfig,
) -> Result<Tensor> {
    let (ph, pw) = cfg.padding.pair();
    let (s, _) = cfg.stride.pair();
    let (d, _) = cfg.dilation.pair();
    let (_, _, kh, kw) = weight.dims4()?;
    let (_, _, h, w) = x.dims4()?;
    let reach = |n: usize, p: usize, k: usize| -> Option<usize> {
        let span = (n + 2 * p).checked_sub(d * (k - 1) + 1)?;
        Some(span / s * s + d * (k - 1) + 1)
    };
    let (Some(hu), Some(wu)) = (reach(h, ph, kh), reach(w, pw, kw)) else {
        return Err(Error::shape(format!(
            "Conv2d: kernel {kh}x{kw} does not fit the padded input {}x{}",
            h + 2 * ph,
            w + 2 * pw
        )));
    };
    let y = if ph == pw && hu == h + 2 * ph && wu == w + 2 * pw {
        x.conv2d(weight, ph, s, d, cfg.groups)?
    } else {
        let x = if ph > 0 {
            x.pad_with_zeros(2, ph, ph)?
        } else {
            x.clone()
        };
        let x = if pw > 0 {
            x.pad_with_zeros(3, pw, pw)?
        } else {
            x
        };
        x.narrow(2, 0, hu)?
            .narrow(3, 0, wu)?
            .conv2d(weight, 0, s, d, cfg.groups)?
    };
    Ok(match bias {
        Some(b) => y.broadcast_add(&b.reshape((1, (), 1, 1))?)?,
        None => y,
    })
}

/// `torch.nn.Conv2d`: `out[n, o] = bias[o] + Σ_c weight[o, c] ⋆ input[n, c]`.
///
/// # Shapes
/// input `[N, C_in, H, W]`, output `[N, C_out, H_out, W_out]`; weight
/// `[C_out, C_in/groups, kH, kW]`, bias `[C_out]`, both `U(±1/√(C_in/groups·kH·kW))`.
pub struct Conv2d {
    cfg: Conv2dConfig,
    weight: Var,
    bias: Option<Var>,
}

impl Layer for Conv2d {
    fn type_name(&self) -> &'static str {
        "Conv2d"
    }

    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        conv2d(
            x,
            self.weight.as_tensor(),
            self.bias.as_ref().map(Var::as_tensor),
            &self.cfg,
        )
    }

    fn parameters(&self) -> Vec<Param> {
        let mut p = vec![Param::new("weight", self.weight.clone())];
        if let Some(b) = &self.bias {
            p.push(Param::new("bias", b.clone()));
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
        if c.padding != IntOrPair::Int(0) {
            s += &format!(", padding={}", c.padding);
        }
        if c.dilation != IntOrPair::Int(1) {
            s += &format!(", dilation={}", c.dilation);
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
    use candle_core::Device;
    use wick_tensor::gradcheck::gradcheck;

    fn t(n: usize, shape: &[usize], m: usize) -> Tensor {
        let v: Vec<f64> = (0..n).map(|i| ((i * m) % 17) as f64 / 8.0 - 1.0).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn gradcheck_strides_rectangular_kernels_and_uneven_padding() {
        let x = t(2 * 9 * 7, &[1, 2, 9, 7], 13);
        for (k, stride, padding) in [
            ([3, 4], 2, IntOrPair::Int(0)),
            ([3, 4], 2, IntOrPair::Pair([1, 2])),
            ([2, 3], 3, IntOrPair::Int(1)),
            ([3, 3], 1, IntOrPair::Pair([0, 1])),
        ] {
            let cfg = Conv2dConfig {
                kernel_size: IntOrPair::Pair(k),
                stride: IntOrPair::Int(stride),
                padding,
                ..Conv2dConfig::new(2, 3, 1)
            };
            let mut c = cfg.clone();
            let out = c.infer(&[2, 9, 7]).unwrap();
            let w = t(3 * 2 * k[0] * k[1], &[3, 2, k[0], k[1]], 7);
            let b = t(3, &[3], 5);
            let y = conv2d(&x, &w, Some(&b), &cfg).unwrap();
            assert_eq!(&y.dims()[1..], out.as_slice(), "{cfg:?}");
            gradcheck(
                |v| {
                    conv2d(&v[0], &v[1], Some(&v[2]), &cfg)
                        .map_err(|e| candle_core::Error::Msg(e.to_string()))
                },
                &[x.clone(), w, b],
            )
            .unwrap();
        }
    }
}
