use crate::children::{
    child_buffers, child_counters, child_load_buffer, child_parameters, child_set_counter,
    child_state_dict, container_repr,
};
use crate::fusion::Step;
use crate::node::NodeConfig;
use crate::wiring::{Src, Wiring};
use crate::{
    BuildCtx, Error, FusionPlan, Layer, LayerConfig, LayerSummary, Result, Shape, Summary,
};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use wick_tensor::Param;

fn input_names() -> Vec<String> {
    vec!["input".into()]
}

fn is_input_names(v: &[String]) -> bool {
    v == ["input"]
}

/// `torch.nn.Sequential` as a layer of a model: `{ type = "Sequential", layers = [...] }`,
/// and, with nodes that name their inputs (`from`), the declarative form of a
/// `forward()`: a graph.
///
/// Its parameters are named `"<node>.<child>.<name>"` (`"4.0.bias"`, `"fc.weight"`): a
/// node's `name`, else its position, as PyTorch's for `nn.Sequential(OrderedDict(...))`.
/// `inputs` names the values it takes (default one, `input`), which nodes may name in
/// `from`; `outputs` the nodes it returns (default: the last).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequentialConfig {
    /// The nodes: layers and ops, in `state_dict` order.
    pub layers: Vec<NodeConfig>,
    /// The names of its inputs (default `["input"]`).
    #[serde(default = "input_names", skip_serializing_if = "is_input_names")]
    pub inputs: Vec<String>,
    /// The nodes it returns (default: the last); one when used as a layer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<String>,
    /// The module's class name in `repr()` and exports (a block's name); default
    /// `Sequential`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Per-sample input shapes, recorded by [`SequentialConfig::infer_inputs`].
    #[serde(skip)]
    pub input: Option<Vec<Shape>>,
}

impl SequentialConfig {
    /// A chain of `layers`.
    pub fn chain(layers: Vec<LayerConfig>) -> Self {
        Self {
            layers: layers.into_iter().map(NodeConfig::from).collect(),
            inputs: input_names(),
            outputs: Vec::new(),
            class: None,
            input: None,
        }
    }

    /// Infers through the inner layers for one input.
    pub fn infer(&mut self, input: &[usize]) -> Result<Shape> {
        self.infer_inputs(&[input.to_vec()])
    }

    /// Infers through the nodes; errors name the inner node.
    pub fn infer_inputs(&mut self, inputs: &[Shape]) -> Result<Shape> {
        if inputs.len() != self.inputs.len() {
            return Err(Error::field(
                "from",
                format!(
                    "this block takes {} input(s) ({}), {} given",
                    self.inputs.len(),
                    self.inputs.join(", "),
                    inputs.len()
                ),
            ));
        }
        if self.outputs.len() > 1 {
            return Err(Error::field(
                "outputs",
                "a block used as a layer returns one output",
            ));
        }
        let named = self.named_inputs(inputs);
        let mut inferred = Sequential::infer_graph(&named, &mut self.layers, &self.outputs)?;
        self.input = Some(inputs.to_vec());
        Ok(inferred.outputs.swap_remove(0))
    }

    fn named_inputs(&self, shapes: &[Shape]) -> Vec<(String, Shape)> {
        self.inputs
            .iter()
            .cloned()
            .zip(shapes.iter().cloned())
            .collect()
    }

    /// Builds the nodes; [`SequentialConfig::infer`] must have run.
    pub fn init(&self, ctx: &mut BuildCtx) -> Result<Sequential> {
        let input = self
            .input
            .as_ref()
            .ok_or_else(|| Error::shape("Sequential: input shape not inferred"))?;
        let named = self.named_inputs(input);
        let mut nodes = self.layers.clone();
        let s = Sequential::graph(&named, &mut nodes, &self.outputs, ctx)?;
        Ok(s.with_class(self.class.clone()))
    }
}

