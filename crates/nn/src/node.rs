//! One entry of a container's `layers`: a layer or an op, with its name and inputs.
//!
//! ```toml
//! { name = "fc", type = "Linear", out_features = 2 }          # a named layer: fc.weight
//! { name = "sum", op = "add", from = ["bn2", "downsample"] }  # an op of two nodes
//! { type = "ReLU" }                                           # unnamed: its index
//! ```
//!
//! `name` is the module's `state_dict` prefix, as in `nn.Sequential(OrderedDict(...))`
//! (default: its position among the nodes kept, as `nn.Sequential(*layers)` numbers a
//! list built with `if …: layers.append(…)`); `from` names its inputs (default: the node
//! before it, or the container's input for the first); `when = false` leaves the node
//! out, its name then standing for its input (torchvision's `if self.downsample is not
//! None`);
//! `{ share = "embed", from = "x2" }` calls the module of node `embed` again, with the
//! same parameters (a siamese network).

use crate::config::LayerConfig;
use crate::op::{OpConfig, OpLayer, OpSpec};
use crate::{BuildCtx, Layer, LayerSpec, Result, Shape};
use serde::{Deserialize, Serialize};
use serde_value::Value;
use wick_tensor::catalog::{Catalog, Tagged};

/// What a node computes.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeBody {
    /// A layer (`type = "Linear"`), a module of the `state_dict`.
    Layer(LayerConfig),
    /// A parameter-free op (`op = "add"`).
    Op(OpConfig),
    /// Another call of the module of the node named here (`share = "embed"`), with its
    /// parameters: PyTorch's `self.embed(x2)` after `self.embed(x1)`, a siamese
    /// network's shared tower.
    Share(String),
}

/// A node of a container: a layer or an op, its name, its inputs (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    /// The module name (`"fc"`); `None`: its position.
    pub name: Option<String>,
    /// The names of its inputs (nodes or the container's inputs); empty: the node
    /// before it.
    pub from: Vec<String>,
    /// Whether the node is there (default true); without it, its name is its input.
    pub when: bool,
    /// The layer or op.
    pub body: NodeBody,
}

impl From<LayerConfig> for NodeConfig {
    fn from(layer: LayerConfig) -> Self {
        Self {
            name: None,
            from: Vec::new(),
            when: true,
            body: NodeBody::Layer(layer),
        }
    }
}

impl NodeConfig {
    /// The layer's class name or the op's name.
    pub fn type_name(&self) -> &'static str {
        match &self.body {
            NodeBody::Layer(l) => l.type_name(),
            NodeBody::Op(o) => o.type_name(),
            NodeBody::Share(_) => "share",
        }
    }

    /// The node whose module this one calls again, for a `share` node.
    pub fn shares(&self) -> Option<&str> {
        match &self.body {
            NodeBody::Share(n) => Some(n),
            _ => None,
        }
    }

    /// The layer config, for a layer node.
    pub fn layer(&self) -> Option<&LayerConfig> {
        match &self.body {
            NodeBody::Layer(l) => Some(l),
            _ => None,
        }
    }

    /// Whether this is an op node.
    pub fn is_op(&self) -> bool {
        matches!(self.body, NodeBody::Op(_))
    }

    /// Infers the output shape from the inputs' per-sample shapes (a `share` node is
    /// inferred by its container, through the node it shares).
    pub fn infer(&mut self, inputs: &[Shape]) -> Result<Shape> {
        match &mut self.body {
            NodeBody::Layer(l) => l.spec_mut().infer_inputs(inputs),
            NodeBody::Op(o) => OpSpec::infer(o.spec_mut(), inputs),
            NodeBody::Share(n) => Err(crate::Error::field(
                "share",
                format!("`share = \"{n}\"` is inferred by its container"),
            )),
        }
    }

    /// Builds the layer (an [`OpLayer`] for an op); [`NodeConfig::infer`] has run.
    pub fn build(&self, ctx: &mut BuildCtx) -> Result<Box<dyn Layer>> {
        match &self.body {
            NodeBody::Layer(l) => l.build(ctx),
            NodeBody::Op(o) => Ok(Box::new(OpLayer::new(o.clone()))),
            NodeBody::Share(n) => Err(crate::Error::field(
                "share",
                format!("`share = \"{n}\"` has no module of its own"),
            )),
        }
    }
}

