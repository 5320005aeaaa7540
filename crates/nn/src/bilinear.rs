use crate::layer::py_bool;
use crate::{BuildCtx, Error, Layer, Result, Shape};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use wick_tensor::{init, Param, Parameter};

fn yes() -> bool {
    true
}

/// Arguments of `torch.nn.Bilinear(in1_features, in2_features, out_features, bias=True)`.
///
/// In a [`crate::Sequential`] a layer receives one tensor, so a `Bilinear` there computes
/// `Bilinear(x, x)` (a learned quadratic form) and `in1_features = in2_features` are
/// inferred from the input; from Rust, [`Bilinear::forward_pair`] takes two inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BilinearConfig {
    /// Size of the first input's last dimension; inferred when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in1_features: Option<usize>,
    /// Size of the second input's last dimension; inferred when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in2_features: Option<usize>,
    /// Size of the output's last dimension.
    pub out_features: usize,
    /// Learn an additive bias (default true).
    #[serde(default = "yes")]
    pub bias: bool,
    /// `torch.nn.init` schemes for `weight`/`bias` (default: PyTorch's init).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<crate::ParamInit>,
}

impl BilinearConfig {
    /// `Bilinear(in1, in2, out)` with a bias.
    pub fn new(in1: usize, in2: usize, out: usize) -> Self {
        Self {
            in1_features: Some(in1),
            in2_features: Some(in2),
            out_features: out,
            bias: true,
            init: None,
        }
    }

    /// For a Sequential (`Bilinear(x, x)`): checks and fills both input sizes from the
    /// per-sample input `[*, H]`; the output is `[*, out_features]`.
    pub fn infer(&mut self, input: &[usize]) -> Result<Shape> {
        self.infer_inputs(&[input.to_vec()])
    }

    /// For a graph node: `from = ["x1", "x2"]` (`[*, H1]` and `[*, H2]`, the same
    /// leading dimensions) gives `Bilinear(x1, x2)`; one input gives `Bilinear(x, x)`.
    pub fn infer_inputs(&mut self, inputs: &[Shape]) -> Result<Shape> {
        let (x1, x2) = match inputs {
            [x] => (x, x),
            [a, b] => (a, b),
            _ => {
                return Err(Error::field(
                    "from",
                    format!("Bilinear takes two inputs, {} given", inputs.len()),
                ))
            }
        };
        let (Some(&l1), Some(&l2)) = (x1.last(), x2.last()) else {
            return Err(Error::shape(
                "Bilinear needs at least one dimension per sample",
            ));
        };
        if x1[..x1.len() - 1] != x2[..x2.len() - 1] {
            return Err(Error::shape(format!(
                "Bilinear's inputs {} and {} differ before their last dimension",
                crate::shape::show_batched(x1),
                crate::shape::show_batched(x2)
            )));
        }
        for (field, v, last, x) in [
            ("in1_features", &mut self.in1_features, l1, x1),
            ("in2_features", &mut self.in2_features, l2, x2),
        ] {
            match *v {
                Some(given) if given != last => {
                    return Err(Error::field(
                        field,
                        format!(
                            "{field} = {given}, but its input has shape {} (last dimension \
                             {last}); in a Sequential, Bilinear receives (x, x)",
                            crate::shape::show_batched(x)
                        ),
                    ))
                }
                _ => *v = Some(last),
            }
        }
        if self.out_features == 0 {
            return Err(Error::field(
                "out_features",
                "out_features must be at least 1",
            ));
        }
        crate::shape::check_param_count("out_features", &[self.out_features, l1, l2])?;
        let mut out = x1.to_vec();
        if let Some(l) = out.last_mut() {
            *l = self.out_features;
        }
        Ok(out)
    }

