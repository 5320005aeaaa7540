use crate::layer::split_name;
use crate::shape::show_batched;
use crate::{BuildCtx, Error, FusionPlan, Layer, LayerConfig, Result, Shape};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use wick_tensor::Param;

/// `torch.nn.Sequential` as a layer of a model: `{ type = "Sequential", layers = [...] }`.
/// Its parameters are named `"<index>.<child index>.<name>"` (`"4.0.bias"`), as
/// PyTorch's for nested `nn.Sequential`s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequentialConfig {
    /// The layers, in order.
    pub layers: Vec<LayerConfig>,
    /// Per-sample input shape, recorded by [`SequentialConfig::infer`].
    #[serde(skip)]
    pub input: Option<Shape>,
}

impl SequentialConfig {
    /// Infers through the inner layers; errors name the inner layer.
    pub fn infer(&mut self, input: &[usize]) -> Result<Shape> {
        let shapes = Sequential::infer(input, &mut self.layers)?;
        self.input = Some(input.to_vec());
        Ok(shapes.last().cloned().unwrap_or_else(|| input.to_vec()))
    }

    /// Builds the inner layers; [`SequentialConfig::infer`] must have run.
    pub fn init(&self, ctx: &mut BuildCtx) -> Result<Sequential> {
        let input = self
            .input
            .as_ref()
            .ok_or_else(|| Error::shape("Sequential: input shape not inferred"))?;
        Sequential::new(input, &mut self.layers.clone(), ctx)
    }
}

/// Parameters of named children, prefixed with the child's name.
pub(crate) fn child_parameters(children: &[(String, &dyn Layer)]) -> Vec<Param> {
    children
        .iter()
        .flat_map(|(n, l)| l.parameters().into_iter().map(move |p| p.prefixed(n)))
        .collect()
}

/// Buffers of named children, prefixed.
pub(crate) fn child_buffers(children: &[(String, &dyn Layer)]) -> Vec<(String, Tensor)> {
    children
        .iter()
        .flat_map(|(n, l)| {
            l.buffers()
                .into_iter()
                .map(move |(b, t)| (format!("{n}.{b}"), t))
        })
        .collect()
}

/// `state_dict()` of named children in module order, prefixed.
pub(crate) fn child_state_dict(children: &[(String, &dyn Layer)]) -> Vec<(String, Tensor)> {
    children
        .iter()
        .flat_map(|(n, l)| {
            l.state_dict()
                .into_iter()
                .map(move |(b, t)| (format!("{n}.{b}"), t))
        })
        .collect()
}

/// Routes `"<child>.<rest>"` to the child.
pub(crate) fn child_load_buffer(
    children: &[(String, &dyn Layer)],
    name: &str,
    value: &Tensor,
) -> Result<()> {
    if let Some((head, rest)) = split_name(name) {
        if let Some((_, l)) = children.iter().find(|(n, _)| n == head) {
            return l.load_buffer(rest, value);
        }
    }
    Err(Error::shape(format!(
        "unexpected key in state_dict: {name:?}"
    )))
}

/// Random-stream counters of named children, prefixed.
pub(crate) fn child_counters(children: &[(String, &dyn Layer)]) -> Vec<(String, u64)> {
    children
        .iter()
        .flat_map(|(n, l)| {
            l.rng_counters()
                .into_iter()
                .map(move |(b, v)| (format!("{n}.{b}"), v))
        })
        .collect()
}

/// Routes a counter to the child.
pub(crate) fn child_set_counter(
    children: &[(String, &dyn Layer)],
    name: &str,
    value: u64,
) -> Result<()> {
    if let Some((head, rest)) = split_name(name) {
        if let Some((_, l)) = children.iter().find(|(n, _)| n == head) {
            return l.set_rng_counter(rest, value);
        }
    }
    Err(Error::shape(format!("no random stream named {name:?}")))
}

/// `repr()` of a container, children indented as PyTorch's `_addindent` does.
pub(crate) fn container_repr(ty: &str, children: &[(String, &dyn Layer)]) -> String {
    let mut s = format!("{ty}(\n");
    for (n, l) in children {
        let child = l.describe().replace('\n', "\n  ");
        s += &format!("  ({n}): {child}\n");
    }
    s + ")"
}

