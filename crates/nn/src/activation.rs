use crate::layer::py_float;
use crate::unary::{log_softmax, softmax, unary, Unary};
use crate::{BuildCtx, Error, Layer, Result, Shape};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use wick_tensor::{Param, Parameter};

/// Arguments of `torch.nn.ReLU(inplace=False)`. `inplace` is accepted for
/// compatibility; wick never modifies a layer's input.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReLUConfig {
    /// Accepted and ignored, as it changes no result.
    #[serde(default)]
    pub inplace: bool,
}

impl ReLUConfig {
    /// Elementwise: the output shape is the input shape.
    pub fn infer(&self, input: &[usize]) -> Result<Shape> {
        Ok(input.to_vec())
    }
}

/// `torch.nn.ReLU`: `max(x, 0)`, with gradient `1` where `x > 0` and `0` elsewhere.
pub struct ReLU;

impl Layer for ReLU {
    fn type_name(&self) -> &'static str {
        "ReLU"
    }
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(crate::relu_op::relu(x)?)
    }
    fn epilogue(&self) -> Option<crate::Epilogue> {
        Some(crate::Epilogue::Relu)
    }
    fn describe(&self) -> String {
        "ReLU()".into()
    }
}

fn inplace_str(inplace: bool) -> &'static str {
    if inplace {
        ", inplace=True"
    } else {
        ""
    }
}

fn finite(field: &'static str, v: f64) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::field(
            field,
            format!("{field} must be finite, got {v}"),
        ))
    }
}

/// An elementwise activation or a softmax, as built from one of the configs below.
pub struct Activation {
    name: &'static str,
    repr: String,
    kind: Kind,
}

enum Kind {
    Unary(Unary),
    Softmax(Option<i64>),
    LogSoftmax(Option<i64>),
}

impl Activation {
    fn unary(name: &'static str, repr: String, op: Unary) -> Self {
        Self {
            name,
            repr,
            kind: Kind::Unary(op),
        }
    }
}

/// PyTorch's `_get_softmax_dim`: `dim`, or for `dim=None` 0 on 0-, 1- and 3-d inputs and
/// 1 otherwise; negative dims count from the end. Dimensions include the batch.
fn softmax_dim(dim: Option<i64>, rank: usize) -> Result<usize> {
    let d = match dim {
        Some(d) => d,
        None => {
            if matches!(rank, 0 | 1 | 3) {
                0
            } else {
                1
            }
        }
    };
    let r = rank.max(1) as i64;
    let v = if d < 0 { d + r } else { d };
    if v < 0 || v >= r {
        return Err(Error::field(
            "dim",
            format!(
                "Dimension out of range (expected to be in range of [{}, {}], but got {d})",
                -r,
                r - 1
            ),
        ));
    }
    Ok(v as usize)
}

impl Layer for Activation {
    fn type_name(&self) -> &'static str {
        self.name
    }
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(match self.kind {
            Kind::Unary(op) => unary(x, op)?,
            Kind::Softmax(d) => softmax(x, softmax_dim(d, x.rank())?)?,
            Kind::LogSoftmax(d) => log_softmax(x, softmax_dim(d, x.rank())?)?,
        })
    }
    fn describe(&self) -> String {
        self.repr.clone()
    }
}

config! {
    /// `torch.nn.ReLU6(inplace=False)`: `min(max(x, 0), 6)`; gradient 0 at 0 and 6.
    ReLU6Config {
        /// Accepted and ignored (wick never modifies a layer's input).
        inplace: bool = false,
    }
}

impl ReLU6Config {
    /// The layer.
    pub fn init(&self) -> Result<Activation> {
        Ok(Activation::unary(
            "ReLU6",
            format!(
                "ReLU6({})",
                inplace_str(self.inplace).trim_start_matches(", ")
            ),
            Unary::Relu6,
        ))
    }
}

config! {
    /// `torch.nn.LeakyReLU(negative_slope=0.01, inplace=False)`:
    /// `x` if `x > 0` else `negative_slope·x` (gradient `negative_slope` at 0).
    LeakyReLUConfig {
        /// Slope for `x ≤ 0` (default 0.01).
        negative_slope: f64 = 0.01,
        /// Accepted and ignored.
        inplace: bool = false,
    }
}

