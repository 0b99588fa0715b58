//! `POST /refresh-token` (Flask-Security 5.9: a refresh token for a new API token) and
//! `POST /sessions/revoke-token` (the sessions page revokes one API token). The rules are in
//! [`crate::auth::api_tokens`].

use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::json;

use super::mount;
use crate::auth::api_tokens;
use crate::domain::FormErrors;
use crate::messages;
use crate::urls::{Route, Urls};
use crate::web::page::add_cookie;
use crate::web::{AppError, AuthenticatedUser, Submission, Web};

/// Registers revoking an API token (on the sessions page).
pub fn routes(cfg: &mut actix_web::web::ServiceConfig, urls: Urls) {
    cfg.service(mount::post(urls.path(Route::SessionsRevokeToken), revoke));
}

/// Registers refreshing an API token.
pub fn refresh_routes(cfg: &mut actix_web::web::ServiceConfig, urls: Urls) {
    cfg.service(mount::post(urls.path(Route::RefreshToken), refresh));
}

#[derive(Debug, Default, Deserialize)]
pub struct RefreshForm {
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RevokeTokenForm {
    /// The handle the sessions page shows (never the token).
    #[serde(default)]
    token: Option<String>,
}

/// JSON only, as Flask-Security. The refresh token comes from its cookie when refresh
/// tokens travel in one (never from the body then), else from the body's `refresh_token`.
pub async fn refresh(web: Web, form: Submission<RefreshForm>) -> Result<HttpResponse, AppError> {
    if !web.format.is_json() {
        return Err(AppError::BadRequest(
            "The refresh token endpoint answers JSON only".to_owned(),
        ));
    }
    let presented = match &web.settings().api_tokens.refresh_cookie_name {
        Some(name) => web.request.cookie(name).map(|c| c.value().to_owned()),
        None => form.data.refresh_token,
    };
    let Some(raw) = presented.filter(|raw| !raw.is_empty()) else {
        return refused(&web, "INVALID");
    };
    match api_tokens::refresh(&web.state.services, &raw, &web.client()).await? {
        Ok(refreshed) => {
            let (fields, cookie) = crate::web::cookies::token_answer(&web, refreshed.tokens);
            let mut response = web.json_ok(json!({ "user": fields }));
            if let Some(cookie) = cookie {
                add_cookie(&mut response, &cookie)?;
            }
            Ok(response)
        }
        Err(error) => {
            tracing::warn!(
                event = "refresh_refused",
                reason = error.reason(),
                ip = %crate::web::client::ip_for_log(&web.request),
                "refresh token refused"
            );
            refused(&web, error.reason())
        }
    }
}

fn refused(web: &Web, reason: &str) -> Result<HttpResponse, AppError> {
    let message = web.msg(messages::REFRESH_TOKEN_INVALID, &[("reason", reason)]);
    web.form_failure(
        "security/sessions.html",
        tera::Context::new(),
        &FormErrors::single("refresh_token", message),
    )
}

/// Revokes one of the user's API tokens (and the refresh family it belongs to).
pub async fn revoke(
    web: Web,
    current: AuthenticatedUser,
    form: Submission<RevokeTokenForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) =
        crate::web::guards::require_fresh(&web, &current.0, web.path(Route::Sessions))
    {
        return Ok(reauthenticate);
    }
    let wanted = form.data.token.unwrap_or_default();
    let user_id = current.0.user.id;
    let found =
        api_tokens::revoke_from_page(&web.services(), user_id, &wanted, &web.client()).await?;
    if !found {
        return Err(AppError::NotFound);
    }
    tracing::info!(
        event = "token_revoked",
        user_id,
        ip = %crate::web::client::ip_for_log(&web.request),
        "API token revoked from the sessions page"
    );
    Ok(web.success(
        web.path(Route::Sessions),
        Some(("success", web.msg(messages::API_TOKEN_ENDED, &[]))),
        json!({}),
    ))
}
