//! Where the routes are served: Flask-Security's `SECURITY_URL_PREFIX` and `SECURITY_*_URL`
//! keys, read and checked as plain values (`urls::Urls` places the routes with them).

use super::source::{ConfigError, Source};

/// The paths' settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathSettings {
    /// `SECURITY_URL_PREFIX`: empty, or a path starting with `/` and not ending with one.
    pub prefix: String,
    /// Every `SECURITY_*_URL` key of [`PATH_KEYS`] that is set, with its value.
    pub keys: Vec<(&'static str, String)>,
}

/// Every route key, with its default: Flask-Security's, except `SECURITY_STATIC_FOLDER_URL`
/// (Flask-Security's `/fs-static`), which is `/static`, where the tutorial's pages ask for
/// the stylesheet. A test checks this list against the URL table's.
pub const PATH_KEYS: &[(&str, &str)] = &[
    ("SECURITY_LOGIN_URL", "/login"),
    ("SECURITY_LOGOUT_URL", "/logout"),
    ("SECURITY_VERIFY_URL", "/verify"),
    ("SECURITY_REGISTER_URL", "/register"),
    ("SECURITY_CONFIRM_URL", "/confirm"),
    ("SECURITY_RESET_URL", "/reset"),
    ("SECURITY_TWO_FACTOR_SETUP_URL", "/tf-setup"),
    ("SECURITY_TWO_FACTOR_TOKEN_VALIDATION_URL", "/tf-validate"),
    ("SECURITY_TWO_FACTOR_RESCUE_URL", "/tf-rescue"),
    ("SECURITY_TWO_FACTOR_SELECT_URL", "/tf-select"),
    (
        "SECURITY_MULTI_FACTOR_RECOVERY_CODES_URL",
        "/mf-recovery-codes",
    ),
    ("SECURITY_MULTI_FACTOR_RECOVERY_URL", "/mf-recovery"),
    ("SECURITY_US_SIGNIN_URL", "/us-signin"),
    ("SECURITY_US_SIGNIN_SEND_CODE_URL", "/us-signin/send-code"),
    ("SECURITY_US_SETUP_URL", "/us-setup"),
    ("SECURITY_US_VERIFY_URL", "/us-verify"),
    ("SECURITY_US_VERIFY_SEND_CODE_URL", "/us-verify/send-code"),
    ("SECURITY_US_VERIFY_LINK_URL", "/us-verify-link"),
    ("SECURITY_WAN_REGISTER_URL", "/wan-register"),
    ("SECURITY_WAN_DELETE_URL", "/wan-delete"),
    ("SECURITY_WAN_SIGNIN_URL", "/wan-signin"),
    ("SECURITY_WAN_VERIFY_URL", "/wan-verify"),
    ("SECURITY_CHANGE_URL", "/change"),
    ("SECURITY_REFRESH_TOKEN_URL", "/refresh-token"),
    ("SECURITY_CHANGE_EMAIL_URL", "/change-email"),
    ("SECURITY_CHANGE_USERNAME_URL", "/change-username"),
    ("SECURITY_USERNAME_RECOVERY_URL", "/recover-username"),
    ("SECURITY_OAUTH_START_URL", "/login/oauthstart"),
    ("SECURITY_OAUTH_RESPONSE_URL", "/login/oauthresponse"),
    (
        "SECURITY_OAUTH_VERIFY_START_URL",
        "/login/oauth-verify-start",
    ),
    (
        "SECURITY_OAUTH_VERIFY_RESPONSE_URL",
        "/login/oauth-verify-response",
    ),
    ("SECURITY_STATIC_FOLDER_URL", "/static"),
];

pub(super) fn paths(src: &Source) -> Result<PathSettings, ConfigError> {
    let prefix = match src.get("SECURITY_URL_PREFIX").unwrap_or("") {
        "" | "/" => String::new(),
        p => check("SECURITY_URL_PREFIX", p)?
            .trim_end_matches('/')
            .to_owned(),
    };
    let mut keys = Vec::new();
    for (key, default) in PATH_KEYS {
        let value = src.text(key, default);
        if value != *default {
            keys.push((*key, check(key, value)?.to_owned()));
        }
    }
    for (i, (key, value)) in keys.iter().enumerate() {
        if let Some((other, _)) = keys[i + 1..].iter().find(|(_, v)| v == value) {
            return Err(ConfigError::new(
                key,
                format!("{value:?} is also {other}'s value: two routes cannot share a path"),
            ));
        }
    }
    Ok(PathSettings { prefix, keys })
}

/// A path a route can be served at: from `/`, with no query, fragment, pattern or space.
fn check<'a>(key: &str, value: &'a str) -> Result<&'a str, ConfigError> {
    let bad = |c: char| c.is_whitespace() || c.is_control() || "?#{}%\\".contains(c);
    if !value.starts_with('/') || value.starts_with("//") || value.contains(bad) {
        return Err(ConfigError::new(
            key,
            format!(
                "expected a path such as \"/signin\" (from /, no query or spaces), got {value:?}"
            ),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<PathSettings, ConfigError> {
        paths(&Source::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn the_prefix_and_the_keys_are_read_as_flask_security_reads_them() {
        let s = read(&[
            ("SECURITY_URL_PREFIX", "/auth/"),
            ("SECURITY_LOGIN_URL", "/signin"),
            ("SECURITY_LOGOUT_URL", "/logout"),
        ])
        .unwrap();
        assert_eq!(s.prefix, "/auth");
        // A key set to its default is as good as unset.
        assert_eq!(s.keys, [("SECURITY_LOGIN_URL", "/signin".to_owned())]);
        assert_eq!(read(&[("SECURITY_URL_PREFIX", "/")]).unwrap().prefix, "");
    }

    #[test]
    fn a_path_that_cannot_be_served_is_refused_with_its_key() {
        for bad in [
            "signin",
            "//evil.example",
            "/sign in",
            "/a?b",
            "/{x}",
            "/a#b",
        ] {
            let err = read(&[("SECURITY_LOGIN_URL", bad)]).unwrap_err();
            assert_eq!(err.key, "SECURITY_LOGIN_URL", "{bad}");
        }
        let err = read(&[("SECURITY_URL_PREFIX", "auth")]).unwrap_err();
        assert_eq!(err.key, "SECURITY_URL_PREFIX");
        let err = read(&[
            ("SECURITY_LOGIN_URL", "/in"),
            ("SECURITY_US_SIGNIN_URL", "/in"),
        ])
        .unwrap_err();
        assert!(
            err.reason.contains("SECURITY_US_SIGNIN_URL"),
            "{}",
            err.reason
        );
    }
}
