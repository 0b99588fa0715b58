//! Settings read from the environment (and `.env`), under Flask-Security's key names.
//!
//! Everything the app needs is parsed and checked here, once, at start-up: a missing or
//! unusable setting is a [`ConfigError`] naming the key, never a panic later on.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::db::DatabaseUrl;
use crate::domain::{HashScheme, PasswordPolicy};
use crate::urls::Route;

/// A configuration problem, reported as one line naming the setting.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(key: &str, reason: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}

/// A secret string: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(\"[redacted]\")")
    }
}

/// Which Flask-Security features are switched on.
#[derive(Debug, Clone)]
pub struct Features {
    pub registerable: bool,
    pub confirmable: bool,
    pub recoverable: bool,
    pub changeable: bool,
    pub trackable: bool,
    pub username_enable: bool,
    pub username_required: bool,
    pub return_generic_responses: bool,
    pub login_without_confirmation: bool,
    pub send_register_email: bool,
}

/// Outgoing mail (Flask-Mailman's keys). `server == None` selects the development
/// transport that writes `.eml` files.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub server: Option<String>,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub use_tls: bool,
    pub use_ssl: bool,
    pub default_sender: String,
    pub timeout: Duration,
    pub outbox_dir: PathBuf,
    /// Whether the development transport logs each message's links (they carry tokens):
    /// only outside production.
    pub log_links: bool,
    /// How long mail that was given up stays in the outbox for the operator
    /// (`MAIL_OUTBOX_RETENTION`).
    pub retention: Duration,
}

/// Mail subjects, by Flask-Security's `SECURITY_EMAIL_SUBJECT_*` keys.
#[derive(Debug, Clone)]
pub struct EmailSubjects {
    pub register: String,
    pub confirm: String,
    pub password_reset: String,
    pub password_notice: String,
    pub password_change_notice: String,
    pub two_factor: String,
    pub two_factor_rescue: String,
}

/// Login throttling (ASVS 2.2.1); see `docs/throttling.md`.
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    /// Failures per account and client address (within `window`) before delays start.
    pub free_attempts: u32,
    /// The first delay; each further failure doubles it, up to `max_delay`.
    pub delay: Duration,
    pub max_delay: Duration,
    /// How long a failure counts.
    pub window: Duration,
    /// Failures per account within `window`, from all addresses together, after which only
    /// addresses the account recently logged in from may try (0: no ceiling).
    pub account_limit: u32,
    /// How long a successful login makes its address exempt from the account ceiling (and
    /// from the spraying limit, for that account).
    pub trusted_ip_for: Duration,
    /// Failures from one client address within `window`, on all accounts together, before
    /// its attempts are delayed (0: no limit): against password spraying.
    pub failures_per_ip: u32,
}

/// One limit on a mail-sending form, within [`RateLimits::window`] (0: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests from one client address, whatever the target: past it, 429.
    pub per_ip: u32,
    /// Requests for one target address from one client address: past it, the answer is as
    /// usual but no more mail is sent (a stranger's requests never use up the owner's).
    pub per_address: u32,
}

#[derive(Debug, Clone)]
pub struct RateLimits {
    pub window: Duration,
    pub register: RateLimit,
    pub reset: RateLimit,
    pub confirm: RateLimit,
    /// Unified sign-in codes by mail (`SECURITY_US_CODE_LIMIT_PER_IP`, `…_PER_ADDRESS`).
    pub signin_code: RateLimit,
    /// Confirmation links for a new address (`SECURITY_CHANGE_EMAIL_LIMIT_PER_IP`, …).
    pub change_email: RateLimit,
    /// Username reminders (`SECURITY_USERNAME_RECOVERY_LIMIT_PER_IP`, …).
    pub username_recovery: RateLimit,
    /// Mails of these forms to one address from all clients together (0: unlimited): past
    /// it, no more are sent, except to a client the account has logged in from.
    pub mailbox: u32,
    /// The sending budget of codes, rescue and help mails and texts (see
    /// `auth::sending`).
    pub send: SendLimits,
}

/// The one sending budget for every code, rescue mail and help request Latchkey sends on a
/// user's request, within [`RateLimits::window`] (each 0: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendLimits {
    /// Messages for one account (`SECURITY_SEND_LIMIT_PER_ACCOUNT`).
    pub per_account: u32,
    /// Messages to one mailbox or phone number, whatever the account
    /// (`SECURITY_SEND_LIMIT_PER_DESTINATION`).
    pub per_destination: u32,
    /// Messages asked for from one client address (`SECURITY_SEND_LIMIT_PER_IP`).
    pub per_ip: u32,
    /// Texts to numbers the account has not verified (`SECURITY_SMS_UNVERIFIED_LIMIT`).
    pub unverified_texts: u32,
}

/// Session lifetimes and re-authentication (ASVS V3).
#[derive(Debug, Clone)]
pub struct SessionPolicy {
    /// A login without "remember me" ends after this long without a request.
    pub idle_timeout: Duration,
    /// ... and this long after it was made, however active.
    pub absolute_timeout: Duration,
    /// How long after proving the password sensitive changes need no re-authentication;
    /// `None`: never ask (Flask-Security's negative `SECURITY_FRESHNESS`).
    pub freshness: Option<Duration>,
    /// Once fresh on a protected page, it stays usable this long (a form opened while fresh
    /// can still be sent).
    pub freshness_grace: Duration,
}

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
    /// `SECURITY_MULTI_FACTOR_RECOVERY_CODES` and how many (`…_N`).
    pub recovery_codes: bool,
    pub recovery_codes_n: u32,
    /// Where "I cannot receive my code" requests go (`SECURITY_TWO_FACTOR_RESCUE_MAIL`;
    /// default `MAIL_DEFAULT_SENDER`).
    pub rescue_mail: Option<String>,
    /// `SECURITY_ALLOW_SECOND_FACTORS_UNUSED`: start even though users have second factors
    /// that the configuration switched off (they then log in with the password alone).
    /// Dangerous; for a planned migration only.
    pub allow_unused_second_factors: bool,
}

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
}

/// Changing the email address or the username, and mailing a forgotten username
/// (`SECURITY_CHANGE_EMAIL`, `SECURITY_CHANGE_USERNAME`, `SECURITY_USERNAME_RECOVERY`).
#[derive(Debug, Clone)]
pub struct AccountChangeSettings {
    /// `/change-email` and `/change-email/<token>`.
    pub change_email: bool,
    /// How long the confirmation link to the new address works
    /// (`SECURITY_CHANGE_EMAIL_WITHIN`).
    pub change_email_within: Duration,
    /// How long the "this wasn't me" link mailed to the old address works
    /// (`SECURITY_CHANGE_EMAIL_REVERT_WITHIN`; Latchkey's own).
    pub change_email_revert_within: Duration,
    /// The confirmation mail's subject (`SECURITY_CHANGE_EMAIL_SUBJECT`).
    pub change_email_subject: String,
    /// The notice to the old address (`SECURITY_EMAIL_SUBJECT_CHANGE_EMAIL_NOTICE`).
    pub change_email_notice_subject: String,
    /// `/change-username`.
    pub change_username: bool,
    /// Mail a notice when the username changes (`SECURITY_SEND_USERNAME_CHANGE_EMAIL`).
    pub send_username_change_email: bool,
    /// `SECURITY_EMAIL_SUBJECT_USERNAME_CHANGE_NOTICE`.
    pub username_change_subject: String,
    /// `/recover-username`.
    pub username_recovery: bool,
    /// `SECURITY_EMAIL_SUBJECT_USERNAME_RECOVERY`.
    pub username_recovery_subject: String,
}

/// The hooks (security events, `auth::events`): how many may wait for the dispatcher, and how
/// long the stored ones are kept.
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// Events waiting for the dispatcher before new ones are dropped and counted
    /// (`SECURITY_EVENT_QUEUE`, at least 1).
    pub queue: usize,
    /// How long rows of `security_event` are kept (`SECURITY_EVENT_RETENTION`); also how far
    /// back a sign-in's device and address are looked for (new-device notice).
    pub retention: Duration,
}

