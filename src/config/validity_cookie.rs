//! The "remember this device" cookie of two-factor sign-in: its name
//! (`SECURITY_TWO_FACTOR_VALIDITY_COOKIE_NAME`) and attributes
//! (`SECURITY_TWO_FACTOR_VALIDITY_COOKIE`, Flask-Security's dict of `set_cookie` arguments,
//! given as JSON: `{"httponly": true, "secure": true, "samesite": "Strict"}`).

use super::cookie_dict::{self, CookieAttributes, Guard};
use super::source::{ConfigError, Source};

const NAME_KEY: &str = "SECURITY_TWO_FACTOR_VALIDITY_COOKIE_NAME";
const KEY: &str = "SECURITY_TWO_FACTOR_VALIDITY_COOKIE";

/// The `tf_validity` cookie's name and attributes. It is always HttpOnly, and never
/// `SameSite=None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidityCookie {
    pub name: String,
    pub attributes: CookieAttributes,
}

/// Reads both keys. A dict that would let scripts read the cookie (`"httponly": false`) or
/// send it on cross-site requests (`"samesite": "None"`) is refused: the cookie lets a
/// password alone sign in, so it gets at least the session cookie's protection.
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
    const BECAUSE: &str = "Latchkey guards the cookie that skips the second factor";
    let (attributes, given_name) = cookie_dict::read(
        src,
        KEY,
        CookieAttributes::strict_http_only(),
        Guard {
            http_only_because: Some(BECAUSE),
            same_site_because: Some(BECAUSE),
        },
    )?;
    if given_name.is_some() {
        return Err(ConfigError::new(
            KEY,
            format!("has no \"key\" entry: the name is {NAME_KEY}"),
        ));
    }
    Ok(ValidityCookie { name, attributes })
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
        assert_eq!(default.attributes, CookieAttributes::strict_http_only());
        let c = read(&[
            (NAME_KEY, "device_ok"),
            (
                KEY,
                r#"{"httponly": true, "secure": true, "samesite": "Lax", "path": "/auth"}"#,
            ),
        ])
        .unwrap();
        assert_eq!(c.name, "device_ok");
        assert_eq!(c.attributes.same_site, super::super::CookieSameSite::Lax);
        assert_eq!(c.attributes.secure, Some(true));
        assert_eq!(c.attributes.path.as_deref(), Some("/auth"));
        for bad in [
            r#"{"httponly": false}"#,
            r#"{"samesite": "None"}"#,
            r#"{"samesite": null}"#,
            r#"{"max_age": 5}"#,
            r#"{"key": "other"}"#,
            "httponly",
        ] {
            assert_eq!(read(&[(KEY, bad)]).unwrap_err().key, KEY, "{bad}");
        }
        assert_eq!(read(&[(NAME_KEY, "a b")]).unwrap_err().key, NAME_KEY);
    }
}
