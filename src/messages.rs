//! The words users read, in one catalogue keyed by Flask-Security's English message ids
//! (msgids): every flash, form error and JSON error by Flask-Security's message name, and
//! every text of the pages and mails by its English wording. A gettext translation
//! (Flask-Security's own `.po`/`.mo` files, the app's, or the ones shipped in
//! `translations/`) translates them; `SECURITY_MSG_<NAME>` replaces one message in every
//! language (placeholders such as `%(email)s` as in Flask-Security).

pub mod language;
pub mod po;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub use language::Lang;
use po::Table;

/// One message: its Flask-Security name (the part after `SECURITY_MSG_`) and default text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Msg {
    pub name: &'static str,
    pub default: &'static str,
}

macro_rules! catalogue {
    ($($id:ident = $text:literal;)*) => {
        $(pub const $id: Msg = Msg { name: stringify!($id), default: $text };)*
        /// Every message, for configuration and documentation.
        pub const ALL: &[Msg] = &[$($id),*];
    };
}

catalogue! {
    ALREADY_CONFIRMED = "Your email has already been confirmed.";
    CONFIRM_REGISTRATION = "Thank you. To confirm your email address %(email)s, please click on the link in the email we have just sent to you.";
    CONFIRMATION_EXPIRED = "You did not confirm your email within %(within)s. ";
    CONFIRMATION_REQUEST = "Confirmation instructions have been sent to %(email)s.";
    CONFIRMATION_REQUIRED = "Email requires confirmation.";
    DISABLED_ACCOUNT = "Account is disabled.";
    EMAIL_ALREADY_ASSOCIATED = "%(email)s is already associated with an account.";
    EMAIL_CONFIRMED = "Thank you. Your email has been confirmed.";
    EMAIL_NOT_PROVIDED = "Email not provided";
    GENERIC_AUTHN_FAILED = "Authentication failed - identity or password/passcode invalid";
    GENERIC_RECOVERY = "If that email address is in our system, you will receive an email describing how to reset your password.";
    INVALID_CONFIRMATION_TOKEN = "Invalid confirmation token.";
    INVALID_EMAIL_ADDRESS = "Invalid email address";
    INVALID_PASSWORD = "Invalid password";
    INVALID_REDIRECT = "Redirections outside the domain are forbidden";
    INVALID_RESET_PASSWORD_TOKEN = "Invalid reset password token.";
    PASSWORD_BREACHED = "Password on breached list";
    PASSWORD_CHANGE = "You successfully changed your password.";
    PASSWORD_INVALID_LENGTH = "Password must be at least %(length)s characters";
    PASSWORD_IS_THE_SAME = "Your new password must be different than your previous password.";
    PASSWORD_NOT_PROVIDED = "Password not provided";
    PASSWORD_RESET = "You successfully reset your password and you have been logged in automatically.";
    PASSWORD_RESET_EXPIRED = "You did not reset your password within %(within)s. ";
    PASSWORD_RESET_NO_LOGIN = "You successfully reset your password. Please authenticate using your new password.";
    PASSWORD_RESET_REQUEST = "Instructions to reset your password have been sent to %(email)s.";
    REAUTHENTICATION_REQUIRED = "You must reauthenticate to access this endpoint";
    REAUTHENTICATION_SUCCESSFUL = "Reauthentication successful";
    IDENTITY_NOT_REGISTERED = "Identity %(id)s not registered";
    OAUTH_IDENTITY_LINKED = "Your %(provider)s account is linked: it can now sign you in.";
    OAUTH_IDENTITY_ALREADY_LINKED = "That %(provider)s account was linked to yours already.";
    OAUTH_IDENTITY_LINKED_ELSEWHERE = "That %(provider)s account is linked to another account.";
    OAUTH_IDENTITY_UNLINKED = "Your %(provider)s account is unlinked: it no longer signs you in.";
    OAUTH_NO_SUCH_IDENTITY = "That linked account does not exist.";
    OAUTH_LAST_WAY_IN = "That is the only way you can sign in: set a password or add another way first.";
    OAUTH_HANDSHAKE_ERROR = "An error occurred while communicating with the OAuth provider: (%(exerror)s - %(exdesc)s). Please try again.";
    SESSION_ENDED = "You signed out of that session.";
    OTHER_SESSIONS_ENDED = "You signed out of your other sessions (%(count)s).";
    TOO_MANY_ATTEMPTS = "Too many attempts. Please try again in %(wait)s.";
    PASSWORD_TOO_LONG = "Password must be at most %(length)s characters";
    PASSWORD_TOO_SIMPLE = "Password not complex enough";
    RETYPE_PASSWORD_MISMATCH = "Passwords do not match";
    CODE_HAS_BEEN_SENT = "Code has been sent.";
    INVALID_RECOVERY_CODE = "Recovery code invalid";
    NO_RECOVERY_CODES_SETUP = "No recovery codes generated yet";
    PHONE_INVALID = "Phone number not valid e.g. missing country code";
    TWO_FACTOR_CHANGE_METHOD_SUCCESSFUL = "You successfully changed your two-factor method.";
    TWO_FACTOR_DISABLED = "You successfully disabled two-factor authorization.";
    TWO_FACTOR_INVALID_TOKEN = "Invalid code";
    TWO_FACTOR_LOGIN_SUCCESSFUL = "Your code has been confirmed";
    TWO_FACTOR_METHOD_NOT_AVAILABLE = "Marked method is not valid";
    TWO_FACTOR_PERMISSION_DENIED = "You currently do not have permissions to access this page";
    TWO_FACTOR_SETUP_EXPIRED = "Setup must be completed within %(within)s. Please start over.";
    TWO_FACTOR_SETUP_REQUIRED = "You must set up a second factor before you can sign in.";
    UNAUTHENTICATED = "You must sign in to view this resource.";
    UNAUTHORIZED = "You do not have permission to view this resource.";
    USER_DOES_NOT_EXIST = "Specified user does not exist";
    USERNAME_ALREADY_ASSOCIATED = "%(username)s is already associated with an account.";
    USERNAME_ILLEGAL_CHARACTERS = "Username contains illegal characters";
    USERNAME_MIXED_SCRIPTS = "Username mixes letters of different scripts";
    USERNAME_INVALID_LENGTH = "Username must be at least %(min)d characters and less than %(max)d characters";
    USERNAME_NOT_PROVIDED = "Username not provided";
    API_ERROR = "Input not appropriate for requested API";
    ANONYMOUS_USER_REQUIRED = "You can only access this endpoint when not logged in.";
    INVALID_INPUT_LENGTH = "Value entered must be less than %(length) characters";
    GENERIC_US_SIGNIN = "If that identity is in our system, you were sent a code.";
    IDENTITY_ALREADY_ASSOCIATED = "Identity attribute '%(attr)s' with value '%(value)s' is already associated with an account.";
    INVALID_PASSWORD_CODE = "Password or code submitted is not valid";
    PASSWORDLESS_LOGIN_SUCCESSFUL = "You have successfully logged in.";
    US_CURRENT_METHODS = "Currently active sign in options: %(method_list)s.";
    US_METHOD_NOT_AVAILABLE = "Requested method is not valid";
    US_SETUP_EXPIRED = "Setup must be completed within %(within)s. Please start over.";
    US_SETUP_SUCCESSFUL = "Unified sign in setup successful";
    US_SPECIFY_IDENTITY = "You must specify a valid identity to sign in";
    CHANGE_EMAIL_EXPIRED = "Confirmation must be completed within %(within)s. Please start over.";
    CHANGE_EMAIL_CONFIRMED = "Change of email address confirmed";
    CHANGE_EMAIL_SENT = "Instructions to confirm your new email address have been sent to %(email)s.";
    CHANGE_EMAIL_INVALID = "This email change link is not valid, or was already used.";
    CHANGE_EMAIL_REVERTED = "Your account is locked: every sign-in has ended. Instructions to choose a new password have been sent to %(email)s.";
    CHANGE_EMAIL_REVERT_INVALID = "This link is not valid, has expired, or was already used.";
    REFRESH_TOKEN_INVALID = "Refresh token is invalid (%(reason)s)";
    API_TOKEN_ENDED = "You revoked that API token.";
    USERNAME_CHANGE = "You successfully changed your username";
    USERNAME_RECOVERY_REQUEST = "If registered, your username will be sent to your email.";
    WEBAUTHN_EXPIRED = "Passkey operations must be completed within %(within)s. Please start over.";
    WEBAUTHN_NAME_REQUIRED = "Nickname for new passkey is required.";
    WEBAUTHN_NAME_INUSE = "%(name)s is already associated with a passkey.";
    WEBAUTHN_NAME_NOT_FOUND = "%(name)s not registered with current user.";
    WEBAUTHN_NAME_DISALLOWED_CHARACTERS = "Passkey nicknames can contain only letters, numbers, and limited punctuation.";
    WEBAUTHN_CREDENTIAL_DELETED = "Successfully deleted the passkey with name: %(name)s";
    WEBAUTHN_REGISTER_SUCCESSFUL = "Successfully added the passkey with name: %(name)s";
    WEBAUTHN_CREDENTIAL_ID_INUSE = "Passkey already registered.";
    WEBAUTHN_UNKNOWN_CREDENTIAL_ID = "Unregistered passkey.";
    WEBAUTHN_ORPHAN_CREDENTIAL_ID = "Passkey doesn't belong to any user.";
    WEBAUTHN_NO_VERIFY = "Could not verify passkey: %(cause)s.";
    WEBAUTHN_CREDENTIAL_WRONG_USAGE = "Passkey not registered for this use (first or secondary)";
    WEBAUTHN_MISMATCH_USER_HANDLE = "Credential user handle didn't match";
    WEBAUTHN_POSSIBLE_CLONE = "This passkey's signature counter went backwards: it may have been copied. Sign in another way and check your passkeys.";
    WEBAUTHN_LAST_SIGN_IN_METHOD = "This passkey is the only way into your account: set a password or add another passkey first.";
}

