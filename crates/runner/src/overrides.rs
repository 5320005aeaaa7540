//! `--set key.path=value`: command-line overrides, applied to the experiment file's text
//! before it is parsed, so an overridden value is validated exactly like one written in
//! the file and its errors point at it.
//!
//! The key path is the one diagnostics print (`optimizer.lr`, `model.layers[3].p`,
//! `data.train.batch_size`). The value is a TOML value (`0.1`, `true`, `[1, 28, 28]`,
//! `{ type = "StepLR", step_size = 5 }`); anything that does not parse as one is taken
//! as a string, so `--set optimizer.type=Adam` and `--set data.root=/tmp/data` work
//! without quotes. Missing tables are created (`--set scheduler.type=StepLR`).

use crate::keypath::{KeyPath, Segment};
use std::fmt;
use std::str::FromStr;
use toml_edit::{DocumentMut, Item, Table, Value};

/// One `--set key.path=value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Where.
    pub path: KeyPath,
    /// The value's text as given.
    pub value: String,
}

/// A `--set` that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--set {arg}: {message}")]
pub struct OverrideError {
    /// The argument as given.
    pub arg: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.path, self.value)
    }
}

impl FromStr for Override {
    type Err = OverrideError;

    fn from_str(arg: &str) -> Result<Self, OverrideError> {
        let err = |message: String| OverrideError {
            arg: arg.to_string(),
            message,
        };
        let (path, value) = arg
            .split_once('=')
            .ok_or_else(|| err("expected KEY=VALUE, e.g. `optimizer.lr=0.1`".into()))?;
        Ok(Self {
            path: parse_path(path.trim()).map_err(err)?,
            value: value.trim().to_string(),
        })
    }
}

/// Parses `a.b[2].c` (keys may be quoted: `a."b.c"`).
fn parse_path(s: &str) -> Result<KeyPath, String> {
    let mut path = KeyPath::root();
    let mut chars = s.chars().peekable();
    let mut expect_key = true;
    while let Some(&c) = chars.peek() {
        match c {
            '.' if !expect_key => {
                chars.next();
                expect_key = true;
            }
            '[' if !expect_key => {
                chars.next();
                let mut n = String::new();
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    n.push(c);
                }
                let i: usize = n
                    .trim()
                    .parse()
                    .map_err(|_| format!("`[{n}]` is not an array index"))?;
                path = path.index(i);
            }
            '"' if expect_key => {
                chars.next();
                let mut k = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '"' {
                        closed = true;
                        break;
                    }
                    k.push(c);
                }
                if !closed {
                    return Err("unterminated quoted key".into());
                }
                path = path.key(k);
                expect_key = false;
            }
            _ if expect_key => {
                let mut k = String::new();
                while let Some(&c) = chars.peek() {
                    if c == '.' || c == '[' {
                        break;
                    }
                    k.push(c);
                    chars.next();
                }
                let k = k.trim();
                if k.is_empty()
                    || !k
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(format!("`{k}` is not a key"));
                }
                path = path.key(k);
                expect_key = false;
            }
            _ => return Err(format!("unexpected `{c}` in the key path")),
        }
    }
    if expect_key {
        return Err("the key path is empty or ends with `.`".into());
    }
    Ok(path)
}

/// The value of `--set`'s right-hand side: a TOML value, else a string.
fn parse_value(s: &str) -> Value {
    Value::from_str(s).unwrap_or_else(|_| Value::from(s))
}

/// Applies overrides in order to the text of an experiment file and returns the new
/// text (formatting and comments kept).
pub fn apply(src: &str, overrides: &[Override]) -> Result<String, OverrideError> {
    let mut doc: DocumentMut = match src.parse() {
        Ok(d) => d,
        // Syntax errors are reported against the original text by the parser.
        Err(_) => return Ok(src.to_string()),
    };
    for o in overrides {
        let err = |message: String| OverrideError {
            arg: o.to_string(),
            message,
        };
        set(
            doc.as_table_mut(),
            &o.path.0,
            parse_value(&o.value),
            &KeyPath::root(),
        )
        .map_err(err)?;
    }
    Ok(doc.to_string())
}

