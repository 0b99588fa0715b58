//! Passwords: NFKD-normalised, length-checked, never printed.

use std::fmt;
use unicode_normalization::UnicodeNormalization;

use super::FormErrors;
use crate::messages::{self, Described, Messages, Msg};

/// A password after Flask-Security's normalisation (NFKD). `Debug` redacts it.
#[derive(Clone)]
pub struct Password(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("Password not provided")]
    Missing,
    #[error("Password must be at least {0} characters")]
    TooShort(usize),
    #[error("Password must be at most {0} characters")]
    TooLong(usize),
}

impl Described for PasswordError {
    fn described(&self) -> (Msg, Vec<(&'static str, String)>) {
        match self {
            PasswordError::Missing => (messages::PASSWORD_NOT_PROVIDED, vec![]),
            PasswordError::TooShort(n) => (
                messages::PASSWORD_INVALID_LENGTH,
                vec![("length", n.to_string())],
            ),
            PasswordError::TooLong(n) => {
                (messages::PASSWORD_TOO_LONG, vec![("length", n.to_string())])
            }
        }
    }
}

impl Password {
    /// Normalises without checking length: for verifying a login, where any string may be
    /// tried against the stored hash.
    pub fn normalize(raw: &str) -> Self {
        Password(raw.nfkd().collect())
    }

    /// Normalises and applies the length policy (counted in code points after NFKD).
    pub fn parse(raw: &str, min: usize, max: usize) -> Result<Self, PasswordError> {
        if raw.is_empty() {
            return Err(PasswordError::Missing);
        }
        // Cheap bound before normalising: NFKD never shrinks the code-point count.
        if raw.chars().count() > max {
            return Err(PasswordError::TooLong(max));
        }
        let pw = Self::normalize(raw);
        let len = pw.0.chars().count();
        if len < min {
            Err(PasswordError::TooShort(min))
        } else if len > max {
            Err(PasswordError::TooLong(max))
        } else {
            Ok(pw)
        }
    }

    /// A new password typed twice, as the register, reset and change forms carry it: the
    /// policy applies to `raw`, and `confirm` must repeat it. Errors go on the two named
    /// fields of `errors`; `None` when anything is wrong.
    pub fn parse_confirmed(
        raw: &str,
        confirm: Option<&str>,
        (min, max): (usize, usize),
        [field, confirm_field]: [&str; 2],
        messages: &Messages,
        errors: &mut FormErrors,
    ) -> Option<Self> {
        let parsed = Self::parse(raw, min, max)
            .map_err(|e| errors.add(field, messages.describe(&e)))
            .ok();
        match confirm {
            None | Some("") => {
                errors.add(confirm_field, messages.describe(&PasswordError::Missing))
            }
            Some(confirm) if confirm != raw => errors.add(
                confirm_field,
                messages.text(messages::RETYPE_PASSWORD_MISMATCH, &[]),
            ),
            Some(_) => return parsed,
        }
        None
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Password {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_code_points_after_nfkd() {
        // Four precomposed letters become eight code points after NFKD, as in Flask-Security.
        assert!(Password::parse("éèêë", 8, 128).is_ok());
        assert_eq!(
            Password::parse("1234567", 8, 128).unwrap_err(),
            PasswordError::TooShort(8)
        );
        assert!(Password::parse("12345678", 8, 128).is_ok());
        assert!(Password::parse(&"x".repeat(128), 8, 128).is_ok());
        assert_eq!(
            Password::parse(&"x".repeat(129), 8, 128).unwrap_err(),
            PasswordError::TooLong(128)
        );
        assert_eq!(
            Password::parse("", 8, 128).unwrap_err(),
            PasswordError::Missing
        );
    }

    #[test]
    fn confirmation_must_repeat_the_password() {
        let fields = ["password", "password_confirm"];
        let mut errors = FormErrors::default();
        let ok = Password::parse_confirmed(
            "long enough",
            Some("long enough"),
            (8, 128),
            fields,
            &Messages::default(),
            &mut errors,
        );
        assert!(ok.is_some() && errors.is_empty());

        let mut errors = FormErrors::default();
        assert!(Password::parse_confirmed(
            "long enough",
            Some("long enougH"),
            (8, 128),
            fields,
            &Messages::default(),
            &mut errors
        )
        .is_none());
        assert_eq!(
            errors,
            FormErrors::single("password_confirm", "Passwords do not match")
        );

        let mut errors = FormErrors::default();
        assert!(Password::parse_confirmed(
            "short",
            None,
            (8, 128),
            fields,
            &Messages::default(),
            &mut errors
        )
        .is_none());
        assert_eq!(
            errors.fields["password"],
            ["Password must be at least 8 characters"]
        );
        assert_eq!(errors.fields["password_confirm"], ["Password not provided"]);
    }

    #[test]
    fn debug_never_shows_the_password() {
        let pw = Password::parse("hunter2-secret", 8, 128).unwrap();
        assert!(!format!("{pw:?}").contains("hunter2"));
    }
}
