//! Session lifetimes and re-authentication (`SECURITY_SESSION_*`, `SECURITY_FRESHNESS*`).

use std::time::Duration;

use super::source::{ConfigError, Source};

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

pub(super) fn session_policy(src: &Source) -> Result<SessionPolicy, ConfigError> {
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
