//! Unified sign-in (`SECURITY_UNIFIED_SIGNIN`, `SECURITY_US_*`).

use std::time::Duration;

use super::source::{ConfigError, Source};

/// A way to sign in with unified sign-in (`SECURITY_US_ENABLED_METHODS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UsMethod {
    Password,
    /// A code (and a link) mailed to the account's address.
    Email,
    /// A code from an authenticator app.
    Authenticator,
    /// A code by text message to `us_phone_number`.
    Sms,
}

impl UsMethod {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "password" => Some(Self::Password),
            "email" => Some(Self::Email),
            "authenticator" => Some(Self::Authenticator),
            "sms" => Some(Self::Sms),
            _ => None,
        }
    }

    /// Flask-Security's name (the keys of `user.us_totp_secrets`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Email => "email",
            Self::Authenticator => "authenticator",
            Self::Sms => "sms",
        }
    }

    /// Whether signing in with it sends a code (mail or text message).
    pub fn sends_code(self) -> bool {
        matches!(self, Self::Email | Self::Sms)
    }
}

/// Unified sign-in (`SECURITY_UNIFIED_SIGNIN`, `SECURITY_US_*`): one form for a password or
/// a code, as Flask-Security names it.
#[derive(Debug, Clone)]
pub struct UnifiedSigninSettings {
    pub enabled: bool,
    /// In Flask-Security's order: the password is tried first.
    pub methods: Vec<UsMethod>,
    /// Methods after which a second factor is still asked (`SECURITY_US_MFA_REQUIRED`).
    pub mfa_required: Vec<UsMethod>,
    /// How long a code is accepted (`SECURITY_US_TOKEN_VALIDITY`, seconds).
    pub token_validity: Duration,
    /// How long a started setup waits for its code (`SECURITY_US_SETUP_WITHIN`).
    pub setup_within: Duration,
    /// `GET /login` goes to `/us-signin` (`SECURITY_US_SIGNIN_REPLACES_LOGIN`).
    pub signin_replaces_login: bool,
    /// The code mail's subject (`SECURITY_US_EMAIL_SUBJECT`).
    pub email_subject: String,
}

fn us_methods(src: &Source, key: &str, default: &str) -> Result<Vec<UsMethod>, ConfigError> {
    let mut methods = Vec::new();
    for name in src.get(key).unwrap_or(default).split(',') {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        let method = UsMethod::parse(name).ok_or_else(|| {
            ConfigError::new(
                key,
                format!("expected password, email, authenticator or sms, got {name:?}"),
            )
        })?;
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    Ok(methods)
}

pub(super) fn unified_signin(src: &Source) -> Result<UnifiedSigninSettings, ConfigError> {
    let settings = UnifiedSigninSettings {
        enabled: src.flag("SECURITY_UNIFIED_SIGNIN", false)?,
        methods: us_methods(src, "SECURITY_US_ENABLED_METHODS", "password,email")?,
        mfa_required: us_methods(src, "SECURITY_US_MFA_REQUIRED", "password,email")?,
        token_validity: src.seconds_or_period("SECURITY_US_TOKEN_VALIDITY", "120 seconds")?,
        setup_within: src.seconds_or_period("SECURITY_US_SETUP_WITHIN", "30 minutes")?,
        signin_replaces_login: src.flag("SECURITY_US_SIGNIN_REPLACES_LOGIN", false)?,
        email_subject: src
            .get("SECURITY_US_EMAIL_SUBJECT")
            .unwrap_or("Verification Code")
            .to_owned(),
    };
    if settings.enabled {
        if settings.methods.is_empty() {
            return Err(ConfigError::new(
                "SECURITY_US_ENABLED_METHODS",
                "names no method while SECURITY_UNIFIED_SIGNIN is on",
            ));
        }
        let with_codes = settings.methods.iter().any(|m| *m != UsMethod::Password);
        if with_codes && src.get("SECURITY_TOTP_SECRETS").is_none() {
            return Err(ConfigError::new(
                "SECURITY_TOTP_SECRETS",
                "is not set; unified sign-in's codes need it to encrypt the stored secrets \
                 (e.g. `openssl rand -hex 32`)",
            ));
        }
    }
    for (key, value) in [
        ("SECURITY_US_TOKEN_VALIDITY", settings.token_validity),
        ("SECURITY_US_SETUP_WITHIN", settings.setup_within),
    ] {
        if value.is_zero() {
            return Err(ConfigError::new(key, "must be at least 1 second"));
        }
    }
    Ok(settings)
}