/// The security notices mailed to the account's address, each switchable, with its subject.
#[derive(Debug, Clone)]
pub struct NoticeSettings {
    /// A sign-in from a device and an address not seen before
    /// (`SECURITY_SEND_NOTICE_NEW_DEVICE`).
    pub new_device: bool,
    /// Two-factor sign-in turned on, off or changed (`SECURITY_SEND_NOTICE_TWO_FACTOR`).
    pub two_factor: bool,
    /// A passkey added or removed (`SECURITY_SEND_NOTICE_PASSKEY`).
    pub passkey: bool,
    /// New recovery codes (`SECURITY_SEND_NOTICE_RECOVERY_CODES`).
    pub recovery_codes: bool,
    /// Flask-Security's `SECURITY_SEND_PASSWORD_CHANGE_EMAIL`.
    pub password_change: bool,
    /// Flask-Security's `SECURITY_SEND_PASSWORD_RESET_NOTICE_EMAIL`.
    pub password_reset: bool,
    /// `SECURITY_EMAIL_SUBJECT_NEW_DEVICE_NOTICE`.
    pub new_device_subject: String,
    /// `SECURITY_EMAIL_SUBJECT_TWO_FACTOR_NOTICE`.
    pub two_factor_subject: String,
    /// `SECURITY_EMAIL_SUBJECT_PASSKEY_NOTICE`.
    pub passkey_subject: String,
    /// `SECURITY_EMAIL_SUBJECT_RECOVERY_CODES_NOTICE`.
    pub recovery_codes_subject: String,
}

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
    /// Latchkey's own: sign up with an email and a passkey, no password
    /// (`SECURITY_WAN_REGISTER_WITHOUT_PASSWORD`, also needs `SECURITY_REGISTERABLE`).
    pub register_without_password: bool,
    /// Where a successful registration goes (`SECURITY_WAN_POST_REGISTER_VIEW`).
    pub post_register_view: String,
}

/// `APP_ENV`: production refuses development secrets and insecure cookies at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// `SECURITY_HASH_QUEUE`'s default: four waiting hashes per core (on 2 cores at bcrypt cost
/// 12, the last in line starts within about a second).
pub fn default_hash_queue() -> usize {
    4 * std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The longest `SECURITY_HASH_QUEUE` accepted.
pub const MAX_HASH_QUEUE: usize = 10_000;

/// The development values committed in `.env`: refused in production.
pub const DEV_SECRET_KEY: &str = "dev-only-secret-key-change-me-in-production-0123456789abcdef";
pub const DEV_PASSWORD_SALT: &str = "dev-only-password-salt-change-me";
/// The shortest `SECRET_KEY` production accepts (and `SECURITY_PASSWORD_SALT` should have),
/// in bytes.
pub const MIN_PRODUCTION_KEY_BYTES: usize = 32;

#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Environment,
    pub database_url: DatabaseUrl,
    /// The server's connection pool (`DATABASE_POOL_SIZE`, `DATABASE_POOL_TIMEOUT`).
    pub database_pool: crate::db::PoolOptions,
    /// How often the server sweeps what is of no use any more (`HOUSEKEEPING_INTERVAL`;
    /// `None`: never, for `0`).
    pub housekeeping_interval: Option<Duration>,
    pub secret_key: Secret,
    pub password_salt: Secret,
    pub host: String,
    pub port: u16,
    /// Origin for absolute links (mails); never taken from the request's `Host`.
    pub base_url: String,
    pub features: Features,
    pub mail: MailSettings,
    pub email_subjects: EmailSubjects,
    /// User-facing texts in the default language: the catalogue (shipped translations, the
    /// files of `SECURITY_I18N_DIRNAME`) with `SECURITY_MSG_<NAME>` replacements. A request's
    /// language is chosen per request ([`crate::messages::Messages::in_language`]).
    pub messages: crate::messages::Messages,
    /// Mail subjects that the configuration sets (`SECURITY_EMAIL_SUBJECT_*`, ...): used as
    /// given in every language. A subject left at its default is translated.
    pub explicit_subjects: std::collections::BTreeSet<String>,
    /// `SECURITY_PASSWORD_HASH`: the scheme new hashes use; others still verify and are
    /// upgraded at the next login.
    pub password_hash: HashScheme,
    pub bcrypt_rounds: u32,
    /// What a new password must satisfy (register, reset, change, CLI).
    pub password_policy: PasswordPolicy,
    /// How many password hashes may wait for a free core before logins and registrations
    /// are answered 503 (`SECURITY_HASH_QUEUE`).
    pub hash_queue: usize,
    pub cookie_secure: bool,
    /// How many reverse proxies in front of us append to `X-Forwarded-For`.
    pub trusted_proxy_count: usize,
    pub remember_for: Duration,
    pub confirm_email_within: Duration,
    pub reset_password_within: Duration,
    pub templates_dir: PathBuf,
    pub static_dir: PathBuf,
    pub app_name: String,
    pub workers: Option<usize>,
    pub login_throttle: LoginThrottle,
    pub rate_limits: RateLimits,
    pub session_policy: SessionPolicy,
    pub two_factor: TwoFactorSettings,
    pub webauthn: WebAuthnSettings,
    pub unified_signin: UnifiedSigninSettings,
    pub account_changes: AccountChangeSettings,
    pub api_tokens: ApiTokenSettings,
    /// The hooks' queue and the stored events' lifetime.
    pub events: EventSettings,
    /// Which security notices are mailed.
    pub notices: NoticeSettings,
    /// Where the development SMS sender writes text messages (`SMS_OUTBOX_DIR`).
    pub sms_outbox_dir: PathBuf,
}

/// Reads settings from a key→value source. `from_env` uses the process environment; tests
/// build the map themselves.
pub struct Source(HashMap<String, String>);

impl Source {
    pub fn from_env() -> Self {
        Self(std::env::vars().collect())
    }

    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn required(&self, key: &str) -> Result<&str, ConfigError> {
        self.get(key).ok_or_else(|| {
            ConfigError::new(
                key,
                "is not set (put it in the environment or in .env; see README.md)",
            )
        })
    }

    fn flag(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_flag(v)
                .ok_or_else(|| ConfigError::new(key, format!("expected true or false, got {v:?}"))),
        }
    }

    fn number<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ConfigError::new(key, format!("expected a whole number, got {v:?}"))),
        }
    }

    fn duration(&self, key: &str, default: &str) -> Result<Duration, ConfigError> {
        let v = self.get(key).unwrap_or(default);
        parse_duration(v).ok_or_else(|| {
            ConfigError::new(
                key,
                format!("expected a period such as \"5 days\" or \"12 hours\", got {v:?}"),
            )
        })
    }
}