/// What shape inference through a container found.
#[derive(Debug, Clone, PartialEq)]
pub struct Inferred {
    /// How the nodes connect.
    pub(crate) wiring: Wiring,
    /// The output shape of every node that is there, in file order.
    pub shapes: Vec<Shape>,
    /// The shapes of the outputs.
    pub outputs: Vec<Shape>,
}

/// `torch.nn.Sequential`, and the graphs of nodes that name their inputs (see
/// [`SequentialConfig`]). Parameters are named as in PyTorch's `state_dict`
/// (`"1.weight"`, `"fc.bias"`, `"layer1.0.conv1.weight"`).
pub struct Sequential {
    inputs: Vec<(String, Shape)>,
    layers: Vec<Arc<dyn Layer>>,
    /// Nodes without a module of their own (ops, `share` nodes): not children.
    ops: Vec<bool>,
    shapes: Vec<Shape>,
    outputs: Vec<Shape>,
    wiring: Wiring,
    plan: FusionPlan,
    class: Option<String>,
}

impl Sequential {
    /// Runs shape inference through a chain of `configs` for per-sample input `input`,
    /// filling inferred arguments in place. Returns every layer's output shape. An
    /// error names the layer's index and class ([`Error::Layer`]).
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

    /// Runs shape inference through the nodes of a graph with named inputs, filling
    /// inferred arguments in place (nodes left out by `when = false` are not inferred).
    /// An error names the node ([`Error::Layer`], its position in `nodes`), or the
    /// container's `inputs`/`outputs`.
    pub fn infer_graph(
        inputs: &[(String, Shape)],
        nodes: &mut [NodeConfig],
        outputs: &[String],
    ) -> Result<Inferred> {
        let names: Vec<String> = inputs.iter().map(|(n, _)| n.clone()).collect();
        let wiring = Wiring::new(&names, nodes, outputs)?;
        let mut shapes: Vec<Option<Shape>> = vec![None; wiring.kept.len()];
        let shape_of = |s: &Src, shapes: &[Option<Shape>]| match s {
            Src::Input(i) => inputs[*i].1.clone(),
            Src::Node(k) => shapes[*k].clone().unwrap_or_default(),
        };
        for &k in &wiring.order {
            let index = wiring.kept[k];
            let ins: Vec<Shape> = wiring.sources[k]
                .iter()
                .map(|s| shape_of(s, &shapes))
                .collect();
            let out = match wiring.shares[k] {
                Some(t) => infer_shared(&nodes[wiring.kept[t]], &wiring.names[t], &ins),
                None => nodes[index].infer(&ins),
            };
            shapes[k] = Some(out.map_err(|e| Error::Layer {
                index,
                ty: nodes[index].type_name(),
                source: Box::new(e),
            })?);
        }
        let outputs = wiring
            .outputs
            .iter()
            .map(|s| shape_of(s, &shapes))
            .collect();
        Ok(Inferred {
            shapes: shapes.into_iter().map(Option::unwrap_or_default).collect(),
            outputs,
            wiring,
        })
    }

    /// Infers shapes and builds every layer of a chain with PyTorch's default init.
    pub fn new(input: &[usize], configs: &mut [LayerConfig], ctx: &mut BuildCtx) -> Result<Self> {
        Self::infer(input, configs)?;
        let mut nodes: Vec<NodeConfig> = configs.iter().cloned().map(NodeConfig::from).collect();
        Self::graph(&[("input".into(), input.to_vec())], &mut nodes, &[], ctx)
    }

    /// Infers shapes through a graph and builds every node, in file order (so that the
    /// init stream is drawn as PyTorch's `__init__` would, module after module).
    pub fn graph(
        inputs: &[(String, Shape)],
        nodes: &mut [NodeConfig],
        outputs: &[String],
        ctx: &mut BuildCtx,
    ) -> Result<Self> {
        let inferred = Self::infer_graph(inputs, nodes, outputs)?;
        let wiring = inferred.wiring;
        let layers = build_layers(nodes, &wiring, ctx)?;
        let plan = plan(&layers, &wiring);
        Ok(Self {
            inputs: inputs.to_vec(),
            ops: wiring
                .kept
                .iter()
                .map(|&i| nodes[i].layer().is_none())
                .collect(),
            layers,
            shapes: inferred.shapes,
            outputs: inferred.outputs,
            wiring,
            plan,
            class: None,
        })
    }

