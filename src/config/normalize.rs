//! Unicode normalisation and allowed characters of typed input, as Flask-Security 5.9 reads
//! them: `SECURITY_PASSWORD_NORMALIZE_FORM` (passwords, before hashing and checking),
//! `SECURITY_INPUT_NORMALIZE_FORM` (usernames and passkey names), and the Unicode general
//! categories a username (`SECURITY_USERNAME_ALLOWED_CHARS`) or a passkey name
//! (`SECURITY_WAN_NAME_ALLOWED_CHARS`) may be made of. Applied by `domain::Password`,
//! `domain::Username` and the passkeys' name check, in Flask-Security's order
//! (`input_svn`): trim, check the categories of the text as typed, then normalise.

use std::fmt;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use super::source::{ConfigError, Source};

/// A Unicode normalisation form (Python's `unicodedata.normalize` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormalizeForm {
    Nfc,
    Nfd,
    Nfkc,
    Nfkd,
}

impl NormalizeForm {
    /// Flask-Security's default for both keys.
    pub const DEFAULT: Option<Self> = Some(Self::Nfkd);

    /// `NFC`, `NFD`, `NFKC` or `NFKD` (any case).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_uppercase().as_str() {
            "NFC" => Some(Self::Nfc),
            "NFD" => Some(Self::Nfd),
            "NFKC" => Some(Self::Nfkc),
            "NFKD" => Some(Self::Nfkd),
            _ => None,
        }
    }

    pub fn apply(self, text: &str) -> String {
        match self {
            Self::Nfc => text.nfc().collect(),
            Self::Nfd => text.nfd().collect(),
            Self::Nfkc => text.nfkc().collect(),
            Self::Nfkd => text.nfkd().collect(),
        }
    }

    /// `text` in `form`, or as it is when `form` is `None` (the key set to nothing).
    pub fn normalize(form: Option<Self>, text: &str) -> String {
        match form {
            Some(form) => form.apply(text),
            None => text.to_owned(),
        }
    }
}

impl fmt::Display for NormalizeForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Nfc => "NFC",
            Self::Nfd => "NFD",
            Self::Nfkc => "NFKC",
            Self::Nfkd => "NFKD",
        })
    }
}

/// Every general category with its two-letter name, as Python's `unicodedata.category`.
const CATEGORIES: [(GeneralCategory, &str); 30] = [
    (GeneralCategory::UppercaseLetter, "Lu"),
    (GeneralCategory::LowercaseLetter, "Ll"),
    (GeneralCategory::TitlecaseLetter, "Lt"),
    (GeneralCategory::ModifierLetter, "Lm"),
    (GeneralCategory::OtherLetter, "Lo"),
    (GeneralCategory::NonspacingMark, "Mn"),
    (GeneralCategory::SpacingMark, "Mc"),
    (GeneralCategory::EnclosingMark, "Me"),
    (GeneralCategory::DecimalNumber, "Nd"),
    (GeneralCategory::LetterNumber, "Nl"),
    (GeneralCategory::OtherNumber, "No"),
    (GeneralCategory::ConnectorPunctuation, "Pc"),
    (GeneralCategory::DashPunctuation, "Pd"),
    (GeneralCategory::OpenPunctuation, "Ps"),
    (GeneralCategory::ClosePunctuation, "Pe"),
    (GeneralCategory::InitialPunctuation, "Pi"),
    (GeneralCategory::FinalPunctuation, "Pf"),
    (GeneralCategory::OtherPunctuation, "Po"),
    (GeneralCategory::MathSymbol, "Sm"),
    (GeneralCategory::CurrencySymbol, "Sc"),
    (GeneralCategory::ModifierSymbol, "Sk"),
    (GeneralCategory::OtherSymbol, "So"),
    (GeneralCategory::SpaceSeparator, "Zs"),
    (GeneralCategory::LineSeparator, "Zl"),
    (GeneralCategory::ParagraphSeparator, "Zp"),
    (GeneralCategory::Control, "Cc"),
    (GeneralCategory::Format, "Cf"),
    (GeneralCategory::Surrogate, "Cs"),
    (GeneralCategory::PrivateUse, "Co"),
    (GeneralCategory::Unassigned, "Cn"),
];

