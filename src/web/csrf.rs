//! Where the CSRF token lives: in the browser's encrypted session, created on first use
//! (anonymous visitors get one too, against login CSRF, without touching the database) and
//! replaced when a session starts, so that a token planted in or read from an anonymous
//! session is worthless once the user has logged in.

use actix_session::Session;

use crate::auth::csrf::{self, CsrfError};

const SESSION_KEY: &str = "csrf_token";

/// The session's token, created on first use.
pub fn token(session: &Session) -> String {
    if let Ok(Some(existing)) = session.get::<String>(SESSION_KEY) {
        return existing;
    }
    rotate(session)
}

/// A new token for the session, replacing any old one: at every login.
pub fn rotate(session: &Session) -> String {
    let fresh = csrf::new_token();
    // Inserting a String into the session cannot fail to serialise.
    let _ = session.insert(SESSION_KEY, &fresh);
    fresh
}

/// Checks a submitted token against the session's.
pub fn verify(session: &Session, submitted: Option<&str>) -> Result<(), CsrfError> {
    let expected = session.get::<String>(SESSION_KEY).ok().flatten();
    csrf::check(expected.as_deref(), submitted)
}

/// Flask-Security's CSRF cookie (`SECURITY_CSRF_COOKIE_NAME`), for single-page apps: every
/// answer whose session holds a token that the browser's cookie does not (a first form or
/// `GET /login`, a login, which gives a new token) sets the cookie to it, and an answer whose
/// session has none (a logout) removes it. `SECURITY_CSRF_COOKIE_REFRESH_EACH_REQUEST` sends it
/// with every answer of a session with a token. The cookie is not HttpOnly unless
/// `SECURITY_CSRF_COOKIE` says so: the app's script reads it and sends the token back in
/// `SECURITY_CSRF_HEADER`.
pub async fn cookie(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_session::SessionExt;
    let state = req
        .app_data::<actix_web::web::Data<super::state::AppState>>()
        .cloned();
    let Some(config) = state
        .as_ref()
        .and_then(|state| state.settings.spa.csrf_cookie.clone())
    else {
        return next.call(req).await;
    };
    let sent = req.cookie(&config.name).map(|c| c.value().to_owned());
    let mut res = next.call(req).await?;
    let session = res.request().get_session();
    let token = session.get::<String>(SESSION_KEY).ok().flatten();
    let secure = state.is_some_and(|s| s.settings.cookie_secure);
    let cookie = match token {
        Some(token) if config.refresh_each_request || sent.as_deref() != Some(token.as_str()) => {
            Some(build_cookie(&config, secure, token))
        }
        None if sent.is_some() => {
            let mut removal = build_cookie(&config, secure, String::new());
            removal.make_removal();
            Some(removal)
        }
        _ => None,
    };
    if let Some(cookie) = cookie {
        res.response_mut().add_cookie(&cookie).map_err(|e| {
            super::error::AppError::Unexpected(anyhow::anyhow!("cookie {}: {e}", cookie.name()))
        })?;
    }
    Ok(res)
}

fn build_cookie(
    config: &crate::config::CsrfCookie,
    secure: bool,
    value: String,
) -> actix_web::cookie::Cookie<'static> {
    super::placed_cookie::placed(&config.name, value, &config.attributes, secure).finish()
}
