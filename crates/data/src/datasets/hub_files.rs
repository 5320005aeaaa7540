//! Which files of a hub dataset repository hold a configuration's split, as
//! `datasets.load_dataset` finds them.
//!
//! - On the parquet branch (`refs/convert/parquet`) the files are
//!   `<config>/<split>/NNNN.parquet` (`<config>/partial-<split>/…` when the hub
//!   converted only part of a large split; `<config>/<name>-<split>.parquet` in older
//!   conversions). The first folder is the configuration (`name`).
//! - On other revisions (a repository that holds parquet files itself), a file is of
//!   split `s` when a folder of its path is `s`, or its name holds `s` between
//!   separators (`-`, `_`, `.`, space or digits): `data/train-00000-of-00001.parquet`,
//!   `test.parquet`; these are the default patterns of `datasets`.
//! - `data_files` patterns: `*` and `?` match within one path component, `**` across
//!   them, as fsspec's glob.

#![cfg_attr(not(feature = "hub"), allow(dead_code))]

use super::hub_cache::PARQUET_REVISION;
use crate::{Error, Result};

/// How many file names an error message lists.
const LISTED: usize = 12;

/// The configurations of a listing of the parquet branch: the first folder of each
/// parquet file, sorted, without repeats.
pub(crate) fn configs(files: &[String]) -> Vec<String> {
    let mut c: Vec<String> = files
        .iter()
        .filter(|f| f.ends_with(".parquet"))
        .filter_map(|f| f.split_once('/').map(|(c, _)| c.to_string()))
        .collect();
    c.sort();
    c.dedup();
    c
}

/// The parquet files of configuration `name` and split `split` among `files` (the
/// repository's files at `revision`), sorted; `repo` names the repository in errors.
///
/// # Errors
/// [`Error::NotFound`] when the configuration is ambiguous or missing, or no file
/// is of the split; the message lists what there is.
pub(crate) fn split_files(
    files: &[String],
    repo: &str,
    revision: &str,
    name: Option<&str>,
    split: &str,
) -> Result<Vec<String>> {
    let parquet: Vec<&String> = files.iter().filter(|f| f.ends_with(".parquet")).collect();
    if parquet.is_empty() {
        return Err(Error::NotFound(format!(
            "{repo} has no parquet file at revision {revision}{}",
            listing(files)
        )));
    }
    let cfgs = configs(files);
    let config = match name {
        Some(n) => {
            if !cfgs.iter().any(|c| c == n) {
                return Err(Error::NotFound(format!(
                    "{repo} has no configuration {n:?} at revision {revision}; its configurations: {}",
                    quoted(&cfgs)
                )));
            }
            Some(n.to_string())
        }
        None if revision == PARQUET_REVISION => {
            if cfgs.len() == 1 {
                Some(cfgs[0].clone())
            } else if cfgs.iter().any(|c| c == "default") {
                Some("default".into())
            } else {
                return Err(Error::NotFound(format!(
                    "{repo} has several configurations; pick one with `name`: {}",
                    quoted(&cfgs)
                )));
            }
        }
        None => None,
    };
    let prefix = config.as_ref().map(|c| format!("{c}/")).unwrap_or_default();
    let within: Vec<&str> = parquet
        .iter()
        .filter_map(|f| f.strip_prefix(prefix.as_str()))
        .collect();
    let mut out: Vec<String> = within
        .iter()
        .filter(|rel| of_split(rel, split))
        .map(|rel| format!("{prefix}{rel}"))
        .collect();
    out.sort();
    if out.is_empty() {
        let shown: Vec<String> = within.iter().map(|r| format!("{prefix}{r}")).collect();
        return Err(Error::NotFound(format!(
            "{repo} has no parquet file of split {split:?}{} at revision {revision}{}",
            config
                .map(|c| format!(" in configuration {c:?}"))
                .unwrap_or_default(),
            listing(&shown)
        )));
    }
    Ok(out)
}

/// Whether the parquet file at `rel` (relative to its configuration) is of `split`.
pub(crate) fn of_split(rel: &str, split: &str) -> bool {
    if split.is_empty() {
        return false;
    }
    let mut parts: Vec<&str> = rel.split('/').collect();
    let file = parts.pop().unwrap_or_default();
    if parts
        .iter()
        .any(|d| *d == split || d.strip_prefix("partial-") == Some(split))
    {
        return true;
    }
    let stem = file.strip_suffix(".parquet").unwrap_or(file);
    let sep = |c: Option<char>| c.is_none_or(|c| "-._ ".contains(c) || c.is_ascii_digit());
    stem.match_indices(split).any(|(i, _)| {
        sep(stem[..i].chars().next_back()) && sep(stem[i + split.len()..].chars().next())
    })
}

/// Whether `path` matches the glob `pattern` (`*`, `?` within a component, `**`
/// across components).
pub(crate) fn glob_match(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p {
            [] => s.is_empty(),
            [b'*', b'*', rest @ ..] => {
                let rest = rest.strip_prefix(b"/").unwrap_or(rest);
                (0..=s.len()).any(|i| go(rest, &s[i..]))
            }
            [b'*', rest @ ..] => {
                let end = s.iter().position(|&c| c == b'/').unwrap_or(s.len());
                (0..=end).any(|i| go(rest, &s[i..]))
            }
            [b'?', rest @ ..] => matches!(s, [c, tail @ ..] if *c != b'/' && go(rest, tail)),
            [c, rest @ ..] => matches!(s, [d, tail @ ..] if d == c && go(rest, tail)),
        }
    }
    go(pattern.as_bytes(), path.as_bytes())
}

