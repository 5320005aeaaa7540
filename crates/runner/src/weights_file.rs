//! Where `[model] weights` points, and its tensors: a URL through torch's own hub cache
//! (`torch.hub.load_state_dict_from_url`: `$TORCH_HOME/hub/checkpoints`, so that files
//! a user already downloaded with torchvision are found; a missing one downloaded and
//! checked against the SHA-256 prefix in its name), a `.safetensors` or PyTorch `.pth`
//! file, a checkpoint folder, a run directory (its `best` checkpoint, else `last`), or
//! an experiment's folder of runs (its newest run).

use crate::error::RunError;
use candle_core::{Device, Tensor};
use std::path::{Path, PathBuf};
use wick_data::download::{download_url, Checksum};

/// torch's cache root: `$TORCH_HOME`, else `$XDG_CACHE_HOME/torch`, else
/// `~/.cache/torch` (`torch.hub._get_torch_home`).
pub fn torch_home() -> PathBuf {
    if let Some(h) = std::env::var_os("TORCH_HOME") {
        return PathBuf::from(h);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default();
            home.join(".cache")
        });
    cache.join("torch")
}

/// Whether `s` is an http(s) URL.
pub(crate) fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

/// The file `source` names (a URL's cached copy, downloaded when missing).
pub(crate) fn resolve(source: &str) -> Result<PathBuf, RunError> {
    if is_url(source) {
        return cached_url(source);
    }
    let path = PathBuf::from(source);
    if !path.is_dir() {
        return match path.exists() {
            true => Ok(path),
            false => Err(RunError::Mismatch(format!(
                "model.weights: {} does not exist (a .pth or .safetensors file, a run \
                 directory, an experiment's folder of runs, a checkpoint folder, or a URL)",
                path.display()
            ))),
        };
    }
    let model_file = path.join(crate::checkpoint::MODEL_FILE);
    if model_file.is_file() {
        return Ok(model_file);
    }
    let run = match run_checkpoint(&path) {
        Some(ckpt) => Some(ckpt),
        None => newest_run(&path),
    };
    let ckpt = run.ok_or_else(|| {
        RunError::Mismatch(format!(
            "model.weights: {} is a folder but neither a checkpoint (no {}), a run \
             directory with checkpoints, nor an experiment's folder of runs",
            path.display(),
            crate::checkpoint::MODEL_FILE
        ))
    })?;
    Ok(ckpt.join(crate::checkpoint::MODEL_FILE))
}

/// The file a local `source` (not a URL) resolves to, if it does; URLs are left to the
/// caller (resolving one would download it).
pub(crate) fn resolve_local(source: &str) -> Option<PathBuf> {
    match is_url(source) {
        true => None,
        false => resolve(source).ok()?.canonicalize().ok(),
    }
}

/// A run directory's `best` checkpoint, else its `last`.
fn run_checkpoint(run: &Path) -> Option<PathBuf> {
    crate::rundir::find_checkpoint(run, "best")
        .or_else(|_| crate::rundir::find_checkpoint(run, "last"))
        .ok()
}

/// In an experiment's folder of runs (`runs/<name>`, one `<timestamp>` folder per run),
/// the checkpoint of the newest run that has one (timestamps sort by name).
fn newest_run(dir: &Path) -> Option<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    runs.sort();
    let ckpt = runs.iter().rev().find_map(|r| run_checkpoint(r))?;
    tracing::info!(
        "model.weights: the newest run of {} is {}",
        dir.display(),
        ckpt.display()
    );
    Some(ckpt)
}

/// Where `url`'s file lives in torch's hub cache, and its file name.
fn cache_path(url: &str) -> Result<(PathBuf, &str), RunError> {
    let file = url
        .rsplit('/')
        .next()
        .filter(|f| !f.is_empty())
        .ok_or_else(|| RunError::Mismatch(format!("model.weights: {url} names no file")))?;
    Ok((
        torch_home().join("hub").join("checkpoints").join(file),
        file,
    ))
}

/// Where `[model] weights` come from, for `wick check`: the file, or the URL and
/// whether torch's cache holds it (nothing is downloaded).
pub fn describe(source: &str) -> String {
    if !is_url(source) {
        return match resolve(source) {
            Ok(path) => format!("weights: {}", path.display()),
            Err(e) => format!("weights: {e}"),
        };
    }
    match cache_path(source) {
        Ok((path, _)) if path.is_file() => {
            format!("weights: {source}, in torch's cache at {}", path.display())
        }
        Ok((path, _)) => format!(
            "weights: {source}, not in torch's cache yet: downloaded to {} when the run starts",
            path.display()
        ),
        Err(e) => format!("weights: {e}"),
    }
}

/// `load_state_dict_from_url`'s file: in the hub cache, downloaded when missing.
fn cached_url(url: &str) -> Result<PathBuf, RunError> {
    let (dest, file) = cache_path(url)?;
    let dir = dest.parent().unwrap_or(Path::new(".")).to_path_buf();
    if dest.is_file() {
        tracing::info!(file = %dest.display(), "weights: {url} found in torch's cache");
        return Ok(dest);
    }
    let check = Checksum::from_file_name(file);
    download_url(url, &dest, check.as_ref()).map_err(|e| {
        RunError::Mismatch(format!(
            "{e}\n(torch's cache folder is {}: a file downloaded there by torchvision is \
             used as is; set TORCH_HOME to use another)",
            dir.display()
        ))
    })?;
    Ok(dest)
}

/// The tensors of a weights file, by its extension: `.safetensors`, else PyTorch's
/// `.pth` (read without running code).
pub(crate) fn read(path: &Path) -> Result<Vec<(String, Tensor)>, RunError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if ext == "safetensors" {
        return Ok(crate::checkpoint::load_model(path, &Device::Cpu)?);
    }
    Ok(wick_tensor::pth::load_pth(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_prefixes_come_from_torchvision_file_names() {
        let c = |f: &str| Checksum::from_file_name(f);
        assert_eq!(
            c("resnet18-f37072fd.pth"),
            Some(Checksum::Sha256Prefix("f37072fd".into()))
        );
        assert_eq!(
            c("efficientnet_b0_rwightman-7f5810bc.pth"),
            Some(Checksum::Sha256Prefix("7f5810bc".into()))
        );
        assert_eq!(
            c("alexnet-owt-7be5be79.pth"),
            Some(Checksum::Sha256Prefix("7be5be79".into()))
        );
        assert_eq!(c("weights.pth"), None);
        assert_eq!(c("my-model.pth"), None);
    }
}
