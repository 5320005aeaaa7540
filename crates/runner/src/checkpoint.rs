//! Checkpoints: `runs/<name>/<ts>/checkpoints/`.
//!
//! Each checkpoint is a folder holding two safetensors files:
//! - `model.safetensors`: the model's `state_dict()` under PyTorch's key names
//!   (`0.weight`, `3.running_mean`), nothing else, so that
//!   `model.load_state_dict(safetensors.torch.load_file(".../model.safetensors"))`
//!   works on the `nn.Sequential` the experiment describes;
//! - `state.safetensors`: the optimizer's state tensors by parameter name, and in its
//!   header the training state as JSON (epoch, step, position in the epoch, scheduler,
//!   metric history, best value, the config's hash).
//!
//! Folders are written under a temporary name, every file fsynced, then renamed into
//! place; `last` and `best` are symbolic links replaced atomically (a new link renamed
//! over the old one). A kill at any moment leaves the previous `last` whole: it is
//! deleted only after the link points at the new one.

use candle_core::{DType, Device, Tensor};
use serde::{de::DeserializeOwned, Serialize};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The header key holding the training state in `state.safetensors`.
const STATE_KEY: &str = "wick_state";
/// The model weights file in a checkpoint folder.
pub const MODEL_FILE: &str = "model.safetensors";
/// The optimizer and training state file in a checkpoint folder.
pub const STATE_FILE: &str = "state.safetensors";

/// `[train.checkpoint]`: when to write checkpoints besides `last` at every epoch's end.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Also keep `epoch-N` every N epochs (default 0: only `last` and `best`).
    #[serde(default)]
    pub every_n_epochs: usize,
    /// Refresh `last` every N optimizer steps, mid-epoch (default 0: at epoch ends).
    #[serde(default)]
    pub every_n_steps: u64,
    /// The metric that picks `best` (default `test_acc` for classification with a
    /// test split, else `test_loss`, else `train_loss`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<String>,
    /// `min` or `max` (default: from the metric's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<crate::monitor::Mode>,
    /// The newest `step-*` checkpoints kept (default 2): `last` and the one before it,
    /// so that a `last` found damaged has a whole predecessor to resume from.
    #[serde(default = "default_keep_last")]
    pub keep_last: usize,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            every_n_epochs: 0,
            every_n_steps: 0,
            monitor: None,
            mode: None,
            keep_last: default_keep_last(),
        }
    }
}

fn default_keep_last() -> usize {
    2
}

/// A checkpoint that cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// A file could not be written or read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why (said in the message, so not a `source` that would be said twice).
        error: io::Error,
    },
    /// A file is not a valid checkpoint.
    #[error("{path}: not a valid wick checkpoint: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CheckpointError + '_ {
    move |error| CheckpointError::Io {
        path: path.to_path_buf(),
        error,
    }
}