    fn with_class(mut self, class: Option<String>) -> Self {
        self.class = class;
        self
    }

    /// The layers (and ops) that are there, in file order.
    pub fn layers(&self) -> &[Arc<dyn Layer>] {
        &self.layers
    }

    /// The name of every layer (its `name`, else its position), in file order.
    pub fn names(&self) -> &[String] {
        &self.wiring.names
    }

    /// The per-sample input shape (of the first input).
    pub fn input_shape(&self) -> &[usize] {
        &self.inputs[0].1
    }

    /// The inputs' names and per-sample shapes.
    pub fn inputs(&self) -> &[(String, Shape)] {
        &self.inputs
    }

    /// The per-sample output shape of every layer.
    pub fn shapes(&self) -> &[Shape] {
        &self.shapes
    }

    /// The per-sample output shape (of the first output).
    pub fn output_shape(&self) -> &[usize] {
        &self.outputs[0]
    }

    /// The per-sample shapes of the outputs.
    pub fn output_shapes(&self) -> &[Shape] {
        &self.outputs
    }

    /// Whether this is a plain chain (`nn.Sequential`).
    pub fn is_chain(&self) -> bool {
        self.wiring.chain
    }

    /// The names of each layer's inputs, in file order: empty where a layer takes the
    /// one before it (or, the first, the only input), as in a chain.
    pub fn sources(&self) -> Vec<Vec<String>> {
        let single = self.inputs.len() == 1;
        self.wiring
            .sources
            .iter()
            .enumerate()
            .map(|(k, s)| match (k, s.as_slice()) {
                (0, [Src::Input(0)]) if single => Vec::new(),
                (k, [Src::Node(j)]) if k == j + 1 => Vec::new(),
                _ => s.iter().map(|s| self.source_name(s)).collect(),
            })
            .collect()
    }

    fn source_name(&self, s: &Src) -> String {
        match s {
            Src::Input(i) => self.inputs[*i].0.clone(),
            Src::Node(k) => self.wiring.names[*k].clone(),
        }
    }

    /// The layers run as one fused op (index ranges), as planned when the container was
    /// built ([`FusionPlan`]).
    pub fn fused(&self) -> Vec<std::ops::Range<usize>> {
        self.plan.fused()
    }

