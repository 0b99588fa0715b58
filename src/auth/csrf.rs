//! Synchronizer-token CSRF protection: a random token kept in the (encrypted) session and
//! required on every POST, as a form field `csrf_token` or header `X-CSRF-Token` /
//! `X-CSRFToken`. Anonymous visitors get one too (login CSRF), without touching the database.

use actix_session::Session;

use super::tokens::{constant_time_eq, random_token};

const SESSION_KEY: &str = "csrf_token";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CsrfError {
    #[error("The CSRF token is missing.")]
    Missing,
    #[error("The CSRF token is invalid.")]
    Invalid,
}

/// The session's token, created on first use.
pub fn token(session: &Session) -> String {
    if let Ok(Some(existing)) = session.get::<String>(SESSION_KEY) {
        return existing;
    }
    let fresh = random_token(32);
    // Inserting a String into the session cannot fail to serialise.
    let _ = session.insert(SESSION_KEY, &fresh);
    fresh
}

/// Checks a submitted token against the session's.
pub fn verify(session: &Session, submitted: Option<&str>) -> Result<(), CsrfError> {
    let submitted = submitted
        .filter(|s| !s.is_empty())
        .ok_or(CsrfError::Missing)?;
    let expected = session
        .get::<String>(SESSION_KEY)
        .ok()
        .flatten()
        .ok_or(CsrfError::Invalid)?;
    if constant_time_eq(submitted, &expected) {
        Ok(())
    } else {
        Err(CsrfError::Invalid)
    }
}
