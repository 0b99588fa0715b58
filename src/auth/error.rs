//! The one error the rules return for what is not a refusal.

/// An infrastructure failure under an auth rule (as opposed to a refusal).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error(transparent)]
    Hash(#[from] super::hashing::HashError),
    #[error("mail template: {0}")]
    Template(#[from] tera::Error),
    /// A setting a rule needs is missing or unusable (checked at start-up where possible).
    #[error("configuration: {0}")]
    Config(String),
    /// A unique value (an email, a username) was taken by another account as this
    /// transaction wrote it; it rolled back. The rules that can meet it answer it
    /// themselves ("already associated"); it never reaches a client.
    #[error("taken by another account meanwhile")]
    Conflict,
    /// A message a signed-in user asked for is over the sending budget
    /// ([`super::sending`]): nothing was sent; 429.
    #[error("sending budget spent")]
    SendingLimited { retry_after: std::time::Duration },
    /// A form that sends mail (register, reset, confirm, …) was asked too often from this
    /// client, whatever the addresses ([`super::mail_limits`]): nothing was done; 429.
    #[error("mail form rate limit")]
    RateLimited { retry_after: std::time::Duration },
}

impl From<diesel::result::Error> for ServiceError {
    fn from(e: diesel::result::Error) -> Self {
        ServiceError::Db(e.into())
    }
}