impl LeakyReLUConfig {
    /// The layer.
    pub fn init(&self) -> Result<Activation> {
        let s = finite("negative_slope", self.negative_slope)?;
        Ok(Activation::unary(
            "LeakyReLU",
            format!(
                "LeakyReLU(negative_slope={}{})",
                py_float(s),
                inplace_str(self.inplace)
            ),
            Unary::LeakyRelu(s),
        ))
    }
}

config! {
    /// `torch.nn.ELU(alpha=1.0, inplace=False)`: `x` if `x > 0` else `α(eˣ − 1)`.
    ELUConfig {
        /// `α` (default 1.0).
        alpha: f64 = 1.0,
        /// Accepted and ignored.
        inplace: bool = false,
    }
}

impl ELUConfig {
    /// The layer.
    pub fn init(&self) -> Result<Activation> {
        let a = finite("alpha", self.alpha)?;
        Ok(Activation::unary(
            "ELU",
            format!("ELU(alpha={}{})", py_float(a), inplace_str(self.inplace)),
            Unary::Elu(a),
        ))
    }
}

config! {
    /// `torch.nn.SELU(inplace=False)`: `λ·ELU(x, α)` with `α ≈ 1.6733`, `λ ≈ 1.0507`.
    SELUConfig {
        /// Accepted and ignored.
        inplace: bool = false,
    }
}

impl SELUConfig {
    /// The layer.
    pub fn init(&self) -> Result<Activation> {
        Ok(Activation::unary(
            "SELU",
            format!(
                "SELU({})",
                inplace_str(self.inplace).trim_start_matches(", ")
            ),
            Unary::Selu,
        ))
    }
}

config! {
    /// `torch.nn.CELU(alpha=1.0, inplace=False)`: `max(0, x) + min(0, α(e^{x/α} − 1))`.
    CELUConfig {
        /// `α` (default 1.0; not 0).
        alpha: f64 = 1.0,
        /// Accepted and ignored.
        inplace: bool = false,
    }
}

impl CELUConfig {
    /// The layer.
    ///
    /// # Errors
    /// `alpha = 0` (PyTorch: "ZeroDivisionError").
    pub fn init(&self) -> Result<Activation> {
        let a = finite("alpha", self.alpha)?;
        if a == 0.0 {
            return Err(Error::field(
                "alpha",
                "ZeroDivisionError: alpha cannot be 0 for CELU",
            ));
        }
        Ok(Activation::unary(
            "CELU",
            format!("CELU(alpha={}{})", py_float(a), inplace_str(self.inplace)),
            Unary::Celu(a),
        ))
    }
}

config! {
    /// `torch.nn.GELU(approximate='none')`: `x·Φ(x)`, or with `approximate = "tanh"`
    /// `½x(1 + tanh(√(2/π)(x + 0.044715x³)))`.
    GELUConfig {
        /// `"none"` (default) or `"tanh"`.
        approximate: String = "none".into(),
    }
}

impl GELUConfig {
    /// The layer.
    ///
    /// # Errors
    /// `approximate` is neither `"none"` nor `"tanh"`.
    pub fn init(&self) -> Result<Activation> {
        let op = match self.approximate.as_str() {
            "none" => Unary::Gelu,
            "tanh" => Unary::GeluTanh,
            other => {
                return Err(Error::field(
                    "approximate",
                    format!("approximate argument must be either none or tanh, got {other:?}"),
                ))
            }
        };
        Ok(Activation::unary(
            "GELU",
            format!("GELU(approximate='{}')", self.approximate),
            op,
        ))
    }
}

