//! The `wick` program's logging: one `tracing` subscriber for the process, with plain
//! lines on the terminal (as the PyTorch course prints them, above the progress bars)
//! and wick-runner's JSON layer for each run directory's `log.jsonl`. `RUST_LOG`
//! filters both. In a distributed run, the ranks other than 0 print only warnings and
//! errors (unless `RUST_LOG` says otherwise), each line prefixed with `[rank N]`.

use std::fmt;
use std::io::{self, Write};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};
use wick_runner::logging::{env_filter, run_log_layer, suspend_bars};

/// Installs the global subscriber (once; later calls do nothing).
pub fn init() {
    let rank = crate::distributed::launched_rank();
    // `wick::exit` events (the final error) are printed by the binary itself on stderr,
    // whatever RUST_LOG says; the terminal layer leaves them to log.jsonl.
    let filter = match rank {
        Some(r) if r > 0 && std::env::var_os("RUST_LOG").is_none() => EnvFilter::new("warn"),
        _ => env_filter(),
    };
    let term_filter = filter.add_directive("wick::exit=off".parse().expect("a valid directive"));
    let prefix = rank
        .filter(|&r| r > 0)
        .map_or_else(String::new, |r| format!("[rank {r}] "));
    let term = tracing_subscriber::fmt::layer()
        .event_format(Plain { prefix })
        .with_writer(TermWriter)
        .with_filter(term_filter);
    let _ = tracing_subscriber::registry()
        .with(run_log_layer())
        .with(term)
        .try_init();
}

/// Terminal lines: the message alone for info, `warning:`/`error:` prefixes otherwise
/// (after the rank's prefix, in a distributed run).
struct Plain {
    prefix: String,
}

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(w, "{}", self.prefix)?;
        match *event.metadata().level() {
            Level::ERROR => write!(w, "error: ")?,
            Level::WARN => write!(w, "warning: ")?,
            Level::DEBUG | Level::TRACE => write!(w, "{}: ", event.metadata().target())?,
            Level::INFO => {}
        }
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
        suspend_bars(|| {
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
