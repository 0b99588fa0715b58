//! Flask-Security's cookie dicts: `SECURITY_CSRF_COOKIE`, `SECURITY_TWO_FACTOR_VALIDITY_COOKIE`
//! and `SECURITY_REFRESH_TOKEN_COOKIE` are keyword arguments of Werkzeug's `set_cookie`,
//! given here as a JSON object (`{"samesite": "Strict", "httponly": true, "secure": true}`).
//! One reader for the three; each cookie says what it refuses.

use serde_json::Value;

use super::source::{ConfigError, Source};

/// A cookie's `SameSite`, as the dict's `samesite` names it (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSameSite {
    Strict,
    Lax,
    /// Sent with cross-site requests too (browsers then require `Secure`).
    None,
}

/// What a cookie dict says, over the cookie's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieAttributes {
    pub same_site: CookieSameSite,
    pub http_only: bool,
    /// `Secure`: the dict's `secure`; when it does not say, `SESSION_COOKIE_SECURE`, as the
    /// other cookies (Flask-Security's `true` would lose the cookie on a plain-HTTP
    /// development server).
    pub secure: Option<bool>,
    /// `path` (default: the site's root).
    pub path: Option<String>,
    /// `domain` (default: host-only).
    pub domain: Option<String>,
}

impl CookieAttributes {
    /// Flask-Security's defaults for its credential cookies: Strict, HttpOnly, Secure as the
    /// other cookies, at the root, host-only.
    pub const fn strict_http_only() -> Self {
        Self {
            same_site: CookieSameSite::Strict,
            http_only: true,
            secure: None,
            path: None,
            domain: None,
        }
    }
}

/// What a cookie refuses: a cookie that carries a credential stays out of scripts' reach,
/// and one that skips a factor never rides on another site's request.
#[derive(Debug, Clone, Copy)]
pub(super) struct Guard {
    /// `"httponly": false` is refused, with this reason.
    pub http_only_because: Option<&'static str>,
    /// `"samesite": "None"` is refused, with this reason.
    pub same_site_because: Option<&'static str>,
}

