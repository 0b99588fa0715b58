//! Logins as server-side records. A login is one `login_session` row; the session cookie
//! carries its id (through actix-identity), the optional remember-me cookie carries its id
//! and a secret whose digest the row keeps. A login only counts while its row exists, its
//! user is active and the user's `fs_uniquifier` is still the one the login was made with:
//! logout, password change, deactivation and uniquifier rotation therefore revoke on every
//! instance at the next request.
//!
//! Lifetimes (ASVS 3.3): a login without "remember me" ends after the idle timeout without
//! a request and at the absolute timeout however active; a remembered one lasts until its
//! remember-me expiry (the user asked to stay signed in on that device). Either way,
//! sensitive changes need a recent proof of the password ("freshness", see [`is_fresh`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;

use crate::config::SessionPolicy;
use crate::crypto::{constant_time_eq, digest, random_token};
use crate::db::models::{LoginSession, User};
use crate::db::{self, sessions, users, DbConnection, DbError};

use super::page_reads::{read_pages, PageRead, PageRows};

/// How often `last_seen_at` is written for an active login (not on every request); a
/// short idle timeout (tests) needs it more often.
const TOUCH_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);
const MAX_USER_AGENT: usize = 255;

/// The user behind the current request, and the login that authenticates it.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub session_id: String,
    /// Whether this login has a remember-me cookie.
    pub remembered: bool,
    /// When the password was last proved for this login (login or re-authentication).
    pub authenticated_at: NaiveDateTime,
    /// The API token (its digest) this request is authenticated with, instead of a login:
    /// then `session_id` is empty (see [`crate::auth::api_tokens`]).
    pub via_token: Option<String>,
}

/// The `authenticated_at` of a request that never proved anything interactively (an API
/// token bought with a refresh token): it never passes a freshness check.
pub const NEVER_PROVED: NaiveDateTime = chrono::DateTime::UNIX_EPOCH.naive_utc();

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
        authenticated_at: Some(now),
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

/// The users of some session cookies' login ids: those whose login is still valid, by id.
pub fn resolve_sessions(
    conn: &mut DbConnection,
    session_ids: &[String],
    policy: &SessionPolicy,
) -> Result<HashMap<String, CurrentUser>, DbError> {
    let now = db::now();
    let mut valid = HashMap::with_capacity(session_ids.len());
    for (row, user) in sessions::find_many_with_user(conn, session_ids)? {
        if let Some(current) = validated(conn, row, user, now, policy)? {
            valid.insert(current.session_id.clone(), current);
        }
    }
    Ok(valid)
}

/// What a session lookup asks: the login id of a session cookie, and the reads of the page
/// the request is for, if it names one (see [`PageRead`]).
pub type SessionKey = (String, Option<PageRead>);

/// What a session lookup finds: the valid login's user, with the page's rows when asked.
pub type SessionFound = (CurrentUser, Option<PageRows>);

/// Session lookups of concurrent requests, answered together (see [`db::coalesce`]), with
/// the reads of the account pages they are for: one trip to a database thread per batch.
pub type SessionLookups = db::coalesce::Coalescer<SessionKey, SessionFound>;

pub fn session_lookups(db: db::Db, policy: SessionPolicy, with_passkeys: bool) -> SessionLookups {
    db::coalesce::Coalescer::new(
        db,
        Arc::new(move |conn: &mut DbConnection, keys: &[SessionKey]| {
            resolve_sessions_with_pages(conn, keys, &policy, with_passkeys)
        }),
    )
}

