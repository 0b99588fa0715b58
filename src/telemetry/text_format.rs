//! The text log line for files and pipes, in `tracing-subscriber`'s default layout:
//!
//! ```text
//! 2026-11-27T16:08:15.123456Z  INFO request{request_id=G1v9mrBl}: latchkey::telemetry: request method=GET …
//! ```
//!
//! Written here because every request logs a line: the default formatter styles each part
//! through an ANSI painter even with colours off and formats the full date for every line,
//! which was a third of the logging cost on a cheap page. Here the date and time to the
//! second are formatted once a second per thread. A person at a terminal keeps the default,
//! coloured formatter.

use std::cell::RefCell;
use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// See the module comment.
pub struct TextLine;

impl<S, N> FormatEvent<S, N> for TextLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write_timestamp(&mut writer, SystemTime::now())?;
        let meta = event.metadata();
        writer.write_str(match *meta.level() {
            Level::TRACE => " TRACE ",
            Level::DEBUG => " DEBUG ",
            Level::INFO => "  INFO ",
            Level::WARN => "  WARN ",
            Level::ERROR => " ERROR ",
        })?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                writer.write_str(span.name())?;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>() {
                    if !fields.is_empty() {
                        write!(writer, "{{{fields}}}")?;
                    }
                }
                writer.write_char(':')?;
            }
            writer.write_char(' ')?;
        }
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

thread_local! {
    /// The second last formatted on this thread, and its text up to the seconds.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// `2026-11-27T16:08:15.123456Z` (UTC, microseconds), as the default formatter writes it.
fn write_timestamp(writer: &mut impl Write, now: SystemTime) -> fmt::Result {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, micros) = (since_epoch.as_secs(), since_epoch.subsec_micros());
    SECOND.with_borrow_mut(|(cached_secs, text)| {
        if *cached_secs != secs {
            text.clear();
            let utc = i64::try_from(secs)
                .ok()
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .unwrap_or_default();
            write!(text, "{}", utc.format("%Y-%m-%dT%H:%M:%S"))?;
            *cached_secs = secs;
        }
        write!(writer, "{text}.{micros:06}Z")
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[test]
    fn timestamps_match_the_default_layout_across_seconds() {
        let at = |secs: u64, micros: u64| {
            let mut out = String::new();
            let t = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros);
            write_timestamp(&mut out, t).expect("format");
            out
        };
        assert_eq!(at(1_795_795_695, 123_456), "2026-11-27T16:08:15.123456Z");
        assert_eq!(at(1_795_795_695, 7), "2026-11-27T16:08:15.000007Z");
        // The next second on the same thread is not the cached one.
        assert_eq!(at(1_795_795_696, 0), "2026-11-27T16:08:16.000000Z");
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
    }

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("capture").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    /// The same events through this formatter (`lean`) or the default one: the lines
    /// without their timestamps.
    fn lines_without_time(lean: bool) -> Vec<String> {
        let capture = Capture::default();
        let builder = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(Level::TRACE)
            .with_writer(capture.clone());
        let log = || {
            tracing::info!("before any span");
            let outer = tracing::info_span!("request", request_id = %"abc-1");
            let _outer = outer.enter();
            let inner = tracing::info_span!("inner");
            let _inner = inner.enter();
            tracing::warn!(status = 503, ip = %"203.0.113.7", scheme = "https", "request");
            tracing::error!(error = %"a \"quoted\" cause", "failed");
            tracing::debug!(elapsed_ms = format_args!("{:.1}", 1.25), "timing");
        };
        if lean {
            tracing::subscriber::with_default(builder.event_format(TextLine).finish(), log);
        } else {
            tracing::subscriber::with_default(builder.finish(), log);
        }
        let text = String::from_utf8(capture.0.lock().expect("capture").clone()).expect("utf-8");
        text.lines()
            .map(|line| {
                let (time, rest) = line.split_once(' ').expect("a timestamp");
                assert_eq!(time.len(), "2026-11-27T16:08:15.123456Z".len(), "{line}");
                assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{line}");
                rest.to_owned()
            })
            .collect()
    }

    #[test]
    fn lines_are_the_default_formatters_lines() {
        let lean = lines_without_time(true);
        assert_eq!(lean, lines_without_time(false));
        assert_eq!(lean.len(), 4);
        assert_eq!(
            lean[1],
            " WARN request{request_id=abc-1}:inner: latchkey::telemetry::text_format::tests: \
             request status=503 ip=203.0.113.7 scheme=\"https\""
        );
    }
}