/// `torch.nn.Sequential`: layers applied in order. Parameters are named by position,
/// as in PyTorch's `state_dict` (`"1.weight"`, `"1.bias"`, `"3.weight"`, …), nested
/// containers adding their own prefixes (`"4.0.bias"`, `"2.layers.0.weight"`).
pub struct Sequential {
    input: Shape,
    layers: Vec<Box<dyn Layer>>,
    shapes: Vec<Shape>,
    plan: FusionPlan,
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
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            input: input.to_vec(),
            plan: FusionPlan::new(&layers),
            layers,
            shapes,
        })
    }

    /// The layers.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// The per-sample input shape.
    pub fn input_shape(&self) -> &[usize] {
        &self.input
    }

    /// The per-sample output shape of every layer.
    pub fn shapes(&self) -> &[Shape] {
        &self.shapes
    }

    /// The per-sample output shape.
    pub fn output_shape(&self) -> &[usize] {
        self.shapes.last().map(Vec::as_slice).unwrap_or(&self.input)
    }

    /// The layers run as one fused op (index ranges), as planned when the container was
    /// built ([`FusionPlan`]).
    pub fn fused(&self) -> Vec<std::ops::Range<usize>> {
        self.plan.fused()
    }

    /// Runs every layer in order, each fused group ([`Sequential::fused`]) as one op:
    /// the same values and gradients.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.plan.forward(&self.layers, x, train)
    }

    fn named(&self) -> Vec<(String, &dyn Layer)> {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, l)| (i.to_string(), l.as_ref()))
            .collect()
    }

    /// All parameters with their `state_dict` names, in module order.
    pub fn parameters(&self) -> Vec<Param> {
        child_parameters(&self.named())
    }

    /// All buffers (`"1.running_mean"`, …) in module order.
    pub fn buffers(&self) -> Vec<(String, Tensor)> {
        child_buffers(&self.named())
    }

    /// `model.state_dict()`: parameters and buffers by PyTorch name, in PyTorch's order
    /// (each module's parameters, then its buffers, children in order). Saved as
    /// safetensors, it loads into the equivalent PyTorch model.
    pub fn state_dict(&self) -> Vec<(String, Tensor)> {
        child_state_dict(&self.named())
    }

    /// Copies tensors into the parameters and buffers by `state_dict` name, as
    /// `model.load_state_dict(state_dict)` (strict: every parameter and buffer must be
    /// present with its shape, and no key may be left over).
    pub fn load_state_dict(&self, state: &HashMap<String, Tensor>) -> Result<()> {
        crate::state_dict::load_state_dict(self, state)
    }

    /// Counters of the random streams (Dropout masks drawn), for checkpoints.
    pub fn rng_counters(&self) -> Vec<(String, u64)> {
        child_counters(&self.named())
    }

    /// Restores counters saved from [`Sequential::rng_counters`].
    pub fn set_rng_counters(&self, counters: &[(String, u64)]) -> Result<()> {
        crate::state_dict::set_rng_counters(self, counters)
    }

    /// The rows of this Sequential's layers and, under containers, of their children.
    pub(crate) fn rows(&self, prefix: &str, depth: usize) -> Vec<LayerSummary> {
        let mut rows = Vec::new();
        for (index, (l, s)) in self.layers.iter().zip(&self.shapes).enumerate() {
            let name = if prefix.is_empty() {
                index.to_string()
            } else {
                format!("{prefix}.{index}")
            };
            let params: usize = l.parameters().iter().map(Param::numel).sum();
            let nested = l.summary_rows(&name, depth + 1);
            rows.push(LayerSummary {
                index,
                name: name.clone(),
                depth,
                ty: l.type_name(),
                repr: if nested.is_empty() {
                    l.describe()
                } else {
                    format!("{}: {name}", l.type_name())
                },
                output_shape: s.clone(),
                params,
                trainable: params > 0,
                container: !nested.is_empty(),
            });
            rows.extend(nested);
        }
        rows
    }

    /// The model table, torchinfo-like: every layer (nested ones indented under their
    /// container) with its output shape, parameter count and whether it trains.
    pub fn summary(&self) -> Summary {
        Summary {
            input: self.input.clone(),
            rows: self.rows("", 0),
            batch_size: None,
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
    fn buffers(&self) -> Vec<(String, Tensor)> {
        Sequential::buffers(self)
    }
    fn load_buffer(&self, name: &str, value: &Tensor) -> Result<()> {
        child_load_buffer(&self.named(), name, value)
    }
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        Sequential::state_dict(self)
    }
    fn rng_counters(&self) -> Vec<(String, u64)> {
        Sequential::rng_counters(self)
    }
    fn set_rng_counter(&self, name: &str, value: u64) -> Result<()> {
        child_set_counter(&self.named(), name, value)
    }
    fn children(&self) -> Vec<(String, &dyn Layer)> {
        self.named()
    }
    fn summary_rows(&self, path: &str, depth: usize) -> Vec<LayerSummary> {
        self.rows(path, depth)
    }
    fn describe(&self) -> String {
        container_repr("Sequential", &self.named())
    }
}

