//! API tokens and refresh tokens (`SECURITY_API_ENABLED_METHODS`, `SECURITY_TOKEN_*`,
//! `SECURITY_REFRESH_TOKEN*`, `SECURITY_CSRF_*`).

use std::time::Duration;

use super::cookie_dict::{self, CookieAttributes, Guard};
use super::source::{ConfigError, Source};

/// API tokens and refresh tokens (`SECURITY_API_ENABLED_METHODS`, `SECURITY_TOKEN_*`,
/// `SECURITY_REFRESH_TOKEN*`, `SECURITY_CSRF_*`), as Flask-Security names them.
#[derive(Debug, Clone)]
pub struct ApiTokenSettings {
    /// `token` is in `SECURITY_API_ENABLED_METHODS`: the token header authenticates.
    pub enabled: bool,
    /// The header a token comes in (`SECURITY_TOKEN_AUTHENTICATION_HEADER`).
    pub header: String,
    /// The query parameter a token may come in (`SECURITY_TOKEN_AUTHENTICATION_KEY`).
    pub query_key: String,
    /// How long a token works after it is issued (`SECURITY_TOKEN_MAX_AGE`).
    pub max_age: Duration,
    /// `token` is in `SECURITY_CSRF_PROTECT_MECHANISMS`: token requests need a CSRF token
    /// too (off by default: a header no cross-site form can send needs none).
    pub csrf_for_tokens: bool,
    /// `SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS`: requests with no login need no CSRF token.
    pub csrf_ignore_unauthenticated: bool,
    /// `SECURITY_REFRESH_TOKEN`: `/refresh-token` and a refresh token with each API token.
    pub refresh: bool,
    pub refresh_max_age: Duration,
    pub refresh_max_idle: Duration,
    /// The cookie the refresh token travels in (`SECURITY_REFRESH_TOKEN_COOKIE_NAME`,
    /// `fs_refresh`); `None` (set empty): in the JSON body instead.
    pub refresh_cookie_name: Option<String>,
    /// `SECURITY_REFRESH_TOKEN_COOKIE`: that cookie's attributes.
    pub refresh_cookie: CookieAttributes,
}

/// A comma list of Flask-Security's authentication mechanisms (`session`, `token`,
/// `basic`). HTTP basic authentication is not offered: naming it is a configuration error,
/// not a silent no-op.
fn mechanisms(src: &Source, key: &str, default: &str) -> Result<Vec<String>, ConfigError> {
    let mut found = Vec::new();
    for name in src.get(key).unwrap_or(default).split(',') {
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "" => {}
            "session" | "token" => found.push(name),
            "basic" => {
                return Err(ConfigError::new(
                    key,
                    "basic (HTTP basic authentication) is not supported: use session and token",
                ))
            }
            other => {
                return Err(ConfigError::new(
                    key,
                    format!("unknown mechanism {other:?} (expected session, token)"),
                ))
            }
        }
    }
    Ok(found)
}

pub(super) fn api_tokens(src: &Source) -> Result<ApiTokenSettings, ConfigError> {
    let enabled = mechanisms(src, "SECURITY_API_ENABLED_METHODS", "session,token")?;
    let csrf = mechanisms(src, "SECURITY_CSRF_PROTECT_MECHANISMS", "session")?;
    let named = |key: &str, default: &str| -> Result<String, ConfigError> {
        let value = src.get(key).unwrap_or(default);
        let valid = value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        match valid {
            true => Ok(value.to_owned()),
            false => Err(ConfigError::new(
                key,
                format!("expected letters, digits, - or _, got {value:?}"),
            )),
        }
    };
    // Set but empty: the refresh token goes in the JSON body (as Flask-Security's None).
    let refresh_cookie_name = match src.is_set_empty("SECURITY_REFRESH_TOKEN_COOKIE_NAME") {
        true => None,
        false => Some(named("SECURITY_REFRESH_TOKEN_COOKIE_NAME", "fs_refresh")?),
    };
    Ok(ApiTokenSettings {
        enabled: enabled.iter().any(|m| m == "token"),
        header: named(
            "SECURITY_TOKEN_AUTHENTICATION_HEADER",
            "Authentication-Token",
        )?,
        query_key: named("SECURITY_TOKEN_AUTHENTICATION_KEY", "auth_token")?,
        max_age: src.seconds_or_period("SECURITY_TOKEN_MAX_AGE", "15 minutes")?,
        csrf_for_tokens: csrf.iter().any(|m| m == "token"),
        csrf_ignore_unauthenticated: src.flag("SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS", false)?,
        refresh: src.flag("SECURITY_REFRESH_TOKEN", false)?,
        refresh_max_age: src.seconds_or_period("SECURITY_REFRESH_TOKEN_MAX_AGE", "90 days")?,
        refresh_max_idle: src.seconds_or_period("SECURITY_REFRESH_TOKEN_MAX_IDLE", "7 days")?,
        refresh_cookie_name,
        refresh_cookie: refresh_cookie(src)?,
    })
}

/// `SECURITY_REFRESH_TOKEN_COOKIE`: the refresh cookie's attributes (Flask-Security's
/// default: Strict, HttpOnly, Secure as the other cookies). `"samesite": "None"` is allowed
/// for a single-page app on another origin; `"httponly": false` is refused.
fn refresh_cookie(src: &Source) -> Result<CookieAttributes, ConfigError> {
    const KEY: &str = "SECURITY_REFRESH_TOKEN_COOKIE";
    let guard = Guard {
        http_only_because: Some(
            "a script that needs the refresh token gets it in the JSON answer with \
             SECURITY_REFRESH_TOKEN_COOKIE_NAME set empty",
        ),
        same_site_because: None,
    };
    let (attributes, name) =
        cookie_dict::read(src, KEY, CookieAttributes::strict_http_only(), guard)?;
    match name {
        Some(_) => Err(ConfigError::new(
            KEY,
            "has no \"key\" entry: the name is SECURITY_REFRESH_TOKEN_COOKIE_NAME",
        )),
        None => Ok(attributes),
    }
}
