//! `GET/POST /change`: change the password while logged in.

use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::json;

use super::mount;
use crate::auth::changeable::{self, ChangeInput, ChangeRefusal};
use crate::messages;
use crate::urls::Route;
use crate::web::page::add_cookie;
use crate::web::signin;
use crate::web::{AppError, AuthenticatedUser, Submission, Web};

/// Registers the change-password form.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(mount::get_post(Route::Change, form, submit));
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
}

pub async fn form(web: Web, current: AuthenticatedUser) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) =
        crate::web::guards::require_fresh(&web, &current.0, Route::Change.path())
    {
        return Ok(reauthenticate);
    }
    if web.format.is_json() {
        return Ok(web.json_ok(json!({"csrf_token": web.csrf_token()})));
    }
    web.page(TEMPLATE, context(&current.0.user))
}

fn context(user: &crate::db::models::User) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("has_password", &user.password_hash().is_some());
    ctx
}

pub async fn submit(
    web: Web,
    current: AuthenticatedUser,
    form: Submission<ChangeForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) =
        crate::web::guards::require_fresh(&web, &current.0, Route::Change.path())
    {
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
                return web.form_failure(TEMPLATE, context(user), &errors)
            }
            Err(ChangeRefusal::Throttled { retry_after }) => {
                return Err(signin::throttled(&web, "change_throttled", retry_after))
            }
        };
    // Every login ended with the old password; this browser continues in a fresh one.
    let remember = signin::start_session(&web, &updated, current.0.remembered).await?;
    let flash = ("success", web.msg(messages::PASSWORD_CHANGE, &[]));
    let mut response = web.success(Route::Home.path(), Some(flash), json!({}));
    if let Some(cookie) = remember {
        add_cookie(&mut response, &cookie)?;
    }
    Ok(response)
}