pub fn parse_flag(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Flask-Security's period syntax: `"<n> <unit>"`, unit one of seconds, minutes, hours,
/// days, weeks (singular or plural).
pub fn parse_duration(v: &str) -> Option<Duration> {
    let mut parts = v.split_whitespace();
    let n: u64 = parts.next()?.parse().ok()?;
    let unit = parts.next()?.to_ascii_lowercase();
    if parts.next().is_some() {
        return None;
    }
    let seconds = match unit.trim_end_matches('s') {
        "second" => 1,
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        "week" => 604_800,
        _ => return None,
    };
    n.checked_mul(seconds).map(Duration::from_secs)
}

impl Settings {
    /// The session cookie's name: `__Host-` prefixed in production (Secure, host-only,
    /// `Path=/`), plain in development where the conformance suite expects Flask's names.
    pub fn session_cookie_name(&self) -> &'static str {
        match self.environment {
            Environment::Production => "__Host-session",
            Environment::Development => "session",
        }
    }

    pub fn remember_cookie_name(&self) -> &'static str {
        match self.environment {
            Environment::Production => "__Host-remember_token",
            Environment::Development => "remember_token",
        }
    }

    /// Reads `.env` (if present) and the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is fine; a malformed one is not.
        if let Err(e) = dotenvy::dotenv() {
            if !e.not_found() {
                return Err(ConfigError::new(".env", e.to_string()));
            }
        }
        Self::from_source(&Source::from_env())
    }

    pub fn from_source(src: &Source) -> Result<Self, ConfigError> {
        let database_url =
            DatabaseUrl::parse(src.get("DATABASE_URL").unwrap_or("instance/latchkey.db"))
                .map_err(|reason| ConfigError::new("DATABASE_URL", reason))?;
        let database_pool = database_pool(src, &database_url)?;
        let housekeeping_interval = match src.get("HOUSEKEEPING_INTERVAL").map(str::trim) {
            Some("0") => None,
            _ => {
                let every = src.duration("HOUSEKEEPING_INTERVAL", "10 minutes")?;
                // A sweep per second or faster is a busy loop, not housekeeping.
                if every < Duration::from_secs(60) {
                    return Err(ConfigError::new(
                        "HOUSEKEEPING_INTERVAL",
                        "must be at least 1 minute (or a bare 0 to switch the sweeper off)",
                    ));
                }
                Some(every)
            }
        };
        let secret_key = Secret::new(src.required("SECRET_KEY")?);
        let password_salt = Secret::new(src.required("SECURITY_PASSWORD_SALT")?);
        let host = src.get("HOST").unwrap_or("127.0.0.1").to_owned();
        let port: u16 = src.number("PORT", 8080)?;
        let base_url = match src.get("BASE_URL") {
            Some(url) => {
                let url = url.trim_end_matches('/');
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(ConfigError::new(
                        "BASE_URL",
                        format!("must start with http:// or https://, got {url:?}"),
                    ));
                }
                url.to_owned()
            }
            None => format!("http://{host}:{port}"),
        };

        let features = Features {
            registerable: src.flag("SECURITY_REGISTERABLE", true)?,
            confirmable: src.flag("SECURITY_CONFIRMABLE", false)?,
            recoverable: src.flag("SECURITY_RECOVERABLE", false)?,
            changeable: src.flag("SECURITY_CHANGEABLE", false)?,
            trackable: src.flag("SECURITY_TRACKABLE", false)?,
            username_enable: src.flag("SECURITY_USERNAME_ENABLE", false)?,
            username_required: src.flag("SECURITY_USERNAME_REQUIRED", false)?,
            return_generic_responses: src.flag("SECURITY_RETURN_GENERIC_RESPONSES", false)?,
            login_without_confirmation: src.flag("SECURITY_LOGIN_WITHOUT_CONFIRMATION", false)?,
            send_register_email: src.flag("SECURITY_SEND_REGISTER_EMAIL", true)?,
        };

        check_generic_responses(&features)?;

        let mut mail = MailSettings {
            server: src.get("MAIL_SERVER").map(str::to_owned),
            port: src.number("MAIL_PORT", 25)?,
            username: src.get("MAIL_USERNAME").map(str::to_owned),
            password: src.get("MAIL_PASSWORD").map(Secret::new),
            use_tls: src.flag("MAIL_USE_TLS", false)?,
            use_ssl: src.flag("MAIL_USE_SSL", false)?,
            default_sender: src
                .get("MAIL_DEFAULT_SENDER")
                .unwrap_or("no-reply@localhost")
                .to_owned(),
            timeout: Duration::from_secs(src.number("MAIL_TIMEOUT", 10)?),
            outbox_dir: PathBuf::from(src.get("MAIL_OUTBOX_DIR").unwrap_or("instance/mail")),
            log_links: true,
            retention: src.duration("MAIL_OUTBOX_RETENTION", "7 days")?,
        };
        if mail.use_tls && mail.use_ssl {
            return Err(ConfigError::new(
                "MAIL_USE_SSL",
                "MAIL_USE_TLS and MAIL_USE_SSL cannot both be true",
            ));
        }

        let subject = |key: &str, default: &str| src.get(key).unwrap_or(default).to_owned();
        let email_subjects = EmailSubjects {
            register: subject("SECURITY_EMAIL_SUBJECT_REGISTER", "Welcome"),
            confirm: subject(
                "SECURITY_EMAIL_SUBJECT_CONFIRM",
                "Please confirm your email",
            ),
            password_reset: subject(
                "SECURITY_EMAIL_SUBJECT_PASSWORD_RESET",
                "Password reset instructions",
            ),
            password_notice: subject(
                "SECURITY_EMAIL_SUBJECT_PASSWORD_NOTICE",
                "Your password has been reset",
            ),
            password_change_notice: subject(
                "SECURITY_EMAIL_SUBJECT_PASSWORD_CHANGE_NOTICE",
                "Your password has been changed",
            ),
            two_factor: subject("SECURITY_EMAIL_SUBJECT_TWO_FACTOR", "Two-Factor Login"),
            two_factor_rescue: subject(
                "SECURITY_EMAIL_SUBJECT_TWO_FACTOR_RESCUE",
                "Two-Factor Rescue",
            ),
        };

        let bcrypt_rounds: u32 = src.number("SECURITY_BCRYPT_ROUNDS", 12)?;
        if !(4..=31).contains(&bcrypt_rounds) {
            return Err(ConfigError::new(
                "SECURITY_BCRYPT_ROUNDS",
                format!("must be between 4 and 31, got {bcrypt_rounds}"),
            ));
        }
        let password_hash = match src.get("SECURITY_PASSWORD_HASH") {
            None => HashScheme::Bcrypt,
            Some(v) => HashScheme::parse(v).ok_or_else(|| {
                ConfigError::new(
                    "SECURITY_PASSWORD_HASH",
                    format!("expected bcrypt or argon2, got {v:?}"),
                )
            })?,
        };
        let password_policy = password_policy(src)?;
        let hash_queue: usize = src.number("SECURITY_HASH_QUEUE", default_hash_queue())?;
        if hash_queue > MAX_HASH_QUEUE {
            return Err(ConfigError::new(
                "SECURITY_HASH_QUEUE",
                format!("must be at most {MAX_HASH_QUEUE} (each waiting login holds a request open), got {hash_queue}"),
            ));
        }

        let workers = match src.get("WORKERS") {
            None => None,
            Some(_) => Some(src.number("WORKERS", 1usize)?.max(1)),
        };

        let environment = match src.get("APP_ENV").map(str::to_ascii_lowercase).as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                return Err(ConfigError::new(
                    "APP_ENV",
                    format!("expected development or production, got {other:?}"),
                ))
            }
        };
        mail.log_links = environment == Environment::Development;
        let cookie_secure = src.flag("SESSION_COOKIE_SECURE", false)?;
        if environment == Environment::Production {
            check_production(&secret_key, &password_salt, cookie_secure)?;
        }

        let app_name = src.get("APP_NAME").unwrap_or("Latchkey").to_owned();
        let webauthn = webauthn(src, &app_name, &base_url, environment)?;
        let unified_signin = unified_signin(src)?;
        let account_changes = account_changes(src, &features)?;
        let api_tokens = api_tokens(src)?;
        Ok(Settings {
            environment,
            database_url,
            database_pool,
            housekeeping_interval,
            secret_key,
            password_salt,
            host,
            port,
            base_url,
            features,
            mail,
            email_subjects,
            messages: messages(src)?,
            explicit_subjects: SUBJECT_KEYS
                .iter()
                .filter_map(|key| src.get(key))
                .map(str::to_owned)
                .collect(),
            password_hash,
            bcrypt_rounds,
            password_policy,
            hash_queue,
            cookie_secure,
            trusted_proxy_count: src.number("TRUSTED_PROXY_COUNT", 0)?,
            remember_for: src.duration("REMEMBER_COOKIE_DURATION", "365 days")?,
            confirm_email_within: src.duration("SECURITY_CONFIRM_EMAIL_WITHIN", "5 days")?,
            reset_password_within: src.duration("SECURITY_RESET_PASSWORD_WITHIN", "1 days")?,
            templates_dir: PathBuf::from(src.get("SECURITY_TEMPLATES_DIR").unwrap_or("templates")),
            static_dir: PathBuf::from(src.get("STATIC_DIR").unwrap_or("static")),
            two_factor: two_factor(src, &app_name)?,
            webauthn,
            unified_signin,
            account_changes,
            api_tokens,
            events: events(src)?,
            notices: notices(src)?,
            sms_outbox_dir: PathBuf::from(src.get("SMS_OUTBOX_DIR").unwrap_or("instance/sms")),
            app_name,
            workers,
            login_throttle: login_throttle(src)?,
            rate_limits: RateLimits {
                window: src.duration("SECURITY_RATE_LIMIT_WINDOW", "1 hours")?,
                register: rate_limit(src, "REGISTER", 100, 3)?,
                reset: rate_limit(src, "RESET", 50, 5)?,
                confirm: rate_limit(src, "CONFIRM", 50, 5)?,
                signin_code: rate_limit(src, "US_CODE", 50, 5)?,
                change_email: rate_limit(src, "CHANGE_EMAIL", 20, 3)?,
                username_recovery: rate_limit(src, "USERNAME_RECOVERY", 50, 5)?,
                mailbox: src.number("SECURITY_MAILBOX_LIMIT", 10)?,
                send: SendLimits {
                    per_account: src.number("SECURITY_SEND_LIMIT_PER_ACCOUNT", 10)?,
                    per_destination: src.number("SECURITY_SEND_LIMIT_PER_DESTINATION", 10)?,
                    per_ip: src.number("SECURITY_SEND_LIMIT_PER_IP", 50)?,
                    unverified_texts: src.number("SECURITY_SMS_UNVERIFIED_LIMIT", 3)?,
                },
            },
            session_policy: session_policy(src)?,
        })
    }
}

