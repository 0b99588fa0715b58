//! Queries on `user_token`: single-use confirmation and reset tokens, stored as digests.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::{User, UserToken};
use super::schema::{user, user_token};
use super::{DbConnection, DbError};

pub fn insert(conn: &mut DbConnection, token: &UserToken) -> Result<(), DbError> {
    diesel::insert_into(user_token::table)
        .values(token)
        .execute(conn)?;
    Ok(())
}

pub fn find_with_user(
    conn: &mut DbConnection,
    token_hash: &str,
) -> Result<Option<(UserToken, User)>, DbError> {
    Ok(user_token::table
        .inner_join(user::table)
        .filter(user_token::token_hash.eq(token_hash))
        .select((UserToken::as_select(), User::as_select()))
        .get_result(conn)
        .optional()?)
}

/// Marks the token used if it is still unused and unexpired. Exactly one of several
/// concurrent callers gets `true`.
pub fn consume(
    conn: &mut DbConnection,
    token_hash: &str,
    purpose: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let rows = diesel::update(
        user_token::table
            .filter(user_token::token_hash.eq(token_hash))
            .filter(user_token::purpose.eq(purpose))
            .filter(user_token::used_at.is_null())
            .filter(user_token::expires_at.gt(now)),
    )
    .set(user_token::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(rows == 1)
}

/// Removes every token of `purpose` for a user (e.g. all reset links once the password changed).
pub fn delete_for_user(
    conn: &mut DbConnection,
    user_id: i32,
    purpose: &str,
) -> Result<(), DbError> {
    diesel::delete(
        user_token::table
            .filter(user_token::user_id.eq(user_id))
            .filter(user_token::purpose.eq(purpose)),
    )
    .execute(conn)?;
    Ok(())
}