    /// Creates the layer: weight and bias `U(±1/√in1_features)`, as PyTorch.
    pub fn init(&self, ctx: &mut BuildCtx) -> Result<Bilinear> {
        let (Some(i1), Some(i2)) = (self.in1_features, self.in2_features) else {
            return Err(Error::field(
                "in1_features",
                "in1_features/in2_features are not known",
            ));
        };
        let o = self.out_features;
        let bound = 1.0 / (i1.max(1) as f64).sqrt();
        let schemes = self.init.clone().unwrap_or_default();
        schemes.validate(&[o, i1, i2], self.bias.then_some(&[o][..]))?;
        let w = init::uniform((o, i1, i2), -bound, bound, ctx.dtype, ctx.device, ctx.rng)?;
        let w = schemes.apply("weight", w, ctx)?;
        let b = if self.bias {
            let b = init::uniform(o, -bound, bound, ctx.dtype, ctx.device, ctx.rng)?;
            Some(Parameter::new(&schemes.apply("bias", b, ctx)?)?)
        } else {
            None
        };
        Ok(Bilinear {
            weight: Parameter::new(&w)?,
            bias: b,
        })
    }
}

/// `torch.nn.Bilinear`: `yₖ = x₁ᵀ Aₖ x₂ + bₖ`.
///
/// # Shapes
/// inputs `[*, in1_features]` and `[*, in2_features]`, output `[*, out_features]`;
/// weight `[out_features, in1_features, in2_features]`, bias `[out_features]`.
pub struct Bilinear {
    weight: Parameter,
    bias: Option<Parameter>,
}

impl Bilinear {
    /// `Bilinear(x1, x2)`.
    pub fn forward_pair(&self, x1: &Tensor, x2: &Tensor) -> Result<Tensor> {
        let w = &self.weight.tensor();
        let (o, i1, i2) = w.dims3()?;
        let d1 = x1.dims().to_vec();
        let d2 = x2.dims().to_vec();
        if d1.last() != Some(&i1)
            || d2.last() != Some(&i2)
            || d1[..d1.len() - 1] != d2[..d2.len() - 1]
        {
            return Err(Error::shape(format!(
                "Bilinear: inputs {d1:?} and {d2:?} do not fit [*, {i1}] and [*, {i2}]"
            )));
        }
        let m: usize = d1[..d1.len() - 1].iter().product();
        let a = x1.reshape((m, i1))?;
        let b = x2.reshape((m, i2))?;
        // x1 · W as [m, o·i2], then the dot with x2 per output
        let wt = w.permute((1, 0, 2))?.reshape((i1, o * i2))?;
        let t = a.matmul(&wt)?.reshape((m, o, i2))?;
        let mut y = t.broadcast_mul(&b.unsqueeze(1)?)?.sum(2)?;
        if let Some(bias) = &self.bias {
            y = y.broadcast_add(&bias.tensor())?;
        }
        let mut out = d1;
        if let Some(l) = out.last_mut() {
            *l = o;
        }
        Ok(y.reshape(out)?)
    }
}

impl Layer for Bilinear {
    fn type_name(&self) -> &'static str {
        "Bilinear"
    }
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        self.forward_pair(x, x)
    }
    fn forward_inputs(&self, xs: &[Tensor], _train: bool) -> Result<Tensor> {
        match xs {
            [x] => self.forward_pair(x, x),
            [a, b] => self.forward_pair(a, b),
            _ => Err(Error::field(
                "from",
                format!("Bilinear takes two inputs, {} given", xs.len()),
            )),
        }
    }
    fn parameters(&self) -> Vec<Param> {
        let mut p = vec![Param::of("weight", &self.weight)];
        if let Some(b) = &self.bias {
            p.push(Param::of("bias", b));
        }
        p
    }
    fn describe(&self) -> String {
        let (o, i1, i2) = self.weight.var().dims3().unwrap_or((0, 0, 0));
        format!(
            "Bilinear(in1_features={i1}, in2_features={i2}, out_features={o}, bias={})",
            py_bool(self.bias.is_some())
        )
    }
}
