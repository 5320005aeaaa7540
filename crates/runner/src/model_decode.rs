//! Decoding `[model]`: its inputs, its nodes (layers, ops, uses of blocks, nested
//! Sequentials) with their names and `from`, and its outputs — each key decoded with
//! its path, so that every mistake points at its line.

use crate::blocks::Blocks;
use crate::decode::{decode, decode_open, decode_tagged};
use crate::diagnostic::Diagnostic;
use crate::keypath::KeyPath;
use crate::schema::ModelConfig;
use crate::zoo::Zoo;
use serde::Deserialize;
use wick_nn::{LayerConfig, NodeBody, NodeConfig, OpSpec, SequentialConfig};

/// `[model]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModel {
    #[serde(default)]
    input: Option<toml::Value>,
    #[serde(default)]
    inputs: Option<toml::Table>,
    layers: Vec<toml::Value>,
    #[serde(default)]
    outputs: Option<Vec<String>>,
}

fn model_path() -> KeyPath {
    KeyPath::root().key("model")
}

impl RawModel {
    /// The typed `[model]` from its table: an architecture of the zoo
    /// (`type = "resnet18"` with its arguments, `input` optional), or written out.
    pub fn resolve_value(
        value: toml::Value,
        blocks: &Blocks,
        zoo: &Zoo,
    ) -> Result<ModelConfig, Diagnostic> {
        let path = model_path();
        let ty = value.get("type").cloned();
        let Some(ty) = ty else {
            let raw: RawModel = decode(value, &path)?;
            return raw.resolve(blocks);
        };
        let table = value.as_table().cloned().unwrap_or_default();
        let name = ty.as_str().unwrap_or_default();
        let Some(arch) = zoo.models.get(name) else {
            let known: Vec<&str> = zoo.models.keys().map(String::as_str).collect();
            let d = Diagnostic::value(path.key("type"), format!("unknown architecture `{name}`"))
                .with_label("not in the zoo");
            return Err(
                match crate::diagnostic::suggest(name, known.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("the zoo has {}", known.join(", "))),
                },
            );
        };
        let mut args = table.clone();
        let input = match args.remove("input") {
            Some(v) => decode(v, &path.key("input"))?,
            None => arch.input.clone(),
        };
        let layers = arch.block.instantiate(name, &args, &path)?;
        let mut decoder = NodeDecoder {
            blocks,
            using: vec![name.to_string()],
        };
        let at = KeyPath::root().key("models").key(name).key("layers");
        Ok(ModelConfig {
            inputs: vec![("input".into(), input)],
            layers: decoder.nodes(&layers, &at)?,
            outputs: Vec::new(),
        })
    }

    /// The typed `[model]`, blocks expanded.
    pub fn resolve(self, blocks: &Blocks) -> Result<ModelConfig, Diagnostic> {
        let inputs = self.input_shapes()?;
        let mut decoder = NodeDecoder {
            blocks,
            using: Vec::new(),
        };
        let layers = decoder.nodes(&self.layers, &model_path().key("layers"))?;
        Ok(ModelConfig {
            inputs,
            layers,
            outputs: self.outputs.unwrap_or_default(),
        })
    }

    fn input_shapes(&self) -> Result<Vec<(String, Vec<usize>)>, Diagnostic> {
        let path = model_path();
        match (&self.input, &self.inputs) {
            (Some(shape), None) => Ok(vec![(
                "input".into(),
                decode(shape.clone(), &path.key("input"))?,
            )]),
            (None, Some(named)) if !named.is_empty() => named
                .iter()
                .map(|(n, s)| Ok((n.clone(), decode(s.clone(), &path.key("inputs").key(n.as_str()))?)))
                .collect(),
            (Some(_), Some(_)) => Err(Diagnostic::key(
                path.key("inputs"),
                "give `input` (one input) or `inputs` (several, by name), not both",
            )
            .with_label("one or the other")),
            _ => Err(Diagnostic::value(path, "the model has no `input` shape")
                .with_label("missing `input`")
                .with_help("set input = [1, 28, 28] (the per-sample shape), or inputs = { x1 = [16], x2 = [16] }")),
        }
    }
}

/// Decodes node tables, expanding uses of blocks (and refusing a block that uses
/// itself).
struct NodeDecoder<'a> {
    blocks: &'a Blocks,
    using: Vec<String>,
}

/// `name`, `from` and `when` of a node table, removed from it.
fn node_keys(
    table: &mut toml::Table,
    path: &KeyPath,
) -> Result<(Option<String>, Vec<String>, bool), Diagnostic> {
    let name = match table.remove("name") {
        None => None,
        Some(toml::Value::String(s)) => Some(s),
        Some(other) => {
            return Err(Diagnostic::value(
                path.key("name"),
                format!("`name` must be a string, found {}", other.type_str()),
            )
            .with_label("not a string"))
        }
    };
    let from = match table.remove("from") {
        None => Vec::new(),
        Some(v) => decode::<FromNames>(v, &path.key("from"))
            .map_err(|d| {
                d.with_label("not a name")
                    .with_help("`from` is a node or input name, or a list of them")
            })?
            .into_vec(),
    };
    let when = match table.remove("when") {
        None => true,
        Some(toml::Value::Boolean(b)) => b,
        Some(other) => {
            return Err(Diagnostic::value(
                path.key("when"),
                format!("`when` must be true or false, found {other}"),
            )
            .with_label("not a boolean"))
        }
    };
    Ok((name, from, when))
}

