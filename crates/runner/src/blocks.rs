//! Blocks: a part of a model defined once, with arguments, and used many times — what a
//! PyTorch user writes as an `nn.Module` subclass (`BasicBlock(planes, stride)`).
//!
//! ```toml
//! [blocks.BasicBlock]
//! args = ["planes", "stride", "downsample"]        # __init__'s arguments
//! defaults = { stride = 1, downsample = false }    # … and their defaults
//! layers = [
//!   { name = "conv1", type = "Conv2d", out_channels = "$planes", kernel_size = 3,
//!     stride = "$stride", padding = 1, bias = false },
//!   ...
//!   { name = "downsample", type = "Sequential", from = "input", when = "$downsample",
//!     layers = [...] },
//!   { op = "add", from = ["bn2", "downsample"] },
//! ]
//! # used as { type = "BasicBlock", planes = 128, stride = 2, downsample = true }
//! ```
//!
//! A use is a module of the `state_dict` (`layer2.0.conv1.weight`): a `Sequential` whose
//! class is the block's name. Every string of the body starting with `$` is an
//! expression over the arguments ([`crate::expr`]), evaluated at each use; `inputs` and
//! `outputs` name the block's inputs (default one, `input`) and its output.

use crate::diagnostic::{suggest, Diagnostic};
use crate::expr::{eval, Val};
use crate::keypath::KeyPath;
use serde::Deserialize;
use std::collections::HashMap;

/// `[blocks.Name]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBlock {
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    pub defaults: toml::Table,
    #[serde(default)]
    pub inputs: Option<Vec<String>>,
    #[serde(default)]
    pub outputs: Option<Vec<String>>,
    pub layers: Vec<toml::Value>,
}

/// The blocks of an experiment file, by name.
#[derive(Debug, Default)]
pub(crate) struct Blocks {
    blocks: HashMap<String, RawBlock>,
}

/// Keys of a node that are not a block's arguments.
const NODE_KEYS: [&str; 4] = ["type", "name", "from", "when"];

fn blocks_path(name: &str) -> KeyPath {
    KeyPath::root().key("blocks").key(name)
}

impl Blocks {
    /// Reads `[blocks]`; `is_class` tells the names a catalog already has.
    pub fn new(
        table: Option<toml::Table>,
        is_class: impl Fn(&str) -> bool,
    ) -> Result<Self, Diagnostic> {
        let mut blocks = HashMap::new();
        for (name, v) in table.unwrap_or_default() {
            let path = blocks_path(&name);
            if is_class(&name) {
                return Err(Diagnostic::key(
                    path,
                    format!("`{name}` is already a layer class; give the block another name"),
                )
                .with_label("taken"));
            }
            let block: RawBlock = crate::decode::decode(v, &path)?;
            block.check(&path)?;
            blocks.insert(name, block);
        }
        Ok(Self { blocks })
    }

    /// The block named `name`.
    pub fn get(&self, name: &str) -> Option<&RawBlock> {
        self.blocks.get(name)
    }

    /// Adds blocks of the model zoo (`zoo.rs`) under the names the file does not define.
    pub fn with_zoo(mut self, zoo: &toml::Table) -> Result<Self, Diagnostic> {
        for (name, v) in zoo {
            if !self.blocks.contains_key(name) {
                let block: RawBlock = crate::decode::decode(v.clone(), &blocks_path(name))?;
                self.blocks.insert(name.clone(), block);
            }
        }
        Ok(self)
    }
}

impl RawBlock {
    fn check(&self, path: &KeyPath) -> Result<(), Diagnostic> {
        for (i, a) in self.args.iter().enumerate() {
            let ident = !a.is_empty()
                && a.chars().all(|c| c.is_alphanumeric() || c == '_')
                && !a.starts_with(|c: char| c.is_ascii_digit());
            if !ident
                || NODE_KEYS.contains(&a.as_str())
                || ["and", "or", "not"].contains(&a.as_str())
            {
                return Err(Diagnostic::value(
                    path.key("args").index(i),
                    format!("`{a}` cannot be an argument name"),
                )
                .with_label("a name like `planes`"));
            }
        }
        for k in self.defaults.keys() {
            if !self.args.contains(k) {
                return Err(Diagnostic::key(
                    path.key("defaults").key(k.as_str()),
                    format!("`{k}` has a default but is not in `args`"),
                )
                .with_label("not an argument")
                .with_help(format!("add \"{k}\" to args")));
            }
        }
        Ok(())
    }

