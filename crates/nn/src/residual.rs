use crate::children::{
    child_buffers, child_counters, child_load_buffer, child_parameters, child_set_counter,
    child_state_dict, container_repr,
};
use crate::shape::show_batched;
use crate::{
    BuildCtx, Epilogue, Error, Layer, LayerConfig, LayerSummary, Result, Sequential, Shape,
};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use wick_tensor::Param;

/// A residual block: `{ type = "Residual", layers = [...], projection = [...] }`.
///
/// Its output is `layers(x) + projection(x)`, or `layers(x) + x` without a projection.
/// The equivalent PyTorch module, whose `state_dict` names wick's match
/// (`"2.layers.0.weight"`, `"2.projection.1.running_mean"`):
///
/// ```python
/// class Residual(nn.Module):
///     def __init__(self, layers, projection=None):
///         super().__init__()
///         self.layers = nn.Sequential(*layers)
///         self.projection = nn.Sequential(*projection) if projection else None
///
///     def forward(self, x):
///         shortcut = x if self.projection is None else self.projection(x)
///         return self.layers(x) + shortcut
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResidualConfig {
    /// The main branch.
    pub layers: Vec<LayerConfig>,
    /// The shortcut branch (for example a 1×1 Conv2d and a BatchNorm2d when the main
    /// branch changes the shape); the identity when absent or empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projection: Option<Vec<LayerConfig>>,
    /// Per-sample input shape, recorded by [`ResidualConfig::infer`].
    #[serde(skip)]
    pub input: Option<Shape>,
}

impl ResidualConfig {
    fn projection(&self) -> Option<&Vec<LayerConfig>> {
        self.projection.as_ref().filter(|p| !p.is_empty())
    }

    /// Infers both branches and checks that their shapes agree.
    pub fn infer(&mut self, input: &[usize]) -> Result<Shape> {
        let main = Sequential::infer(input, &mut self.layers)?
            .last()
            .cloned()
            .unwrap_or_else(|| input.to_vec());
        let shortcut = match self.projection.as_mut().filter(|p| !p.is_empty()) {
            Some(p) => Sequential::infer(input, p)
                .map_err(|e| Error::shape(format!("projection: {e}")))?
                .last()
                .cloned()
                .unwrap_or_else(|| input.to_vec()),
            None => input.to_vec(),
        };
        if main != shortcut {
            let what = if self.projection().is_some() {
                "the projection gives"
            } else {
                "the shortcut (the input, no projection) is"
            };
            return Err(Error::shape(format!(
                "Residual: the layers give {} but {what} {}; they must match to be added{}",
                show_batched(&main),
                show_batched(&shortcut),
                if self.projection().is_some() {
                    ""
                } else {
                    " (add a projection, e.g. a 1x1 Conv2d)"
                }
            )));
        }
        self.input = Some(input.to_vec());
        Ok(main)
    }

    /// Builds both branches; [`ResidualConfig::infer`] must have run.
    pub fn init(&self, ctx: &mut BuildCtx) -> Result<Residual> {
        let input = self
            .input
            .clone()
            .ok_or_else(|| Error::shape("Residual: input shape not inferred"))?;
        let layers = Sequential::new(&input, &mut self.layers.clone(), ctx)?;
        let projection = match self.projection() {
            Some(p) => Some(Sequential::new(&input, &mut p.clone(), ctx)?),
            None => None,
        };
        Ok(Residual { layers, projection })
    }
}

/// `Residual`: `layers(x) + (projection(x) or x)`. See [`ResidualConfig`] for the
/// PyTorch module it stands for.
pub struct Residual {
    layers: Sequential,
    projection: Option<Sequential>,
}

impl Residual {
    /// `layers(x) + shortcut(x)`, then the ReLU when `relu` (one op).
    fn apply(&self, x: &Tensor, train: bool, relu: bool) -> Result<Tensor> {
        let main = self.layers.forward(x, train)?;
        let shortcut = match &self.projection {
            Some(p) => p.forward(x, train)?,
            None => x.clone(),
        };
        if main.dims() != shortcut.dims() {
            return Err(Error::shape(format!(
                "Residual: the layers give {:?} but the shortcut gives {:?}",
                main.dims(),
                shortcut.dims()
            )));
        }
        Ok(if relu {
            crate::ops::add_relu(&main, &shortcut)?
        } else {
            (main + shortcut)?
        })
    }

    fn named(&self) -> Vec<(String, &dyn Layer)> {
        let mut v: Vec<(String, &dyn Layer)> = vec![("layers".into(), &self.layers)];
        if let Some(p) = &self.projection {
            v.push(("projection".into(), p));
        }
        v
    }
}

