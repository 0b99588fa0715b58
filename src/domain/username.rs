//! Usernames (`SECURITY_USERNAME_ENABLE`): Flask-Security's rules, letters and digits only,
//! 4 to 32 characters after NFKD.

use std::fmt;
use unicode_normalization::UnicodeNormalization;

use super::lookalike;
use crate::messages::{self, Described, Msg};

pub const MIN_LEN: usize = 4;
pub const MAX_LEN: usize = 32;

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
    #[error("Username must be at least {MIN_LEN} characters and less than {MAX_LEN} characters")]
    Length,
    #[error("Username contains illegal characters")]
    Characters,
    #[error("Username mixes letters of different scripts")]
    MixedScripts,
}

impl Described for UsernameError {
    fn described(&self) -> (Msg, Vec<(&'static str, String)>) {
        match self {
            UsernameError::Missing => (messages::USERNAME_NOT_PROVIDED, vec![]),
            UsernameError::Length => (
                messages::USERNAME_INVALID_LENGTH,
                vec![("min", MIN_LEN.to_string()), ("max", MAX_LEN.to_string())],
            ),
            UsernameError::Characters => (messages::USERNAME_ILLEGAL_CHARACTERS, vec![]),
            UsernameError::MixedScripts => (messages::USERNAME_MIXED_SCRIPTS, vec![]),
        }
    }
}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(UsernameError::Missing);
        }
        if raw.len() > 4 * MAX_LEN {
            return Err(UsernameError::Length);
        }
        let name: String = raw.nfkd().collect();
        let len = name.chars().count();
        if !(MIN_LEN..=MAX_LEN).contains(&len) {
            return Err(UsernameError::Length);
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
        assert!(Username::parse("alice99").is_ok());
        assert_eq!(Username::parse("abc").unwrap_err(), UsernameError::Length);
        assert_eq!(
            Username::parse(&"a".repeat(33)).unwrap_err(),
            UsernameError::Length
        );
        assert_eq!(
            Username::parse("bad name").unwrap_err(),
            UsernameError::Characters
        );
        assert_eq!(
            Username::parse("a@b.com").unwrap_err(),
            UsernameError::Characters
        );
        assert_eq!(Username::parse("").unwrap_err(), UsernameError::Missing);
    }

    #[test]
    fn look_alike_usernames_are_refused_and_case_is_folded() {
        assert_eq!(
            Username::parse("ad\u{034F}min").unwrap_err(),
            UsernameError::Characters,
            "a combining grapheme joiner shows nothing"
        );
        assert_eq!(
            Username::parse("\u{0301}admin").unwrap_err(),
            UsernameError::Characters
        );
        assert_eq!(
            Username::parse("\u{0430}dmin").unwrap_err(),
            UsernameError::MixedScripts,
            "a Cyrillic а among Latin letters"
        );
        assert!(Username::parse("админ").is_ok(), "one script is fine");
        let upper = Username::parse("Ädmin").unwrap();
        assert_eq!(upper, Username::parse("ädmin").unwrap());
        assert_eq!(upper.as_str(), Username::parse("ädmin").unwrap().as_str());
        assert_eq!(Username::parse("Alice99").unwrap().as_str(), "alice99");
        assert_eq!(Username::parse("Alice99").unwrap().as_typed(), "Alice99");
    }
}
