//! Security headers on every response (ASVS V14.4) and the last line of defence for 5xx
//! answers (V7.4): whatever failed, the client gets the generic page with its request id.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};

use super::error::{error_response, is_rendered, RequestId};
use super::format::Format;
use super::state::AppState;
use crate::urls::Route;

/// Scripts only from our origin (the show-password toggle is `/static/latchkey.js`), no
/// inline script or style, no framing, forms only back to us.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";
/// [`CONTENT_SECURITY_POLICY`] with `form-action` also allowing `origins` (social login's
/// providers, [`crate::config::OAuthSettings::form_action_origins`]: the start URL's redirect
/// to a provider is a form's navigation, which `form-action 'self'` would block). `None`
/// when there are none: the constant is used as it is.
pub fn content_security_policy(origins: &[String]) -> Option<HeaderValue> {
    if origins.is_empty() {
        return None;
    }
    let allowed = format!("form-action 'self' {};", origins.join(" "));
    let policy = CONTENT_SECURITY_POLICY.replacen("form-action 'self';", &allowed, 1);
    HeaderValue::from_str(&policy).ok()
}

/// Two years, the HSTS preload list's minimum; only sent when cookies are Secure (HTTPS).
pub const HSTS: &str = "max-age=63072000";

/// Middleware: sits right inside the request log, so it sees the final answer of every
/// route, static file and error.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>();
    let secure = state.is_some_and(|s| s.settings.cookie_secure);
    let csp = state.and_then(|s| {
        let origins = || s.settings.oauth.form_action_origins();
        s.content_security_policy
            .get_or_init(|| content_security_policy(&origins()))
            .clone()
    });
    let urls = state.map(|s| s.urls).unwrap_or_default();
    let is_static =
        urls.encloses(Route::Static, req.path()) || req.path() == urls.path(Route::Favicon);
    let format = Format::of(req.request());
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let mut res = match next.call(req).await {
        Ok(res) => res.map_into_boxed_body(),
        // An error no layer below answered (the request is gone with it): answer with the
        // generic page, headers and all, through the error itself.
        Err(e) => {
            let status = e.as_response_error().status_code();
            let mut response = generic(status, format, request_id.as_deref());
            // A 503 or 429 from a layer (the database down while resolving the login) keeps
            // its Retry-After.
            if let Some(seconds) = e
                .as_error::<super::error::AppError>()
                .and_then(super::error::AppError::retry_after_secs)
            {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            apply(response.headers_mut(), secure, is_static, csp);
            if let Some(id) = request_id
                .as_deref()
                .and_then(|id| HeaderValue::from_str(id).ok())
            {
                response.headers_mut().insert(
                    HeaderName::from_static(super::request_log::REQUEST_ID_HEADER),
                    id,
                );
            }
            return Err(actix_web::error::InternalError::from_response(e, response).into());
        }
    };
    if res.status().is_server_error() && !is_rendered(res.response()) {
        let replacement = generic(res.status(), format, request_id.as_deref());
        res = keep_cookies(res, replacement);
    }
    apply(res.headers_mut(), secure, is_static, csp);
    Ok(res)
}

/// The generic error answer: the status's reason and the request id, nothing else.
fn generic(
    status: actix_web::http::StatusCode,
    format: Format,
    request_id: Option<&str>,
) -> actix_web::HttpResponse {
    error_response(
        status,
        format,
        status.canonical_reason().unwrap_or("Server Error"),
        request_id,
    )
}

fn apply(headers: &mut header::HeaderMap, secure: bool, is_static: bool, csp: Option<HeaderValue>) {
    // Pages show personal data and CSRF tokens; a response setting a cookie carries a
    // session. Only the static files may be cached, and a host app's route that chose its
    // own caching keeps it, unless it sets a cookie.
    let sets_cookie = headers.contains_key(header::SET_COOKIE);
    let own_caching = headers.contains_key(header::CACHE_CONTROL);
    let no_store = sets_cookie || (!is_static && !own_caching);
    // A host app's route may have a policy of its own (a widget framed by a partner, say):
    // it is kept, as Flask-Security's bug #1263 asks. Latchkey's own answers set none.
    let own_policy = headers.contains_key(header::CONTENT_SECURITY_POLICY);
    // API answers are data, never a page to render (ASVS 14.4.2).
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !own_policy {
        let csp = csp.unwrap_or(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    let mut set = |name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    // Reset links carry tokens in the path: never send them to another origin.
    set(header::REFERRER_POLICY, "same-origin");
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if secure {
        set(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    if no_store {
        set(header::CACHE_CONTROL, "no-store");
    }
    if is_json {
        set(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"api.json\"",
        );
    }
    headers.remove(header::SERVER);
}

/// `res` with `replacement` as its answer, keeping the cookies set below.
fn keep_cookies(
    res: ServiceResponse<BoxBody>,
    mut replacement: actix_web::HttpResponse,
) -> ServiceResponse<BoxBody> {
    for cookie in res.response().headers().get_all(header::SET_COOKIE) {
        replacement
            .headers_mut()
            .append(header::SET_COOKIE, cookie.clone());
    }
    res.into_response(replacement)
}
