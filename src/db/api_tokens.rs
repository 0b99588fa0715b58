//! Queries on `auth_token` (API tokens, by keyed digest) and Flask-Security's `fs_refresh`
//! (refresh-token families).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::{AuthToken, NewRefreshTracker, RefreshTracker, User};
use super::schema::{auth_token, fs_refresh, refresh_login, user};
use super::{DbConnection, DbError};

pub fn insert(conn: &mut DbConnection, token: &AuthToken) -> Result<(), DbError> {
    diesel::insert_into(auth_token::table)
        .values(token)
        .execute(conn)?;
    Ok(())
}

pub fn find_with_user(
    conn: &mut DbConnection,
    token_hash: &str,
) -> Result<Option<(AuthToken, User)>, DbError> {
    Ok(auth_token::table
        .inner_join(user::table)
        .filter(auth_token::token_hash.eq(token_hash))
        .select((AuthToken::as_select(), User::as_select()))
        .get_result(conn)
        .optional()?)
}

pub fn touch(conn: &mut DbConnection, token_hash: &str, at: NaiveDateTime) -> Result<(), DbError> {
    diesel::update(auth_token::table.find(token_hash))
        .set(auth_token::last_used_at.eq(at))
        .execute(conn)?;
    Ok(())
}

/// Records an interactive proof by the holder of a token (a re-authentication).
pub fn set_authenticated_at(
    conn: &mut DbConnection,
    token_hash: &str,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(auth_token::table.find(token_hash))
        .set(auth_token::authenticated_at.eq(Some(at)))
        .execute(conn)?;
    Ok(())
}

pub fn for_user(conn: &mut DbConnection, user_id: i32) -> Result<Vec<AuthToken>, DbError> {
    // On the concrete connection: its statement cache keeps the query (the sessions page
    // and the account overview read it on every view).
    Ok(super::on_backend!(conn, |c| auth_token::table
        .filter(auth_token::user_id.eq(user_id))
        .order(auth_token::created_at.desc())
        .select(AuthToken::as_select())
        .load(c))?)
}

/// The API tokens of several users, newest first (see [`super::by_user`]): one query on
/// PostgreSQL.
pub fn for_users(
    conn: &mut DbConnection,
    user_ids: &[i32],
) -> Result<HashMap<i32, Vec<AuthToken>>, DbError> {
    match &mut *conn {
        #[cfg(feature = "postgres")]
        DbConnection::Postgres(c) => {
            let rows = auth_token::table
                .filter(auth_token::user_id.eq_any(user_ids))
                .order(auth_token::created_at.desc())
                .select(AuthToken::as_select())
                .load(c)?;
            Ok(super::by_user(user_ids, rows, |row: &AuthToken| {
                Some(row.user_id)
            }))
        }
        DbConnection::Sqlite(_) => super::each_user(conn, user_ids, for_user),
    }
}

pub fn for_login(conn: &mut DbConnection, login_id: &str) -> Result<Vec<AuthToken>, DbError> {
    Ok(auth_token::table
        .filter(auth_token::login_id.eq(login_id))
        .select(AuthToken::as_select())
        .load(conn)?)
}

/// Records the login a refresh family was started at.
pub fn bind_family_to_login(
    conn: &mut DbConnection,
    family: &str,
    login_id: &str,
) -> Result<(), DbError> {
    diesel::insert_into(refresh_login::table)
        .values((
            refresh_login::refresh_family.eq(family),
            refresh_login::login_id.eq(login_id),
        ))
        .execute(conn)?;
    Ok(())
}

/// The refresh families started at `login_id`.
pub fn families_of_login(conn: &mut DbConnection, login_id: &str) -> Result<Vec<String>, DbError> {
    Ok(refresh_login::table
        .filter(refresh_login::login_id.eq(login_id))
        .select(refresh_login::refresh_family)
        .load(conn)?)
}

/// The login a refresh family was started at, if it was recorded.
pub fn login_of_family(conn: &mut DbConnection, family: &str) -> Result<Option<String>, DbError> {
    Ok(refresh_login::table
        .find(family)
        .select(refresh_login::login_id)
        .get_result(conn)
        .optional()?)
}

pub fn delete(conn: &mut DbConnection, token_hash: &str) -> Result<usize, DbError> {
    Ok(diesel::delete(auth_token::table.find(token_hash)).execute(conn)?)
}

pub fn delete_for_user(conn: &mut DbConnection, user_id: i32) -> Result<usize, DbError> {
    Ok(diesel::delete(auth_token::table.filter(auth_token::user_id.eq(user_id))).execute(conn)?)
}

pub fn delete_for_family(conn: &mut DbConnection, family: &str) -> Result<usize, DbError> {
    Ok(
        diesel::delete(auth_token::table.filter(auth_token::refresh_family.eq(family)))
            .execute(conn)?,
    )
}

pub fn insert_tracker(conn: &mut DbConnection, tracker: &NewRefreshTracker) -> Result<(), DbError> {
    diesel::insert_into(fs_refresh::table)
        .values(tracker)
        .execute(conn)?;
    Ok(())
}

pub fn find_tracker(
    conn: &mut DbConnection,
    family: &str,
) -> Result<Option<RefreshTracker>, DbError> {
    Ok(fs_refresh::table
        .filter(fs_refresh::refresh_family.eq(family))
        .select(RefreshTracker::as_select())
        .get_result(conn)
        .optional()?)
}

/// Moves a live family from generation `from` to `from + 1`. Exactly one of several
/// concurrent callers presenting the same generation gets `true`.
pub fn advance_tracker(
    conn: &mut DbConnection,
    family: &str,
    from: i32,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let rows = diesel::update(
        fs_refresh::table
            .filter(fs_refresh::refresh_family.eq(family))
            .filter(fs_refresh::gen.eq(from))
            .filter(fs_refresh::revoked_at.is_null()),
    )
    .set((
        fs_refresh::gen.eq(from + 1),
        fs_refresh::last_used_at.eq(now),
    ))
    .execute(conn)?;
    Ok(rows == 1)
}

pub fn revoke_tracker(
    conn: &mut DbConnection,
    family: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(
        fs_refresh::table
            .filter(fs_refresh::refresh_family.eq(family))
            .filter(fs_refresh::revoked_at.is_null()),
    )
    .set(fs_refresh::revoked_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

/// Revokes every family of a user (Flask-Security's `refresh_tracker_reset`).
/// Revokes the user's live families but those in `keep`.
pub fn revoke_trackers_for_user_except(
    conn: &mut DbConnection,
    user_id: i32,
    keep: &[String],
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        fs_refresh::table
            .filter(fs_refresh::user_id.eq(user_id))
            .filter(fs_refresh::revoked_at.is_null())
            .filter(fs_refresh::refresh_family.ne_all(keep)),
    )
    .set(fs_refresh::revoked_at.eq(Some(now)))
    .execute(conn)?)
}

pub fn revoke_trackers_for_user(
    conn: &mut DbConnection,
    user_id: i32,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        fs_refresh::table
            .filter(fs_refresh::user_id.eq(user_id))
            .filter(fs_refresh::revoked_at.is_null()),
    )
    .set(fs_refresh::revoked_at.eq(Some(now)))
    .execute(conn)?)
}

/// Removes a user's expired families (as Flask-Security does when it makes a new one).
pub fn delete_expired_trackers(
    conn: &mut DbConnection,
    user_id: i32,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::delete(
        fs_refresh::table
            .filter(fs_refresh::user_id.eq(user_id))
            .filter(fs_refresh::expires_at.lt(now)),
    )
    .execute(conn)?;
    Ok(())
}
