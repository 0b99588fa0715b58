//! `GET /sessions` ("Your sessions": live logins and remember-me devices),
//! `POST /sessions/revoke` (sign out one) and `POST /sessions/revoke-others`.

use actix_identity::Identity;
use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::json;

use super::mount;
use crate::auth::page_reads::PageRows;
use crate::auth::sessions;
use crate::messages;
use crate::urls::{Route, Urls};
use crate::web::current_user::{removal_cookie, take_page_rows};
use crate::web::page::add_cookie;
use crate::web::submission::NoFields;
use crate::web::{AppError, AuthenticatedUser, Submission, Web};

/// Registers the sessions page and its revocations.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig, urls: Urls) {
    cfg.service(mount::page(urls.path(Route::Sessions), index))
        .service(mount::post(urls.path(Route::SessionsRevoke), revoke))
        .service(mount::post(
            urls.path(Route::SessionsRevokeOthers),
            revoke_others,
        ));
}

const TEMPLATE: &str = "security/sessions.html";

#[derive(Debug, Default, Deserialize)]
pub struct RevokeForm {
    /// The handle the list shows (never a login's id).
    #[serde(default)]
    session: Option<String>,
}

pub async fn index(web: Web, current: AuthenticatedUser) -> Result<HttpResponse, AppError> {
    let read = take_page_rows(&web.request).and_then(PageRows::into_sessions);
    let (sessions, tokens) = sessions::page(&web.services(), &current.0, read).await?;
    if web.format.is_json() {
        return Ok(web.json_ok(json!({
            "csrf_token": web.csrf_token(),
            "sessions": sessions,
            "api_tokens": tokens,
        })));
    }
    let mut ctx = tera::Context::new();
    ctx.insert(
        "sessions",
        &crate::auth::account::named_sessions(sessions, &web.messages),
    );
    ctx.insert(
        "api_tokens",
        &crate::auth::account::named_tokens(tokens, &web.messages),
    );
    web.reusable_page(TEMPLATE, ctx)
}

pub async fn revoke(
    web: Web,
    current: AuthenticatedUser,
    identity: Option<Identity>,
    form: Submission<RevokeForm>,
) -> Result<HttpResponse, AppError> {
    // Ending sessions is a sensitive change (ASVS 3.3.4): a stale login proves itself first.
    if let Some(reauthenticate) =
        crate::web::guards::require_fresh(&web, &current.0, web.path(Route::Sessions))
    {
        return Ok(reauthenticate);
    }
    let (current, services) = (current.0, web.services());
    let wanted = form.data.session.unwrap_or_default();
    let ended = sessions::sign_out_one(&services, &current, wanted)
        .await?
        .ok_or(AppError::NotFound)?;
    tracing::info!(
        event = "session_revoked",
        user_id = current.user.id,
        current = ended,
        ip = %crate::web::client::ip_for_log(&web.request),
        "session signed out"
    );
    if !ended {
        let sessions = sessions::live(&services, &current).await?;
        let flash = ("success", web.msg(messages::SESSION_ENDED, &[]));
        return Ok(web.success(
            web.path(Route::Sessions),
            Some(flash),
            json!({"sessions": sessions}),
        ));
    }
    // Signed out of this very browser: as logout.
    if let Some(identity) = identity {
        identity.logout();
    }
    let mut response = web.success(web.path(Route::Home), None, json!({"sessions": []}));
    add_cookie(&mut response, &removal_cookie(web.settings()))?;
    Ok(response)
}

pub async fn revoke_others(
    web: Web,
    current: AuthenticatedUser,
    _form: Submission<NoFields>,
) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) =
        crate::web::guards::require_fresh(&web, &current.0, web.path(Route::Sessions))
    {
        return Ok(reauthenticate);
    }
    let (current, services) = (current.0, web.services());
    let count = sessions::sign_out_others(&services, &current).await?;
    tracing::info!(
        event = "sessions_revoked",
        user_id = current.user.id,
        count,
        ip = %crate::web::client::ip_for_log(&web.request),
        "other sessions signed out"
    );
    let sessions = sessions::live(&services, &current).await?;
    let count = count.to_string();
    let message = web.msg(messages::OTHER_SESSIONS_ENDED, &[("count", &count)]);
    Ok(web.success(
        web.path(Route::Sessions),
        Some(("success", message)),
        json!({"sessions": sessions}),
    ))
}
