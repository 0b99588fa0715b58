//! Changing the email address or the username, and mailing a forgotten username
//! (`SECURITY_CHANGE_EMAIL*`, `SECURITY_CHANGE_USERNAME`, `SECURITY_USERNAME_RECOVERY`).

use std::time::Duration;

use super::features::Features;
use super::source::{ConfigError, Source};

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

pub(super) fn account_changes(
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
