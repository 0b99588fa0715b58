//! Error pages (400, 403, 404, 405, 429, 5xx) in the site's layout: the header and menu, the
//! request's language (`<html lang>` included), a phone's viewport, and the next step (try
//! again, log in, reset the password, home). `templates/error.html` renders them; when it
//! cannot (a broken override), [`super::error`] falls back to its self-contained page.

use actix_web::http::StatusCode;
use actix_web::HttpMessage;
use serde_json::{json, Value};

use super::state::AppState;
use crate::auth::login::CurrentUser;
use crate::messages::Messages;
use crate::urls::Route;

/// What went wrong, as far as the page's words and next steps go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Situation {
    /// The form's session expired (a CSRF failure).
    ExpiredForm,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Throttled,
    /// The database is down or the hashing queue full.
    Unavailable,
    /// A bug (a 500).
    Failed,
    Other,
}

/// Where a refused form is shown again: the page it was sent from (the `Referer`, when it is
/// this site's: `Referrer-Policy: same-origin` sends it), else the address it was sent to.
pub fn again(request: &actix_web::HttpRequest) -> String {
    let host = request.connection_info().host().to_owned();
    request
        .headers()
        .get(actix_web::http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| url::Url::parse(v).ok())
        .filter(|u| {
            let authority = match u.port() {
                Some(port) => format!("{}:{port}", u.host_str().unwrap_or_default()),
                None => u.host_str().unwrap_or_default().to_owned(),
            };
            matches!(u.scheme(), "http" | "https") && authority == host
        })
        .map(|u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        })
        .unwrap_or_else(|| request.path().to_owned())
}

/// What an error page shows besides the status.
pub struct Shown<'a> {
    pub status: StatusCode,
    pub message: &'a str,
    pub request_id: Option<&'a str>,
}

/// The error page for `error`, or `None` when the template cannot be rendered.
pub fn render(
    state: &AppState,
    messages: &Messages,
    request: &actix_web::HttpRequest,
    situation: Situation,
    shown: Shown<'_>,
) -> Option<String> {
    let t = |text: &str| messages.translate(text, &[]);
    let settings = &state.settings;
    let user = request.extensions().get::<CurrentUser>().cloned();
    let path = request.path().to_owned();
    let mut next: Vec<Value> = Vec::new();
    let mut link = |url: &str, label: String| next.push(json!({"url": url, "label": label}));
    let (title, detail) = match situation {
        Situation::ExpiredForm => {
            link(&again(request), t("Try again"));
            (
                "Your session expired",
                Some(t("Your session expired, please try again.")),
            )
        }
        Situation::Forbidden => {
            link(state.urls.path(Route::Profile), t("Go to your account"));
            ("Not allowed", None)
        }
        Situation::NotFound => (
            "Page not found",
            Some(t("There is no page at this address.")),
        ),
        Situation::MethodNotAllowed => (
            "Not available this way",
            Some(t("This address does not answer that kind of request.")),
        ),
        Situation::Throttled => {
            if settings.features.recoverable && user.is_none() {
                link(state.urls.path(Route::Reset), t("Forgot your password?"));
            }
            (
                "Too many attempts",
                Some(t("This pause protects your account from guessing.")),
            )
        }
        Situation::Unavailable => {
            link(&path, t("Try again"));
            ("Please try again shortly", None)
        }
        Situation::Failed => ("Something went wrong", None),
        Situation::Other => ("Something is not right", None),
    };
    if user.is_none() && situation != Situation::Throttled {
        link(state.urls.path(Route::Login), t("Sign in"));
    }
    link(state.urls.path(Route::Home), t("Home"));
    let lang = messages.lang();
    let mut ctx = state.page_defaults.context().clone();
    ctx.insert("lang", lang.as_str());
    ctx.insert("request_path", &path);
    ctx.insert(
        "current_user",
        &user.map(|c| super::user_view::user_view(&c.user)),
    );
    ctx.insert("flashes", &Vec::<Value>::new());
    // No session to tie a form to from here: the page offers no form.
    ctx.insert("csrf_token", "");
    ctx.insert("check_email", &Value::Null);
    ctx.insert(
        "error",
        &json!({
            "status": shown.status.as_u16(),
            "title": t(title),
            // "The CSRF token is invalid." is jargon to a person: the detail says it.
            "message": if situation == Situation::ExpiredForm { None } else { Some(shown.message) },
            "detail": detail,
            "reference": shown.request_id.filter(|_| shown.status.is_server_error()),
            "next": next,
        }),
    );
    state
        .templates
        .render(lang, "error.html", &ctx)
        .inspect_err(|e| tracing::warn!(error = %e, "the error page template failed"))
        .ok()
}
