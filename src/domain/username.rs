//! Usernames (`SECURITY_USERNAME_ENABLE`): Flask-Security's rules, letters and digits only,
//! `SECURITY_USERNAME_MIN_LENGTH` to `SECURITY_USERNAME_MAX_LENGTH` characters (4 to 32 by
//! default) after NFKD: the [`UsernamePolicy`] passed in.

use std::fmt;
use unicode_normalization::UnicodeNormalization;

use super::lookalike;
pub use crate::config::UsernamePolicy;
use crate::messages::{self, Described, Msg};

/// A valid username: stored and compared case-folded ([`Username::as_str`]); the form as
/// typed (NFKD) is kept to find accounts adopted from a database that stored it as typed.
#[derive(Clone)]
pub struct Username {
    folded: String,
    typed: String,
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
            UsernameError::Characters => (messages::USERNAME_ILLEGAL_CHARACTERS, vec![]),
            UsernameError::MixedScripts => (messages::USERNAME_MIXED_SCRIPTS, vec![]),
        }
    }
}

impl Username {
    /// A new username, checked against the configured lengths.
    pub fn parse(raw: &str, policy: &UsernamePolicy) -> Result<Self, UsernameError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(UsernameError::Missing);
        }
        let too_long = UsernameError::Length {
            min: policy.min_length,
            max: policy.max_length,
        };
        if raw.len() > 4 * policy.max_length {
            return Err(too_long);
        }
        let name: String = raw.nfkd().collect();
        let len = name.chars().count();
        if !(policy.min_length..=policy.max_length).contains(&len) {
            return Err(too_long);
        }
        if !name
            .chars()
            .all(|c| c.is_alphanumeric() || unicode_normalization::char::is_combining_mark(c))
            // Marks that show nothing, or that have nothing to combine with.
            || lookalike::invisible_char(&name).is_some()
            || lookalike::starts_with_mark(&name)
        {
            return Err(UsernameError::Characters);
        }
        if lookalike::mixes_scripts(&name) {
            return Err(UsernameError::MixedScripts);
        }
        Ok(Username {
            folded: lookalike::fold_case(&name).nfkd().collect(),
            typed: name,
        })
    }

    /// An existing username (typed at login, or stored), of any length up to
    /// [`crate::config::MAX_USERNAME_LENGTH`]: an account registered under other length
    /// limits is still found.
    pub fn existing(raw: &str) -> Result<Self, UsernameError> {
        Self::parse(raw, &UsernamePolicy::any_length())
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
            UsernameError::Characters
        );
        assert_eq!(
            Username::parse("a@b.com", &p).unwrap_err(),
            UsernameError::Characters
        );
        assert_eq!(Username::parse("", &p).unwrap_err(), UsernameError::Missing);
    }

    #[test]
    fn look_alike_usernames_are_refused_and_case_is_folded() {
        let p = UsernamePolicy::default();
        assert_eq!(
            Username::parse("ad\u{034F}min", &p).unwrap_err(),
            UsernameError::Characters,
            "a combining grapheme joiner shows nothing"
        );
        assert_eq!(
            Username::parse("\u{0301}admin", &p).unwrap_err(),
            UsernameError::Characters
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
        };
        assert!(Username::parse("ab", &p).is_ok());
        assert_eq!(
            Username::parse("abcdef", &p).unwrap_err(),
            UsernameError::Length { min: 2, max: 5 }
        );
        assert!(Username::existing("ab").is_ok(), "looked up at any length");
    }
}
