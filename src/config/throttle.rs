//! Login throttling (`SECURITY_LOGIN_*`) and the limits on mail-sending forms and codes
//! (`SECURITY_*_LIMIT_*`, `SECURITY_SEND_LIMIT_*`).

use std::time::Duration;

use super::source::{ConfigError, Source};

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

pub(super) fn login_throttle(src: &Source) -> Result<LoginThrottle, ConfigError> {
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

pub(super) fn rate_limits(src: &Source) -> Result<RateLimits, ConfigError> {
    Ok(RateLimits {
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
    })
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
