//! Downloading dataset files: mirrors tried in order, MD5 verified while streaming, a
//! progress bar on a terminal, and an atomic rename so that an interrupted download
//! never leaves a half-written file under the final name.

use crate::{Error, Result};
use indicatif::{ProgressBar, ProgressStyle};
use md5::{Digest, Md5};
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
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_body(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut failures = Vec::new();
    for mirror in mirrors {
        let url = format!("{}/{}", mirror.trim_end_matches('/'), res.file);
        tracing::info!(%url, dest = %dest.display(), "downloading {url} into {}", dir.display());
        match fetch(&agent, &url, res, &dest) {
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

fn fetch(
    agent: &ureq::Agent,
    url: &str,
    res: &Resource,
    dest: &Path,
) -> std::result::Result<(), String> {
    let mut resp = agent.get(url).call().map_err(|e| e.to_string())?;
    let total = resp.body().content_length();
    let dir = dest.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.part-{}", res.file, std::process::id()));
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
        bar.set_message(res.file);
        // cleared on every path, so a failure's log line is not drawn over a stale bar
        struct Clear(ProgressBar);
        impl Drop for Clear {
            fn drop(&mut self) {
                self.0.finish_and_clear();
            }
        }
        let bar = Clear(bar);
        let mut reader = resp.body_mut().as_reader();
        let mut h = Md5::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0u64;
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| format!("connection lost after {got} bytes: {e}"))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
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
        let digest = hex(&h.finalize());
        if digest != res.md5 {
            return Err(format!(
                "checksum mismatch: MD5 {digest}, expected {}",
                res.md5
            ));
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
