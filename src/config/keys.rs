//! No silent typos: every `SECURITY_*` key set in the environment (or `.env`) is honoured,
//! known but not supported (with the reason), or unknown (with the nearest known key).
//!
//! The catalogue, [`keys.tsv`](keys.tsv), lists Flask-Security-Too's keys (its `core.py`
//! `_default_config`) and Latchkey's own; the book's table of keys is checked against it by
//! a test, and a test checks that the keys [`super::Settings::from_source`] reads are the
//! catalogue's honoured ones. `SECURITY_MSG_<NAME>` keys are checked against the message
//! names the caller passes (the catalogue of texts lives outside `config`).
//!
//! Flask-Security itself ignores a misspelt key. Latchkey says so at start-up, and in
//! production refuses to start unless `SECURITY_ALLOW_UNKNOWN_KEYS=true`.

use std::fmt;
use std::sync::OnceLock;

use super::source::{ConfigError, Source};

/// The key that lets production start with unknown `SECURITY_*` keys.
pub const ALLOW_UNKNOWN_KEYS: &str = "SECURITY_ALLOW_UNKNOWN_KEYS";

/// The prefix of every key checked here.
pub const PREFIX: &str = "SECURITY_";

/// The prefix of a message's replacement text (`SECURITY_MSG_INVALID_PASSWORD`).
pub const MESSAGE_PREFIX: &str = "SECURITY_MSG_";

/// How Latchkey treats one key of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// A Flask-Security key Latchkey reads, with Flask-Security's meaning.
    Honoured,
    /// A key of Latchkey's own (Flask-Security has none of that name).
    Latchkey,
    /// A Flask-Security key Latchkey does not read yet; it behaves as the reason says.
    Planned,
    /// A Flask-Security key Latchkey deliberately does not follow, for the reason given.
    Different,
    /// A Flask-Security key with no meaning for Latchkey (Python or Flask machinery, token
    /// salts, passlib's options...).
    NotApplicable,
}

impl Support {
    fn parse(word: &str) -> Option<Self> {
        [
            Self::Honoured,
            Self::Latchkey,
            Self::Planned,
            Self::Different,
            Self::NotApplicable,
        ]
        .into_iter()
        .find(|support| support.as_str() == word)
    }

    /// The catalogue's word for it ("not-applicable").
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Honoured => "honoured",
            Self::Latchkey => "latchkey",
            Self::Planned => "planned",
            Self::Different => "different",
            Self::NotApplicable => "not-applicable",
        }
    }

    /// Whether setting the key changes what Latchkey does.
    pub fn is_read(self) -> bool {
        matches!(self, Self::Honoured | Self::Latchkey)
    }
}

/// One key of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownKey {
    /// The key without `SECURITY_` ("LOGIN_URL").
    pub name: &'static str,
    pub support: Support,
    /// Why, for a key that is not read, or a read one whose default is not
    /// Flask-Security's ("" for the others).
    pub reason: &'static str,
    /// Flask-Security's default, as its `core.py` writes it ("" for Latchkey's own keys).
    pub flask_default: &'static str,
}

impl KnownKey {
    /// The full key ("SECURITY_LOGIN_URL").
    pub fn key(&self) -> String {
        format!("{PREFIX}{}", self.name)
    }

    /// Whether Flask-Security has the key (every key but Latchkey's own).
    pub fn is_flask_securitys(&self) -> bool {
        self.support != Support::Latchkey
    }
}

const CATALOGUE: &str = include_str!("keys.tsv");

/// Every key of the catalogue, in its order (Flask-Security's, then Latchkey's own).
pub fn catalogue() -> &'static [KnownKey] {
    static KEYS: OnceLock<Vec<KnownKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        CATALOGUE
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| {
                let mut columns = line.split('\t');
                let name = columns.next().unwrap_or_default();
                let support = columns.next().and_then(Support::parse);
                let reason = columns.next().unwrap_or_default();
                let flask_default = columns.next().unwrap_or_default();
                // The catalogue is part of the source and checked by a unit test: a line it
                // cannot read is a bug of this file, found before any build ships.
                let support = support.unwrap_or_else(|| panic!("keys.tsv: bad line {line:?}"));
                KnownKey {
                    name,
                    support,
                    reason,
                    flask_default,
                }
            })
            .collect()
    })
}

/// The catalogue's entry for `key` (with its `SECURITY_` prefix).
pub fn lookup(key: &str) -> Option<&'static KnownKey> {
    let name = key.strip_prefix(PREFIX)?;
    catalogue().iter().find(|known| known.name == name)
}

