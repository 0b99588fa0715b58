//! Queries on `oidc_grant`, `oidc_token` and `oidc_consent`: the codes and tokens the
//! OpenID Connect provider hands out (as digests), and what a person agreed to share. The
//! rules in `auth::oidc::provider` own the transactions.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{login_session, oidc_consent, oidc_grant, oidc_token};
use super::{DbConnection, DbError};

/// A code and the family of tokens it started.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = oidc_grant)]
pub struct GrantRow {
    #[diesel(skip_insertion)]
    pub id: i32,
    pub family: String,
    pub code_digest: String,
    pub client_id: String,
    pub user_id: i32,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: NaiveDateTime,
    pub amr: String,
    pub created_at: NaiveDateTime,
    pub code_expires_at: NaiveDateTime,
    pub code_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// A token of a family.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = oidc_token)]
pub struct TokenRow {
    pub id: i32,
    pub token_digest: String,
    pub family: String,
    pub kind: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

/// An app a person agreed to share `scope` with.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = oidc_consent)]
pub struct ConsentRow {
    pub id: i32,
    pub user_id: i32,
    pub client_id: String,
    pub scope: String,
    pub created_at: NaiveDateTime,
}

pub fn insert_grant(conn: &mut DbConnection, grant: &GrantRow) -> Result<(), DbError> {
    diesel::insert_into(oidc_grant::table)
        .values(grant)
        .execute(conn)?;
    Ok(())
}

/// Reserves the code: marks it used if it was not. Whether this call did (the one
/// request of several at once that may go on).
pub fn reserve_code(
    conn: &mut DbConnection,
    code_digest: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(
        oidc_grant::table
            .filter(oidc_grant::code_digest.eq(code_digest))
            .filter(oidc_grant::code_used_at.is_null()),
    )
    .set(oidc_grant::code_used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn grant_by_code(
    conn: &mut DbConnection,
    code_digest: &str,
) -> Result<Option<GrantRow>, DbError> {
    Ok(oidc_grant::table
        .filter(oidc_grant::code_digest.eq(code_digest))
        .select(GrantRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn grant_by_family(conn: &mut DbConnection, family: &str) -> Result<Option<GrantRow>, DbError> {
    Ok(oidc_grant::table
        .filter(oidc_grant::family.eq(family))
        .select(GrantRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Revokes a family: its grant is marked revoked and its tokens deleted. Whether it was
/// live.
pub fn revoke_family(
    conn: &mut DbConnection,
    family: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(
        oidc_grant::table
            .filter(oidc_grant::family.eq(family))
            .filter(oidc_grant::revoked_at.is_null()),
    )
    .set(oidc_grant::revoked_at.eq(Some(now)))
    .execute(conn)?;
    diesel::delete(oidc_token::table.filter(oidc_token::family.eq(family))).execute(conn)?;
    Ok(n > 0)
}

/// Revokes every live family of `user_id` (of one client when `client_id` is given): how
/// many.
pub fn revoke_for_user(
    conn: &mut DbConnection,
    user_id: i32,
    client_id: Option<&str>,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    let mut live = oidc_grant::table
        .filter(oidc_grant::user_id.eq(user_id))
        .filter(oidc_grant::revoked_at.is_null())
        .select(oidc_grant::family)
        .into_boxed();
    if let Some(client_id) = client_id {
        live = live.filter(oidc_grant::client_id.eq(client_id.to_owned()));
    }
    let families: Vec<String> = live.load(conn)?;
    for family in &families {
        revoke_family(conn, family, now)?;
    }
    Ok(families.len())
}

pub fn insert_token(
    conn: &mut DbConnection,
    token_digest: &str,
    family: &str,
    kind: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::insert_into(oidc_token::table)
        .values((
            oidc_token::token_digest.eq(token_digest),
            oidc_token::family.eq(family),
            oidc_token::kind.eq(kind),
            oidc_token::created_at.eq(now),
            oidc_token::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The token with this digest and its grant, if both are there.
pub fn token(
    conn: &mut DbConnection,
    token_digest: &str,
) -> Result<Option<(TokenRow, GrantRow)>, DbError> {
    let Some(token) = oidc_token::table
        .filter(oidc_token::token_digest.eq(token_digest))
        .select(TokenRow::as_select())
        .get_result(conn)
        .optional()?
    else {
        return Ok(None);
    };
    Ok(grant_by_family(conn, &token.family)?.map(|grant| (token, grant)))
}

/// Reserves a refresh token: marks it used if it was not. Whether this call did.
pub fn reserve_refresh(
    conn: &mut DbConnection,
    token_digest: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(
        oidc_token::table
            .filter(oidc_token::token_digest.eq(token_digest))
            .filter(oidc_token::kind.eq("refresh"))
            .filter(oidc_token::used_at.is_null()),
    )
    .set(oidc_token::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Deletes one token: whether it was there.
pub fn delete_token(conn: &mut DbConnection, token_digest: &str) -> Result<bool, DbError> {
    Ok(
        diesel::delete(oidc_token::table.filter(oidc_token::token_digest.eq(token_digest)))
            .execute(conn)?
            > 0,
    )
}

/// The scopes `user_id` agreed to share with `client_id`, if asked before.
pub fn consent(
    conn: &mut DbConnection,
    user_id: i32,
    client_id: &str,
) -> Result<Option<ConsentRow>, DbError> {
    Ok(oidc_consent::table
        .filter(oidc_consent::user_id.eq(user_id))
        .filter(oidc_consent::client_id.eq(client_id))
        .select(ConsentRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Records (or replaces) what `user_id` agreed to share with `client_id`.
pub fn set_consent(
    conn: &mut DbConnection,
    user_id: i32,
    client_id: &str,
    scope: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    delete_consent(conn, user_id, client_id)?;
    diesel::insert_into(oidc_consent::table)
        .values((
            oidc_consent::user_id.eq(user_id),
            oidc_consent::client_id.eq(client_id),
            oidc_consent::scope.eq(scope),
            oidc_consent::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Forgets what `user_id` agreed to share with `client_id`: whether there was a consent.
pub fn delete_consent(
    conn: &mut DbConnection,
    user_id: i32,
    client_id: &str,
) -> Result<bool, DbError> {
    Ok(diesel::delete(
        oidc_consent::table
            .filter(oidc_consent::user_id.eq(user_id))
            .filter(oidc_consent::client_id.eq(client_id)),
    )
    .execute(conn)?
        > 0)
}

/// The apps `user_id` agreed to share with, oldest first.
pub fn consents_of(conn: &mut DbConnection, user_id: i32) -> Result<Vec<ConsentRow>, DbError> {
    Ok(oidc_consent::table
        .filter(oidc_consent::user_id.eq(user_id))
        .order(oidc_consent::id)
        .select(ConsentRow::as_select())
        .load(conn)?)
}

/// How the login `login_id` was proved (its `amr`), if recorded.
pub fn login_amr(conn: &mut DbConnection, login_id: &str) -> Result<Option<String>, DbError> {
    Ok(login_session::table
        .find(login_id)
        .select(login_session::amr)
        .get_result::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// Records how the login `login_id` was proved.
pub fn set_login_amr(conn: &mut DbConnection, login_id: &str, amr: &str) -> Result<(), DbError> {
    diesel::update(login_session::table.find(login_id))
        .set(login_session::amr.eq(Some(amr)))
        .execute(conn)?;
    Ok(())
}
