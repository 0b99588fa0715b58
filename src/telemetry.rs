//! Log output: `tracing` to stderr, filtered by `RUST_LOG` (default `info`), as text or as
//! one JSON object per line (`LOG_FORMAT=json`). Every request runs in a span carrying its
//! request id, so each line logged while serving it names the request; one line per request
//! says how it ended.
//!
//! What is never logged: request bodies, query strings, cookies, headers other than the
//! request id, and token-bearing paths (the route pattern is logged instead).

pub mod batch_writer;
mod text_format;

use std::io::IsTerminal;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use self::batch_writer::BatchWriter;
pub use self::batch_writer::BatchWriterGuard;
use self::text_format::TextLine;
use crate::config::ConfigError;
use crate::startup::AppState;
use crate::web::client::{client_ip, client_scheme};

/// The header that carries the request id, in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

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

/// A fresh request id, or the caller's when it is short and plain (so a proxy's id can be
/// followed through; anything else could forge log content).
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| crate::auth::tokens::random_token(12))
}

/// Middleware: the request span, the closing log line and the `X-Request-Id` answer header.
pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request_id(&req);
    // Error pages quote it (see `web::error`).
    actix_web::HttpMessage::extensions_mut(&req).insert(crate::web::error::RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id);
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map_or(0, |s| s.settings.trusted_proxy_count);
    let ip = client_ip(req.request(), trusted).unwrap_or_else(|| "-".to_owned());
    let scheme = client_scheme(req.request(), trusted);
    let method = req.method().clone();
    let started = Instant::now();
    async move {
        let result = next.call(req).await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(res) => {
                let route = route_for_log(res.request());
                tracing::info!(
                    method = %method,
                    route = %route,
                    status = res.status().as_u16(),
                    elapsed_ms = format_args!("{elapsed_ms:.1}"),
                    ip = %ip,
                    scheme,
                    "request"
                );
            }
            Err(e) => {
                tracing::info!(
                    method = %method,
                    status = e.as_response_error().status_code().as_u16(),
                    elapsed_ms = format_args!("{elapsed_ms:.1}"),
                    ip = %ip,
                    scheme,
                    "request"
                );
            }
        }
        result.map(|mut res| {
            if let Ok(value) = HeaderValue::from_str(&id) {
                res.headers_mut()
                    .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
            }
            res
        })
    }
    .instrument(span)
    .await
}

/// The matched route pattern (`/reset/{token}`, never the token), or for unrouted requests
/// the path with long segments (which may be secrets) masked.
fn route_for_log(req: &actix_web::HttpRequest) -> String {
    if let Some(pattern) = req.match_pattern() {
        return pattern;
    }
    let masked: Vec<&str> = req
        .path()
        .split('/')
        .map(|seg| if seg.len() > 24 { "…" } else { seg })
        .collect();
    let path = masked.join("/");
    path.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn unrouted_paths_mask_long_segments() {
        let req = TestRequest::with_uri("/reset/abcdefghijklmnopqrstuvwxyz0123456789?x=secret")
            .to_http_request();
        assert_eq!(route_for_log(&req), "/reset/…");
    }

    #[test]
    fn only_plain_request_ids_are_taken_from_the_client() {
        let ok = TestRequest::default()
            .insert_header((REQUEST_ID_HEADER, "abc-123"))
            .to_srv_request();
        assert_eq!(request_id(&ok), "abc-123");
        let forged = TestRequest::default()
            .insert_header((REQUEST_ID_HEADER, "x\" status=200"))
            .to_srv_request();
        assert_ne!(request_id(&forged), "x\" status=200");
    }
}
