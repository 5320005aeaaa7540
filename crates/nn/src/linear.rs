use crate::layer::py_bool;
use crate::{BuildCtx, Epilogue, Error, Layer, Result, Shape};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use wick_tensor::{init, Param, Parameter};

/// Arguments of `torch.nn.Linear(in_features, out_features, bias=True)`.
///
/// `in_features` may be left out: it is inferred from the input shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearConfig {
    /// Size of each input sample's last dimension; inferred when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_features: Option<usize>,
    /// Size of each output sample's last dimension.
    pub out_features: usize,
    /// Whether to learn an additive bias (default `true`).
    #[serde(default = "yes")]
    pub bias: bool,
    /// `torch.nn.init` schemes for `weight`/`bias` (default: PyTorch's init).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<crate::ParamInit>,
}

fn yes() -> bool {
    true
}

impl LinearConfig {
    /// `Linear(in_features, out_features)` with a bias.
    pub fn new(in_features: usize, out_features: usize) -> Self {
        Self {
            in_features: Some(in_features),
            out_features,
            bias: true,
            init: None,
        }
    }

    /// Checks the arguments against the per-sample input shape `[*, H_in]`, fills
    /// `in_features`, and returns the output shape `[*, H_out]`.
    pub fn infer(&mut self, input: &[usize]) -> Result<Shape> {
        let Some(&last) = input.last() else {
            return Err(Error::shape(
                "Linear needs an input with at least one dimension per sample",
            ));
        };
        match self.in_features {
            Some(given) if given != last => {
                return Err(Error::field(
                    "in_features",
                    format!(
                        "in_features = {given}, but the input to this layer has shape {} \
                         (last dimension {last}); set in_features = {last} or leave it out",
                        crate::shape::show_batched(input)
                    ),
                ))
            }
            _ => self.in_features = Some(last),
        }
        if self.out_features == 0 {
            return Err(Error::field(
                "out_features",
                "out_features must be at least 1",
            ));
        }
        crate::shape::check_param_count("out_features", &[self.out_features, last])?;
        if let Some(i) = &self.init {
            i.validate(
                &[self.out_features, last],
                self.bias.then_some(&[self.out_features][..]),
            )?;
        }
        let mut out = input.to_vec();
        *out.last_mut().expect("checked non-empty") = self.out_features;
        Ok(out)
    }

    /// Creates the layer with PyTorch's default init; `in_features` must be known.
    pub fn init(&self, ctx: &mut BuildCtx) -> Result<Linear> {
        let in_features = self
            .in_features
            .ok_or_else(|| Error::field("in_features", "in_features is not known"))?;
        let (w, b) = init::torch_default_weight_bias(
            &[self.out_features, in_features],
            self.bias,
            ctx.dtype,
            ctx.device,
            ctx.rng,
        )?;
        let init = self.init.clone().unwrap_or_default();
        let w = init.apply("weight", w, ctx)?;
        let b = b.map(|b| init.apply("bias", b, ctx)).transpose()?;
        Ok(Linear {
            weight: Parameter::new(&w)?,
            bias: b.map(|b| Parameter::new(&b)).transpose()?,
        })
    }
}

/// `torch.nn.Linear`: `y = x·Wᵀ + b`.
///
/// # Shapes
/// - input `[*, in_features]`, output `[*, out_features]`
/// - weight `[out_features, in_features]`, bias `[out_features]`, both initialized
///   `U(−1/√in_features, 1/√in_features)`.
pub struct Linear {
    weight: Parameter,
    bias: Option<Parameter>,
}

impl Linear {
    /// A layer from existing weight `[out, in]` and optional bias `[out]` tensors.
    pub fn from_tensors(weight: &Tensor, bias: Option<&Tensor>) -> Result<Self> {
        Ok(Self {
            weight: Parameter::new(weight)?,
            bias: bias.map(Parameter::new).transpose()?,
        })
    }
}

impl Linear {
    /// `F.linear(x, weight, bias)` over the last dimension of `x [*, in_features]`,
    /// then `F.relu` when `relu`.
    fn apply(&self, x: &Tensor, relu: bool) -> Result<Tensor> {
        let w = &self.weight.tensor();
        let dims = x.dims().to_vec();
        let x2 = match dims.len() {
            0 => {
                return Err(candle_core::Error::Msg(
                    "Linear: the input must be at least 1-D, got a scalar".into(),
                )
                .into())
            }
            1 => x.unsqueeze(0)?,
            2 => x.clone(),
            n => x.flatten_to(n - 2)?,
        };
        let y = crate::linear_op::linear(
            &x2,
            w,
            self.bias.as_ref().map(Parameter::tensor).as_ref(),
            relu,
        )?;
        Ok(match dims.len() {
            2 => y,
            1 => y.squeeze(0)?,
            _ => {
                let mut out = dims.clone();
                *out.last_mut().unwrap_or(&mut 0) = w.dim(0)?;
                y.reshape(out)?
            }
        })
    }
}

impl Layer for Linear {
    fn type_name(&self) -> &'static str {
        "Linear"
    }

    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        self.apply(x, false)
    }

    /// A `ReLU` as the GEMM's epilogue.
    fn fuses(&self, next: &[Epilogue]) -> usize {
        usize::from(next.first() == Some(&Epilogue::Relu))
    }

    fn forward_fused(&self, x: &Tensor, train: bool, epilogue: &[Epilogue]) -> Result<Tensor> {
        let (relu, rest) = Epilogue::leading_relu(epilogue);
        Epilogue::apply_all(self.apply(x, relu)?, rest, train)
    }

    fn parameters(&self) -> Vec<Param> {
        let mut p = vec![Param::of("weight", &self.weight)];
        if let Some(b) = &self.bias {
            p.push(Param::of("bias", b));
        }
        p
    }

    fn describe(&self) -> String {
        let (o, i) = self.weight.var().dims2().unwrap_or((0, 0));
        format!(
            "Linear(in_features={i}, out_features={o}, bias={})",
            py_bool(self.bias.is_some())
        )
    }
}