/// The key an override of `X.type` leaves stale: when `d` says the key `X.k` is unknown
/// (an argument the new class does not take), `X.type` was set by an override to
/// another class than `before` (the text the overrides were applied to) has, and `X.k`
/// was not itself overridden, `X.k` belongs to the old class: `--set
/// optimizer.type=Adam` over an SGD with `momentum` drops the momentum, as writing
/// `optimizer = Adam(params, lr=...)` in place of the SGD line would.
pub(crate) fn stale_key(
    d: &crate::Diagnostic,
    before: &str,
    overrides: &[Override],
) -> Option<KeyPath> {
    if !matches!(d.label.as_str(), "unknown argument" | "unknown key") {
        return None;
    }
    let (last, table) = d.path.0.split_last()?;
    let type_path = KeyPath(table.to_vec()).key("type");
    let set = overrides.iter().rev().find(|o| o.path == type_path)?;
    if overrides.iter().any(|o| o.path == d.path) || !matches!(last, Segment::Key(_)) {
        return None;
    }
    let doc: toml::Table = toml::from_str(before).ok()?;
    let mut v = doc.get(match type_path.0.first()? {
        Segment::Key(k) => k.as_str(),
        Segment::Index(_) => return None,
    })?;
    for seg in &type_path.0[1..] {
        v = match seg {
            Segment::Key(k) => v.get(k.as_str())?,
            Segment::Index(i) => v.get(*i)?,
        };
    }
    (v.as_str() != Some(set.value.trim_matches('"'))).then(|| d.path.clone())
}

/// `src` without the key at `path` (`None` when it is not there).
pub(crate) fn remove(src: &str, path: &KeyPath) -> Option<String> {
    let mut doc: DocumentMut = src.parse().ok()?;
    let (last, parents) = path.0.split_last()?;
    let Segment::Key(last) = last else {
        return None;
    };
    let mut item = doc.as_item_mut();
    for seg in parents {
        item = match seg {
            Segment::Key(k) => item.get_mut(k.as_str())?,
            Segment::Index(i) => item.get_mut(*i)?,
        };
    }
    let removed = match item {
        Item::Table(t) => t.remove(last),
        Item::Value(Value::InlineTable(t)) => t.remove(last).map(Item::Value),
        _ => None,
    };
    removed.map(|_| doc.to_string())
}

fn set(table: &mut Table, path: &[Segment], value: Value, at: &KeyPath) -> Result<(), String> {
    let Some((Segment::Key(k), rest)) = path.split_first() else {
        return Err(format!("`{at}` is a table: index it by key"));
    };
    let here = at.key(k.clone());
    if rest.is_empty() {
        match table.get_mut(k) {
            Some(Item::Value(v)) => {
                let decor = v.decor().clone();
                *v = value;
                *v.decor_mut() = decor;
            }
            Some(Item::Table(_) | Item::ArrayOfTables(_)) => {
                return Err(format!(
                    "`{here}` is a table; set one of its keys (`{here}.KEY=VALUE`)"
                ))
            }
            _ => {
                table.insert(k, Item::Value(value));
            }
        }
        return Ok(());
    }
    if !table.contains_key(k) {
        match rest[0] {
            Segment::Key(_) => {
                let mut t = Table::new();
                t.set_implicit(true);
                table.insert(k, Item::Table(t));
            }
            Segment::Index(_) => return Err(format!("`{here}` does not exist")),
        }
    }
    let item = table
        .get_mut(k)
        .ok_or_else(|| format!("`{here}` does not exist"))?;
    set_item(item, rest, value, &here)
}

fn set_item(item: &mut Item, path: &[Segment], value: Value, at: &KeyPath) -> Result<(), String> {
    match (item, &path[0]) {
        (Item::Table(t), Segment::Key(_)) => set(t, path, value, at),
        (Item::ArrayOfTables(a), Segment::Index(i)) => {
            let len = a.len();
            let t = a
                .get_mut(*i)
                .ok_or_else(|| format!("`{at}` has {len} entries, no index {i}"))?;
            let here = at.index(*i);
            if path.len() == 1 {
                return Err(format!("`{here}` is a table; set one of its keys"));
            }
            set(t, &path[1..], value, &here)
        }
        (Item::Value(v), _) => set_value(v, path, value, at),
        (_, Segment::Index(_)) => Err(format!("`{at}` is not an array")),
        (_, Segment::Key(_)) => Err(format!("`{at}` is not a table")),
    }
}

