//! Where the CSRF token lives: in the browser's encrypted session, created on first use
//! (anonymous visitors get one too, against login CSRF, without touching the database) and
//! replaced when a session starts, so that a token planted in or read from an anonymous
//! session is worthless once the user has logged in.

use actix_session::Session;

use crate::auth::csrf::{self, CsrfError};

const SESSION_KEY: &str = "csrf_token";

/// The session's token, created on first use.
pub fn token(session: &Session) -> String {
    if let Ok(Some(existing)) = session.get::<String>(SESSION_KEY) {
        return existing;
    }
    rotate(session)
}

/// A new token for the session, replacing any old one: at every login.
pub fn rotate(session: &Session) -> String {
    let fresh = csrf::new_token();
    // Inserting a String into the session cannot fail to serialise.
    let _ = session.insert(SESSION_KEY, &fresh);
    fresh
}

/// Checks a submitted token against the session's.
pub fn verify(session: &Session, submitted: Option<&str>) -> Result<(), CsrfError> {
    let expected = session.get::<String>(SESSION_KEY).ok().flatten();
    csrf::check(expected.as_deref(), submitted)
}
