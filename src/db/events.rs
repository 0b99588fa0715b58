//! Queries on `security_event`: the stored security events (see `crate::auth::events`).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::{NewSecurityEvent, SecurityEventRow};
use super::schema::{security_event, user};
use super::{DbConnection, DbError};

pub fn insert(conn: &mut DbConnection, row: &NewSecurityEvent) -> Result<(), DbError> {
    diesel::insert_into(security_event::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// The newest `limit` events of one user, newest first (the account page's, on every view).
/// On the concrete backend connection, so that Diesel's statement cache keeps the prepared
/// query (through `MultiConnection` it is written out again at each run). SQLite reads the
/// first `limit` rows of an unlimited query: a bound `LIMIT` is a parameter its plan depends
/// on, and SQLite prepared the statement again whenever it was bound (a tenth of the
/// server's CPU on `GET /profile`). PostgreSQL keeps its `LIMIT $n`: it would otherwise
/// send every row.
pub fn recent_for_user(
    conn: &mut DbConnection,
    user_id: i32,
    limit: i64,
) -> Result<Vec<SecurityEventRow>, DbError> {
    macro_rules! query {
        () => {
            security_event::table
                .filter(security_event::user_id.eq(user_id))
                .order((security_event::created_at.desc(), security_event::id.desc()))
                .select(SecurityEventRow::as_select())
        };
    }
    match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Postgres(c) => Ok(query!().limit(limit).load(c)?),
        DbConnection::Sqlite(c) => {
            let wanted = usize::try_from(limit).unwrap_or(0);
            let rows = query!()
                .load_iter::<SecurityEventRow, diesel::connection::DefaultLoadingMode>(c)?;
            Ok(rows.take(wanted).collect::<Result<_, _>>()?)
        }
    }
}

/// The newest `limit` events of each of several users, newest first (see
/// [`super::by_user`]). PostgreSQL answers in one query, a `LATERAL` join that reads each
/// user's newest rows from the `(user_id, created_at)` index.
pub fn recent_for_users(
    conn: &mut DbConnection,
    user_ids: &[i32],
    limit: i64,
) -> Result<HashMap<i32, Vec<SecurityEventRow>>, DbError> {
    match &mut *conn {
        #[cfg(feature = "postgres")]
        DbConnection::Postgres(c) => {
            let rows: Vec<SecurityEventRow> =
                pg_recent::RecentForUsers { user_ids, limit }.load(c)?;
            Ok(super::by_user(user_ids, rows, |row: &SecurityEventRow| {
                row.user_id
            }))
        }
        DbConnection::Sqlite(_) => {
            super::each_user(conn, user_ids, |conn, id| recent_for_user(conn, id, limit))
        }
    }
}

/// The newest `limit` events of every user, newest first, with the account's email when
/// the event names one that still exists.
pub fn recent(
    conn: &mut DbConnection,
    limit: i64,
) -> Result<Vec<(SecurityEventRow, Option<String>)>, DbError> {
    Ok(security_event::table
        .left_join(user::table.on(security_event::user_id.eq(user::id.nullable())))
        .order((security_event::created_at.desc(), security_event::id.desc()))
        .limit(limit)
        .select((SecurityEventRow::as_select(), user::email.nullable()))
        .load::<(SecurityEventRow, Option<String>)>(conn)?)
}

/// Where an event came from: `(ip, user_agent)`.
pub type EventClient = (Option<String>, Option<String>);

/// `(ip, user_agent)` of the user's newest `limit` events of `kind` since `since`.
pub fn clients_since(
    conn: &mut DbConnection,
    user_id: i32,
    kind: &str,
    since: NaiveDateTime,
    limit: i64,
) -> Result<Vec<EventClient>, DbError> {
    Ok(security_event::table
        .filter(security_event::user_id.eq(user_id))
        .filter(security_event::kind.eq(kind))
        .filter(security_event::created_at.ge(since))
        .order(security_event::created_at.desc())
        .limit(limit)
        .select((security_event::ip, security_event::user_agent))
        .load(conn)?)
}

/// Deletes the events older than `before`; returns how many.
pub fn prune(conn: &mut DbConnection, before: NaiveDateTime) -> Result<usize, DbError> {
    Ok(
        diesel::delete(security_event::table.filter(security_event::created_at.lt(before)))
            .execute(conn)?,
    )
}

/// The newest events of several users in one statement that each PostgreSQL connection
/// prepares once: diesel never caches a `sql_query`, so PostgreSQL parsed and planned that
/// statement again on every account page's batch (its `LATERAL` join has no form in
/// diesel's query builder).
#[cfg(feature = "postgres")]
mod pg_recent {
    use diesel::pg::Pg;
    use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
    use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamp};
    use diesel::{QueryResult, RunQueryDsl};

    pub struct RecentForUsers<'a> {
        pub user_ids: &'a [i32],
        pub limit: i64,
    }

    impl QueryId for RecentForUsers<'_> {
        type QueryId = RecentForUsers<'static>;
        // The text never changes (only the bound values): safe to prepare once.
        const HAS_STATIC_QUERY_ID: bool = true;
    }

    impl Query for RecentForUsers<'_> {
        type SqlType = (
            BigInt,
            Nullable<Integer>,
            Text,
            Nullable<Text>,
            Nullable<Text>,
            Nullable<Text>,
            Timestamp,
        );
    }

    impl QueryFragment<Pg> for RecentForUsers<'_> {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
            out.push_sql(
                "SELECT e.id, e.user_id, e.kind, e.detail, e.ip, e.user_agent, e.created_at \
                 FROM unnest(",
            );
            out.push_bind_param::<Array<Integer>, [i32]>(self.user_ids)?;
            out.push_sql(
                ") AS u(id) CROSS JOIN LATERAL (SELECT * FROM security_event \
                 WHERE user_id = u.id ORDER BY created_at DESC, id DESC LIMIT ",
            );
            out.push_bind_param::<BigInt, i64>(&self.limit)?;
            out.push_sql(") AS e");
            Ok(())
        }
    }

    impl<Conn> RunQueryDsl<Conn> for RecentForUsers<'_> {}
}
