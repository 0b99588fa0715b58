//! A cookie configured by one of Flask-Security's `*_COOKIE` dicts: shared by the CSRF
//! cookie (`web::csrf`), the "remember this device" cookie and the refresh-token cookie
//! (`web::cookies`).

use actix_web::cookie::{Cookie, CookieBuilder, SameSite};

use crate::config::{CookieAttributes, CookieSameSite};

/// A cookie placed as its dict says: at `path` (the site's root when unset), for `domain`
/// (host-only when unset), HttpOnly and SameSite as given, Secure as the dict says or else
/// as `SESSION_COOKIE_SECURE`. The caller adds the lifetime.
pub fn placed(
    name: &str,
    value: String,
    attributes: &CookieAttributes,
    session_cookie_secure: bool,
) -> CookieBuilder<'static> {
    let mut builder = Cookie::build(name.to_owned(), value)
        .path(
            attributes
                .path
                .as_deref()
                .unwrap_or(crate::urls::ROOT)
                .to_owned(),
        )
        .secure(attributes.secure.unwrap_or(session_cookie_secure))
        .http_only(attributes.http_only)
        .same_site(match attributes.same_site {
            CookieSameSite::Strict => SameSite::Strict,
            CookieSameSite::Lax => SameSite::Lax,
            CookieSameSite::None => SameSite::None,
        });
    if let Some(domain) = &attributes.domain {
        builder = builder.domain(domain.to_owned());
    }
    builder
}
