//! Logins as server-side records. A login is one `login_session` row; the session cookie
//! carries its id (through actix-identity), the optional remember-me cookie carries its id
//! and a secret whose digest the row keeps. A login only counts while its row exists, its
//! user is active and the user's `fs_uniquifier` is still the one the login was made with:
//! logout, password change, deactivation and uniquifier rotation therefore revoke on every
//! instance at the next request.

use std::time::Duration;

use chrono::NaiveDateTime;

use super::tokens::{constant_time_eq, digest, random_token};
use crate::db::models::{LoginSession, User};
use crate::db::{self, sessions, users, DbConnection, DbError};

/// How often `last_seen_at` is written for an active login (not on every request).
const TOUCH_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);
const MAX_USER_AGENT: usize = 255;

/// The user behind the current request, and the login that authenticates it.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub session_id: String,
    /// Whether this login has a remember-me cookie.
    pub remembered: bool,
}

/// What the client needs after a successful login.
#[derive(Debug)]
pub struct NewLogin {
    pub session_id: String,
    /// Value for the `remember_token` cookie, when "remember me" was asked for.
    pub remember_cookie: Option<String>,
}

/// Facts about the request that a login records.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub struct LoginOptions {
    pub remember: bool,
    pub remember_for: Duration,
    pub trackable: bool,
}

/// Records a login for `user` (and the trackable columns when enabled).
pub fn create(
    conn: &mut DbConnection,
    user: &User,
    client: &ClientInfo,
    options: &LoginOptions,
) -> Result<NewLogin, DbError> {
    let now = db::now();
    let session_id = random_token(24);
    let remember_secret = options.remember.then(|| random_token(32));
    let remember_expires_at = options.remember.then(|| {
        now + chrono::Duration::from_std(options.remember_for)
            .unwrap_or(chrono::Duration::days(365))
    });
    let row = LoginSession {
        id: session_id.clone(),
        user_id: user.id,
        fs_uniquifier: user.fs_uniquifier.clone(),
        created_at: now,
        last_seen_at: now,
        ip: client.ip.clone(),
        user_agent: client
            .user_agent
            .as_deref()
            .map(|ua| truncate(ua, MAX_USER_AGENT)),
        remember_hash: remember_secret.as_deref().map(digest),
        remember_expires_at,
    };
    sessions::insert(conn, &row)?;
    if options.trackable {
        users::record_login(conn, user, client.ip.as_deref(), now)?;
    }
    Ok(NewLogin {
        remember_cookie: remember_secret.map(|secret| format!("{session_id}.{secret}")),
        session_id,
    })
}

/// The user of a session cookie's login id, if that login is still valid.
pub fn resolve_session(
    conn: &mut DbConnection,
    session_id: &str,
) -> Result<Option<CurrentUser>, DbError> {
    let Some((row, user)) = sessions::find_with_user(conn, session_id)? else {
        return Ok(None);
    };
    validated(conn, row, user, db::now())
}

/// The user of a `remember_token` cookie, if its login is still valid and unexpired.
pub fn resolve_remember(
    conn: &mut DbConnection,
    cookie: &str,
) -> Result<Option<CurrentUser>, DbError> {
    let Some((id, secret)) = cookie.split_once('.') else {
        return Ok(None);
    };
    if id.is_empty() || id.len() > 64 || secret.len() > 128 {
        return Ok(None);
    }
    let Some((row, user)) = sessions::find_with_user(conn, id)? else {
        return Ok(None);
    };
    let now = db::now();
    let (Some(stored), Some(expires)) = (row.remember_hash.as_deref(), row.remember_expires_at)
    else {
        return Ok(None);
    };
    if !constant_time_eq(&digest(secret), stored) || expires <= now {
        return Ok(None);
    }
    validated(conn, row, user, now)
}

fn validated(
    conn: &mut DbConnection,
    row: LoginSession,
    user: User,
    now: NaiveDateTime,
) -> Result<Option<CurrentUser>, DbError> {
    if !user.is_active() || !constant_time_eq(&row.fs_uniquifier, &user.fs_uniquifier) {
        // Stale for good: clear it so the table only holds live logins.
        sessions::delete(conn, &row.id)?;
        return Ok(None);
    }
    if now - row.last_seen_at >= TOUCH_INTERVAL {
        sessions::touch(conn, &row.id, now)?;
    }
    Ok(Some(CurrentUser {
        user,
        remembered: row.remember_hash.is_some(),
        session_id: row.id,
    }))
}

/// Ends one login (logout).
pub fn end(conn: &mut DbConnection, session_id: &str) -> Result<(), DbError> {
    sessions::delete(conn, session_id)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
