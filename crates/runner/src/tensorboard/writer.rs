//! [`EventWriter`]: one event file of a run directory, as TensorFlow's and PyTorch's
//! `SummaryWriter` name it: `events.out.tfevents.<unix seconds>.<hostname>.<pid>.<n>`.
//!
//! TensorBoard reads a directory's event files in the order of their names and never
//! goes back to an earlier one, so a file must sort after those already there: its
//! seconds are those of now, or one more than the newest file's where that is later
//! (a resume within the second of the run it continues).

use super::event::{self, What, FILE_VERSION};
use super::record;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// What every event file's name starts with.
pub const FILE_PREFIX: &str = "events.out.tfevents.";

/// Event files this process has opened (the name's last part, as PyTorch's global
/// uid: two writers of one process never share a name).
static OPENED: AtomicU64 = AtomicU64::new(0);

/// An open event file (see the module doc).
pub(crate) struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl EventWriter {
    /// Creates a new event file in `dir` and writes its `file_version` event.
    pub(crate) fn create(dir: &Path) -> io::Result<Self> {
        let secs = (now() as u64).max(newest_file_secs(dir).map_or(0, |s| s + 1));
        let name = format!(
            "{FILE_PREFIX}{secs:010}.{}.{}.{}",
            hostname(),
            std::process::id(),
            OPENED.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        let mut w = Self {
            path,
            out: BufWriter::new(file),
        };
        w.write(0, &What::FileVersion(FILE_VERSION))?;
        Ok(w)
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends an event at `step`, stamped now (buffered until [`EventWriter::flush`]).
    pub(crate) fn write(&mut self, step: u64, what: &What) -> io::Result<()> {
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        record::write_record(&mut self.out, &event::event(now(), step, what))
    }

    /// Hands what is buffered to the file, for a live TensorBoard to read.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The seconds in the name of the newest event file of `dir`, if any.
fn newest_file_secs(dir: &Path) -> Option<u64> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let rest = name.strip_prefix(FILE_PREFIX)?;
            rest.split('.').next()?.parse::<u64>().ok()
        })
        .max()
}

/// This machine's name, as the file name holds it (`localhost` where it cannot be
/// read); dots are kept, path separators are not.
fn hostname() -> String {
    wick_dist::host_name().replace(['/', '\\'], "_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensorboard::record::tests::read_records;

    #[test]
    fn files_are_named_as_tensorflow_names_them_and_sort_in_creation_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut names = Vec::new();
        for _ in 0..3 {
            let mut w = EventWriter::create(dir.path()).unwrap();
            w.flush().unwrap();
            names.push(w.path().file_name().unwrap().to_str().unwrap().to_string());
        }
        let parts: Vec<&str> = names[0].split('.').collect();
        assert_eq!(&parts[..3], ["events", "out", "tfevents"], "{}", names[0]);
        assert_eq!(parts[3].len(), 10);
        assert!(names[0].ends_with(&format!(
            ".{}.{}",
            std::process::id(),
            parts.last().unwrap()
        )));
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(sorted, names);
        // every file opens with the file version
        let bytes = std::fs::read(dir.path().join(&names[2])).unwrap();
        let records = read_records(&bytes).unwrap();
        assert_eq!(records.len(), 1);
        assert!(records[0].ends_with(FILE_VERSION.as_bytes()));
    }
}