/// The dict of `key` over `default`, and its `key` entry (the CSRF cookie's name may be given
/// there). Unset: `default`. A dict that is not an object, an unknown entry, a value of the
/// wrong type, a path not starting with `/`, an empty domain, or what `guard` refuses is a
/// [`ConfigError`] naming `key`. `"samesite": "None"` with `"secure": false` is refused
/// too: browsers drop such a cookie.
pub(super) fn read(
    src: &Source,
    key: &'static str,
    default: CookieAttributes,
    guard: Guard,
) -> Result<(CookieAttributes, Option<String>), ConfigError> {
    let Some(raw) = src.get(key) else {
        return Ok((default, None));
    };
    let refuse = |reason: String| ConfigError::new(key, reason);
    let Ok(Value::Object(dict)) = serde_json::from_str::<Value>(raw) else {
        return Err(refuse(format!(
            "expected a JSON object such as {{\"samesite\": \"Strict\", \"httponly\": true}}, \
             got {raw:?}"
        )));
    };
    let mut cookie = default;
    let mut name = None;
    for (field, value) in dict {
        match (field.as_str(), value) {
            ("httponly", Value::Bool(b)) => match guard.http_only_because {
                Some(why) if !b => return Err(refuse(format!("httponly must stay true: {why}"))),
                _ => cookie.http_only = b,
            },
            ("secure", Value::Bool(b)) => cookie.secure = Some(b),
            ("samesite", Value::String(s)) => {
                cookie.same_site = match s.to_ascii_lowercase().as_str() {
                    "strict" => CookieSameSite::Strict,
                    "lax" => CookieSameSite::Lax,
                    "none" => match guard.same_site_because {
                        Some(why) => {
                            return Err(refuse(format!(
                                "samesite must be \"Strict\" or \"Lax\": {why}"
                            )))
                        }
                        None => CookieSameSite::None,
                    },
                    _ => {
                        return Err(refuse(format!(
                            "samesite: expected \"Strict\", \"Lax\" or \"None\", got {s:?}"
                        )))
                    }
                }
            }
            ("samesite", Value::Null) => {
                return Err(refuse(
                    "samesite: null leaves the choice to the browser; write \"Strict\", \
                     \"Lax\" or \"None\""
                        .to_owned(),
                ))
            }
            ("path", Value::String(path)) if path.starts_with('/') => cookie.path = Some(path),
            ("domain", Value::String(domain)) if !domain.is_empty() => cookie.domain = Some(domain),
            ("key", Value::String(key)) => name = Some(key),
            (other, value) => {
                return Err(refuse(format!(
                    "unknown or malformed entry {other:?}: {value} (httponly and secure: true \
                     or false; samesite: \"Strict\", \"Lax\" or \"None\"; path: starting with \
                     /; domain)"
                )))
            }
        }
    }
    if cookie.same_site == CookieSameSite::None && cookie.secure == Some(false) {
        return Err(refuse(
            "samesite \"None\" needs a Secure cookie (browsers drop it otherwise): leave \
             secure out or set it true"
                .to_owned(),
        ));
    }
    Ok((cookie, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "SECURITY_TEST_COOKIE";
    const OPEN: Guard = Guard {
        http_only_because: None,
        same_site_because: None,
    };
    const GUARDED: Guard = Guard {
        http_only_because: Some("scripts must not read it"),
        same_site_because: Some("other sites must not send it"),
    };

    fn read_with(raw: &str, guard: Guard) -> Result<CookieAttributes, ConfigError> {
        let src = Source::from_pairs([(KEY, raw)]);
        read(&src, KEY, CookieAttributes::strict_http_only(), guard).map(|(c, _)| c)
    }

    #[test]
    fn unset_is_the_default_and_each_entry_overrides_it() {
        let src = Source::from_pairs(Vec::<(&str, &str)>::new());
        let (c, name) = read(&src, KEY, CookieAttributes::strict_http_only(), OPEN).unwrap();
        assert_eq!(c, CookieAttributes::strict_http_only());
        assert_eq!(name, None);
        let c = read_with(
            r#"{"samesite": "lax", "httponly": false, "secure": true, "path": "/auth",
                "domain": "example.com"}"#,
            OPEN,
        )
        .unwrap();
        assert_eq!(
            c,
            CookieAttributes {
                same_site: CookieSameSite::Lax,
                http_only: false,
                secure: Some(true),
                path: Some("/auth".into()),
                domain: Some("example.com".into()),
            }
        );
        let src = Source::from_pairs([(KEY, r#"{"key": "XSRF-TOKEN"}"#)]);
        let (_, name) = read(&src, KEY, CookieAttributes::strict_http_only(), OPEN).unwrap();
        assert_eq!(name.as_deref(), Some("XSRF-TOKEN"));
    }

    #[test]
    fn malformed_dicts_and_what_the_guard_forbids_are_refused_naming_the_key() {
        for bad in [
            "httponly",
            "[]",
            r#"{"max_age": 5}"#,
            r#"{"httponly": "yes"}"#,
            r#"{"samesite": "sometimes"}"#,
            r#"{"samesite": null}"#,
            r#"{"path": "auth"}"#,
            r#"{"domain": ""}"#,
            r#"{"samesite": "None", "secure": false}"#,
        ] {
            assert_eq!(read_with(bad, OPEN).unwrap_err().key, KEY, "{bad}");
        }
        assert!(read_with(r#"{"samesite": "None"}"#, OPEN).is_ok());
        assert!(read_with(r#"{"httponly": false}"#, OPEN).is_ok());
        for bad in [r#"{"httponly": false}"#, r#"{"samesite": "None"}"#] {
            let e = read_with(bad, GUARDED).unwrap_err();
            assert!(e.to_string().contains("must"), "{e}");
        }
        assert!(read_with(r#"{"httponly": true, "samesite": "Lax"}"#, GUARDED).is_ok());
    }
}