/// [`resolve_sessions`] for `keys`' login ids, then each page read for the users found:
/// every key of a valid login is answered, with the rows of its page when it asked for one.
pub fn resolve_sessions_with_pages(
    conn: &mut DbConnection,
    keys: &[SessionKey],
    policy: &SessionPolicy,
    with_passkeys: bool,
) -> Result<HashMap<SessionKey, SessionFound>, DbError> {
    let mut ids: Vec<String> = keys.iter().map(|(id, _)| id.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    let valid = resolve_sessions(conn, &ids, policy)?;
    let mut rows = HashMap::new();
    for read in [PageRead::Overview, PageRead::Sessions] {
        let mut users: Vec<i32> = keys
            .iter()
            .filter(|(_, wanted)| *wanted == Some(read))
            .filter_map(|(id, _)| valid.get(id).map(|current| current.user.id))
            .collect();
        if users.is_empty() {
            continue;
        }
        users.sort_unstable();
        users.dedup();
        for (user_id, found) in read_pages(conn, read, &users, with_passkeys)? {
            rows.insert((user_id, read), found);
        }
    }
    // Two logins of one user asking for the same page share its rows.
    let mut shares: HashMap<(i32, PageRead), usize> = HashMap::new();
    for (id, read) in keys {
        if let (Some(current), Some(read)) = (valid.get(id), read) {
            *shares.entry((current.user.id, *read)).or_default() += 1;
        }
    }
    Ok(keys
        .iter()
        .filter_map(|key| {
            let current = valid.get(&key.0)?.clone();
            let page = key.1.and_then(|read| {
                let at = (current.user.id, read);
                let left = shares.get_mut(&at)?;
                *left -= 1;
                if *left == 0 {
                    rows.remove(&at)
                } else {
                    rows.get(&at).cloned()
                }
            });
            Some((key.clone(), (current, page)))
        })
        .collect())
}

/// The user of a `remember_token` cookie, if its login is still valid and unexpired.
pub fn resolve_remember(
    conn: &mut DbConnection,
    cookie: &str,
    policy: &SessionPolicy,
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
    validated(conn, row, user, now, policy)
}

/// Whether a login has outlived its lifetime (see the module comment).
pub fn expired(row: &LoginSession, now: NaiveDateTime, policy: &SessionPolicy) -> bool {
    if row.remember_hash.is_some() {
        return row.remember_expires_at.is_none_or(|expires| expires <= now);
    }
    now - row.last_seen_at >= to_chrono(policy.idle_timeout)
        || now - row.created_at >= to_chrono(policy.absolute_timeout)
}

fn validated(
    conn: &mut DbConnection,
    row: LoginSession,
    user: User,
    now: NaiveDateTime,
    policy: &SessionPolicy,
) -> Result<Option<CurrentUser>, DbError> {
    if !user.is_active()
        || !constant_time_eq(&row.fs_uniquifier, &user.fs_uniquifier)
        || expired(&row, now, policy)
    {
        // Stale for good: clear it so the table only holds live logins.
        sessions::delete(conn, &row.id)?;
        return Ok(None);
    }
    let touch_every = TOUCH_INTERVAL.min(to_chrono(policy.idle_timeout) / 4);
    if now - row.last_seen_at >= touch_every {
        sessions::touch(conn, &row.id, now)?;
    }
    Ok(Some(CurrentUser {
        user,
        remembered: row.remember_hash.is_some(),
        authenticated_at: row.authenticated_at.unwrap_or(row.created_at),
        session_id: row.id,
        via_token: None,
    }))
}

/// Freshness (Flask-Security's `check_and_update_authn_fresh`): the password was proved
/// within `SECURITY_FRESHNESS`, or the grace period (`grace_until`, kept in the browser
/// session) opened by an earlier fresh visit still runs.
pub fn is_fresh(
    current: &CurrentUser,
    policy: &SessionPolicy,
    grace_until: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> bool {
    let Some(window) = policy.freshness else {
        return true;
    };
    if current.authenticated_at == NEVER_PROVED {
        // A refresh token's holder, however recently the family was started.
        return false;
    }
    if now - current.authenticated_at < to_chrono(window) {
        return true;
    }
    grace_until.is_some_and(|until| now < until)
}

/// Records a re-authentication (`/verify`).
pub fn mark_verified(conn: &mut DbConnection, session_id: &str) -> Result<(), DbError> {
    sessions::set_authenticated_at(conn, session_id, db::now())
}

/// A login as the "Your sessions" page shows it: never the id (a bearer secret), only a
/// handle derived from it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoginView {
    pub handle: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub remembered: bool,
    pub remembered_until: Option<String>,
    pub current: bool,
}

/// The handle of a login for the sessions page.
pub fn handle(session_id: &str) -> String {
    digest(&format!("login-handle:{session_id}"))[..24].to_owned()
}

/// The live logins of a user, newest first; expired ones are cleared on the way.
pub fn list(
    conn: &mut DbConnection,
    current: &CurrentUser,
    policy: &SessionPolicy,
) -> Result<Vec<LoginView>, DbError> {
    let (views, stale) = views(sessions::for_user(conn, current.user.id)?, current, policy);
    for id in &stale {
        sessions::delete(conn, id)?;
    }
    Ok(views)
}

/// The user's logins `rows` as the sessions page lists them, newest first, and the ids of
/// those that are no longer valid (expired, or of an older password), to be deleted.
pub fn views(
    rows: Vec<LoginSession>,
    current: &CurrentUser,
    policy: &SessionPolicy,
) -> (Vec<LoginView>, Vec<String>) {
    let now = db::now();
    let mut views = Vec::new();
    let mut stale = Vec::new();
    for row in rows {
        if expired(&row, now, policy)
            || !constant_time_eq(&row.fs_uniquifier, &current.user.fs_uniquifier)
        {
            stale.push(row.id);
            continue;
        }
        let fmt = crate::times::iso_utc;
        views.push(LoginView {
            handle: handle(&row.id),
            created_at: fmt(row.created_at),
            last_seen_at: fmt(row.last_seen_at),
            ip: row.ip,
            user_agent: row.user_agent,
            remembered: row.remember_hash.is_some(),
            remembered_until: row.remember_expires_at.map(fmt),
            current: row.id == current.session_id,
        });
    }
    views.sort_by(|a, b| b.last_seen_at.cmp(&a.last_seen_at));
    (views, stale)
}

/// The id of the user's login with `handle` (the sessions page's), if there is one.
pub fn find_by_handle(
    conn: &mut DbConnection,
    user_id: i32,
    wanted: &str,
) -> Result<Option<String>, DbError> {
    for row in sessions::for_user(conn, user_id)? {
        if constant_time_eq(&handle(&row.id), wanted) {
            return Ok(Some(row.id));
        }
    }
    Ok(None)
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX / 2)
}

/// Ends one login (logout).
pub fn end(conn: &mut DbConnection, session_id: &str) -> Result<(), DbError> {
    sessions::delete(conn, session_id)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
