//! The account pages' reads of concurrent requests, answered together (see
//! [`crate::db::coalesce`]): one hand-off to a database thread per batch instead of one per
//! request (the overview) or two (the sessions page), and on PostgreSQL one query per table
//! for the whole batch instead of one per user and table. Keyed by user id; every read starts
//! after the request asked, so it sees every change committed before. [`super::account`]
//! and [`super::sessions`] make the pages from them; [`super::services::Services`] holds
//! them.

use std::collections::HashMap;
use std::sync::Arc;

use crate::db::coalesce::Coalescer;
use crate::db::models::{AuthToken, LoginSession, Passkey, SecurityEventRow};
use crate::db::{self, Db, DbConnection, DbError};

/// How many stored events the overview reads to find failed sign-ins since the last
/// successful one.
pub const EVENTS_SCANNED: i64 = 50;

/// The account overview's rows of one user: their passkeys (when switched on) and newest
/// events.
pub type OverviewRows = (Option<Vec<Passkey>>, Vec<SecurityEventRow>);

/// The sessions page's rows of one user: their logins and API tokens.
pub type SessionRows = (Vec<LoginSession>, Vec<AuthToken>);

/// The account overview's reads.
pub type OverviewReads = Coalescer<i32, OverviewRows>;

/// The sessions page's reads.
pub type SessionPageReads = Coalescer<i32, SessionRows>;

/// A page whose reads can ride along with the login lookup (see
/// [`super::login::SessionLookups`]): the request's one trip to a database thread answers
/// who is signed in and what their page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageRead {
    Overview,
    Sessions,
}

/// What a [`PageRead`] found for one user.
#[derive(Debug, Clone)]
pub enum PageRows {
    Overview(OverviewRows),
    Sessions(SessionRows),
}

impl PageRows {
    pub fn into_overview(self) -> Option<OverviewRows> {
        match self {
            Self::Overview(rows) => Some(rows),
            Self::Sessions(_) => None,
        }
    }

    pub fn into_sessions(self) -> Option<SessionRows> {
        match self {
            Self::Sessions(rows) => Some(rows),
            Self::Overview(_) => None,
        }
    }
}

/// The overview rows of each of `user_ids`, in one query per table.
pub fn read_overviews(
    conn: &mut DbConnection,
    user_ids: &[i32],
    with_passkeys: bool,
) -> Result<HashMap<i32, OverviewRows>, DbError> {
    let mut passkeys = if with_passkeys {
        Some(db::passkeys::for_users(conn, user_ids)?)
    } else {
        None
    };
    let mut events = db::events::recent_for_users(conn, user_ids, EVENTS_SCANNED)?;
    Ok(user_ids
        .iter()
        .map(|id| {
            let keys = passkeys
                .as_mut()
                .map(|all| all.remove(id).unwrap_or_default());
            (*id, (keys, events.remove(id).unwrap_or_default()))
        })
        .collect())
}

/// The sessions page's rows of each of `user_ids`, in one query per table.
pub fn read_session_pages(
    conn: &mut DbConnection,
    user_ids: &[i32],
) -> Result<HashMap<i32, SessionRows>, DbError> {
    let mut logins = db::sessions::for_users(conn, user_ids)?;
    let mut tokens = db::api_tokens::for_users(conn, user_ids)?;
    Ok(user_ids
        .iter()
        .map(|id| {
            let found = (
                logins.remove(id).unwrap_or_default(),
                tokens.remove(id).unwrap_or_default(),
            );
            (*id, found)
        })
        .collect())
}

/// The rows `read` wants of each of `user_ids`.
pub fn read_pages(
    conn: &mut DbConnection,
    read: PageRead,
    user_ids: &[i32],
    with_passkeys: bool,
) -> Result<HashMap<i32, PageRows>, DbError> {
    Ok(match read {
        PageRead::Overview => read_overviews(conn, user_ids, with_passkeys)?
            .into_iter()
            .map(|(id, rows)| (id, PageRows::Overview(rows)))
            .collect(),
        PageRead::Sessions => read_session_pages(conn, user_ids)?
            .into_iter()
            .map(|(id, rows)| (id, PageRows::Sessions(rows)))
            .collect(),
    })
}

pub fn overview_reads(db: Db, with_passkeys: bool) -> OverviewReads {
    Coalescer::new(
        db,
        Arc::new(move |conn: &mut DbConnection, user_ids: &[i32]| {
            read_overviews(conn, user_ids, with_passkeys)
        }),
    )
}

pub fn session_page_reads(db: Db) -> SessionPageReads {
    Coalescer::new(
        db,
        Arc::new(|conn: &mut DbConnection, user_ids: &[i32]| read_session_pages(conn, user_ids)),
    )
}
