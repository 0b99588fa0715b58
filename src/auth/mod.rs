//! Authentication core: password hashing, CSRF, logins (sessions and remember-me), the
//! login and registration rules, tokens.

pub mod authenticate;
pub mod csrf;
pub mod hashing;
pub mod login;
pub mod registration;
pub mod tokens;

pub use hashing::PasswordHasher;

/// An infrastructure failure under an auth rule (as opposed to a refusal).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error(transparent)]
    Hash(#[from] hashing::HashError),
}
