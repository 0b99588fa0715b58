//! Log output: `tracing` to stderr, filtered by `RUST_LOG` (default `info`), as text or as
//! one JSON object per line (`LOG_FORMAT=json`), written by a thread of its own. The
//! per-request span and line are the web layer's (`web::request_log`).

pub mod batch_writer;
mod text_format;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use self::batch_writer::BatchWriter;
pub use self::batch_writer::BatchWriterGuard;
use self::text_format::TextLine;
use crate::config::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// `LOG_FORMAT` from the environment: `text` (default) or `json`.
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var("LOG_FORMAT") {
            Err(_) => Ok(LogFormat::Text),
            Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
                "" | "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("expected text or json, got {v:?}"),
                )),
            },
        }
    }
}

/// Text logs at `info` unless `RUST_LOG` / `LOG_FORMAT` say otherwise (an unusable
/// `LOG_FORMAT` falls back to text here; the binary refuses it).
pub fn init() {
    init_with(LogFormat::from_env().unwrap_or(LogFormat::Text), "info");
}

/// Installs the subscriber, writing to stderr from the calling thread; `default_filter`
/// applies when `RUST_LOG` is unset. A second call (tests) keeps the first subscriber.
pub fn init_with(format: LogFormat, default_filter: &str) {
    install(format, default_filter, std::io::stderr);
}

/// Like [`init_with`], for the server: lines are formatted on the logging thread and written
/// to stderr in batches by a dedicated thread (see [`batch_writer`]), so a slow terminal or
/// pipe never holds up a worker and a request costs no write of its own. Keep the guard
/// until exit: dropping it writes what is left. Nothing is dropped when the buffer is full;
/// loggers wait instead (auth events must not go missing).
pub fn init_server(format: LogFormat, default_filter: &str) -> std::io::Result<BatchWriterGuard> {
    let (writer, guard) = BatchWriter::spawn(std::io::stderr(), MAX_PENDING_LOG_BYTES)?;
    install(format, default_filter, writer);
    Ok(guard)
}

/// How far (bytes) the log writer may fall behind before loggers wait for it.
const MAX_PENDING_LOG_BYTES: usize = 4 << 20;

fn install<W>(format: LogFormat, default_filter: &str, writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // Colour only for a person at a terminal: files and collectors get plain text.
    let terminal = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(terminal)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Text if terminal => builder.try_init(),
        LogFormat::Text => builder.event_format(TextLine).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