impl Serialize for NodeConfig {
    fn serialize<Z: serde::Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        use serde::ser::Error;
        let mut table = toml::Table::new();
        if let Some(n) = &self.name {
            table.insert("name".into(), toml::Value::String(n.clone()));
        }
        let body = match &self.body {
            NodeBody::Layer(l) => toml::Value::try_from(l).map_err(Z::Error::custom)?,
            NodeBody::Op(o) => {
                let mut t = toml::Table::new();
                t.insert("op".into(), toml::Value::String(o.type_name().into()));
                t.extend(o.args_table());
                toml::Value::Table(t)
            }
            NodeBody::Share(n) => {
                let mut t = toml::Table::new();
                t.insert("share".into(), toml::Value::String(n.clone()));
                toml::Value::Table(t)
            }
        };
        if let toml::Value::Table(t) = body {
            table.extend(t);
        }
        match self.from.as_slice() {
            [] => {}
            [one] => {
                table.insert("from".into(), toml::Value::String(one.clone()));
            }
            many => {
                let list = many.iter().cloned().map(toml::Value::String).collect();
                table.insert("from".into(), toml::Value::Array(list));
            }
        }
        if !self.when {
            table.insert("when".into(), toml::Value::Boolean(false));
        }
        table.serialize(s)
    }
}

/// `from = "a"` or `from = ["a", "b"]`.
fn names_of(v: Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s]),
        Value::Seq(items) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                other => Err(format!("`from` lists node names, found {other:?}")),
            })
            .collect(),
        other => Err(format!(
            "`from` is a node name or a list of them, found {other:?}"
        )),
    }
}

/// Splits the node keys (`name`, `from`, `when`, `op`) off a node table.
struct NodeKeys {
    /// `name`.
    pub name: Option<String>,
    /// `from`.
    pub from: Vec<String>,
    /// `when`.
    pub when: bool,
    /// `op`.
    pub op: Option<String>,
    /// `share`.
    pub share: Option<String>,
}

impl NodeKeys {
    fn take(table: &mut std::collections::BTreeMap<Value, Value>) -> Result<Self, String> {
        let mut take = |k: &str| table.remove(&Value::String(k.into()));
        let name = match take("name") {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => return Err(format!("`name` must be a string, found {other:?}")),
        };
        let from = take("from").map(names_of).transpose()?.unwrap_or_default();
        let when = match take("when") {
            None => true,
            Some(Value::Bool(b)) => b,
            Some(other) => return Err(format!("`when` must be true or false, found {other:?}")),
        };
        let mut string = |k: &str| match take(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(format!("`{k}` must be a string, found {other:?}")),
        };
        let op = string("op")?;
        let share = string("share")?;
        Ok(Self {
            name,
            from,
            when,
            op,
            share,
        })
    }
}

impl<'de> Deserialize<'de> for NodeConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = match Value::deserialize(d)? {
            Value::Map(m) => m,
            other => {
                return Err(D::Error::custom(format!(
                    "expected a layer table like {{ type = \"...\" }}, found {other:?}"
                )))
            }
        };
        let keys = NodeKeys::take(&mut table).map_err(D::Error::custom)?;
        let rest = || serde_value::ValueDeserializer::<serde_value::DeserializerError>::new;
        if let Some(n) = keys.share {
            if !table.is_empty() {
                return Err(D::Error::custom(
                    "a `share` node calls another node's module: it has no `type`, `op` or arguments",
                ));
            }
            return Ok(Self {
                name: keys.name,
                from: keys.from,
                when: keys.when,
                body: NodeBody::Share(n),
            });
        }
        let body = match keys.op {
            Some(op) => {
                if table.contains_key(&Value::String("type".into())) {
                    return Err(D::Error::custom(
                        "a node is a layer (`type`) or an op (`op`), not both",
                    ));
                }
                let catalog = Catalog::<dyn OpSpec>::current();
                match catalog.decode(&op, rest()(Value::Map(table))) {
                    Some(r) => NodeBody::Op(r.map_err(D::Error::custom)?),
                    None => {
                        let known: Vec<_> = catalog.names().collect();
                        return Err(D::Error::custom(format!(
                            "unknown op `{op}` (known ops: {})",
                            known.join(", ")
                        )));
                    }
                }
            }
            None => NodeBody::Layer(
                Tagged::<dyn LayerSpec>::deserialize(rest()(Value::Map(table)))
                    .map_err(D::Error::custom)?,
            ),
        };
        Ok(Self {
            name: keys.name,
            from: keys.from,
            when: keys.when,
            body,
        })
    }
}
