//! Passkeys (`SECURITY_WEBAUTHN`, `SECURITY_WAN_*`), their relying party taken from
//! `BASE_URL`.

use std::time::Duration;

use super::environment::Environment;
use super::source::{ConfigError, Source};

/// Passkeys (`SECURITY_WEBAUTHN`, `SECURITY_WAN_*`), as Flask-Security names them. The
/// relying party comes from `BASE_URL`, never from a request's `Host`.
#[derive(Debug, Clone)]
pub struct WebAuthnSettings {
    pub enabled: bool,
    /// A passkey may be registered for signing in on its own (`usage` "first").
    pub allow_as_first_factor: bool,
    /// A first-factor passkey that verified the user (PIN, biometrics) also counts as the
    /// second factor.
    pub allow_as_multi_factor: bool,
    /// Which passkeys `/wan-verify` accepts (`SECURITY_WAN_ALLOW_AS_VERIFY`).
    pub allow_as_verify: Vec<String>,
    /// `/wan-signin` with an identity lists that account's passkeys (`allowCredentials`).
    pub allow_user_hints: bool,
    /// Shown by the authenticator (`SECURITY_WAN_RP_NAME`; default `APP_NAME`).
    pub rp_name: String,
    /// The relying party id: `BASE_URL`'s host.
    pub rp_id: String,
    /// The only origin accepted: `BASE_URL`'s scheme, host and port.
    pub origin: String,
    /// How long the browser waits for the authenticator (milliseconds in the env).
    pub register_timeout: Duration,
    pub signin_timeout: Duration,
    /// How long a begun ceremony may be finished (`SECURITY_WAN_REGISTER_WITHIN`,
    /// `SECURITY_WAN_SIGNIN_WITHIN`).
    pub register_within: Duration,
    pub signin_within: Duration,
    /// The longest passkey name (`SECURITY_WAN_NAME_MAX_LENGTH`).
    pub name_max_length: usize,
    /// What a passkey name may be made of (`SECURITY_WAN_NAME_ALLOWED_CHARS`; `None`: any).
    pub name_allowed: Option<super::normalize::Categories>,
    /// How a passkey name is normalised (`SECURITY_INPUT_NORMALIZE_FORM`; `None`: not).
    pub name_form: Option<super::normalize::NormalizeForm>,
    /// Latchkey's own: sign up with an email and a passkey, no password
    /// (`SECURITY_WAN_REGISTER_WITHOUT_PASSWORD`, also needs `SECURITY_REGISTERABLE`).
    pub register_without_password: bool,
    /// Where a successful registration goes (`SECURITY_WAN_POST_REGISTER_VIEW`; unset: the
    /// passkeys page, `/wan-register`, from the URL table).
    pub post_register_view: Option<String>,
}

pub(super) fn webauthn(
    src: &Source,
    app_name: &str,
    base_url: &str,
    environment: Environment,
) -> Result<WebAuthnSettings, ConfigError> {
    let enabled = src.flag("SECURITY_WEBAUTHN", false)?;
    let parsed = url::Url::parse(base_url)
        .map_err(|e| ConfigError::new("BASE_URL", format!("is not a URL: {e}")))?;
    let rp_id = match parsed.host() {
        Some(url::Host::Domain(d)) => d.to_owned(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(_)) if enabled => {
            return Err(ConfigError::new(
                "BASE_URL",
                "has an IPv6 address as host; passkeys need a domain name (or 127.0.0.1 /                  localhost in development)",
            ))
        }
        _ => String::new(),
    };
    if enabled && environment == Environment::Production && parsed.scheme() != "https" {
        return Err(ConfigError::new(
            "BASE_URL",
            format!(
                "is {base_url:?}; with SECURITY_WEBAUTHN on, APP_ENV=production needs an                  https:// BASE_URL (passkeys are bound to it, and browsers refuse them on                  plain http except on localhost)"
            ),
        ));
    }
    let allow_as_verify: Vec<String> = src
        .get("SECURITY_WAN_ALLOW_AS_VERIFY")
        .unwrap_or("first,secondary")
        .split(',')
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    if let Some(bad) = allow_as_verify
        .iter()
        .find(|v| *v != "first" && *v != "secondary")
    {
        return Err(ConfigError::new(
            "SECURITY_WAN_ALLOW_AS_VERIFY",
            format!("expected first and/or secondary, got {bad:?}"),
        ));
    }
    let settings = WebAuthnSettings {
        enabled,
        allow_as_first_factor: src.flag("SECURITY_WAN_ALLOW_AS_FIRST_FACTOR", true)?,
        allow_as_multi_factor: src.flag("SECURITY_WAN_ALLOW_AS_MULTI_FACTOR", true)?,
        allow_as_verify,
        allow_user_hints: src.flag("SECURITY_WAN_ALLOW_USER_HINTS", true)?,
        rp_name: src
            .get("SECURITY_WAN_RP_NAME")
            .unwrap_or(app_name)
            .to_owned(),
        origin: parsed.origin().ascii_serialization(),
        rp_id,
        register_timeout: src.milliseconds("SECURITY_WAN_REGISTER_TIMEOUT", 60_000)?,
        signin_timeout: src.milliseconds("SECURITY_WAN_SIGNIN_TIMEOUT", 60_000)?,
        register_within: src.seconds_or_period("SECURITY_WAN_REGISTER_WITHIN", "30 minutes")?,
        signin_within: src.seconds_or_period("SECURITY_WAN_SIGNIN_WITHIN", "1 minutes")?,
        name_max_length: src.number("SECURITY_WAN_NAME_MAX_LENGTH", 64)?,
        name_allowed: super::normalize::wan_name_allowed(src)?,
        name_form: super::normalize::input_form(src)?,
        register_without_password: src.flag("SECURITY_WAN_REGISTER_WITHOUT_PASSWORD", false)?,
        post_register_view: src
            .get("SECURITY_WAN_POST_REGISTER_VIEW")
            .map(str::to_owned),
    };
    for (key, value) in [
        ("SECURITY_WAN_REGISTER_WITHIN", settings.register_within),
        ("SECURITY_WAN_SIGNIN_WITHIN", settings.signin_within),
    ] {
        if value.is_zero() {
            return Err(ConfigError::new(key, "must be at least 1 second"));
        }
    }
    if !(1..=64).contains(&settings.name_max_length) {
        return Err(ConfigError::new(
            "SECURITY_WAN_NAME_MAX_LENGTH",
            "must be between 1 and 64 (the webauthn.name column)",
        ));
    }
    if settings.register_without_password && !(enabled && settings.allow_as_first_factor) {
        return Err(ConfigError::new(
            "SECURITY_WAN_REGISTER_WITHOUT_PASSWORD",
            "needs SECURITY_WEBAUTHN=true and SECURITY_WAN_ALLOW_AS_FIRST_FACTOR=true (the \
             passkey is the account's only way in)",
        ));
    }
    if enabled && settings.rp_id.is_empty() {
        return Err(ConfigError::new(
            "BASE_URL",
            "has no host; passkeys are bound to it",
        ));
    }
    Ok(settings)
}
