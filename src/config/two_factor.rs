//! Two-factor sign-in and recovery codes (`SECURITY_TWO_FACTOR*`, `SECURITY_TOTP_*`,
//! `SECURITY_MULTI_FACTOR_RECOVERY_CODES*`).

use std::fmt;
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

/// `SECURITY_MULTI_FACTOR_RECOVERY_CODES_KEYS`: the Fernet keys a Flask-Security app
/// encrypted its users' recovery codes with (the first encrypted, any decrypts). Never
/// printed: `Debug` shows only how many keys there are.
#[derive(Clone)]
pub struct RecoveryCodeKeys(Vec<fernet::Fernet>);

impl RecoveryCodeKeys {
    /// The keys, in their configured order (never empty).
    pub fn fernets(&self) -> &[fernet::Fernet] {
        &self.0
    }
}

impl fmt::Debug for RecoveryCodeKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryCodeKeys([{} redacted])", self.0.len())
    }
}

const KEYS_KEY: &str = "SECURITY_MULTI_FACTOR_RECOVERY_CODES_KEYS";
const TTL_KEY: &str = "SECURITY_MULTI_FACTOR_RECOVERY_CODE_TTL";
const MAX_TTL: u64 = 100 * 365 * 86_400;

/// The keys as Flask-Security takes them: a JSON list of url-safe base64 Fernet keys
/// (`["k1", "k2"]`), or one key, or keys separated by commas (a Fernet key has none). An
/// empty value or list is "no keys", as in Flask-Security. Errors say which key (by its
/// place in the list), never its value.
fn recovery_code_keys(src: &Source) -> Result<Option<RecoveryCodeKeys>, ConfigError> {
    let Some(raw) = src.get(KEYS_KEY) else {
        return Ok(None);
    };
    let keys: Vec<String> = if raw.starts_with('[') {
        // serde_json's messages can quote the value: say what is wrong without it.
        serde_json::from_str(raw).map_err(|_| {
            ConfigError::new(
                KEYS_KEY,
                "is not a JSON list of strings (expected [\"key1\", \"key2\"], each a \
                 url-safe base64 Fernet key)",
            )
        })?
    } else {
        raw.split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let mut fernets = Vec::new();
    for (i, key) in keys.iter().map(|k| k.trim()).enumerate() {
        let fernet = fernet::Fernet::new(key).ok_or_else(|| {
            ConfigError::new(
                KEYS_KEY,
                format!(
                    "key {} of {} is not a Fernet key (32 bytes in url-safe base64, as \
                     `Fernet.generate_key()` makes); its value is not shown",
                    i + 1,
                    keys.len()
                ),
            )
        })?;
        fernets.push(fernet);
    }
    Ok((!fernets.is_empty()).then_some(RecoveryCodeKeys(fernets)))
}

/// `SECURITY_MULTI_FACTOR_RECOVERY_CODE_TTL`: whole seconds, as Flask-Security's int.
fn recovery_code_ttl(src: &Source) -> Result<Option<Duration>, ConfigError> {
    let Some(raw) = src.get(TTL_KEY) else {
        return Ok(None);
    };
    match raw.parse::<u64>() {
        Ok(0) => Err(ConfigError::new(
            TTL_KEY,
            "must be at least 1 second (leave it unset for codes that do not expire)",
        )),
        // Bounded so that a token's time plus the TTL cannot overflow.
        Ok(seconds) if seconds > MAX_TTL => Err(ConfigError::new(
            TTL_KEY,
            format!("must be at most {MAX_TTL} seconds (100 years)"),
        )),
        Ok(seconds) => Ok(Some(Duration::from_secs(seconds))),
        Err(_) => Err(ConfigError::new(
            TTL_KEY,
            format!("expected whole seconds, got {raw:?}"),
        )),
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
    /// `SECURITY_MULTI_FACTOR_RECOVERY_CODES_KEYS`: with them, codes a Flask-Security app
    /// stored encrypted (Fernet tokens) are decrypted and accepted. Latchkey's own codes stay
    /// keyed digests.
    pub recovery_codes_keys: Option<RecoveryCodeKeys>,
    /// `SECURITY_MULTI_FACTOR_RECOVERY_CODE_TTL`: a recovery code older than this is not
    /// accepted (with the keys only, as in Flask-Security): a token by its time, a digest by
    /// the time recorded beside it.
    pub recovery_code_ttl: Option<Duration>,
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
        recovery_codes_keys: recovery_code_keys(src)?,
        recovery_code_ttl: recovery_code_ttl(src)?,
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

#[cfg(test)]
mod tests {
    use super::*;

    // Made with Python's `cryptography.fernet.Fernet.generate_key()`.
    const KEY_A: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
    const KEY_B: &str = "Zy1DqV1B6Nf0IEQ7oC7PsLHvPjiTk5ifvHX4ER0J6VI=";

    fn read(value: &str) -> Result<Option<RecoveryCodeKeys>, ConfigError> {
        recovery_code_keys(&Source::from_pairs([(KEYS_KEY, value)]))
    }

    #[test]
    fn keys_are_read_as_a_json_list_one_key_or_a_comma_list() {
        let list = read(&format!(r#"["{KEY_A}", "{KEY_B}"]"#))
            .unwrap()
            .unwrap();
        assert_eq!(list.fernets().len(), 2);
        assert_eq!(read(KEY_A).unwrap().unwrap().fernets().len(), 1);
        let commas = read(&format!("{KEY_A}, {KEY_B}")).unwrap().unwrap();
        assert_eq!(commas.fernets().len(), 2);
        assert!(read("").unwrap().is_none());
        assert!(read("[]").unwrap().is_none());
        assert!(recovery_code_keys(&Source::from_pairs::<_, &str, &str>([]))
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_bad_key_is_named_by_its_place_and_never_shown() {
        let secretish = "not-a-fernet-key-but-still-secret";
        for value in [
            format!(r#"["{KEY_A}", "{secretish}"]"#),
            format!("{KEY_A},{secretish}"),
            secretish.to_owned(),
            // 31 bytes: valid base64, wrong length.
            "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlYw==".to_owned(),
            format!(r#"["{KEY_A}", 5]"#),
            format!(r#"["{secretish}""#),
        ] {
            let err = read(&value).unwrap_err();
            assert_eq!(err.key, KEYS_KEY);
            let shown = err.to_string();
            assert!(!shown.contains(secretish), "{shown}");
            assert!(!shown.contains("c2VjcmV0"), "{shown}");
            assert!(!shown.contains(KEY_A), "{shown}");
        }
        let err = read(&format!("{KEY_A},{secretish}")).unwrap_err();
        assert!(err.reason.contains("key 2 of 2"), "{}", err.reason);
    }

    #[test]
    fn keys_never_reach_debug_output() {
        let keys = read(&format!(r#"["{KEY_A}", "{KEY_B}"]"#))
            .unwrap()
            .unwrap();
        let shown = format!("{keys:?}");
        assert_eq!(shown, "RecoveryCodeKeys([2 redacted])");
        let settings = two_factor(&Source::from_pairs([(KEYS_KEY, KEY_A)]), "app").unwrap();
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains(KEY_A) && !shown.contains("cw_0x"),
            "{shown}"
        );
    }

    #[test]
    fn the_ttl_is_whole_seconds() {
        let ttl = |v: &str| recovery_code_ttl(&Source::from_pairs([(TTL_KEY, v)]));
        assert_eq!(ttl("3600").unwrap(), Some(Duration::from_secs(3600)));
        assert_eq!(ttl("").unwrap(), None);
        assert_eq!(ttl("0").unwrap_err().key, TTL_KEY);
        assert_eq!(ttl("1 hour").unwrap_err().key, TTL_KEY);
        assert_eq!(ttl("-5").unwrap_err().key, TTL_KEY);
        assert_eq!(ttl(&u64::MAX.to_string()).unwrap_err().key, TTL_KEY);
    }
}
