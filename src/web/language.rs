//! The language of a request: the `lang` cookie (set by `/lang`, the pages' language
//! chooser) when it names a language the catalogue has, else the best of `Accept-Language`,
//! else `BABEL_DEFAULT_LOCALE`.

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::header::{AcceptLanguage, Header, Preference};
use actix_web::HttpRequest;

use crate::config::Settings;
use crate::messages::{Lang, Messages};

/// The cookie that keeps a visitor's choice of language.
pub const COOKIE: &str = "lang";

/// How long the choice is kept.
const KEPT_FOR_DAYS: i64 = 365;

/// At most this many of a request's languages are looked at.
const MAX_ACCEPTED: usize = 32;

/// The language of `req`, among those `messages` has.
pub fn of(req: &HttpRequest, messages: &Messages) -> Lang {
    let cookie = req.cookie(COOKIE);
    messages.choose_language(cookie.as_ref().map(Cookie::value), &accepted(req))
}

/// The languages of `req`'s `Accept-Language`, read by actix-web's typed header: best first
/// (by quality, then in the order given); `*`, tags that do not parse and those with `q=0`
/// ("not acceptable") are left out.
pub fn accepted(req: &HttpRequest) -> Vec<Lang> {
    let Ok(AcceptLanguage(mut items)) = AcceptLanguage::parse(req) else {
        return Vec::new();
    };
    items.truncate(MAX_ACCEPTED);
    items.retain(|item| item.quality > actix_web::http::header::Quality::ZERO);
    AcceptLanguage(items)
        .ranked()
        .into_iter()
        .filter_map(|preference| match preference {
            Preference::Specific(tag) => Lang::parse(tag.as_str()),
            Preference::Any => None,
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn tags(header: &str) -> Vec<String> {
        let req = TestRequest::default()
            .insert_header(("Accept-Language", header))
            .to_http_request();
        accepted(&req).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn accept_language_is_ranked_by_quality_then_order_without_q0() {
        assert_eq!(
            tags("fr;q=0.5, de-CH, en;q=0.9, *;q=0.1, it;q=0, xx;q=abc"),
            ["de-ch", "en", "fr"]
        );
        assert_eq!(tags("pt-BR, pt;q=0.8, en;q=0.0"), ["pt-br", "pt"]);
        assert!(tags("").is_empty());
        assert!(tags("*").is_empty());
        assert!(TestRequest::default()
            .to_http_request()
            .headers()
            .get("accept-language")
            .is_none());
    }
}