    /// Runs the chain or graph on one input, each fused group ([`Sequential::fused`])
    /// as one op: the same values and gradients.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if self.wiring.chain {
            return self.plan.forward(&self.layers, x, train);
        }
        self.one(self.forward_all(std::slice::from_ref(x), train)?)
    }

    fn one(&self, mut outs: Vec<Tensor>) -> Result<Tensor> {
        match outs.len() {
            1 => Ok(outs.swap_remove(0)),
            n => Err(Error::shape(format!(
                "this model returns {n} outputs; run it with forward_all"
            ))),
        }
    }

    /// Runs the graph on its inputs (in `inputs` order) and returns its outputs.
    pub fn forward_all(&self, xs: &[Tensor], train: bool) -> Result<Vec<Tensor>> {
        if xs.len() != self.inputs.len() {
            return Err(Error::shape(format!(
                "the model takes {} input(s), {} given",
                self.inputs.len(),
                xs.len()
            )));
        }
        if self.wiring.chain {
            return Ok(vec![self.plan.forward(&self.layers, &xs[0], train)?]);
        }
        let mut run = Run::new(&self.wiring, xs);
        for step in self.plan.steps() {
            run.step(self, step, train)?;
        }
        Ok(self.wiring.outputs.iter().map(|s| run.get(s)).collect())
    }

    fn named(&self) -> Vec<(String, &dyn Layer)> {
        self.wiring
            .names
            .iter()
            .zip(&self.layers)
            .zip(&self.ops)
            .filter(|(_, op)| !**op)
            .map(|((n, l), _)| (n.clone(), l.as_ref()))
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

    /// `model.load_state_dict(state_dict, strict=strict)`: the keys that did not match
    /// (an error with `strict`); see [`crate::load_state_dict_with`].
    pub fn load_state_dict_with(
        &self,
        state: &HashMap<String, Tensor>,
        strict: bool,
    ) -> Result<crate::IncompatibleKeys> {
        crate::state_dict::load_state_dict_with(self, state, strict)
    }

    /// Counters of the random streams (Dropout masks drawn), for checkpoints.
    pub fn rng_counters(&self) -> Vec<(String, u64)> {
        child_counters(&self.named())
    }

    /// Restores counters saved from [`Sequential::rng_counters`].
    pub fn set_rng_counters(&self, counters: &[(String, u64)]) -> Result<()> {
        crate::state_dict::set_rng_counters(self, counters)
    }

    /// The rows of this container's layers and, under containers, of their children.
    pub(crate) fn rows(&self, prefix: &str, depth: usize) -> Vec<LayerSummary> {
        let sources = self.sources();
        let mut rows = Vec::new();
        for (index, (l, s)) in self.layers.iter().zip(&self.shapes).enumerate() {
            let own = &self.wiring.names[index];
            let name = if prefix.is_empty() {
                own.clone()
            } else {
                format!("{prefix}.{own}")
            };
            let shared = self.wiring.shares[index].map(|t| &self.wiring.names[t]);
            let own_params = match shared {
                Some(_) => Vec::new(),
                None => l.parameters(),
            };
            let params: usize = own_params.iter().map(Param::numel).sum();
            let trainable: usize = own_params
                .iter()
                .filter(|p| p.requires_grad())
                .map(Param::numel)
                .sum();
            let nested = match shared {
                Some(_) => Vec::new(),
                None => l.summary_rows(&name, depth + 1),
            };
            rows.push(LayerSummary {
                index,
                name: name.clone(),
                depth,
                ty: l.type_name(),
                repr: if let Some(t) = shared {
                    format!("{} (shares {t})", class_of(l.as_ref()))
                } else if nested.is_empty() {
                    l.describe()
                } else {
                    format!("{}: {name}", class_of(l.as_ref()))
                },
                from: sources[index].clone(),
                output_shape: s.clone(),
                params,
                trainable,
                container: !nested.is_empty(),
            });
            rows.extend(nested);
        }
        rows
    }

    /// The model table, torchinfo-like: every layer (nested ones indented under their
    /// container) with its inputs when they are not the layer before, its output shape,
    /// parameter count and whether it trains.
    pub fn summary(&self) -> Summary {
        Summary {
            inputs: self.inputs.clone(),
            rows: self.rows("", 0),
            batch_size: None,
        }
    }
}

/// The output shape of another call of `shared`'s module (named `name`) on `inputs`:
/// its config, inferred again for them, must keep its parameters' shapes.
fn infer_shared(shared: &NodeConfig, name: &str, inputs: &[Shape]) -> Result<Shape> {
    let mut again = shared.clone();
    let out = again.infer(inputs).map_err(|e| {
        Error::field(
            "share",
            format!("the module of `{name}` does not fit these inputs: {e}"),
        )
    })?;
    if again != *shared {
        return Err(Error::field(
            "share",
            format!("the module of `{name}` would need other parameters for these inputs"),
        ));
    }
    Ok(out)
}

