//! Queries on Flask-Security's `webauthn` table and Latchkey's `webauthn_ceremony`.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::{Ceremony, NewPasskey, Passkey};
use super::schema::{user, webauthn, webauthn_ceremony};
use super::{DbConnection, DbError};

/// The passkeys of a user, oldest first.
pub fn for_user(conn: &mut DbConnection, user_id: i32) -> Result<Vec<Passkey>, DbError> {
    // On the concrete connection: its statement cache keeps the query (the sessions page
    // and the account overview read it on every view).
    Ok(super::on_backend!(conn, |c| webauthn::table
        .filter(webauthn::user_id.eq(user_id))
        .order(webauthn::id)
        .select(Passkey::as_select())
        .load(c))?)
}

/// The passkeys of several users (see [`super::by_user`]): one query on PostgreSQL.
pub fn for_users(
    conn: &mut DbConnection,
    user_ids: &[i32],
) -> Result<HashMap<i32, Vec<Passkey>>, DbError> {
    match &mut *conn {
        #[cfg(feature = "postgres")]
        DbConnection::Postgres(c) => {
            let rows = webauthn::table
                .filter(webauthn::user_id.eq_any(user_ids))
                .order(webauthn::id)
                .select(Passkey::as_select())
                .load(c)?;
            Ok(super::by_user(user_ids, rows, |row: &Passkey| {
                Some(row.user_id)
            }))
        }
        DbConnection::Sqlite(_) => super::each_user(conn, user_ids, for_user),
    }
}

/// The passkey with this credential id, whoever owns it.
pub fn by_credential_id(
    conn: &mut DbConnection,
    credential_id: &[u8],
) -> Result<Option<Passkey>, DbError> {
    Ok(webauthn::table
        .filter(webauthn::credential_id.eq(credential_id))
        .select(Passkey::as_select())
        .get_result(conn)
        .optional()?)
}

/// Whether `user_id` has a passkey registered for `usage`.
pub fn has_usage(conn: &mut DbConnection, user_id: i32, usage: &str) -> Result<bool, DbError> {
    let n: i64 = webauthn::table
        .filter(webauthn::user_id.eq(user_id))
        .filter(webauthn::usage.eq(usage))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// How many users have a passkey registered for `usage`.
pub fn users_with_usage(conn: &mut DbConnection, usage: &str) -> Result<usize, DbError> {
    let ids: Vec<i32> = webauthn::table
        .filter(webauthn::usage.eq(usage))
        .select(webauthn::user_id)
        .distinct()
        .load(conn)?;
    Ok(ids.len())
}

pub fn insert(conn: &mut DbConnection, new: &NewPasskey) -> Result<(), DbError> {
    diesel::insert_into(webauthn::table)
        .values(new)
        .execute(conn)?;
    Ok(())
}

/// Records a use: the new counter, backup state and time, only if the counter is still the
/// one the check was made against (`seen_count`). `false`: another sign-in with this passkey
/// got there first.
pub fn record_use(
    conn: &mut DbConnection,
    id: i32,
    seen_count: Option<i32>,
    new_count: i32,
    backup_state: bool,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let target = webauthn::table.filter(webauthn::id.eq(id));
    let changes = (
        webauthn::sign_count.eq(new_count),
        webauthn::backup_state.eq(backup_state),
        webauthn::lastuse_datetime.eq(now),
    );
    let updated = match seen_count {
        Some(seen) => diesel::update(target.filter(webauthn::sign_count.eq(seen)))
            .set(changes)
            .execute(conn)?,
        None => diesel::update(target.filter(webauthn::sign_count.is_null()))
            .set(changes)
            .execute(conn)?,
    };
    Ok(updated == 1)
}

/// Deletes the passkey `name` of `user_id`; whether there was one.
pub fn delete(conn: &mut DbConnection, user_id: i32, name: &str) -> Result<bool, DbError> {
    let n = diesel::delete(
        webauthn::table
            .filter(webauthn::user_id.eq(user_id))
            .filter(webauthn::name.eq(name)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Gives `user_id` the passkey user handle `handle` unless it has one; returns the one it
/// has now.
pub fn ensure_user_handle(
    conn: &mut DbConnection,
    user_id: i32,
    handle: &str,
) -> Result<String, DbError> {
    diesel::update(
        user::table
            .filter(user::id.eq(user_id))
            .filter(user::fs_webauthn_user_handle.is_null()),
    )
    .set(user::fs_webauthn_user_handle.eq(handle))
    .execute(conn)?;
    let current: Option<String> = user::table
        .filter(user::id.eq(user_id))
        .select(user::fs_webauthn_user_handle)
        .get_result(conn)?;
    current.ok_or(DbError::Query(diesel::result::Error::NotFound))
}

pub fn begin_ceremony(conn: &mut DbConnection, ceremony: &Ceremony) -> Result<(), DbError> {
    diesel::insert_into(webauthn_ceremony::table)
        .values(ceremony)
        .execute(conn)?;
    Ok(())
}

/// Takes the ceremony `token_hash` begun in the session `binding`, if it is there (expired
/// or not: the caller tells): it is deleted, so only one caller ever gets it. A ceremony of
/// another session is left alone (whoever saw its token cannot use it up).
pub fn take_ceremony(
    conn: &mut DbConnection,
    token_hash: &str,
    binding: &str,
) -> Result<Option<Ceremony>, DbError> {
    let mine = webauthn_ceremony::table
        .filter(webauthn_ceremony::token_hash.eq(token_hash))
        .filter(webauthn_ceremony::binding.eq(binding));
    let Some(found) = mine
        .select(Ceremony::as_select())
        .get_result(conn)
        .optional()?
    else {
        return Ok(None);
    };
    // Two requests may both read it; only the one whose delete removes it goes on.
    if diesel::delete(mine).execute(conn)? != 1 {
        return Ok(None);
    }
    Ok(Some(found))
}

/// Deletes ceremonies that expired before `now`; how many.
pub fn purge_expired_ceremonies(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(
        diesel::delete(webauthn_ceremony::table.filter(webauthn_ceremony::expires_at.le(now)))
            .execute(conn)?,
    )
}