/// A set of Unicode general categories, given as Flask-Security gives them: each entry a
/// major category ("L") or a full one ("Pd"), matched as a prefix of the character's
/// two-letter category.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Categories(u32);

impl Categories {
    /// Letters and numbers (`["L", "N"]`), Flask-Security's default for usernames.
    pub const LETTERS_AND_NUMBERS: Self = Self(0b111_0001_1111);

    /// The categories named by `entries`; `Err` names the first entry that matches none.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let mut bits = 0u32;
        for entry in entries {
            let entry = entry.as_ref();
            let matched = CATEGORIES
                .iter()
                .enumerate()
                .filter(|(_, (_, name))| name.starts_with(entry))
                .fold(0u32, |acc, (i, _)| acc | (1 << i));
            if matched == 0 {
                return Err(entry.to_owned());
            }
            bits |= matched;
        }
        Ok(Self(bits))
    }

    /// Whether `c`'s general category is one of these.
    pub fn allows(self, c: char) -> bool {
        let category = c.general_category();
        CATEGORIES
            .iter()
            .position(|(gc, _)| *gc == category)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }

    /// Whether every character of `text` is allowed.
    pub fn allow_all(self, text: &str) -> bool {
        text.chars().all(|c| self.allows(c))
    }
}

impl fmt::Debug for Categories {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = CATEGORIES
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, (_, name))| *name)
            .collect();
        write!(f, "Categories({})", names.join(","))
    }
}

/// Whether a value means "none" (Flask-Security's `None`, an empty list, no value).
fn is_none(raw: &str) -> bool {
    matches!(
        raw.trim().to_ascii_lowercase().as_str(),
        "" | "none" | "null" | "false" | "[]"
    )
}

/// A normalisation-form key: `NFC`, `NFD`, `NFKC` or `NFKD` (default NFKD); empty or `None`
/// for no normalisation.
fn form(src: &Source, key: &str) -> Result<Option<NormalizeForm>, ConfigError> {
    if src.is_set_empty(key) {
        return Ok(None);
    }
    match src.text(key, "NFKD") {
        raw if is_none(raw) => Ok(None),
        raw => NormalizeForm::parse(raw).map(Some).ok_or_else(|| {
            ConfigError::new(
                key,
                format!("expected NFC, NFD, NFKC, NFKD or None, got {raw:?}"),
            )
        }),
    }
}

/// `SECURITY_PASSWORD_NORMALIZE_FORM`.
pub(super) fn password_form(src: &Source) -> Result<Option<NormalizeForm>, ConfigError> {
    form(src, "SECURITY_PASSWORD_NORMALIZE_FORM")
}

/// `SECURITY_INPUT_NORMALIZE_FORM`.
pub(super) fn input_form(src: &Source) -> Result<Option<NormalizeForm>, ConfigError> {
    form(src, "SECURITY_INPUT_NORMALIZE_FORM")
}

/// A list of categories: a JSON list (`["L", "N"]`, as Flask-Security's Python list) or a
/// comma list (`L, N`); empty, `[]` or `None` allows every character.
fn categories(src: &Source, key: &str, default: &str) -> Result<Option<Categories>, ConfigError> {
    if src.is_set_empty(key) {
        return Ok(None);
    }
    // Read as a comma list first, which also records the default for the book.
    let comma = src.list(key, default);
    let raw = src.get(key).unwrap_or(default);
    if is_none(raw) {
        return Ok(None);
    }
    let entries: Vec<String> = if raw.trim_start().starts_with('[') {
        serde_json::from_str(raw).map_err(|_| {
            ConfigError::new(
                key,
                format!(
                    "expected a JSON list of Unicode categories such as [\"L\", \"N\"], got {raw:?}"
                ),
            )
        })?
    } else {
        comma
    };
    if entries.is_empty() {
        return Ok(None);
    }
    Categories::parse(&entries).map(Some).map_err(|entry| {
        ConfigError::new(
            key,
            format!(
                "{entry:?} is not a Unicode general category (such as L, N, Lu, Pd, Zs; \
                 see Python's unicodedata.category)"
            ),
        )
    })
}

