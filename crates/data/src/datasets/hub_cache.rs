//! The Hugging Face hub's local cache, read without the network.
//!
//! The layout is `huggingface_hub`'s (Python) and `hf-hub`'s (Rust), shared by both:
//!
//! ```text
//! <cache>/datasets--<owner>--<name>/
//!     refs/<revision>                 the commit a branch or ref points to
//!     snapshots/<commit>/<file>       the repository's files at that commit
//!     blobs/<etag>                    the contents (snapshot files link here)
//! ```
//!
//! A ref may hold slashes: `refs/convert/parquet`, the branch where the hub keeps a
//! parquet copy of every public dataset, is the file `refs/refs/convert/parquet`.

use std::path::{Path, PathBuf};

/// The branch the hub's dataset viewer writes parquet copies of datasets to; the
/// revision `candle-datasets` reads.
pub const PARQUET_REVISION: &str = "refs/convert/parquet";

/// The hub cache folder: `HF_HUB_CACHE`, else `HUGGINGFACE_HUB_CACHE`, else
/// `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
/// `~/.cache/huggingface/hub` (the order of `huggingface_hub` and `hf-hub`).
pub fn default_cache_dir() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = var("HF_HUB_CACHE").or_else(|| var("HUGGINGFACE_HUB_CACHE")) {
        return PathBuf::from(d);
    }
    let home = match (var("HF_HOME"), var("XDG_CACHE_HOME")) {
        (Some(h), _) => PathBuf::from(h),
        (None, Some(x)) => PathBuf::from(x).join("huggingface"),
        (None, None) => PathBuf::from(var("HOME").unwrap_or_else(|| "/tmp".into()))
            .join(".cache")
            .join("huggingface"),
    };
    home.join("hub")
}

/// Whether the hub may not be contacted: `HF_HUB_OFFLINE` or `HF_DATASETS_OFFLINE` is
/// `1`, `ON`, `YES` or `TRUE` (any case), as in `huggingface_hub` and `datasets`.
pub fn offline() -> bool {
    ["HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"].iter().any(|k| {
        std::env::var(k).is_ok_and(|v| {
            matches!(
                v.trim().to_ascii_uppercase().as_str(),
                "1" | "ON" | "YES" | "TRUE"
            )
        })
    })
}

/// The cache folder of dataset repository `repo_id` (`owner/name`):
/// `datasets--owner--name`.
pub fn repo_folder(repo_id: &str) -> String {
    std::iter::once("datasets")
        .chain(repo_id.split('/'))
        .collect::<Vec<_>>()
        .join("--")
}

/// Whether `revision` is a full commit hash (40 hexadecimal digits).
pub fn is_commit_hash(revision: &str) -> bool {
    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A repository's files at one commit, as found in the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedSnapshot {
    /// The commit.
    pub commit: String,
    /// `<cache>/<repo folder>/snapshots/<commit>`.
    pub dir: PathBuf,
    /// The files under `dir`, relative, `/`-separated, sorted.
    pub files: Vec<String>,
}

/// The cached snapshot of `repo_id` at `revision` (a commit, or a branch/ref whose
/// `refs/` file names the commit), or `None` when the cache has no such snapshot.
pub fn cached_snapshot(cache: &Path, repo_id: &str, revision: &str) -> Option<CachedSnapshot> {
    let repo = cache.join(repo_folder(repo_id));
    let commit = if is_commit_hash(revision) {
        revision.to_string()
    } else {
        let r = std::fs::read_to_string(repo.join("refs").join(revision)).ok()?;
        r.trim().to_string()
    };
    if commit.is_empty() || commit.contains(['/', '\\']) || commit.starts_with('.') {
        return None;
    }
    let dir = repo.join("snapshots").join(&commit);
    if !dir.is_dir() {
        return None;
    }
    let mut files = Vec::new();
    list_files(&dir, "", &mut files, 0);
    files.sort();
    Some(CachedSnapshot { commit, dir, files })
}

/// Appends the files under `dir` (following links, as snapshot files are links to
/// blobs) to `out`, as `prefix/name`.
fn list_files(dir: &Path, prefix: &str, out: &mut Vec<String>, depth: usize) {
    // a link cycle would recurse forever; hub repositories are not this deep
    if depth > 32 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let path = e.path();
        if path.is_dir() {
            list_files(&path, &rel, out, depth + 1);
        } else if path.is_file() {
            out.push(rel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_folders_and_commits() {
        assert_eq!(repo_folder("ylecun/mnist"), "datasets--ylecun--mnist");
        assert_eq!(repo_folder("mnist"), "datasets--mnist");
        assert!(is_commit_hash("0123456789abcdef0123456789abcdef01234567"));
        assert!(!is_commit_hash("main"));
        assert!(!is_commit_hash("0123456789abcdef0123456789abcdef0123456"));
    }

    #[test]
    fn snapshots_by_ref_and_by_commit() {
        let d = tempfile::tempdir().unwrap();
        let repo = d.path().join("datasets--o--n");
        let commit = "ab".repeat(20);
        let snap = repo.join("snapshots").join(&commit);
        std::fs::create_dir_all(snap.join("cfg/train")).unwrap();
        std::fs::create_dir_all(repo.join("blobs")).unwrap();
        std::fs::write(repo.join("blobs/e1"), b"x").unwrap();
        std::fs::write(snap.join("cfg/train/0000.parquet"), b"x").unwrap();
        std::fs::write(snap.join("README.md"), b"x").unwrap();
        std::fs::create_dir_all(repo.join("refs/refs/convert")).unwrap();
        std::fs::write(
            repo.join("refs/refs/convert/parquet"),
            format!("{commit}\n"),
        )
        .unwrap();
        let s = cached_snapshot(d.path(), "o/n", PARQUET_REVISION).unwrap();
        assert_eq!(s.commit, commit);
        assert_eq!(s.files, vec!["README.md", "cfg/train/0000.parquet"]);
        assert_eq!(cached_snapshot(d.path(), "o/n", &commit).unwrap(), s);
        // no ref, no snapshot, no repository
        assert!(cached_snapshot(d.path(), "o/n", "main").is_none());
        assert!(cached_snapshot(d.path(), "o/n", &"cd".repeat(20)).is_none());
        assert!(cached_snapshot(d.path(), "o/other", PARQUET_REVISION).is_none());
        // a ref that points outside the snapshots
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs/main"), "../../x").unwrap();
        assert!(cached_snapshot(d.path(), "o/n", "main").is_none());
    }
}
