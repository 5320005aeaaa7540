//! The run directory: `runs/<name>/<timestamp>/`, never overwritten — its layout and
//! what resume, eval, predict and export read back from it (the config, the classes).

use crate::error::RunError;
use crate::metrics::MetricRow;
use crate::schema::Experiment;
use candle_core::{Device, DeviceLocation};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The file recording a `holdout` split: the indices of the training and test samples
/// in the dataset the two were cut from (`{"train": [...], "test": [...]}`).
pub const HOLDOUT_FILE: &str = "holdout.json";

/// The file naming the training data's classes in a run directory.
pub const CLASSES_FILE: &str = "classes.json";

/// An open run directory and its metric files.
pub struct RunDir {
    /// The directory.
    pub path: PathBuf,
    jsonl: File,
    csv: File,
    extra: Vec<String>,
}

impl RunDir {
    /// Creates `base/<name>/<YYYYmmdd-HHMMSS>` (with `-2`, `-3`… if that exists: a run
    /// directory is never reused) and opens `metrics.jsonl` and `metrics.csv`, whose
    /// header has the fixed columns then `extra`.
    pub fn create(base: &Path, name: &str, extra: &[String]) -> io::Result<Self> {
        let path = new_stamped_dir(&base.join(name), "")?;
        Self::open_new(path, extra)
    }

    /// Creates the run directory `path` itself (a sweep's trial), which must not exist
    /// yet; its parent folders are created.
    pub fn create_at(path: &Path, extra: &[String]) -> io::Result<Self> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::create_dir(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Self::open_new(path.to_path_buf(), extra)
    }

    /// Opens the metric files of the new, empty run directory `path`.
    fn open_new(path: PathBuf, extra: &[String]) -> io::Result<Self> {
        let open = |f: &str| {
            OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(path.join(f))
        };
        let jsonl = open("metrics.jsonl")?;
        let mut csv = open("metrics.csv")?;
        writeln!(csv, "{}", MetricRow::csv_header(extra))?;
        Ok(Self {
            path,
            jsonl,
            csv,
            extra: extra.to_vec(),
        })
    }

    /// Reopens an existing run directory to continue it (`--resume`) from a checkpoint
    /// taken at `step` with `epochs_done` whole epochs: rows written after that
    /// checkpoint (later steps, epochs it had not finished) are dropped, so the files
    /// read as one uninterrupted run.
    pub fn reopen(
        path: &Path,
        step: u64,
        epochs_done: usize,
        extra: &[String],
    ) -> io::Result<Self> {
        let keep_row = |kind: &str, epoch: Option<u64>, s: Option<u64>| match kind {
            "epoch" => epoch.is_some_and(|e| e <= epochs_done as u64),
            _ => s.is_some_and(|s| s <= step),
        };
        let keep = |line: &str| -> bool {
            serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| {
                keep_row(
                    v.get("kind").and_then(|k| k.as_str()).unwrap_or(""),
                    v.get("epoch").and_then(|e| e.as_u64()),
                    v.get("step").and_then(|s| s.as_u64()),
                )
            })
        };
        let jsonl_path = path.join("metrics.jsonl");
        let text = fs::read_to_string(&jsonl_path).unwrap_or_default();
        let kept: Vec<&str> = text.lines().filter(|l| keep(l)).collect();
        let mut jsonl_text = kept.join("\n");
        if !jsonl_text.is_empty() {
            jsonl_text.push('\n');
        }
        write_atomic(path, "metrics.jsonl", jsonl_text.as_bytes())?;
        let csv_path = path.join("metrics.csv");
        let csv_text = fs::read_to_string(&csv_path).unwrap_or_default();
        let mut csv_out = String::new();
        for (i, line) in csv_text.lines().enumerate() {
            let cols: Vec<&str> = line.split(',').collect();
            let num = |i: usize| cols.get(i).and_then(|s| s.parse::<u64>().ok());
            if i == 0 || keep_row(cols[0], num(1), num(2)) {
                csv_out.push_str(line);
                csv_out.push('\n');
            }
        }
        if csv_out.is_empty() {
            csv_out = format!("{}\n", MetricRow::csv_header(extra));
        }
        write_atomic(path, "metrics.csv", csv_out.as_bytes())?;
        let open = |f: &str| OpenOptions::new().append(true).open(path.join(f));
        Ok(Self {
            path: path.to_path_buf(),
            jsonl: open("metrics.jsonl")?,
            csv: open("metrics.csv")?,
            extra: extra.to_vec(),
        })
    }

    /// Writes a whole file in the run directory, atomically (temp file, fsync, rename).
    pub fn write_file(&self, name: &str, contents: &[u8]) -> io::Result<()> {
        write_atomic(&self.path, name, contents)
    }

    /// Appends a metrics row to `metrics.jsonl` and `metrics.csv`; an error names the
    /// file.
    pub fn log_metrics(&mut self, row: &MetricRow) -> io::Result<()> {
        let named = |file: &str, e: io::Error| {
            io::Error::new(e.kind(), format!("{}: {e}", self.path.join(file).display()))
        };
        let json = serde_json::to_string(row).map_err(io::Error::other)?;
        writeln!(self.jsonl, "{json}").map_err(|e| named("metrics.jsonl", e))?;
        writeln!(self.csv, "{}", row.csv_with(&self.extra)).map_err(|e| named("metrics.csv", e))?;
        Ok(())
    }
}

