//! Housekeeping queries: each deletes at most `limit` rows that are no use to anyone any
//! more, walking the table in primary-key order from a cursor, so that a pass reads every
//! row once and every write is one short delete by primary key (a few milliseconds of
//! SQLite's write lock, never a long one). What counts as "no use" is decided by the caller
//! ([`crate::auth`]'s housekeeping) through the cut-off times it passes in.
//!
//! Each function returns how many rows it deleted and the cursor to continue from (`None`:
//! the table has been walked to its end).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{
    auth_attempt, auth_token, fs_refresh, login_session, mail_outbox, otp_used, user_token,
    webauthn_ceremony,
};
use super::{DbConnection, DbError};

/// One batch's outcome.
pub type Batch<K> = (usize, Option<K>);

fn next<K: Clone>(keys: &[K], limit: i64) -> Option<K> {
    // A short batch means the walk reached the end.
    (keys.len() as i64 == limit)
        .then(|| keys.last().cloned())
        .flatten()
}

/// Logins past their lifetime: not remembered and idle since before `idle_before` or
/// begun before `begun_before`; remembered and past their remember-me expiry.
pub fn expired_logins(
    conn: &mut DbConnection,
    after: &str,
    now: NaiveDateTime,
    idle_before: NaiveDateTime,
    begun_before: NaiveDateTime,
    limit: i64,
) -> Result<Batch<String>, DbError> {
    use login_session::dsl as s;
    let keys: Vec<String> = s::login_session
        .filter(s::id.gt(after))
        .filter(
            s::remember_hash
                .is_null()
                .and(
                    s::last_seen_at
                        .lt(idle_before)
                        .or(s::created_at.lt(begun_before)),
                )
                .or(s::remember_hash.is_not_null().and(
                    s::remember_expires_at
                        .is_null()
                        .or(s::remember_expires_at.le(now)),
                )),
        )
        .order(s::id.asc())
        .select(s::id)
        .limit(limit)
        .load(conn)?;
    let deleted = diesel::delete(s::login_session.filter(s::id.eq_any(&keys))).execute(conn)?;
    Ok((deleted, next(&keys, limit)))
}

/// Confirmation, reset and change-of-email tokens that were used or have expired.
pub fn spent_user_tokens(
    conn: &mut DbConnection,
    after: &str,
    now: NaiveDateTime,
    limit: i64,
) -> Result<Batch<String>, DbError> {
    use user_token::dsl as t;
    let keys: Vec<String> = t::user_token
        .filter(t::token_hash.gt(after))
        .filter(t::used_at.is_not_null().or(t::expires_at.le(now)))
        .order(t::token_hash.asc())
        .select(t::token_hash)
        .limit(limit)
        .load(conn)?;
    let deleted =
        diesel::delete(t::user_token.filter(t::token_hash.eq_any(&keys))).execute(conn)?;
    Ok((deleted, next(&keys, limit)))
}

/// Throttle rows older than their action's window: `windows` gives a cut-off per action;
/// an action it does not name uses `others_before`.
pub fn old_attempts(
    conn: &mut DbConnection,
    after: i64,
    windows: &[(&str, NaiveDateTime)],
    others_before: NaiveDateTime,
    limit: i64,
) -> Result<Batch<i64>, DbError> {
    use auth_attempt::dsl as a;
    let rows: Vec<(i64, String, NaiveDateTime)> = a::auth_attempt
        .filter(a::id.gt(after))
        .order(a::id.asc())
        .select((a::id, a::action, a::created_at))
        .limit(limit)
        .load(conn)?;
    let stale: Vec<i64> = rows
        .iter()
        .filter(|(_, action, at)| {
            let before = windows
                .iter()
                .find(|(name, _)| name == action)
                .map_or(others_before, |(_, before)| *before);
            *at < before
        })
        .map(|(id, _, _)| *id)
        .collect();
    let deleted = match stale.is_empty() {
        true => 0,
        false => diesel::delete(a::auth_attempt.filter(a::id.eq_any(&stale))).execute(conn)?,
    };
    let keys: Vec<i64> = rows.iter().map(|(id, _, _)| *id).collect();
    Ok((deleted, next(&keys, limit)))
}

/// Mail given up (`attempts` reached `max_attempts`) and queued before `before`. (Delivered
/// mail is deleted as it is delivered.)
pub fn dead_mail(
    conn: &mut DbConnection,
    after: i64,
    max_attempts: i32,
    before: NaiveDateTime,
    limit: i64,
) -> Result<Batch<i64>, DbError> {
    use mail_outbox::dsl as m;
    let keys: Vec<i64> = m::mail_outbox
        .filter(m::id.gt(after))
        .filter(m::attempts.ge(max_attempts))
        .filter(m::created_at.lt(before))
        .order(m::id.asc())
        .select(m::id)
        .limit(limit)
        .load(conn)?;
    let deleted = diesel::delete(m::mail_outbox.filter(m::id.eq_any(&keys))).execute(conn)?;
    Ok((deleted, next(&keys, limit)))
}

