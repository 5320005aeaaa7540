//! The model of `wick export --python`: a chain as `nn.Sequential(...)` (with an
//! `OrderedDict` where its layers have names), and a graph — nodes that name their
//! inputs, ops, blocks — as an `nn.Module` class whose `__init__` creates the named
//! modules and whose `forward` is the graph, so that the run's `state_dict` loads into it
//! with `strict=True`. A block's uses become classes named after it (`BasicBlock`, and
//! `BasicBlock_2`, … for uses that differ in their arguments).

use crate::schema::ModelConfig;
use std::fmt::Write;
use wick_nn::{connections, LayerConfig, NodeBody, NodeConfig, SequentialConfig};

/// Spells a plain layer (not a container of nodes) as a PyTorch expression.
pub(crate) type LayerExpr<'a> = &'a dyn Fn(&LayerConfig, usize) -> String;

/// The classes a model needs and the expression that builds it.
pub(crate) struct PyModel<'a> {
    layer: LayerExpr<'a>,
    /// `(class name, body after the name)` in the order they are needed.
    classes: Vec<(String, String)>,
}

/// A TOML value as a Python literal.
pub(crate) fn py(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) if f.is_nan() => "float('nan')".into(),
        toml::Value::Float(f) if f.is_infinite() => if *f > 0.0 {
            "float('inf')"
        } else {
            "float('-inf')"
        }
        .into(),
        toml::Value::Float(f) => {
            let s = format!("{f:?}");
            s
        }
        toml::Value::Boolean(b) => if *b { "True" } else { "False" }.into(),
        toml::Value::Datetime(d) => format!("{:?}", d.to_string()),
        toml::Value::Array(a) => {
            let items: Vec<String> = a.iter().map(py).collect();
            if items.len() == 1 {
                format!("({},)", items[0])
            } else {
                format!("({})", items.join(", "))
            }
        }
        toml::Value::Table(t) => {
            let items: Vec<String> = t.iter().map(|(k, v)| format!("{k:?}: {}", py(v))).collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// `name` as a Python identifier for a local variable.
fn var(name: &str) -> String {
    const KEYWORDS: [&str; 8] = ["in", "is", "if", "or", "and", "not", "for", "def"];
    let ident = name
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    if ident && !KEYWORDS.contains(&name) {
        name.to_string()
    } else {
        let clean: String = name
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '_' })
            .collect();
        format!("v_{clean}")
    }
}

/// `self.conv1`, or `getattr(self, "0")` for a name that is not an identifier.
fn attr(name: &str) -> String {
    if var(name) == name {
        format!("self.{name}")
    } else {
        format!("getattr(self, {name:?})")
    }
}

impl<'a> PyModel<'a> {
    pub fn new(layer: LayerExpr<'a>) -> Self {
        Self {
            layer,
            classes: Vec::new(),
        }
    }

    /// The class definitions, in dependency order.
    pub fn classes(&self) -> String {
        self.classes
            .iter()
            .map(|(name, body)| format!("\n\nclass {name}{body}"))
            .collect()
    }

    /// The expression of the whole model.
    pub fn model(&mut self, m: &ModelConfig) -> String {
        let inputs = m.input_names();
        self.container(&inputs, &m.layers, &m.outputs, Some("Model"), 0)
    }

    /// The expression of a container: `nn.Sequential(...)` for a chain, else an instance
    /// of a generated class (`class_hint`, or `Graph`).
    fn container(
        &mut self,
        inputs: &[String],
        nodes: &[NodeConfig],
        outputs: &[String],
        class_hint: Option<&str>,
        indent: usize,
    ) -> String {
        let Ok(c) = connections(inputs, nodes, outputs) else {
            return "None  # the model's wiring does not resolve".into();
        };
        let plain = c.chain && nodes.iter().all(|n| !n.is_op() && n.when);
        if plain {
            return self.sequential(nodes, indent);
        }
        let class = self.graph_class(inputs, nodes, &c, class_hint.unwrap_or("Graph"));
        format!("{class}()")
    }

    fn sequential(&mut self, nodes: &[NodeConfig], indent: usize) -> String {
        let pad = " ".repeat(indent + 4);
        let named = nodes.iter().any(|n| n.name.is_some());
        let items: Vec<String> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let e = self.module(n, indent + 4);
                match (named, &n.name) {
                    (true, Some(name)) => format!("{pad}({name:?}, {e}),"),
                    (true, None) => format!("{pad}(\"{i}\", {e}),"),
                    _ => format!("{pad}{e},"),
                }
            })
            .collect();
        let body = items.join("\n");
        let end = " ".repeat(indent);
        if named {
            format!("nn.Sequential(OrderedDict([\n{body}\n{end}]))")
        } else {
            format!("nn.Sequential(\n{body}\n{end})")
        }
    }

    /// The module of a layer node (a nested container of nodes, or a plain layer).
    fn module(&mut self, node: &NodeConfig, indent: usize) -> String {
        let NodeBody::Layer(layer) = &node.body else {
            return "nn.Identity()".into();
        };
        match layer.downcast_ref::<SequentialConfig>() {
            Some(seq) => self.container(
                &seq.inputs,
                &seq.layers,
                &seq.outputs,
                seq.class.as_deref(),
                indent,
            ),
            None => (self.layer)(layer, indent),
        }
    }

    /// Writes the class of a graph and returns its name (reusing an identical one).
    fn graph_class(
        &mut self,
        inputs: &[String],
        nodes: &[NodeConfig],
        c: &wick_nn::Connections,
        hint: &str,
    ) -> String {
        let mut init = String::new();
        for (k, &i) in c.kept.iter().enumerate() {
            let node = &nodes[i];
            if node.layer().is_none() {
                continue;
            }
            let name = &c.names[k];
            let module = self.module(node, 8);
            if var(name) == *name {
                writeln!(init, "        self.{name} = {module}").ok();
            } else {
                writeln!(init, "        self.add_module({name:?}, {module})").ok();
            }
        }
        let mut forward = String::new();
        for &k in &c.order {
            let node = &nodes[c.kept[k]];
            let args: Vec<String> = c.sources[k].iter().map(|s| var(s)).collect();
            let expr = match &node.body {
                NodeBody::Op(op) => op.python(&args),
                NodeBody::Layer(_) => format!("{}({})", attr(&c.names[k]), args.join(", ")),
                NodeBody::Share(shared) => format!("{}({})", attr(shared), args.join(", ")),
            };
            writeln!(forward, "        {} = {expr}", var(&c.names[k])).ok();
        }
        let outs: Vec<String> = c.outputs.iter().map(|o| var(o)).collect();
        let params: Vec<String> = inputs.iter().map(|i| var(i)).collect();
        let body = format!(
            "(nn.Module):\n    def __init__(self):\n        super().__init__()\n{init}\n    \
             def forward(self, {}):\n{forward}        return {}\n",
            params.join(", "),
            outs.join(", ")
        );
        if let Some((name, _)) = self.classes.iter().find(|(_, b)| *b == body) {
            return name.clone();
        }
        let taken = |n: &str| self.classes.iter().any(|(c, _)| c == n);
        let mut name = hint.to_string();
        let mut i = 2;
        while taken(&name) {
            name = format!("{hint}_{i}");
            i += 1;
        }
        self.classes.push((name.clone(), body));
        name
    }
}
