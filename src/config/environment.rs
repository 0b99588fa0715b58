//! `APP_ENV`, and what production refuses: the development secrets committed in `.env`,
//! short keys and cookies sent over plain HTTP.

use super::secret::Secret;
use super::source::{ConfigError, Source};

/// `APP_ENV`: production refuses development secrets and insecure cookies at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// The development values committed in `.env`: refused in production.
pub const DEV_SECRET_KEY: &str = "dev-only-secret-key-change-me-in-production-0123456789abcdef";
pub const DEV_PASSWORD_SALT: &str = "dev-only-password-salt-change-me";
/// The shortest `SECRET_KEY` production accepts (and `SECURITY_PASSWORD_SALT` should have),
/// in bytes.
pub const MIN_PRODUCTION_KEY_BYTES: usize = 32;

/// `APP_ENV`: development (the default) or production.
pub(super) fn environment(src: &Source) -> Result<Environment, ConfigError> {
    match src.get("APP_ENV").map(str::to_ascii_lowercase).as_deref() {
        None | Some("development") | Some("dev") => Ok(Environment::Development),
        Some("production") | Some("prod") => Ok(Environment::Production),
        Some(other) => Err(ConfigError::new(
            "APP_ENV",
            format!("expected development or production, got {other:?}"),
        )),
    }
}

/// What `APP_ENV=production` refuses, each naming the setting to fix.
pub(super) fn check_production(
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
