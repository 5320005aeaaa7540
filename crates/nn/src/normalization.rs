use crate::layer::{py_bool, py_float};
use crate::norm::{self, channel_affine, normalize, ones_zeros};
use crate::{BuildCtx, Error, Layer, Result, Shape};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use wick_tensor::{Param, Parameter};

/// An `int or list of ints` argument (`normalized_shape = 4` or `[3, 4]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrList {
    /// One size.
    Int(usize),
    /// Several sizes.
    List(Vec<usize>),
}

impl IntOrList {
    /// The sizes.
    pub fn to_vec(&self) -> Vec<usize> {
        match self {
            Self::Int(v) => vec![*v],
            Self::List(v) => v.clone(),
        }
    }
}

fn yes() -> bool {
    true
}
fn eps_default() -> f64 {
    1e-5
}

/// Python's repr of a tuple of ints: `(4,)`, `(3, 4)`.
fn py_tuple(v: &[usize]) -> String {
    match v {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Arguments of `torch.nn.LayerNorm(normalized_shape, eps=1e-05, elementwise_affine=True,
/// bias=True)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerNormConfig {
    /// The trailing dimensions to normalize over (`[*, normalized_shape]`).
    pub normalized_shape: IntOrList,
    /// Added to the variance (default 1e-5).
    #[serde(default = "eps_default")]
    pub eps: f64,
    /// Learn an elementwise scale (and shift) of shape `normalized_shape` (default true).
    #[serde(default = "yes")]
    pub elementwise_affine: bool,
    /// Learn the shift too, when `elementwise_affine` (default true).
    #[serde(default = "yes")]
    pub bias: bool,
    /// `torch.nn.init` schemes for `weight`/`bias` (default: PyTorch's init).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<crate::ParamInit>,
}

impl LayerNormConfig {
    /// `LayerNorm(normalized_shape)` with PyTorch's defaults.
    pub fn new(normalized_shape: &[usize]) -> Self {
        Self {
            normalized_shape: IntOrList::List(normalized_shape.to_vec()),
            eps: 1e-5,
            elementwise_affine: true,
            bias: true,
            init: None,
        }
    }

    /// Checks that the per-sample input ends with `normalized_shape`.
    pub fn infer(&self, input: &[usize]) -> Result<Shape> {
        norm::check_eps_momentum(self.eps, None)?;
        let ns = self.normalized_shape.to_vec();
        if ns.is_empty() || ns.contains(&0) {
            return Err(Error::field(
                "normalized_shape",
                format!("invalid normalized_shape {ns:?}"),
            ));
        }
        if input.len() < ns.len() || input[input.len() - ns.len()..] != ns[..] {
            let star: Vec<String> = ns.iter().map(ToString::to_string).collect();
            return Err(Error::field(
                "normalized_shape",
                format!(
                    "Given normalized_shape={ns:?}, expected input with shape [*, {}], but got \
                     input of size {}",
                    star.join(", "),
                    crate::shape::show_batched(input)
                ),
            ));
        }
        Ok(input.to_vec())
    }

    /// Creates the layer: weight ones, bias zeros.
    pub fn init(&self, ctx: &mut BuildCtx) -> Result<LayerNorm> {
        let ns = self.normalized_shape.to_vec();
        crate::shape::check_param_count("normalized_shape", &ns)?;
        let (weight, bias) = if self.elementwise_affine {
            let (w, b) = ones_zeros(&ns, ctx.dtype, ctx.device)?;
            let init = self.init.clone().unwrap_or_default();
            init.validate(&ns, self.bias.then_some(&ns[..]))?;
            let w = Parameter::new(&init.apply("weight", w.as_tensor().clone(), ctx)?)?;
            let b = Parameter::new(&init.apply("bias", b.as_tensor().clone(), ctx)?)?;
            (Some(w), self.bias.then_some(b))
        } else {
            if self.init.is_some() {
                return Err(Error::field(
                    "init",
                    "init is given but elementwise_affine = false (no parameters)",
                ));
            }
            (None, None)
        };
        Ok(LayerNorm {
            cfg: self.clone(),
            shape: ns,
            weight,
            bias,
        })
    }
}

/// `torch.nn.LayerNorm`: `y = (x − E[x]) / √(Var[x] + eps) · γ + β` over the trailing
/// `normalized_shape` dimensions of each sample (biased variance). Composed from
/// candle ops (candle's fused layer norm has no gradient).
///
/// # Shapes
/// input and output `[*, normalized_shape]`; weight and bias `normalized_shape`.
pub struct LayerNorm {
    cfg: LayerNormConfig,
    shape: Vec<usize>,
    weight: Option<Parameter>,
    bias: Option<Parameter>,
}

impl Layer for LayerNorm {
    fn type_name(&self) -> &'static str {
        "LayerNorm"
    }

    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let k = self.shape.len();
        if dims.len() < k || dims[dims.len() - k..] != self.shape[..] {
            return Err(Error::shape(format!(
                "Given normalized_shape={:?}, expected input with shape [*, {:?}], but got \
                 input of size {dims:?}",
                self.shape, self.shape
            )));
        }
        let inner: usize = self.shape.iter().product();
        let outer: usize = dims[..dims.len() - k].iter().product();
        let x2 = x.reshape((outer, inner))?;
        let (mut y, _, _) = normalize(&x2, &[1], self.cfg.eps)?;
        if let Some(w) = &self.weight {
            y = y.broadcast_mul(&w.tensor().reshape((1, inner))?)?;
        }
        if let Some(b) = &self.bias {
            y = y.broadcast_add(&b.tensor().reshape((1, inner))?)?;
        }
        Ok(y.reshape(dims)?)
    }

    fn parameters(&self) -> Vec<Param> {
        let mut p = Vec::new();
        if let Some(w) = &self.weight {
            p.push(Param::of("weight", w));
        }
        if let Some(b) = &self.bias {
            p.push(Param::of("bias", b));
        }
        p
    }

    fn describe(&self) -> String {
        format!(
            "LayerNorm({}, eps={}, elementwise_affine={}, bias={})",
            py_tuple(&self.shape),
            py_float(self.cfg.eps),
            py_bool(self.cfg.elementwise_affine),
            py_bool(self.bias.is_some())
        )
    }
}

/// Arguments of `torch.nn.GroupNorm(num_groups, num_channels, eps=1e-05, affine=True, *,
/// bias=True)`.
///
/// `num_channels` may be left out: it is inferred from the input's channels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupNormConfig {
    /// Groups the channels are split into.
    pub num_groups: usize,
    /// `C`; inferred when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_channels: Option<usize>,
    /// Added to the variance (default 1e-5).
    #[serde(default = "eps_default")]
    pub eps: f64,
    /// Learn a per-channel scale and shift (default true).
    #[serde(default = "yes")]
    pub affine: bool,
    /// With `affine`, learn the shift too (default true; keyword-only in PyTorch).
    #[serde(default = "yes")]
    pub bias: bool,
    /// `torch.nn.init` schemes for `weight`/`bias` (default: PyTorch's init).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<crate::ParamInit>,
}

impl GroupNormConfig {
    /// Checks the per-sample input `[C, *]`, fills `num_channels`.
    pub fn infer(&mut self, input: &[usize]) -> Result<Shape> {
        norm::check_eps_momentum(self.eps, None)?;
        let Some(&c) = input.first() else {
            return Err(Error::shape(
                "GroupNorm expects an input [N, C, *] with at least the channel dimension",
            ));
        };
        norm::infer_channels("num_channels", &mut self.num_channels, c, input)?;
        if self.num_groups == 0 || !c.is_multiple_of(self.num_groups) {
            return Err(Error::field(
                "num_groups",
                format!(
                    "num_channels must be divisible by num_groups (num_channels = {c}, \
                     num_groups = {})",
                    self.num_groups
                ),
            ));
        }
        Ok(input.to_vec())
    }

    /// Creates the layer: weight ones, bias zeros.
    pub fn init(&self, ctx: &mut BuildCtx) -> Result<GroupNorm> {
        let c = self
            .num_channels
            .ok_or_else(|| Error::field("num_channels", "num_channels is not known"))?;
        if self.num_groups == 0 || !c.is_multiple_of(self.num_groups) {
            return Err(Error::field(
                "num_groups",
                "num_channels must be divisible by num_groups",
            ));
        }
        crate::shape::check_param_count("num_channels", &[c])?;
        let (weight, bias) = if self.affine {
            let (w, b) = ones_zeros(&[c], ctx.dtype, ctx.device)?;
            let init = self.init.clone().unwrap_or_default();
            init.validate(&[c], self.bias.then_some(&[c][..]))?;
            let w = Parameter::new(&init.apply("weight", w.as_tensor().clone(), ctx)?)?;
            let b = Parameter::new(&init.apply("bias", b.as_tensor().clone(), ctx)?)?;
            (Some(w), self.bias.then_some(b))
        } else {
            if self.init.is_some() {
                return Err(Error::field(
                    "init",
                    "init is given but affine = false (no parameters)",
                ));
            }
            (None, None)
        };
        Ok(GroupNorm {
            cfg: self.clone(),
            channels: c,
            weight,
            bias,
        })
    }
}

/// `torch.nn.GroupNorm`: the channels of each sample split into `num_groups` groups,
/// each normalized over its channels and positions (biased variance), then a
/// per-channel affine map.
///
/// # Shapes
/// input and output `[N, C, *]`.
pub struct GroupNorm {
    cfg: GroupNormConfig,
    channels: usize,
    weight: Option<Parameter>,
    bias: Option<Parameter>,
}

impl Layer for GroupNorm {
    fn type_name(&self) -> &'static str {
        "GroupNorm"
    }

    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        if dims.len() < 2 || dims[1] != self.channels {
            return Err(Error::shape(format!(
                "GroupNorm: expected an input [N, {}, *], got {dims:?}",
                self.channels
            )));
        }
        let (n, g) = (dims[0], self.cfg.num_groups);
        let per_group = x.elem_count() / (n * g).max(1);
        let l: usize = dims[2..].iter().product();
        let (xhat, _, _) = normalize(&x.reshape((n, g, per_group))?, &[2], self.cfg.eps)?;
        let y = channel_affine(
            &xhat.reshape((n, self.channels, l))?,
            self.weight.as_ref().map(Parameter::tensor).as_ref(),
            self.bias.as_ref().map(Parameter::tensor).as_ref(),
        )?;
        Ok(y.reshape(dims)?)
    }

    fn parameters(&self) -> Vec<Param> {
        let mut p = Vec::new();
        if let Some(w) = &self.weight {
            p.push(Param::of("weight", w));
        }
        if let Some(b) = &self.bias {
            p.push(Param::of("bias", b));
        }
        p
    }

    fn describe(&self) -> String {
        format!(
            "GroupNorm({}, {}, eps={}, affine={}, bias={})",
            self.cfg.num_groups,
            self.channels,
            py_float(self.cfg.eps),
            py_bool(self.cfg.affine),
            py_bool(self.bias.is_some())
        )
    }
}
