//! Queries on `oidc_client` and `oidc_signing_key`: the apps registered with Latchkey's
//! OpenID Connect provider, and the keys its ID tokens are signed with. The rules in
//! `auth::oidc` own the transactions.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{oidc_client, oidc_signing_key};
use super::{DbConnection, DbError};

/// A registered client (relying party).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = oidc_client)]
pub struct OidcClientRow {
    pub id: i32,
    /// The public identifier the app sends (`client_id`).
    pub client_id: String,
    pub name: String,
    /// SHA-256 of the secret, hex; `None` for a public client.
    pub secret_digest: Option<String>,
    /// JSON list of the exact redirect URIs.
    pub redirect_uris: String,
    /// JSON list of the exact post-logout redirect URIs.
    pub post_logout_redirect_uris: String,
    /// Space-separated scopes the client may ask for.
    pub scopes: String,
    pub is_public: bool,
    pub created_at: NaiveDateTime,
    pub secret_rotated_at: Option<NaiveDateTime>,
    /// `RS256` or `EdDSA`: what its ID tokens are signed with.
    pub id_token_alg: String,
}

/// The values of a new client row.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = oidc_client)]
pub struct NewOidcClient<'a> {
    pub client_id: &'a str,
    pub name: &'a str,
    pub secret_digest: Option<&'a str>,
    pub redirect_uris: &'a str,
    pub post_logout_redirect_uris: &'a str,
    pub scopes: &'a str,
    pub is_public: bool,
    pub created_at: NaiveDateTime,
    pub id_token_alg: &'a str,
}

/// A signing key, its private half sealed.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = oidc_signing_key)]
pub struct SigningKeyRow {
    pub id: i32,
    pub kid: String,
    /// `RS256` or `EdDSA`.
    pub alg: String,
    pub private_key_sealed: String,
    /// The public JWK, JSON.
    pub public_jwk: String,
    pub created_at: NaiveDateTime,
    /// `None` while it is the current key of its algorithm.
    pub retired_at: Option<NaiveDateTime>,
}

pub fn insert_client(conn: &mut DbConnection, new: &NewOidcClient<'_>) -> Result<(), DbError> {
    diesel::insert_into(oidc_client::table)
        .values(new)
        .execute(conn)?;
    Ok(())
}

/// The client with this `client_id`, if registered.
pub fn find_client(
    conn: &mut DbConnection,
    client_id: &str,
) -> Result<Option<OidcClientRow>, DbError> {
    Ok(oidc_client::table
        .filter(oidc_client::client_id.eq(client_id))
        .select(OidcClientRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Every client, oldest first.
pub fn list_clients(conn: &mut DbConnection) -> Result<Vec<OidcClientRow>, DbError> {
    Ok(oidc_client::table
        .order(oidc_client::id)
        .select(OidcClientRow::as_select())
        .load(conn)?)
}

/// Replaces the secret digest of a confidential client: whether there was one to replace.
pub fn set_secret(
    conn: &mut DbConnection,
    client_id: &str,
    digest: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(
        oidc_client::table
            .filter(oidc_client::client_id.eq(client_id))
            .filter(oidc_client::is_public.eq(false)),
    )
    .set((
        oidc_client::secret_digest.eq(Some(digest)),
        oidc_client::secret_rotated_at.eq(Some(now)),
    ))
    .execute(conn)?;
    Ok(n > 0)
}

/// Deletes the client: whether it was there.
pub fn delete_client(conn: &mut DbConnection, client_id: &str) -> Result<bool, DbError> {
    let n = diesel::delete(oidc_client::table.filter(oidc_client::client_id.eq(client_id)))
        .execute(conn)?;
    Ok(n > 0)
}

/// Retires the current key(s) of `alg`: how many.
pub fn retire_current(
    conn: &mut DbConnection,
    alg: &str,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        oidc_signing_key::table
            .filter(oidc_signing_key::alg.eq(alg))
            .filter(oidc_signing_key::retired_at.is_null()),
    )
    .set(oidc_signing_key::retired_at.eq(Some(now)))
    .execute(conn)?)
}

pub fn insert_key(
    conn: &mut DbConnection,
    kid: &str,
    alg: &str,
    private_key_sealed: &str,
    public_jwk: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::insert_into(oidc_signing_key::table)
        .values((
            oidc_signing_key::kid.eq(kid),
            oidc_signing_key::alg.eq(alg),
            oidc_signing_key::private_key_sealed.eq(private_key_sealed),
            oidc_signing_key::public_jwk.eq(public_jwk),
            oidc_signing_key::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Every signing key, newest first.
pub fn list_keys(conn: &mut DbConnection) -> Result<Vec<SigningKeyRow>, DbError> {
    Ok(oidc_signing_key::table
        .order(oidc_signing_key::id.desc())
        .select(SigningKeyRow::as_select())
        .load(conn)?)
}

/// The current key of `alg`, if there is one.
pub fn current_key(conn: &mut DbConnection, alg: &str) -> Result<Option<SigningKeyRow>, DbError> {
    Ok(oidc_signing_key::table
        .filter(oidc_signing_key::alg.eq(alg))
        .filter(oidc_signing_key::retired_at.is_null())
        .order(oidc_signing_key::id.desc())
        .select(SigningKeyRow::as_select())
        .load(conn)?
        .into_iter()
        .next())
}
