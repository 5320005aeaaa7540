//! Downloading dataset and weights files: mirrors tried in order, the checksum (MD5, or
//! the SHA-256 prefix that torch.hub puts in a file's name) verified while streaming, a
//! progress bar on a terminal, and an atomic rename so that an interrupted download
//! never leaves a half-written file under the final name.

use crate::{Error, Result};
use indicatif::{ProgressBar, ProgressStyle};
use md5::{Digest, Md5};
use sha2::Sha256;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One file of a dataset and its MD5 checksum (lowercase hex).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// File name on the mirror and on disk.
    pub file: &'static str,
    /// Expected MD5 of the file's bytes.
    pub md5: &'static str,
}

/// What a downloaded file's bytes are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// The whole MD5, lowercase hex (torchvision's dataset lists).
    Md5(String),
    /// The first hex digits of the SHA-256, as torch.hub's `check_hash` takes them from
    /// a file name (`resnet18-f37072fd.pth`: `f37072fd`).
    Sha256Prefix(String),
}

impl Checksum {
    /// torch.hub's hash prefix of a file name: the hex digits between its last `-` and
    /// the `.` after them (`HASH_REGEX = r"-([a-f0-9]*)\."`); `None` without one.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let (_, tail) = name.rsplit_once('-')?;
        let (hex, _) = tail.split_once('.')?;
        let ok = !hex.is_empty() && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Self::Sha256Prefix(hex.to_string()))
    }

    fn hasher(&self) -> Hasher {
        match self {
            Self::Md5(_) => Hasher::Md5(Md5::new()),
            Self::Sha256Prefix(_) => Hasher::Sha256(Sha256::new()),
        }
    }

    /// `None` when `digest` (lowercase hex) passes, else what was expected.
    fn mismatch(&self, digest: &str) -> Option<String> {
        match self {
            Self::Md5(want) if digest != want => Some(format!("MD5 {digest}, expected {want}")),
            Self::Sha256Prefix(want) if !digest.starts_with(want.as_str()) => Some(format!(
                "SHA-256 {digest}, expected one starting with {want}"
            )),
            _ => None,
        }
    }
}

enum Hasher {
    Md5(Md5),
    Sha256(Sha256),
}

impl Hasher {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Md5(h) => h.update(bytes),
            Self::Sha256(h) => h.update(bytes),
        }
    }

    fn hex(self) -> String {
        match self {
            Self::Md5(h) => hex(&h.finalize()),
            Self::Sha256(h) => hex(&h.finalize()),
        }
    }
}

/// MD5 of a file, lowercase hex.
pub fn md5_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Downloads `res` into `dir`, trying each mirror (a URL prefix) in turn, and returns
/// the final path. The file is streamed to a temporary name in `dir`, its MD5 checked,
/// fsynced and renamed into place. When every mirror fails, the error lists each
/// mirror's failure.
pub fn download(mirrors: &[String], res: &Resource, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let dest = dir.join(res.file);
    let agent = agent();
    let mut failures = Vec::new();
    let check = Checksum::Md5(res.md5.to_string());
    for mirror in mirrors {
        let url = format!("{}/{}", mirror.trim_end_matches('/'), res.file);
        tracing::info!(%url, dest = %dest.display(), "downloading {url} into {}", dir.display());
        match fetch(&agent, &url, Some(&check), &dest) {
            Ok(()) => return Ok(dest),
            Err(msg) => {
                tracing::warn!(%url, "download from {url} failed: {msg}");
                failures.push(format!("  {url}: {msg}"));
            }
        }
    }
    Err(Error::Download(format!(
        "could not download {} from any mirror:\n{}\nplace the file at {} yourself",
        res.file,
        failures.join("\n"),
        dest.display()
    )))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_body(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// Downloads `url` to the file `dest` (its folder created), checked against `check`,
/// (when given) as torch.hub's `download_url_to_file`: streamed to a temporary name beside it,
/// verified, fsynced and renamed into place.
///
/// # Errors
/// [`crate::Error::Download`] naming the URL and what failed (connection, HTTP status,
/// short body, checksum), and the path to place the file at by hand.
pub fn download_url(url: &str, dest: &Path, check: Option<&Checksum>) -> Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    tracing::info!(%url, dest = %dest.display(), "downloading {url} to {}", dest.display());
    fetch(&agent(), url, check, dest).map_err(|msg| {
        Error::Download(format!(
            "could not download {url}: {msg}\nplace the file at {} yourself",
            dest.display()
        ))
    })
}

fn fetch(
    agent: &ureq::Agent,
    url: &str,
    check: Option<&Checksum>,
    dest: &Path,
) -> std::result::Result<(), String> {
    let mut resp = agent.get(url).call().map_err(|e| e.to_string())?;
    let total = resp.body().content_length();
    let dir = dest.parent().unwrap_or(Path::new("."));
    let file = dest
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file}.part-{}", std::process::id()));
    let result = (|| {
        let mut out =
            File::create(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        let bar = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::no_length(),
        };
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                .map_err(|e| e.to_string())?
                .progress_chars("=> "),
        );
        bar.set_message(file.clone());
        // cleared on every path, so a failure's log line is not drawn over a stale bar
        struct Clear(ProgressBar);
        impl Drop for Clear {
            fn drop(&mut self) {
                self.0.finish_and_clear();
            }
        }
        let bar = Clear(bar);
        let mut reader = resp.body_mut().as_reader();
        let mut h = check.map(Checksum::hasher);
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0u64;
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| format!("connection lost after {got} bytes: {e}"))?;
            if n == 0 {
                break;
            }
            if let Some(h) = &mut h {
                h.update(&buf[..n]);
            }
            out.write_all(&buf[..n])
                .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
            got += n as u64;
            bar.0.set_position(got);
        }
        drop(bar);
        if let Some(n) = total {
            if got != n {
                return Err(format!("got {got} of {n} bytes"));
            }
        }
        if let (Some(c), Some(h)) = (check, h) {
            if let Some(m) = c.mismatch(&h.hex()) {
                return Err(format!("checksum mismatch: {m}"));
            }
        }
        out.sync_all()
            .map_err(|e| format!("cannot sync {}: {e}", tmp.display()))?;
        drop(out);
        std::fs::rename(&tmp, dest)
            .map_err(|e| format!("cannot rename into {}: {e}", dest.display()))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