/// Declares the config of an activation without arguments (but `inplace`).
macro_rules! plain {
    ($(#[$m:meta])* $cfg:ident, $name:literal, $op:expr, inplace) => {
        config! {
            $(#[$m])*
            $cfg {
                /// Accepted and ignored.
                inplace: bool = false,
            }
        }
        impl $cfg {
            /// The layer.
            pub fn init(&self) -> Result<Activation> {
                Ok(Activation::unary(
                    $name,
                    format!("{}({})", $name, inplace_str(self.inplace).trim_start_matches(", ")),
                    $op,
                ))
            }
        }
    };
    ($(#[$m:meta])* $cfg:ident, $name:literal, $op:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $cfg {}
        impl $cfg {
            /// The layer.
            pub fn init(&self) -> Result<Activation> {
                Ok(Activation::unary($name, format!("{}()", $name), $op))
            }
        }
    };
}

plain!(
    /// `torch.nn.SiLU(inplace=False)`: `x·σ(x)`.
    SiLUConfig, "SiLU", Unary::Silu, inplace
);
plain!(
    /// `torch.nn.Mish(inplace=False)`: `x·tanh(softplus(x))`.
    MishConfig, "Mish", Unary::Mish, inplace
);
plain!(
    /// `torch.nn.Hardsigmoid(inplace=False)`: `min(max(x/6 + 1/2, 0), 1)`.
    HardsigmoidConfig, "Hardsigmoid", Unary::Hardsigmoid, inplace
);
plain!(
    /// `torch.nn.Hardswish(inplace=False)`: `x·min(max(x + 3, 0), 6)/6`.
    HardswishConfig, "Hardswish", Unary::Hardswish, inplace
);
plain!(
    /// `torch.nn.Sigmoid()`: `1 / (1 + e⁻ˣ)`.
    SigmoidConfig, "Sigmoid", Unary::Sigmoid
);
plain!(
    /// `torch.nn.Tanh()`.
    TanhConfig, "Tanh", Unary::Tanh
);
plain!(
    /// `torch.nn.Softsign()`: `x / (1 + |x|)`.
    SoftsignConfig, "Softsign", Unary::Softsign
);

config! {
    /// `torch.nn.Hardtanh(min_val=-1.0, max_val=1.0, inplace=False)`: `x` clamped to
    /// `[min_val, max_val]`; gradient 1 strictly inside, 0 elsewhere.
    HardtanhConfig {
        /// Lower end (default -1.0).
        min_val: f64 = -1.0,
        /// Upper end (default 1.0).
        max_val: f64 = 1.0,
        /// Accepted and ignored.
        inplace: bool = false,
    }
}

impl HardtanhConfig {
    /// The layer.
    ///
    /// # Errors
    /// `max_val ≤ min_val`.
    pub fn init(&self) -> Result<Activation> {
        let (lo, hi) = (
            finite("min_val", self.min_val)?,
            finite("max_val", self.max_val)?,
        );
        if hi <= lo {
            return Err(Error::field(
                "max_val",
                format!("max_val ({hi}) must be greater than min_val ({lo})"),
            ));
        }
        Ok(Activation::unary(
            "Hardtanh",
            format!(
                "Hardtanh(min_val={}, max_val={}{})",
                py_float(lo),
                py_float(hi),
                inplace_str(self.inplace)
            ),
            Unary::Hardtanh(lo, hi),
        ))
    }
}

config! {
    /// `torch.nn.Softplus(beta=1.0, threshold=20.0)`: `log(1 + e^{βx})/β`, and `x` where
    /// `βx > threshold`.
    SoftplusConfig {
        /// `β` (default 1.0).
        beta: f64 = 1.0,
        /// Above `βx > threshold` the function is the identity (default 20.0).
        threshold: f64 = 20.0,
    }
}

impl SoftplusConfig {
    /// The layer.
    ///
    /// # Errors
    /// `beta = 0`.
    pub fn init(&self) -> Result<Activation> {
        let beta = finite("beta", self.beta)?;
        if beta == 0.0 {
            return Err(Error::field("beta", "beta must not be 0"));
        }
        Ok(Activation::unary(
            "Softplus",
            format!(
                "Softplus(beta={}, threshold={})",
                py_float(beta),
                py_float(self.threshold)
            ),
            Unary::Softplus(beta, self.threshold),
        ))
    }
}

config! {
    /// `torch.nn.Threshold(threshold, value, inplace=False)`: `x` if `x > threshold`
    /// else `value`.
    ThresholdConfig {
        /// The threshold.
        threshold: f64 = 0.0,
        /// The value below or at the threshold.
        value: f64 = 0.0,
        /// Accepted and ignored.
        inplace: bool = false,
    }
}

impl ThresholdConfig {
    /// The layer.
    pub fn init(&self) -> Result<Activation> {
        Ok(Activation::unary(
            "Threshold",
            format!(
                "Threshold(threshold={}, value={}{})",
                py_float(self.threshold),
                py_float(self.value),
                inplace_str(self.inplace)
            ),
            Unary::Threshold(self.threshold, self.value),
        ))
    }
}

config! {
    /// `torch.nn.Softmax(dim=None)`: `exp(xᵢ) / Σⱼ exp(xⱼ)` along `dim` (counting the
    /// batch dimension; `None` picks PyTorch's legacy choice: 0 for 1-d and 3-d inputs,
    /// else 1).
    SoftmaxConfig {
        /// The dimension to normalize (default None).
        dim: Option<i64> = None,
    }
}

fn show_dim(d: Option<i64>) -> String {
    d.map_or("None".into(), |d| d.to_string())
}

impl SoftmaxConfig {
    /// Checks `dim` against the input's rank (batch included).
    pub fn infer(&self, input: &[usize]) -> Result<Shape> {
        softmax_dim(self.dim, input.len() + 1)?;
        Ok(input.to_vec())
    }
    /// The layer.
    pub fn init(&self) -> Result<Activation> {
        Ok(Activation {
            name: "Softmax",
            repr: format!("Softmax(dim={})", show_dim(self.dim)),
            kind: Kind::Softmax(self.dim),
        })
    }
}

config! {
    /// `torch.nn.LogSoftmax(dim=None)`: `xᵢ − log Σⱼ exp(xⱼ)` along `dim`.
    LogSoftmaxConfig {
        /// The dimension to normalize (default None).
        dim: Option<i64> = None,
    }
}

impl LogSoftmaxConfig {
    /// Checks `dim` against the input's rank (batch included).
    pub fn infer(&self, input: &[usize]) -> Result<Shape> {
        softmax_dim(self.dim, input.len() + 1)?;
        Ok(input.to_vec())
    }
    /// The layer.
    pub fn init(&self) -> Result<Activation> {
        Ok(Activation {
            name: "LogSoftmax",
            repr: format!("LogSoftmax(dim={})", show_dim(self.dim)),
            kind: Kind::LogSoftmax(self.dim),
        })
    }
}

config! {
    /// `torch.nn.PReLU(num_parameters=1, init=0.25)`: `x` if `x > 0` else `a·x`, with
    /// `a` learned, one per channel (dimension 1 of the input) or shared.
    ///
    /// # Shapes
    /// input `[N, C, *]` (or `[N]`), weight `[num_parameters]` with `num_parameters` 1 or
    /// `C`.
    PReLUConfig {
        /// 1 (one shared slope) or the number of channels (default 1).
        num_parameters: usize = 1,
        /// Initial slope (default 0.25).
        init: f64 = 0.25,
    }
}

impl PReLUConfig {
    /// Checks `num_parameters` against the channels of the per-sample input.
    pub fn infer(&self, input: &[usize]) -> Result<Shape> {
        if self.num_parameters == 0 {
            return Err(Error::field(
                "num_parameters",
                "num_parameters must be at least 1",
            ));
        }
        if self.num_parameters > 1 {
            match input.first() {
                Some(&c) if c == self.num_parameters => {}
                _ => {
                    return Err(Error::field(
                        "num_parameters",
                        format!(
                            "num_parameters = {} but the input to this layer has shape {} \
                             (channels are dimension 1)",
                            self.num_parameters,
                            crate::shape::show_batched(input)
                        ),
                    ))
                }
            }
        }
        Ok(input.to_vec())
    }

    /// The layer, its weight filled with `init`.
    pub fn build(&self, ctx: &mut BuildCtx) -> Result<PReLU> {
        crate::shape::check_param_count("num_parameters", &[self.num_parameters])?;
        let w = Tensor::full(finite("init", self.init)?, self.num_parameters, ctx.device)?
            .to_dtype(ctx.dtype)?;
        Ok(PReLU {
            weight: Parameter::new(&w)?,
        })
    }
}

/// `torch.nn.PReLU`: `relu(x) + a·(x − relu(x))`, so that the input gradient at 0 is
/// `a` and the weight gradient is `Σ min(x, 0)·g`, as PyTorch's.
pub struct PReLU {
    weight: Parameter,
}

impl Layer for PReLU {
    fn type_name(&self) -> &'static str {
        "PReLU"
    }
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let w = &self.weight.tensor();
        let n = w.elem_count();
        let w = if n == 1 || x.rank() < 2 {
            w.clone()
        } else {
            let mut shape = vec![1usize; x.rank()];
            shape[1] = n;
            w.reshape(shape)?
        };
        let pos = crate::relu_op::relu(x)?;
        let neg = (x - &pos)?;
        Ok(pos.add(&neg.broadcast_mul(&w)?)?)
    }
    fn parameters(&self) -> Vec<Param> {
        vec![Param::of("weight", &self.weight)]
    }
    fn describe(&self) -> String {
        format!("PReLU(num_parameters={})", self.weight.var().elem_count())
    }
}
