//! Two-factor sign-in and recovery codes (`SECURITY_TWO_FACTOR*`, `SECURITY_TOTP_*`,
//! `SECURITY_MULTI_FACTOR_RECOVERY_CODES*`).

use std::time::Duration;

use super::secret::Secret;
use super::source::{ConfigError, Source};

/// A second factor (`SECURITY_TWO_FACTOR_ENABLED_METHODS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TwoFactorMethod {
    /// A code mailed to the account's address.
    Email,
    /// A code from an authenticator app (TOTP).
    Authenticator,
    /// A code sent by text message to `tf_phone_number` (through an `SmsSender`).
    Sms,
}

impl TwoFactorMethod {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "email" => Some(Self::Email),
            "authenticator" => Some(Self::Authenticator),
            "sms" => Some(Self::Sms),
            _ => None,
        }
    }

    /// Flask-Security's name, as stored in `user.tf_primary_method`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Authenticator => "authenticator",
            Self::Sms => "sms",
        }
    }
}

/// Two-factor sign-in and recovery codes (`SECURITY_TWO_FACTOR`, …), as Flask-Security
/// names them.
#[derive(Debug, Clone)]
pub struct TwoFactorSettings {
    pub enabled: bool,
    pub methods: Vec<TwoFactorMethod>,
    /// Every user must set up a second factor (`SECURITY_TWO_FACTOR_REQUIRED`).
    pub required: bool,
    /// Users holding any of these roles must (`SECURITY_TWO_FACTOR_REQUIRED_ROLES`).
    pub required_roles: Vec<String>,
    /// `SECURITY_TOTP_SECRETS`: the keys stored TOTP secrets are encrypted with.
    pub totp_secrets: Option<Secret>,
    pub totp_issuer: String,
    /// Slack around the current step for authenticator codes.
    pub authenticator_validity: Duration,
    /// How long a mailed (or texted) code stays valid.
    pub mail_validity: Duration,
    pub sms_validity: Duration,
    /// How long a half-finished login (password proved, code pending) lives.
    pub login_within: Duration,
    /// How long a started setup waits for its first code.
    pub setup_within: Duration,
    /// Ask for the code at every login (`true`), or remember a validated browser for
    /// `login_validity` (the `tf_validity` cookie).
    pub always_validate: bool,
    pub login_validity: Duration,
    /// The `tf_validity` cookie's name and attributes.
    pub validity_cookie: super::validity_cookie::ValidityCookie,
    /// `SECURITY_MULTI_FACTOR_RECOVERY_CODES` and how many (`…_N`).
    pub recovery_codes: bool,
    pub recovery_codes_n: u32,
    /// Where "I cannot receive my code" requests go (`SECURITY_TWO_FACTOR_RESCUE_MAIL`;
    /// default `MAIL_DEFAULT_SENDER`).
    pub rescue_mail: Option<String>,
    /// `SECURITY_TWO_FACTOR_RESCUE_EMAIL`: a pending login may have a code mailed to the
    /// account's address instead (`help_setup=email`).
    pub rescue_email: bool,
    /// `SECURITY_ALLOW_SECOND_FACTORS_UNUSED`: start even though users have second factors
    /// that the configuration switched off (they then log in with the password alone).
    /// Dangerous; for a planned migration only.
    pub allow_unused_second_factors: bool,
}

pub(super) fn two_factor(src: &Source, app_name: &str) -> Result<TwoFactorSettings, ConfigError> {
    let mut methods = Vec::new();
    for name in src.list("SECURITY_TWO_FACTOR_ENABLED_METHODS", "email,authenticator") {
        let method = TwoFactorMethod::parse(&name).ok_or_else(|| {
            ConfigError::new(
                "SECURITY_TWO_FACTOR_ENABLED_METHODS",
                format!("expected email, authenticator or sms, got {name:?}"),
            )
        })?;
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    let settings = TwoFactorSettings {
        enabled: src.flag("SECURITY_TWO_FACTOR", false)?,
        methods,
        required: src.flag("SECURITY_TWO_FACTOR_REQUIRED", false)?,
        required_roles: src.list("SECURITY_TWO_FACTOR_REQUIRED_ROLES", ""),
        totp_secrets: src.get("SECURITY_TOTP_SECRETS").map(Secret::new),
        totp_issuer: src
            .get("SECURITY_TOTP_ISSUER")
            .unwrap_or(app_name)
            .to_owned(),
        authenticator_validity: src
            .seconds_or_period("SECURITY_TWO_FACTOR_AUTHENTICATOR_VALIDITY", "120 seconds")?,
        mail_validity: src.seconds_or_period("SECURITY_TWO_FACTOR_MAIL_VALIDITY", "300 seconds")?,
        sms_validity: src.seconds_or_period("SECURITY_TWO_FACTOR_SMS_VALIDITY", "120 seconds")?,
        login_within: src.seconds_or_period("SECURITY_TWO_FACTOR_LOGIN_WITHIN", "5 minutes")?,
        setup_within: src.seconds_or_period("SECURITY_TWO_FACTOR_SETUP_WITHIN", "30 minutes")?,
        always_validate: src.flag("SECURITY_TWO_FACTOR_ALWAYS_VALIDATE", true)?,
        login_validity: src.seconds_or_period("SECURITY_TWO_FACTOR_LOGIN_VALIDITY", "30 days")?,
        validity_cookie: super::validity_cookie::validity_cookie(src)?,
        recovery_codes: src.flag("SECURITY_MULTI_FACTOR_RECOVERY_CODES", false)?,
        recovery_codes_n: src.number("SECURITY_MULTI_FACTOR_RECOVERY_CODES_N", 5)?,
        rescue_mail: src
            .get("SECURITY_TWO_FACTOR_RESCUE_MAIL")
            .map(str::to_owned),
        rescue_email: src.flag("SECURITY_TWO_FACTOR_RESCUE_EMAIL", true)?,
        allow_unused_second_factors: src.flag("SECURITY_ALLOW_SECOND_FACTORS_UNUSED", false)?,
    };
    if settings.enabled {
        if settings.methods.is_empty() {
            return Err(ConfigError::new(
                "SECURITY_TWO_FACTOR_ENABLED_METHODS",
                "names no method while SECURITY_TWO_FACTOR is on",
            ));
        }
        if settings.totp_secrets.is_none() {
            return Err(ConfigError::new(
                "SECURITY_TOTP_SECRETS",
                "is not set; SECURITY_TWO_FACTOR needs it to encrypt the stored TOTP secrets \
                 (e.g. `openssl rand -hex 32`)",
            ));
        }
    }
    if !(1..=20).contains(&settings.recovery_codes_n) {
        return Err(ConfigError::new(
            "SECURITY_MULTI_FACTOR_RECOVERY_CODES_N",
            "must be between 1 and 20",
        ));
    }
    for (key, value) in [
        ("SECURITY_TWO_FACTOR_MAIL_VALIDITY", settings.mail_validity),
        ("SECURITY_TWO_FACTOR_LOGIN_WITHIN", settings.login_within),
        ("SECURITY_TWO_FACTOR_SETUP_WITHIN", settings.setup_within),
    ] {
        if value.is_zero() {
            return Err(ConfigError::new(key, "must be at least 1 second"));
        }
    }
    Ok(settings)
}
