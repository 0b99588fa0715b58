//! Request failures and the one place they become responses. Internal causes are logged,
//! never shown.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use serde_json::json;

use super::format::Format;
use crate::auth::csrf::CsrfError;
use crate::auth::hashing::HashError;
use crate::db::DbError;
use crate::messages::Messages;
use crate::urls::Route;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Csrf(#[from] CsrfError),
    #[error("{0}")]
    BadRequest(String),
    #[error("The request body is too large.")]
    PayloadTooLarge,
    #[error("Send the form as application/x-www-form-urlencoded or application/json.")]
    UnsupportedMediaType,
    #[error("You must sign in to view this resource.")]
    Unauthenticated { login_url: String },
    #[error("You do not have permission to view this resource.")]
    Forbidden,
    /// [`AppError::Forbidden`] where a browser is sent elsewhere instead of a 403 page
    /// (`SECURITY_UNAUTHORIZED_VIEW`); JSON clients still get the 403.
    #[error("You do not have permission to view this resource.")]
    ForbiddenElsewhere { location: String },
    #[error("Not Found")]
    NotFound,
    /// A method the path does not answer (the page offers what it does answer).
    #[error("Method Not Allowed")]
    MethodNotAllowed,
    #[error("The service is busy; please try again shortly.")]
    Unavailable,
    /// Throttled (login delays, the account ceiling, rate limits): 429 with `Retry-After`.
    #[error("Too many attempts.")]
    TooManyAttempts { retry_after: std::time::Duration },
    /// Too many sign-ins (password hashes) are waiting: answered at once, with `Retry-After`.
    #[error("Too many sign-in attempts are being processed; please try again in a moment.")]
    Busy,
    #[error("Internal Server Error")]
    Unexpected(#[source] anyhow::Error),
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        if matches!(e, DbError::Down) {
            // Logged once, when it went down (crate::db::health), not for every request.
            return AppError::Unavailable;
        }
        if e.is_unavailable() {
            tracing::error!(error = %e, "database unavailable");
            return AppError::Unavailable;
        }
        AppError::Unexpected(e.into())
    }
}

impl From<HashError> for AppError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => {
                tracing::warn!("password hashing queue full; answering 503");
                AppError::Busy
            }
            other => AppError::Unexpected(other.into()),
        }
    }
}

/// A wait as a whole number of its largest unit, rounded up ("2 minutes" rather than "90
/// seconds" only when it is a whole number of minutes; never rounded down).
fn round_up(wait: std::time::Duration) -> std::time::Duration {
    let secs = wait.as_secs().max(1) + u64::from(wait.subsec_nanos() > 0);
    let secs = if secs > 120 {
        secs.div_ceil(60) * 60
    } else {
        secs
    };
    std::time::Duration::from_secs(secs)
}

/// `Retry-After` for [`AppError::Busy`], in seconds: a full queue drains in about that long.
pub const BUSY_RETRY_AFTER_SECS: u32 = 1;

/// `Retry-After` for [`AppError::Unavailable`] (the database is down): the probe notices
/// its return within a second, so a client may try again soon.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u32 = 2;

impl From<tera::Error> for AppError {
    fn from(e: tera::Error) -> Self {
        AppError::Unexpected(anyhow::anyhow!(crate::templates::describe_tera_error(&e)))
    }
}

impl AppError {
    /// What the user reads, in the configured wording where Flask-Security names it.
    pub fn user_message(&self, messages: &Messages) -> String {
        match self {
            AppError::Unauthenticated { .. } => {
                messages.text(crate::messages::UNAUTHENTICATED, &[])
            }
            AppError::Forbidden | AppError::ForbiddenElsewhere { .. } => {
                messages.text(crate::messages::UNAUTHORIZED, &[])
            }
            AppError::TooManyAttempts { retry_after } => {
                let wait = (*retry_after).max(std::time::Duration::from_secs(1));
                // `wait` in words ("1 second", "2 minutes"); `seconds`, the bare number, for
                // replacements written for the older wording.
                messages.text(
                    crate::messages::TOO_MANY_ATTEMPTS,
                    &[
                        ("wait", &messages.period(round_up(wait))),
                        ("seconds", &wait.as_secs().to_string()),
                    ],
                )
            }
            // Latchkey's own wording, in the request's language.
            other => messages.translate(&other.to_string(), &[]),
        }
    }