/// A refusal that knows which message describes it.
pub trait Described {
    /// The message and its placeholder values.
    fn described(&self) -> (Msg, Vec<(&'static str, String)>);
}

/// A `SECURITY_MSG_<NAME>` replacement that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct OverrideError {
    pub key: String,
    pub reason: String,
}

/// Translations shipped with Latchkey, compiled in (`translations/<lang>.po`).
const SHIPPED: &[(&str, &str)] = &[
    ("de", include_str!("../translations/de.po")),
    ("fr", include_str!("../translations/fr.po")),
];

/// The shipped translations, parsed once.
fn shipped() -> &'static BTreeMap<String, Table> {
    static PARSED: OnceLock<BTreeMap<String, Table>> = OnceLock::new();
    PARSED.get_or_init(|| {
        SHIPPED
            .iter()
            .map(|(lang, source)| {
                // A unit test parses them: a broken one never leaves the repository.
                let table =
                    po::parse_po(source).unwrap_or_else(|e| panic!("translations/{lang}.po: {e}"));
                ((*lang).to_owned(), table)
            })
            .collect()
    })
}

/// A translation file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct TranslationError {
    pub path: String,
    pub reason: String,
}

/// Everything a text can come from, shared by every language's view.
#[derive(Debug, Clone)]
struct Catalogue {
    /// `SECURITY_MSG_<NAME>` replacements: they win over every translation.
    replaced: HashMap<&'static str, String>,
    /// Translations by language tag, msgid → text: the shipped ones with the files of
    /// `SECURITY_I18N_DIRNAME` merged over them.
    tables: BTreeMap<String, Table>,
    default_lang: Lang,
}

