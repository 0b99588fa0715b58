//! The account pages' reads of concurrent requests, answered together (see
//! [`crate::db::coalesce`]): one hand-off to a database thread per batch instead of one per
//! request (the overview) or two (the sessions page), and on PostgreSQL one query per table
//! for the whole batch instead of one per user and table. Keyed by user id; every read starts
//! after the request asked, so it sees every change committed before. [`super::account`]
//! and [`super::sessions`] make the pages from them; [`super::services::Services`] holds
//! them.

use std::sync::Arc;

use crate::db::coalesce::Coalescer;
use crate::db::models::{AuthToken, LoginSession, Passkey, SecurityEventRow};
use crate::db::{self, Db, DbConnection};

/// How many stored events the overview reads to find failed sign-ins since the last
/// successful one.
pub const EVENTS_SCANNED: i64 = 50;

/// The account overview's: the user's passkeys (when switched on) and newest events.
pub type OverviewReads = Coalescer<i32, (Option<Vec<Passkey>>, Vec<SecurityEventRow>)>;

/// The sessions page's: the user's logins and API tokens.
pub type SessionPageReads = Coalescer<i32, (Vec<LoginSession>, Vec<AuthToken>)>;

pub fn overview_reads(db: Db, with_passkeys: bool) -> OverviewReads {
    Coalescer::new(
        db,
        Arc::new(move |conn: &mut DbConnection, user_ids: &[i32]| {
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
        }),
    )
}

pub fn session_page_reads(db: Db) -> SessionPageReads {
    Coalescer::new(
        db,
        Arc::new(|conn: &mut DbConnection, user_ids: &[i32]| {
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
        }),
    )
}
