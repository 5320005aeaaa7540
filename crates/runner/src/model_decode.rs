//! Decoding `[model]`: its inputs, its nodes (layers, ops, uses of blocks, nested
//! Sequentials) with their names and `from`, and its outputs — each key decoded with
//! its path, so that every mistake points at its line.

use crate::blocks::Blocks;
use crate::decode::{decode, decode_open, decode_tagged};
use crate::diagnostic::Diagnostic;
use crate::keypath::KeyPath;
use crate::schema::ModelConfig;
use crate::transfer::TransferConfig;
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
    /// (`type = "resnet18"` with its arguments, `input` optional), or written out; then
    /// its transfer keys and `replace`.
    pub fn resolve_value(
        value: toml::Value,
        blocks: &Blocks,
        zoo: &Zoo,
    ) -> Result<ModelConfig, Diagnostic> {
        let path = model_path();
        let toml::Value::Table(mut table) = value else {
            let raw: RawModel = decode(value, &path)?;
            return raw.resolve(blocks);
        };
        let mut transfer = take_transfer(&mut table)?;
        let replace = table.remove("replace");
        let mut model = match table.get("type").cloned() {
            None => {
                check_weights_name(&transfer, None)?;
                let architecture = match table.remove("architecture") {
                    Some(a) => Some(decode(a, &path.key("architecture"))?),
                    None => None,
                };
                let raw: RawModel = decode(toml::Value::Table(table), &path)?;
                ModelConfig {
                    architecture,
                    ..raw.resolve(blocks)?
                }
            }
            Some(ty) => zoo_model(&ty, table, blocks, zoo, &mut transfer)?,
        };
        if let Some(r) = replace {
            let mut decoder = NodeDecoder {
                blocks,
                using: Vec::new(),
            };
            let names = decoder.replace(&mut model.layers, r, &mut transfer)?;
            if let Some(a) = &mut model.architecture {
                a.replaced.extend(names);
            }
        }
        model.transfer = transfer;
        Ok(model)
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
            transfer: TransferConfig::default(),
            architecture: None,
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

/// Takes `[model]`'s transfer keys (`weights`, `freeze`, …) out of its table.
fn take_transfer(table: &mut toml::Table) -> Result<TransferConfig, Diagnostic> {
    let mut keys = toml::Table::new();
    for k in crate::transfer::KEYS {
        if let Some(v) = table.remove(*k) {
            keys.insert((*k).to_string(), v);
        }
    }
    decode(toml::Value::Table(keys), &model_path())
}

/// Whether `weights` looks like a torchvision weights name (`IMAGENET1K_V1`).
fn weights_name(transfer: &TransferConfig) -> Option<&str> {
    let w = transfer.weights.as_deref()?;
    let named = !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    named.then_some(w)
}

/// Refuses a weights name for a model that is not a zoo architecture, or one the
/// architecture `arch` (named `ty`) does not have.
fn check_weights_name(
    transfer: &TransferConfig,
    arch: Option<(&str, &crate::zoo::ZooModel)>,
) -> Result<(), Diagnostic> {
    let Some(name) = weights_name(transfer) else {
        return Ok(());
    };
    let at = model_path().key("weights");
    let Some((ty, arch)) = arch else {
        return Err(Diagnostic::value(
            at,
            format!("`{name}` names torchvision weights, which only the zoo's architectures have"),
        )
        .with_label("not a file")
        .with_help("give a .pth or .safetensors file, a run directory or a URL"));
    };
    if arch.weights_url(name).is_some() {
        return Ok(());
    }
    let known: Vec<&str> = arch.weights.keys().map(String::as_str).collect();
    let d = Diagnostic::value(at, format!("{ty} has no weights called `{name}`"))
        .with_label("unknown weights");
    Err(
        d.with_nearest(name, known.iter().copied(), || match known.is_empty() {
            true => format!("torchvision has no pretrained {ty}"),
            false => format!("{ty} has {}", known.join(", ")),
        }),
    )
}

/// An architecture of the zoo with its arguments: its weights name written as its
/// URL, and its head (`fc`) left out of loading when `num_classes` resizes it.
fn zoo_model(
    ty: &toml::Value,
    mut args: toml::Table,
    blocks: &Blocks,
    zoo: &Zoo,
    transfer: &mut TransferConfig,
) -> Result<ModelConfig, Diagnostic> {
    let path = model_path();
    let name = ty.as_str().unwrap_or_default();
    let Some(arch) = zoo.models.get(name) else {
        let known: Vec<&str> = zoo.models.keys().map(String::as_str).collect();
        let d = Diagnostic::value(path.key("type"), format!("unknown architecture `{name}`"))
            .with_label("not in the zoo");
        return Err(d.with_nearest(name, known.iter().copied(), || {
            format!("the zoo has {}", known.join(", "))
        }));
    };
    check_zoo_args(name, arch, &args)?;
    check_weights_name(transfer, Some((name, arch)))?;
    if let Some(w) = weights_name(transfer).and_then(|w| arch.weights_url(w)) {
        transfer.weights = Some(w.to_string());
    }
    if transfer.weights.is_some() && transfer.rename.is_empty() {
        transfer.rename = arch.rename.clone();
    }
    let resized = |k: &str| {
        args.get(k)
            .is_some_and(|v| arch.block.defaults.get(k) != Some(v))
    };
    if let (Some(_), Some(head), true) = (&transfer.weights, &arch.head, resized("num_classes")) {
        let glob = format!("{head}.*");
        if !transfer.ignore.contains(&glob) {
            transfer.ignore.push(glob);
        }
    }
    let input = match args.remove("input") {
        Some(v) => decode(v, &path.key("input"))?,
        None => arch.input.clone(),
    };
    let layers = arch.block.instantiate(name, &args, &path)?;
    args.remove("type");
    let mut decoder = NodeDecoder {
        blocks,
        using: vec![name.to_string()],
    };
    let at = KeyPath::root().key("models").key(name).key("layers");
    Ok(ModelConfig {
        inputs: vec![("input".into(), input)],
        layers: decoder.nodes(&layers, &at)?,
        outputs: Vec::new(),
        transfer: TransferConfig::default(),
        architecture: Some(crate::zoo::Architecture {
            name: name.to_string(),
            args,
            replaced: Vec::new(),
        }),
    })
}

/// Refuses an argument that neither the architecture nor `[model]` takes, suggesting
/// the nearest of both (`freez` → `freeze`, `num_class` → `num_classes`).
fn check_zoo_args(
    name: &str,
    arch: &crate::zoo::ZooModel,
    args: &toml::Table,
) -> Result<(), Diagnostic> {
    let mut known: Vec<&str> = arch.block.arg_names().iter().map(String::as_str).collect();
    known.extend(crate::transfer::KEYS);
    known.extend(["input", "replace"]);
    let Some(k) = args
        .keys()
        .find(|k| *k != "type" && !known.contains(&k.as_str()))
    else {
        return Ok(());
    };
    let d = Diagnostic::key(
        model_path().key(k.as_str()),
        format!("unknown argument `{k}` for {name}"),
    )
    .with_label("unknown argument");
    Err(d.with_nearest(k, known.iter().copied(), || {
        format!(
            "{name}({}); and [model]'s input, replace, {}",
            arch.block.signature(),
            crate::transfer::KEYS.join(", ")
        )
    }))
}

/// The positions, level by level, of the node at the dotted module path `path`
/// (`layer4.1.conv2`), or the names known at the level where it is missing.
pub(crate) fn node_path(nodes: &[NodeConfig], path: &str) -> Result<Vec<usize>, Vec<String>> {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let names = wick_nn::node_names(nodes);
    let Some(i) = names.iter().position(|n| n == head) else {
        return Err(names.into_iter().filter(|n| !n.starts_with('.')).collect());
    };
    let Some(rest) = rest else {
        return Ok(vec![i]);
    };
    let inner = match &nodes[i].body {
        NodeBody::Layer(cfg) => cfg.downcast_ref::<SequentialConfig>(),
        _ => None,
    };
    match inner {
        Some(seq) => node_path(&seq.layers, rest)
            .map(|mut p| {
                p.insert(0, i);
                p
            })
            .map_err(|known| known.into_iter().map(|k| format!("{head}.{k}")).collect()),
        None => Err(vec![head.to_string()]),
    }
}

/// The node at `positions` ([`node_path`]).
pub(crate) fn node_at<'n>(nodes: &'n [NodeConfig], positions: &[usize]) -> Option<&'n NodeConfig> {
    let (&first, rest) = positions.split_first()?;
    let node = nodes.get(first)?;
    if rest.is_empty() {
        return Some(node);
    }
    match &node.body {
        NodeBody::Layer(cfg) => node_at(&cfg.downcast_ref::<SequentialConfig>()?.layers, rest),
        _ => None,
    }
}

