//! Usernames' length (`SECURITY_USERNAME_MIN_LENGTH`, `SECURITY_USERNAME_MAX_LENGTH`): the
//! policy a new username must satisfy, applied by `domain::Username`.

use super::normalize::{self, Categories, NormalizeForm};
use super::source::{ConfigError, Source};

/// The longest username any setting may allow (and the longest looked up).
pub const MAX_USERNAME_LENGTH: usize = 255;

/// What a new username must be: made of the allowed characters, of a length counted in
/// code points after normalising, as Flask-Security counts it (`len()` of the normalized
/// input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsernamePolicy {
    /// `SECURITY_USERNAME_MIN_LENGTH` (4).
    pub min_length: usize,
    /// `SECURITY_USERNAME_MAX_LENGTH` (32).
    pub max_length: usize,
    /// `SECURITY_USERNAME_ALLOWED_CHARS` (letters and numbers; `None`: any character).
    pub allowed: Option<Categories>,
    /// `SECURITY_INPUT_NORMALIZE_FORM` (NFKD; `None`: as typed).
    pub form: Option<NormalizeForm>,
}

impl Default for UsernamePolicy {
    fn default() -> Self {
        Self {
            min_length: 4,
            max_length: 32,
            allowed: Some(Categories::LETTERS_AND_NUMBERS),
            form: NormalizeForm::DEFAULT,
        }
    }
}

impl UsernamePolicy {
    /// This policy at any length: what an existing username is looked up and compared
    /// with, so that an account registered under other limits is still found.
    pub const fn any_length(self) -> Self {
        Self {
            min_length: 1,
            max_length: MAX_USERNAME_LENGTH,
            ..self
        }
    }
}

pub(super) fn username_policy(src: &Source) -> Result<UsernamePolicy, ConfigError> {
    let min_length: usize = src.number("SECURITY_USERNAME_MIN_LENGTH", 4)?;
    let max_length: usize = src.number("SECURITY_USERNAME_MAX_LENGTH", 32)?;
    if min_length == 0 {
        return Err(ConfigError::new(
            "SECURITY_USERNAME_MIN_LENGTH",
            "must be at least 1",
        ));
    }
    if max_length > MAX_USERNAME_LENGTH {
        return Err(ConfigError::new(
            "SECURITY_USERNAME_MAX_LENGTH",
            format!("must be at most {MAX_USERNAME_LENGTH}, got {max_length}"),
        ));
    }
    if max_length < min_length {
        return Err(ConfigError::new(
            "SECURITY_USERNAME_MAX_LENGTH",
            format!(
                "must be at least SECURITY_USERNAME_MIN_LENGTH ({min_length}), got {max_length}"
            ),
        ));
    }
    Ok(UsernamePolicy {
        min_length,
        max_length,
        allowed: normalize::username_allowed(src)?,
        form: normalize::input_form(src)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(pairs: &[(&str, &str)]) -> Result<UsernamePolicy, ConfigError> {
        username_policy(&Source::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn username_lengths_default_to_flask_securitys_and_are_checked() {
        assert_eq!(policy(&[]).unwrap(), UsernamePolicy::default());
        let p = policy(&[
            ("SECURITY_USERNAME_MIN_LENGTH", "2"),
            ("SECURITY_USERNAME_MAX_LENGTH", "8"),
        ])
        .unwrap();
        assert_eq!((p.min_length, p.max_length), (2, 8));
        for (pairs, key) in [
            (
                vec![("SECURITY_USERNAME_MIN_LENGTH", "0")],
                "SECURITY_USERNAME_MIN_LENGTH",
            ),
            (
                vec![("SECURITY_USERNAME_MAX_LENGTH", "3")],
                "SECURITY_USERNAME_MAX_LENGTH",
            ),
            (
                vec![("SECURITY_USERNAME_MAX_LENGTH", "256")],
                "SECURITY_USERNAME_MAX_LENGTH",
            ),
            (
                vec![("SECURITY_USERNAME_MIN_LENGTH", "few")],
                "SECURITY_USERNAME_MIN_LENGTH",
            ),
        ] {
            assert_eq!(policy(&pairs).unwrap_err().key, key);
        }
    }
}
