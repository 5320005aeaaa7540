//! The model zoo: torchvision's architectures written as wick model files (`zoo/*.toml`,
//! embedded in the binary), in the language a user writes — blocks with arguments and
//! graphs with torchvision's module names — so that `[model] type = "resnet18"` builds a
//! model whose `state_dict` keys and shapes are torchvision's.
//!
//! A zoo file holds `[blocks.Name]` (usable in any experiment, as if written in it,
//! unless the file defines a block of that name) and `[models.name]`: a block with an
//! `input` shape, instantiated at the top of `[model]` with its arguments
//! (`num_classes = 2`).

use crate::blocks::RawBlock;
use crate::diagnostic::Diagnostic;
use crate::keypath::KeyPath;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The zoo's files: name and text.
const FILES: &[(&str, &str)] = &[
    ("zoo/resnet.toml", include_str!("../zoo/resnet.toml")),
    (
        "zoo/squeezenet.toml",
        include_str!("../zoo/squeezenet.toml"),
    ),
    ("zoo/vgg.toml", include_str!("../zoo/vgg.toml")),
    ("zoo/alexnet.toml", include_str!("../zoo/alexnet.toml")),
    ("zoo/mobilenet.toml", include_str!("../zoo/mobilenet.toml")),
    ("zoo/densenet.toml", include_str!("../zoo/densenet.toml")),
    (
        "zoo/efficientnet.toml",
        include_str!("../zoo/efficientnet.toml"),
    ),
];

/// The zoo architecture a model was built from, recorded in the resolved config
/// (`architecture = { type = "resnet18", args = { num_classes = 2 } }`) so that
/// `wick export --python` writes `torchvision.models.resnet18(num_classes=2)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Architecture {
    /// torchvision's function name (`resnet18`).
    #[serde(rename = "type")]
    pub name: String,
    /// Its arguments as given (`num_classes = 2`).
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub args: toml::Table,
    /// The modules `replace` swapped for fresh ones (`conv1`, `layer4.1.conv2`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaced: Vec<String>,
}

/// An architecture of the zoo: its block (arguments, layers), input shape, the module
/// its `num_classes` sizes (`fc`), and torchvision's pretrained weights by name
/// (`IMAGENET1K_V1` → URL; `DEFAULT` → another name).
pub(crate) struct ZooModel {
    pub block: RawBlock,
    pub input: Vec<usize>,
    pub head: Option<String>,
    pub weights: BTreeMap<String, String>,
    /// How the keys of torchvision's files map to the model's (densenet's files keep
    /// the `norm.1` names of old releases), in order.
    pub rename: Vec<(String, String)>,
}

impl ZooModel {
    /// The URL of the weights called `name` (`DEFAULT` followed to its target).
    pub fn weights_url(&self, name: &str) -> Option<&str> {
        let v = self.weights.get(name)?;
        match crate::weights_file::is_url(v) {
            true => Some(v),
            false => self.weights.get(v).map(String::as_str),
        }
    }
}

/// Every block and architecture of the zoo's files.
pub(crate) struct Zoo {
    pub blocks: toml::Table,
    pub models: BTreeMap<String, ZooModel>,
}

/// Reads one zoo file (the zoo's own text: an error is a bug of this crate, reported
/// as a diagnostic naming the file all the same).
fn read(file: &str, text: &str, zoo: &mut Zoo) -> Result<(), Diagnostic> {
    let bad = |m: String| Diagnostic::value(KeyPath::root(), format!("zoo file {file}: {m}"));
    let mut doc: toml::Table = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    if let Some(toml::Value::Table(blocks)) = doc.remove("blocks") {
        zoo.blocks.extend(blocks);
    }
    let models = match doc.remove("models") {
        Some(toml::Value::Table(m)) => m,
        _ => toml::Table::new(),
    };
    for (name, v) in models {
        let toml::Value::Table(mut t) = v else {
            return Err(bad(format!("models.{name} is not a table")));
        };
        let input = t
            .remove("input")
            .ok_or_else(|| bad(format!("models.{name} has no input")))?;
        let path = KeyPath::root().key("models").key(name.as_str());
        let input: Vec<usize> = crate::decode::decode(input, &path.key("input"))?;
        let head = t
            .remove("head")
            .and_then(|h| h.as_str().map(str::to_string));
        let weights = match t.remove("weights") {
            Some(w) => crate::decode::decode(w, &path.key("weights"))?,
            None => BTreeMap::new(),
        };
        let rename = match t.remove("rename") {
            Some(toml::Value::Table(r)) => r
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                .collect(),
            _ => Vec::new(),
        };
        let block: RawBlock = crate::decode::decode(toml::Value::Table(t), &path)?;
        let model = ZooModel {
            block,
            input,
            head,
            weights,
            rename,
        };
        zoo.models.insert(name, model);
    }
    Ok(())
}

/// The zoo (read once).
pub(crate) fn zoo() -> Result<&'static Zoo, Diagnostic> {
    static ZOO: OnceLock<Result<Zoo, Diagnostic>> = OnceLock::new();
    ZOO.get_or_init(|| {
        let mut zoo = Zoo {
            blocks: toml::Table::new(),
            models: BTreeMap::new(),
        };
        for (file, text) in FILES {
            read(file, text, &mut zoo)?;
        }
        Ok(zoo)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The architectures' names (`resnet18`, …), sorted.
pub fn architectures() -> Vec<&'static str> {
    zoo()
        .map(|z| z.models.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zoo_reads() {
        let z = zoo().unwrap();
        assert!(z.blocks.contains_key("BasicBlock") && z.blocks.contains_key("Bottleneck"));
        let archs = architectures();
        for a in [
            "resnet18",
            "squeezenet1_1",
            "vgg16_bn",
            "alexnet",
            "densenet121",
        ] {
            assert!(archs.contains(&a), "{a} missing from {archs:?}");
        }
        assert_eq!(z.models["resnet18"].input, [3, 224, 224]);
    }
}