/// `SECURITY_USERNAME_ALLOWED_CHARS` (letters and numbers by default).
pub(super) fn username_allowed(src: &Source) -> Result<Option<Categories>, ConfigError> {
    categories(src, "SECURITY_USERNAME_ALLOWED_CHARS", "L, N")
}

/// `SECURITY_WAN_NAME_ALLOWED_CHARS` (letters, numbers, connector and dash punctuation,
/// spaces by default).
pub(super) fn wan_name_allowed(src: &Source) -> Result<Option<Categories>, ConfigError> {
    categories(src, "SECURITY_WAN_NAME_ALLOWED_CHARS", "L, N, Pc, Pd, Zs")
}

/// Why [`checked_input`] refused a text, in Flask-Security's words (`input_svn`'s reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputRefusal {
    /// HTML sanitising would change it (`"illegal"`: Flask-Security's `INVALID_INPUT`).
    Illegal,
    /// A character outside the allowed categories (`"unallowed"`).
    Unallowed,
}

/// Whether `nh3.clean(text, tags=set())` (Flask-Security's sanitiser) would change `text`:
/// it drops NUL and markup, turns CR into LF, and writes `<`, `>`, `&` and U+00A0 as
/// entities; the entities it writes itself (`&amp;`, `&lt;`, `&gt;`, `&nbsp;`) come back
/// unchanged. (Measured against nh3 with every code point up to U+3000.)
fn changed_by_sanitiser(text: &str) -> bool {
    text.char_indices().any(|(i, c)| match c {
        '\0' | '\r' | '<' | '>' | '\u{A0}' => true,
        '&' => !["&amp;", "&lt;", "&gt;", "&nbsp;"]
            .iter()
            .any(|entity| text[i..].starts_with(entity)),
        _ => false,
    })
}