/// `from = "a"` or `from = ["a", "b"]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum FromNames {
    One(String),
    Many(Vec<String>),
}

impl FromNames {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

impl NodeDecoder<'_> {
    fn nodes(
        &mut self,
        values: &[toml::Value],
        path: &KeyPath,
    ) -> Result<Vec<NodeConfig>, Diagnostic> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| self.node(v, &path.index(i)))
            .collect()
    }

    fn node(&mut self, value: &toml::Value, path: &KeyPath) -> Result<NodeConfig, Diagnostic> {
        let Some(table) = value.as_table() else {
            return Err(Diagnostic::value(
                path.clone(),
                format!(
                    "expected a layer table like {{ type = \"...\" }}, found a {}",
                    value.type_str()
                ),
            )
            .with_label("not a table"));
        };
        let mut rest = table.clone();
        let (name, from, when) = node_keys(&mut rest, path)?;
        let body = if let Some(share) = rest.remove("share") {
            Self::share(share, &rest, path)?
        } else if rest.contains_key("op") {
            if rest.contains_key("type") {
                return Err(Diagnostic::key(
                    path.key("op"),
                    "a node is a layer (`type`) or an op (`op`), not both",
                )
                .with_label("one or the other"));
            }
            NodeBody::Op(decode_tagged::<dyn OpSpec>(
                &toml::Value::Table(rest),
                path,
                "op",
            )?)
        } else {
            NodeBody::Layer(self.layer(rest, path)?)
        };
        Ok(NodeConfig {
            name,
            from,
            when,
            body,
        })
    }

    /// `{ share = "embed", from = "x2" }`: nothing else.
    fn share(
        share: toml::Value,
        rest: &toml::Table,
        path: &KeyPath,
    ) -> Result<NodeBody, Diagnostic> {
        let toml::Value::String(name) = share else {
            return Err(Diagnostic::value(
                path.key("share"),
                "`share` names a layer of this container",
            )
            .with_label("not a string"));
        };
        if let Some(k) = rest.keys().next() {
            return Err(Diagnostic::key(
                path.key(k.as_str()),
                format!("a `share` node calls the module of `{name}`: it takes no `{k}`"),
            )
            .with_label("not with `share`"));
        }
        Ok(NodeBody::Share(name))
    }

    fn layer(&mut self, table: toml::Table, path: &KeyPath) -> Result<LayerConfig, Diagnostic> {
        match table.get("type").and_then(toml::Value::as_str) {
            Some(ty) if self.blocks.get(ty).is_some() => self.block(ty.to_string(), &table, path),
            Some("Sequential") => self.sequential(table, path),
            _ => decode_open(&toml::Value::Table(table), path),
        }
    }

    fn block(
        &mut self,
        ty: String,
        table: &toml::Table,
        path: &KeyPath,
    ) -> Result<LayerConfig, Diagnostic> {
        if self.using.contains(&ty) {
            let mut chain = self.using.clone();
            chain.push(ty.clone());
            return Err(Diagnostic::value(
                path.key("type"),
                format!("the block {ty} uses itself: {}", chain.join(" → ")),
            )
            .with_label("recursive block"));
        }
        let Some(block) = self.blocks.get(&ty) else {
            return decode_open(&toml::Value::Table(table.clone()), path);
        };
        let body = block.instantiate(&ty, table, path)?;
        self.using.push(ty.clone());
        let layers = self.nodes(
            &body,
            &KeyPath::root().key("blocks").key(ty.as_str()).key("layers"),
        );
        self.using.pop();
        Ok(SequentialConfig {
            layers: layers?,
            inputs: block.inputs.clone().unwrap_or_else(|| vec!["input".into()]),
            outputs: block.outputs.clone().unwrap_or_default(),
            class: Some(ty),
            input: None,
        }
        .into())
    }

    /// A nested Sequential: its `layers` decoded as nodes (names, `from`, blocks).
    fn sequential(
        &mut self,
        mut table: toml::Table,
        path: &KeyPath,
    ) -> Result<LayerConfig, Diagnostic> {
        let layers = table.remove("layers");
        table.insert("layers".into(), toml::Value::Array(Vec::new()));
        let mut cfg: LayerConfig = decode_open(&toml::Value::Table(table), path)?;
        let Some(layers) = layers else {
            return Err(
                Diagnostic::value(path.clone(), "this Sequential has no `layers`")
                    .with_label("missing `layers`"),
            );
        };
        let list = layers.as_array().ok_or_else(|| {
            Diagnostic::value(
                path.key("layers"),
                "`layers` must be a list of layer tables",
            )
            .with_label("not a list")
        })?;
        let nodes = self.nodes(list, &path.key("layers"))?;
        if let Some(seq) = cfg.downcast_mut::<SequentialConfig>() {
            seq.layers = nodes;
        }
        Ok(cfg)
    }
}