impl Layer for Residual {
    fn type_name(&self) -> &'static str {
        "Residual"
    }
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.apply(x, train, false)
    }
    /// A following `ReLU`: `relu(main + shortcut)` as one op.
    fn fuses(&self, next: &[Epilogue]) -> usize {
        usize::from(next.first() == Some(&Epilogue::Relu))
    }
    fn forward_fused(&self, x: &Tensor, train: bool, epilogue: &[Epilogue]) -> Result<Tensor> {
        let (relu, rest) = Epilogue::leading_relu(epilogue);
        Epilogue::apply_all(self.apply(x, train, relu)?, rest, train)
    }
    fn parameters(&self) -> Vec<Param> {
        child_parameters(&self.named())
    }
    fn buffers(&self) -> Vec<(String, Tensor)> {
        child_buffers(&self.named())
    }
    fn load_buffer(&self, name: &str, value: &Tensor) -> Result<()> {
        child_load_buffer(&self.named(), name, value)
    }
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        child_state_dict(&self.named())
    }
    fn rng_counters(&self) -> Vec<(String, u64)> {
        child_counters(&self.named())
    }
    fn set_rng_counter(&self, name: &str, value: u64) -> Result<()> {
        child_set_counter(&self.named(), name, value)
    }
    fn children(&self) -> Vec<(String, &dyn Layer)> {
        self.named()
    }
    fn summary_rows(&self, path: &str, depth: usize) -> Vec<LayerSummary> {
        let mut rows = self.layers.rows(&format!("{path}.layers"), depth);
        if let Some(p) = &self.projection {
            rows.extend(p.rows(&format!("{path}.projection"), depth));
        }
        rows
    }
    fn describe(&self) -> String {
        container_repr("Residual", &self.named())
    }
}

#[cfg(test)]
mod tests {
    use crate::{BuildCtx, LayerConfig, Sequential};
    use candle_core::{DType, Device, Tensor};
    use wick_tensor::SeedRng;

    #[derive(serde::Deserialize)]
    struct Model {
        layers: Vec<LayerConfig>,
    }

    /// A small ResNet as an experiment file writes it.
    const TOML: &str = r#"
layers = [
  { type = "Conv2d", out_channels = 8, kernel_size = 3, padding = 1, bias = false },
  { type = "BatchNorm2d" },
  { type = "ReLU" },
  { type = "Residual", layers = [
      { type = "Conv2d", out_channels = 8, kernel_size = 3, padding = 1, bias = false },
      { type = "BatchNorm2d", momentum = "None" },
      { type = "ReLU" },
      { type = "Conv2d", out_channels = 8, kernel_size = 3, padding = 1, bias = false },
      { type = "BatchNorm2d" },
  ] },
  { type = "Residual",
    layers = [
      { type = "Conv2d", out_channels = 16, kernel_size = 3, stride = 2, padding = 1, bias = false },
      { type = "BatchNorm2d" },
    ],
    projection = [
      { type = "Conv2d", out_channels = 16, kernel_size = 1, stride = 2, bias = false },
      { type = "BatchNorm2d" },
    ] },
  { type = "ReLU" },
  { type = "Sequential", layers = [{ type = "Flatten" }, { type = "Dropout", p = 0.2 }] },
  { type = "Linear", out_features = 10 },
]
"#;

    #[test]
    fn resnet_from_toml() {
        let mut m: Model = toml::from_str(TOML).unwrap();
        let mut rng = SeedRng::new(0);
        let mut ctx = BuildCtx {
            device: &Device::Cpu,
            dtype: DType::F32,
            rng: &mut rng,
        };
        let net = Sequential::new(&[1, 28, 28], &mut m.layers, &mut ctx).unwrap();
        assert_eq!(net.shapes()[4], vec![16, 14, 14]);
        let x = Tensor::randn(0f32, 1., (4, 1, 28, 28), &Device::Cpu).unwrap();
        let y = net.forward(&x, true).unwrap();
        assert_eq!(y.dims(), &[4, 10]);
        let g = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
        for p in net.parameters() {
            assert!(g.get(p.tensor()).is_some(), "{} has no gradient", p.name);
        }
        assert!(net
            .parameters()
            .iter()
            .any(|p| p.name == "4.projection.1.weight"));
        // the configs serialize back to TOML (what the run directory's config.toml holds)
        let text = toml::to_string(&toml::Value::try_from(&m.layers[3]).unwrap()).unwrap();
        assert!(text.contains("momentum = \"None\""), "{text}");
    }
}