/// Passkey ceremonies nobody finished.
pub fn expired_ceremonies(
    conn: &mut DbConnection,
    after: &str,
    now: NaiveDateTime,
    limit: i64,
) -> Result<Batch<String>, DbError> {
    use webauthn_ceremony::dsl as w;
    let keys: Vec<String> = w::webauthn_ceremony
        .filter(w::token_hash.gt(after))
        .filter(w::expires_at.le(now))
        .order(w::token_hash.asc())
        .select(w::token_hash)
        .limit(limit)
        .load(conn)?;
    let deleted =
        diesel::delete(w::webauthn_ceremony.filter(w::token_hash.eq_any(&keys))).execute(conn)?;
    Ok((deleted, next(&keys, limit)))
}

/// Used code steps recorded before `before` (no code of theirs is accepted any more).
pub fn old_code_steps(
    conn: &mut DbConnection,
    before: NaiveDateTime,
    limit: i64,
) -> Result<usize, DbError> {
    use otp_used::dsl as o;
    let keys: Vec<(i32, String, i64)> = o::otp_used
        .filter(o::used_at.lt(before))
        .select((o::user_id, o::purpose, o::step))
        .limit(limit)
        .load(conn)?;
    let mut deleted = 0;
    for (user_id, purpose, step) in keys {
        deleted += diesel::delete(
            o::otp_used
                .filter(o::user_id.eq(user_id))
                .filter(o::purpose.eq(purpose))
                .filter(o::step.eq(step)),
        )
        .execute(conn)?;
    }
    Ok(deleted)
}

/// API tokens past their expiry.
pub fn expired_api_tokens(
    conn: &mut DbConnection,
    after: &str,
    now: NaiveDateTime,
    limit: i64,
) -> Result<Batch<String>, DbError> {
    use auth_token::dsl as t;
    let keys: Vec<String> = t::auth_token
        .filter(t::token_hash.gt(after))
        .filter(t::expires_at.le(now))
        .order(t::token_hash.asc())
        .select(t::token_hash)
        .limit(limit)
        .load(conn)?;
    let deleted =
        diesel::delete(t::auth_token.filter(t::token_hash.eq_any(&keys))).execute(conn)?;
    Ok((deleted, next(&keys, limit)))
}

/// Refresh-token families past their maximum age (revoked ones are kept until then, so a
/// replay still answers "revoked").
pub fn expired_refresh_families(
    conn: &mut DbConnection,
    after: i32,
    now: NaiveDateTime,
    limit: i64,
) -> Result<Batch<i32>, DbError> {
    use fs_refresh::dsl as f;
    let keys: Vec<i32> = f::fs_refresh
        .filter(f::id.gt(after))
        .filter(f::expires_at.le(now))
        .order(f::id.asc())
        .select(f::id)
        .limit(limit)
        .load(conn)?;
    let deleted = diesel::delete(f::fs_refresh.filter(f::id.eq_any(&keys))).execute(conn)?;
    Ok((deleted, next(&keys, limit)))
}

/// SQLite in incremental auto-vacuum mode (every file Latchkey creates): gives back up to
/// `pages` of the file's free pages to the file system, moving pages from the end of the
/// file into the holes the deletes left. Returns the bytes given back and how many free
/// pages are left, or `None` when there is nothing this can do (PostgreSQL, whose files
/// keep their size until `VACUUM FULL`; a SQLite file made without auto-vacuum, which only
/// `VACUUM` shrinks).
pub fn return_free_pages(
    conn: &mut DbConnection,
    pages: i64,
) -> Result<Option<(u64, i64)>, DbError> {
    #[derive(QueryableByName)]
    struct Value {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    // Irrefutable in a build without PostgreSQL.
    #[allow(irrefutable_let_patterns)]
    let DbConnection::Sqlite(c) = conn
    else {
        return Ok(None);
    };
    fn pragma(c: &mut diesel::SqliteConnection, name: &str) -> Result<i64, DbError> {
        Ok(
            diesel::sql_query(format!("SELECT {name} AS n FROM pragma_{name}()"))
                .get_result::<Value>(c)?
                .n,
        )
    }
    const INCREMENTAL: i64 = 2;
    if pragma(c, "auto_vacuum")? != INCREMENTAL {
        return Ok(None);
    }
    let (before, page_size) = (pragma(c, "freelist_count")?, pragma(c, "page_size")?);
    if before == 0 {
        return Ok(Some((0, 0)));
    }
    // Runs to completion (sqlite3_exec steps it until done), one short write transaction.
    diesel::connection::SimpleConnection::batch_execute(
        c,
        &format!("PRAGMA incremental_vacuum({pages})"),
    )?;
    let after = pragma(c, "freelist_count")?;
    let returned = u64::try_from((before - after) * page_size).unwrap_or(0);
    Ok(Some((returned, after)))
}

/// SQLite: copies the WAL into the database file and cuts the WAL back to nothing
/// (`wal_checkpoint(TRUNCATE)`). Under a steady stream of readers SQLite's automatic
/// checkpoints never find a moment to restart the WAL, so a long run of deletes would grow it
/// to hundreds of megabytes, and every read looks its pages up in it. Waits (within the busy
/// timeout) for the readers of older snapshots to finish, blocking writers meanwhile: call
/// it between batches, not after each. Nothing to do on PostgreSQL.
#[allow(irrefutable_let_patterns)] // a build without PostgreSQL has only SQLite
pub fn checkpoint(conn: &mut DbConnection) -> Result<(), DbError> {
    if let DbConnection::Sqlite(c) = conn {
        diesel::connection::SimpleConnection::batch_execute(c, "PRAGMA wal_checkpoint(TRUNCATE)")?;
    }
    Ok(())
}
