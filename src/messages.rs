//! The words users read, in one catalogue keyed by Flask-Security's English message ids
//! (msgids): every flash, form error and JSON error by Flask-Security's message name, and
//! every text of the pages and mails by its English wording. A gettext translation
//! (Flask-Security's own `.po`/`.mo` files, the app's, or the ones shipped in
//! `translations/`) translates them; `SECURITY_MSG_<NAME>` replaces one message in every
//! language (placeholders such as `%(email)s` as in Flask-Security).

pub mod flask_msgids;
pub mod language;
pub mod plural;
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
    USERNAME_DISALLOWED_CHARACTERS = "Username can contain only letters and numbers";
    USERNAME_ILLEGAL_CHARACTERS = "Username contains illegal characters";
    USERNAME_MIXED_SCRIPTS = "Username mixes letters of different scripts";
    USERNAME_INVALID_LENGTH = "Username must be at least %(min)d characters and less than %(max)d characters";
    USERNAME_NOT_PROVIDED = "Username not provided";
    API_ERROR = "Input not appropriate for requested API";
    ANONYMOUS_USER_REQUIRED = "You can only access this endpoint when not logged in.";
    INVALID_INPUT = "Value entered is not valid for the field";
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
fn shipped() -> &'static (BTreeMap<String, Table>, BTreeMap<String, LangPlurals>) {
    static PARSED: OnceLock<(BTreeMap<String, Table>, BTreeMap<String, LangPlurals>)> =
        OnceLock::new();
    PARSED.get_or_init(|| {
        let (mut tables, mut plurals) = (BTreeMap::new(), BTreeMap::new());
        for (lang, source) in SHIPPED {
            // A unit test parses them: a broken one never leaves the repository.
            let parsed = po::parse_po(source)
                .map_err(MergeError::from)
                .and_then(|parsed| merge(&mut tables, &mut plurals, lang, parsed))
                .map_err(|e| format!("translations/{lang}.po: {e}"));
            if let Err(e) = parsed {
                panic!("{e}");
            }
        }
        (tables, plurals)
    })
}

/// One language's plural entries and its `Plural-Forms` (text and parsed).
#[derive(Debug, Clone)]
struct LangPlurals {
    rule: Option<(String, plural::PluralRule)>,
    entries: po::Plurals,
}

