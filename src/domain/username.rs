//! Usernames (`SECURITY_USERNAME_ENABLE`): Flask-Security's rules, the [`UsernamePolicy`]
//! passed in: characters of `SECURITY_USERNAME_ALLOWED_CHARS` (letters and digits by
//! default) as typed, then normalised (`SECURITY_INPUT_NORMALIZE_FORM`, NFKD by default),
//! `SECURITY_USERNAME_MIN_LENGTH` to `SECURITY_USERNAME_MAX_LENGTH` characters (4 to 32 by
//! default) after normalising.

use std::fmt;

use super::lookalike;
pub use crate::config::UsernamePolicy;
use crate::config::{checked_input, InputRefusal, NormalizeForm};
use crate::messages::{self, Described, Msg};

/// A valid username: stored and compared case-folded ([`Username::as_str`]); the form as
/// typed (normalised) is kept to find accounts adopted from a database that stored it as
/// typed.
#[derive(Clone)]
pub struct Username {
    folded: String,
    typed: String,
    /// The policy it was read with, to read stored usernames alike ([`Username::like`]).
    policy: UsernamePolicy,
}

impl PartialEq for Username {
    fn eq(&self, other: &Self) -> bool {
        self.folded == other.folded
    }
}

impl Eq for Username {}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("Username not provided")]
    Missing,
    #[error("Username must be at least {min} characters and less than {max} characters")]
    Length { min: usize, max: usize },
    /// Markup, or what Flask-Security's HTML sanitiser would change.
    #[error("Value entered is not valid for the field")]
    Invalid,
    /// A character outside `SECURITY_USERNAME_ALLOWED_CHARS`.
    #[error("Username can contain only letters and numbers")]
    Disallowed,
    /// Allowed characters that show nothing, or a mark with nothing to combine with.
    #[error("Username contains illegal characters")]
    Characters,
    #[error("Username mixes letters of different scripts")]
    MixedScripts,
}

