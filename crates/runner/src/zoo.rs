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
const FILES: &[(&str, &str)] = &[("zoo/resnet.toml", include_str!("../zoo/resnet.toml"))];

/// An architecture of the zoo: its block (arguments, layers) and input shape.
pub(crate) struct ZooModel {
    pub block: RawBlock,
    pub input: Vec<usize>,
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
        let block: RawBlock = crate::decode::decode(toml::Value::Table(t), &path)?;
        zoo.models.insert(name, ZooModel { block, input });
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
        assert_eq!(
            architectures(),
            ["resnet101", "resnet18", "resnet34", "resnet50"]
        );
        assert_eq!(z.models["resnet18"].input, [3, 224, 224]);
    }
}
