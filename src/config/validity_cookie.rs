//! The "remember this device" cookie of two-factor sign-in: its name
//! (`SECURITY_TWO_FACTOR_VALIDITY_COOKIE_NAME`) and attributes
//! (`SECURITY_TWO_FACTOR_VALIDITY_COOKIE`, Flask-Security's dict of `set_cookie` arguments,
//! given as JSON: `{"httponly": true, "secure": true, "samesite": "Strict"}`).

use super::source::{ConfigError, Source};

const NAME_KEY: &str = "SECURITY_TWO_FACTOR_VALIDITY_COOKIE_NAME";
const KEY: &str = "SECURITY_TWO_FACTOR_VALIDITY_COOKIE";

/// The cookie's `SameSite`: never `None` (the settings refuse it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValiditySameSite {
    Strict,
    Lax,
}

/// The `tf_validity` cookie's name and attributes. It is always HttpOnly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidityCookie {
    pub name: String,
    /// `Secure`: the dict's `secure`; when it does not say, `SESSION_COOKIE_SECURE`, as the
    /// other cookies (Flask-Security's `true` would lose the cookie on a plain-HTTP
    /// development server).
    pub secure: Option<bool>,
    pub same_site: ValiditySameSite,
    /// `path` (default `/`).
    pub path: Option<String>,
    /// `domain` (default: host-only).
    pub domain: Option<String>,
}

/// Reads both keys. A dict that would let scripts read the cookie (`"httponly": false`) or
/// send it on cross-site requests (`"samesite": "None"` or null) is refused: the cookie lets
/// a password alone sign in, so it gets at least the session cookie's protection.
pub(super) fn validity_cookie(src: &Source) -> Result<ValidityCookie, ConfigError> {
    let name = src.get(NAME_KEY).unwrap_or("tf_validity").to_owned();
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(ConfigError::new(
            NAME_KEY,
            format!("expected letters, digits, '-', '_' or '.', got {name:?}"),
        ));
    }
    let mut cookie = ValidityCookie {
        name,
        secure: None,
        same_site: ValiditySameSite::Strict,
        path: None,
        domain: None,
    };
    let Some(raw) = src.get(KEY) else {
        return Ok(cookie);
    };
    let refuse = |reason: String| ConfigError::new(KEY, reason);
    let dict: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(raw).map_err(|e| {
            refuse(format!(
                "expected a JSON object such as {{\"httponly\": true, \"secure\": true, \
                 \"samesite\": \"Strict\"}}: {e}"
            ))
        })?;
    for (field, value) in dict {
        use serde_json::Value;
        match (field.as_str(), value) {
            ("httponly", Value::Bool(true)) => {}
            ("httponly", _) => {
                return Err(refuse(
                    "httponly must stay true: Latchkey refuses to let scripts read the cookie \
                     that skips the second factor"
                        .to_owned(),
                ))
            }
            ("secure", Value::Bool(secure)) => cookie.secure = Some(secure),
            ("samesite", Value::String(s)) if s.eq_ignore_ascii_case("strict") => {
                cookie.same_site = ValiditySameSite::Strict
            }
            ("samesite", Value::String(s)) if s.eq_ignore_ascii_case("lax") => {
                cookie.same_site = ValiditySameSite::Lax
            }
            ("samesite", _) => {
                return Err(refuse(
                    "samesite must be \"Strict\" or \"Lax\": Latchkey refuses to send the cookie \
                     that skips the second factor with cross-site requests"
                        .to_owned(),
                ))
            }
            ("path", Value::String(path)) if path.starts_with('/') => cookie.path = Some(path),
            ("domain", Value::String(domain)) if !domain.is_empty() => cookie.domain = Some(domain),
            (other, _) => {
                return Err(refuse(format!(
                    "unknown or malformed attribute {other:?} (httponly, secure, samesite, \
                     path, domain)"
                )))
            }
        }
    }
    Ok(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<ValidityCookie, ConfigError> {
        validity_cookie(&Source::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn flask_securitys_dict_is_read_and_weaker_cookies_are_refused() {
        let default = read(&[]).unwrap();
        assert_eq!(default.name, "tf_validity");
        assert_eq!(default.same_site, ValiditySameSite::Strict);
        assert_eq!(default.secure, None);
        let c = read(&[
            (NAME_KEY, "device_ok"),
            (
                KEY,
                r#"{"httponly": true, "secure": true, "samesite": "Lax", "path": "/auth"}"#,
            ),
        ])
        .unwrap();
        assert_eq!(c.name, "device_ok");
        assert_eq!(c.same_site, ValiditySameSite::Lax);
        assert_eq!(c.secure, Some(true));
        assert_eq!(c.path.as_deref(), Some("/auth"));
        for bad in [
            r#"{"httponly": false}"#,
            r#"{"samesite": "None"}"#,
            r#"{"samesite": null}"#,
            r#"{"max_age": 5}"#,
            "httponly",
        ] {
            assert_eq!(read(&[(KEY, bad)]).unwrap_err().key, KEY, "{bad}");
        }
        assert_eq!(read(&[(NAME_KEY, "a b")]).unwrap_err().key, NAME_KEY);
    }
}
