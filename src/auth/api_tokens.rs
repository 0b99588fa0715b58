//! API tokens and refresh tokens, for single-page and mobile apps: Flask-Security's
//! `?include_auth_token`, `Authentication-Token` and (5.9) `/refresh-token`, with
//! Flask-Security's shapes and stricter lifetimes. Callable without HTTP.
//!
//! Flask-Security's auth token is a signed, stateless record of the user's uniquifier: it
//! outlives logout. Latchkey's is 256 random bits whose keyed digest is a row of
//! `auth_token`, so it dies with the login it was issued with (logout), with the user's
//! uniquifier (password change or reset, `users reset-access`, change of email), when the
//! account is deactivated, when the user revokes it on the sessions page, and after
//! `SECURITY_TOKEN_MAX_AGE`.
//!
//! A refresh token names a family of Flask-Security's `fs_refresh` table and the
//! generation it was issued at, with a MAC: each use moves the family one generation on and
//! returns a new token pair; presenting an older generation (a copy was used) revokes the
//! family and every API token it issued.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::Connection;

pub use super::api_token_keys::TokenKeys;
use super::error::ServiceError;
use super::events::SecurityEvent;
use super::login::{ClientInfo, CurrentUser};
use super::services::Services;
use crate::crypto::{constant_time_eq, new_uniquifier, random_token};
use crate::db::models::{AuthToken, NewRefreshTracker, User};
use crate::db::{self, api_tokens, users, DbConnection, DbError};

/// How often `last_used_at` is written for a token in use (not on every request).
const TOUCH_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);
const MAX_USER_AGENT: usize = 255;