/// Builds every node that is there in file order (so that the init stream is drawn as
/// PyTorch's `__init__` would, module after module); a `share` node gets the module it
/// shares.
fn build_layers(
    nodes: &[NodeConfig],
    wiring: &Wiring,
    ctx: &mut BuildCtx,
) -> Result<Vec<Arc<dyn Layer>>> {
    let mut owned: Vec<Option<Arc<dyn Layer>>> = Vec::with_capacity(wiring.kept.len());
    for (k, &index) in wiring.kept.iter().enumerate() {
        if wiring.shares[k].is_some() {
            owned.push(None);
            continue;
        }
        let c = &nodes[index];
        let built = c.build(ctx).map_err(|e| Error::Layer {
            index,
            ty: c.type_name(),
            source: Box::new(e),
        })?;
        owned.push(Some(Arc::from(built)));
    }
    wiring
        .shares
        .iter()
        .enumerate()
        .map(|(k, s)| {
            owned[s.unwrap_or(k)]
                .clone()
                .ok_or_else(|| Error::shape("a shared node shares another shared node"))
        })
        .collect()
}

/// The class a container prints (`Sequential`, a block's name): its `repr()`'s head.
fn class_of(l: &dyn Layer) -> String {
    let repr = l.describe();
    match repr.split_once('(') {
        Some((head, _)) if !head.contains(char::is_whitespace) => head.to_string(),
        _ => l.type_name().to_string(),
    }
}

/// The fusions of a container: a chain's as [`FusionPlan::new`]; in a graph, a node
/// fuses the next one in the running order when that one takes its output alone and
/// nothing else does (a node of several inputs through
/// [`Layer::forward_fused_inputs`]: `add` then `ReLU`).
fn plan(layers: &[Arc<dyn Layer>], wiring: &Wiring) -> FusionPlan {
    if wiring.chain {
        return FusionPlan::new(layers);
    }
    let uses = wiring.uses();
    FusionPlan::ordered(layers, &wiring.order, |prev, next| {
        wiring.sources[next] == [Src::Node(prev)] && uses[prev] == 1
    })
}

/// The values of one forward pass through a graph, each dropped after its last use.
struct Run<'a> {
    inputs: &'a [Tensor],
    values: Vec<Option<Tensor>>,
    left: Vec<usize>,
}

impl<'a> Run<'a> {
    fn new(wiring: &Wiring, inputs: &'a [Tensor]) -> Self {
        Self {
            inputs,
            values: vec![None; wiring.kept.len()],
            left: wiring.uses(),
        }
    }

    fn get(&self, s: &Src) -> Tensor {
        match s {
            Src::Input(i) => self.inputs[*i].clone(),
            // the running order computes every node before its users
            Src::Node(k) => self.values[*k].clone().expect("computed before its users"),
        }
    }

    fn take(&mut self, s: &Src) -> Tensor {
        let t = self.get(s);
        if let Src::Node(k) = s {
            self.left[*k] -= 1;
            if self.left[*k] == 0 {
                self.values[*k] = None;
            }
        }
        t
    }

    fn step(&mut self, seq: &Sequential, step: &Step, train: bool) -> Result<()> {
        let ins: Vec<Tensor> = seq.wiring.sources[step.layer]
            .iter()
            .map(|s| self.take(s))
            .collect();
        let layer = &seq.layers[step.layer];
        let out = if step.epilogue.is_empty() {
            layer.forward_inputs(&ins, train)
        } else {
            layer.forward_fused_inputs(&ins, train, &step.epilogue)
        };
        self.values[step.last] = Some(out.map_err(|e| Error::Layer {
            index: seq.wiring.kept[step.layer],
            ty: layer.type_name(),
            source: Box::new(e),
        })?);
        Ok(())
    }
}

impl Layer for Sequential {
    fn type_name(&self) -> &'static str {
        "Sequential"
    }
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Sequential::forward(self, x, train)
    }
    fn forward_inputs(&self, xs: &[Tensor], train: bool) -> Result<Tensor> {
        self.one(self.forward_all(xs, train)?)
    }
    fn forward_outputs(&self, xs: &[Tensor], train: bool) -> Result<Vec<Tensor>> {
        self.forward_all(xs, train)
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
        let class = match &self.class {
            Some(c) => c.as_str(),
            None if self.wiring.chain => "Sequential",
            None => "Graph",
        };
        container_repr(class, &self.named())
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
    use crate::summary::thousands;
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
        assert!(e.contains("size mismatch for 1.running_mean"), "{e}");
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
