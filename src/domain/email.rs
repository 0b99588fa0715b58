//! Email addresses, validated like Python's `email_validator` (which Flask-Security uses)
//! without any DNS lookup.

use std::fmt;
use unicode_normalization::UnicodeNormalization;

use super::lookalike;
use crate::messages::{self, Described, Msg};

pub const MAX_EMAIL_LENGTH: usize = 254;
const MAX_LOCAL_LENGTH: usize = 64;

/// Top-level domains that can never receive mail (RFC 6761 and friends), refused like
/// `email_validator` does.
const SPECIAL_USE_TLDS: &[&str] = &["arpa", "invalid", "local", "localhost", "onion", "test"];

/// A syntactically valid address. It is stored and compared case-folded ([`Email::as_str`]:
/// the whole address in lower case, NFC); the form as typed (domain lower-cased) is kept to
/// find accounts adopted from a database that stored addresses as typed.
#[derive(Clone)]
pub struct Email {
    folded: String,
    typed: String,
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.folded == other.folded
    }
}

impl Eq for Email {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Email not provided")]
    Missing,
    #[error("Invalid email address")]
    Invalid,
}

impl Described for EmailError {
    fn described(&self) -> (Msg, Vec<(&'static str, String)>) {
        match self {
            EmailError::Missing => (messages::EMAIL_NOT_PROVIDED, vec![]),
            EmailError::Invalid => (messages::INVALID_EMAIL_ADDRESS, vec![]),
        }
    }
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        if raw.is_empty() {
            return Err(EmailError::Missing);
        }
        // Flask-Security refuses surrounding white space instead of trimming it.
        if raw.len() > 4 * MAX_EMAIL_LENGTH || raw.trim() != raw {
            return Err(EmailError::Invalid);
        }
        // NFC, as Python's email_validator stores it (Flask-Security databases hold that form).
        let normalized: String = raw.nfc().collect();
        // Nothing invisible: `admin\u{200B}@…` must not be a second `admin@…`.
        if lookalike::invisible_char(&normalized).is_some() {
            return Err(EmailError::Invalid);
        }
        let (local, domain) = normalized.rsplit_once('@').ok_or(EmailError::Invalid)?;
        if !valid_local_part(local) || lookalike::starts_with_mark(local) {
            return Err(EmailError::Invalid);
        }
        let domain = normalize_domain(domain).ok_or(EmailError::Invalid)?;
        if domain.split('.').any(lookalike::starts_with_mark) {
            return Err(EmailError::Invalid);
        }
        let typed = format!("{local}@{domain}");
        let folded: String = lookalike::fold_case(&typed).nfc().collect();
        if typed.len() > MAX_EMAIL_LENGTH || folded.len() > MAX_EMAIL_LENGTH {
            return Err(EmailError::Invalid);
        }
        Ok(Email { folded, typed })
    }

    /// The address as stored and compared: case-folded.
    pub fn as_str(&self) -> &str {
        &self.folded
    }

    /// The address as typed (NFC, domain lower-cased).
    pub fn as_typed(&self) -> &str {
        &self.typed
    }

    pub fn into_inner(self) -> String {
        self.folded
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.folded)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({:?})", self.folded)
    }
}

/// A dot-atom local part (RFC 5322 `atext`, plus non-ASCII letters as RFC 6531 allows).
fn valid_local_part(local: &str) -> bool {
    if local.is_empty() || local.len() > MAX_LOCAL_LENGTH {
        return false;
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return false;
    }
    local.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || "!#$%&'*+-/=?^_`{|}~.".contains(c)
            || (!c.is_ascii() && !c.is_control() && !c.is_whitespace())
    })
}

