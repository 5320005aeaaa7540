use crate::shape::show_batched;
use crate::{BuildCtx, Error, Layer, LayerConfig, Result, Shape};
use candle_core::Tensor;
use std::collections::HashMap;
use std::fmt;
use wick_tensor::Param;

/// `torch.nn.Sequential`: layers applied in order. Parameters are named by position,
/// as in PyTorch's `state_dict` (`"1.weight"`, `"1.bias"`, `"3.weight"`, …).
pub struct Sequential {
    input: Shape,
    layers: Vec<Box<dyn Layer>>,
    shapes: Vec<Shape>,
}

impl Sequential {
    /// Runs shape inference through `configs` for per-sample input `input`, filling
    /// inferred arguments in place. Returns every layer's output shape. An error names
    /// the layer's index and class ([`Error::Layer`]).
    pub fn infer(input: &[usize], configs: &mut [LayerConfig]) -> Result<Vec<Shape>> {
        let mut shape = input.to_vec();
        let mut shapes = Vec::with_capacity(configs.len());
        for (index, cfg) in configs.iter_mut().enumerate() {
            shape = cfg.infer(&shape).map_err(|e| Error::Layer {
                index,
                ty: cfg.type_name(),
                source: Box::new(e),
            })?;
            shapes.push(shape.clone());
        }
        Ok(shapes)
    }

    /// Infers shapes and builds every layer with PyTorch's default init.
    pub fn new(input: &[usize], configs: &mut [LayerConfig], ctx: &mut BuildCtx) -> Result<Self> {
        let shapes = Self::infer(input, configs)?;
        let layers = configs
            .iter()
            .enumerate()
            .map(|(index, c)| {
                c.build(ctx).map_err(|e| Error::Layer {
                    index,
                    ty: c.type_name(),
                    source: Box::new(e),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            input: input.to_vec(),
            layers,
            shapes,
        })
    }

    /// The layers.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// The per-sample output shape.
    pub fn output_shape(&self) -> &[usize] {
        self.shapes.last().map(Vec::as_slice).unwrap_or(&self.input)
    }

    /// Runs every layer in order.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut x = x.clone();
        for layer in &self.layers {
            x = layer.forward(&x, train)?;
        }
        Ok(x)
    }

    /// All parameters with their `state_dict` names, in module order.
    pub fn parameters(&self) -> Vec<Param> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                l.parameters()
                    .into_iter()
                    .map(move |p| p.prefixed(&i.to_string()))
            })
            .collect()
    }

    /// Copies tensors into the parameters by `state_dict` name, as
    /// `model.load_state_dict(state_dict)` (strict: every parameter must be present with
    /// its shape, and no key may be left over).
    pub fn load_state_dict(&self, state: &HashMap<String, Tensor>) -> Result<()> {
        let params = self.parameters();
        for p in &params {
            let t = state
                .get(&p.name)
                .ok_or_else(|| Error::shape(format!("missing key in state_dict: {:?}", p.name)))?;
            if t.dims() != p.var.dims() {
                return Err(Error::shape(format!(
                    "size mismatch for {}: copying a param with shape {:?}, the shape in the \
                     current model is {:?}",
                    p.name,
                    t.dims(),
                    p.var.dims()
                )));
            }
            p.var
                .set(&t.to_dtype(p.var.dtype())?.to_device(p.var.device())?)?;
        }
        if let Some(extra) = state.keys().find(|k| !params.iter().any(|p| &p.name == *k)) {
            return Err(Error::shape(format!(
                "unexpected key in state_dict: {extra:?}"
            )));
        }
        Ok(())
    }

    /// The model table: layer, output shape and parameter count per layer.
    pub fn summary(&self) -> Summary {
        let rows = self
            .layers
            .iter()
            .zip(&self.shapes)
            .enumerate()
            .map(|(index, (l, s))| LayerSummary {
                index,
                ty: l.type_name(),
                repr: l.describe(),
                output_shape: s.clone(),
                params: l.parameters().iter().map(Param::numel).sum(),
            })
            .collect();
        Summary {
            input: self.input.clone(),
            rows,
        }
    }
}

impl Layer for Sequential {
    fn type_name(&self) -> &'static str {
        "Sequential"
    }
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Sequential::forward(self, x, train)
    }
    fn parameters(&self) -> Vec<Param> {
        Sequential::parameters(self)
    }
    fn describe(&self) -> String {
        let mut s = String::from("Sequential(\n");
        for (i, l) in self.layers.iter().enumerate() {
            s += &format!("  ({i}): {}\n", l.describe());
        }
        s + ")"
    }
}

/// One row of a [`Summary`].
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSummary {
    /// Position in the model.
    pub index: usize,
    /// PyTorch class name.
    pub ty: &'static str,
    /// `repr()` of the module.
    pub repr: String,
    /// Per-sample output shape.
    pub output_shape: Shape,
    /// Number of parameters.
    pub params: usize,
}

/// A model table like `torchsummary`'s: one row per layer, then the totals.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Per-sample input shape.
    pub input: Shape,
    /// One row per layer.
    pub rows: Vec<LayerSummary>,
}

impl Summary {
    /// Total number of parameters.
    pub fn total_params(&self) -> usize {
        self.rows.iter().map(|r| r.params).sum()
    }
}