/// What a token is issued with.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// At a login (password, code, passkey): the login's id. Logging out of it ends it.
    Login(&'a str),
    /// By `/refresh-token`, for this family.
    Refresh(&'a str),
}

/// The tokens a client gets.
#[derive(Debug, Clone)]
pub struct Issued {
    pub authentication_token: String,
    /// With `SECURITY_REFRESH_TOKEN`.
    pub refresh_token: Option<String>,
}

/// Issues an API token for a login that just started (and, with `SECURITY_REFRESH_TOKEN`,
/// a refresh family whose tokens it belongs to).
pub async fn issue_at_login(
    services: &Services,
    user: &User,
    login_id: &str,
    client: &ClientInfo,
) -> Result<Issued, ServiceError> {
    let services = services.clone();
    let (user, login_id, client) = (user.clone(), login_id.to_owned(), client.clone());
    services
        .db
        .clone()
        .run_with(move |conn| {
            conn.transaction::<_, ServiceError, _>(|conn| {
                let now = db::now();
                let refresh = match services.settings.api_tokens.refresh {
                    true => Some(new_family(conn, &services, &user, now)?),
                    false => None,
                };
                if let Some((family, _)) = &refresh {
                    // Signing this login out ends the family too.
                    api_tokens::bind_family_to_login(conn, family, &login_id)?;
                }
                let family = refresh.as_ref().map(|(family, _)| family.as_str());
                let token = insert_token(
                    conn,
                    &services,
                    &user,
                    Origin::Login(&login_id),
                    family,
                    &client,
                    now,
                )?;
                Ok(Issued {
                    authentication_token: token,
                    refresh_token: refresh.map(|(_, raw)| raw),
                })
            })
        })
        .await
}

fn new_family(
    conn: &mut DbConnection,
    services: &Services,
    user: &User,
    now: NaiveDateTime,
) -> Result<(String, String), ServiceError> {
    let settings = &services.settings.api_tokens;
    api_tokens::delete_expired_trackers(conn, user.id, now)?;
    let family = new_uniquifier();
    api_tokens::insert_tracker(
        conn,
        &NewRefreshTracker {
            refresh_family: family.clone(),
            gen: Some(1),
            expires_at: now + to_chrono(settings.refresh_max_age),
            last_used_at: now,
            create_datetime: now,
            name: "default".to_owned(),
            user_id: user.id,
        },
    )?;
    let raw = services.api_token_keys.refresh_token(&family, 1);
    Ok((family, raw))
}

fn insert_token(
    conn: &mut DbConnection,
    services: &Services,
    user: &User,
    origin: Origin<'_>,
    family: Option<&str>,
    client: &ClientInfo,
    now: NaiveDateTime,
) -> Result<String, DbError> {
    let raw = random_token(32);
    // A token issued at a login carries the time of that proof; one bought with a refresh
    // token carries none and never counts as a recent sign-in, but stays bound to the login
    // its family was started at.
    let (login_id, family, authenticated_at) = match origin {
        Origin::Login(id) => (Some(id.to_owned()), family.map(str::to_owned), Some(now)),
        Origin::Refresh(family) => (
            api_tokens::login_of_family(conn, family)?,
            Some(family.to_owned()),
            None,
        ),
    };
    api_tokens::insert(
        conn,
        &AuthToken {
            token_hash: services.api_token_keys.digest_of(&raw),
            user_id: user.id,
            fs_uniquifier: user.fs_uniquifier.clone(),
            login_id,
            refresh_family: family,
            created_at: now,
            expires_at: now + to_chrono(services.settings.api_tokens.max_age),
            last_used_at: now,
            ip: client.ip.clone(),
            user_agent: client
                .user_agent
                .as_deref()
                .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
            authenticated_at,
        },
    )?;
    Ok(raw)
}

/// The user a presented token authenticates, if it is live: issued by us, unexpired, for
/// an active user whose uniquifier has not changed since. A dead token's row is removed.
pub fn resolve(
    conn: &mut DbConnection,
    keys: &TokenKeys,
    raw: &str,
) -> Result<Option<CurrentUser>, DbError> {
    let Some(hash) = keys.hash(raw) else {
        return Ok(None);
    };
    let Some((token, user)) = api_tokens::find_with_user(conn, &hash)? else {
        return Ok(None);
    };
    let now = db::now();
    if token.expires_at <= now
        || !user.is_active()
        || !constant_time_eq(&token.fs_uniquifier, &user.fs_uniquifier)
    {
        api_tokens::delete(conn, &hash)?;
        return Ok(None);
    }
    if now - token.last_used_at >= TOUCH_INTERVAL {
        api_tokens::touch(conn, &hash, now)?;
    }
    Ok(Some(CurrentUser {
        user,
        // A token request holds no login of its own.
        session_id: String::new(),
        remembered: false,
        // The last interactive proof of the login the token was issued at, carried
        // unchanged; a token bought with a refresh token has none and is never fresh.
        authenticated_at: token.authenticated_at.unwrap_or(super::login::NEVER_PROVED),
        via_token: Some(hash),
    }))
}

/// Ends the tokens issued with a login (logout, or that login signed out from elsewhere),
/// the refresh families started at it, and every token those families issued.
pub fn revoke_for_login(conn: &mut DbConnection, login_id: &str) -> Result<usize, DbError> {
    let tokens = api_tokens::for_login(conn, login_id)?;
    let mut ended = 0;
    for token in &tokens {
        ended += revoke_row(conn, token)?;
    }
    for family in api_tokens::families_of_login(conn, login_id)? {
        api_tokens::revoke_tracker(conn, &family, db::now())?;
        ended += api_tokens::delete_for_family(conn, &family)?;
    }
    Ok(ended)
}

/// Ends every token and refresh family of a user except those of the login `keep_login`
/// and of the token `keep_token` (and its family): "sign out all other sessions".
pub fn revoke_all_but(
    conn: &mut DbConnection,
    user_id: i32,
    keep_login: Option<&str>,
    keep_token: Option<&str>,
) -> Result<usize, DbError> {
    let mut kept_families: Vec<String> = Vec::new();
    if let Some(login) = keep_login {
        kept_families.extend(api_tokens::families_of_login(conn, login)?);
    }
    let tokens = api_tokens::for_user(conn, user_id)?;
    let asked = |token: &AuthToken| {
        keep_token == Some(token.token_hash.as_str())
            || (keep_login.is_some() && token.login_id.as_deref() == keep_login)
    };
    for token in tokens.iter().filter(|t| asked(t)) {
        kept_families.extend(token.refresh_family.clone());
    }
    let mut ended = 0;
    for token in &tokens {
        let in_kept_family = token
            .refresh_family
            .as_ref()
            .is_some_and(|f| kept_families.contains(f));
        if !asked(token) && !in_kept_family {
            ended += api_tokens::delete(conn, &token.token_hash)?;
        }
    }
    api_tokens::revoke_trackers_for_user_except(conn, user_id, &kept_families, db::now())?;
    Ok(ended)
}

/// Ends one token (a token-authenticated logout, or the sessions page) and its refresh
/// family.
pub fn revoke(conn: &mut DbConnection, token_hash: &str) -> Result<usize, DbError> {
    match api_tokens::find_with_user(conn, token_hash)? {
        Some((token, _)) => revoke_row(conn, &token),
        None => Ok(0),
    }
}

fn revoke_row(conn: &mut DbConnection, token: &AuthToken) -> Result<usize, DbError> {
    let mut ended = api_tokens::delete(conn, &token.token_hash)?;
    if let Some(family) = &token.refresh_family {
        api_tokens::revoke_tracker(conn, family, db::now())?;
        ended += api_tokens::delete_for_family(conn, family)?;
    }
    Ok(ended)
}

/// Ends the family a refresh token names, and its API tokens (a browser logging out with
/// a refresh cookie), if the token is ours.
pub async fn revoke_refresh_token(services: &Services, raw: &str) -> Result<(), ServiceError> {
    let Some((family, _)) = services.api_token_keys.parse_refresh(raw) else {
        return Ok(());
    };
    services
        .db
        .run(move |conn| {
            api_tokens::revoke_tracker(conn, &family, db::now())?;
            api_tokens::delete_for_family(conn, &family)?;
            Ok::<_, DbError>(())
        })
        .await?;
    Ok(())
}

/// Ends every token and refresh family of a user (password change or reset, deactivation,
/// `users reset-access`, change of email). Returns how many tokens ended.
pub fn revoke_all(conn: &mut DbConnection, user_id: i32) -> Result<usize, DbError> {
    api_tokens::revoke_trackers_for_user(conn, user_id, db::now())?;
    api_tokens::delete_for_user(conn, user_id)
}

/// A user's live tokens, as the sessions page lists them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenView {
    pub handle: String,
    pub created_at: String,
    pub last_used_at: String,
    pub expires_at: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Renewable through `/refresh-token`.
    pub refreshable: bool,
    /// The token this request is authenticated with.
    pub current: bool,
}