fn normalize_domain(domain: &str) -> Option<String> {
    if domain.is_empty() || domain.ends_with('.') {
        return None;
    }
    // Validate in IDNA (ASCII) form, store lower-cased Unicode as email_validator does.
    let ascii = idna::domain_to_ascii_strict(domain).ok()?;
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return None;
    }
    for label in &labels {
        if label.is_empty()
            || label.len() > 63
            || label.starts_with('-')
            || label.ends_with('-')
            || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return None;
        }
    }
    let tld = labels.last()?;
    if tld.chars().all(|c| c.is_ascii_digit()) || SPECIAL_USE_TLDS.contains(tld) {
        return None;
    }
    let (unicode, result) = idna::domain_to_unicode(&ascii);
    result.ok()?;
    Some(unicode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_folds_their_case() {
        let ann = Email::parse("Ann@Example.COM").unwrap();
        assert_eq!(ann.as_str(), "ann@example.com");
        assert_eq!(ann.as_typed(), "Ann@example.com");
        assert_eq!(ann, Email::parse("ANN@example.com").unwrap());
        assert_eq!(
            Email::parse("Ädmin@example.com").unwrap(),
            Email::parse("ädmin@example.com").unwrap(),
            "non-ASCII letters fold too"
        );
        assert!(Email::parse("first.last+tag@sub.example.org").is_ok());
        assert!(Email::parse("user@bücher.example").is_ok());
    }

    #[test]
    fn refuses_what_flask_security_refuses() {
        for bad in [
            "not-an-email",
            "a@",
            "@example.com",
            "a b@example.com",
            " a@example.com",
            "a@example.com ",
            "a@localhost",
            "a@example.test",
            "a@example.local",
            "a..b@example.com",
            ".a@example.com",
            "a@-example.com",
            "a@example..com",
            "a@123.456",
            "a\0b@example.com",
            "a@exa mple.com",
            // Look-alikes of admin@example.com.
            "admin\u{200B}@example.com",
            "ad\u{202E}min@example.com",
            "ad\u{00AD}min@example.com",
            "admin@exa\u{200B}mple.com",
            "\u{0301}admin@example.com",
            "ad\u{034F}min@example.com",
            "admin\u{2028}@example.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Invalid), "{bad:?}");
        }
        assert_eq!(Email::parse(""), Err(EmailError::Missing));
    }

    #[test]
    fn enforces_the_254_character_limit() {
        let local = "a".repeat(64);
        let domain = format!("{}.com", vec!["b".repeat(60); 3].join("."));
        let at_limit = format!("{local}@{domain}");
        assert!(at_limit.len() <= 254);
        assert!(Email::parse(&at_limit).is_ok());
        let too_long = format!("{local}@{}.{domain}", "c".repeat(60));
        assert!(too_long.len() > 254);
        assert_eq!(Email::parse(&too_long), Err(EmailError::Invalid));
        assert_eq!(Email::parse(&"x".repeat(10_000)), Err(EmailError::Invalid));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Addresses built from parts every validator accepts.
        fn ordinary() -> impl Strategy<Value = (String, String)> {
            (
                "[a-zA-Z0-9]{1,12}([._+-][a-zA-Z0-9]{1,12}){0,2}",
                "[a-z0-9]{1,12}(-[a-z0-9]{1,8})?(\\.[a-z0-9]{1,12}){0,2}",
                prop::sample::select(vec!["com", "org", "example", "de", "io"]),
            )
                .prop_map(|(local, domain, tld)| (local, format!("{domain}.{tld}")))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn never_panics_and_what_it_accepts_round_trips(raw in "\\PC{0,300}|.{0,40}@.{0,40}") {
                if let Ok(email) = Email::parse(&raw) {
                    let s = email.as_str();
                    prop_assert!(s.len() <= MAX_EMAIL_LENGTH);
                    prop_assert_eq!(s.trim(), s);
                    prop_assert!(!s.chars().any(char::is_control));
                    // Parsing the stored form gives it back unchanged (idempotent).
                    prop_assert_eq!(Email::parse(s), Ok(email.clone()));
                }
            }

            #[test]
            fn arbitrary_bytes_as_text_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
                let _ = Email::parse(&String::from_utf8_lossy(&bytes));
            }

            #[test]
            fn ordinary_addresses_are_accepted_with_the_domain_lower_cased(
                (local, domain) in ordinary(),
                upper in any::<bool>(),
            ) {
                let typed = if upper { domain.to_ascii_uppercase() } else { domain.clone() };
                let email = Email::parse(&format!("{local}@{typed}"));
                prop_assert_eq!(
                    email.map(Email::into_inner),
                    Ok(format!("{}@{domain}", local.to_lowercase()))
                );
            }

            #[test]
            fn surrounding_white_space_is_refused((local, domain) in ordinary(), ws in "[ \t\n]{1,3}") {
                let at = format!("{local}@{domain}");
                prop_assert_eq!(Email::parse(&format!("{ws}{at}")), Err(EmailError::Invalid));
                prop_assert_eq!(Email::parse(&format!("{at}{ws}")), Err(EmailError::Invalid));
            }
        }
    }
}