/// `575050` → `575,050`.
pub(crate) fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layer_w = self
            .rows
            .iter()
            .map(|r| r.repr.len() + 6)
            .chain([20])
            .max()
            .unwrap_or(20);
        let line = "=".repeat(layer_w + 38);
        writeln!(
            f,
            "{:<layer_w$} {:<24} {:>12}",
            "Layer (type)", "Output Shape", "Param #"
        )?;
        writeln!(f, "{line}")?;
        writeln!(
            f,
            "{:<layer_w$} {:<24} {:>12}",
            "Input",
            show_batched(&self.input),
            ""
        )?;
        for r in &self.rows {
            let name = format!("{:<4} {}", r.index, r.repr);
            writeln!(
                f,
                "{name:<layer_w$} {:<24} {:>12}",
                show_batched(&r.output_shape),
                thousands(r.params)
            )?;
        }
        writeln!(f, "{line}")?;
        writeln!(f, "Total params: {}", thousands(self.total_params()))?;
        writeln!(f, "Trainable params: {}", thousands(self.total_params()))?;
        write!(f, "Non-trainable params: 0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Conv2dConfig, FlattenConfig, LinearConfig, MaxPool2dConfig, ReLUConfig};
    use candle_core::{DType, Device};
    use wick_tensor::SeedRng;

    fn mlp() -> Vec<LayerConfig> {
        let mut v = vec![LayerConfig::Flatten(FlattenConfig::default())];
        for (i, o) in [(784, 512), (512, 256), (256, 128), (128, 64)] {
            let _ = i;
            v.push(LayerConfig::Linear(LinearConfig {
                in_features: None,
                out_features: o,
                bias: true,
            }));
            v.push(LayerConfig::ReLU(ReLUConfig::default()));
        }
        v.push(LayerConfig::Linear(LinearConfig {
            in_features: None,
            out_features: 10,
            bias: true,
        }));
        v
    }

    #[test]
    fn mlp_summary_has_575050_params() {
        let mut cfgs = mlp();
        let mut rng = SeedRng::new(0);
        let mut ctx = BuildCtx {
            device: &Device::Cpu,
            dtype: DType::F32,
            rng: &mut rng,
        };
        let m = Sequential::new(&[1, 28, 28], &mut cfgs, &mut ctx).unwrap();
        let s = m.summary();
        assert_eq!(s.total_params(), 575_050);
        let text = s.to_string();
        assert!(text.contains("Total params: 575,050"), "{text}");
        assert!(
            text.contains("Linear(in_features=784, out_features=512, bias=True)"),
            "{text}"
        );
        let names: Vec<String> = m.parameters().into_iter().map(|p| p.name).collect();
        assert_eq!(names[..4], ["1.weight", "1.bias", "3.weight", "3.bias"]);
        let x = Tensor::zeros((5, 1, 28, 28), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(m.forward(&x, true).unwrap().dims(), &[5, 10]);
    }

    #[test]
    fn shape_mismatch_names_the_layer_and_field() {
        let mut cfgs = mlp();
        if let LayerConfig::Linear(l) = &mut cfgs[3] {
            l.in_features = Some(500);
        }
        let err = Sequential::infer(&[1, 28, 28], &mut cfgs).unwrap_err();
        match &err {
            Error::Layer {
                index: 3,
                ty: "Linear",
                source,
            } => match source.as_ref() {
                Error::Config {
                    field: Some("in_features"),
                    message,
                } => {
                    assert!(message.contains("512"), "{message}")
                }
                e => panic!("{e:?}"),
            },
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn cnn_shapes() {
        let mut cfgs = vec![
            LayerConfig::Conv2d(Conv2dConfig {
                padding: 1.into(),
                ..Conv2dConfig::new(1, 32, 3)
            }),
            LayerConfig::ReLU(ReLUConfig::default()),
            LayerConfig::MaxPool2d(MaxPool2dConfig::new(2)),
            LayerConfig::Conv2d(Conv2dConfig {
                in_channels: None,
                padding: 1.into(),
                ..Conv2dConfig::new(0, 64, 3)
            }),
            LayerConfig::MaxPool2d(MaxPool2dConfig::new(2)),
            LayerConfig::Flatten(FlattenConfig::default()),
            LayerConfig::Linear(LinearConfig {
                in_features: None,
                out_features: 10,
                bias: true,
            }),
        ];
        let shapes = Sequential::infer(&[1, 28, 28], &mut cfgs).unwrap();
        assert_eq!(shapes[0], vec![32, 28, 28]);
        assert_eq!(shapes[4], vec![64, 7, 7]);
        assert_eq!(shapes[5], vec![3136]);
        match &cfgs[6] {
            LayerConfig::Linear(l) => assert_eq!(l.in_features, Some(3136)),
            _ => unreachable!(),
        }
        // a conv on a flat input is an error naming the layer
        let mut bad = vec![
            LayerConfig::Flatten(FlattenConfig::default()),
            LayerConfig::Conv2d(Conv2dConfig::new(1, 4, 3)),
        ];
        let e = Sequential::infer(&[1, 8, 8], &mut bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("layer 1 (Conv2d)"), "{e}");
    }

    #[test]
    fn catalog_knows_its_types() {
        assert!(LayerConfig::TYPES.contains(&"Conv2d"));
        assert_eq!(
            LayerConfig::fields_of("Linear").unwrap(),
            &["in_features", "out_features", "bias"]
        );
        assert!(LayerConfig::fields_of("Conv3d").is_none());
    }
}
