//! Queries on `auth_attempt`: the throttling counts (see `crate::auth::throttle`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::auth_attempt;
use super::{DbConnection, DbError};

pub fn insert(
    conn: &mut DbConnection,
    action: &str,
    subject: &str,
    ip: &str,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::insert_into(auth_attempt::table)
        .values((
            auth_attempt::action.eq(action),
            auth_attempt::subject.eq(subject),
            auth_attempt::ip.eq(ip),
            auth_attempt::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records an event and returns its row id (so that it can be taken back).
pub fn insert_returning_id(
    conn: &mut DbConnection,
    action: &str,
    subject: &str,
    ip: &str,
    at: NaiveDateTime,
) -> Result<i64, DbError> {
    insert(conn, action, subject, ip, at)?;
    // Not RETURNING: the multi-backend connection has none. The caller holds the subject's
    // exclusive transaction, so the newest row of this pair is the one just written.
    Ok(auth_attempt::table
        .filter(auth_attempt::action.eq(action))
        .filter(auth_attempt::subject.eq(subject))
        .filter(auth_attempt::ip.eq(ip))
        .order(auth_attempt::id.desc())
        .select(auth_attempt::id)
        .first(conn)?)
}

pub fn delete_by_id(conn: &mut DbConnection, id: i64) -> Result<(), DbError> {
    diesel::delete(auth_attempt::table.filter(auth_attempt::id.eq(id))).execute(conn)?;
    Ok(())
}

/// `(ip, created_at)` of the events of `action` on `subject` since `since`.
pub fn since(
    conn: &mut DbConnection,
    action: &str,
    subject: &str,
    since: NaiveDateTime,
) -> Result<Vec<(String, NaiveDateTime)>, DbError> {
    Ok(auth_attempt::table
        .filter(auth_attempt::action.eq(action))
        .filter(auth_attempt::subject.eq(subject))
        .filter(auth_attempt::created_at.gt(since))
        .select((auth_attempt::ip, auth_attempt::created_at))
        .load(conn)?)
}

/// When the events of `action` from `ip` since `since` happened.
pub fn times_from(
    conn: &mut DbConnection,
    action: &str,
    ip: &str,
    since: NaiveDateTime,
) -> Result<Vec<NaiveDateTime>, DbError> {
    Ok(auth_attempt::table
        .filter(auth_attempt::action.eq(action))
        .filter(auth_attempt::ip.eq(ip))
        .filter(auth_attempt::created_at.gt(since))
        .select(auth_attempt::created_at)
        .load(conn)?)
}

pub fn exists(
    conn: &mut DbConnection,
    action: &str,
    subject: &str,
    ip: &str,
    since: NaiveDateTime,
) -> Result<bool, DbError> {
    let n: i64 = auth_attempt::table
        .filter(auth_attempt::action.eq(action))
        .filter(auth_attempt::subject.eq(subject))
        .filter(auth_attempt::ip.eq(ip))
        .filter(auth_attempt::created_at.gt(since))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn delete_pair(
    conn: &mut DbConnection,
    action: &str,
    subject: &str,
    ip: &str,
) -> Result<(), DbError> {
    diesel::delete(
        auth_attempt::table
            .filter(auth_attempt::action.eq(action))
            .filter(auth_attempt::subject.eq(subject))
            .filter(auth_attempt::ip.eq(ip)),
    )
    .execute(conn)?;
    Ok(())
}

pub fn delete_subject(conn: &mut DbConnection, action: &str, subject: &str) -> Result<(), DbError> {
    diesel::delete(
        auth_attempt::table
            .filter(auth_attempt::action.eq(action))
            .filter(auth_attempt::subject.eq(subject)),
    )
    .execute(conn)?;
    Ok(())
}

/// At most this many rows are forgotten by one [`prune`]: a write that counts an event must
/// stay short however many old rows wait (housekeeping removes the rest).
pub const PRUNE_LIMIT: i64 = 100;

/// Forgets up to [`PRUNE_LIMIT`] events of `action` that no window counts any more (through
/// the `(action, created_at)` index: only the old rows are read).
pub fn prune(conn: &mut DbConnection, action: &str, before: NaiveDateTime) -> Result<(), DbError> {
    let old: Vec<i64> = auth_attempt::table
        .filter(auth_attempt::action.eq(action))
        .filter(auth_attempt::created_at.le(before))
        .select(auth_attempt::id)
        .limit(PRUNE_LIMIT)
        .load(conn)?;
    if !old.is_empty() {
        diesel::delete(auth_attempt::table.filter(auth_attempt::id.eq_any(&old))).execute(conn)?;
    }
    Ok(())
}
