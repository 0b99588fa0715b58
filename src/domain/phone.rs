//! Phone numbers, parsed and validated by the libphonenumber port (the `phonenumber` crate)
//! as Flask-Security's `PhoneUtil` does with Python's `phonenumbers`: a number without
//! `+country` is read in `SECURITY_PHONE_REGION_DEFAULT`'s region, a valid one is kept and
//! sent in E.164 (`+14155550123`), anything else is `PHONE_INVALID`.

use std::fmt;

pub use phonenumber::country::Id as Region;

/// A valid phone number in E.164.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

/// Not a valid phone number (Flask-Security's `PHONE_INVALID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid phone number")]
pub struct PhoneInvalid;

/// Longer input is refused before it reaches the parser.
const MAX_INPUT: usize = 64;

impl Phone {
    /// Parses what a user typed (`(415) 555-0123`, `+44 20 7946 0958`, `tel:+1-415-…`),
    /// reading a number without `+country` in `region`.
    pub fn parse(raw: &str, region: Region) -> Result<Self, PhoneInvalid> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > MAX_INPUT {
            return Err(PhoneInvalid);
        }
        // The parser is another crate's: whatever it does with odd input, a request never
        // fails with a panic.
        let parsed = std::panic::catch_unwind(|| {
            let number = phonenumber::parse(Some(region), raw).ok()?;
            phonenumber::is_valid(&number)
                .then(|| number.format().mode(phonenumber::Mode::E164).to_string())
        });
        parsed.ok().flatten().map(Self).ok_or(PhoneInvalid)
    }

    /// The number in E.164, as stored and sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_in_the_default_region_and_kept_in_e164() {
        for (raw, region, e164) in [
            ("+1 650-253-0000", Region::US, "+16502530000"),
            ("(650) 253-0000", Region::US, "+16502530000"),
            ("650.253.0000", Region::US, "+16502530000"),
            ("tel:+1-650-253-0000", Region::DE, "+16502530000"),
            ("020 7946 0958", Region::GB, "+442079460958"),
            ("+44 20 7946 0958", Region::US, "+442079460958"),
            ("030 123456", Region::DE, "+4930123456"),
            ("06 12 34 56 78", Region::FR, "+33612345678"),
        ] {
            assert_eq!(
                Phone::parse(raw, region).map(Phone::into_string),
                Ok(e164.to_owned()),
                "{raw} in {region:?}"
            );
        }
    }

    #[test]
    fn what_is_not_a_valid_number_is_refused() {
        for raw in [
            "",
            "   ",
            "not a number",
            "12",
            "+1 555",
            "+1 000 000 0000",
            "+999 123 456 789",
            "020 7946 0958", // a British number read in the US
            "+1 650 253 0000 0000 0000 0000",
            &"9".repeat(200),
        ] {
            assert_eq!(Phone::parse(raw, Region::US), Err(PhoneInvalid), "{raw:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_parsed_or_refused_without_panicking(text in ".{0,70}") {
            if let Ok(phone) = Phone::parse(&text, Region::US) {
                proptest::prop_assert!(phone.as_str().starts_with('+'));
            }
        }
    }
}