/// Flask-Security's `input_svn`: `raw` trimmed, refused when HTML sanitising would change it
/// or when a character is outside `allowed` (checked before normalising, as Flask-Security
/// does), then normalised in `form`.
pub fn checked_input(
    raw: &str,
    allowed: Option<Categories>,
    form: Option<NormalizeForm>,
) -> Result<String, InputRefusal> {
    let trimmed = raw.trim();
    if changed_by_sanitiser(trimmed) {
        return Err(InputRefusal::Illegal);
    }
    if allowed.is_some_and(|allowed| !allowed.allow_all(trimmed)) {
        return Err(InputRefusal::Unallowed);
    }
    Ok(NormalizeForm::normalize(form, trimmed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(pairs: &[(&str, &str)]) -> Source {
        Source::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn forms_default_to_nfkd_and_may_be_none() {
        assert_eq!(password_form(&src(&[])).unwrap(), Some(NormalizeForm::Nfkd));
        assert_eq!(input_form(&src(&[])).unwrap(), Some(NormalizeForm::Nfkd));
        for (value, expected) in [
            ("NFC", Some(NormalizeForm::Nfc)),
            ("nfd", Some(NormalizeForm::Nfd)),
            ("NFKC", Some(NormalizeForm::Nfkc)),
            ("", None),
            ("None", None),
        ] {
            let s = src(&[
                ("SECURITY_PASSWORD_NORMALIZE_FORM", value),
                ("SECURITY_INPUT_NORMALIZE_FORM", value),
            ]);
            assert_eq!(password_form(&s).unwrap(), expected, "{value:?}");
            assert_eq!(input_form(&s).unwrap(), expected, "{value:?}");
        }
    }

    #[test]
    fn a_bad_form_name_is_an_error_naming_the_key() {
        for key in [
            "SECURITY_PASSWORD_NORMALIZE_FORM",
            "SECURITY_INPUT_NORMALIZE_FORM",
        ] {
            let s = src(&[(key, "NFX")]);
            let err = password_form(&s).and(input_form(&s)).unwrap_err();
            assert_eq!(err.key, key);
            assert!(err.reason.contains("NFX"), "{}", err.reason);
        }
    }

    #[test]
    fn categories_are_prefixes_read_from_json_or_commas() {
        let default = username_allowed(&src(&[])).unwrap().unwrap();
        assert_eq!(default, Categories::LETTERS_AND_NUMBERS);
        assert_eq!(Categories::parse(&["L", "N"]), Ok(default));
        assert!(default.allow_all("Zoë42"));
        assert!(!default.allows(' ') && !default.allows('_') && !default.allows('\u{0301}'));
        let wan = wan_name_allowed(&src(&[])).unwrap().unwrap();
        assert!(wan.allow_all("yubi-key_2 nfc") && !wan.allows('\''));
        for value in [r#"["L", "N", "Pd"]"#, "L,N,Pd", " L , N, Pd "] {
            let s = src(&[("SECURITY_USERNAME_ALLOWED_CHARS", value)]);
            let c = username_allowed(&s).unwrap().unwrap();
            assert!(c.allow_all("ann-marie") && !c.allows('_'), "{value:?}");
        }
        let only_upper = Categories::parse(&["Lu"]).unwrap();
        assert!(only_upper.allows('A') && !only_upper.allows('a'));
        for value in ["", "[]", "None"] {
            let s = src(&[("SECURITY_WAN_NAME_ALLOWED_CHARS", value)]);
            assert_eq!(wan_name_allowed(&s).unwrap(), None, "{value:?}");
        }
    }

    #[test]
    fn a_bad_category_is_an_error_naming_the_key() {
        for (key, value) in [
            ("SECURITY_USERNAME_ALLOWED_CHARS", r#"["L", "Q"]"#),
            ("SECURITY_USERNAME_ALLOWED_CHARS", "L, Nx"),
            ("SECURITY_WAN_NAME_ALLOWED_CHARS", "Letters"),
            ("SECURITY_WAN_NAME_ALLOWED_CHARS", r#"["L""#),
        ] {
            let s = src(&[(key, value)]);
            let err = username_allowed(&s).and(wan_name_allowed(&s)).unwrap_err();
            assert_eq!(err.key, key, "{value:?}");
        }
    }

    #[test]
    fn categories_are_checked_before_normalising() {
        let ln = Categories::parse(&["L", "N"]).unwrap();
        // Precomposed é is a letter; decomposed, its accent is a mark (Mn) and refused.
        let ok = |raw, allowed, form| checked_input(raw, allowed, form).ok();
        assert_eq!(
            ok(" é ", Some(ln), NormalizeForm::DEFAULT).as_deref(),
            Some("e\u{0301}")
        );
        assert_eq!(
            checked_input("e\u{0301}", Some(ln), None),
            Err(InputRefusal::Unallowed)
        );
        assert_eq!(
            ok("ﬁ", Some(ln), Some(NormalizeForm::Nfc)).as_deref(),
            Some("ﬁ")
        );
        assert_eq!(
            ok("ﬁ", Some(ln), Some(NormalizeForm::Nfkc)).as_deref(),
            Some("fi")
        );
        assert_eq!(ok("a b", None, None).as_deref(), Some("a b"));
    }

    #[test]
    fn what_flask_securitys_sanitiser_would_change_is_illegal_first() {
        for raw in [
            "a<b", "a>b", "a&b", "a & b", "a\u{A0}b", "a\rb", "a\0b", "&copy;",
        ] {
            assert_eq!(
                checked_input(raw, None, None),
                Err(InputRefusal::Illegal),
                "{raw:?}"
            );
        }
        // Before the categories: `<` is also outside L and N, but the reason is the markup.
        assert_eq!(
            checked_input("<b>", Some(Categories::LETTERS_AND_NUMBERS), None),
            Err(InputRefusal::Illegal)
        );
        for raw in ["a\"b", "it's", "a=b", "&amp; &lt; &gt; &nbsp;", "a\tb"] {
            assert_eq!(
                checked_input(raw, None, None).as_deref(),
                Ok(raw),
                "{raw:?}"
            );
        }
    }
}