/// One row of a [`Summary`].
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSummary {
    /// Position in its container.
    pub index: usize,
    /// The module's path, the prefix of its `state_dict` keys (`"3"`, `"3.layers.0"`).
    pub name: String,
    /// Nesting depth (0 for the model's own layers).
    pub depth: usize,
    /// PyTorch class name.
    pub ty: &'static str,
    /// `repr()` of the module (for containers, their class and path).
    pub repr: String,
    /// Per-sample output shape.
    pub output_shape: Shape,
    /// Number of parameters (a container's include its children's).
    pub params: usize,
    /// Whether it has parameters that train.
    pub trainable: bool,
    /// Whether it is a container whose children follow.
    pub container: bool,
}

/// A model table like torchinfo's: one row per layer, then the totals and an estimate
/// of the memory a forward and backward pass takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Per-sample input shape.
    pub input: Shape,
    /// One row per layer, nested layers after their container.
    pub rows: Vec<LayerSummary>,
    /// Batch size for the memory estimate (per sample when `None`).
    pub batch_size: Option<usize>,
}

impl Summary {
    /// The same table with memory estimated for batches of `n`.
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = Some(n);
        self
    }

    /// Total number of parameters.
    pub fn total_params(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.depth == 0)
            .map(|r| r.params)
            .sum()
    }

    /// Trainable parameters (every wick parameter trains).
    pub fn trainable_params(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.depth == 0 && r.trainable)
            .map(|r| r.params)
            .sum()
    }

    /// Bytes of activations a forward and backward pass keeps per sample (f32): every
    /// non-container layer's output, and its gradient, as torchinfo's "Forward/backward
    /// pass size".
    pub fn activation_bytes_per_sample(&self) -> usize {
        let outputs: usize = self
            .rows
            .iter()
            .filter(|r| !r.container)
            .map(|r| r.output_shape.iter().product::<usize>())
            .sum();
        2 * 4 * outputs
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

fn mb(bytes: usize) -> String {
    format!("{:.2}", bytes as f64 / 1e6)
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = |r: &LayerSummary| format!("{}{:<4} {}", "  ".repeat(r.depth), r.name, r.repr);
        let layer_w = self
            .rows
            .iter()
            .map(|r| label(r).len())
            .chain([20])
            .max()
            .unwrap_or(20);
        let line = "=".repeat(layer_w + 50);
        writeln!(
            f,
            "{:<layer_w$} {:<24} {:>12} {:>11}",
            "Layer (type)", "Output Shape", "Param #", "Trainable"
        )?;
        writeln!(f, "{line}")?;
        writeln!(
            f,
            "{:<layer_w$} {:<24} {:>12} {:>11}",
            "Input",
            show_batched(&self.input),
            "",
            ""
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<layer_w$} {:<24} {:>12} {:>11}",
                label(r),
                show_batched(&r.output_shape),
                if r.params == 0 {
                    "--".into()
                } else {
                    thousands(r.params)
                },
                if r.params == 0 {
                    "--"
                } else if r.trainable {
                    "True"
                } else {
                    "False"
                }
            )?;
        }
        writeln!(f, "{line}")?;
        let total = self.total_params();
        let trainable = self.trainable_params();
        writeln!(f, "Total params: {}", thousands(total))?;
        writeln!(f, "Trainable params: {}", thousands(trainable))?;
        writeln!(f, "Non-trainable params: {}", thousands(total - trainable))?;
        writeln!(f, "{line}")?;
        let n = self.batch_size.unwrap_or(1);
        let input_bytes = 4 * n * self.input.iter().product::<usize>();
        let act = n * self.activation_bytes_per_sample();
        let params = 4 * total;
        let per = match self.batch_size {
            Some(n) => format!("batch of {n}"),
            None => "sample".into(),
        };
        writeln!(f, "Input size per {per} (MB): {}", mb(input_bytes))?;
        writeln!(f, "Forward/backward pass size per {per} (MB): {}", mb(act))?;
        writeln!(f, "Params size (MB): {}", mb(params))?;
        write!(
            f,
            "Estimated total size per {per} (MB): {}",
            mb(input_bytes + act + params)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Conv2dConfig, FlattenConfig, LinearConfig, MaxPool2dConfig, ReLUConfig};
    use candle_core::{DType, Device};
    use wick_tensor::SeedRng;

    fn mlp() -> Vec<LayerConfig> {
        let mut v = vec![LayerConfig::from(FlattenConfig::default())];
        for (i, o) in [(784, 512), (512, 256), (256, 128), (128, 64)] {
            let _ = i;
            v.push(LayerConfig::from(LinearConfig {
                in_features: None,
                out_features: o,
                bias: true,
                init: None,
            }));
            v.push(LayerConfig::from(ReLUConfig::default()));
        }
        v.push(LayerConfig::from(LinearConfig {
            in_features: None,
            out_features: 10,
            bias: true,
            init: None,
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
        if let Some(l) = cfgs[3].downcast_mut::<LinearConfig>() {
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
            LayerConfig::from(Conv2dConfig {
                padding: 1.into(),
                ..Conv2dConfig::new(1, 32, 3)
            }),
            LayerConfig::from(ReLUConfig::default()),
            LayerConfig::from(MaxPool2dConfig::new(2)),
            LayerConfig::from(Conv2dConfig {
                in_channels: None,
                padding: 1.into(),
                ..Conv2dConfig::new(0, 64, 3)
            }),
            LayerConfig::from(MaxPool2dConfig::new(2)),
            LayerConfig::from(FlattenConfig::default()),
            LayerConfig::from(LinearConfig {
                in_features: None,
                out_features: 10,
                bias: true,
                init: None,
            }),
        ];
        let shapes = Sequential::infer(&[1, 28, 28], &mut cfgs).unwrap();
        assert_eq!(shapes[0], vec![32, 28, 28]);
        assert_eq!(shapes[4], vec![64, 7, 7]);
        assert_eq!(shapes[5], vec![3136]);
        let l = cfgs[6].downcast_ref::<LinearConfig>().unwrap();
        assert_eq!(l.in_features, Some(3136));
        // a conv on a flat input is an error naming the layer
        let mut bad = vec![
            LayerConfig::from(FlattenConfig::default()),
            LayerConfig::from(Conv2dConfig::new(1, 4, 3)),
        ];
        let e = Sequential::infer(&[1, 8, 8], &mut bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("layer 1 (Conv2d)"), "{e}");
    }

    #[test]
    fn catalog_knows_its_types() {
        use wick_tensor::catalog::Kind;
        let catalog = <dyn crate::LayerSpec>::builtins();
        assert!(catalog.contains("Conv2d"));
        assert_eq!(
            catalog.fields_of("Linear").unwrap(),
            &["in_features", "out_features", "bias", "init"]
        );
        assert!(catalog.fields_of("Conv3d").is_none());
    }
}

#[cfg(test)]
mod container_tests {
    use super::*;
    use candle_core::{DType, Device};
    use wick_tensor::SeedRng;

    fn build(json: &str, input: &[usize]) -> Sequential {
        let mut cfgs: Vec<LayerConfig> = serde_json::from_str(json).unwrap();
        let mut rng = SeedRng::new(0);
        let mut ctx = BuildCtx {
            device: &Device::Cpu,
            dtype: DType::F32,
            rng: &mut rng,
        };
        Sequential::new(input, &mut cfgs, &mut ctx).unwrap()
    }

    const RESNETISH: &str = r#"[
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1},
        {"type": "BatchNorm2d"},
        {"type": "ReLU"},
        {"type": "Residual",
         "layers": [{"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
                    {"type": "BatchNorm2d", "momentum": "None"}],
         "projection": [{"type": "Conv2d", "out_channels": 8, "kernel_size": 1, "bias": false}]},
        {"type": "Sequential", "layers": [{"type": "Dropout", "p": 0.25}, {"type": "Flatten"},
                                          {"type": "Linear", "out_features": 3}]}
    ]"#;

    #[test]
    fn state_dict_names_follow_pytorch() {
        let m = build(RESNETISH, &[1, 5, 5]);
        let keys: Vec<String> = m.state_dict().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "0.weight",
                "0.bias",
                "1.weight",
                "1.bias",
                "1.running_mean",
                "1.running_var",
                "1.num_batches_tracked",
                "3.layers.0.weight",
                "3.layers.0.bias",
                "3.layers.1.weight",
                "3.layers.1.bias",
                "3.layers.1.running_mean",
                "3.layers.1.running_var",
                "3.layers.1.num_batches_tracked",
                "3.projection.0.weight",
                "4.2.weight",
                "4.2.bias",
            ]
        );
        assert_eq!(m.output_shape(), &[3]);
        assert_eq!(m.rng_counters(), vec![("4.0.masks_drawn".to_string(), 0)]);
        let x = Tensor::ones((2, 1, 5, 5), DType::F32, &Device::Cpu).unwrap();
        m.forward(&x, true).unwrap();
        m.forward(&x, true).unwrap();
        let sd: HashMap<String, Tensor> = m.state_dict().into_iter().collect();
        assert_eq!(
            sd["3.layers.1.num_batches_tracked"]
                .to_scalar::<i64>()
                .unwrap(),
            2
        );
        assert_eq!(m.rng_counters(), vec![("4.0.masks_drawn".to_string(), 2)]);
        // a fresh model loads it all back: parameters, buffers; counters separately
        let fresh = build(RESNETISH, &[1, 5, 5]);
        fresh.load_state_dict(&sd).unwrap();
        fresh.set_rng_counters(&m.rng_counters()).unwrap();
        for ((k, a), (_, b)) in m.state_dict().iter().zip(fresh.state_dict().iter()) {
            let d = (a.to_dtype(DType::F64).unwrap() - b.to_dtype(DType::F64).unwrap())
                .unwrap()
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap();
            assert_eq!(d, 0.0, "{k}");
        }
        assert_eq!(fresh.rng_counters(), m.rng_counters());
        // strictness
        let mut missing = sd.clone();
        missing.remove("1.running_var");
        let e = fresh.load_state_dict(&missing).unwrap_err().to_string();
        assert!(
            e.contains("Missing key(s) in state_dict: \"1.running_var\""),
            "{e}"
        );
        let mut extra = sd.clone();
        extra.insert("9.weight".into(), sd["0.bias"].clone());
        let e = fresh.load_state_dict(&extra).unwrap_err().to_string();
        assert!(
            e.contains("Unexpected key(s) in state_dict: \"9.weight\""),
            "{e}"
        );
        let mut wrong = sd;
        wrong.insert(
            "1.running_mean".into(),
            Tensor::zeros(5, DType::F32, &Device::Cpu).unwrap(),
        );
        let e = fresh.load_state_dict(&wrong).unwrap_err().to_string();
        assert!(e.contains("size mismatch for running_mean"), "{e}");
    }

    #[test]
    fn residual_shapes_must_match() {
        let mut cfgs: Vec<LayerConfig> = serde_json::from_str(
            r#"[{"type": "Flatten"},
                {"type": "Residual", "layers": [{"type": "Linear", "out_features": 4}]}]"#,
        )
        .unwrap();
        let e = Sequential::infer(&[2, 3], &mut cfgs)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("layer 1 (Residual)")
                && e.contains("the layers give [-1, 4]")
                && e.contains("[-1, 6]"),
            "{e}"
        );
    }

    #[test]
    fn summary_nests_and_estimates_memory() {
        let m = build(RESNETISH, &[1, 5, 5]);
        let s = m.summary();
        let names: Vec<&str> = s.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "0",
                "1",
                "2",
                "3",
                "3.layers.0",
                "3.layers.1",
                "3.projection.0",
                "4",
                "4.0",
                "4.1",
                "4.2"
            ]
        );
        // conv 4·9+4, bn 8, conv 8·4·9+8, bn 16, 1×1 conv 32, linear 200·3+3
        let total = 40 + 8 + 296 + 16 + 32 + 603;
        assert_eq!(s.total_params(), total);
        assert_eq!(s.rows[3].params, 296 + 16 + 32);
        // leaf outputs per sample: 100 ×3, 200 ×3, 200, 200, 3
        assert_eq!(s.activation_bytes_per_sample(), 8 * (300 + 600 + 400 + 3));
        let text = s.with_batch_size(64).to_string();
        assert!(
            text.contains(&format!("Total params: {}", thousands(total))),
            "{text}"
        );
        assert!(
            text.contains("  3.layers.1 BatchNorm2d(8, eps=1e-05, momentum=None"),
            "{text}"
        );
        assert!(
            text.contains("Forward/backward pass size per batch of 64 (MB): 0.67"),
            "{text}"
        );
        assert!(
            m.describe()
                .contains("(3): Residual(\n    (layers): Sequential(\n      (0): Conv2d"),
            "{}",
            m.describe()
        );
    }
}
