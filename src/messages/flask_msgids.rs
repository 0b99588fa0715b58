//! Latchkey's texts that Flask-Security says in other words, each with Flask-Security's
//! msgids for the same label, button, link or title: when no catalogue translates
//! Latchkey's msgid in a language, [`super::Messages`] looks these up (in order) before it
//! falls back to English. So a Flask-Security translation (`SECURITY_I18N_DIRNAME` at an
//! installed Flask-Security's `translations` folder) translates Latchkey's "Remember me"
//! through its "Remember Me", and a Japanese login page is Japanese throughout, while
//! Latchkey's English wording (issue 24's "Sign in", "Sign out") stays as it is.
//!
//! Texts that are Flask-Security's msgids already ("Password", "Forgot password?") need no
//! row. A row pairs texts that do the same job on the page; a Latchkey text with no
//! counterpart in Flask-Security's catalogue has no row and stays English in a language
//! only Flask-Security translates (docs/src/translations.md lists them).

/// Latchkey's msgid → Flask-Security's msgids for the same text, best first. Sorted by
/// Latchkey's msgid (a unit test checks), for [`flask_equivalents`]'s binary search.
pub const EQUIVALENTS: &[(&str, &[&str])] = &[
    ("A code by email", &["Set up using email", "Via email"]),
    ("A code by text message", &["Set up using SMS", "Via SMS"]),
    ("Account", &["Menu"]),
    ("Add a passkey", &["Setup a New Passkey"]),
    ("Add a way to sign in", &["Setup additional sign in option"]),
    ("Add passkey", &["Setup a New Passkey"]),
    ("Already have an account? Sign in", &["Sign In", "Login"]),
    (
        "An authenticator app on your phone",
        &["Set up using an authenticator app (e.g. google, lastpass, authy)"],
    ),
    ("By email (with a sign-in link)", &["Via email"]),
    ("Change email", &["Change Email", "Change Registered Email"]),
    ("Change password", &["Change Password"]),
    ("Change the method", &["Change Method"]),
    ("Change username", &["Change Username"]),
    ("Choose a second factor", &["Select Two-Factor Method"]),
    ("Choose how you get your codes", &["Available Methods"]),
    ("Code", &["Authentication Code", "Passcode"]),
    ("Confirm it's you", &["Reauthenticate"]),
    (
        "Confirm it's you with your passkey",
        &["Reauthenticate Using a Passkey"],
    ),
    ("Continue", &["Submit"]),
    ("Create an account", &["Register"]),
    ("Current password", &["Password"]),
    ("Delete…", &["Delete"]),
    ("Email", &["Email Address"]),
    ("Email me a code", &["Send code via email"]),
    ("Email or username", &["Identity"]),
    ("Enter your code", &["Two-Factor Authentication"]),
    ("Forgot password", &["Send password reset instructions"]),
    (
        "Forgot username",
        &["Username Recovery", "Recover Username"],
    ),
    (
        "Forgot username?",
        &["Recover Username", "Username Recovery"],
    ),
    (
        "Forgot your username?",
        &["Username Recovery", "Recover Username"],
    ),
    (
        "Generate new recovery codes",
        &["Generate new Recovery Codes"],
    ),
    ("Get new recovery codes", &["Generate New Recovery Codes"]),
    ("Get recovery codes", &["Show Recovery Codes"]),
    ("Mail me a code instead", &["Send code via email"]),
    ("Manage passkeys", &["Passkey Setup"]),
    ("Manage sign-in options", &["Unified Signin Setup"]),
    ("Name", &["Nickname"]),
    ("New password", &["New Password"]),
    ("Nickname (e.g. “Work laptop”)", &["Nickname"]),
    ("None", &["none"]),
    ("Password or code", &["Code or Password"]),
    ("Phone number (for text messages only)", &["Phone Number"]),
    ("Recover password", &["Recover Password"]),
    ("Recovery code", &["Recovery Code"]),
    ("Recovery codes", &["Recovery Codes"]),
    ("Remember me", &["Remember Me"]),
    (
        "Resend confirmation",
        &[
            "Resend Confirmation Instructions",
            "Resend confirmation instructions",
        ],
    ),
    ("Retype new password", &["Retype Password"]),
    ("Retype password", &["Retype Password"]),
    ("Send a new code", &["Send Code"]),
    ("Send code", &["Send Code"]),
    ("Send me a code", &["Send Code"]),
    ("Send my username", &["Recover Username"]),
    (
        "Send the confirmation email again",
        &[
            "Resend Confirmation Instructions",
            "Resend confirmation instructions",
        ],
    ),
    ("Sign in", &["Sign In", "Login"]),
    ("Sign out?", &["Confirm Sign Out"]),
    (
        "Sign-in options",
        &["Unified Signin Setup", "Setup Unified Sign In"],
    ),
    (
        "Turn off two-factor sign-in",
        &["Disable two-factor authentication"],
    ),
    ("Turn on two-factor sign-in", &["Two-Factor Setup"]),
    ("Two-factor sign-in", &["Two-Factor Authentication"]),
    (
        "Use a passkey instead",
        &["Use a Passkey to Reauthenticate"],
    ),
    ("Use a recovery code", &["Enter Recovery Code"]),
    ("Used for", &["Usage"]),
    (
        "as a second factor, after my password",
        &["Use as a secondary authentication factor"],
    ),
    ("codes by email", &["email"]),
    ("codes by text message", &["SMS"]),
    ("password", &["Password"]),
    (
        "to sign in, instead of a password",
        &["Use as a first authentication factor"],
    ),
];

/// Flask-Security's msgids for the text Latchkey calls `msgid` (none when it has no row).
pub fn flask_equivalents(msgid: &str) -> &'static [&'static str] {
    EQUIVALENTS
        .binary_search_by(|(latchkey, _)| (*latchkey).cmp(msgid))
        .map_or(&[], |i| EQUIVALENTS[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_without_repeats_and_found_by_search() {
        for pair in EQUIVALENTS.windows(2) {
            assert!(
                pair[0].0 < pair[1].0,
                "{:?} before {:?}",
                pair[0].0,
                pair[1].0
            );
        }
        for (latchkey, flask) in EQUIVALENTS {
            assert_eq!(flask_equivalents(latchkey), *flask);
            assert!(!flask.is_empty() && !flask.contains(latchkey), "{latchkey}");
        }
        assert!(flask_equivalents("Not a text of Latchkey").is_empty());
    }
}
