//! Settings read from the environment (and `.env`), under Flask-Security's key names.
//!
//! Everything the app needs is parsed and checked here, once, at start-up: a missing or
//! unusable setting is a [`ConfigError`] naming the key, never a panic later on.
//!
//! One file per group of settings; this one holds [`Settings`], which gathers them. The
//! settings are plain data: `config` imports nothing of the crate's, and the modules that
//! use a setting interpret it (the catalogue of texts, for one, is loaded from
//! [`MessageSettings`] when the services start).

mod account_changes;
mod api_tokens;
mod cookie_dict;
mod database;
mod environment;
mod events;
mod features;
mod i18n;
mod identity;
pub mod keys;
mod mail;
mod normalize;
mod notices;
mod oauth;
mod passwords;
mod paths;
mod secret;
mod session;
mod sms;
mod source;
mod spa;
mod template_names;
mod throttle;
mod two_factor;
mod unified_signin;
mod usernames;
mod validity_cookie;
mod webauthn;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

pub use account_changes::AccountChangeSettings;
pub use api_tokens::ApiTokenSettings;
pub use cookie_dict::{CookieAttributes, CookieSameSite};
pub use database::{DatabaseUrl, PoolOptions, MAX_POOL_SIZE};
pub use environment::{Environment, DEV_PASSWORD_SALT, DEV_SECRET_KEY, MIN_PRODUCTION_KEY_BYTES};
pub use events::EventSettings;
pub use features::Features;
pub use i18n::MessageSettings;
pub use identity::IdentityAttribute;
pub use mail::DEFAULT_APP_NAME;
pub use mail::{EmailSubjects, MailParts, MailSettings};
pub use normalize::{checked_input, Categories, InputRefusal, NormalizeForm};
pub use notices::NoticeSettings;
pub use oauth::{
    OAuthProvider, OAuthSettings, ProviderKind, DISCOVERY_SUFFIX, GITHUB_ACCESS_TOKEN_URL,
    GITHUB_API_BASE_URL, GITHUB_AUTHORIZE_URL, GOOGLE_METADATA_URL,
};
pub use passwords::{
    HashQueueLimit, HashScheme, PasswordPolicy, DEFAULT_HASH_WAIT, MAX_HASH_QUEUE, MAX_HASH_WAIT,
};
pub use paths::{PathSettings, PATH_KEYS};
pub use secret::Secret;
pub use session::SessionPolicy;
pub use sms::{SmsService, SmsSettings, TwilioConfig, TWILIO_API_URL, TWILIO_TIMEOUT};
pub use source::{parse_duration, parse_flag, ConfigError, Source};
pub use spa::{CsrfCookie, SpaSettings, Views};
pub use template_names::TemplateName;
pub use throttle::{LoginThrottle, RateLimit, RateLimits, SendLimits};
pub use two_factor::{RecoveryCodeKeys, TwoFactorMethod, TwoFactorSettings};
pub use unified_signin::{UnifiedSigninSettings, UsMethod};
pub use usernames::{UsernamePolicy, MAX_USERNAME_LENGTH};
pub use validity_cookie::ValidityCookie;
pub use webauthn::WebAuthnSettings;

