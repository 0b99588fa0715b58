//! `POST /logout`: ends the login server-side, so copies of the old cookies stop working.
//! `GET /logout` stays a 405, as in Flask-Security, but with a page that offers the form;
//! with `SECURITY_LOGOUT_METHODS` listing GET it logs out too.

use actix_identity::Identity;
use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use serde_json::json;

use super::mount;
use crate::auth::sessions;
use crate::urls::{Route, Urls};
use crate::web::cookies;
use crate::web::current_user::removal_cookie;
use crate::web::page::add_cookie;
use crate::web::submission::then_or;
use crate::web::{AppError, Submission, Web};

/// Registers logging out.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig, urls: Urls) {
    cfg.service(mount::form(urls.path(Route::Logout), confirm, submit));
}

/// `GET /logout`: 405 (logging out is a POST, as in Flask-Security), with a "Sign out?" page
/// whose button does it; JSON clients get the 405 error. With `SECURITY_LOGOUT_METHODS`
/// listing GET it logs out, without a CSRF token: the app asked for logout by a link.
pub async fn confirm(web: Web, identity: Option<Identity>) -> Result<HttpResponse, AppError> {
    if web.settings().features.logout_on_get {
        return log_out(web, identity, None).await;
    }
    if web.format.is_json() {
        return Err(AppError::MethodNotAllowed);
    }
    let mut response = web.page_with_status(
        StatusCode::METHOD_NOT_ALLOWED,
        "security/logout_user.html",
        tera::Context::new(),
    )?;
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
    Ok(response)
}

/// The logout form: only its `next`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct LogoutForm {
    next: Option<String>,
}

pub async fn submit(
    web: Web,
    identity: Option<Identity>,
    form: Submission<LogoutForm>,
) -> Result<HttpResponse, AppError> {
    log_out(web, identity, form.data.next).await
}

/// Ends this browser's login (and its refresh token), removes its cookies, and answers as a
/// logout does: to the typed, else queried, `next` when it is safe (an unsafe one is passed
/// over, as Flask-Security does), else `SECURITY_POST_LOGOUT_VIEW`, else the home page.
async fn log_out(
    web: Web,
    identity: Option<Identity>,
    next: Option<String>,
) -> Result<HttpResponse, AppError> {
    let removals = end_login(&web, identity).await?;
    let view = web.settings().spa.views.post_logout.as_ref();
    let default = crate::web::spa::view_or(&web, view, web.path(Route::Home));
    let then = then_or(&web, next.as_deref(), &default);
    let mut response = web.success(&then, None, json!({}));
    for cookie in &removals {
        add_cookie(&mut response, cookie)?;
    }
    Ok(response)
}

/// Ends this browser's login (and its refresh token, whose family ends): the cookies that
/// remove the remember-me and refresh cookies, for the answer to carry. Also the end of an
/// app's RP-initiated logout (`routes::oidc`).
pub async fn end_login(
    web: &Web,
    identity: Option<Identity>,
) -> Result<Vec<actix_web::cookie::Cookie<'static>>, AppError> {
    let refresh_cookie = web
        .settings()
        .api_tokens
        .refresh_cookie_name
        .as_deref()
        .and_then(|name| web.request.cookie(name));
    // Flask-Security's tokens outlive logout; these end with the login they were issued
    // with, or with themselves when they made this request.
    let raw = refresh_cookie.as_ref().map(|c| c.value().to_owned());
    sessions::log_out(
        &web.services(),
        web.user.as_ref(),
        raw.as_deref(),
        &web.client(),
    )
    .await?;
    if let Some(identity) = identity {
        identity.logout();
    }
    let mut removals = vec![removal_cookie(web.settings())];
    if let Some(cookie) = refresh_cookie {
        let mut removal = cookies::refresh_cookie(web, cookie.name(), String::new());
        removal.make_removal();
        removals.push(removal);
    }
    Ok(removals)
}
