//! Outgoing mail (Flask-Mailman's `MAIL_*` keys) and the mails' subjects
//! (`SECURITY_EMAIL_SUBJECT_*`).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use super::secret::Secret;
use super::source::{ConfigError, Source};

/// `APP_NAME` when unset: the pages' and the mails' sender name.
pub const DEFAULT_APP_NAME: &str = "Latchkey";

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
    /// The name mails come from when `MAIL_DEFAULT_SENDER` gives none ("Latchkey
    /// <no-reply@example.com>" rather than a bare address): `APP_NAME`.
    pub sender_name: Option<String>,
    pub timeout: Duration,
    pub outbox_dir: PathBuf,
    /// Whether the development transport logs each message's links (they carry tokens):
    /// only outside production.
    pub log_links: bool,
    /// How long mail that was given up stays in the outbox for the operator
    /// (`MAIL_OUTBOX_RETENTION`).
    pub retention: Duration,
    /// Which parts a mail has (`SECURITY_EMAIL_PLAINTEXT`, `SECURITY_EMAIL_HTML`).
    pub parts: MailParts,
}

/// A mail's parts: the text and the HTML one (both by default, as Flask-Security; at
/// least one, checked at start-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailParts {
    /// `SECURITY_EMAIL_PLAINTEXT`.
    pub text: bool,
    /// `SECURITY_EMAIL_HTML`.
    pub html: bool,
}

impl Default for MailParts {
    fn default() -> Self {
        Self {
            text: true,
            html: true,
        }
    }
}

/// `SECURITY_EMAIL_PLAINTEXT` and `SECURITY_EMAIL_HTML`: both false would send mails with no
/// body (Flask-Security does), so it is refused.
fn mail_parts(src: &Source) -> Result<MailParts, ConfigError> {
    let parts = MailParts {
        text: src.flag("SECURITY_EMAIL_PLAINTEXT", true)?,
        html: src.flag("SECURITY_EMAIL_HTML", true)?,
    };
    if !parts.text && !parts.html {
        return Err(ConfigError::new(
            "SECURITY_EMAIL_HTML",
            "SECURITY_EMAIL_PLAINTEXT and SECURITY_EMAIL_HTML cannot both be false: \
             every mail would be sent without a body",
        ));
    }
    Ok(parts)
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

/// The `MAIL_*` keys; `log_links` is on until the environment says production.
pub(super) fn mail(src: &Source) -> Result<MailSettings, ConfigError> {
    let mail = MailSettings {
        server: src.get("MAIL_SERVER").map(str::to_owned),
        port: src.number("MAIL_PORT", 25)?,
        username: src.get("MAIL_USERNAME").map(str::to_owned),
        password: src.get("MAIL_PASSWORD").map(Secret::new),
        use_tls: src.flag("MAIL_USE_TLS", false)?,
        use_ssl: src.flag("MAIL_USE_SSL", false)?,
        // Flask-Security's own key wins over Flask-Mailman's, as in Flask-Security.
        default_sender: src
            .get("SECURITY_EMAIL_SENDER")
            .or_else(|| src.get("MAIL_DEFAULT_SENDER"))
            .unwrap_or("no-reply@localhost")
            .to_owned(),
        sender_name: Some(src.get("APP_NAME").unwrap_or(DEFAULT_APP_NAME).to_owned()),
        timeout: Duration::from_secs(src.number("MAIL_TIMEOUT", 10)?),
        outbox_dir: PathBuf::from(src.get("MAIL_OUTBOX_DIR").unwrap_or("instance/mail")),
        log_links: true,
        retention: src.duration("MAIL_OUTBOX_RETENTION", "7 days")?,
        parts: mail_parts(src)?,
    };
    if mail.use_tls && mail.use_ssl {
        return Err(ConfigError::new(
            "MAIL_USE_SSL",
            "MAIL_USE_TLS and MAIL_USE_SSL cannot both be true",
        ));
    }
    Ok(mail)
}

pub(super) fn email_subjects(src: &Source) -> EmailSubjects {
    let subject = |key: &str, default: &str| src.get(key).unwrap_or(default).to_owned();
    EmailSubjects {
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
    }
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

/// The subjects the configuration sets (used as given in every language).
pub(super) fn explicit_subjects(src: &Source) -> BTreeSet<String> {
    SUBJECT_KEYS
        .iter()
        .filter_map(|key| src.get(key))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_email_sender_wins_over_mail_default_sender() {
        let sender = |pairs: &[(&str, &str)]| {
            mail(&Source::from_pairs(pairs.iter().copied()))
                .unwrap()
                .default_sender
        };
        assert_eq!(sender(&[]), "no-reply@localhost");
        assert_eq!(
            sender(&[("MAIL_DEFAULT_SENDER", "mailman@example.com")]),
            "mailman@example.com"
        );
        assert_eq!(
            sender(&[
                ("MAIL_DEFAULT_SENDER", "mailman@example.com"),
                ("SECURITY_EMAIL_SENDER", "security@example.com"),
            ]),
            "security@example.com"
        );
    }
}
