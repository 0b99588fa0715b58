//! "Sign in with Latchkey": the OpenID Connect provider (issue 27). The apps registered to
//! sign their users in through Latchkey (`clients`), the keys its ID tokens are signed with
//! (`keys`), the authorization endpoint's checks and codes (`authorize`), and the token
//! endpoint, ID tokens and userinfo (`tokens`). `routes::oidc` serves them.
//!
//! Each rule owns its transaction and emits its security event; the `latchkey clients …`
//! and `latchkey keys …` commands call them.

pub mod apps;
pub mod authorize;
pub mod clients;
pub mod discovery;
pub mod keys;
pub mod logout;
pub mod tokens;

use super::error::ServiceError;
use crate::db::DbError;

/// Why a client or key rule did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// Input refused (a redirect URI, a name, a scope, an algorithm), with the reason.
    #[error("{0}")]
    Invalid(String),
    /// No client has this `client_id`.
    #[error("No client with client_id {0}")]
    UnknownClient(String),
    /// A public client has no secret to rotate.
    #[error("Client {0} is public: it has no secret")]
    PublicClient(String),
    /// A key could not be made, sealed or opened (a changed `SECRET_KEY`, OpenSSL).
    #[error("signing key: {0}")]
    Key(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<DbError> for OidcError {
    fn from(e: DbError) -> Self {
        OidcError::Service(e.into())
    }
}

impl From<diesel::result::Error> for OidcError {
    fn from(e: diesel::result::Error) -> Self {
        OidcError::Service(e.into())
    }
}
