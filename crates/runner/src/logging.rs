//! Logs: `tracing` to the terminal (plain lines, as the PyTorch course prints them) and
//! to the run directory's `log.jsonl` (every event as JSON). `RUST_LOG` filters both.
//! Progress bars live in one `MultiProgress`, and log lines are printed through it, so
//! bars never garble them.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

static MULTI: OnceLock<MultiProgress> = OnceLock::new();
static JSON_FILE: OnceLock<Arc<Mutex<Option<File>>>> = OnceLock::new();

fn multi() -> &'static MultiProgress {
    MULTI.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

fn json_slot() -> &'static Arc<Mutex<Option<File>>> {
    JSON_FILE.get_or_init(|| Arc::new(Mutex::new(None)))
}

/// Installs the global subscriber (once; later calls do nothing).
pub fn init() {
    // `wick::exit` events (the final error) are printed by the binary itself on stderr,
    // whatever RUST_LOG says; the terminal layer leaves them to log.jsonl.
    let term_filter = filter().add_directive("wick::exit=off".parse().expect("a valid directive"));
    let term = tracing_subscriber::fmt::layer()
        .event_format(Plain)
        .with_writer(TermWriter)
        .with_filter(term_filter);
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(JsonWriter)
        .with_filter(filter());
    let _ = tracing_subscriber::registry()
        .with(term)
        .with(json)
        .try_init();
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Starts appending JSON log lines to `path` (the run directory's `log.jsonl`).
pub fn log_to_file(path: &Path) -> io::Result<()> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if let Ok(mut slot) = json_slot().lock() {
        *slot = Some(f);
    }
    Ok(())
}

/// Stops writing to the log file, flushing it.
pub fn close_log_file() {
    if let Ok(mut slot) = json_slot().lock() {
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

/// Terminal lines: the message alone for info, `warning:`/`error:` prefixes otherwise.
struct Plain;

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        match *event.metadata().level() {
            Level::ERROR => write!(w, "error: ")?,
            Level::WARN => write!(w, "warning: ")?,
            Level::DEBUG | Level::TRACE => write!(w, "{}: ", event.metadata().target())?,
            Level::INFO => {}
        }
        let _ = ctx;
        let mut msg = Message(String::new());
        event.record(&mut msg);
        writeln!(w, "{}", msg.0)
    }
}

/// Keeps only the `message` field: the structured fields go to `log.jsonl`.
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_str(&mut self, f: &tracing::field::Field, v: &str) {
        if f.name() == "message" {
            self.0 = v.to_string();
        }
    }
    fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn fmt::Debug) {
        if f.name() == "message" {
            self.0 = format!("{v:?}");
        }
    }
}

struct TermWriter;

impl<'a> MakeWriter<'a> for TermWriter {
    type Writer = LineOut;
    fn make_writer(&'a self) -> LineOut {
        LineOut(Vec::new(), false)
    }
    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> LineOut {
        LineOut(Vec::new(), *meta.level() <= Level::WARN)
    }
}

/// Buffers one event and prints it above the progress bars when dropped: on stderr for
/// warnings and errors, on stdout otherwise.
struct LineOut(Vec<u8>, bool);

impl Write for LineOut {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineOut {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        let to_stderr = self.1;
        multi().suspend(|| {
            if to_stderr {
                let _ = io::stderr().lock().write_all(&buf);
            } else {
                let mut out = io::stdout().lock();
                let _ = out.write_all(&buf);
                let _ = out.flush();
            }
        });
    }
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
        if let Ok(mut slot) = json_slot().lock() {
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

/// The peak resident set size of this process in MiB (Linux's `VmHWM`), where the
/// system tells it; recorded in meta.json at the end of a run.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}
