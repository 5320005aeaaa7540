//! Transfer learning in `[model]`: weights to start from, and which parameters train.
//!
//! ```toml
//! [model]
//! type = "resnet18"
//! weights = "IMAGENET1K_V1"   # or a .pth / .safetensors file, a run directory, a URL
//! num_classes = 2             # a fresh `fc`, as model.fc = nn.Linear(512, 2)
//! freeze = ["*"]              # p.requires_grad_(False) …
//! trainable = ["fc.*"]        # … except these
//! ```
//!
//! The weights are copied as `model.load_state_dict(sd, strict=strict)`, the file's keys
//! first renamed by `rename` (`{ "module." = "" }` for a `DataParallel` checkpoint), with
//! the keys of `ignore` left out of both sides (they keep their fresh init); a frozen parameter
//! gets no gradient and the optimizer does not get it; `frozen_batchnorm` keeps the
//! BatchNorms of frozen parts in eval mode (torchvision's `FrozenBatchNorm2d`).

use crate::error::RunError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use wick_nn::{Layer, Sequential};

/// `[model]`'s transfer keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferConfig {
    /// The weights to start from: a `.pth` (`torch.save(model.state_dict())`) or
    /// `.safetensors` file, a run directory (its `best` checkpoint, else `last`), an
    /// experiment's folder of runs (its newest run), a checkpoint folder, or a URL (`torch.hub.load_state_dict_from_url`: torch's cache,
    /// downloaded when missing). A zoo architecture also takes torchvision's names
    /// (`IMAGENET1K_V1`, `DEFAULT`), written here as their URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<String>,
    /// `load_state_dict(strict=...)`: every other key must match (default true).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub strict: bool,
    /// The file's keys renamed before loading: each occurrence of a key of this table
    /// replaced by its value (`{ "module." = "" }`), in the table's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "pairs")]
    pub rename: Vec<(String, String)>,
    /// `state_dict` keys (globs: `fc.*`) not loaded: they keep their fresh init.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// Parameters (globs) that do not train: `requires_grad_(False)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub freeze: Vec<String>,
    /// Parameters (globs) that train even where `freeze` matches; given alone, every
    /// other parameter is frozen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trainable: Vec<String>,
    /// BatchNorms whose parameters are frozen keep their running statistics fixed and
    /// normalize with them in training too (default false: PyTorch's, they update).
    #[serde(default, skip_serializing_if = "is_false")]
    pub frozen_batchnorm: bool,
}

impl Default for TransferConfig {
    fn default() -> Self {
        Self {
            weights: None,
            strict: true,
            rename: Vec::new(),
            ignore: Vec::new(),
            freeze: Vec::new(),
            trainable: Vec::new(),
            frozen_batchnorm: false,
        }
    }
}

fn yes() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}
fn is_false(b: &bool) -> bool {
    !*b
}

/// The keys of [`TransferConfig`] in `[model]`.
pub(crate) const KEYS: &[&str] = &[
    "weights",
    "strict",
    "rename",
    "ignore",
    "freeze",
    "trainable",
    "frozen_batchnorm",
];

/// `fnmatch`-style matching of a whole name: `*` any run of characters (dots
/// included), `?` one character.
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn any_match(globs: &[String], name: &str) -> bool {
    globs.iter().any(|g| glob_match(g, name))
}

impl TransferConfig {
    /// Whether the parameter `name` is frozen.
    pub fn frozen(&self, name: &str) -> bool {
        let freeze_all = self.freeze.is_empty() && !self.trainable.is_empty();
        (freeze_all || any_match(&self.freeze, name)) && !any_match(&self.trainable, name)
    }

    /// Whether the key `name` is left out of loading.
    pub fn ignored(&self, name: &str) -> bool {
        any_match(&self.ignore, name)
    }

    /// `key` after `rename`.
    pub fn renamed(&self, mut key: String) -> String {
        for (from, to) in self.rename.iter().filter(|(from, _)| !from.is_empty()) {
            key = key.replace(from.as_str(), to);
        }
        key
    }

    /// Refuses a glob of the list `key` that matches none of `names`, naming the key
    /// and the nearest name.
    fn check_globs(key: &str, globs: &[String], names: &[String]) -> Result<(), RunError> {
        for (i, g) in globs.iter().enumerate() {
            if names.iter().any(|n| glob_match(g, n)) {
                continue;
            }
            let near = crate::diagnostic::suggest(g, names.iter().map(String::as_str))
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(RunError::Mismatch(format!(
                "model.{key}[{i}] = {g:?} matches no parameter or buffer{near}; \
                 `wick check` lists the model's modules"
            )));
        }
        Ok(())
    }