impl Described for UsernameError {
    fn described(&self) -> (Msg, Vec<(&'static str, String)>) {
        match self {
            UsernameError::Missing => (messages::USERNAME_NOT_PROVIDED, vec![]),
            UsernameError::Length { min, max } => (
                messages::USERNAME_INVALID_LENGTH,
                vec![("min", min.to_string()), ("max", max.to_string())],
            ),
            UsernameError::Invalid => (messages::INVALID_INPUT, vec![]),
            UsernameError::Disallowed => (messages::USERNAME_DISALLOWED_CHARACTERS, vec![]),
            UsernameError::Characters => (messages::USERNAME_ILLEGAL_CHARACTERS, vec![]),
            UsernameError::MixedScripts => (messages::USERNAME_MIXED_SCRIPTS, vec![]),
        }
    }
}

impl Username {
    /// A new username, checked against the policy: as Flask-Security's `input_svn`, trimmed,
    /// its characters checked as typed, then normalised and its length counted.
    pub fn parse(raw: &str, policy: &UsernamePolicy) -> Result<Self, UsernameError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(UsernameError::Missing);
        }
        let too_long = UsernameError::Length {
            min: policy.min_length,
            max: policy.max_length,
        };
        // Cheap bound before normalising (composing joins at most a few code points).
        if raw.len() > 16 * policy.max_length {
            return Err(too_long);
        }
        let name = checked_input(raw, policy.allowed, policy.form).map_err(|e| match e {
            InputRefusal::Illegal => UsernameError::Invalid,
            InputRefusal::Unallowed => UsernameError::Disallowed,
        })?;
        let len = name.chars().count();
        if !(policy.min_length..=policy.max_length).contains(&len) {
            return Err(too_long);
        }
        // Latchkey's own, whatever the allowed characters: marks that show nothing, or that
        // have nothing to combine with, and mixed scripts.
        if lookalike::invisible_char(&name).is_some() || lookalike::starts_with_mark(&name) {
            return Err(UsernameError::Characters);
        }
        if lookalike::mixes_scripts(&name) {
            return Err(UsernameError::MixedScripts);
        }
        Ok(Username {
            folded: NormalizeForm::normalize(policy.form, &lookalike::fold_case(&name)),
            typed: name,
            policy: *policy,
        })
    }

    /// An existing username (typed at login, or stored), read with `policy`'s characters and
    /// form at any length up to [`crate::config::MAX_USERNAME_LENGTH`]: an account
    /// registered under other length limits is still found.
    pub fn existing(raw: &str, policy: &UsernamePolicy) -> Result<Self, UsernameError> {
        Self::parse(raw, &policy.any_length())
    }

    /// A stored username read with the policy this one was read with, to compare the two.
    pub fn like(&self, stored: &str) -> Option<Self> {
        Self::existing(stored, &self.policy).ok()
    }

    /// The username as stored and compared: case-folded.
    pub fn as_str(&self) -> &str {
        &self.folded
    }

    /// The username as typed (NFKD).
    pub fn as_typed(&self) -> &str {
        &self.typed
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.folded)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({:?})", self.folded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_flask_security_rules() {
        let p = UsernamePolicy::default();
        assert!(Username::parse("alice99", &p).is_ok());
        assert_eq!(
            Username::parse("abc", &p).unwrap_err(),
            UsernameError::Length { min: 4, max: 32 }
        );
        assert_eq!(
            Username::parse(&"a".repeat(33), &p).unwrap_err(),
            UsernameError::Length { min: 4, max: 32 }
        );
        assert_eq!(
            Username::parse("bad name", &p).unwrap_err(),
            UsernameError::Disallowed
        );
        assert_eq!(
            Username::parse("a@b.com", &p).unwrap_err(),
            UsernameError::Disallowed
        );
        assert_eq!(Username::parse("", &p).unwrap_err(), UsernameError::Missing);
        // What Flask-Security's HTML sanitiser would change is refused before the categories.
        for name in ["<b>bob", "bob&co", "bob\u{A0}co"] {
            assert_eq!(
                Username::parse(name, &p).unwrap_err(),
                UsernameError::Invalid,
                "{name:?}"
            );
        }
    }

    #[test]
    fn look_alike_usernames_are_refused_and_case_is_folded() {
        let p = UsernamePolicy::default();
        // A combining grapheme joiner (Mn) shows nothing; a mark with nothing before it.
        // Neither is a letter or number; with any character allowed they are still refused.
        let any = UsernamePolicy { allowed: None, ..p };
        for name in ["ad\u{034F}min", "\u{0301}admin", "ad\u{3164}min"] {
            assert_eq!(
                Username::parse(name, &any).unwrap_err(),
                UsernameError::Characters,
                "{name:?}"
            );
        }
        assert_eq!(
            Username::parse("ad\u{034F}min", &p).unwrap_err(),
            UsernameError::Disallowed
        );
        assert_eq!(
            Username::parse("ad\u{3164}min", &p).unwrap_err(),
            UsernameError::Characters,
            "the Hangul filler is a letter (Lo) that shows nothing"
        );
        assert_eq!(
            Username::parse("\u{0430}dmin", &p).unwrap_err(),
            UsernameError::MixedScripts,
            "a Cyrillic а among Latin letters"
        );
        assert!(Username::parse("админ", &p).is_ok(), "one script is fine");
        let upper = Username::parse("Ädmin", &p).unwrap();
        assert_eq!(upper, Username::parse("ädmin", &p).unwrap());
        assert_eq!(
            upper.as_str(),
            Username::parse("ädmin", &p).unwrap().as_str()
        );
        assert_eq!(Username::parse("Alice99", &p).unwrap().as_str(), "alice99");
        assert_eq!(
            Username::parse("Alice99", &p).unwrap().as_typed(),
            "Alice99"
        );
    }

    #[test]
    fn the_lengths_are_the_policys() {
        let p = UsernamePolicy {
            min_length: 2,
            max_length: 5,
            ..UsernamePolicy::default()
        };
        assert!(Username::parse("ab", &p).is_ok());
        assert_eq!(
            Username::parse("abcdef", &p).unwrap_err(),
            UsernameError::Length { min: 2, max: 5 }
        );
        assert!(
            Username::existing("abcdef", &p).is_ok(),
            "looked up at any length"
        );
    }

    #[test]
    fn characters_are_checked_as_typed_then_normalised_in_the_policys_form() {
        let p = UsernamePolicy::default();
        // Precomposed é is a letter; typed decomposed, its accent (Mn) is not.
        let name = Username::parse("José", &p).unwrap();
        assert_eq!(name.as_typed(), "Jose\u{301}");
        assert_eq!(
            Username::parse("Jose\u{301}", &p).unwrap_err(),
            UsernameError::Disallowed
        );
        let nfc = UsernamePolicy {
            form: Some(NormalizeForm::Nfc),
            ..p
        };
        assert_eq!(Username::parse("José", &nfc).unwrap().as_typed(), "José");
        assert_eq!(Username::parse("ﬁona", &p).unwrap().as_typed(), "fiona");
        // NFC keeps the ligature, which UTS #39 counts as no identifier letter: refused by
        // Latchkey's look-alike check (as any compatibility character NFC keeps).
        assert_eq!(
            Username::parse("ﬁona", &nfc).unwrap_err(),
            UsernameError::MixedScripts
        );
        // Length is counted after normalising: ① (No) is one character either way.
        let dashes = UsernamePolicy {
            allowed: crate::config::Categories::parse(&["L", "N", "Pd"]).ok(),
            ..p
        };
        assert!(Username::parse("ann-marie", &dashes).is_ok());
        assert_eq!(
            Username::parse("ann_marie", &dashes).unwrap_err(),
            UsernameError::Disallowed
        );
        // A stored name is read alike: the same folded form.
        let typed = Username::parse("Fiona", &nfc).unwrap();
        assert!(typed.like("fiona").is_some_and(|stored| stored == typed));
    }

    #[test]
    fn the_disallowed_message_is_flask_securitys() {
        assert_eq!(
            crate::messages::Messages::default().describe(&UsernameError::Disallowed),
            "Username can contain only letters and numbers"
        );
    }
}