/// The live tokens of `current`'s user, newest first; dead ones are cleared on the way.
pub fn list(
    conn: &mut DbConnection,
    keys: &TokenKeys,
    current: &CurrentUser,
) -> Result<Vec<TokenView>, DbError> {
    let (views, stale) = views(api_tokens::for_user(conn, current.user.id)?, keys, current);
    for token_hash in &stale {
        api_tokens::delete(conn, token_hash)?;
    }
    Ok(views)
}

/// The user's tokens `rows` (newest first) as the sessions page lists them, and the digests
/// of those that are no longer valid (expired, or of an older password), to be deleted.
pub fn views(
    rows: Vec<AuthToken>,
    keys: &TokenKeys,
    current: &CurrentUser,
) -> (Vec<TokenView>, Vec<String>) {
    let now = db::now();
    let fmt = crate::times::iso_utc;
    let mut views = Vec::new();
    let mut stale = Vec::new();
    for token in rows {
        if token.expires_at <= now
            || !constant_time_eq(&token.fs_uniquifier, &current.user.fs_uniquifier)
        {
            stale.push(token.token_hash);
            continue;
        }
        views.push(TokenView {
            handle: keys.handle(&token.token_hash),
            created_at: fmt(token.created_at),
            last_used_at: fmt(token.last_used_at),
            expires_at: fmt(token.expires_at),
            ip: token.ip.clone(),
            user_agent: token.user_agent.clone(),
            refreshable: token.refresh_family.is_some(),
            current: current.via_token.as_deref() == Some(token.token_hash.as_str()),
        });
    }
    (views, stale)
}

