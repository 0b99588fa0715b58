//! Queries on `login_session`: the server-side record that makes logout revoke.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::{LoginSession, User};
use super::schema::{login_session, user};
use super::{on_backend, DbConnection, DbError};

pub fn insert(conn: &mut DbConnection, session: &LoginSession) -> Result<(), DbError> {
    diesel::insert_into(login_session::table)
        .values(session)
        .execute(conn)?;
    Ok(())
}

/// The login and its user in one indexed query.
pub fn find_with_user(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<(LoginSession, User)>, DbError> {
    Ok(on_backend!(conn, |c| login_session::table
        .inner_join(user::table)
        .filter(login_session::id.eq(id))
        .select((LoginSession::as_select(), User::as_select()))
        .get_result(c)
        .optional())?)
}

/// Several logins and their users (ids without a login are left out). PostgreSQL answers
/// in one query (`= ANY($1)`, one prepared statement whatever the count). SQLite has no
/// round trip to save, and would parse an `IN (?, …)` list of each new length again: the
/// cached one-row lookup per id costs less there.
pub fn find_many_with_user(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<Vec<(LoginSession, User)>, DbError> {
    match &mut *conn {
        #[cfg(feature = "postgres")]
        DbConnection::Postgres(c) => Ok(login_session::table
            .inner_join(user::table)
            .filter(login_session::id.eq_any(ids))
            .select((LoginSession::as_select(), User::as_select()))
            .load(c)?),
        DbConnection::Sqlite(_) => ids
            .iter()
            .filter_map(|id| find_with_user(conn, id).transpose())
            .collect(),
    }
}

pub fn touch(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> Result<(), DbError> {
    let query =
        diesel::update(login_session::table.find(id)).set(login_session::last_seen_at.eq(at));
    on_backend!(conn, |c| query.execute(c))?;
    Ok(())
}

pub fn set_authenticated_at(
    conn: &mut DbConnection,
    id: &str,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(login_session::table.find(id))
        .set(login_session::authenticated_at.eq(Some(at)))
        .execute(conn)?;
    Ok(())
}

/// Every login of a user.
pub fn for_user(conn: &mut DbConnection, user_id: i32) -> Result<Vec<LoginSession>, DbError> {
    // On the concrete connection: its statement cache keeps the query (the sessions page
    // and the account overview read it on every view).
    Ok(super::on_backend!(conn, |c| login_session::table
        .filter(login_session::user_id.eq(user_id))
        .select(LoginSession::as_select())
        .load(c))?)
}

/// Every login of several users (see [`super::by_user`]): one query on PostgreSQL.
pub fn for_users(
    conn: &mut DbConnection,
    user_ids: &[i32],
) -> Result<HashMap<i32, Vec<LoginSession>>, DbError> {
    match &mut *conn {
        #[cfg(feature = "postgres")]
        DbConnection::Postgres(c) => {
            let rows = login_session::table
                .filter(login_session::user_id.eq_any(user_ids))
                .select(LoginSession::as_select())
                .load(c)?;
            Ok(super::by_user(user_ids, rows, |row: &LoginSession| {
                Some(row.user_id)
            }))
        }
        DbConnection::Sqlite(_) => super::each_user(conn, user_ids, for_user),
    }
}

pub fn delete(conn: &mut DbConnection, id: &str) -> Result<(), DbError> {
    diesel::delete(login_session::table.find(id)).execute(conn)?;
    Ok(())
}

/// Ends every login of a user except `keep` (the one that made the change, if any).
pub fn delete_for_user(
    conn: &mut DbConnection,
    user_id: i32,
    keep: Option<&str>,
) -> Result<usize, DbError> {
    let rows = match keep {
        Some(keep) => diesel::delete(
            login_session::table
                .filter(login_session::user_id.eq(user_id))
                .filter(login_session::id.ne(keep)),
        )
        .execute(conn)?,
        None => diesel::delete(login_session::table.filter(login_session::user_id.eq(user_id)))
            .execute(conn)?,
    };
    Ok(rows)
}

/// Re-binds a login to a new uniquifier (the session that changed the password stays in).
pub fn rebind(conn: &mut DbConnection, id: &str, uniquifier: &str) -> Result<(), DbError> {
    diesel::update(login_session::table.find(id))
        .set(login_session::fs_uniquifier.eq(uniquifier))
        .execute(conn)?;
    Ok(())
}

pub fn count(conn: &mut DbConnection) -> Result<i64, DbError> {
    Ok(login_session::table.count().get_result(conn)?)
}
