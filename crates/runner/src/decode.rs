//! Decoding an experiment file into typed configs while tracking key paths, so every
//! error can point at its place in the file.

use crate::diagnostic::{suggest, Diagnostic};
use crate::keypath::{KeyPath, Segment};
use serde::de::DeserializeOwned;
use wick_tensor::catalog::{Catalog as OpenCatalog, Kind, Tagged};

/// The words between backticks in a serde message.
fn ticked(msg: &str) -> Vec<&str> {
    msg.split('`').skip(1).step_by(2).collect()
}

fn list(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Turns a serde error at `path` into a diagnostic, recognizing serde's standard
/// messages (unknown field, unknown variant, missing field, invalid type).
pub(crate) fn serde_error(path: KeyPath, msg: &str) -> Diagnostic {
    // toml appends "\nin `key`"; the key path says that better
    let msg = msg.split("\nin `").next().unwrap_or(msg);
    let words = ticked(msg);
    if msg.starts_with("unknown field") && !words.is_empty() {
        let field = words[0];
        let known = &words[1..];
        // serde_path_to_error may already have stepped into the unknown key
        let at = if path.0.last() == Some(&Segment::Key(field.to_string())) {
            path
        } else {
            path.key(field)
        };
        let d = Diagnostic::key(at, format!("unknown key `{field}`")).with_label("unknown key");
        return match suggest(field, known.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None if known.is_empty() => d.with_help("this table takes no keys"),
            None => d.with_help(format!("expected one of {}", list(known))),
        };
    }
    if msg.starts_with("unknown variant") && !words.is_empty() {
        let v = words[0];
        let d = Diagnostic::value(path, format!("unknown value `{v}`")).with_label("unknown value");
        return match suggest(v, words[1..].iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(format!("expected one of {}", list(&words[1..]))),
        };
    }
    if msg.starts_with("missing field") && !words.is_empty() {
        return Diagnostic::value(path, format!("missing key `{}`", words[0]))
            .with_label(format!("this table needs `{}`", words[0]));
    }
    let label = if msg.starts_with("invalid type") || msg.starts_with("invalid value") {
        "wrong type"
    } else {
        "invalid value"
    };
    Diagnostic::value(path, msg.to_string()).with_label(label)
}

/// Deserializes `value` (found at `path`) into `T`, with the failing key's full path.
pub(crate) fn decode<T: DeserializeOwned>(
    value: toml::Value,
    path: &KeyPath,
) -> Result<T, Diagnostic> {
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(value, &mut track);
    T::deserialize(de).map_err(|e| {
        serde_error(
            path.join(&KeyPath::from_serde(&track.path())),
            &e.to_string(),
        )
    })
}

fn type_name(v: &toml::Value) -> &'static str {
    v.type_str()
}

/// Decodes a `{ type = "ClassName", arg = … }` table of the open catalog of `S` in
/// force on this thread (a registry's, else the built-ins): checks the class name and
/// every argument name (with suggestions), then the argument values.
pub(crate) fn decode_open<S: ?Sized + Kind>(
    value: &toml::Value,
    path: &KeyPath,
) -> Result<Tagged<S>, Diagnostic> {
    decode_tagged(value, path, "type")
}

/// [`decode_open`] for tables whose class name is under `tag` (`op = "cat"`).
pub(crate) fn decode_tagged<S: ?Sized + Kind>(
    value: &toml::Value,
    path: &KeyPath,
    tag: &str,
) -> Result<Tagged<S>, Diagnostic> {
    let catalog = OpenCatalog::<S>::current();
    let what = S::WHAT;
    let types: Vec<&str> = catalog.names().collect();
    let Some(table) = value.as_table() else {
        return Err(Diagnostic::value(
            path.clone(),
            format!(
                "expected a {what} table like {{ type = \"...\" }}, found a {}",
                type_name(value)
            ),
        )
        .with_label("not a table"));
    };
    let Some(ty) = table.get(tag) else {
        return Err(
            Diagnostic::value(path.clone(), format!("this {what} has no `{tag}`"))
                .with_label(format!("missing `{tag}`"))
                .with_help(format!("set `{tag}` to one of {}", list(&types))),
        );
    };
    let Some(ty) = ty.as_str() else {
        return Err(Diagnostic::value(
            path.key(tag),
            format!("`{tag}` must be a string, found a {}", type_name(ty)),
        )
        .with_label("not a string"));
    };
    let Some(fields) = catalog.fields_of(ty) else {
        let d = Diagnostic::value(
            path.key(tag),
            format!(
                "unknown {what} {}`{ty}`",
                if tag == "type" { "type " } else { "" }
            ),
        )
        .with_label(format!("unknown {what}"));
        return Err(match suggest(ty, types.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(format!(
                "known {}: {}",
                if tag == "type" {
                    format!("{what} types")
                } else {
                    format!("{what}s")
                },
                list(&types)
            )),
        });
    };
    let mut args = table.clone();
    args.remove(tag);
    for key in args.keys() {
        if !fields.contains(&key.as_str()) {
            let d = Diagnostic::key(
                path.key(key.as_str()),
                format!("unknown argument `{key}` for {ty}"),
            )
            .with_label("unknown argument");
            return Err(match suggest(key, fields.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None if fields.is_empty() => d.with_help(format!("{ty} takes no arguments")),
                None => d.with_help(format!("{ty} takes {}", list(fields))),
            });
        }
    }
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(toml::Value::Table(args), &mut track);
    match catalog.decode(ty, de) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(serde_error(
            path.join(&KeyPath::from_serde(&track.path())),
            &e.to_string(),
        )),
        None => unreachable!("fields_of knew the type"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wick_nn::LayerConfig;

    fn layer(src: &str) -> Result<LayerConfig, Diagnostic> {
        let v: toml::Value =
            toml::from_str::<toml::Table>(&format!("l = {src}")).unwrap()["l"].clone();
        decode_open(&v, &KeyPath::root().key("l"))
    }

    #[test]
    fn decodes_and_reports() {
        assert!(layer("{ type = \"Linear\", out_features = 3 }")
            .unwrap()
            .downcast_ref::<wick_nn::LinearConfig>()
            .is_some());
        let e = layer("{ type = \"Linaer\", out_features = 3 }").unwrap_err();
        assert_eq!(e.path.to_string(), "l.type");
        assert_eq!(e.help.as_deref(), Some("did you mean `Linear`?"));
        let e = layer("{ type = \"Linear\", out_feature = 3 }").unwrap_err();
        assert_eq!(e.path.to_string(), "l.out_feature");
        assert_eq!(e.help.as_deref(), Some("did you mean `out_features`?"));
        let e = layer("{ type = \"Linear\", out_features = \"ten\" }").unwrap_err();
        assert_eq!(e.path.to_string(), "l.out_features");
        assert!(e.message.contains("invalid type"), "{}", e.message);
        let e =
            layer("{ type = \"Conv2d\", out_channels = 3, kernel_size = [3, \"x\"] }").unwrap_err();
        assert!(
            e.path.to_string().starts_with("l.kernel_size"),
            "{}",
            e.path
        );
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Top {
            a: u32,
        }
        let v = toml::Value::Table(toml::from_str("a = 1\n[optimzer]\nx = 1").unwrap());
        let e = decode::<Top>(v, &KeyPath::root()).unwrap_err();
        assert_eq!(e.path.to_string(), "optimzer");
        let e = layer("{ type = \"Linear\" }").unwrap_err();
        assert!(
            e.message.contains("missing key `out_features`"),
            "{}",
            e.message
        );
    }
}