    /// Sets `requires_grad` of every parameter of `model` and, with
    /// `frozen_batchnorm`, freezes the statistics of the BatchNorms whose weight is
    /// frozen. Returns the number of frozen parameters.
    pub fn apply_freeze(&self, model: &Sequential) -> Result<usize, RunError> {
        if self.freeze.is_empty() && self.trainable.is_empty() {
            return Ok(0);
        }
        let names: Vec<String> = model.state_dict().into_iter().map(|(k, _)| k).collect();
        Self::check_globs("freeze", &self.freeze, &names)?;
        Self::check_globs("trainable", &self.trainable, &names)?;
        let mut frozen = 0;
        for p in model.parameters() {
            let f = self.frozen(&p.name);
            p.set_requires_grad(!f)?;
            frozen += usize::from(f);
        }
        if self.frozen_batchnorm {
            for (path, layer) in modules(model) {
                if layer.type_name().starts_with("BatchNorm") {
                    layer.freeze_batchnorm(self.frozen(&format!("{path}.weight")));
                }
            }
        }
        Ok(frozen)
    }

    /// Loads `state` into `model` as `load_state_dict(strict)` with the `ignore` keys
    /// left out; logs the keys that did not match.
    pub fn load(
        &self,
        model: &Sequential,
        state: Vec<(String, candle_core::Tensor)>,
        from: &str,
    ) -> Result<(), RunError> {
        let state: Vec<(String, candle_core::Tensor)> = state
            .into_iter()
            .map(|(k, v)| (self.renamed(k), v))
            .collect();
        // `ignore` names keys as they are after `rename`, of the model or the file
        let mut names: Vec<String> = model.state_dict().into_iter().map(|(k, _)| k).collect();
        names.extend(state.iter().map(|(k, _)| k.clone()));
        Self::check_globs("ignore", &self.ignore, &names)?;
        let total = state.len();
        let state: HashMap<String, candle_core::Tensor> = state
            .into_iter()
            .filter(|(k, _)| !self.ignored(k))
            .collect();
        let loaded = state.len();
        let mut report = model
            .load_state_dict_with(&state, false)
            .map_err(|e| RunError::Mismatch(format!("{from}: {e}")))?;
        report.missing_keys.retain(|k| !self.ignored(k));
        if self.strict && !report.is_empty() {
            return Err(RunError::Mismatch(format!(
                "{from}: {report} (set `strict = false` to load the keys that match, or \
                 `ignore = [...]` to leave keys out)"
            )));
        }
        tracing::info!(
            weights = %from,
            "weights: {} of {total} tensors from {from}{}",
            loaded - report.unexpected_keys.len(),
            if report.is_empty() {
                String::new()
            } else {
                format!("; {report}")
            }
        );
        Ok(())
    }
}

/// `rename` as a TOML table whose order is kept (`{ "module." = "" }`).
mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
        let map: toml::map::Map<String, toml::Value> = v
            .iter()
            .map(|(k, v)| (k.clone(), toml::Value::String(v.clone())))
            .collect();
        map.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
        let map = toml::map::Map::<String, toml::Value>::deserialize(d)?;
        map.into_iter()
            .map(|(k, v)| match v {
                toml::Value::String(s) => Ok((k, s)),
                other => Err(serde::de::Error::custom(format!(
                    "`rename.{k}` must be a string, found {}",
                    other.type_str()
                ))),
            })
            .collect()
    }
}

/// Every module of `model` under its path (`layer1.0.bn1`), depth first.
pub(crate) fn modules(model: &Sequential) -> Vec<(String, &dyn Layer)> {
    let mut out = Vec::new();
    let mut todo: Vec<(String, &dyn Layer)> = model.children();
    while let Some((path, layer)) = todo.pop() {
        for (name, child) in layer.children() {
            todo.push((format!("{path}.{name}"), child));
        }
        out.push((path, layer));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_fnmatch() {
        assert!(glob_match("*", "layer1.0.conv1.weight"));
        assert!(glob_match("fc.*", "fc.weight"));
        assert!(!glob_match("fc.*", "fc"));
        assert!(!glob_match("fc.*", "layer4.1.fc.weight"));
        assert!(glob_match("*.bn?.*", "layer1.0.bn2.running_mean"));
        assert!(glob_match("layer[*", "layer[x"));
        assert!(glob_match("a*b*c", "aXbYbZc"));
        assert!(!glob_match("a*b*c", "aXbYbZ"));
        assert!(glob_match("conv1.weight", "conv1.weight"));
    }

    #[test]
    fn trainable_alone_freezes_the_rest() {
        let t = TransferConfig {
            trainable: vec!["fc.*".into()],
            ..Default::default()
        };
        assert!(t.frozen("conv1.weight"));
        assert!(!t.frozen("fc.bias"));
        let f = TransferConfig {
            freeze: vec!["layer1.*".into()],
            ..Default::default()
        };
        assert!(f.frozen("layer1.0.conv1.weight"));
        assert!(!f.frozen("conv1.weight"));
    }
}
