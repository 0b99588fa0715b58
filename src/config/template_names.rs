//! Flask-Security's `SECURITY_*_TEMPLATE` keys (22 pages and 13 mails): the file a page or
//! mail is rendered from, read as Flask-Security reads them (a page's name with its
//! extension, a mail's without: its `.txt` and `.html` parts). The named file is an override
//! under `SECURITY_TEMPLATES_DIR`; it replaces Latchkey's template of that page or mail.
//! A same-name override (`security/login_user.html`) keeps working without any key.

use super::source::Source;

/// One template Latchkey renders that a key may name another file for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateName {
    /// The key (`SECURITY_LOGIN_USER_TEMPLATE`).
    pub key: String,
    /// Latchkey's name of the template (`security/login_user.html`).
    pub latchkey: String,
    /// The file to render instead (`myapp/login.html`).
    pub name: String,
    /// Set by the key (a missing file is an error), rather than Flask-Security's default
    /// name where it differs from Latchkey's (used only when such a file exists).
    pub explicit: bool,
}

/// Pages: the key (without `SECURITY_`), Flask-Security's default, Latchkey's name.
const PAGES: &[(&str, &str, &str)] = &[
    (
        "LOGOUT_USER_TEMPLATE",
        "security/logout_user.html",
        "security/logout_user.html",
    ),
    (
        "FORGOT_PASSWORD_TEMPLATE",
        "security/forgot_password.html",
        "security/forgot_password.html",
    ),
    (
        "LOGIN_USER_TEMPLATE",
        "security/login_user.html",
        "security/login_user.html",
    ),
    (
        "REGISTER_USER_TEMPLATE",
        "security/register_user.html",
        "security/register_user.html",
    ),
    (
        "RESET_PASSWORD_TEMPLATE",
        "security/reset_password.html",
        "security/reset_password.html",
    ),
    (
        "CHANGE_PASSWORD_TEMPLATE",
        "security/change_password.html",
        "security/change_password.html",
    ),
    (
        "SEND_CONFIRMATION_TEMPLATE",
        "security/send_confirmation.html",
        "security/send_confirmation.html",
    ),
    (
        "VERIFY_TEMPLATE",
        "security/verify.html",
        "security/verify_user.html",
    ),
    (
        "TWO_FACTOR_VERIFY_CODE_TEMPLATE",
        "security/two_factor_verify_code.html",
        "security/two_factor_verify_code.html",
    ),
    (
        "TWO_FACTOR_SETUP_TEMPLATE",
        "security/two_factor_setup.html",
        "security/two_factor_setup.html",
    ),
    (
        "TWO_FACTOR_SELECT_TEMPLATE",
        "security/two_factor_select.html",
        "security/two_factor_select.html",
    ),
    (
        "CHANGE_EMAIL_TEMPLATE",
        "security/change_email.html",
        "security/change_email.html",
    ),
    (
        "CHANGE_USERNAME_TEMPLATE",
        "security/change_username.html",
        "security/change_username.html",
    ),
    (
        "MULTI_FACTOR_RECOVERY_CODES_TEMPLATE",
        "security/mf_recovery_codes.html",
        "security/mf_recovery_codes.html",
    ),
    (
        "MULTI_FACTOR_RECOVERY_TEMPLATE",
        "security/mf_recovery.html",
        "security/mf_recovery.html",
    ),
    (
        "USERNAME_RECOVERY_TEMPLATE",
        "security/recover_username.html",
        "security/recover_username.html",
    ),
    (
        "US_SIGNIN_TEMPLATE",
        "security/us_signin.html",
        "security/us_signin.html",
    ),
    (
        "US_SETUP_TEMPLATE",
        "security/us_setup.html",
        "security/us_setup.html",
    ),
    (
        "US_VERIFY_TEMPLATE",
        "security/us_verify.html",
        "security/us_verify.html",
    ),
    (
        "WAN_REGISTER_TEMPLATE",
        "security/wan_register.html",
        "security/wan_register.html",
    ),
    (
        "WAN_SIGNIN_TEMPLATE",
        "security/wan_signin.html",
        "security/wan_signin.html",
    ),
    (
        "WAN_VERIFY_TEMPLATE",
        "security/wan_verify.html",
        "security/wan_verify.html",
    ),
];