/// Why a catalogue file cannot be merged.
#[derive(Debug, thiserror::Error)]
enum MergeError {
    #[error(transparent)]
    Po(#[from] po::PoError),
    #[error(transparent)]
    Plural(#[from] plural::PluralError),
}

/// Merges one catalogue file of `lang` over what the language has: its entries win, and its
/// `Plural-Forms` (when it has one) replaces the language's.
fn merge(
    tables: &mut BTreeMap<String, Table>,
    plurals: &mut BTreeMap<String, LangPlurals>,
    lang: &str,
    parsed: po::Parsed,
) -> Result<(), MergeError> {
    let rule = match parsed.plural_forms {
        Some(text) => Some((plural::PluralRule::parse(&text)?, text)),
        None => None,
    };
    tables
        .entry(lang.to_owned())
        .or_default()
        .extend(parsed.table);
    if rule.is_none() && parsed.plurals.is_empty() {
        return Ok(());
    }
    let language = plurals
        .entry(lang.to_owned())
        .or_insert_with(|| LangPlurals {
            rule: None,
            entries: po::Plurals::new(),
        });
    if let Some((rule, text)) = rule {
        language.rule = Some((text, rule));
    }
    language.entries.extend(parsed.plurals);
    Ok(())
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
    /// Plural entries and the `Plural-Forms` that chooses among them, by language tag.
    plurals: BTreeMap<String, LangPlurals>,
    default_lang: Lang,
    /// The languages offered (see [`Catalogue::offered`]), kept because every request
    /// chooses among them.
    languages: Vec<Lang>,
}

impl Catalogue {
    /// Every language with a translation, English and the default, sorted: made again
    /// whenever the tables or the default change.
    fn offered(&self) -> Vec<Lang> {
        let mut all: Vec<Lang> = self
            .tables
            .keys()
            .filter_map(|tag| Lang::parse(tag))
            .chain([Lang::english(), self.default_lang.clone()])
            .collect();
        all.sort();
        all.dedup();
        all
    }

    fn refresh_languages(&mut self) {
        self.languages = self.offered();
    }
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
            catalogue: Arc::new({
                let mut catalogue = Catalogue {
                    replaced: HashMap::new(),
                    tables: shipped().0.clone(),
                    plurals: shipped().1.clone(),
                    default_lang: Lang::english(),
                    languages: Vec::new(),
                };
                catalogue.refresh_languages();
                catalogue
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
                table
                    .map_err(MergeError::from)
                    .and_then(|parsed| {
                        merge(
                            &mut catalogue.tables,
                            &mut catalogue.plurals,
                            lang.as_str(),
                            parsed,
                        )
                    })
                    .map_err(|e| TranslationError {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    })?;
            }
        }
        catalogue.refresh_languages();
        Ok(self)
    }

    /// The language used when a request names none the catalogue has.
    pub fn with_default_language(mut self, lang: Lang) -> Self {
        let catalogue = Arc::make_mut(&mut self.catalogue);
        catalogue.default_lang = lang.clone();
        catalogue.refresh_languages();
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
        self.catalogue.languages.clone()
    }

    /// The language for a request: the `lang` cookie, else the languages of
    /// `Accept-Language` (best first), else the default (see [`language::choose`]).
    pub fn choose_language(&self, cookie: Option<&str>, accepted: &[Lang]) -> Lang {
        language::choose(
            cookie,
            accepted,
            &self.catalogue.languages,
            &self.catalogue.default_lang,
        )
    }

    /// `msgid` in this view's language (itself when no translation has it).
    pub fn gettext<'a>(&'a self, msgid: &'a str) -> &'a str {
        self.lookup(&self.lang, msgid)
    }

    /// The form of a plural text for `n` in this view's language: `one` and `many` are the
    /// English msgids (`msgid` and `msgid_plural`). A translation's plural entry gives the
    /// form that its language's `Plural-Forms` expression picks (Polish and Russian have
    /// three, Arabic six; English's `n != 1` without the header); without one, English's
    /// rule picks the msgid, which is then translated as a text of its own.
    pub fn ngettext<'a>(&'a self, one: &'a str, many: &'a str, n: u64) -> &'a str {
        let found = self.lang.fallbacks().find_map(|tag| {
            let language = self.catalogue.plurals.get(tag)?;
            Some((language, language.entries.get(one)?))
        });
        if let Some((language, entry)) = found {
            let index = language
                .rule
                .as_ref()
                .map_or_else(|| english_plural_index(n), |(_, rule)| rule.index(n));
            if let Some(form) = entry.forms.get(index) {
                return form;
            }
        }
        self.gettext(english_plural(one, many, n))
    }

    /// The `Plural-Forms` of `lang`'s translation (or its primary language's), if it has one.
    pub fn plural_forms(&self, lang: &Lang) -> Option<&str> {
        lang.fallbacks().find_map(|tag| {
            let (text, _) = self.catalogue.plurals.get(tag)?.rule.as_ref()?;
            Some(text.as_str())
        })
    }

    /// `msgid` in `lang`: its translation, else (a Flask-Security catalogue knows Latchkey's
    /// texts by Flask-Security's words) the translation of the first of
    /// [`flask_msgids::flask_equivalents`] that has one, else `msgid` itself.
    pub fn lookup<'a>(&'a self, lang: &Lang, msgid: &'a str) -> &'a str {
        self.translated(lang, msgid)
            .or_else(|| {
                flask_msgids::flask_equivalents(msgid)
                    .iter()
                    .find_map(|flask| self.translated(lang, flask))
            })
            .unwrap_or(msgid)
    }

    /// The translation of exactly `msgid` in `lang` or its primary language.
    fn translated(&self, lang: &Lang, msgid: &str) -> Option<&str> {
        lang.fallbacks()
            .find_map(|tag| self.catalogue.tables.get(tag)?.get(msgid))
            .map(String::as_str)
    }

    /// Whether a translation for `lang` (or its primary language) has exactly `msgid`.
    pub fn has_translation(&self, lang: &Lang, msgid: &str) -> bool {
        self.translated(lang, msgid).is_some()
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
        fill(self.ngettext(one, many, n), &[("num", &num)])
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
    fill(english_plural(one, many, n), &[("num", &n.to_string())])
}