    /// What the error page says about it.
    fn situation(&self) -> super::error_page::Situation {
        use super::error_page::Situation;
        match self {
            AppError::Csrf(_) => Situation::ExpiredForm,
            AppError::Forbidden | AppError::ForbiddenElsewhere { .. } => Situation::Forbidden,
            AppError::NotFound => Situation::NotFound,
            AppError::MethodNotAllowed => Situation::MethodNotAllowed,
            AppError::TooManyAttempts { .. } => Situation::Throttled,
            AppError::Unavailable | AppError::Busy => Situation::Unavailable,
            AppError::Unexpected(_) => Situation::Failed,
            _ => Situation::Other,
        }
    }

    /// The `Retry-After` this refusal carries, in seconds: throttled, busy, or the database
    /// down.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::TooManyAttempts { retry_after } => Some(retry_after.as_secs().max(1)),
            AppError::Busy => Some(u64::from(BUSY_RETRY_AFTER_SECS)),
            AppError::Unavailable => Some(u64::from(UNAVAILABLE_RETRY_AFTER_SECS)),
            _ => None,
        }
    }

    /// The response in the client's format. A 5xx names the request id (for support) and
    /// never its cause.
    pub fn render(
        &self,
        format: Format,
        messages: &Messages,
        request_id: Option<&str>,
    ) -> HttpResponse {
        let status = self.status_code();
        match (self, format) {
            (AppError::Unauthenticated { login_url: to }, Format::Html)
            | (AppError::ForbiddenElsewhere { location: to }, Format::Html) => {
                return HttpResponse::Found()
                    .insert_header((header::LOCATION, to.as_str()))
                    .finish();
            }
            _ => {}
        }
        let mut response = error_response(status, format, &self.user_message(messages), request_id);
        if let Some(seconds) = self.retry_after_secs() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Csrf(_) | AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::ForbiddenElsewhere { .. } => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Unavailable | AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// HTML by default; the `negotiate_errors` middleware re-renders for JSON clients.
    fn error_response(&self) -> HttpResponse {
        // Called once per failed request: the place to log the hidden cause.
        if let AppError::Unexpected(cause) = self {
            tracing::error!(error = %format!("{cause:#}"), "request failed");
        }
        self.render(Format::Html, &Messages::default(), None)
    }
}

/// The request id that `telemetry::log_requests` gave the request, for 5xx pages.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Marks a response whose body this module wrote (so the outer fallback leaves it alone).
#[derive(Debug, Clone, Copy)]
struct Rendered;

/// An error answer in the client's format.
pub fn error_response(
    status: StatusCode,
    format: Format,
    message: &str,
    request_id: Option<&str>,
) -> HttpResponse {
    let request_id = request_id.filter(|_| status.is_server_error());
    let mut response = match format {
        Format::Json => {
            let mut body = json!({
                "meta": {"code": status.as_u16()},
                "response": {"errors": [message]},
            });
            if let Some(id) = request_id {
                body["meta"]["request_id"] = json!(id);
            }
            HttpResponse::build(status).json(body)
        }
        Format::Html => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(error_page(status, message, request_id)),
    };
    response.extensions_mut().insert(Rendered);
    response
}

/// Marks a deliberate 5xx whose body is safe to show (`/healthz`), so that the security
/// headers middleware keeps it instead of the generic page.
pub fn mark_rendered<B>(response: &mut HttpResponse<B>) {
    response.extensions_mut().insert(Rendered);
}

/// Whether [`error_response`] wrote this response (or it was marked).
pub fn is_rendered<B>(response: &HttpResponse<B>) -> bool {
    response.extensions().get::<Rendered>().is_some()
}