fn corrupt(path: &Path, message: impl ToString) -> CheckpointError {
    CheckpointError::Corrupt {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Tensors by name, in a stable order.
pub type NamedTensors = Vec<(String, Tensor)>;

/// A checkpoint in memory.
#[derive(Clone)]
pub struct Checkpoint<S> {
    /// The model's state_dict.
    pub model: Vec<(String, Tensor)>,
    /// The optimizer's state tensors.
    pub optimizer: Vec<(String, Tensor)>,
    /// Everything else, as JSON in the header of `state.safetensors`.
    pub state: S,
}

fn serialize_tensors(
    tensors: &[(String, Tensor)],
    metadata: Option<HashMap<String, String>>,
    path: &Path,
) -> Result<Vec<u8>, CheckpointError> {
    // Move everything to host memory, contiguous, before serializing.
    let host: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(k, t)| {
            t.to_device(&Device::Cpu)
                .and_then(|t| t.contiguous())
                .map(|t| (k.clone(), t))
        })
        .collect::<candle_core::Result<_>>()
        .map_err(|e| corrupt(path, e))?;
    let views: Vec<(&str, &Tensor)> = host.iter().map(|(k, t)| (k.as_str(), t)).collect();
    safetensors::tensor::serialize(views, metadata).map_err(|e| corrupt(path, e))
}

impl CheckpointError {
    /// The checkpoint folder holding the file the error is about.
    pub fn folder(&self) -> Option<&Path> {
        match self {
            Self::Io { path, .. } | Self::Corrupt { path, .. } => path.parent(),
        }
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let mut f = File::create(path).map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

fn sync_dir(path: &Path) -> Result<(), CheckpointError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io_err(path))
}

/// Writes `ckpt` as `dir/<id>/` and points the links in `links` (e.g. `last`, `best`)
/// at it. Of the folders named `step-*`, those no link points at are removed, but for
/// the newest `keep_last` (at least the one just written).
pub fn save<S: Serialize>(
    dir: &Path,
    id: &str,
    ckpt: &Checkpoint<S>,
    links: &[&str],
    keep_last: usize,
) -> Result<PathBuf, CheckpointError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let target = dir.join(id);
    if !target.exists() {
        let tmp = dir.join(format!(".tmp-{id}-{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
        }
        fs::create_dir(&tmp).map_err(io_err(&tmp))?;
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), "pt".to_string());
        let model_path = tmp.join(MODEL_FILE);
        let bytes = serialize_tensors(&ckpt.model, Some(meta.clone()), &model_path)?;
        write_synced(&model_path, &bytes)?;
        let state_path = tmp.join(STATE_FILE);
        let json = serde_json::to_string(&ckpt.state).map_err(|e| corrupt(&state_path, e))?;
        meta.insert(STATE_KEY.to_string(), json);
        let bytes = serialize_tensors(&ckpt.optimizer, Some(meta), &state_path)?;
        write_synced(&state_path, &bytes)?;
        sync_dir(&tmp)?;
        fs::rename(&tmp, &target).map_err(io_err(&target))?;
    }
    for link in links {
        let tmp_link = dir.join(format!(".{link}.tmp"));
        let _ = fs::remove_file(&tmp_link);
        symlink(Path::new(id), &tmp_link).map_err(io_err(&tmp_link))?;
        fs::rename(&tmp_link, dir.join(link)).map_err(io_err(&dir.join(link)))?;
    }
    sync_dir(dir)?;
    collect_garbage(dir, keep_last)?;
    Ok(target)
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    // A text file naming the folder stands in for a link where symlinks need privileges.
    fs::write(link, target.to_string_lossy().as_bytes())
}

/// The folder a link (`last`, `best`) points at.
pub fn resolve(dir: &Path, link: &str) -> Option<PathBuf> {
    let l = dir.join(link);
    let target = fs::read_link(&l)
        .ok()
        .or_else(|| fs::read_to_string(&l).ok().map(|s| PathBuf::from(s.trim())))?;
    let p = dir.join(target);
    p.is_dir().then_some(p)
}

/// The step of a `step-NNNNNNNNN` folder name.
fn step_of(name: &str) -> Option<u64> {
    name.strip_prefix("step-")?.parse().ok()
}

/// Removes the `step-*` folders that no link points at, but for the newest `keep_last`
/// checkpoints (of any kind), and stale temporary folders.
fn collect_garbage(dir: &Path, keep_last: usize) -> Result<(), CheckpointError> {
    let live: Vec<PathBuf> = ["last", "best"]
        .iter()
        .filter_map(|l| resolve(dir, l))
        .collect();
    let entries = fs::read_dir(dir).map_err(io_err(dir))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") && !name.ends_with(&format!("-{}", std::process::id())) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
    for path in folders_newest_first(dir).into_iter().skip(keep_last) {
        let is_step = path
            .file_name()
            .is_some_and(|n| step_of(&n.to_string_lossy()).is_some());
        if is_step && !live.contains(&path) {
            let _ = fs::remove_dir_all(path);
        }
    }
    Ok(())
}