/// The node at `positions`, to change it.
fn node_at_mut<'n>(nodes: &'n mut [NodeConfig], positions: &[usize]) -> Option<&'n mut NodeConfig> {
    let (&first, rest) = positions.split_first()?;
    let node = nodes.get_mut(first)?;
    if rest.is_empty() {
        return Some(node);
    }
    match &mut node.body {
        NodeBody::Layer(cfg) => {
            node_at_mut(&mut cfg.downcast_mut::<SequentialConfig>()?.layers, rest)
        }
        _ => None,
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

    /// `replace = { conv1 = { type = "Conv2d", … } }`: each named module swapped for a
    /// fresh one (as `model.conv1 = nn.Conv2d(…)`), its keys left out of loading.
    fn replace(
        &mut self,
        nodes: &mut [NodeConfig],
        replace: toml::Value,
        transfer: &mut TransferConfig,
    ) -> Result<Vec<String>, Diagnostic> {
        let at = model_path().key("replace");
        let toml::Value::Table(table) = replace else {
            return Err(
                Diagnostic::value(at, "`replace` maps module names to layer tables")
                    .with_label("not a table"),
            );
        };
        let mut names = Vec::new();
        for (name, layer) in table {
            let path = at.key(name.as_str());
            let toml::Value::Table(layer) = layer else {
                return Err(Diagnostic::value(path, "a replacement is a layer table")
                    .with_label("not a table"));
            };
            let cfg = self.layer(layer, &path)?;
            let at_path = node_path(nodes, &name).map_err(|known| {
                let d = Diagnostic::key(path.clone(), format!("the model has no module `{name}`"))
                    .with_label("no such module");
                d.with_nearest(&name, known.iter().map(String::as_str), || {
                    format!("its modules there: {}", known.join(", "))
                })
            })?;
            if let Some(node) = node_at_mut(nodes, &at_path) {
                node.body = NodeBody::Layer(cfg);
            }
            transfer.ignore.push(format!("{name}.*"));
            names.push(name);
        }
        Ok(names)
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
