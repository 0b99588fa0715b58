//! Synchronizer-token CSRF protection, the rule: a random token per session, required on
//! every POST and compared in constant time. Where the token is kept (the browser's
//! encrypted session) is the web layer's business (`web::csrf`).

use crate::crypto::{constant_time_eq, random_token};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CsrfError {
    #[error("The CSRF token is missing.")]
    Missing,
    #[error("The CSRF token is invalid.")]
    Invalid,
}

/// A new token: 256 random bits.
pub fn new_token() -> String {
    random_token(32)
}

/// Checks a submitted token against the session's (`None`: the session has none).
pub fn check(expected: Option<&str>, submitted: Option<&str>) -> Result<(), CsrfError> {
    let submitted = submitted
        .filter(|s| !s.is_empty())
        .ok_or(CsrfError::Missing)?;
    let expected = expected.ok_or(CsrfError::Invalid)?;
    if constant_time_eq(submitted, expected) {
        Ok(())
    } else {
        Err(CsrfError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sessions_own_token_passes() {
        let token = new_token();
        assert_eq!(check(Some(&token), Some(&token)), Ok(()));
        assert_eq!(check(Some(&token), Some("other")), Err(CsrfError::Invalid));
        assert_eq!(check(Some(&token), Some("")), Err(CsrfError::Missing));
        assert_eq!(check(Some(&token), None), Err(CsrfError::Missing));
        assert_eq!(check(None, Some(&token)), Err(CsrfError::Invalid));
        assert_ne!(new_token(), token);
    }
}
