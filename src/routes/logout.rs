//! `POST /logout`: ends the login server-side, so copies of the old cookies stop working.

use crate::auth::lifecycle;
use actix_identity::Identity;
use actix_web::HttpResponse;
use serde_json::json;

use super::mount;
use crate::auth::api_tokens;
use crate::urls::Route;
use crate::web::current_user::removal_cookie;
use crate::web::page::add_cookie;
use crate::web::submission::NoFields;
use crate::web::{signin, AppError, Submission, Web};

/// Registers logging out.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(mount::post(Route::Logout, submit));
}

pub async fn submit(
    web: Web,
    identity: Option<Identity>,
    _form: Submission<NoFields>,
) -> Result<HttpResponse, AppError> {
    let refresh_cookie = web
        .settings()
        .api_tokens
        .refresh_cookie_name
        .as_deref()
        .and_then(|name| web.request.cookie(name));
    if let Some(current) = &web.user {
        // Flask-Security's tokens outlive logout; these end with the login they were
        // issued with, or with themselves when they made this request.
        let scope = lifecycle::Scope {
            login: Some(current.session_id.clone()).filter(|id| !id.is_empty()),
            token: current.via_token.clone(),
            ..lifecycle::Scope::user(current.user.id)
        };
        lifecycle::sign_out(&web.services(), scope, &web.client()).await?;
        tracing::info!(
            event = "logout",
            user_id = current.user.id,
            ip = %crate::web::client::ip_for_log(&web.request),
            "logout"
        );
    }
    if let Some(identity) = identity {
        identity.logout();
    }
    let mut response = web.success(Route::Home.path(), None, json!({}));
    add_cookie(&mut response, &removal_cookie(web.settings()))?;
    // This browser's refresh token: its family ends, and the cookie goes.
    if let Some(cookie) = refresh_cookie {
        let raw = cookie.value().to_owned();
        let services = web.state.services.clone();
        api_tokens::revoke_refresh_token(&services, &raw).await?;
        let mut removal = signin::refresh_cookie(&web, cookie.name(), String::new());
        removal.make_removal();
        add_cookie(&mut response, &removal)?;
    }
    Ok(response)
}