/// What one key set in the environment is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Read: it changes what Latchkey does.
    Honoured,
    /// Known, but not read: why, and (for Flask-Security's keys) how Latchkey behaves.
    NotSupported {
        support: Support,
        reason: &'static str,
    },
    /// Neither a key of the catalogue nor a known message: probably a typo.
    Unknown { nearest: Option<String> },
}

/// One `SECURITY_*` key found in the environment, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub key: String,
    pub verdict: Verdict,
}

impl fmt::Display for Verdict {
    /// What the key is, without its name ("unknown key, ignored; did you mean ...?").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Honoured => f.write_str("honoured"),
            Verdict::NotSupported { support, reason } => {
                let what = match support {
                    Support::Different => "deliberately different from Flask-Security",
                    Support::Planned => "not supported yet",
                    _ => "not applicable",
                };
                write!(f, "{what}, ignored. {reason}")
            }
            Verdict::Unknown {
                nearest: Some(near),
            } => write!(f, "unknown key, ignored; did you mean {near}?"),
            Verdict::Unknown { nearest: None } => f.write_str("unknown key, ignored"),
        }
    }
}

impl fmt::Display for Checked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.verdict)
    }
}

/// Every `SECURITY_*` key of `src` that has a value, in key order, with its verdict.
/// `messages` are the names a `SECURITY_MSG_<NAME>` key may have.
pub fn check(src: &Source, messages: &[&str]) -> Vec<Checked> {
    let mut keys: Vec<&str> = src.with_prefix(PREFIX).map(|(key, _)| key).collect();
    keys.sort_unstable();
    keys.into_iter()
        .map(|key| Checked {
            key: key.to_owned(),
            verdict: verdict(key, messages),
        })
        .collect()
}

fn verdict(key: &str, messages: &[&str]) -> Verdict {
    if let Some(name) = key.strip_prefix(MESSAGE_PREFIX) {
        if messages.contains(&name) {
            return Verdict::Honoured;
        }
        let nearest = nearest(name, messages.iter().copied(), 0.8)
            .map(|near| format!("{MESSAGE_PREFIX}{near}"))
            // A key that only starts like a message may be a misspelt setting.
            .or_else(|| nearest_key(key));
        return Verdict::Unknown { nearest };
    }
    match lookup(key) {
        Some(known) if known.support.is_read() => Verdict::Honoured,
        Some(known) => Verdict::NotSupported {
            support: known.support,
            reason: known.reason,
        },
        None => Verdict::Unknown {
            nearest: nearest_key(key),
        },
    }
}

/// The catalogue's key most like `key`, when one is close enough to be a likely typo.
fn nearest_key(key: &str) -> Option<String> {
    let name = key.strip_prefix(PREFIX).unwrap_or(key);
    nearest(name, catalogue().iter().map(|known| known.name), 0.8)
        .map(|near| format!("{PREFIX}{near}"))
}

fn nearest<'a>(name: &str, among: impl Iterator<Item = &'a str>, floor: f64) -> Option<&'a str> {
    among
        .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
        .filter(|(score, _)| *score >= floor)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// What production refuses: an unknown key, unless `SECURITY_ALLOW_UNKNOWN_KEYS=true`.
/// (Development only warns.)
pub fn refuse_unknown(src: &Source, checked: &[Checked]) -> Result<(), ConfigError> {
    if src.flag(ALLOW_UNKNOWN_KEYS, false)? {
        return Ok(());
    }
    match checked
        .iter()
        .find(|c| matches!(c.verdict, Verdict::Unknown { .. }))
    {
        None => Ok(()),
        Some(unknown) => Err(ConfigError::new(
            &unknown.key,
            format!(
                "{}; APP_ENV=production refuses unknown keys (fix or remove it, or set \
                 {ALLOW_UNKNOWN_KEYS}=true)",
                unknown.verdict
            ),
        )),
    }
}

