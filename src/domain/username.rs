//! Usernames (`SECURITY_USERNAME_ENABLE`): Flask-Security's rules, letters and digits only,
//! 4 to 32 characters after NFKD.

use std::fmt;
use unicode_normalization::UnicodeNormalization;

use crate::messages::{self, Described, Msg};

pub const MIN_LEN: usize = 4;
pub const MAX_LEN: usize = 32;

#[derive(Clone, PartialEq, Eq)]
pub struct Username(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("Username not provided")]
    Missing,
    #[error("Username must be at least {MIN_LEN} characters and less than {MAX_LEN} characters")]
    Length,
    #[error("Username can contain only letters and numbers")]
    Characters,
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
        {
            return Err(UsernameError::Characters);
        }
        Ok(Username(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({:?})", self.0)
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
}
