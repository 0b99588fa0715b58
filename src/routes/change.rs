//! `GET/POST /change`: change the password while logged in.

use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::json;

use super::mount;
use crate::auth::changeable::{self, ChangeInput, ChangeRefusal};
use crate::messages;
use crate::urls::{Route, Urls};
use crate::web::guards::here;
use crate::web::page::add_cookie;
use crate::web::signin;
use crate::web::submission::{query_param, then_or};
use crate::web::{AppError, AuthenticatedUser, Submission, Web};

/// Registers the change-password form.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig, urls: Urls) {
    cfg.service(mount::get_post(urls.path(Route::Change), form, submit));
}

const TEMPLATE: &str = "security/change_password.html";

#[derive(Debug, Default, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    new_password: Option<String>,
    #[serde(default)]
    new_password_confirm: Option<String>,
    /// Where to go once changed (the account area sends `/profile`); checked.
    #[serde(default)]
    next: Option<String>,
}

pub async fn form(web: Web, current: AuthenticatedUser) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) = crate::web::guards::require_fresh(&web, &current.0, &here(&web)) {
        return Ok(reauthenticate);
    }
    if web.format.is_json() {
        return Ok(web.json_ok(json!({"csrf_token": web.csrf_token()})));
    }
    let next = query_param(&web.request, "next").unwrap_or_default();
    web.page(TEMPLATE, context(&current.0.user, &next))
}

fn context(user: &crate::db::models::User, next: &str) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("has_password", &user.password_hash().is_some());
    ctx.insert("next", next);
    ctx
}

pub async fn submit(
    web: Web,
    current: AuthenticatedUser,
    form: Submission<ChangeForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) = crate::web::guards::require_fresh(&web, &current.0, &here(&web)) {
        return Ok(reauthenticate);
    }
    let form = form.data;
    let input = ChangeInput {
        current: form.password.unwrap_or_default(),
        new: form.new_password.unwrap_or_default(),
        new_confirm: form.new_password_confirm,
    };
    let (services, client, origin) = (web.services(), signin::client_key(&web), web.client());
    let user = &current.0.user;
    let updated =
        match changeable::change_password(&services, user, &input, &client, &origin).await? {
            Ok(user) => user,
            Err(ChangeRefusal::Invalid(errors)) => {
                let ctx = context(user, form.next.as_deref().unwrap_or_default());
                return web.form_failure(TEMPLATE, ctx, &errors);
            }
            Err(ChangeRefusal::Throttled { retry_after }) => {
                return Err(signin::throttled(&web, "change_throttled", retry_after))
            }
        };
    // Every login ended with the old password; this browser continues in a fresh one.
    let remember = signin::start_session(&web, &updated, current.0.remembered).await?;
    let flash = ("success", web.msg(messages::PASSWORD_CHANGE, &[]));
    let views = &web.settings().spa.views;
    let view = views.post_change.as_ref().or(views.post_login.as_ref());
    let home = crate::web::spa::view_or(&web, view, web.path(Route::Home));
    let then = then_or(&web, form.next.as_deref(), &home);
    let mut response = web.success(&then, Some(flash), json!({}));
    if let Some(cookie) = remember {
        add_cookie(&mut response, &cookie)?;
    }
    Ok(response)
}
