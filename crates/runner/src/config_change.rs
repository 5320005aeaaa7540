//! What a resumed run may change of the config its checkpoint was written for.
//!
//! A checkpoint holds the resolved `config.toml` it belongs to. On `--resume`, the run
//! directory's config (edited, or with `--set` overrides) is compared with it key by
//! key: the keys that only say how long and how visibly to train (`train.epochs`,
//! `train.log_interval`, `train.early_stopping.*`, `train.checkpoint.*`, `log.*`) may
//! change; any other difference (the model, the data, the loss, the optimizer, the
//! seed) would make the checkpoint meaningless and is refused, naming each key with
//! both values.

use crate::error::RunError;
use std::collections::BTreeMap;

/// The key paths a resume may change (a key or the table it is in).
pub const MAY_CHANGE: &[&str] = &[
    "train.epochs",
    "train.log_interval",
    "train.early_stopping",
    "train.converged",
    "train.checkpoint",
    "log",
    "distributed",
];

/// One key whose value differs between two configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The key path (`model.layers[1].out_features`).
    pub key: String,
    /// Its value in the checkpoint's config (`None`: absent there).
    pub before: Option<String>,
    /// Its value now (`None`: absent now).
    pub after: Option<String>,
}

impl Change {
    /// Whether a resume may make this change ([`MAY_CHANGE`]).
    pub fn allowed(&self) -> bool {
        MAY_CHANGE.iter().any(|k| {
            self.key == *k
                || self.key.starts_with(&format!("{k}."))
                || self.key.starts_with(&format!("{k}["))
        })
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
        write!(
            f,
            "{}: {} in the checkpoint, {} now",
            self.key,
            show(&self.before),
            show(&self.after)
        )
    }
}

/// Every key path of a TOML document with its value (leaves: strings, numbers,
/// booleans, dates; arrays of tables and inline tables are walked into).
fn leaves(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&key, v, out);
            }
        }
        toml::Value::Array(a) if a.iter().any(|v| v.is_table() || v.is_array()) => {
            for (i, v) in a.iter().enumerate() {
                leaves(&format!("{prefix}[{i}]"), v, out);
            }
        }
        leaf => {
            out.insert(prefix.to_string(), leaf.to_string());
        }
    }
}

/// The keys whose values differ between the configs `before` and `after` (TOML text),
/// in key order.
pub fn diff(before: &str, after: &str) -> Result<Vec<Change>, RunError> {
    let parse = |s: &str| {
        s.parse::<toml::Table>()
            .map(toml::Value::Table)
            .map_err(|e| {
                RunError::RunDir(format!("a config in the checkpoint does not parse: {e}"))
            })
    };
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    leaves("", &parse(before)?, &mut a);
    leaves("", &parse(after)?, &mut b);
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    Ok(keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| Change {
            key: k.clone(),
            before: a.get(k).cloned(),
            after: b.get(k).cloned(),
        })
        .collect())
}

/// Refuses `changes` unless a resume may make each of them, naming the ones it may not.
pub fn check(changes: &[Change]) -> Result<(), RunError> {
    let refused: Vec<String> = changes
        .iter()
        .filter(|c| !c.allowed())
        .map(|c| format!("  {c}"))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(RunError::RunDir(format!(
        "the checkpoint was written for another config:\n{}\n(a resume may change only {})",
        refused.join("\n"),
        MAY_CHANGE.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = r#"
name = "x"
seed = 0
[model]
input = [1, 28, 28]
layers = [{ type = "Flatten" }, { type = "Linear", out_features = 32 }]
[train]
epochs = 3
"#;

    #[test]
    fn differing_keys_are_named_with_both_values() {
        let after = BEFORE
            .replace("out_features = 32", "out_features = 64")
            .replace("epochs = 3", "epochs = 5\nlog_interval = 7");
        let changes = diff(BEFORE, &after).unwrap();
        let shown: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "model.layers[1].out_features: 32 in the checkpoint, 64 now",
                "train.epochs: 3 in the checkpoint, 5 now",
                "train.log_interval: (absent) in the checkpoint, 7 now",
            ]
        );
        let e = check(&changes).unwrap_err().to_string();
        assert!(
            e.contains("model.layers[1].out_features: 32 in the checkpoint, 64 now"),
            "{e}"
        );
        assert!(!e.contains("train.epochs:"), "{e}");
        assert!(check(&changes[1..]).is_ok());
    }

    #[test]
    fn the_same_config_has_no_changes() {
        assert!(diff(BEFORE, BEFORE).unwrap().is_empty());
        // `train.epochs_x` is not under `train.epochs`
        let c = Change {
            key: "train.epochsx".into(),
            before: None,
            after: Some("1".into()),
        };
        assert!(!c.allowed());
    }
}