/// `SECURITY_PASSWORD_LENGTH_MIN`, `SECURITY_PASSWORD_COMPLEXITY_CHECKER`,
/// `SECURITY_ZXCVBN_MINIMUM_SCORE` and `SECURITY_PASSWORD_CHECK_BREACHED`.
fn password_policy(src: &Source) -> Result<PasswordPolicy, ConfigError> {
    let defaults = PasswordPolicy::default();
    let min_length: usize = src.number("SECURITY_PASSWORD_LENGTH_MIN", defaults.min_length)?;
    if !(1..=defaults.max_length).contains(&min_length) {
        return Err(ConfigError::new(
            "SECURITY_PASSWORD_LENGTH_MIN",
            format!("must be between 1 and {}", defaults.max_length),
        ));
    }
    let min_score: u8 = src.number("SECURITY_ZXCVBN_MINIMUM_SCORE", 3)?;
    if min_score > 4 {
        return Err(ConfigError::new(
            "SECURITY_ZXCVBN_MINIMUM_SCORE",
            format!("must be between 0 and 4 (zxcvbn's scores), got {min_score}"),
        ));
    }
    let zxcvbn_min_score = match src
        .get("SECURITY_PASSWORD_COMPLEXITY_CHECKER")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("none") => None,
        Some("zxcvbn") => Some(min_score),
        Some(other) => {
            return Err(ConfigError::new(
                "SECURITY_PASSWORD_COMPLEXITY_CHECKER",
                format!("expected zxcvbn (or unset), got {other:?}"),
            ))
        }
    };
    let check_breached = match src
        .get("SECURITY_PASSWORD_CHECK_BREACHED")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None => false,
        Some("offline") => true,
        // Flask-Security's values ask HaveIBeenPwned over the network, which Latchkey
        // does not do: say so rather than silently checking less than asked.
        Some(v @ ("strict" | "best-effort")) => {
            return Err(ConfigError::new(
                "SECURITY_PASSWORD_CHECK_BREACHED",
                format!(
                    "{v:?} is Flask-Security's online HaveIBeenPwned check, which Latchkey \
                     does not offer; use offline (the list shipped with Latchkey) or false"
                ),
            ))
        }
        Some(v) => match parse_flag(v) {
            Some(false) => false,
            _ => {
                return Err(ConfigError::new(
                    "SECURITY_PASSWORD_CHECK_BREACHED",
                    format!("expected offline or false, got {v:?}"),
                ))
            }
        },
    };
    Ok(PasswordPolicy {
        min_length,
        zxcvbn_min_score,
        check_breached,
        ..defaults
    })
}

fn login_throttle(src: &Source) -> Result<LoginThrottle, ConfigError> {
    let throttle = LoginThrottle {
        free_attempts: src.number("SECURITY_LOGIN_FREE_ATTEMPTS", 5)?,
        delay: src.duration("SECURITY_LOGIN_DELAY", "1 seconds")?,
        max_delay: src.duration("SECURITY_LOGIN_MAX_DELAY", "15 minutes")?,
        window: src.duration("SECURITY_LOGIN_WINDOW", "1 hours")?,
        account_limit: src.number("SECURITY_LOGIN_ACCOUNT_LIMIT", 30)?,
        trusted_ip_for: src.duration("SECURITY_LOGIN_TRUSTED_IP_FOR", "30 days")?,
        failures_per_ip: src.number("SECURITY_LOGIN_FAILURES_PER_IP", 20)?,
    };
    if throttle.delay.is_zero() {
        return Err(ConfigError::new(
            "SECURITY_LOGIN_DELAY",
            "must be at least 1 second",
        ));
    }
    if throttle.max_delay < throttle.delay {
        return Err(ConfigError::new(
            "SECURITY_LOGIN_MAX_DELAY",
            "must not be shorter than SECURITY_LOGIN_DELAY",
        ));
    }
    if throttle.window.is_zero() || throttle.window > Duration::from_secs(7 * 86_400) {
        return Err(ConfigError::new(
            "SECURITY_LOGIN_WINDOW",
            "must be between 1 second and 7 days",
        ));
    }
    // That one address alone can never reach the ceiling is the throttle's own rule,
    // checked when the services start (`auth::throttle::check_policy`).
    Ok(throttle)
}

fn rate_limit(
    src: &Source,
    name: &str,
    per_ip: u32,
    per_address: u32,
) -> Result<RateLimit, ConfigError> {
    Ok(RateLimit {
        per_ip: src.number(&format!("SECURITY_{name}_LIMIT_PER_IP"), per_ip)?,
        per_address: src.number(&format!("SECURITY_{name}_LIMIT_PER_ADDRESS"), per_address)?,
    })
}

/// Flask-Security gives some periods as whole seconds (`SECURITY_TWO_FACTOR_MAIL_VALIDITY =
/// 300`): a bare number is seconds, anything else a period ("5 minutes").
fn seconds_or_period(src: &Source, key: &str, default: &str) -> Result<Duration, ConfigError> {
    match src.get(key) {
        Some(v) if v.chars().all(|c| c.is_ascii_digit()) => v
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| ConfigError::new(key, format!("expected seconds, got {v:?}"))),
        _ => src.duration(key, default),
    }
}

