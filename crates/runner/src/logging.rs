//! What the runner logs to besides the terminal: the run directory's `log.jsonl` (every
//! event as JSON, through [`run_log_layer`]), and the progress bars, kept in one
//! `MultiProgress` so that a terminal writer can print lines above them
//! ([`suspend_bars`]). Installing a subscriber is the program's business (the `wick`
//! binary's `logging.rs`): a library does not set process-wide state.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::{EnvFilter, Layer, Registry};

static MULTI: OnceLock<MultiProgress> = OnceLock::new();
static JSON_FILE: Mutex<Option<File>> = Mutex::new(None);

fn multi() -> &'static MultiProgress {
    MULTI.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

/// Runs `f` (which writes to the terminal) with the progress bars hidden, then
/// redraws them: lines printed so never garble a bar.
pub fn suspend_bars<R>(f: impl FnOnce() -> R) -> R {
    multi().suspend(f)
}

/// `RUST_LOG`, else `info`.
pub fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// A `tracing` layer that writes every event as a JSON line into the file named by
/// the latest [`log_to_file`] (nothing before one), filtered by `RUST_LOG`. A program
/// adds it to its subscriber to get `log.jsonl` in its run directories.
pub fn run_log_layer() -> Box<dyn Layer<Registry> + Send + Sync> {
    tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(JsonWriter)
        .with_filter(env_filter())
        .boxed()
}

/// Starts appending JSON log lines to `path` (the run directory's `log.jsonl`).
pub fn log_to_file(path: &Path) -> io::Result<()> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if let Ok(mut slot) = JSON_FILE.lock() {
        *slot = Some(f);
    }
    Ok(())
}

/// Stops writing to the log file, flushing it.
pub fn close_log_file() {
    if let Ok(mut slot) = JSON_FILE.lock() {
        if let Some(f) = slot.take() {
            let _ = f.sync_all();
        }
    }
}

/// A progress bar for `len` steps, drawn on stderr when it is a terminal and hidden
/// otherwise.
pub fn progress_bar(len: u64, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = multi().add(ProgressBar::new(len));
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}<{eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

struct JsonWriter;

impl<'a> MakeWriter<'a> for JsonWriter {
    type Writer = JsonOut;
    fn make_writer(&'a self) -> JsonOut {
        JsonOut
    }
}

struct JsonOut;

impl Write for JsonOut {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if let Ok(mut slot) = JSON_FILE.lock() {
            if let Some(f) = slot.as_mut() {
                f.write_all(b)?;
            }
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// User + system CPU seconds this process (all its threads) has used so far, where the
/// system tells it: over a stretch of wall time, the average number of busy cores.
pub fn cpu_seconds() -> Option<f64> {
    #[cfg(unix)]
    {
        // SAFETY: `rusage` is plain old data (integers and `timeval`s), so all zeros is a
        // valid value; `getrusage` only writes into the struct it is handed.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `ru` is a live, writable `rusage` for the call's whole duration.
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
            return None;
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
        Some(tv(ru.ru_utime) + tv(ru.ru_stime))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The peak resident set size of this process in MiB (Linux's `VmHWM`), where the
/// system tells it; recorded in meta.json at the end of a run.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}