    /// The names of its arguments.
    pub fn arg_names(&self) -> &[String] {
        &self.args
    }

    /// `planes, stride=1, downsample=false` for messages.
    pub fn signature(&self) -> String {
        self.args
            .iter()
            .map(|a| match self.defaults.get(a) {
                Some(d) => format!("{a}={d}"),
                None => a.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The arguments of a use (`instance`, its table at `at`), defaults filled.
    fn arguments(
        &self,
        name: &str,
        instance: &toml::Table,
        at: &KeyPath,
    ) -> Result<toml::Table, Diagnostic> {
        let mut env = self.defaults.clone();
        for (k, v) in instance {
            if NODE_KEYS.contains(&k.as_str()) {
                continue;
            }
            if !self.args.contains(k) {
                let d = Diagnostic::key(
                    at.key(k.as_str()),
                    format!("unknown argument `{k}` for the block {name}"),
                )
                .with_label("unknown argument");
                return Err(match suggest(k, self.args.iter().map(String::as_str)) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("{name}({})", self.signature())),
                });
            }
            env.insert(k.clone(), v.clone());
        }
        if let Some(missing) = self.args.iter().find(|a| !env.contains_key(*a)) {
            return Err(Diagnostic::value(
                at.key("type"),
                format!("the block {name} needs the argument `{missing}`"),
            )
            .with_label(format!("missing `{missing}`"))
            .with_help(format!("{name}({})", self.signature())));
        }
        Ok(env)
    }

    /// The body of a use: `layers` with every `$` expression evaluated.
    pub fn instantiate(
        &self,
        name: &str,
        instance: &toml::Table,
        at: &KeyPath,
    ) -> Result<Vec<toml::Value>, Diagnostic> {
        let env = self.arguments(name, instance, at)?;
        let body = blocks_path(name).key("layers");
        let used_at = format!("in the use of {name} at {at}");
        self.layers
            .iter()
            .enumerate()
            .map(|(i, l)| substitute(l, &env, &body.index(i), &used_at))
            .collect()
    }
}

/// `value` with every string that starts with `$` replaced by its value under `env`.
fn substitute(
    value: &toml::Value,
    env: &toml::Table,
    path: &KeyPath,
    used_at: &str,
) -> Result<toml::Value, Diagnostic> {
    Ok(match value {
        toml::Value::String(s) => match s.strip_prefix('$') {
            Some(rest) if rest.starts_with('$') => toml::Value::String(rest.to_string()),
            Some(expr) => evaluate(expr, env, path, used_at)?,
            None => value.clone(),
        },
        toml::Value::Array(items) => toml::Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| substitute(v, env, &path.index(i), used_at))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(t) => toml::Value::Table(
            t.iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        substitute(v, env, &path.key(k.as_str()), used_at)?,
                    ))
                })
                .collect::<Result<_, Diagnostic>>()?,
        ),
        other => other.clone(),
    })
}

fn evaluate(
    expr: &str,
    env: &toml::Table,
    path: &KeyPath,
    used_at: &str,
) -> Result<toml::Value, Diagnostic> {
    let trimmed = expr.trim();
    if let Some(v) = env.get(trimmed) {
        return Ok(v.clone());
    }
    let lookup = |n: &str| env.get(n).and_then(Val::of_toml);
    eval(trimmed, &lookup).map(Val::to_toml).map_err(|e| {
        Diagnostic::value(path.clone(), format!("`${expr}`: {e}"))
            .with_label("block expression")
            .with_help(used_at.to_string())
    })
}
