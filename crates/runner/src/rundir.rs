//! The run directory: `runs/<name>/<timestamp>/`, never overwritten.

use crate::metrics::MetricRow;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// An open run directory and its metric files.
pub struct RunDir {
    /// The directory.
    pub path: PathBuf,
    jsonl: File,
    csv: File,
}

impl RunDir {
    /// Creates `base/<name>/<YYYYmmdd-HHMMSS>` (with `-2`, `-3`… if that exists: a run
    /// directory is never reused) and opens `metrics.jsonl` and `metrics.csv`.
    pub fn create(base: &Path, name: &str) -> io::Result<Self> {
        let parent = base.join(name);
        fs::create_dir_all(&parent)?;
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();
        let mut n = 1;
        let path = loop {
            let candidate = if n == 1 {
                parent.join(&stamp)
            } else {
                parent.join(format!("{stamp}-{n}"))
            };
            match fs::create_dir(&candidate) {
                Ok(()) => break candidate,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => return Err(e),
            }
        };
        let open = |f: &str| {
            OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(path.join(f))
        };
        let jsonl = open("metrics.jsonl")?;
        let mut csv = open("metrics.csv")?;
        writeln!(csv, "{}", MetricRow::CSV_HEADER)?;
        Ok(Self { path, jsonl, csv })
    }

    /// Writes a whole file in the run directory, atomically (temp file, fsync, rename).
    pub fn write_file(&self, name: &str, contents: &[u8]) -> io::Result<()> {
        let tmp = self.path.join(format!(".{name}.tmp"));
        let mut f = File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(tmp, self.path.join(name))
    }

    /// Appends a metrics row to `metrics.jsonl` and `metrics.csv`.
    pub fn log_metrics(&mut self, row: &MetricRow) -> io::Result<()> {
        let json = serde_json::to_string(row).map_err(io::Error::other)?;
        writeln!(self.jsonl, "{json}")?;
        writeln!(self.csv, "{}", row.csv())?;
        Ok(())
    }
}
