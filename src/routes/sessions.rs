//! `GET /sessions` ("Your sessions": live logins and remember-me devices),
//! `POST /sessions/revoke` (sign out one) and `POST /sessions/revoke-others`.

use crate::auth::lifecycle;
use actix_identity::Identity;
use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::json;

use super::mount;
use crate::auth::api_tokens;
use crate::auth::login::{self, CurrentUser, LoginView};
use crate::messages;
use crate::urls::Route;
use crate::web::current_user::removal_cookie;
use crate::web::page::add_cookie;
use crate::web::submission::NoFields;
use crate::web::{AppError, AuthenticatedUser, Submission, Web};

/// Registers the sessions page and its revocations.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(mount::page(Route::Sessions, index))
        .service(mount::post(Route::SessionsRevoke, revoke))
        .service(mount::post(Route::SessionsRevokeOthers, revoke_others));
}

const TEMPLATE: &str = "security/sessions.html";

#[derive(Debug, Default, Deserialize)]
pub struct RevokeForm {
    /// The handle the list shows (never a login's id).
    #[serde(default)]
    session: Option<String>,
}

async fn live(web: &Web, current: &CurrentUser) -> Result<Vec<LoginView>, AppError> {
    let current = current.clone();
    let policy = web.settings().session_policy.clone();
    Ok(web
        .state
        .db
        .run(move |conn| login::list(conn, &current, &policy))
        .await?)
}

pub async fn index(web: Web, current: AuthenticatedUser) -> Result<HttpResponse, AppError> {
    let sessions = live(&web, &current.0).await?;
    let keys = web.state.services.api_token_keys.clone();
    let for_tokens = current.0.clone();
    let tokens = web
        .state
        .db
        .run(move |conn| api_tokens::list(conn, &keys, &for_tokens))
        .await?;
    if web.format.is_json() {
        return Ok(web.json_ok(json!({
            "csrf_token": web.csrf_token(),
            "sessions": sessions,
            "api_tokens": tokens,
        })));
    }
    let mut ctx = tera::Context::new();
    ctx.insert("sessions", &sessions);
    ctx.insert("api_tokens", &tokens);
    web.page(TEMPLATE, ctx)
}

pub async fn revoke(
    web: Web,
    current: AuthenticatedUser,
    identity: Option<Identity>,
    form: Submission<RevokeForm>,
) -> Result<HttpResponse, AppError> {
    // Ending sessions is a sensitive change (ASVS 3.3.4): a stale login proves itself first.
    if let Some(reauthenticate) =
        crate::web::guards::require_fresh(&web, &current.0, Route::Sessions.path())
    {
        return Ok(reauthenticate);
    }
    let current = current.0;
    let wanted = form.data.session.unwrap_or_default();
    let user_id = current.user.id;
    let login = web
        .state
        .db
        .run(move |conn| login::find_by_handle(conn, user_id, &wanted))
        .await?
        .ok_or(AppError::NotFound)?;
    let ended = login == current.session_id;
    let scope = lifecycle::Scope {
        login: Some(login),
        ..lifecycle::Scope::user(user_id)
    };
    lifecycle::end(&web.services(), lifecycle::Event::SignOutThis, scope).await?;
    tracing::info!(
        event = "session_revoked",
        user_id = current.user.id,
        current = ended,
        ip = %crate::web::client::ip_for_log(&web.request),
        "session signed out"
    );
    if ended {
        // Signed out of this very browser: as logout.
        if let Some(identity) = identity {
            identity.logout();
        }
        let mut response = web.success(Route::Home.path(), None, json!({"sessions": []}));
        add_cookie(&mut response, &removal_cookie(web.settings()))?;
        return Ok(response);
    }
    let sessions = live(&web, &current).await?;
    Ok(web.success(
        Route::Sessions.path(),
        Some(("success", web.msg(messages::SESSION_ENDED, &[]))),
        json!({"sessions": sessions}),
    ))
}

pub async fn revoke_others(
    web: Web,
    current: AuthenticatedUser,
    _form: Submission<NoFields>,
) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) =
        crate::web::guards::require_fresh(&web, &current.0, Route::Sessions.path())
    {
        return Ok(reauthenticate);
    }
    let current = current.0;
    let scope = lifecycle::Scope {
        login: Some(current.session_id.clone()).filter(|id| !id.is_empty()),
        token: current.via_token.clone(),
        ..lifecycle::Scope::user(current.user.id)
    };
    let count = lifecycle::end(&web.services(), lifecycle::Event::SignOutOthers, scope)
        .await?
        .logins;
    tracing::info!(
        event = "sessions_revoked",
        user_id = current.user.id,
        count,
        ip = %crate::web::client::ip_for_log(&web.request),
        "other sessions signed out"
    );
    let sessions = live(&web, &current).await?;
    Ok(web.success(
        Route::Sessions.path(),
        Some((
            "success",
            web.msg(
                messages::OTHER_SESSIONS_ENDED,
                &[("count", &count.to_string())],
            ),
        )),
        json!({"sessions": sessions}),
    ))
}
