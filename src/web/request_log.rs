//! The request span and the one line per request: every line logged while serving a
//! request names its request id; the closing line says how it ended.
//!
//! What is never logged: request bodies, query strings, cookies, headers other than the
//! request id, and token-bearing paths (the route pattern is logged instead).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument;

use super::client::{client_ip, client_scheme};
use super::error::RequestId;
use super::state::AppState;

/// The header that carries the request id, in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

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
        .unwrap_or_else(|| crate::crypto::random_token(12))
}

/// Middleware: the request span, the closing log line and the `X-Request-Id` answer header.
pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request_id(&req);
    // Error pages quote it (see `web::error`).
    actix_web::HttpMessage::extensions_mut(&req).insert(RequestId(id.clone()));
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