fn two_factor(src: &Source, app_name: &str) -> Result<TwoFactorSettings, ConfigError> {
    let list = |key: &str, default: &str| -> Vec<String> {
        src.get(key)
            .unwrap_or(default)
            .split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    };
    let mut methods = Vec::new();
    for name in list("SECURITY_TWO_FACTOR_ENABLED_METHODS", "email,authenticator") {
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
        required_roles: list("SECURITY_TWO_FACTOR_REQUIRED_ROLES", ""),
        totp_secrets: src.get("SECURITY_TOTP_SECRETS").map(Secret::new),
        totp_issuer: src
            .get("SECURITY_TOTP_ISSUER")
            .unwrap_or(app_name)
            .to_owned(),
        authenticator_validity: seconds_or_period(
            src,
            "SECURITY_TWO_FACTOR_AUTHENTICATOR_VALIDITY",
            "120 seconds",
        )?,
        mail_validity: seconds_or_period(src, "SECURITY_TWO_FACTOR_MAIL_VALIDITY", "300 seconds")?,
        sms_validity: seconds_or_period(src, "SECURITY_TWO_FACTOR_SMS_VALIDITY", "120 seconds")?,
        login_within: seconds_or_period(src, "SECURITY_TWO_FACTOR_LOGIN_WITHIN", "5 minutes")?,
        setup_within: seconds_or_period(src, "SECURITY_TWO_FACTOR_SETUP_WITHIN", "30 minutes")?,
        always_validate: src.flag("SECURITY_TWO_FACTOR_ALWAYS_VALIDATE", true)?,
        login_validity: seconds_or_period(src, "SECURITY_TWO_FACTOR_LOGIN_VALIDITY", "30 days")?,
        recovery_codes: src.flag("SECURITY_MULTI_FACTOR_RECOVERY_CODES", false)?,
        recovery_codes_n: src.number("SECURITY_MULTI_FACTOR_RECOVERY_CODES_N", 5)?,
        rescue_mail: src
            .get("SECURITY_TWO_FACTOR_RESCUE_MAIL")
            .map(str::to_owned),
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

/// `DATABASE_POOL_SIZE` (default 8 on SQLite, 10 on PostgreSQL) and
/// `DATABASE_POOL_TIMEOUT` (how long a request waits for a free connection; default 5 s).
fn database_pool(src: &Source, url: &DatabaseUrl) -> Result<crate::db::PoolOptions, ConfigError> {
    let defaults = crate::db::PoolOptions::server(url);
    let max_size: u32 = src.number("DATABASE_POOL_SIZE", defaults.max_size)?;
    if !(1..=MAX_POOL_SIZE).contains(&max_size) {
        return Err(ConfigError::new(
            "DATABASE_POOL_SIZE",
            format!("must be between 1 and {MAX_POOL_SIZE}, got {max_size}"),
        ));
    }
    let timeout = seconds_or_period(src, "DATABASE_POOL_TIMEOUT", "5 seconds")?;
    if timeout < Duration::from_secs(1) || timeout > Duration::from_secs(120) {
        return Err(ConfigError::new(
            "DATABASE_POOL_TIMEOUT",
            format!("must be between 1 and 120 seconds, got {timeout:?}"),
        ));
    }
    Ok(crate::db::PoolOptions {
        max_size,
        min_idle: defaults.min_idle.min(max_size),
        connection_timeout: timeout,
    })
}

/// The largest `DATABASE_POOL_SIZE` accepted (PostgreSQL's default `max_connections` is
/// 100, shared by every instance).
pub const MAX_POOL_SIZE: u32 = 500;

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

fn api_tokens(src: &Source) -> Result<ApiTokenSettings, ConfigError> {
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
    let refresh_cookie_name = match src.0.get("SECURITY_REFRESH_TOKEN_COOKIE_NAME") {
        Some(v) if v.trim().is_empty() => None,
        _ => Some(named("SECURITY_REFRESH_TOKEN_COOKIE_NAME", "fs_refresh")?),
    };
    Ok(ApiTokenSettings {
        enabled: enabled.iter().any(|m| m == "token"),
        header: named(
            "SECURITY_TOKEN_AUTHENTICATION_HEADER",
            "Authentication-Token",
        )?,
        query_key: named("SECURITY_TOKEN_AUTHENTICATION_KEY", "auth_token")?,
        max_age: seconds_or_period(src, "SECURITY_TOKEN_MAX_AGE", "15 minutes")?,
        csrf_for_tokens: csrf.iter().any(|m| m == "token"),
        csrf_ignore_unauthenticated: src.flag("SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS", false)?,
        refresh: src.flag("SECURITY_REFRESH_TOKEN", false)?,
        refresh_max_age: seconds_or_period(src, "SECURITY_REFRESH_TOKEN_MAX_AGE", "90 days")?,
        refresh_max_idle: seconds_or_period(src, "SECURITY_REFRESH_TOKEN_MAX_IDLE", "7 days")?,
        refresh_cookie_name,
    })
}

fn events(src: &Source) -> Result<EventSettings, ConfigError> {
    let queue = src.number("SECURITY_EVENT_QUEUE", 1024usize)?;
    if queue == 0 {
        return Err(ConfigError::new(
            "SECURITY_EVENT_QUEUE",
            "must be at least 1 (events beyond it are dropped, never waited for)",
        ));
    }
    Ok(EventSettings {
        queue,
        retention: src.duration("SECURITY_EVENT_RETENTION", "90 days")?,
    })
}

fn notices(src: &Source) -> Result<NoticeSettings, ConfigError> {
    let subject = |key: &str, default: &str| src.get(key).unwrap_or(default).to_owned();
    Ok(NoticeSettings {
        // Latchkey's own notices are opt-in (as django-allauth's): Flask-Security sends
        // none of them, and an app moving over should not surprise its users with new mail.
        new_device: src.flag("SECURITY_SEND_NOTICE_NEW_DEVICE", false)?,
        two_factor: src.flag("SECURITY_SEND_NOTICE_TWO_FACTOR", false)?,
        passkey: src.flag("SECURITY_SEND_NOTICE_PASSKEY", false)?,
        recovery_codes: src.flag("SECURITY_SEND_NOTICE_RECOVERY_CODES", false)?,
        password_change: src.flag("SECURITY_SEND_PASSWORD_CHANGE_EMAIL", true)?,
        password_reset: src.flag("SECURITY_SEND_PASSWORD_RESET_NOTICE_EMAIL", true)?,
        new_device_subject: subject(
            "SECURITY_EMAIL_SUBJECT_NEW_DEVICE_NOTICE",
            "New sign-in to your account",
        ),
        two_factor_subject: subject(
            "SECURITY_EMAIL_SUBJECT_TWO_FACTOR_NOTICE",
            "Your two-factor sign-in has changed",
        ),
        passkey_subject: subject(
            "SECURITY_EMAIL_SUBJECT_PASSKEY_NOTICE",
            "Your passkeys have changed",
        ),
        recovery_codes_subject: subject(
            "SECURITY_EMAIL_SUBJECT_RECOVERY_CODES_NOTICE",
            "New recovery codes were generated",
        ),
    })
}

/// The keys of mail subjects. One left unset is Flask-Security's English subject, which is
/// translated into the mail's language; one that is set is used as given.
const SUBJECT_KEYS: &[&str] = &[
    "SECURITY_EMAIL_SUBJECT_REGISTER",
    "SECURITY_EMAIL_SUBJECT_CONFIRM",
    "SECURITY_EMAIL_SUBJECT_PASSWORD_RESET",
    "SECURITY_EMAIL_SUBJECT_PASSWORD_NOTICE",
    "SECURITY_EMAIL_SUBJECT_PASSWORD_CHANGE_NOTICE",
    "SECURITY_EMAIL_SUBJECT_TWO_FACTOR",
    "SECURITY_EMAIL_SUBJECT_TWO_FACTOR_RESCUE",
    "SECURITY_US_EMAIL_SUBJECT",
    "SECURITY_CHANGE_EMAIL_SUBJECT",
    "SECURITY_EMAIL_SUBJECT_CHANGE_EMAIL_NOTICE",
    "SECURITY_EMAIL_SUBJECT_USERNAME_CHANGE_NOTICE",
    "SECURITY_EMAIL_SUBJECT_USERNAME_RECOVERY",
    "SECURITY_EMAIL_SUBJECT_NEW_DEVICE_NOTICE",
    "SECURITY_EMAIL_SUBJECT_TWO_FACTOR_NOTICE",
    "SECURITY_EMAIL_SUBJECT_PASSKEY_NOTICE",
    "SECURITY_EMAIL_SUBJECT_RECOVERY_CODES_NOTICE",
];

/// The catalogue: shipped translations, then the gettext files of `SECURITY_I18N_DIRNAME`
/// (folders separated by `;`, Flask's layout `<dir>/<lang>/LC_MESSAGES/<domain>.mo|.po`,
/// domain `SECURITY_I18N_DOMAIN`), then `SECURITY_MSG_<NAME>` replacements over all of them;
/// `BABEL_DEFAULT_LOCALE` is the language of requests that ask for none the catalogue has.
fn messages(src: &Source) -> Result<crate::messages::Messages, ConfigError> {
    use crate::messages::{Lang, Messages};
    let dirs: Vec<PathBuf> = src
        .get("SECURITY_I18N_DIRNAME")
        .unwrap_or("builtin")
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .collect();
    let domain = src.get("SECURITY_I18N_DOMAIN").unwrap_or("flask_security");
    if domain.is_empty() || domain.contains(['/', '\\']) || domain.starts_with('.') {
        return Err(ConfigError::new(
            "SECURITY_I18N_DOMAIN",
            format!("expected a file name without extension, got {domain:?}"),
        ));
    }
    let default_lang = match src.get("BABEL_DEFAULT_LOCALE") {
        None => Lang::english(),
        Some(raw) => Lang::parse(raw).ok_or_else(|| {
            ConfigError::new(
                "BABEL_DEFAULT_LOCALE",
                format!("expected a language tag such as en or de_DE, got {raw:?}"),
            )
        })?,
    };
    let messages = Messages::with_overrides(|key| src.get(key))
        .map_err(|e| ConfigError::new(&e.key, e.reason))?
        .with_translation_dirs(&dirs, domain)
        .map_err(|e| ConfigError::new("SECURITY_I18N_DIRNAME", e.to_string()))?;
    let languages = messages.languages();
    // `de_DE` where the catalogue has `de`: its language.
    let default_lang = match Lang::parse(default_lang.primary()) {
        Some(primary) if !languages.contains(&default_lang) && languages.contains(&primary) => {
            primary
        }
        _ => default_lang,
    };
    if !languages.contains(&default_lang) {
        return Err(ConfigError::new(
            "BABEL_DEFAULT_LOCALE",
            format!(
                "no translation for {default_lang} (neither shipped nor in SECURITY_I18N_DIRNAME)"
            ),
        ));
    }
    Ok(messages.with_default_language(default_lang))
}

fn account_changes(
    src: &Source,
    features: &Features,
) -> Result<AccountChangeSettings, ConfigError> {
    let subject = |key: &str, default: &str| src.get(key).unwrap_or(default).to_owned();
    let settings = AccountChangeSettings {
        change_email: src.flag("SECURITY_CHANGE_EMAIL", false)?,
        change_email_within: src.duration("SECURITY_CHANGE_EMAIL_WITHIN", "2 hours")?,
        change_email_revert_within: src
            .duration("SECURITY_CHANGE_EMAIL_REVERT_WITHIN", "7 days")?,
        change_email_subject: subject(
            "SECURITY_CHANGE_EMAIL_SUBJECT",
            "Confirm your new email address",
        ),
        change_email_notice_subject: subject(
            "SECURITY_EMAIL_SUBJECT_CHANGE_EMAIL_NOTICE",
            "Your email address has been changed",
        ),
        change_username: src.flag("SECURITY_CHANGE_USERNAME", false)?,
        send_username_change_email: src.flag("SECURITY_SEND_USERNAME_CHANGE_EMAIL", true)?,
        username_change_subject: subject(
            "SECURITY_EMAIL_SUBJECT_USERNAME_CHANGE_NOTICE",
            "Your username has been changed",
        ),
        username_recovery: src.flag("SECURITY_USERNAME_RECOVERY", false)?,
        username_recovery_subject: subject(
            "SECURITY_EMAIL_SUBJECT_USERNAME_RECOVERY",
            "Your requested username",
        ),
    };
    // As Flask-Security: both need usernames; silently serving neither would hide a typo.
    for (key, on) in [
        ("SECURITY_CHANGE_USERNAME", settings.change_username),
        ("SECURITY_USERNAME_RECOVERY", settings.username_recovery),
    ] {
        if on && !features.username_enable {
            return Err(ConfigError::new(
                key,
                "needs SECURITY_USERNAME_ENABLE=true (accounts have no username otherwise)",
            ));
        }
    }
    Ok(settings)
}

fn unified_signin(src: &Source) -> Result<UnifiedSigninSettings, ConfigError> {
    let settings = UnifiedSigninSettings {
        enabled: src.flag("SECURITY_UNIFIED_SIGNIN", false)?,
        methods: us_methods(src, "SECURITY_US_ENABLED_METHODS", "password,email")?,
        mfa_required: us_methods(src, "SECURITY_US_MFA_REQUIRED", "password,email")?,
        token_validity: seconds_or_period(src, "SECURITY_US_TOKEN_VALIDITY", "120 seconds")?,
        setup_within: seconds_or_period(src, "SECURITY_US_SETUP_WITHIN", "30 minutes")?,
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

/// Milliseconds, as Flask-Security's `SECURITY_WAN_*_TIMEOUT`.
fn milliseconds(src: &Source, key: &str, default: u64) -> Result<Duration, ConfigError> {
    let ms: u64 = src.number(key, default)?;
    if !(1_000..=600_000).contains(&ms) {
        return Err(ConfigError::new(
            key,
            "must be between 1000 and 600000 (milliseconds)",
        ));
    }
    Ok(Duration::from_millis(ms))
}

fn webauthn(
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
        register_timeout: milliseconds(src, "SECURITY_WAN_REGISTER_TIMEOUT", 60_000)?,
        signin_timeout: milliseconds(src, "SECURITY_WAN_SIGNIN_TIMEOUT", 60_000)?,
        register_within: seconds_or_period(src, "SECURITY_WAN_REGISTER_WITHIN", "30 minutes")?,
        signin_within: seconds_or_period(src, "SECURITY_WAN_SIGNIN_WITHIN", "1 minutes")?,
        name_max_length: src.number("SECURITY_WAN_NAME_MAX_LENGTH", 64)?,
        register_without_password: src.flag("SECURITY_WAN_REGISTER_WITHOUT_PASSWORD", false)?,
        post_register_view: src
            .get("SECURITY_WAN_POST_REGISTER_VIEW")
            .unwrap_or(Route::WanRegister.path())
            .to_owned(),
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

fn session_policy(src: &Source) -> Result<SessionPolicy, ConfigError> {
    let freshness = match src.get("SECURITY_FRESHNESS") {
        Some(v) if v.starts_with('-') || v.eq_ignore_ascii_case("never") => None,
        _ => Some(src.duration("SECURITY_FRESHNESS", "24 hours")?),
    };
    let policy = SessionPolicy {
        idle_timeout: src.duration("SECURITY_SESSION_IDLE_TIMEOUT", "30 minutes")?,
        absolute_timeout: src.duration("SECURITY_SESSION_ABSOLUTE_TIMEOUT", "12 hours")?,
        freshness,
        freshness_grace: src.duration("SECURITY_FRESHNESS_GRACE_PERIOD", "1 hours")?,
    };
    for (key, value) in [
        ("SECURITY_SESSION_IDLE_TIMEOUT", policy.idle_timeout),
        ("SECURITY_SESSION_ABSOLUTE_TIMEOUT", policy.absolute_timeout),
    ] {
        if value.is_zero() {
            return Err(ConfigError::new(key, "must be at least 1 second"));
        }
    }
    Ok(policy)
}

/// Generic responses promise that no answer tells whether an account exists. Registration
/// that logs a new account in at once cannot keep it: a new email gets a session, a taken
/// one cannot. Refused at start-up instead of leaking.
fn check_generic_responses(features: &Features) -> Result<(), ConfigError> {
    let logs_new_accounts_in = !features.confirmable || features.login_without_confirmation;
    if features.return_generic_responses && features.registerable && logs_new_accounts_in {
        return Err(ConfigError::new(
            "SECURITY_RETURN_GENERIC_RESPONSES",
            "cannot be kept while registration logs new accounts in (a new email would get a \
             session, a taken one not): set SECURITY_CONFIRMABLE=true and \
             SECURITY_LOGIN_WITHOUT_CONFIRMATION=false, or SECURITY_REGISTERABLE=false",
        ));
    }
    Ok(())
}

/// What `APP_ENV=production` refuses, each naming the setting to fix.
fn check_production(
    secret_key: &Secret,
    password_salt: &Secret,
    cookie_secure: bool,
) -> Result<(), ConfigError> {
    const HOW: &str = "generate one with `openssl rand -hex 32`";
    for (key, value, dev) in [
        ("SECRET_KEY", secret_key, DEV_SECRET_KEY),
        ("SECURITY_PASSWORD_SALT", password_salt, DEV_PASSWORD_SALT),
    ] {
        if value.expose() == dev {
            return Err(ConfigError::new(
                key,
                format!(
                    "is the development value committed in .env; APP_ENV=production needs \
                     a secret of its own ({HOW})"
                ),
            ));
        }
        let len = value.expose().len();
        if len >= MIN_PRODUCTION_KEY_BYTES {
            continue;
        }
        // The salt keys every stored password hash: a database adopted from Flask keeps
        // its salt whatever its length, so a short one is only worth a warning.
        if key == "SECURITY_PASSWORD_SALT" {
            tracing::warn!(
                "SECURITY_PASSWORD_SALT is {len} bytes long; new deployments should use at \
                 least {MIN_PRODUCTION_KEY_BYTES} ({HOW})"
            );
            continue;
        }
        return Err(ConfigError::new(
            key,
            format!(
                "is {len} bytes long; APP_ENV=production needs at least \
                 {MIN_PRODUCTION_KEY_BYTES} ({HOW})"
            ),
        ));
    }
    if !cookie_secure {
        return Err(ConfigError::new(
            "SESSION_COOKIE_SECURE",
            "must be true when APP_ENV=production (cookies only over HTTPS)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![
            ("SECRET_KEY", "a-development-secret-key-of-enough-length"),
            ("SECURITY_PASSWORD_SALT", "salt"),
            ("DATABASE_URL", "test.db"),
        ]
    }

    #[test]
    fn the_pool_and_housekeeping_settings_have_defaults_and_limits() {
        let s = Settings::from_source(&Source::from_pairs(minimal())).unwrap();
        assert_eq!(s.database_pool.max_size, 8, "SQLite's default");
        assert_eq!(s.database_pool.connection_timeout, Duration::from_secs(5));
        assert_eq!(s.housekeeping_interval, Some(Duration::from_secs(600)));
        assert_eq!(s.mail.retention, Duration::from_secs(7 * 86_400));
        let set = |key: &'static str, value: &'static str| {
            let mut pairs = minimal();
            pairs.push((key, value));
            Settings::from_source(&Source::from_pairs(pairs))
        };
        let s = set("DATABASE_POOL_SIZE", "32").unwrap();
        assert_eq!(s.database_pool.max_size, 32);
        assert_eq!(
            set("DATABASE_POOL_TIMEOUT", "2")
                .unwrap()
                .database_pool
                .connection_timeout,
            Duration::from_secs(2)
        );
        assert_eq!(
            set("HOUSEKEEPING_INTERVAL", "0")
                .unwrap()
                .housekeeping_interval,
            None
        );
        for (key, value) in [
            ("DATABASE_POOL_SIZE", "0"),
            ("DATABASE_POOL_SIZE", "501"),
            ("DATABASE_POOL_SIZE", "many"),
            ("DATABASE_POOL_TIMEOUT", "0"),
            ("DATABASE_POOL_TIMEOUT", "121"),
            ("HOUSEKEEPING_INTERVAL", "often"),
            ("MAIL_OUTBOX_RETENTION", "forever"),
        ] {
            let err = set(key, value).unwrap_err();
            assert_eq!(err.key, key, "{value}: {err}");
        }
    }

    #[test]
    fn a_housekeeping_interval_that_would_busy_loop_is_refused() {
        let set = |value: &'static str| {
            let mut pairs = minimal();
            pairs.push(("HOUSEKEEPING_INTERVAL", value));
            Settings::from_source(&Source::from_pairs(pairs))
        };
        // Only a bare 0 switches the sweeper off; "0 seconds" once made it sweep in a loop.
        for value in ["0 seconds", "0 minutes", "1 seconds", "59 seconds"] {
            let err = set(value).map(|s| s.housekeeping_interval).unwrap_err();
            assert_eq!(err.key, "HOUSEKEEPING_INTERVAL", "{value}: {err}");
            assert!(err.reason.contains("at least 1 minute"), "{value}: {err}");
        }
        assert_eq!(set("0").unwrap().housekeeping_interval, None);
        assert_eq!(
            set("1 minutes").unwrap().housekeeping_interval,
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn missing_secret_key_names_the_setting() {
        let src = Source::from_pairs([("SECURITY_PASSWORD_SALT", "s")]);
        let err = Settings::from_source(&src).unwrap_err();
        assert_eq!(err.key, "SECRET_KEY");
        assert!(err.to_string().starts_with("SECRET_KEY: is not set"));
    }

    #[test]
    fn flags_accept_flask_spellings_and_refuse_others() {
        let mut pairs = minimal();
        pairs.push(("SECURITY_CONFIRMABLE", "True"));
        let s = Settings::from_source(&Source::from_pairs(pairs.clone())).unwrap();
        assert!(s.features.confirmable);
        assert!(s.features.registerable, "registerable defaults to on");
        pairs.push(("SECURITY_TRACKABLE", "maybe"));
        let err = Settings::from_source(&Source::from_pairs(pairs)).unwrap_err();
        assert_eq!(err.key, "SECURITY_TRACKABLE");
    }

    #[test]
    fn base_url_defaults_to_listen_address() {
        let mut pairs = minimal();
        pairs.push(("PORT", "9001"));
        let s = Settings::from_source(&Source::from_pairs(pairs)).unwrap();
        assert_eq!(s.base_url, "http://127.0.0.1:9001");
    }

    #[test]
    fn bad_port_is_a_clear_error() {
        let mut pairs = minimal();
        pairs.push(("PORT", "eighty"));
        let err = Settings::from_source(&Source::from_pairs(pairs)).unwrap_err();
        assert_eq!(err.key, "PORT");
    }

    #[test]
    fn hash_queue_defaults_to_a_few_per_core_and_is_bounded() {
        let s = Settings::from_source(&Source::from_pairs(minimal())).unwrap();
        assert_eq!(s.hash_queue, default_hash_queue());
        assert!(s.hash_queue >= 4);
        let mut pairs = minimal();
        pairs.push(("SECURITY_HASH_QUEUE", "0"));
        let s = Settings::from_source(&Source::from_pairs(pairs.clone())).unwrap();
        assert_eq!(s.hash_queue, 0, "0: nobody waits");
        for bad in ["-1", "many", "10001"] {
            let mut pairs = minimal();
            pairs.push(("SECURITY_HASH_QUEUE", bad));
            let err = Settings::from_source(&Source::from_pairs(pairs)).unwrap_err();
            assert_eq!(err.key, "SECURITY_HASH_QUEUE", "{bad}");
        }
    }

    #[test]
    fn periods_parse_like_flask_security() {
        assert_eq!(
            parse_duration("5 days"),
            Some(Duration::from_secs(5 * 86_400))
        );
        assert_eq!(parse_duration("1 day"), Some(Duration::from_secs(86_400)));
        assert_eq!(
            parse_duration("30 minutes"),
            Some(Duration::from_secs(1_800))
        );
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("5 fortnights"), None);
    }

    fn production() -> Vec<(&'static str, &'static str)> {
        vec![
            ("APP_ENV", "production"),
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef-prod"),
            (
                "SECURITY_PASSWORD_SALT",
                "fedcba9876543210fedcba9876543210-salt",
            ),
            ("SESSION_COOKIE_SECURE", "true"),
            ("DATABASE_URL", "test.db"),
        ]
    }

    fn with(
        mut pairs: Vec<(&'static str, &'static str)>,
        key: &'static str,
        value: &'static str,
    ) -> Vec<(&'static str, &'static str)> {
        pairs.retain(|(k, _)| *k != key);
        pairs.push((key, value));
        pairs
    }

    #[test]
    fn production_accepts_strong_secrets_and_secure_cookies() {
        let s = Settings::from_source(&Source::from_pairs(production())).unwrap();
        assert_eq!(s.environment, Environment::Production);
    }

    #[test]
    fn production_refusals_name_the_setting() {
        for (key, value, expected) in [
            ("SECRET_KEY", DEV_SECRET_KEY, "SECRET_KEY"),
            (
                "SECURITY_PASSWORD_SALT",
                DEV_PASSWORD_SALT,
                "SECURITY_PASSWORD_SALT",
            ),
            ("SECRET_KEY", "short", "SECRET_KEY"),
            ("SESSION_COOKIE_SECURE", "false", "SESSION_COOKIE_SECURE"),
            ("APP_ENV", "staging", "APP_ENV"),
        ] {
            let err = Settings::from_source(&Source::from_pairs(with(production(), key, value)))
                .unwrap_err();
            assert_eq!(err.key, expected, "{key}={value}: {err}");
        }
        // A Flask database's salt is kept whatever its length.
        let short_salt = with(production(), "SECURITY_PASSWORD_SALT", "short-salt");
        assert!(Settings::from_source(&Source::from_pairs(short_salt)).is_ok());
        let mut pairs = production();
        pairs.retain(|(k, _)| *k != "SESSION_COOKIE_SECURE");
        let err = Settings::from_source(&Source::from_pairs(pairs)).unwrap_err();
        assert_eq!(err.key, "SESSION_COOKIE_SECURE");
    }

    #[test]
    fn development_values_match_the_committed_env_file() {
        let env = include_str!("../.env");
        assert!(env.contains(&format!("SECRET_KEY={DEV_SECRET_KEY}\n")));
        assert!(env.contains(&format!("SECURITY_PASSWORD_SALT={DEV_PASSWORD_SALT}\n")));
        // Development keeps working with them.
        let s = Settings::from_source(&Source::from_pairs([
            ("SECRET_KEY", DEV_SECRET_KEY),
            ("SECURITY_PASSWORD_SALT", DEV_PASSWORD_SALT),
        ]))
        .unwrap();
        assert_eq!(s.environment, Environment::Development);
    }

    fn parse(extra: &[(&'static str, &'static str)]) -> Result<Settings, ConfigError> {
        let mut pairs = minimal();
        pairs.extend_from_slice(extra);
        Settings::from_source(&Source::from_pairs(pairs))
    }

    #[test]
    fn password_policy_defaults_match_flask_security() {
        let s = parse(&[]).unwrap();
        assert_eq!(s.password_policy, PasswordPolicy::default());
        assert_eq!(s.password_policy.min_length, 8);
        assert_eq!(s.password_policy.max_length, 128);
        assert_eq!(s.password_policy.zxcvbn_min_score, None);
        assert!(!s.password_policy.check_breached);
        assert_eq!(s.password_hash, HashScheme::Bcrypt);
    }

    #[test]
    fn password_policy_keys_are_read_and_checked() {
        let s = parse(&[
            ("SECURITY_PASSWORD_LENGTH_MIN", "12"),
            ("SECURITY_PASSWORD_COMPLEXITY_CHECKER", "zxcvbn"),
            ("SECURITY_PASSWORD_CHECK_BREACHED", "offline"),
        ])
        .unwrap();
        assert_eq!(s.password_policy.min_length, 12);
        assert_eq!(
            s.password_policy.zxcvbn_min_score,
            Some(3),
            "Flask's default score"
        );
        assert!(s.password_policy.check_breached);
        let s = parse(&[
            ("SECURITY_PASSWORD_COMPLEXITY_CHECKER", "zxcvbn"),
            ("SECURITY_ZXCVBN_MINIMUM_SCORE", "4"),
            ("SECURITY_PASSWORD_CHECK_BREACHED", "false"),
        ])
        .unwrap();
        assert_eq!(s.password_policy.zxcvbn_min_score, Some(4));
        assert!(!s.password_policy.check_breached);
        // The score alone does not switch zxcvbn on.
        let s = parse(&[("SECURITY_ZXCVBN_MINIMUM_SCORE", "2")]).unwrap();
        assert_eq!(s.password_policy.zxcvbn_min_score, None);

        for (key, value) in [
            ("SECURITY_PASSWORD_LENGTH_MIN", "0"),
            ("SECURITY_PASSWORD_LENGTH_MIN", "129"),
            ("SECURITY_ZXCVBN_MINIMUM_SCORE", "5"),
            ("SECURITY_ZXCVBN_MINIMUM_SCORE", "-1"),
            ("SECURITY_PASSWORD_COMPLEXITY_CHECKER", "strong"),
            ("SECURITY_PASSWORD_CHECK_BREACHED", "strict"),
            ("SECURITY_PASSWORD_CHECK_BREACHED", "best-effort"),
            ("SECURITY_PASSWORD_CHECK_BREACHED", "true"),
            ("SECURITY_PASSWORD_CHECK_BREACHED", "sometimes"),
        ] {
            let err = parse(&[(key, value)]).unwrap_err();
            assert_eq!(err.key, key, "{key}={value}: {err}");
        }
    }

    #[test]
    fn password_hash_is_bcrypt_or_argon2() {
        assert_eq!(
            parse(&[("SECURITY_PASSWORD_HASH", "argon2")])
                .unwrap()
                .password_hash,
            HashScheme::Argon2
        );
        assert_eq!(
            parse(&[("SECURITY_PASSWORD_HASH", "bcrypt")])
                .unwrap()
                .password_hash,
            HashScheme::Bcrypt
        );
        let err = parse(&[("SECURITY_PASSWORD_HASH", "pbkdf2_sha512")]).unwrap_err();
        assert_eq!(err.key, "SECURITY_PASSWORD_HASH");
    }

    #[test]
    fn throttling_defaults_and_checks() {
        let s = Settings::from_source(&Source::from_pairs(minimal())).unwrap();
        let t = &s.login_throttle;
        assert_eq!(
            (t.free_attempts, t.account_limit),
            (5, 30),
            "documented defaults"
        );
        assert!(
            t.account_limit < 100,
            "ASVS 2.2.1: under 100 failures an hour"
        );
        assert_eq!(
            s.rate_limits.register,
            RateLimit {
                per_ip: 100,
                per_address: 3
            }
        );
        // (A ceiling one address could reach alone is the throttle's to refuse:
        // auth::throttle::check_policy.)
        let mut pairs = minimal();
        pairs.push(("SECURITY_LOGIN_ACCOUNT_LIMIT", "0"));
        assert!(Settings::from_source(&Source::from_pairs(pairs)).is_ok());
        for (key, value) in [
            ("SECURITY_LOGIN_DELAY", "0 seconds"),
            ("SECURITY_LOGIN_WINDOW", "0 seconds"),
            ("SECURITY_LOGIN_MAX_DELAY", "soon"),
            ("SECURITY_REGISTER_LIMIT_PER_IP", "many"),
        ] {
            let mut pairs = minimal();
            pairs.push((key, value));
            let err = Settings::from_source(&Source::from_pairs(pairs)).unwrap_err();
            assert_eq!(err.key, key);
        }
    }

    #[test]
    fn session_timeouts_and_freshness() {
        let s = Settings::from_source(&Source::from_pairs(minimal())).unwrap();
        let p = &s.session_policy;
        assert_eq!(p.idle_timeout, Duration::from_secs(30 * 60));
        assert_eq!(p.absolute_timeout, Duration::from_secs(12 * 3600));
        assert_eq!(p.freshness, Some(Duration::from_secs(24 * 3600)));
        assert_eq!(p.freshness_grace, Duration::from_secs(3600));
        let mut pairs = minimal();
        pairs.push(("SECURITY_FRESHNESS", "-1"));
        let s = Settings::from_source(&Source::from_pairs(pairs)).unwrap();
        assert_eq!(s.session_policy.freshness, None);
        let mut pairs = minimal();
        pairs.push(("SECURITY_SESSION_IDLE_TIMEOUT", "0 minutes"));
        let err = Settings::from_source(&Source::from_pairs(pairs)).unwrap_err();
        assert_eq!(err.key, "SECURITY_SESSION_IDLE_TIMEOUT");
    }

    #[test]
    fn generic_responses_are_refused_where_registration_would_give_accounts_away() {
        for (confirmable, without_confirmation, registerable, refused) in [
            ("false", "false", "true", true),
            ("true", "true", "true", true),
            ("true", "false", "true", false),
            ("false", "false", "false", false),
        ] {
            let result = parse(&[
                ("SECURITY_RETURN_GENERIC_RESPONSES", "true"),
                ("SECURITY_CONFIRMABLE", confirmable),
                ("SECURITY_LOGIN_WITHOUT_CONFIRMATION", without_confirmation),
                ("SECURITY_REGISTERABLE", registerable),
            ]);
            match (refused, result) {
                (true, Err(e)) => {
                    assert_eq!(e.key, "SECURITY_RETURN_GENERIC_RESPONSES");
                    assert!(e.reason.contains("SECURITY_CONFIRMABLE"), "{e}");
                }
                (false, Ok(_)) => {}
                (refused, other) => panic!(
                    "confirmable={confirmable} without={without_confirmation} \
                     registerable={registerable}: expected refused={refused}, got {other:?}"
                ),
            }
        }
    }

    #[test]
    fn passkeys_take_their_relying_party_from_base_url() {
        let mut pairs = with(minimal(), "SECURITY_WEBAUTHN", "true");
        pairs.push(("BASE_URL", "https://auth.example.com:8443/"));
        let s = Settings::from_source(&Source::from_pairs(pairs)).unwrap();
        assert_eq!(s.webauthn.rp_id, "auth.example.com");
        assert_eq!(s.webauthn.origin, "https://auth.example.com:8443");
        assert_eq!(s.webauthn.rp_name, s.app_name);
        // Development on plain http works, on localhost as on 127.0.0.1.
        let pairs = with(
            with(minimal(), "SECURITY_WEBAUTHN", "true"),
            "BASE_URL",
            "http://localhost:8080",
        );
        let s = Settings::from_source(&Source::from_pairs(pairs)).unwrap();
        assert_eq!(
            (s.webauthn.rp_id.as_str(), s.webauthn.origin.as_str()),
            ("localhost", "http://localhost:8080")
        );
    }

    #[test]
    fn production_refuses_passkeys_without_https() {
        let plain = with(
            with(production(), "SECURITY_WEBAUTHN", "true"),
            "BASE_URL",
            "http://auth.example.com",
        );
        let err = Settings::from_source(&Source::from_pairs(plain)).unwrap_err();
        assert_eq!(err.key, "BASE_URL", "{err}");
        let tls = with(
            with(production(), "SECURITY_WEBAUTHN", "true"),
            "BASE_URL",
            "https://auth.example.com",
        );
        assert!(Settings::from_source(&Source::from_pairs(tls)).is_ok());
        // Without passkeys, production keeps accepting what it accepted.
        let off = with(production(), "BASE_URL", "http://auth.example.com");
        assert!(Settings::from_source(&Source::from_pairs(off)).is_ok());
    }

    #[test]
    fn passkey_sign_up_needs_passkeys_as_a_first_factor() {
        let pairs = with(
            with(minimal(), "SECURITY_WEBAUTHN", "true"),
            "SECURITY_WAN_REGISTER_WITHOUT_PASSWORD",
            "true",
        );
        assert!(Settings::from_source(&Source::from_pairs(pairs.clone())).is_ok());
        let err = Settings::from_source(&Source::from_pairs(with(
            pairs,
            "SECURITY_WAN_ALLOW_AS_FIRST_FACTOR",
            "false",
        )))
        .unwrap_err();
        assert_eq!(err.key, "SECURITY_WAN_REGISTER_WITHOUT_PASSWORD");
    }

    #[test]
    fn cookie_names_use_the_host_prefix_in_production() {
        let s = Settings::from_source(&Source::from_pairs(production())).unwrap();
        assert_eq!(s.session_cookie_name(), "__Host-session");
        assert_eq!(s.remember_cookie_name(), "__Host-remember_token");
        let s = Settings::from_source(&Source::from_pairs(minimal())).unwrap();
        assert_eq!(s.session_cookie_name(), "session");
        assert_eq!(s.remember_cookie_name(), "remember_token");
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let s = Settings::from_source(&Source::from_pairs(minimal())).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("a-development-secret-key"));
    }
}
