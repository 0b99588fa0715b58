//! Starting a login in the browser once the rules have proved who it is: the login row, the
//! renewed session bound to it, a new CSRF token, the remember-me cookie. Also the client
//! key the throttle counts an address under. Every handler that logs someone in (login,
//! registration, password change) goes through [`start_session`].

use std::time::Duration;

use actix_identity::Identity;
use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::HttpMessage;

use super::client::client_info;
use super::error::AppError;
use super::page::Web;
use crate::auth::login::{self, LoginOptions};
use crate::auth::login_flow::PendingLogin;
use crate::db::models::User;

/// The client address as the throttle counts it: IPv6 by its /64 ("-" when unknown).
pub fn client_key(web: &Web) -> String {
    let ip = super::client::client_ip(&web.request, web.settings().trusted_proxy_count);
    crate::auth::throttle::client_key(ip.as_deref().unwrap_or("-"))
}

/// The answer to a throttled credential check: 429 with `Retry-After`, logged.
pub fn throttled(web: &Web, event: &'static str, retry_after: Duration) -> AppError {
    tracing::warn!(
        event,
        ip = %client_key(web),
        retry_after = retry_after.as_secs(),
        "refused: too many failures"
    );
    AppError::TooManyAttempts { retry_after }
}

/// Logs `user` in: records the login, binds the renewed session to it, gives the session a
/// new CSRF token, and returns the remember-me cookie to set, if asked for.
pub async fn start_session(
    web: &Web,
    user: &User,
    remember: bool,
) -> Result<Option<Cookie<'static>>, AppError> {
    let settings = web.settings();
    let client = client_info(&web.request, settings.trusted_proxy_count);
    let ip = client.ip.clone();
    let options = LoginOptions {
        remember,
        remember_for: settings.remember_for,
        trackable: settings.features.trackable,
    };
    let for_user = user.clone();
    // A login replaces the one this browser had: the old id must not stay usable.
    let previous = web.user.as_ref().map(|c| c.session_id.clone());
    let new_login = web
        .state
        .db
        .run(move |conn| {
            if let Some(previous) = previous {
                login::end(conn, &previous)?;
            }
            login::create(conn, &for_user, &client, &options)
        })
        .await?;
    // Identity::login renews the session, so a session fixed before login is not reused;
    // a token planted in or read from the anonymous session is worthless from here on.
    Identity::login(&web.request.extensions(), new_login.session_id.clone())
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("binding the session: {e}")))?;
    super::csrf::rotate(&web.session);
    web.session.remove(PENDING_LOGIN_KEY);
    tracing::info!(
        event = "login",
        user_id = user.id,
        ip = %ip.as_deref().unwrap_or("-"),
        remember,
        "login succeeded"
    );
    Ok(new_login.remember_cookie.map(|value| {
        let lifetime = time::Duration::seconds(settings.remember_for.as_secs() as i64);
        Cookie::build(settings.remember_cookie_name(), value)
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(settings.cookie_secure)
            .max_age(lifetime)
            .expires(time::OffsetDateTime::now_utc() + lifetime)
            .finish()
    }))
}

/// Where a [`PendingLogin`] waits for its second factor: the browser's encrypted session,
/// under a key of its own that nothing deciding who is logged in ever reads.
pub const PENDING_LOGIN_KEY: &str = "_pending_login";

/// Keeps a login whose first factor is proved in this browser until its second factor.
pub fn hold_pending(web: &Web, pending: &PendingLogin) -> Result<(), AppError> {
    web.session
        .insert(PENDING_LOGIN_KEY, pending)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("keeping the pending login: {e}")))
}

/// This browser's pending login, unchecked (see [`PendingLogin::resume`]).
pub fn pending(web: &Web) -> Option<PendingLogin> {
    web.session.get(PENDING_LOGIN_KEY).ok().flatten()
}