#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Environment,
    pub database_url: DatabaseUrl,
    /// The server's connection pool (`DATABASE_POOL_SIZE`, `DATABASE_POOL_TIMEOUT`).
    pub database_pool: PoolOptions,
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
    /// What the user-facing texts are built from: the shipped translations, the files of
    /// `SECURITY_I18N_DIRNAME`, `SECURITY_MSG_<NAME>` replacements and the default language.
    /// The catalogue itself is loaded when the services start (`Services::messages`); a
    /// request's language is chosen per request.
    pub messages: MessageSettings,
    /// Mail subjects that the configuration sets (`SECURITY_EMAIL_SUBJECT_*`, ...): used as
    /// given in every language. A subject left at its default is translated.
    pub explicit_subjects: BTreeSet<String>,
    /// `SECURITY_PASSWORD_HASH`: the scheme new hashes use; others still verify and are
    /// upgraded at the next login.
    pub password_hash: HashScheme,
    pub bcrypt_rounds: u32,
    /// What a new password must satisfy (register, reset, change, CLI).
    pub password_policy: PasswordPolicy,
    /// What a new username's length must be (register, change username, CLI).
    pub username_policy: UsernamePolicy,
    /// How many password hashes may wait for a free core before logins and registrations
    /// are answered 503: as many as can expect to start within `SECURITY_HASH_WAIT`, or a
    /// fixed `SECURITY_HASH_QUEUE`.
    pub hash_queue: HashQueueLimit,
    pub cookie_secure: bool,
    /// How many reverse proxies in front of us append to `X-Forwarded-For`.
    pub trusted_proxy_count: usize,
    pub remember_for: Duration,
    pub confirm_email_within: Duration,
    pub reset_password_within: Duration,
    pub templates_dir: PathBuf,
    /// The files Flask-Security's `SECURITY_*_TEMPLATE` keys name instead of Latchkey's
    /// templates (overrides under `templates_dir`).
    pub template_names: Vec<TemplateName>,
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
    /// Where the routes are served (`SECURITY_URL_PREFIX`, `SECURITY_*_URL`).
    pub paths: PathSettings,
    /// Social login (`SECURITY_OAUTH_*`).
    pub oauth: OAuthSettings,
    /// Phone numbers' default region and the text messages' sender
    /// (`SECURITY_PHONE_REGION_DEFAULT`, `SECURITY_SMS_SERVICE`, `…_CONFIG`, `SMS_OUTBOX_DIR`).
    pub sms: SmsSettings,
    /// Single-page apps: the CSRF cookie and header, `SECURITY_REDIRECT_*` and the views the
    /// mails' links lead to.
    pub spa: SpaSettings,
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
        let database_url = database::database_url(src)?;
        let database_pool = database::database_pool(src, &database_url)?;
        let housekeeping_interval = database::housekeeping_interval(src)?;
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

        let features = features::features(src)?;
        let mut mail = mail::mail(src)?;
        let email_subjects = mail::email_subjects(src);

        let bcrypt_rounds = passwords::bcrypt_rounds(src)?;
        let password_hash = passwords::password_hash(src)?;
        let password_policy = passwords::password_policy(src)?;
        let hash_queue = passwords::hash_queue(src)?;

        let workers = match src.get("WORKERS") {
            None => None,
            Some(_) => Some(src.number("WORKERS", 1usize)?.max(1)),
        };

        let environment = environment::environment(src)?;
        mail.log_links = environment == Environment::Development;
        let cookie_secure = src.flag("SESSION_COOKIE_SECURE", false)?;
        if environment == Environment::Production {
            environment::check_production(&secret_key, &password_salt, cookie_secure)?;
        }

        let app_name = src.get("APP_NAME").unwrap_or(DEFAULT_APP_NAME).to_owned();
        let webauthn = webauthn::webauthn(src, &app_name, &base_url, environment)?;
        let unified_signin = unified_signin::unified_signin(src)?;
        if !features.password_required && !unified_signin.enabled {
            // As Flask-Security: an account without a password needs another way in.
            return Err(ConfigError::new(
                "SECURITY_PASSWORD_REQUIRED",
                "can only be false with SECURITY_UNIFIED_SIGNIN=true (an account registered \
                 without a password signs in by a code or link)",
            ));
        }
        let account_changes = account_changes::account_changes(src, &features)?;
        let api_tokens = api_tokens::api_tokens(src)?;
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
            messages: i18n::message_settings(src)?,
            explicit_subjects: mail::explicit_subjects(src),
            password_hash,
            bcrypt_rounds,
            password_policy,
            username_policy: usernames::username_policy(src)?,
            hash_queue,
            cookie_secure,
            trusted_proxy_count: src.number("TRUSTED_PROXY_COUNT", 0)?,
            remember_for: src.duration("REMEMBER_COOKIE_DURATION", "365 days")?,
            confirm_email_within: src.duration("SECURITY_CONFIRM_EMAIL_WITHIN", "2 days")?,
            reset_password_within: src.duration("SECURITY_RESET_PASSWORD_WITHIN", "1 days")?,
            templates_dir: PathBuf::from(src.get("SECURITY_TEMPLATES_DIR").unwrap_or("templates")),
            template_names: template_names::template_names(src),
            static_dir: PathBuf::from(src.get("STATIC_DIR").unwrap_or("static")),
            two_factor: two_factor::two_factor(src, &app_name)?,
            webauthn,
            unified_signin,
            account_changes,
            api_tokens,
            events: events::events(src)?,
            notices: notices::notices(src)?,
            oauth: oauth::oauth(src)?,
            paths: paths::paths(src)?,
            sms: sms::sms(src)?,
            spa: spa::spa(src)?,
            app_name,
            workers,
            login_throttle: throttle::login_throttle(src)?,
            rate_limits: throttle::rate_limits(src)?,
            session_policy: session::session_policy(src)?,
        })
    }
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

    /// The defaults of every key read with a typed default, with every feature off and with
    /// every feature on (the second wins where a default depends on another setting).
    fn defaults_read() -> std::collections::BTreeMap<String, String> {
        let mut defaults = std::collections::BTreeMap::new();
        for pairs in [minimal(), everything_on()] {
            let src = Source::from_pairs(pairs);
            Settings::from_source(&src).unwrap();
            defaults.extend(src.defaults_read());
        }
        defaults
    }

    /// Where Latchkey's default of a Flask-Security key is not Flask-Security's, the
    /// catalogue says why; where it is, the catalogue gives no reason.
    #[test]
    fn every_default_unlike_flask_securitys_says_why() {
        let defaults = defaults_read();
        for key in keys::catalogue() {
            if key.support != keys::Support::Honoured {
                continue;
            }
            let Some(ours) = defaults.get(&key.key()) else {
                continue;
            };
            let same = keys::same_default(key.flask_default, ours);
            assert_eq!(
                same,
                key.reason.is_empty(),
                "{}: Flask-Security {:?}, Latchkey {ours:?}: a different default needs a \
                 reason in keys.tsv, the same one none",
                key.key(),
                key.flask_default
            );
        }
    }

    /// The book's table is the catalogue's: `LATCHKEY_BLESS=1 cargo test --lib keys` writes
    /// it after a change of `keys.tsv` or of a default.
    #[test]
    fn the_books_table_of_keys_is_the_catalogues() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/flask-security-keys.md");
        let page = std::fs::read_to_string(&path).expect("docs/flask-security-keys.md");
        let (begin, end) = ("<!-- keys:begin -->\n", "<!-- keys:end -->");
        let start = page.find(begin).expect("the begin marker") + begin.len();
        let stop = page.find(end).expect("the end marker");
        let want = keys::markdown_table(&defaults_read());
        if std::env::var_os("LATCHKEY_BLESS").is_some() {
            let page = format!("{}{want}{}", &page[..start], &page[stop..]);
            std::fs::write(&path, page).expect("write the page");
            return;
        }
        assert!(
            page[start..stop] == want,
            "docs/flask-security-keys.md's table differs from src/config/keys.tsv; \
             run LATCHKEY_BLESS=1 cargo test --lib keys"
        );
    }

    fn everything_on() -> Vec<(&'static str, &'static str)> {
        let mut pairs = minimal();
        pairs.extend([
            ("SECURITY_CONFIRMABLE", "true"),
            ("SECURITY_RECOVERABLE", "true"),
            ("SECURITY_CHANGEABLE", "true"),
            ("SECURITY_TRACKABLE", "true"),
            ("SECURITY_TWO_FACTOR", "true"),
            ("SECURITY_TOTP_SECRETS", "x"),
            ("SECURITY_WEBAUTHN", "true"),
            ("SECURITY_UNIFIED_SIGNIN", "true"),
            ("SECURITY_CHANGE_EMAIL", "true"),
            ("SECURITY_USERNAME_ENABLE", "true"),
            ("SECURITY_CHANGE_USERNAME", "true"),
            ("SECURITY_USERNAME_RECOVERY", "true"),
            ("SECURITY_MULTI_FACTOR_RECOVERY_CODES", "true"),
            ("SECURITY_OAUTH_ENABLE", "true"),
            ("GITHUB_CLIENT_ID", "id"),
            ("GITHUB_CLIENT_SECRET", "secret"),
            ("GOOGLE_CLIENT_ID", "id"),
            ("GOOGLE_CLIENT_SECRET", "secret"),
            ("SECURITY_SMS_SERVICE", "Twilio"),
            (
                "SECURITY_SMS_SERVICE_CONFIG",
                r#"{"ACCOUNT_SID": "AC1", "AUTH_TOKEN": "t", "PHONE_NUMBER": "+15005550006"}"#,
            ),
        ]);
        pairs
    }

    /// The catalogue of keys (`keys.tsv`) cannot drift from the code: every `SECURITY_*` key
    /// the settings read is in it as honoured (or Latchkey's own, or deliberately different:
    /// read only to refuse it), and every key it calls honoured is read, with every feature
    /// off and with every feature on.
    #[test]
    fn the_keys_read_are_exactly_the_catalogues_honoured_ones() {
        let mut read = std::collections::BTreeSet::new();
        for pairs in [minimal(), everything_on()] {
            let src = Source::from_pairs(pairs);
            Settings::from_source(&src).unwrap();
            keys::refuse_unknown(&src, &[]).unwrap();
            read.extend(
                src.keys_read()
                    .into_iter()
                    .filter(|k| k.starts_with(keys::PREFIX) && !k.ends_with('*')),
            );
        }
        let honoured: std::collections::BTreeSet<String> = keys::catalogue()
            .iter()
            .filter(|k| k.support.is_read())
            .map(|k| k.key())
            .collect();
        let different: std::collections::BTreeSet<String> = keys::catalogue()
            .iter()
            .filter(|k| k.support == keys::Support::Different)
            .map(|k| k.key())
            .collect();
        let not_catalogued: Vec<_> = read
            .iter()
            .filter(|k| !honoured.contains(*k) && !different.contains(*k))
            .collect();
        assert!(
            not_catalogued.is_empty(),
            "read but not honoured in keys.tsv: {not_catalogued:?}"
        );
        let never_read: Vec<_> = honoured.difference(&read).collect();
        assert!(
            never_read.is_empty(),
            "honoured in keys.tsv but never read: {never_read:?}"
        );
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
        assert_eq!(
            s.confirm_email_within,
            Duration::from_secs(2 * 86_400),
            "Flask-Security 5.9's CONFIRM_EMAIL_WITHIN, as the reference behaves"
        );
        assert!(
            !s.features.registerable,
            "registerable defaults to off, as in Flask-Security: no open sign-up unasked"
        );
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
    fn hash_queue_defaults_to_a_wait_budget_of_five_seconds() {
        let s = Settings::from_source(&Source::from_pairs(minimal())).unwrap();
        assert_eq!(s.hash_queue, HashQueueLimit::Wait(Duration::from_secs(5)));
        assert_eq!(DEFAULT_HASH_WAIT, Duration::from_secs(5));
        for (given, seconds) in [("12", 12), ("2 minutes", 120), ("0", 0), ("600", 600)] {
            let mut pairs = minimal();
            pairs.push(("SECURITY_HASH_WAIT", given));
            let s = Settings::from_source(&Source::from_pairs(pairs)).unwrap();
            assert_eq!(
                s.hash_queue,
                HashQueueLimit::Wait(Duration::from_secs(seconds)),
                "{given}"
            );
        }
        for bad in ["-1", "soon", "601", "1 day"] {
            let mut pairs = minimal();
            pairs.push(("SECURITY_HASH_WAIT", bad));
            let err = Settings::from_source(&Source::from_pairs(pairs)).unwrap_err();
            assert_eq!(err.key, "SECURITY_HASH_WAIT", "{bad}");
        }
    }

    #[test]
    fn an_explicit_hash_queue_is_a_fixed_count_and_bounded() {
        let mut pairs = minimal();
        pairs.push(("SECURITY_HASH_QUEUE", "0"));
        let s = Settings::from_source(&Source::from_pairs(pairs.clone())).unwrap();
        assert_eq!(s.hash_queue, HashQueueLimit::Fixed(0), "0: nobody waits");
        pairs.push(("SECURITY_HASH_WAIT", "30"));
        let s = Settings::from_source(&Source::from_pairs(pairs)).unwrap();
        assert_eq!(
            s.hash_queue,
            HashQueueLimit::Fixed(0),
            "an explicit count wins over the wait budget"
        );
        let mut pairs = minimal();
        pairs.push(("SECURITY_HASH_QUEUE", ""));
        let s = Settings::from_source(&Source::from_pairs(pairs)).unwrap();
        assert_eq!(
            s.hash_queue,
            HashQueueLimit::Wait(DEFAULT_HASH_WAIT),
            "empty: unset"
        );
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
        let env = include_str!("../../.env");
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
    fn the_texts_settings_are_plain_values() {
        let s = parse(&[]).unwrap();
        assert_eq!(s.messages.translation_dirs, vec![PathBuf::from("builtin")]);
        assert_eq!(s.messages.domain, "flask_security");
        assert_eq!(s.messages.default_locale, None);
        assert!(s.messages.overrides.is_empty());
        let s = parse(&[
            ("SECURITY_I18N_DIRNAME", " a; b ;"),
            ("BABEL_DEFAULT_LOCALE", "fr_FR"),
            ("SECURITY_MSG_INVALID_PASSWORD", " Nope "),
            ("SECURITY_MSG_LOGIN", "  "),
        ])
        .unwrap();
        let m = &s.messages;
        assert_eq!(
            m.translation_dirs,
            vec![PathBuf::from("a"), PathBuf::from("b")]
        );
        assert_eq!(m.default_locale.as_deref(), Some("fr_FR"));
        assert_eq!(
            m.override_for("SECURITY_MSG_INVALID_PASSWORD"),
            Some("Nope")
        );
        assert_eq!(m.override_for("SECURITY_MSG_LOGIN"), None, "empty: not set");
        for bad in ["a/b", ".hidden", "a\\b"] {
            let err = parse(&[("SECURITY_I18N_DOMAIN", bad)]).unwrap_err();
            assert_eq!(err.key, "SECURITY_I18N_DOMAIN", "{bad}: {err}");
        }
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let s = Settings::from_source(&Source::from_pairs(minimal())).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("a-development-secret-key"));
    }
}
