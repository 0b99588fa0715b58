//! The language of a request: the `lang` cookie (set by `/lang`, the pages' language
//! chooser) when it names a language the catalogue has, else the best of `Accept-Language`,
//! else `BABEL_DEFAULT_LOCALE`.

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::header::ACCEPT_LANGUAGE;
use actix_web::HttpRequest;

use crate::config::Settings;
use crate::messages::{Lang, Messages};

/// The cookie that keeps a visitor's choice of language.
pub const COOKIE: &str = "lang";

/// How long the choice is kept.
const KEPT_FOR_DAYS: i64 = 365;

/// The language of `req`, among those `messages` has.
pub fn of(req: &HttpRequest, messages: &Messages) -> Lang {
    let cookie = req.cookie(COOKIE);
    let accept = req
        .headers()
        .get(ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    messages.choose_language(cookie.as_ref().map(Cookie::value), accept)
}

/// The cookie that makes `lang` the visitor's language: HttpOnly, SameSite=Lax, Secure when
/// `SESSION_COOKIE_SECURE`.
pub fn cookie(lang: &Lang, settings: &Settings) -> Cookie<'static> {
    Cookie::build(COOKIE, lang.to_string())
        .path(crate::urls::ROOT)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.cookie_secure)
        .max_age(time::Duration::days(KEPT_FOR_DAYS))
        .finish()
}
