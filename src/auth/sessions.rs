//! A user's own logins and API tokens, as "Your sessions", logout and re-authentication use
//! them: listing them, signing out one, the others or this one, resolving a remember-me
//! cookie or an API token to the user behind it, and recording a fresh proof. Every one
//! runs its own transaction (through [`super::lifecycle`] where a login ends).

use super::api_tokens::{self, TokenView};
use super::error::ServiceError;
use super::lifecycle::{self, Event, Scope};
use super::login::{self, ClientInfo, CurrentUser, LoginView};
use super::page_reads::SessionRows;
use super::services::Services;
use crate::db::{self, DbError};

/// The sessions page: the live logins of `current`'s user, most recently seen first, and
/// its live API tokens, newest first (the expired ones found are deleted on the way, as
/// [`live`] and [`tokens`] do).
pub async fn page(
    services: &Services,
    current: &CurrentUser,
    read: Option<SessionRows>,
) -> Result<(Vec<LoginView>, Vec<TokenView>), DbError> {
    let (logins, tokens) = match read {
        Some(rows) => rows,
        None => services
            .session_page_reads
            .get(current.user.id)
            .await?
            .unwrap_or_default(),
    };
    let policy = &services.settings.session_policy;
    let (logins, stale_logins) = login::views(logins, current, policy);
    let (tokens, stale_tokens) = api_tokens::views(tokens, &services.api_token_keys, current);
    if !stale_logins.is_empty() || !stale_tokens.is_empty() {
        services
            .db
            .run(move |conn| {
                for id in &stale_logins {
                    db::sessions::delete(conn, id)?;
                }
                for token_hash in &stale_tokens {
                    db::api_tokens::delete(conn, token_hash)?;
                }
                Ok(())
            })
            .await?;
    }
    Ok((logins, tokens))
}

/// The scope of the login (or API token) a request is authenticated with: what logout ends,
/// and what "sign out the others" keeps.
pub fn current_scope(current: &CurrentUser) -> Scope {
    Scope {
        login: Some(current.session_id.clone()).filter(|id| !id.is_empty()),
        token: current.via_token.clone(),
        ..Scope::user(current.user.id)
    }
}

/// The live logins of `current`'s user, most recently seen first (expired ones are cleared
/// on the way).
pub async fn live(services: &Services, current: &CurrentUser) -> Result<Vec<LoginView>, DbError> {
    let current = current.clone();
    let policy = services.settings.session_policy.clone();
    services
        .db
        .run(move |conn| login::list(conn, &current, &policy))
        .await
}

/// The live API tokens of `current`'s user, newest first.
pub async fn tokens(services: &Services, current: &CurrentUser) -> Result<Vec<TokenView>, DbError> {
    let current = current.clone();
    let keys = services.api_token_keys.clone();
    services
        .db
        .run(move |conn| api_tokens::list(conn, &keys, &current))
        .await
}

/// Signs out the user's login with `handle` (the sessions page's): `None` when the user has
/// no such login, else whether it was `current`'s own.
pub async fn sign_out_one(
    services: &Services,
    current: &CurrentUser,
    handle: String,
) -> Result<Option<bool>, ServiceError> {
    let user_id = current.user.id;
    let found = services
        .db
        .run(move |conn| login::find_by_handle(conn, user_id, &handle))
        .await?;
    let Some(login) = found else {
        return Ok(None);
    };
    let ended = login == current.session_id;
    let scope = Scope {
        login: Some(login),
        ..Scope::user(user_id)
    };
    lifecycle::end(services, Event::SignOutThis, scope).await?;
    Ok(Some(ended))
}

/// Signs out every other login of `current`'s user (and the API tokens they were issued
/// with); `current`'s own stays. The number of logins ended.
pub async fn sign_out_others(
    services: &Services,
    current: &CurrentUser,
) -> Result<usize, ServiceError> {
    let applied = lifecycle::end(services, Event::SignOutOthers, current_scope(current)).await?;
    Ok(applied.logins)
}

/// Logout: ends the login `current` (when someone is logged in; with the tokens issued with
/// it, or the token that made the request) and the refresh-token family of `refresh_token`
/// (this browser's, when it has one).
pub async fn log_out(
    services: &Services,
    current: Option<&CurrentUser>,
    refresh_token: Option<&str>,
    client: &ClientInfo,
) -> Result<(), ServiceError> {
    if let Some(current) = current {
        lifecycle::sign_out(services, current_scope(current), client).await?;
        tracing::info!(
            event = "logout",
            user_id = current.user.id,
            ip = %client.ip.as_deref().unwrap_or("-"),
            "logout"
        );
    }
    if let Some(raw) = refresh_token {
        api_tokens::revoke_refresh_token(services, raw).await?;
    }
    Ok(())
}

/// The user an API token authenticates, if it is live.
pub async fn resolve_token(
    services: &Services,
    raw: String,
) -> Result<Option<CurrentUser>, DbError> {
    let keys = services.api_token_keys.clone();
    services
        .db
        .run(move |conn| api_tokens::resolve(conn, &keys, &raw))
        .await
}

/// The user of a `remember_token` cookie, if its login is still valid and unexpired.
pub async fn resolve_remember(
    services: &Services,
    cookie: String,
) -> Result<Option<CurrentUser>, DbError> {
    let policy = services.settings.session_policy.clone();
    services
        .db
        .run(move |conn| login::resolve_remember(conn, &cookie, &policy))
        .await
}

/// Records a fresh proof of who is logged in: the login's (or the API token's, for a
/// token-authenticated request) `authenticated_at` becomes now.
pub async fn record_reauthentication(
    services: &Services,
    current: &CurrentUser,
) -> Result<(), DbError> {
    let session_id = current.session_id.clone();
    let token = current.via_token.clone();
    services
        .db
        .run(move |conn| match &token {
            Some(hash) => db::api_tokens::set_authenticated_at(conn, hash, db::now()),
            None => login::mark_verified(conn, &session_id),
        })
        .await
}