/// The texts users read, in one language: Flask-Security's messages by name (with
/// `SECURITY_MSG_<NAME>` replacements) and any other text by its English msgid, translated
/// by the catalogue. Cheap to clone; [`Messages::in_language`] gives another language's view.
#[derive(Debug, Clone)]
pub struct Messages {
    catalogue: Arc<Catalogue>,
    lang: Lang,
}

impl Default for Messages {
    /// English by default, with the shipped translations and no replacements.
    fn default() -> Self {
        Self {
            catalogue: Arc::new(Catalogue {
                replaced: HashMap::new(),
                tables: shipped().clone(),
                default_lang: Lang::english(),
            }),
            lang: Lang::english(),
        }
    }
}

impl Messages {
    /// The defaults, each replaced by what `setting` gives for its `SECURITY_MSG_<NAME>` key.
    pub fn with_overrides<'a>(
        setting: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Self, OverrideError> {
        let mut replaced = HashMap::new();
        for msg in ALL {
            let key = format!("SECURITY_MSG_{}", msg.name);
            if let Some(text) = setting(&key) {
                check_placeholders(msg, text).map_err(|reason| OverrideError {
                    key: key.clone(),
                    reason,
                })?;
                replaced.insert(msg.name, text.to_owned());
            }
        }
        let mut messages = Self::default();
        Arc::make_mut(&mut messages.catalogue).replaced = replaced;
        Ok(messages)
    }