/// English's plural rule (`n != 1`, GNU gettext's default): the index of the form.
fn english_plural_index(n: u64) -> usize {
    static ENGLISH: OnceLock<plural::PluralRule> = OnceLock::new();
    ENGLISH.get_or_init(plural::PluralRule::english).index(n)
}

/// English's plural rule applied to the English msgids.
fn english_plural<'a>(one: &'a str, many: &'a str, n: u64) -> &'a str {
    if english_plural_index(n) == 0 {
        one
    } else {
        many
    }
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
            let table = &shipped().0[*lang];
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
            for (msgid, text) in &shipped().0[*lang] {
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
    fn a_flask_security_catalogue_translates_latchkeys_words_through_its_own_msgids() {
        let dir = tempfile::tempdir().unwrap();
        for (tag, body) in [
            (
                "ja_JP",
                "msgid \"Remember Me\"\nmsgstr \"次回以降ログインを省略する\"\n\n\
                 msgid \"Login\"\nmsgstr \"ログイン\"\n",
            ),
            // German: Latchkey's own translation of its own msgid wins over Flask's.
            ("de_DE", "msgid \"Remember Me\"\nmsgstr \"Erinnern\"\n"),
        ] {
            let folder = dir.path().join(tag).join("LC_MESSAGES");
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(folder.join("flask_security.po"), body).unwrap();
        }
        let m = Messages::default()
            .with_translation_dirs(&[dir.path().to_owned()], "flask_security")
            .unwrap();
        let ja = lang("ja-jp");
        assert_eq!(m.lookup(&ja, "Remember me"), "次回以降ログインを省略する");
        // "Sign in" is Flask-Security's "Sign In", else its "Login": the first one translated.
        assert_eq!(m.lookup(&ja, "Sign in"), "ログイン");
        assert_eq!(
            m.lookup(&ja, "Sign out"),
            "Sign out",
            "no equivalent: English"
        );
        assert_eq!(
            m.lookup(&lang("de-de"), "Remember me"),
            "Angemeldet bleiben"
        );
        assert_eq!(m.lookup(&Lang::english(), "Remember me"), "Remember me");
        assert!(
            !m.has_translation(&ja, "Remember me"),
            "only exactly the msgid"
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
            m.choose_language(None, &[lang("eo"), lang("ja")]).as_str(),
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

    /// A catalogue with the plural entry for minutes and the given header.
    fn plural_catalogue(dir: &Path, lang: &str, header: Option<&str>, forms: &[&str]) {
        let folder = dir.join(lang).join("LC_MESSAGES");
        std::fs::create_dir_all(&folder).unwrap();
        let mut po = String::from(
            "msgid \"\"\nmsgstr \"\"\n\"Content-Type: text/plain; charset=UTF-8\\n\"\n",
        );
        if let Some(rule) = header {
            po.push_str(&format!("\"Plural-Forms: {rule}\\n\"\n"));
        }
        po.push_str("\nmsgid \"%(num)s minute\"\nmsgid_plural \"%(num)s minutes\"\n");
        for (i, form) in forms.iter().enumerate() {
            po.push_str(&format!("msgstr[{i}] \"{form}\"\n"));
        }
        std::fs::write(folder.join("flask_security.po"), po).unwrap();
    }

    const POLISH: &str =
        "nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);";
    const RUSSIAN: &str = "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);";

    #[test]
    fn plural_forms_are_chosen_by_the_catalogues_plural_forms_expression() {
        let dir = tempfile::tempdir().unwrap();
        let polish = ["%(num)s minuta", "%(num)s minuty", "%(num)s minut"];
        let russian = ["%(num)s минута", "%(num)s минуты", "%(num)s минут"];
        plural_catalogue(dir.path(), "pl", Some(POLISH), &polish);
        plural_catalogue(dir.path(), "ru", Some(RUSSIAN), &russian);
        let m = Messages::default()
            .with_translation_dirs(&[dir.path().to_owned()], "flask_security")
            .unwrap();
        let minutes = |tag: &str, n: u64| {
            m.in_language(&lang(tag))
                .period(std::time::Duration::from_secs(60 * n))
        };
        for (n, pl, ru) in [
            (1, "1 minuta", "1 минута"),
            (2, "2 minuty", "2 минуты"),
            (5, "5 minut", "5 минут"),
            (11, "11 minut", "11 минут"),
            (12, "12 minut", "12 минут"),
            (21, "21 minut", "21 минута"),
            (22, "22 minuty", "22 минуты"),
            (25, "25 minut", "25 минут"),
            (101, "101 minut", "101 минута"),
            (112, "112 minut", "112 минут"),
        ] {
            assert_eq!(minutes("pl", n), pl, "Polish, {n}");
            assert_eq!(minutes("pl-PL", n), pl, "a region falls back, {n}");
            assert_eq!(minutes("ru", n), ru, "Russian, {n}");
        }
        assert_eq!(m.plural_forms(&lang("pl")), Some(POLISH));
        // German (shipped): n != 1; French (shipped): n > 1, so 0 is singular; English.
        assert_eq!(minutes("de", 1), "1 Minute");
        let minute = |tag: &str, n: u64| {
            m.in_language(&lang(tag))
                .ngettext("%(num)s minute", "%(num)s minutes", n)
                .to_owned()
        };
        assert_eq!(minute("de", 0), "%(num)s Minuten");
        assert_eq!(minute("fr", 0), "%(num)s minute");
        assert_eq!(minutes("fr", 2), "2 minutes");
        assert_eq!(minutes("en", 1), "1 minute");
        assert_eq!(minutes("en", 21), "21 minutes");
        // A text without a plural entry in the language keeps English's rule, each form
        // translated as a msgid of its own.
        assert_eq!(
            m.in_language(&lang("pl"))
                .period(std::time::Duration::from_secs(7200)),
            "2 hours"
        );
    }

    #[test]
    fn a_later_file_without_a_header_keeps_the_languages_plural_forms_and_a_bad_one_is_refused() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        // The expression comes from the first folder (as Flask-Security's catalogue gives it),
        // the forms from the app's own catalogue merged over it.
        plural_catalogue(first.path(), "ru", Some(RUSSIAN), &["x", "y", "z"]);
        plural_catalogue(
            second.path(),
            "ru",
            None,
            &["%(num)s минута", "%(num)s минуты", "%(num)s минут"],
        );
        let m = Messages::default()
            .with_translation_dirs(
                &[first.path().to_owned(), second.path().to_owned()],
                "flask_security",
            )
            .unwrap()
            .in_language(&lang("ru"));
        assert_eq!(
            m.period(std::time::Duration::from_secs(60 * 22)),
            "22 минуты"
        );
        assert_eq!(
            m.period(std::time::Duration::from_secs(60 * 25)),
            "25 минут"
        );

        let bad = tempfile::tempdir().unwrap();
        plural_catalogue(
            bad.path(),
            "pl",
            Some("nplurals=3; plural=(n==1 ? 0 :;"),
            &["a", "b", "c"],
        );
        let err = Messages::default()
            .with_translation_dirs(&[bad.path().to_owned()], "flask_security")
            .unwrap_err()
            .to_string();
        assert!(err.contains("pl/LC_MESSAGES/flask_security.po"), "{err}");
        assert!(err.contains("Plural-Forms"), "{err}");
    }
}
