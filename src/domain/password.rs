//! Passwords: normalised (`SECURITY_PASSWORD_NORMALIZE_FORM`, NFKD by default), checked
//! against the password policy, never printed.
//!
//! The policy (a setting) is applied here, in one place: register, reset, change and the CLI all call
//! [`Password::parse`] / [`Password::parse_confirmed`] with the configured
//! [`PasswordPolicy`].

use std::fmt;

use super::form_errors::FormErrors;
use crate::messages::{self, Described, Messages, Msg};

/// The policy and the scheme are settings, read by `config`; they are used here.
pub use crate::config::{HashScheme, NormalizeForm, PasswordPolicy};

/// A password after Flask-Security's normalisation (the policy's form, NFKD by default):
/// what is checked and hashed. `Debug` redacts it.
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
    #[error("Password not complex enough")]
    TooSimple,
    #[error("Password on breached list")]
    Breached,
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
            PasswordError::TooSimple => (messages::PASSWORD_TOO_SIMPLE, vec![]),
            PasswordError::Breached => (messages::PASSWORD_BREACHED, vec![]),
        }
    }
}

impl Password {
    /// Normalises in `form` (the policy's [`PasswordPolicy::normalize_form`]) without
    /// checking length: for verifying a login, where any string may be tried against the
    /// stored hash.
    pub fn normalize(raw: &str, form: Option<NormalizeForm>) -> Self {
        Password(NormalizeForm::normalize(form, raw))
    }

    /// Normalises and applies `policy`. `user_inputs` are the account's own words (email,
    /// username) that zxcvbn counts as guessable, as Flask-Security passes them.
    pub fn parse(
        raw: &str,
        policy: &PasswordPolicy,
        user_inputs: &[&str],
    ) -> Result<Self, PasswordError> {
        let (min, max) = (policy.min_length, policy.max_length);
        if raw.is_empty() {
            return Err(PasswordError::Missing);
        }
        // Cheap bound before normalising: decomposing never shrinks the code-point count;
        // composing (NFC, NFKC) joins at most a few code points into one.
        let bound = match policy.normalize_form {
            Some(NormalizeForm::Nfd | NormalizeForm::Nfkd) | None => max,
            Some(NormalizeForm::Nfc | NormalizeForm::Nfkc) => 8 * max,
        };
        if raw.chars().count() > bound {
            return Err(PasswordError::TooLong(max));
        }
        let pw = Self::normalize(raw, policy.normalize_form);
        let len = pw.0.chars().count();
        if len < min {
            return Err(PasswordError::TooShort(min));
        }
        if len > max {
            return Err(PasswordError::TooLong(max));
        }
        if policy.check_breached && super::common_passwords::contains(&pw.0) {
            return Err(PasswordError::Breached);
        }
        if let Some(min_score) = policy.zxcvbn_min_score {
            // zxcvbn looks at the first 100 characters only, so this stays a few ms.
            let inputs: Vec<&str> = user_inputs
                .iter()
                .copied()
                .filter(|s| !s.is_empty())
                .collect();
            let score: u8 = zxcvbn::zxcvbn(&pw.0, &inputs).score().into();
            if score < min_score {
                return Err(PasswordError::TooSimple);
            }
        }
        Ok(pw)
    }