/// The checkpoint folders of `dir` (`step-*`, `epoch-*`), newest first (by the time
/// they were written).
fn folders_newest_first(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<(std::time::SystemTime, u64, PathBuf)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name.starts_with("step-") || name.starts_with("epoch-")) && e.path().is_dir()
        })
        .map(|e| {
            let written = e.metadata().and_then(|m| m.modified());
            let step = step_of(&e.file_name().to_string_lossy()).unwrap_or(0);
            (written.unwrap_or(std::time::UNIX_EPOCH), step, e.path())
        })
        .collect();
    // newest first; among folders written in the same clock tick, the later step
    found.sort_by(|a, b| b.cmp(a));
    found.into_iter().map(|(_, _, p)| p).collect()
}

/// A checkpoint found by [`load_newest_whole`]: its folder, its contents, and the
/// errors of the newer ones that did not read.
pub type Found<S> = (PathBuf, Checkpoint<S>, Vec<CheckpointError>);

/// The newest checkpoint of `dir` that reads whole: the one `last` points at, else the
/// other folders, newest first. Returns its folder, its contents and the errors of the
/// newer ones that did not read (each names its file); `None` when `dir` holds no
/// checkpoint at all, the first error when none reads.
pub fn load_newest_whole<S: DeserializeOwned>(
    dir: &Path,
    device: &Device,
) -> Option<Result<Found<S>, CheckpointError>> {
    let mut candidates: Vec<PathBuf> = resolve(dir, "last").into_iter().collect();
    for p in folders_newest_first(dir) {
        if !candidates.contains(&p) {
            candidates.push(p);
        }
    }
    let mut skipped = Vec::new();
    for folder in candidates {
        match load(&folder, device) {
            Ok(c) => return Some(Ok((folder, c, skipped))),
            Err(e) => skipped.push(e),
        }
    }
    (!skipped.is_empty()).then(|| Err(skipped.remove(0)))
}

fn read_tensors(
    path: &Path,
    device: &Device,
) -> Result<(NamedTensors, HashMap<String, String>), CheckpointError> {
    let bytes = fs::read(path).map_err(io_err(path))?;
    let (_, meta) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| corrupt(path, e))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| corrupt(path, e))?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let dtype = match view.dtype() {
            safetensors::Dtype::F32 => DType::F32,
            safetensors::Dtype::F64 => DType::F64,
            safetensors::Dtype::I64 => DType::I64,
            safetensors::Dtype::U32 => DType::U32,
            safetensors::Dtype::U8 => DType::U8,
            safetensors::Dtype::F16 => DType::F16,
            safetensors::Dtype::BF16 => DType::BF16,
            d => {
                return Err(corrupt(
                    path,
                    format!("tensor `{name}` has unsupported dtype {d:?}"),
                ))
            }
        };
        let t = Tensor::from_raw_buffer(view.data(), dtype, view.shape(), device)
            .map_err(|e| corrupt(path, format!("tensor `{name}`: {e}")))?;
        out.push((name, t));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((out, metadata))
}

/// Reads a model state_dict from a `model.safetensors` (or any safetensors file).
pub fn load_model(path: &Path, device: &Device) -> Result<Vec<(String, Tensor)>, CheckpointError> {
    Ok(read_tensors(path, device)?.0)
}