    /// Merges the gettext catalogues of `dirs` (Flask's layout:
    /// `<dir>/<lang>/LC_MESSAGES/<domain>.mo` or `.po`) over the shipped translations; a
    /// later folder wins over an earlier one. `builtin` (Flask-Security's name for its own
    /// translations) stands for the shipped ones. A folder that cannot be read or a file that
    /// cannot be parsed is an error naming it.
    pub fn with_translation_dirs(
        mut self,
        dirs: &[PathBuf],
        domain: &str,
    ) -> Result<Self, TranslationError> {
        let catalogue = Arc::make_mut(&mut self.catalogue);
        for dir in dirs {
            if dir.as_os_str() == "builtin" {
                continue;
            }
            let unreadable = |path: &Path, e: std::io::Error| TranslationError {
                path: path.display().to_string(),
                reason: e.to_string(),
            };
            let mut languages: Vec<(Lang, PathBuf)> = std::fs::read_dir(dir)
                .map_err(|e| unreadable(dir, e))?
                .filter_map(Result::ok)
                .filter_map(|entry| {
                    let lang = Lang::parse(entry.file_name().to_str()?)?;
                    Some((lang, entry.path()))
                })
                .collect();
            languages.sort();
            for (lang, folder) in languages {
                let base = folder.join("LC_MESSAGES").join(domain);
                let mo = base.with_extension("mo");
                let po = base.with_extension("po");
                let table = if mo.is_file() {
                    let bytes = std::fs::read(&mo).map_err(|e| unreadable(&mo, e))?;
                    po::parse_mo(&bytes)
                } else if po.is_file() {
                    let text = std::fs::read_to_string(&po).map_err(|e| unreadable(&po, e))?;
                    po::parse_po(&text)
                } else {
                    continue;
                };
                let path = if mo.is_file() { mo } else { po };
                let table = table.map_err(|e| TranslationError {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                catalogue
                    .tables
                    .entry(lang.as_str().to_owned())
                    .or_default()
                    .extend(table);
            }
        }
        Ok(self)
    }

    /// The language used when a request names none the catalogue has.
    pub fn with_default_language(mut self, lang: Lang) -> Self {
        Arc::make_mut(&mut self.catalogue).default_lang = lang.clone();
        self.lang = lang;
        self
    }

    /// The same texts in `lang`.
    pub fn in_language(&self, lang: &Lang) -> Self {
        Self {
            catalogue: Arc::clone(&self.catalogue),
            lang: lang.clone(),
        }
    }

    /// The language of this view.
    pub fn lang(&self) -> &Lang {
        &self.lang
    }

    pub fn default_language(&self) -> &Lang {
        &self.catalogue.default_lang
    }

    /// Every language there are texts for: English, the default, and each translation.
    pub fn languages(&self) -> Vec<Lang> {
        let mut all: Vec<Lang> = self
            .catalogue
            .tables
            .keys()
            .filter_map(|tag| Lang::parse(tag))
            .chain([Lang::english(), self.catalogue.default_lang.clone()])
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The language for a request: the `lang` cookie, else `Accept-Language`, else the
    /// default (see [`language::choose`]).
    pub fn choose_language(&self, cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        language::choose(
            cookie,
            accept_language,
            &self.languages(),
            &self.catalogue.default_lang,
        )
    }

    /// `msgid` in this view's language (itself when no translation has it).
    pub fn gettext<'a>(&'a self, msgid: &'a str) -> &'a str {
        self.lookup(&self.lang, msgid)
    }

    /// `msgid` in `lang`.
    pub fn lookup<'a>(&'a self, lang: &Lang, msgid: &'a str) -> &'a str {
        lang.fallbacks()
            .find_map(|tag| self.catalogue.tables.get(tag)?.get(msgid))
            .map_or(msgid, String::as_str)
    }

    /// Whether a translation for `lang` (or its primary language) has `msgid`.
    pub fn has_translation(&self, lang: &Lang, msgid: &str) -> bool {
        lang.fallbacks().any(|tag| {
            self.catalogue
                .tables
                .get(tag)
                .is_some_and(|t| t.contains_key(msgid))
        })
    }

    /// `msgid` translated, with `%(name)s` placeholders filled from `args`.
    pub fn translate(&self, msgid: &str, args: &[(&str, &str)]) -> String {
        fill(self.gettext(msgid), args)
    }

    /// The text of `msg` with `%(name)s` placeholders filled from `args`: its
    /// `SECURITY_MSG_<NAME>` replacement, else its translation, else Flask-Security's text.
    pub fn text(&self, msg: Msg, args: &[(&str, &str)]) -> String {
        let template = self
            .catalogue
            .replaced
            .get(msg.name)
            .map_or_else(|| self.gettext(msg.default), String::as_str);
        fill(template, args)
    }

    /// The text for a refusal that names its own message.
    pub fn describe(&self, refusal: &impl Described) -> String {
        let (msg, args) = refusal.described();
        let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.text(msg, &args)
    }

    /// "5 minutes", "2 hours", "30 seconds" in this view's language.
    pub fn period(&self, period: std::time::Duration) -> String {
        let (n, one, many) = period_parts(period);
        let num = n.to_string();
        self.translate(if n == 1 { one } else { many }, &[("num", &num)])
    }
}

/// The placeholders (`%(name)s` or `%(name)d`) of a template, in order.
fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("%(") {
        let after = &rest[start + 2..];
        match after.find(')') {
            Some(end) => {
                names.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    names
}

/// Placeholders that Latchkey fills beyond those of Flask-Security's text (the address the
/// new instructions went to).
const EXTRA_PLACEHOLDERS: &[(&str, &[&str])] = &[
    ("CONFIRMATION_EXPIRED", &["email"]),
    ("PASSWORD_RESET_EXPIRED", &["email"]),
    // The older wording's bare number ("… in %(seconds)s seconds."), still filled.
    ("TOO_MANY_ATTEMPTS", &["seconds"]),
];

/// A replacement may drop placeholders but not invent ones the code never fills.
fn check_placeholders(msg: &Msg, text: &str) -> Result<(), String> {
    let mut known = placeholders(msg.default);
    known.extend(
        EXTRA_PLACEHOLDERS
            .iter()
            .filter(|(name, _)| *name == msg.name)
            .flat_map(|(_, extra)| extra.iter().copied()),
    );
    match placeholders(text).into_iter().find(|p| !known.contains(p)) {
        None => Ok(()),
        Some(unknown) => Err(format!(
            "unknown placeholder %({unknown})s; this message offers {}",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known
                    .iter()
                    .map(|k| format!("%({k})s"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )),
    }
}

/// `template` with its `%(name)s` / `%(name)d` placeholders replaced by `args`; one without
/// a value is left as it is.
pub fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find("%(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find(')') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &after[..end];
        // The conversion letter (`s`, `d`) follows the closing parenthesis.
        let tail = &after[end + 1..];
        let tail = tail.strip_prefix(['s', 'd']).unwrap_or(tail);
        match args.iter().find(|(k, _)| *k == name) {
            Some((_, value)) => out.push_str(value),
            None => out.push_str(&rest[start..rest.len() - tail.len()]),
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// "5 minutes", "2 hours", "30 seconds": a validity period in English words.
pub fn describe_period(period: std::time::Duration) -> String {
    let (n, one, many) = period_parts(period);
    fill(if n == 1 { one } else { many }, &[("num", &n.to_string())])
}

/// The number and the singular and plural msgids of a period's largest whole unit.
fn period_parts(period: std::time::Duration) -> (u64, &'static str, &'static str) {
    let secs = period.as_secs();
    if secs.is_multiple_of(86400) && secs >= 86400 {
        (secs / 86400, "%(num)s day", "%(num)s days")
    } else if secs.is_multiple_of(3600) && secs >= 3600 {
        (secs / 3600, "%(num)s hour", "%(num)s hours")
    } else if secs.is_multiple_of(60) && secs >= 60 {
        (secs / 60, "%(num)s minute", "%(num)s minutes")
    } else {
        (secs, "%(num)s second", "%(num)s seconds")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(pairs: &[(&'static str, &'static str)]) -> Result<Messages, OverrideError> {
        Messages::with_overrides(|key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v))
    }

    #[test]
    fn defaults_are_flask_security_wording_with_placeholders_filled() {
        let m = Messages::default();
        assert_eq!(
            m.text(PASSWORD_RESET_REQUEST, &[("email", "a@b.example")]),
            "Instructions to reset your password have been sent to a@b.example."
        );
        assert_eq!(
            m.text(USERNAME_INVALID_LENGTH, &[("min", "4"), ("max", "32")]),
            "Username must be at least 4 characters and less than 32 characters"
        );
    }

    #[test]
    fn a_security_msg_key_replaces_the_text() {
        let m = messages(&[
            ("SECURITY_MSG_INVALID_PASSWORD", "Mot de passe invalide"),
            (
                "SECURITY_MSG_CONFIRMATION_REQUEST",
                "Sent to %(email)s, check it.",
            ),
        ])
        .unwrap();
        assert_eq!(m.text(INVALID_PASSWORD, &[]), "Mot de passe invalide");
        assert_eq!(
            m.text(CONFIRMATION_REQUEST, &[("email", "x@y.example")]),
            "Sent to x@y.example, check it."
        );
        assert_eq!(m.text(DISABLED_ACCOUNT, &[]), "Account is disabled.");
    }

    #[test]
    fn an_unknown_placeholder_is_a_configuration_error_naming_the_key() {
        let err = messages(&[("SECURITY_MSG_INVALID_PASSWORD", "Bad %(pasword)s")]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("SECURITY_MSG_INVALID_PASSWORD"), "{text}");
        assert!(text.contains("%(pasword)s"), "{text}");
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = ALL.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }

    #[test]
    fn unfilled_and_malformed_placeholders_are_left_visible() {
        assert_eq!(fill("a %(x)s b", &[]), "a %(x)s b");
        assert_eq!(fill("a %(x b", &[("x", "1")]), "a %(x b");
        assert_eq!(fill("%(x)d%%", &[("x", "5")]), "5%%");
    }

    #[test]
    fn the_shipped_translations_parse_and_cover_every_message() {
        for (lang, _) in SHIPPED {
            let table = &shipped()[*lang];
            for msg in ALL {
                let text = table
                    .get(msg.default)
                    .unwrap_or_else(|| panic!("translations/{lang}.po lacks {}", msg.name));
                assert_ne!(text, msg.default, "{lang}: {} is untranslated", msg.name);
            }
        }
    }

    #[test]
    fn shipped_translations_use_only_their_msgids_placeholders() {
        for (lang, _) in SHIPPED {
            for (msgid, text) in &shipped()[*lang] {
                let known = placeholders(msgid);
                for p in placeholders(text) {
                    assert!(known.contains(&p), "{lang}: {text:?} invents %({p})s");
                }
            }
        }
    }

    fn lang(tag: &str) -> Lang {
        Lang::parse(tag).unwrap()
    }

    #[test]
    fn a_message_is_translated_and_an_override_wins_over_every_translation() {
        let m = Messages::default().in_language(&lang("de"));
        assert_eq!(m.text(INVALID_PASSWORD, &[]), "Falsches Passwort");
        assert_eq!(
            m.in_language(&lang("fr-CA")).text(INVALID_PASSWORD, &[]),
            "Mot de passe incorrect",
            "a region falls back to its language"
        );
        let m = messages(&[("SECURITY_MSG_INVALID_PASSWORD", "Nope")]).unwrap();
        for tag in ["en", "de", "fr"] {
            assert_eq!(
                m.in_language(&lang(tag)).text(INVALID_PASSWORD, &[]),
                "Nope"
            );
        }
        assert_eq!(
            m.in_language(&lang("de"))
                .period(std::time::Duration::from_secs(300)),
            "5 Minuten"
        );
        assert_eq!(
            describe_period(std::time::Duration::from_secs(86400)),
            "1 day"
        );
    }

    #[test]
    fn folders_in_flasks_layout_are_merged_later_ones_winning() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let write = |dir: &Path, lang: &str, file: &str, body: &[u8]| {
            let folder = dir.join(lang).join("LC_MESSAGES");
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(folder.join(file), body).unwrap();
        };
        let po = |text: &str| format!("msgid \"Invalid password\"\nmsgstr \"{text}\"\n");
        write(
            first.path(),
            "de_DE",
            "flask_security.po",
            po("Erstes").as_bytes(),
        );
        write(
            first.path(),
            "eo",
            "flask_security.po",
            po("Malĝusta pasvorto").as_bytes(),
        );
        write(
            second.path(),
            "de_DE",
            "flask_security.po",
            po("Zweites").as_bytes(),
        );
        write(
            second.path(),
            "de_DE",
            "other.po",
            po("Andere Domain").as_bytes(),
        );
        let m = Messages::default()
            .with_translation_dirs(
                &[
                    PathBuf::from("builtin"),
                    first.path().to_owned(),
                    second.path().to_owned(),
                ],
                "flask_security",
            )
            .unwrap();
        let text = |tag: &str| m.in_language(&lang(tag)).text(INVALID_PASSWORD, &[]);
        assert_eq!(text("de-de"), "Zweites");
        assert_eq!(
            text("de"),
            "Falsches Passwort",
            "the shipped German is untouched"
        );
        assert_eq!(text("eo"), "Malĝusta pasvorto");
        assert!(m.languages().contains(&lang("eo")));
        assert_eq!(
            m.choose_language(None, Some("eo;q=0.9, ja;q=0.8")).as_str(),
            "eo"
        );

        write(
            second.path(),
            "fr",
            "flask_security.po",
            b"msgid \"x\"\nmsgstr \"\\q\"\n",
        );
        let err = Messages::default()
            .with_translation_dirs(&[second.path().to_owned()], "flask_security")
            .unwrap_err()
            .to_string();
        assert!(err.contains("fr/LC_MESSAGES/flask_security.po"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        let missing = Messages::default()
            .with_translation_dirs(&[PathBuf::from("/nonexistent/i18n")], "flask_security")
            .unwrap_err();
        assert!(
            missing.to_string().starts_with("/nonexistent/i18n"),
            "{missing}"
        );
    }
}