    /// A new password typed twice, as the register, reset and change forms carry it: the
    /// policy applies to `raw`, and `confirm` must repeat it. Errors go on the two named
    /// fields of `errors`; `None` when anything is wrong.
    pub fn parse_confirmed(
        raw: &str,
        confirm: Option<&str>,
        (policy, user_inputs): (&PasswordPolicy, &[&str]),
        [field, confirm_field]: [&str; 2],
        messages: &Messages,
        errors: &mut FormErrors,
    ) -> Option<Self> {
        let parsed = Self::parse(raw, policy, user_inputs)
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

/// The setting (`SECURITY_PASSWORD_HASH`) is `config`'s; recognising the scheme of a stored
/// hash is the domain's.
impl HashScheme {
    /// The scheme of a stored hash, from its PHC/modular-crypt prefix.
    pub fn of(stored: &str) -> Option<Self> {
        if ["$2b$", "$2a$", "$2y$"]
            .iter()
            .any(|p| stored.starts_with(p))
        {
            Some(HashScheme::Bcrypt)
        } else if ["$argon2id$", "$argon2i$", "$argon2d$"]
            .iter()
            .any(|p| stored.starts_with(p))
        {
            Some(HashScheme::Argon2)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_code_points_after_nfkd() {
        // Four precomposed letters become eight code points after NFKD, as in Flask-Security.
        assert!(Password::parse("éèêë", &PasswordPolicy::default(), &[]).is_ok());
        assert_eq!(
            Password::parse("1234567", &PasswordPolicy::default(), &[]).unwrap_err(),
            PasswordError::TooShort(8)
        );
        assert!(Password::parse("12345678", &PasswordPolicy::default(), &[]).is_ok());
        assert!(Password::parse(&"x".repeat(128), &PasswordPolicy::default(), &[]).is_ok());
        assert_eq!(
            Password::parse(&"x".repeat(129), &PasswordPolicy::default(), &[]).unwrap_err(),
            PasswordError::TooLong(128)
        );
        assert_eq!(
            Password::parse("", &PasswordPolicy::default(), &[]).unwrap_err(),
            PasswordError::Missing
        );
    }

    #[test]
    fn the_policys_form_normalises() {
        let policy = |form| PasswordPolicy {
            normalize_form: form,
            ..PasswordPolicy::default()
        };
        let typed = "ﬁnal-café";
        for (form, expected) in [
            (Some(NormalizeForm::Nfkd), "final-cafe\u{301}"),
            (Some(NormalizeForm::Nfc), "ﬁnal-café"),
            (Some(NormalizeForm::Nfkc), "final-café"),
            (Some(NormalizeForm::Nfd), "ﬁnal-cafe\u{301}"),
            (None, typed),
        ] {
            let pw = Password::parse(typed, &policy(form), &[]).unwrap();
            assert_eq!(pw.expose(), expected, "{form:?}");
            assert_eq!(Password::normalize(typed, form).expose(), expected);
        }
        // Counted after normalising: 128 decomposed letters are 128 composed ones in NFC.
        let long = "e\u{301}".repeat(128);
        assert!(Password::parse(&long, &policy(Some(NormalizeForm::Nfc)), &[]).is_ok());
        assert_eq!(
            Password::parse(&long, &policy(Some(NormalizeForm::Nfkd)), &[]).unwrap_err(),
            PasswordError::TooLong(128)
        );
    }

    #[test]
    fn confirmation_must_repeat_the_password() {
        let fields = ["password", "password_confirm"];
        let mut errors = FormErrors::default();
        let ok = Password::parse_confirmed(
            "long enough",
            Some("long enough"),
            (&PasswordPolicy::default(), &[]),
            fields,
            &Messages::default(),
            &mut errors,
        );
        assert!(ok.is_some() && errors.is_empty());

        let mut errors = FormErrors::default();
        assert!(Password::parse_confirmed(
            "long enough",
            Some("long enougH"),
            (&PasswordPolicy::default(), &[]),
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
            (&PasswordPolicy::default(), &[]),
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
    fn any_unicode_and_no_composition_rules() {
        let p = PasswordPolicy::default();
        for ok in [
            "aaaaaaaa",
            "пароль-пароль",
            "🔑🔑🔑🔑🔑🔑🔑🔑",
            "with spaces  ",
            "\u{0}\u{1}bcdefgh",
        ] {
            assert!(Password::parse(ok, &p, &[]).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn the_offline_list_refuses_common_passwords_when_on() {
        let on = PasswordPolicy {
            check_breached: true,
            ..PasswordPolicy::default()
        };
        assert_eq!(
            Password::parse("Password1", &on, &[]).unwrap_err(),
            PasswordError::Breached
        );
        assert_eq!(
            Password::parse("iloveyou", &on, &[]).unwrap_err(),
            PasswordError::Breached
        );
        assert!(Password::parse("Password1", &PasswordPolicy::default(), &[]).is_ok());
        assert!(Password::parse("violet-anchor-93", &on, &[]).is_ok());
    }

    #[test]
    fn zxcvbn_scores_with_the_users_own_words() {
        let p = PasswordPolicy {
            zxcvbn_min_score: Some(3),
            ..PasswordPolicy::default()
        };
        assert_eq!(
            Password::parse("abcdefgh", &p, &[]).unwrap_err(),
            PasswordError::TooSimple
        );
        assert!(Password::parse("violet-anchor-93-drum", &p, &[]).is_ok());
        // Strong on its own, weak once zxcvbn knows it is the user's email.
        let own = "gwendolyn.fairweather@example.com";
        assert!(Password::parse(own, &p, &[]).is_ok());
        assert_eq!(
            Password::parse(own, &p, &[own]).unwrap_err(),
            PasswordError::TooSimple
        );
        let lenient = PasswordPolicy {
            zxcvbn_min_score: Some(0),
            ..PasswordPolicy::default()
        };
        assert!(Password::parse("abcdefgh", &lenient, &[]).is_ok());
    }

    #[test]
    fn the_new_refusals_have_flask_security_messages() {
        let m = Messages::default();
        assert_eq!(
            m.describe(&PasswordError::TooSimple),
            "Password not complex enough"
        );
        assert_eq!(
            m.describe(&PasswordError::Breached),
            "Password on breached list"
        );
    }

    #[test]
    fn debug_never_shows_the_password() {
        let pw = Password::parse("hunter2-secret", &PasswordPolicy::default(), &[]).unwrap();
        assert!(!format!("{pw:?}").contains("hunter2"));
    }
}