fn set_value(v: &mut Value, path: &[Segment], value: Value, at: &KeyPath) -> Result<(), String> {
    let (seg, rest) = path.split_first().expect("non-empty path");
    let (slot, here): (&mut Value, KeyPath) = match (v, seg) {
        (Value::Array(a), Segment::Index(i)) => {
            let len = a.len();
            let here = at.index(*i);
            (
                a.get_mut(*i)
                    .ok_or_else(|| format!("`{at}` has {len} entries, no index {i}"))?,
                here,
            )
        }
        (Value::InlineTable(t), Segment::Key(k)) => {
            let here = at.key(k.clone());
            if !t.contains_key(k) {
                if rest.is_empty() {
                    t.insert(k, value);
                    return Ok(());
                }
                return Err(format!("`{here}` does not exist"));
            }
            (t.get_mut(k).expect("checked"), here)
        }
        (_, Segment::Index(_)) => return Err(format!("`{at}` is not an array")),
        (_, Segment::Key(_)) => return Err(format!("`{at}` is not a table")),
    };
    if rest.is_empty() {
        let decor = slot.decor().clone();
        *slot = value;
        *slot.decor_mut() = decor;
        Ok(())
    } else {
        set_value(slot, rest, value, &here)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(s: &str) -> Override {
        s.parse().unwrap()
    }

    const SRC: &str = r#"name = "x"  # the name
[model]
layers = [
  { type = "Linear", out_features = 10 },
  { type = "ReLU" },
]
[optimizer]
type = "SGD"
lr = 0.01 # small

[[extra]]
a = 1
"#;

    #[test]
    fn parses_paths() {
        assert_eq!(
            o("model.layers[3].out_features=5").path.to_string(),
            "model.layers[3].out_features"
        );
        assert_eq!(o("a.\"b.c\"=1").path.0[1], Segment::Key("b.c".into()));
        assert!("lr".parse::<Override>().is_err());
        assert!("a..b=1".parse::<Override>().is_err());
        assert!("a.=1".parse::<Override>().is_err());
        assert!("a[x]=1".parse::<Override>().is_err());
    }

    #[test]
    fn sets_values_keeping_the_rest() {
        let out = apply(
            SRC,
            &[
                o("optimizer.lr=0.1"),
                o("optimizer.type=Adam"),
                o("model.layers[0].out_features=7"),
                o("model.layers[1].inplace=true"),
                o("name=run-2"),
                o("scheduler.type=StepLR"),
                o("scheduler.step_size=5"),
                o("extra[0].a=2"),
            ],
        )
        .unwrap();
        let t: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(t["optimizer"]["lr"].as_float(), Some(0.1));
        assert_eq!(t["optimizer"]["type"].as_str(), Some("Adam"));
        assert_eq!(
            t["model"]["layers"][0]["out_features"].as_integer(),
            Some(7)
        );
        assert_eq!(t["model"]["layers"][1]["inplace"].as_bool(), Some(true));
        assert_eq!(t["name"].as_str(), Some("run-2"));
        assert_eq!(t["scheduler"]["step_size"].as_integer(), Some(5));
        assert_eq!(t["extra"][0]["a"].as_integer(), Some(2));
        assert!(out.contains("# small"), "{out}");
        assert!(out.contains("# the name"), "{out}");
    }

    #[test]
    fn bad_paths_say_why() {
        let e = apply(SRC, &[o("model.layers[5].out_features=1")]).unwrap_err();
        assert!(e.message.contains("has 2 entries"), "{e}");
        let e = apply(SRC, &[o("optimizer=1")]).unwrap_err();
        assert!(e.message.contains("is a table"), "{e}");
        let e = apply(SRC, &[o("name.x=1")]).unwrap_err();
        assert!(e.message.contains("is not a table"), "{e}");
        assert!(e.to_string().starts_with("--set name.x=1: "), "{e}");
    }

    #[test]
    fn a_type_override_leaves_the_old_classes_arguments_stale() {
        let before = "[optimizer]\ntype = \"SGD\"\nlr = 0.1\nmomentum = 0.9\n";
        let unknown = |key: &str| {
            let p = KeyPath::root().key("optimizer").key(key);
            crate::Diagnostic::key(p, "unknown argument").with_label("unknown argument")
        };
        let adam: Override = "optimizer.type=Adam".parse().unwrap();
        let sgd: Override = "optimizer.type=SGD".parse().unwrap();
        let m: Override = "optimizer.momentum=0.5".parse().unwrap();
        let stale = stale_key(&unknown("momentum"), before, std::slice::from_ref(&adam));
        assert_eq!(
            stale.map(|p| p.to_string()),
            Some("optimizer.momentum".into())
        );
        // the same class: the key was wrong before the override
        assert_eq!(stale_key(&unknown("momentum"), before, &[sgd]), None);
        // a key the user set is never dropped
        assert_eq!(stale_key(&unknown("momentum"), before, &[adam, m]), None);
        let p = KeyPath::root().key("optimizer").key("momentum");
        assert_eq!(
            remove(before, &p).as_deref(),
            Some("[optimizer]\ntype = \"SGD\"\nlr = 0.1\n")
        );
        assert_eq!(remove(before, &KeyPath::root().key("x").key("y")), None);
    }
}
