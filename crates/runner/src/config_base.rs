//! `base = "file.toml"`: an experiment that inherits another and changes a few keys
//! (Hydra's defaults list, reduced to its common case).
//!
//! ```toml
//! base = "mnist.toml"          # relative to this file's folder
//! name = "mnist-adam"
//! [optimizer]
//! type = "Adam"                # the base's other [optimizer] keys stay
//! ```
//!
//! The inheriting file's keys override the base's: tables are merged key by key,
//! everything else — arrays included, so `model.layers` is replaced whole — is
//! replaced. A table that names another `type` than the base's (`[optimizer] type =
//! "Adam"` over an `SGD`) replaces it whole: the base's arguments were another class's. A base may have a base of its own; a chain that comes back to a file is an
//! error. Every diagnostic points into the file where the offending key is written:
//! the file of the chain that writes the deepest part of the key path (the inheriting
//! file on a tie, as its value is the one in force). The run's `config.toml` is the
//! merged experiment.

use crate::diagnostic::{self, Diagnostic};
use crate::keypath::{KeyPath, Segment};
use std::path::{Path, PathBuf};

/// One file of a chain: its name as shown, its text and its table (without `base`).
pub(crate) struct Source {
    /// The path as given or as joined from a `base`.
    pub file: String,
    /// The text as read.
    pub src: String,
    table: toml::Table,
}

/// A file and the files it inherits from, the farthest base first.
pub(crate) struct Chain {
    /// Base first, the file asked for last.
    pub files: Vec<Source>,
}

/// A chain that cannot be read: the diagnostic, rendered against the file it is in.
pub(crate) struct ChainError {
    /// The problem.
    pub diagnostic: Box<Diagnostic>,
    /// The problem shown as `file:line:column`.
    pub rendered: String,
}

impl ChainError {
    fn new(file: &str, src: &str, d: Diagnostic) -> Self {
        let color = std::io::IsTerminal::is_terminal(&std::io::stderr());
        Self {
            rendered: diagnostic::render(file, src, std::slice::from_ref(&d), color),
            diagnostic: Box::new(d),
        }
    }
}

impl Chain {
    /// Reads `path` and, through their `base` keys, the files it inherits from.
    pub(crate) fn load(path: &Path) -> Result<Self, ChainError> {
        let mut files: Vec<Source> = Vec::new();
        let mut seen: Vec<PathBuf> = Vec::new();
        let mut next = path.to_path_buf();
        loop {
            let file = next.display().to_string();
            let src = std::fs::read_to_string(&next).map_err(|e| match files.last() {
                Some(child) => child.base_error(format!("cannot read the base {file}: {e}")),
                None => ChainError {
                    rendered: format!("error: cannot read {file}: {e}\n"),
                    diagnostic: Box::new(Diagnostic::value(
                        KeyPath::root(),
                        format!("cannot read {file}: {e}"),
                    )),
                },
            })?;
            let canonical = next.canonicalize().unwrap_or_else(|_| next.clone());
            if seen.contains(&canonical) {
                let names: Vec<_> = files.iter().map(|f| f.file.as_str()).collect();
                let child = files.last().expect("a cycle needs a file before it");
                return Err(child.base_error(format!(
                    "the `base` chain comes back to {file}: {} -> {file}",
                    names.join(" -> ")
                )));
            }
            seen.push(canonical);
            let mut table: toml::Table = toml::from_str(&src)
                .map_err(|e| ChainError::new(&file, &src, crate::raw::syntax_error(&src, &e)))?;
            let base = table.remove("base");
            let source = Source { file, src, table };
            match base {
                None => {
                    files.push(source);
                    break;
                }
                Some(toml::Value::String(b)) => {
                    next = next.parent().unwrap_or(Path::new("")).join(b);
                    files.push(source);
                }
                Some(_) => {
                    return Err(source.base_error(
                        "`base` is the path of the experiment file this one inherits from".into(),
                    ))
                }
            }
        }
        files.reverse();
        Ok(Self { files })
    }

    /// The text to parse: the file itself when it has no base, else the merged tables.
    pub(crate) fn text(&self) -> String {
        match self.files.as_slice() {
            [only] => only.src.clone(),
            files => {
                let mut merged = toml::Table::new();
                for f in files {
                    merge(&mut merged, f.table.clone());
                }
                toml::to_string(&merged).unwrap_or_default()
            }
        }
    }

    /// The file that writes the key at `path`: the one where the longest prefix of the
    /// path exists, the inheriting one on a tie.
    pub(crate) fn owner(&self, path: &KeyPath) -> &Source {
        let mut best = self.files.last().expect("a chain has a file");
        let mut depth = 0;
        for f in self.files.iter().rev() {
            let d = reach(&f.table, path);
            if d > depth {
                best = f;
                depth = d;
            }
        }
        best
    }
}

impl Source {
    /// A problem with this file's `base` key.
    fn base_error(&self, message: String) -> ChainError {
        let d = Diagnostic::value(KeyPath::root().key("base"), message).with_label("this base");
        ChainError::new(&self.file, &self.src, d)
    }
}

/// Overlays `over` on `into`: tables merged key by key, other values replaced.
fn merge(into: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b))
                if b.get("type").is_none_or(|t| a.get("type") == Some(t)) =>
            {
                merge(a, b)
            }
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// How many segments of `path` exist in `table`.
fn reach(table: &toml::Table, path: &KeyPath) -> usize {
    let mut here: Option<&toml::Value> = None;
    for (i, seg) in path.0.iter().enumerate() {
        let next = match (seg, here) {
            (Segment::Key(k), None) => table.get(k),
            (Segment::Key(k), Some(toml::Value::Table(t))) => t.get(k),
            (Segment::Index(n), Some(toml::Value::Array(a))) => a.get(*n),
            _ => None,
        };
        match next {
            Some(v) => here = Some(v),
            None => return i,
        }
    }
    path.0.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn tables_merge_and_arrays_are_replaced() {
        let mut a = table("x = 1\n[t]\na = 1\nb = [1, 2]\n[t.u]\nc = 3\n");
        merge(&mut a, table("[t]\nb = [3]\n[t.u]\nd = 4\n"));
        assert_eq!(
            a,
            table("x = 1\n[t]\na = 1\nb = [3]\n[t.u]\nc = 3\nd = 4\n")
        );
        let mut o = table("[o]\ntype = \"SGD\"\nmomentum = 0.9\n");
        merge(&mut o, table("[o]\ntype = \"Adam\"\n"));
        assert_eq!(o, table("[o]\ntype = \"Adam\"\n"));
        merge(&mut o, table("[o]\ntype = \"Adam\"\nlr = 1\n"));
        assert_eq!(o, table("[o]\ntype = \"Adam\"\nlr = 1\n"));
    }

    #[test]
    fn reach_counts_existing_segments() {
        let t = table("[model]\nlayers = [{ type = \"Linear\" }]\n");
        let p = KeyPath::root()
            .key("model")
            .key("layers")
            .index(0)
            .key("type");
        assert_eq!(reach(&t, &p), 4);
        let q = KeyPath::root().key("model").key("layers").index(3);
        assert_eq!(reach(&t, &q), 2);
        assert_eq!(reach(&t, &KeyPath::root().key("optimizer")), 0);
    }
}
