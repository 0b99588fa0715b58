//! The account pages' reads of concurrent requests, answered together (see
//! [`crate::db::coalesce`]): one hand-off to a database thread per batch instead of one per
//! request (the overview) or two (the sessions page). Keyed by user id; every read starts
//! after the request asked, so it sees every change committed before. [`super::account`]
//! and [`super::sessions`] make the pages from them; [`super::services::Services`] holds
//! them.

use std::collections::HashMap;
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
            let mut found = HashMap::with_capacity(user_ids.len());
            for &user_id in user_ids {
                let passkeys = if with_passkeys {
                    Some(db::passkeys::for_user(conn, user_id)?)
                } else {
                    None
                };
                let rows = db::events::recent_for_user(conn, user_id, EVENTS_SCANNED)?;
                found.insert(user_id, (passkeys, rows));
            }
            Ok(found)
        }),
    )
}

pub fn session_page_reads(db: Db) -> SessionPageReads {
    Coalescer::new(
        db,
        Arc::new(|conn: &mut DbConnection, user_ids: &[i32]| {
            let mut found = HashMap::with_capacity(user_ids.len());
            for &user_id in user_ids {
                let logins = db::sessions::for_user(conn, user_id)?;
                let tokens = db::api_tokens::for_user(conn, user_id)?;
                found.insert(user_id, (logins, tokens));
            }
            Ok(found)
        }),
    )
}