/// Reads the checkpoint in folder `ckpt_dir`.
pub fn load<S: DeserializeOwned>(
    ckpt_dir: &Path,
    device: &Device,
) -> Result<Checkpoint<S>, CheckpointError> {
    let model = load_model(&ckpt_dir.join(MODEL_FILE), device)?;
    let state_path = ckpt_dir.join(STATE_FILE);
    let (optimizer, meta) = read_tensors(&state_path, device)?;
    let json = meta
        .get(STATE_KEY)
        .ok_or_else(|| corrupt(&state_path, format!("no `{STATE_KEY}` in the header")))?;
    let state = serde_json::from_str(json).map_err(|e| corrupt(&state_path, e))?;
    Ok(Checkpoint {
        model,
        optimizer,
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize, PartialEq, Debug)]
    struct St {
        step: u64,
    }

    fn ckpt(v: f32, step: u64) -> Checkpoint<St> {
        let d = Device::Cpu;
        Checkpoint {
            model: vec![
                ("0.weight".into(), Tensor::full(v, (2, 3), &d).unwrap()),
                (
                    "1.num_batches_tracked".into(),
                    Tensor::new(&[7i64], &d).unwrap().squeeze(0).unwrap(),
                ),
            ],
            optimizer: vec![(
                "state.0.weight.momentum_buffer".into(),
                Tensor::zeros(3, DType::F32, &d).unwrap(),
            )],
            state: St { step },
        }
    }

    #[test]
    fn round_trip_links_and_garbage() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("checkpoints");
        save(&dir, "step-000001", &ckpt(1.0, 1), &["last", "best"], 1).unwrap();
        save(&dir, "step-000002", &ckpt(2.0, 2), &["last"], 1).unwrap();
        save(&dir, "epoch-0001", &ckpt(3.0, 3), &["last"], 1).unwrap();
        // step-000002 is referenced by nothing any more; step-000001 is `best`.
        assert!(!dir.join("step-000002").exists());
        assert!(dir.join("step-000001").exists());
        let last = resolve(&dir, "last").unwrap();
        assert!(last.ends_with("epoch-0001"));
        let c: Checkpoint<St> = load(&last, &Device::Cpu).unwrap();
        assert_eq!(c.state, St { step: 3 });
        let w: Vec<f32> = c.model[0].1.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(w, vec![3.0; 6]);
        assert_eq!(c.model[1].1.dtype(), DType::I64);
        assert_eq!(c.optimizer.len(), 1);
        let best: Checkpoint<St> = load(&resolve(&dir, "best").unwrap(), &Device::Cpu).unwrap();
        assert_eq!(best.state, St { step: 1 });
    }

    #[test]
    fn corrupt_files_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        let p = save(&dir, "epoch-0001", &ckpt(1.0, 1), &["last"], 2).unwrap();
        let f = p.join(STATE_FILE);
        let bytes = fs::read(&f).unwrap();
        fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
        let e = load::<St>(&p, &Device::Cpu).err().unwrap().to_string();
        assert!(e.contains("state.safetensors"), "{e}");
        assert!(e.contains("not a valid wick checkpoint"), "{e}");
    }

    #[test]
    fn the_newest_step_folders_are_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        for step in 1..=5u64 {
            save(
                &dir,
                &format!("step-{step:09}"),
                &ckpt(0.0, step),
                &["last"],
                2,
            )
            .unwrap();
        }
        let mut left: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("step-"))
            .collect();
        left.sort();
        assert_eq!(left, ["step-000000004", "step-000000005"]);
    }

    #[test]
    fn a_damaged_last_falls_back_to_the_newest_whole_checkpoint() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        assert!(load_newest_whole::<St>(&dir, &Device::Cpu).is_none());
        save(&dir, "step-000000001", &ckpt(1.0, 1), &["last"], 2).unwrap();
        // distinct modification times, whatever the file system's resolution
        std::thread::sleep(std::time::Duration::from_millis(20));
        let p = save(&dir, "step-000000002", &ckpt(2.0, 2), &["last"], 2).unwrap();
        let f = p.join(MODEL_FILE);
        let bytes = fs::read(&f).unwrap();
        fs::write(&f, &bytes[..bytes.len() - 7]).unwrap();
        let (folder, c, skipped) = load_newest_whole::<St>(&dir, &Device::Cpu)
            .unwrap()
            .unwrap();
        assert!(folder.ends_with("step-000000001"));
        assert_eq!(c.state, St { step: 1 });
        assert_eq!(skipped.len(), 1);
        let e = skipped[0].to_string();
        assert!(
            e.contains("step-000000002") && e.contains(MODEL_FILE),
            "{e}"
        );
        // nothing whole: the error of `last`
        fs::remove_dir_all(dir.join("step-000000001")).unwrap();
        let e = load_newest_whole::<St>(&dir, &Device::Cpu)
            .unwrap()
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("step-000000002"), "{e}");
    }
}