/// The sessions page's "revoke": the user's token with `handle` (and its refresh family)
/// ends, and the `token_revoked` event is emitted for `client`; whether there was one.
pub async fn revoke_from_page(
    services: &Services,
    user_id: i32,
    handle: &str,
    client: &ClientInfo,
) -> Result<bool, ServiceError> {
    let keys = services.api_token_keys.clone();
    let wanted = handle.to_owned();
    let found = services
        .db
        .run(move |conn| revoke_by_handle(conn, &keys, user_id, &wanted))
        .await?;
    if found {
        let event = SecurityEvent::TokenRevoked {
            kind: "auth".to_owned(),
            label: Some("sessions page".to_owned()),
        };
        services.emit(event, Some(user_id), client);
    }
    Ok(found)
}

/// Revokes the user's token with `handle` (and its refresh family); whether there was one.
pub fn revoke_by_handle(
    conn: &mut DbConnection,
    keys: &TokenKeys,
    user_id: i32,
    wanted: &str,
) -> Result<bool, DbError> {
    for token in api_tokens::for_user(conn, user_id)? {
        if constant_time_eq(&keys.handle(&token.token_hash), wanted) {
            revoke_row(conn, &token)?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Why a refresh token was refused: Flask-Security's `RefreshTokenErrors`, whose names its
/// message shows ("Refresh token is invalid (GEN_MISMATCH)").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshError {
    /// Not ours (bad MAC, malformed).
    Invalid,
    NotFound,
    /// An older generation: a copy was used. The family is now revoked.
    GenMismatch,
    Expired,
    Revoked,
    /// The family's user is gone or deactivated.
    NoUser,
}

impl RefreshError {
    pub fn reason(self) -> &'static str {
        match self {
            RefreshError::Invalid => "INVALID",
            RefreshError::NotFound => "NOT_FOUND",
            RefreshError::GenMismatch => "GEN_MISMATCH",
            RefreshError::Expired => "EXPIRED",
            RefreshError::Revoked => "REVOKED",
            RefreshError::NoUser => "NOT_FOUND",
        }
    }
}

/// A refresh token exchanged: the user, a new API token and the family's next refresh
/// token.
#[derive(Debug)]
pub struct Refreshed {
    pub user: User,
    pub tokens: Issued,
}

/// `/refresh-token`: checks a refresh token and, if it is the family's current one, moves
/// the family on and issues the next pair. A replayed older generation revokes the family
/// and its API tokens (committed, whatever the caller answers).
pub async fn refresh(
    services: &Services,
    raw: &str,
    client: &ClientInfo,
) -> Result<Result<Refreshed, RefreshError>, ServiceError> {
    let Some((family, gen)) = services.api_token_keys.parse_refresh(raw) else {
        return Ok(Err(RefreshError::Invalid));
    };
    let outer = services;
    let services = services.clone();
    let for_db = client.clone();
    let exchanged = services
        .db
        .clone()
        .run_with(move |conn| {
            let lock = format!("refresh:{family}");
            db::exclusive_transaction(conn, &[&lock], |conn| {
                exchange(conn, &services, &family, gen, &for_db)
            })
        })
        .await?;
    match &exchanged {
        Ok(refreshed) => {
            tracing::info!(
                event = "token_refreshed",
                user_id = refreshed.user.id,
                "API token issued for a refresh token"
            );
            let event = SecurityEvent::TokenIssued {
                kind: "auth".to_owned(),
                label: Some("refreshed".to_owned()),
            };
            outer.emit(event, Some(refreshed.user.id), client);
        }
        Err(RefreshError::GenMismatch) => {
            // The family is revoked: its owner sees it in their activity.
            let event = SecurityEvent::TokenRevoked {
                kind: "refresh".to_owned(),
                label: Some("reused".to_owned()),
            };
            outer.emit(event, None, client);
        }
        Err(_) => {}
    }
    Ok(exchanged)
}

fn exchange(
    conn: &mut DbConnection,
    services: &Services,
    family: &str,
    gen: i32,
    client: &ClientInfo,
) -> Result<Result<Refreshed, RefreshError>, ServiceError> {
    let settings = &services.settings.api_tokens;
    let now = db::now();
    let Some(tracker) = api_tokens::find_tracker(conn, family)? else {
        return Ok(Err(RefreshError::NotFound));
    };
    if tracker.revoked_at.is_some() {
        return Ok(Err(RefreshError::Revoked));
    }
    if tracker.gen != Some(gen) {
        api_tokens::revoke_tracker(conn, family, now)?;
        api_tokens::delete_for_family(conn, family)?;
        tracing::warn!(
            event = "refresh_token_reused",
            user_id = tracker.user_id,
            "an old refresh token was presented: its family is revoked"
        );
        return Ok(Err(RefreshError::GenMismatch));
    }
    if tracker.expires_at <= now
        || now - tracker.last_used_at > to_chrono(settings.refresh_max_idle)
    {
        return Ok(Err(RefreshError::Expired));
    }
    let Some(user) = users::find_by_id(conn, tracker.user_id)?.filter(User::is_active) else {
        return Ok(Err(RefreshError::NoUser));
    };
    if !api_tokens::advance_tracker(conn, family, gen, now)? {
        // Cannot happen under the exclusive transaction; refuse rather than fork the family.
        return Ok(Err(RefreshError::GenMismatch));
    }
    let token = insert_token(
        conn,
        services,
        &user,
        Origin::Refresh(family),
        None,
        client,
        now,
    )?;
    Ok(Ok(Refreshed {
        tokens: Issued {
            authentication_token: token,
            refresh_token: Some(services.api_token_keys.refresh_token(family, gen + 1)),
        },
        user,
    }))
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn a_refresh_token_is_refused_unless_its_mac_is_ours() {
        let keys = TokenKeys::new(&Secret::new("refresh-test"));
        let token = keys.refresh_token("fam", 3);
        assert_eq!(keys.parse_refresh(&token), Some(("fam".to_owned(), 3)));
        // Another generation, another family, another key: refused.
        let forged = token.replacen(".3.", ".4.", 1);
        assert_eq!(keys.parse_refresh(&forged), None);
        assert_eq!(keys.parse_refresh(&token.replacen("fam", "fan", 1)), None);
        let other = TokenKeys::new(&Secret::new("another-key"));
        assert_eq!(other.parse_refresh(&token), None);
        for junk in ["", ".", "a.b", "a.b.c.d", &"x".repeat(300)] {
            assert_eq!(keys.parse_refresh(junk), None, "{junk}");
        }
    }

    #[test]
    fn token_digests_are_keyed_and_bounded() {
        let keys = TokenKeys::new(&Secret::new("k1"));
        let other = TokenKeys::new(&Secret::new("k2"));
        assert_ne!(keys.hash("abc"), other.hash("abc"));
        assert_eq!(keys.hash(""), None);
        assert_eq!(keys.hash(&"a".repeat(129)), None);
        assert_ne!(keys.handle("h"), keys.hash("h").unwrap()[..24]);
    }
}
