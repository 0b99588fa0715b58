//! Which Flask-Security features are switched on (`SECURITY_REGISTERABLE`, …).

use super::identity::{identity_attributes, IdentityAttribute};
use super::source::{ConfigError, Source};

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
    /// `SECURITY_DEFAULT_REMEMBER_ME`: the login form's "Remember me" starts ticked, and a
    /// JSON login that does not say is remembered.
    pub default_remember_me: bool,
    /// `SECURITY_SEND_PASSWORD_RESET_EMAIL`: false, "I forgot my password" answers as usual
    /// but mails nothing (and issues no link that nothing would deliver).
    pub send_password_reset_email: bool,
    /// `SECURITY_USER_IDENTITY_ATTRIBUTES`, in order (username added at the end by
    /// `SECURITY_USERNAME_ENABLE`, as in Flask-Security).
    pub identity_attributes: Vec<IdentityAttribute>,
    /// `SECURITY_LOGOUT_METHODS` has GET: `GET /logout` logs out (no CSRF token: the app
    /// asked for it). POST always does.
    pub logout_on_get: bool,
    /// `SECURITY_AUTO_LOGIN_AFTER_CONFIRM`: the mailed confirmation link signs in.
    pub auto_login_after_confirm: bool,
    /// `SECURITY_AUTO_LOGIN_AFTER_RESET`: a new password set by the mailed link signs in.
    pub auto_login_after_reset: bool,
    /// `SECURITY_PASSWORD_CONFIRM_REQUIRED`: the register form asks for the password twice.
    pub password_confirm_required: bool,
    /// `SECURITY_PASSWORD_REQUIRED`: false lets the register form leave the password out
    /// (unified sign-in then mails codes or links; checked at start-up).
    pub password_required: bool,
    /// `SECURITY_FLASH_MESSAGES`: false, pages show no messages of Flask-Security's (the
    /// outcome is in the page itself, or in the query string of an app's view).
    pub flash_messages: bool,
    /// How a username identity is read at sign-in (`SECURITY_USERNAME_ALLOWED_CHARS`,
    /// `SECURITY_INPUT_NORMALIZE_FORM`): the same policy as `Settings::username_policy`.
    pub username_rules: super::usernames::UsernamePolicy,
}

impl Features {
    /// Whether a sign-in identity may be `attribute`.
    pub fn identifies_by(&self, attribute: IdentityAttribute) -> bool {
        self.identity_attributes.contains(&attribute)
    }
}

pub(super) fn features(src: &Source) -> Result<Features, ConfigError> {
    let username_enable = src.flag("SECURITY_USERNAME_ENABLE", false)?;
    let features = Features {
        registerable: src.flag("SECURITY_REGISTERABLE", false)?,
        confirmable: src.flag("SECURITY_CONFIRMABLE", false)?,
        recoverable: src.flag("SECURITY_RECOVERABLE", false)?,
        changeable: src.flag("SECURITY_CHANGEABLE", false)?,
        trackable: src.flag("SECURITY_TRACKABLE", false)?,
        username_enable,
        username_required: src.flag("SECURITY_USERNAME_REQUIRED", false)?,
        return_generic_responses: src.flag("SECURITY_RETURN_GENERIC_RESPONSES", false)?,
        login_without_confirmation: src.flag("SECURITY_LOGIN_WITHOUT_CONFIRMATION", false)?,
        send_register_email: src.flag("SECURITY_SEND_REGISTER_EMAIL", true)?,
        default_remember_me: src.flag("SECURITY_DEFAULT_REMEMBER_ME", false)?,
        send_password_reset_email: src.flag("SECURITY_SEND_PASSWORD_RESET_EMAIL", true)?,
        identity_attributes: identity_attributes(src, username_enable)?,
        logout_on_get: logout_on_get(src)?,
        auto_login_after_confirm: src.flag("SECURITY_AUTO_LOGIN_AFTER_CONFIRM", false)?,
        auto_login_after_reset: src.flag("SECURITY_AUTO_LOGIN_AFTER_RESET", false)?,
        password_confirm_required: src.flag("SECURITY_PASSWORD_CONFIRM_REQUIRED", true)?,
        password_required: src.flag("SECURITY_PASSWORD_REQUIRED", true)?,
        flash_messages: src.flag("SECURITY_FLASH_MESSAGES", true)?,
        username_rules: super::usernames::username_policy(src)?,
    };
    check_generic_responses(&features)?;
    refuse_passwordless(src)?;
    Ok(features)
}

/// `SECURITY_LOGOUT_METHODS`: Flask-Security's list (`POST`; `GET,POST` or `["GET", "POST"]`).
/// Latchkey's pages sign out with a POST form, so the list must keep POST; GET is the choice.
fn logout_on_get(src: &Source) -> Result<bool, ConfigError> {
    const KEY: &str = "SECURITY_LOGOUT_METHODS";
    let raw = src.list(KEY, "POST").join(",");
    let raw = raw.trim_start_matches('[').trim_end_matches(']');
    let methods: Vec<String> = raw
        .split(',')
        .map(|m| m.trim().trim_matches(['"', '\'']).to_ascii_uppercase())
        .filter(|m| !m.is_empty())
        .collect();
    if let Some(other) = methods
        .iter()
        .find(|m| !matches!(m.as_str(), "GET" | "POST"))
    {
        return Err(ConfigError::new(
            KEY,
            format!("expected GET and POST (e.g. \"GET,POST\"), got {other:?}"),
        ));
    }
    if !methods.iter().any(|m| m == "POST") {
        return Err(ConfigError::new(
            KEY,
            "must include POST: Latchkey's pages sign out with a POST form (add GET to also \
             log out by a link)",
        ));
    }
    Ok(methods.iter().any(|m| m == "GET"))
}

/// Passwordless login (`SECURITY_PASSWORDLESS`) is deprecated in Flask-Security in favour of
/// unified sign-in, which does the same (a code or link by mail) with throttling and a
/// second factor. An app that turned it on would silently lose it: refused, saying what to
/// set instead.
fn refuse_passwordless(src: &Source) -> Result<(), ConfigError> {
    if src.flag("SECURITY_PASSWORDLESS", false)? {
        return Err(ConfigError::new(
            "SECURITY_PASSWORDLESS",
            "passwordless login is deprecated in Flask-Security and not served by Latchkey: \
             set SECURITY_UNIFIED_SIGNIN=true with SECURITY_US_ENABLED_METHODS=email instead \
             (sign-in by a code or link sent by mail)",
        ));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logout_methods_are_read_in_flask_securitys_forms() {
        let read = |v: &str| logout_on_get(&Source::from_pairs([("SECURITY_LOGOUT_METHODS", v)]));
        assert!(!logout_on_get(&Source::from_pairs(Vec::<(&str, &str)>::new())).unwrap());
        assert!(!read("POST").unwrap());
        assert!(read("GET,POST").unwrap());
        assert!(read(r#"["get", "post"]"#).unwrap());
        assert!(read("GET").is_err(), "the pages' forms need POST");
        assert!(read("POST,DELETE").is_err());
    }

    #[test]
    fn passwordless_login_is_refused_saying_what_to_set_instead() {
        let src = Source::from_pairs([("SECURITY_PASSWORDLESS", "true")]);
        let err = features(&src).unwrap_err();
        assert_eq!(err.key, "SECURITY_PASSWORDLESS");
        assert!(err.reason.contains("SECURITY_UNIFIED_SIGNIN=true"), "{err}");
        let src = Source::from_pairs([("SECURITY_PASSWORDLESS", "false")]);
        assert!(features(&src).is_ok());
    }
}
