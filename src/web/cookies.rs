//! The cookies a login sets besides the session: remember-me, "remember this device" for
//! the second factor, the refresh token; and Flask-Security's token fields.

use actix_web::cookie::{time, Cookie, SameSite};
use serde_json::json;

use super::page::Web;

/// The remember-me cookie (`SECURITY_REMEMBER_COOKIE_NAME`), lasting `REMEMBER_COOKIE_DURATION`.
pub fn remember(web: &Web, value: String) -> Cookie<'static> {
    let settings = web.settings();
    let lifetime = time::Duration::seconds(settings.remember_for.as_secs() as i64);
    Cookie::build(settings.remember_cookie_name(), value)
        .path(crate::urls::ROOT)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.cookie_secure)
        .max_age(lifetime)
        .expires(time::OffsetDateTime::now_utc() + lifetime)
        .finish()
}

/// The `tf_validity` cookie (`SECURITY_TWO_FACTOR_VALIDITY_COOKIE_NAME`) with `value`: a
/// browser that passed the second factor skips it for `SECURITY_TWO_FACTOR_LOGIN_VALIDITY`
/// (only with `SECURITY_TWO_FACTOR_ALWAYS_VALIDATE=false`). Always HttpOnly; SameSite, Secure,
/// path and domain as `SECURITY_TWO_FACTOR_VALIDITY_COOKIE` says (Strict, and Secure as
/// `SESSION_COOKIE_SECURE`, by default).
pub fn remembered_device(web: &Web, value: String) -> Cookie<'static> {
    let settings = web.settings();
    let lifetime = time::Duration::seconds(settings.two_factor.login_validity.as_secs() as i64);
    let cookie = &settings.two_factor.validity_cookie;
    super::placed_cookie::placed(
        &cookie.name,
        value,
        &cookie.attributes,
        settings.cookie_secure,
    )
    .max_age(lifetime)
    .finish()
}

/// Flask-Security's token fields, and the refresh cookie when refresh tokens travel in one.
pub fn token_answer(
    web: &Web,
    issued: crate::auth::api_tokens::Issued,
) -> (serde_json::Value, Option<Cookie<'static>>) {
    let settings = &web.settings().api_tokens;
    let mut fields = json!({ "authentication_token": issued.authentication_token });
    let mut cookie = None;
    if let Some(refresh) = issued.refresh_token {
        match &settings.refresh_cookie_name {
            Some(name) => cookie = Some(refresh_cookie(web, name, refresh)),
            None => fields["refresh_token"] = json!(refresh),
        }
    }
    (fields, cookie)
}

/// The refresh-token cookie, placed as `SECURITY_REFRESH_TOKEN_COOKIE` says (Flask-Security's
/// default: HttpOnly, SameSite=Strict; Secure as the other cookies), lasting as long as a
/// family may.
pub fn refresh_cookie(web: &Web, name: &str, value: String) -> Cookie<'static> {
    let settings = web.settings();
    let lifetime = time::Duration::seconds(settings.api_tokens.refresh_max_age.as_secs() as i64);
    let attributes = &settings.api_tokens.refresh_cookie;
    super::placed_cookie::placed(name, value, attributes, settings.cookie_secure)
        .max_age(lifetime)
        .finish()
}
