//! Errors in an experiment file, shown the way cargo shows them: the file, line and
//! column, the offending text underlined, the key path, and a suggestion.

use crate::keypath::{KeyPath, Segment};
use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::Buffer};
use std::fmt;
use std::ops::Range;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// What part of an entry an error points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The key (an unknown or misplaced key).
    Key,
    /// The value (a wrong type, an invalid value).
    Value,
}

/// One problem in an experiment file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Where: the key path.
    pub path: KeyPath,
    /// Point at the key or at the value.
    pub target: Target,
    /// What is wrong.
    pub message: String,
    /// The label under the underlined text.
    pub label: String,
    /// A suggestion ("did you mean `out_features`?").
    pub help: Option<String>,
    /// A byte range to use when the path cannot locate the problem (syntax errors).
    pub span: Option<Box<Range<usize>>>,
}

impl Diagnostic {
    /// A problem with the value at `path`.
    pub fn value(path: KeyPath, message: impl Into<String>) -> Self {
        Self {
            path,
            target: Target::Value,
            message: message.into(),
            label: String::new(),
            help: None,
            span: None,
        }
    }

    /// A problem with the key at `path`.
    pub fn key(path: KeyPath, message: impl Into<String>) -> Self {
        Self {
            target: Target::Key,
            ..Self::value(path, message)
        }
    }

    /// Adds a suggestion.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The help "did you mean `x`?" with `x` the nearest of `known` to `word`, else
    /// `otherwise()`.
    pub fn with_nearest<'k>(
        self,
        word: &str,
        known: impl IntoIterator<Item = &'k str>,
        otherwise: impl FnOnce() -> String,
    ) -> Self {
        match suggest(word, known) {
            Some(s) => self.with_help(format!("did you mean `{s}`?")),
            None => self.with_help(otherwise()),
        }
    }

    /// Sets the label under the underlined text.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)?;
        if let Some(h) = &self.help {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

pub use wick_tensor::catalog::suggest;

/// The byte range of the key or value at `path` in a parsed document: the deepest
/// part of the path that exists.
pub fn locate(doc: &Spanned<DeTable<'_>>, path: &KeyPath, target: Target) -> Range<usize> {
    let mut span = doc.span();
    let mut table: Option<&DeTable<'_>> = Some(doc.get_ref());
    let mut value: Option<&Spanned<DeValue<'_>>> = None;
    for (i, seg) in path.0.iter().enumerate() {
        let last = i + 1 == path.0.len();
        match seg {
            Segment::Key(k) => {
                let Some(t) = table else { break };
                let Some((key, v)) = t.iter().find(|(key, _)| key.get_ref() == k) else {
                    break;
                };
                span = if last && target == Target::Key {
                    key.span()
                } else {
                    v.span()
                };
                value = Some(v);
            }
            Segment::Index(n) => {
                let Some(v) = value.and_then(|v| v.get_ref().get(*n)) else {
                    break;
                };
                span = v.span();
                value = Some(v);
            }
        }
        table = value.and_then(|v| match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        });
    }
    span
}

/// Renders diagnostics against the file they came from, as cargo does:
///
/// ```text
/// error: unknown field `out_feature`
///   ┌─ experiments/bad.toml:9:22
///   │
/// 9 │   { type = "Linear", out_feature = 10 },
///   │                      ^^^^^^^^^^^ unknown field
///   │
///   = key: model.layers[3].out_feature
///   = help: did you mean `out_features`?
/// ```
pub fn render(file: &str, src: &str, diags: &[Diagnostic], color: bool) -> String {
    let doc = DeTable::parse(src).ok();
    let files = SimpleFile::new(file, src);
    let mut buf = if color {
        Buffer::ansi()
    } else {
        Buffer::no_color()
    };
    let config = term::Config::default();
    for d in diags {
        let span = match (&d.span, &doc) {
            (Some(s), _) => (**s).clone(),
            (None, Some(doc)) => locate(doc, &d.path, d.target),
            (None, None) => 0..0,
        };
        let span = span.start.min(src.len())..span.end.min(src.len());
        let mut notes = vec![format!("key: {}", d.path)];
        if let Some(h) = &d.help {
            notes.push(format!("help: {h}"));
        }
        let report = Report::error()
            .with_message(&d.message)
            .with_labels(vec![Label::primary((), span).with_message(&d.label)])
            .with_notes(notes);
        let _ = term::emit(&mut buf, &config, &files, &report);
    }
    String::from_utf8_lossy(buf.as_slice()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("out_feature", ["in_features", "out_features", "bias"]),
            Some("out_features")
        );
        assert_eq!(suggest("conv2d", ["Conv2d", "Linear"]), Some("Conv2d"));
        assert_eq!(suggest("Lenear", ["Conv2d", "Linear"]), Some("Linear"));
        assert_eq!(suggest("xyz", ["Conv2d", "Linear"]), None);
    }

    #[test]
    fn locates_nested_keys_and_values() {
        let src =
            "name = \"x\"\n[model]\nlayers = [\n  { type = \"Linear\", out_feature = 10 },\n]\n";
        let doc = DeTable::parse(src).unwrap();
        let p = KeyPath::root()
            .key("model")
            .key("layers")
            .index(0)
            .key("out_feature");
        let k = locate(&doc, &p, Target::Key);
        assert_eq!(&src[k], "out_feature");
        let v = locate(&doc, &p, Target::Value);
        assert_eq!(&src[v], "10");
        let text = render(
            "bad.toml",
            src,
            &[Diagnostic::key(p, "unknown field `out_feature`")
                .with_help("did you mean `out_features`?")],
            false,
        );
        assert!(text.contains("bad.toml:4:22"), "{text}");
        assert!(text.contains("key: model.layers[0].out_feature"), "{text}");
        assert!(text.contains("did you mean `out_features`?"), "{text}");
    }
}