/// A self-contained error page: it must render even when templates are broken.
fn error_page(status: StatusCode, message: &str, request_id: Option<&str>) -> String {
    let title = status.canonical_reason().unwrap_or("Error");
    let reference = request_id.map_or(String::new(), |id| {
        format!(
            "<p>If this keeps happening, quote this reference: <code id=\"request-id\">{}</code></p>",
            tera::escape_html(id)
        )
    });
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{code} {title}</title>\
         </head>\
         <body><main class=\"container\"><h1>{code} {title}</h1><p>{message}</p>{reference}\
         <p><a href=\"{home}\">Home</a></p></main></body></html>\n",
        home = crate::urls::Urls::default().path(Route::Home),
        code = status.as_u16(),
        title = tera::escape_html(title),
        message = tera::escape_html(message),
    )
}

/// Middleware: an [`AppError`] is answered in the client's format (JSON or HTML) and in the
/// app's configured wording.
pub async fn negotiate_errors(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let state = req
        .app_data::<actix_web::web::Data<super::state::AppState>>()
        .cloned();
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let res = next.call(req).await?;
    // The format and language are read from the request only for an error to render.
    let rendered = match (res.response().error(), &state) {
        (Some(error), Some(state)) => error.as_error::<AppError>().map(|e| {
            let format = Format::of(res.request());
            let messages = state
                .messages
                .in_language(&super::language::of(res.request(), &state.messages));
            let in_layout = (format == Format::Html)
                .then(|| in_layout(state, &messages, res.request(), e, request_id.as_deref()))
                .flatten();
            in_layout.unwrap_or_else(|| e.render(format, &messages, request_id.as_deref()))
        }),
        _ => None,
    };
    match rendered {
        Some(mut response) => {
            // Keep the cookies that the layers below set (session, remember-me removal).
            for cookie in res.response().headers().get_all(header::SET_COOKIE) {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, cookie.clone());
            }
            Ok(res.into_response(response))
        }
        None => Ok(res.map_into_boxed_body()),
    }
}

/// An HTML error page in the site's layout (`None` for the login redirect, or when the
/// template fails: the self-contained page stands in).
fn in_layout(
    state: &super::state::AppState,
    messages: &Messages,
    request: &actix_web::HttpRequest,
    error: &AppError,
    request_id: Option<&str>,
) -> Option<HttpResponse> {
    if matches!(
        error,
        AppError::Unauthenticated { .. } | AppError::ForbiddenElsewhere { .. }
    ) {
        return None;
    }
    let status = error.status_code();
    let message = error.user_message(messages);
    let shown = super::error_page::Shown {
        status,
        message: &message,
        request_id,
    };
    let body = super::error_page::render(state, messages, request, error.situation(), shown)?;
    let mut response = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body);
    if let Some(seconds) = error.retry_after_secs() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
    }
    if matches!(error, AppError::Csrf(_)) {
        // The browser shows the form again at once, under the flash the check left ("Your
        // session expired, please try again."); the status stays Flask-Security's 400.
        let again = format!("0; url={}", super::error_page::again(request));
        if let Ok(value) = header::HeaderValue::from_str(&again) {
            response.headers_mut().insert(header::REFRESH, value);
        }
    }
    mark_rendered(&mut response);
    Some(response)
}

impl From<crate::auth::ServiceError> for AppError {
    fn from(e: crate::auth::ServiceError) -> Self {
        match e {
            crate::auth::ServiceError::Db(e) => e.into(),
            crate::auth::ServiceError::Hash(e) => e.into(),
            crate::auth::ServiceError::Template(e) => e.into(),
            crate::auth::ServiceError::SendingLimited { retry_after }
            | crate::auth::ServiceError::RateLimited { retry_after } => {
                AppError::TooManyAttempts { retry_after }
            }
            e @ (crate::auth::ServiceError::Config(_) | crate::auth::ServiceError::Conflict) => {
                AppError::Unexpected(e.into())
            }
        }
    }
}