/// Writes [`HOLDOUT_FILE`]: the `train` and `test` indices of a holdout split.
pub fn write_holdout(dir: &Path, parts: &[Vec<usize>]) -> io::Result<()> {
    let json = serde_json::json!({
        "train": parts.first().cloned().unwrap_or_default(),
        "test": parts.get(1).cloned().unwrap_or_default(),
    });
    write_atomic(dir, HOLDOUT_FILE, json.to_string().as_bytes())
}

/// Creates `parent/<prefix><YYYYmmdd-HHMMSS>` (with `-2`, `-3`… when that exists, so
/// two processes started in the same second never share it) and returns its path.
pub fn new_stamped_dir(parent: &Path, prefix: &str) -> io::Result<PathBuf> {
    fs::create_dir_all(parent)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", parent.display())))?;
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();
    let mut n = 1;
    loop {
        let candidate = if n == 1 {
            parent.join(format!("{prefix}{stamp}"))
        } else {
            parent.join(format!("{prefix}{stamp}-{n}"))
        };
        match fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => {
                let at = candidate.display();
                return Err(io::Error::new(e.kind(), format!("{at}: {e}")));
            }
        }
    }
}

/// The `epoch` rows of a run directory's `metrics.csv`: per finished epoch, every
/// number of the row by column name (empty cells left out).
pub fn epoch_rows(run_dir: &Path) -> io::Result<Vec<std::collections::BTreeMap<String, f64>>> {
    let path = run_dir.join("metrics.csv");
    let text = fs::read_to_string(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let rows = lines
        .filter(|l| l.starts_with("epoch,"))
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .filter_map(|(k, v)| Some((k.to_string(), v.parse::<f64>().ok()?)))
                .collect()
        })
        .collect();
    Ok(rows)
}

/// A field of a run directory's `meta.json` (`None` when absent, null or of another
/// type).
pub fn meta_field<T: serde::de::DeserializeOwned>(run_dir: &Path, key: &str) -> Option<T> {
    let text = fs::read_to_string(run_dir.join("meta.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(v.get(key)?.clone()).ok()
}

/// Writes `dir/name` atomically: a temporary file, fsynced, renamed over the old one.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    fs::rename(tmp, dir.join(name))
}

/// Writes the training data's class names as `classes.json` (`classes` and torchvision's
/// `class_to_idx`); nothing when the data has no classes.
pub fn write_classes(dir: &Path, classes: &[String]) -> io::Result<()> {
    if classes.is_empty() {
        return Ok(());
    }
    let class_to_idx: serde_json::Map<String, serde_json::Value> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.clone(), serde_json::Value::from(i)))
        .collect();
    let json = serde_json::json!({ "classes": classes, "class_to_idx": class_to_idx });
    let text = serde_json::to_string_pretty(&json).map_err(io::Error::other)?;
    write_atomic(dir, CLASSES_FILE, text.as_bytes())
}

/// The class names a run directory's `classes.json` lists (empty without one).
pub fn read_classes(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join(CLASSES_FILE))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| {
            v.get("classes")?
                .as_array()?
                .iter()
                .map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads the resolved experiment of a run directory (`config.toml`).
pub fn load_run_config(run_dir: &Path) -> Result<Experiment, RunError> {
    let path = run_dir.join("config.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        RunError::RunDir(format!(
            "{}: {e} (is {} a run directory?)",
            path.display(),
            run_dir.display()
        ))
    })?;
    Experiment::from_toml(&text).map_err(|d| {
        RunError::RunDir(format!(
            "{}: {}",
            path.display(),
            crate::diagnostic::render(&path.display().to_string(), &text, &[d], false)
        ))
    })
}

/// The device's name as PyTorch prints it (`cpu`, `cuda:0`).
pub fn device_name(device: &Device) -> String {
    match device.location() {
        DeviceLocation::Cpu => "cpu".to_string(),
        DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

/// The checkpoint folder `which` of a run directory: a link (`last`, `best`) or a
/// folder name (`epoch-0003`).
pub fn find_checkpoint(run_dir: &Path, which: &str) -> Result<PathBuf, RunError> {
    let ckpts = run_dir.join("checkpoints");
    crate::checkpoint::resolve(&ckpts, which)
        .or_else(|| Some(ckpts.join(which)).filter(|p| p.is_dir()))
        .ok_or_else(|| RunError::RunDir(format!("{}: no checkpoint `{which}`", ckpts.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs of one experiment started in the same second (a sweep's, a shell loop's)
    /// each get their own directory: `<stamp>`, `<stamp>-2`, ...
    #[test]
    fn runs_started_in_the_same_second_never_share_a_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().to_path_buf();
        let dirs: Vec<PathBuf> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| RunDir::create(&base, "exp", &[]).unwrap().path))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut unique = dirs.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 8, "{dirs:?}");
        for d in &dirs {
            assert!(
                d.is_dir() && d.parent() == Some(&base.join("exp")),
                "{}",
                d.display()
            );
        }
    }
}
