//! Authentication core: password hashing, CSRF, logins (sessions and remember-me), the
//! login and registration rules, tokens.

pub mod authenticate;
pub mod changeable;
pub mod confirmable;
pub mod csrf;
pub mod hashing;
pub mod link_mail;
pub mod login;
pub mod recoverable;
pub mod registration;
pub mod throttle;
pub mod tokens;
pub mod user_tokens;

pub use hashing::PasswordHasher;

/// An infrastructure failure under an auth rule (as opposed to a refusal).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error(transparent)]
    Hash(#[from] hashing::HashError),
    #[error("mail template: {0}")]
    Template(#[from] tera::Error),
}

impl From<diesel::result::Error> for ServiceError {
    fn from(e: diesel::result::Error) -> Self {
        ServiceError::Db(e.into())
    }
}
