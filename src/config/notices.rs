//! The security notices mailed to the account's address (`SECURITY_SEND_NOTICE_*`,
//! `SECURITY_SEND_PASSWORD_*_EMAIL`) and their subjects.

use super::source::{ConfigError, Source};

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
    /// A social login identity linked or unlinked (`SECURITY_SEND_NOTICE_SOCIAL_LOGIN`).
    pub social_login: bool,
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
    /// `SECURITY_EMAIL_SUBJECT_SOCIAL_LOGIN_NOTICE`.
    pub social_login_subject: String,
}

pub(super) fn notices(src: &Source) -> Result<NoticeSettings, ConfigError> {
    let subject = |key: &str, default: &str| src.get(key).unwrap_or(default).to_owned();
    Ok(NoticeSettings {
        // Latchkey's own notices are opt-in (as django-allauth's): Flask-Security sends
        // none of them, and an app moving over should not surprise its users with new mail.
        new_device: src.flag("SECURITY_SEND_NOTICE_NEW_DEVICE", false)?,
        two_factor: src.flag("SECURITY_SEND_NOTICE_TWO_FACTOR", false)?,
        passkey: src.flag("SECURITY_SEND_NOTICE_PASSKEY", false)?,
        recovery_codes: src.flag("SECURITY_SEND_NOTICE_RECOVERY_CODES", false)?,
        social_login: src.flag("SECURITY_SEND_NOTICE_SOCIAL_LOGIN", false)?,
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
        social_login_subject: subject(
            "SECURITY_EMAIL_SUBJECT_SOCIAL_LOGIN_NOTICE",
            "Your social logins have changed",
        ),
    })
}