/// Whether a `data_files` entry is a pattern (else a file name).
pub(crate) fn is_pattern(p: &str) -> bool {
    p.contains(['*', '?'])
}

/// `data_files` entries resolved against the listing `files`: patterns expand to the
/// matching files (sorted), names stay as they are.
///
/// # Errors
/// [`Error::NotFound`] for a pattern that matches nothing.
pub(crate) fn expand(patterns: &[String], files: &[String], repo: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for p in patterns {
        if !is_pattern(p) {
            out.push(p.clone());
            continue;
        }
        let mut m: Vec<String> = files.iter().filter(|f| glob_match(p, f)).cloned().collect();
        if m.is_empty() {
            return Err(Error::NotFound(format!(
                "data_files pattern {p:?} matches no file of {repo}{}",
                listing(files)
            )));
        }
        m.sort();
        out.extend(m);
    }
    Ok(out)
}

fn quoted(v: &[String]) -> String {
    v.iter()
        .map(|c| format!("{c:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn listing(files: &[String]) -> String {
    if files.is_empty() {
        return " (it has no file)".into();
    }
    let mut s = format!(
        "; its files: {}",
        files[..files.len().min(LISTED)].join(", ")
    );
    if files.len() > LISTED {
        s += &format!(", … ({} in all)", files.len());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn split_names_in_folders_and_file_names() {
        for (rel, split) in [
            ("train/0000.parquet", "train"),
            ("partial-train/0003.parquet", "train"),
            ("mnist-test.parquet", "test"),
            ("train-00000-of-00002.parquet", "train"),
            ("data/test.parquet", "test"),
            ("x/validation_0.parquet", "validation"),
        ] {
            assert!(of_split(rel, split), "{rel} is of {split}");
        }
        for (rel, split) in [
            ("train/0000.parquet", "test"),
            ("trainval/0000.parquet", "train"),
            ("latest.parquet", "test"),
            ("contest-1.parquet", "test"),
            ("train/0000.parquet", ""),
        ] {
            assert!(!of_split(rel, split), "{rel} is not of {split:?}");
        }
    }

    #[test]
    fn configs_and_splits_of_the_parquet_branch() {
        let files = v(&[
            ".gitattributes",
            "mnist/test/0000.parquet",
            "mnist/train/0001.parquet",
            "mnist/train/0000.parquet",
        ]);
        let r = |name, split| split_files(&files, "o/n", PARQUET_REVISION, name, split);
        assert_eq!(
            r(None, "train").unwrap(),
            v(&["mnist/train/0000.parquet", "mnist/train/0001.parquet"])
        );
        assert_eq!(
            r(Some("mnist"), "test").unwrap(),
            v(&["mnist/test/0000.parquet"])
        );
        let e = r(None, "validation").unwrap_err().to_string();
        assert!(
            e.contains("no parquet file of split \"validation\" in configuration \"mnist\""),
            "{e}"
        );
        assert!(e.contains("mnist/test/0000.parquet"), "{e}");
        let e = r(Some("fashion"), "train").unwrap_err().to_string();
        assert!(
            e.contains("no configuration \"fashion\"") && e.contains("\"mnist\""),
            "{e}"
        );
        // several configurations: `default` when there is one, else an error
        let files = v(&["a/train/0.parquet", "b/train/0.parquet"]);
        let e = split_files(&files, "o/n", PARQUET_REVISION, None, "train")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pick one with `name`: \"a\", \"b\""), "{e}");
        let files = v(&["a/train/0.parquet", "default/train/0.parquet"]);
        assert_eq!(
            split_files(&files, "o/n", PARQUET_REVISION, None, "train").unwrap(),
            v(&["default/train/0.parquet"])
        );
        // another revision: every parquet file, by name
        let files = v(&[
            "README.md",
            "data/train-0-of-1.parquet",
            "data/test-0-of-1.parquet",
        ]);
        assert_eq!(
            split_files(&files, "o/n", "main", None, "test").unwrap(),
            v(&["data/test-0-of-1.parquet"])
        );
        let e = split_files(&v(&["README.md"]), "o/n", "main", None, "test")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("o/n has no parquet file at revision main"),
            "{e}"
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match(
            "data/train-*.parquet",
            "data/train-0-of-2.parquet"
        ));
        assert!(!glob_match(
            "data/train-*.parquet",
            "data/x/train-0.parquet"
        ));
        assert!(!glob_match("*.parquet", "data/a.parquet"));
        assert!(glob_match("**/*.parquet", "data/a.parquet"));
        assert!(glob_match("**/*.parquet", "a.parquet"));
        assert!(glob_match("d?ta/a.parquet", "data/a.parquet"));
        assert!(!glob_match("d?ta/a.parquet", "d/ta/a.parquet"));
        let files = v(&["t/b.parquet", "t/a.parquet", "u/c.parquet"]);
        assert_eq!(
            expand(&v(&["t/*.parquet", "x.parquet"]), &files, "o/n").unwrap(),
            v(&["t/a.parquet", "t/b.parquet", "x.parquet"])
        );
        let e = expand(&v(&["v/*"]), &files, "o/n").unwrap_err().to_string();
        assert!(e.contains("\"v/*\" matches no file of o/n"), "{e}");
    }
}