/// Mails, by name without extension: the key, Flask-Security's default, Latchkey's name.
const MAILS: &[(&str, &str, &str)] = &[
    (
        "REGISTER_EMAIL_TEMPLATE",
        "security/email/welcome",
        "security/email/welcome",
    ),
    (
        "REGISTER_EMAIL_EXISTING_TEMPLATE",
        "security/email/welcome_existing",
        "security/email/welcome_existing",
    ),
    (
        "CHANGE_EMAIL_EMAIL_TEMPLATE",
        "security/email/change_email_instructions",
        "security/email/change_email_instructions",
    ),
    (
        "CHANGE_USERNAME_EMAIL_TEMPLATE",
        "security/email/change_username_notice",
        "security/email/change_username_notice",
    ),
    (
        "TWO_FACTOR_EMAIL_TEMPLATE",
        "security/email/two_factor_instructions",
        "security/email/two_factor_instructions",
    ),
    (
        "TWO_FACTOR_RESCUE_EMAIL_TEMPLATE",
        "security/email/two_factor_rescue",
        "security/email/two_factor_rescue",
    ),
    (
        "EMAIL_TEMPLATE_CONFIRM",
        "security/email/confirmation_instructions",
        "security/email/confirmation_instructions",
    ),
    (
        "EMAIL_TEMPLATE_PASSWORD_RESET",
        "security/email/reset_instructions",
        "security/email/reset_instructions",
    ),
    (
        "EMAIL_TEMPLATE_PASSWORD_RESET_NOTICE",
        "security/email/reset_notice",
        "security/email/reset_notice",
    ),
    (
        "EMAIL_TEMPLATE_PASSWORD_CHANGE_NOTICE",
        "security/email/change_notice",
        "security/email/change_notice",
    ),
    (
        "USERNAME_RECOVERY_EMAIL_TEMPLATE",
        "security/email/username_recovery",
        "security/email/username_recovery",
    ),
    (
        "US_EMAIL_TEMPLATE",
        "security/email/us_instructions",
        "security/email/us_instructions",
    ),
];

/// Every page and mail part whose file a key names, or whose Flask-Security default name
/// differs from Latchkey's. A mail gives two entries, its `.txt` and `.html` parts.
pub(super) fn template_names(src: &Source) -> Vec<TemplateName> {
    let mut names = Vec::new();
    let mut add = |key: String, latchkey: String, name: String, explicit: bool| {
        if name != latchkey {
            names.push(TemplateName {
                key,
                latchkey,
                name,
                explicit,
            });
        }
    };
    for &(key, flask, latchkey) in PAGES {
        let key = format!("SECURITY_{key}");
        let configured = src.get(&key).map(str::to_owned);
        let explicit = configured.is_some();
        let name = configured.unwrap_or_else(|| flask.to_owned());
        add(key, latchkey.to_owned(), name, explicit);
    }
    for &(key, flask, latchkey) in MAILS {
        let key = format!("SECURITY_{key}");
        let configured = src.get(&key).map(str::to_owned);
        let explicit = configured.is_some();
        let base = configured.unwrap_or_else(|| flask.to_owned());
        for ext in [".txt", ".html"] {
            add(
                key.clone(),
                format!("{latchkey}{ext}"),
                format!("{base}{ext}"),
                explicit,
            );
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_the_file_and_flask_securitys_own_names_are_looked_for() {
        let src = Source::from_pairs([
            ("SECURITY_LOGIN_USER_TEMPLATE", "myapp/login.html"),
            ("SECURITY_EMAIL_TEMPLATE_CONFIRM", "myapp/email/confirm"),
        ]);
        let names = template_names(&src);
        let find = |latchkey: &str| names.iter().find(|n| n.latchkey == latchkey).cloned();
        let login = find("security/login_user.html").unwrap();
        assert_eq!(login.name, "myapp/login.html");
        assert!(login.explicit);
        assert_eq!(login.key, "SECURITY_LOGIN_USER_TEMPLATE");
        let html = find("security/email/confirmation_instructions.html").unwrap();
        assert_eq!(html.name, "myapp/email/confirm.html");
        let txt = find("security/email/confirmation_instructions.txt").unwrap();
        assert_eq!(txt.name, "myapp/email/confirm.txt");
        // Flask-Security calls the confirm-it's-you page verify.html: a file of that name is
        // used when there is one, without a key.
        let verify = find("security/verify_user.html").unwrap();
        assert_eq!(verify.name, "security/verify.html");
        assert!(!verify.explicit);
        // Names that agree need no entry.
        assert!(find("security/register_user.html").is_none());
    }
}
