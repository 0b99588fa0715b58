//! Where a cookie configured by one of Flask-Security's `*_COOKIE` dicts goes: shared by
//! the CSRF cookie (`web::csrf`) and the "remember this device" cookie (`web::cookies`).

use actix_web::cookie::{Cookie, CookieBuilder};

/// A cookie placed as one of Flask-Security's `*_COOKIE` dicts says (the CSRF cookie, the
/// "remember this device" one): at `path` (the site's root when unset), for `domain`
/// (host-only when unset), Secure as the dict says or else as `SESSION_COOKIE_SECURE`.
/// The caller adds HttpOnly, SameSite and the lifetime.
pub fn placed(
    name: &str,
    value: String,
    path: Option<&str>,
    domain: Option<&str>,
    secure: Option<bool>,
    session_cookie_secure: bool,
) -> CookieBuilder<'static> {
    let mut builder = Cookie::build(name.to_owned(), value)
        .path(path.unwrap_or(crate::urls::ROOT).to_owned())
        .secure(secure.unwrap_or(session_cookie_secure));
    if let Some(domain) = domain {
        builder = builder.domain(domain.to_owned());
    }
    builder
}