/// The book's table of keys (`docs/flask-security-keys.md`, between its `keys:begin` and
/// `keys:end` markers): one row per key of the catalogue, with Flask-Security's default and
/// Latchkey's (`defaults`, as [`Source::defaults_read`] gives them; blank where a key has no
/// typed default).
pub fn markdown_table(defaults: &std::collections::BTreeMap<String, String>) -> String {
    let mut out = String::from(
        "| key | Flask-Security's default | Latchkey's default | Latchkey | why |\n\
         |---|---|---|---|---|\n",
    );
    let cell = |text: &str| text.replace('|', "\\|");
    for key in catalogue() {
        let support = match key.support {
            Support::Honoured => "honoured",
            Support::Latchkey => "Latchkey's own",
            Support::Planned => "not yet",
            Support::Different => "deliberately different",
            Support::NotApplicable => "not applicable",
        };
        let code = |text: &str| {
            if text.is_empty() {
                String::new()
            } else {
                format!("`{}`", cell(text))
            }
        };
        let ours = if key.support.is_read() {
            defaults
                .get(&key.key())
                .map_or_else(String::new, |d| code(d))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "| `{}` | {} | {ours} | {support} | {} |\n",
            key.key(),
            code(key.flask_default),
            cell(key.reason)
        ));
    }
    out
}

/// Whether two defaults say the same ("1 hour" and "1 hours", "120" seconds and
/// "120 seconds", "email, sms" and "email,sms").
pub fn same_default(flask: &str, ours: &str) -> bool {
    fn norm(text: &str) -> String {
        let text: String = text
            .to_ascii_lowercase()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let text = text.strip_suffix("seconds").unwrap_or(&text).to_owned();
        text.strip_suffix('s').map(str::to_owned).unwrap_or(text)
    }
    norm(flask) == norm(ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_of_the_catalogue_reads_and_no_key_is_listed_twice() {
        let keys = catalogue();
        let mut names: Vec<&str> = keys.iter().map(|k| k.name).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a key is listed twice");
        let flask = keys.iter().filter(|k| k.is_flask_securitys()).count();
        assert_eq!(
            flask, 255,
            "Flask-Security 5.9.2's _default_config has 255 keys"
        );
        for key in keys {
            assert!(
                key.name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "{key:?}"
            );
            assert!(
                key.support.is_read() || !key.reason.is_empty(),
                "a key not read says why: {key:?}"
            );
        }
    }

    fn verdicts(pairs: &[(&str, &str)]) -> Vec<String> {
        check(
            &Source::from_pairs(pairs.iter().copied()),
            &["INVALID_PASSWORD"],
        )
        .iter()
        .map(ToString::to_string)
        .collect()
    }

    #[test]
    fn a_key_is_honoured_unsupported_with_its_reason_or_unknown_with_the_nearest() {
        let lines = verdicts(&[
            ("SECURITY_REGISTERABLE", "true"),
            ("SECURITY_CONFIRM_SALT", "x"),
            ("SECURITY_REGISTERABEL", "true"),
            ("SECURITY_MSG_INVALID_PASSWORD", "Nope"),
            ("SECURITY_MSG_INVALID_PASWORD", "Nope"),
            ("SECURITY_WHATEVER_ZZZ", "1"),
            ("SECURITY_EMPTY", ""),
            ("OTHER_KEY", "1"),
        ]);
        assert_eq!(
            lines,
            [
                "SECURITY_CONFIRM_SALT: not applicable, ignored. Latchkey's tokens are random \
                 values stored as digests, not data signed with a salt.",
                "SECURITY_MSG_INVALID_PASSWORD: honoured",
                "SECURITY_MSG_INVALID_PASWORD: unknown key, ignored; did you mean \
                 SECURITY_MSG_INVALID_PASSWORD?",
                "SECURITY_REGISTERABEL: unknown key, ignored; did you mean SECURITY_REGISTERABLE?",
                "SECURITY_REGISTERABLE: honoured",
                "SECURITY_WHATEVER_ZZZ: unknown key, ignored",
            ]
        );
    }

    #[test]
    fn production_refuses_an_unknown_key_unless_allowed() {
        let src = Source::from_pairs([("SECURITY_LOGIN_URLL", "/signin")]);
        let checked = check(&src, &[]);
        let err = refuse_unknown(&src, &checked).unwrap_err();
        assert_eq!(err.key, "SECURITY_LOGIN_URLL");
        assert!(
            err.reason.contains("did you mean SECURITY_LOGIN_URL?"),
            "{err}"
        );
        assert!(err.reason.contains(ALLOW_UNKNOWN_KEYS), "{err}");

        let src = Source::from_pairs([
            ("SECURITY_LOGIN_URLL", "/signin"),
            (ALLOW_UNKNOWN_KEYS, "true"),
        ]);
        let checked = check(&src, &[]);
        assert!(refuse_unknown(&src, &checked).is_ok());
        let src = Source::from_pairs([("SECURITY_LOGIN_URL", "/signin")]);
        assert!(
            refuse_unknown(&src, &check(&src, &[])).is_ok(),
            "known, if not read"
        );
    }
}
