//! `GET/POST /change-username` and `GET/POST /recover-username`. The rules are in
//! [`crate::auth::usernames`].

use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::json;

use super::mount;
use crate::auth::throttle::Action;
use crate::auth::usernames;
use crate::domain::{Email, FormErrors};
use crate::messages;
use crate::urls::{Route, Urls};
use crate::web::check_email::{self, Sent};
use crate::web::guards::here;
use crate::web::page::redirect;
use crate::web::submission::{query_param, then_or};
use crate::web::{AppError, AuthenticatedUser, Submission, Web};

/// Registers the change-username form.
pub fn change_routes(cfg: &mut actix_web::web::ServiceConfig, urls: Urls) {
    cfg.service(mount::form(
        urls.path(Route::ChangeUsername),
        change_form,
        change_submit,
    ));
}

/// Registers the forgotten-username form.
pub fn recover_routes(cfg: &mut actix_web::web::ServiceConfig, urls: Urls) {
    cfg.service(mount::form(
        urls.path(Route::RecoverUsername),
        recover_form,
        recover_submit,
    ));
}

const CHANGE_TEMPLATE: &str = "security/change_username.html";
const RECOVER_TEMPLATE: &str = "security/recover_username.html";

#[derive(Debug, Default, Deserialize)]
pub struct ChangeUsernameForm {
    #[serde(default)]
    username: Option<String>,
    /// Where to go once changed (the account area sends `/profile`); checked.
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RecoverUsernameForm {
    #[serde(default)]
    email: Option<String>,
}

fn change_context(current: Option<&str>, typed: &str, next: &str) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("current_username", &current);
    ctx.insert("form", &json!({ "username": typed }));
    ctx.insert("next", next);
    ctx
}

pub async fn change_form(web: Web, current: AuthenticatedUser) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) = crate::web::guards::require_fresh(&web, &current.0, &here(&web)) {
        return Ok(reauthenticate);
    }
    let username = current.0.user.username.as_deref();
    if web.format.is_json() {
        return Ok(web.json_ok(json!({
            "current_username": username,
            "csrf_token": web.csrf_token(),
        })));
    }
    let next = query_param(&web.request, "next").unwrap_or_default();
    web.page(CHANGE_TEMPLATE, change_context(username, "", &next))
}

pub async fn change_submit(
    web: Web,
    current: AuthenticatedUser,
    form: Submission<ChangeUsernameForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) = crate::web::guards::require_fresh(&web, &current.0, &here(&web)) {
        return Ok(reauthenticate);
    }
    let user = &current.0.user;
    let (typed, next) = (form.data.username.unwrap_or_default(), form.data.next);
    let (services, client) = (web.services(), web.client());
    let updated = match usernames::change_username(&services, user, &typed, &client).await? {
        Ok(updated) => updated,
        Err(errors) => {
            return web.form_failure(
                CHANGE_TEMPLATE,
                change_context(
                    user.username.as_deref(),
                    &typed,
                    next.as_deref().unwrap_or(""),
                ),
                &errors,
            )
        }
    };
    tracing::info!(
        event = "username_changed",
        user_id = updated.id,
        ip = %crate::web::client::ip_for_log(&web.request),
        "username changed"
    );
    Ok(web.success(
        &then_or(
            &web,
            next.as_deref(),
            &crate::web::spa::post_change_username(&web),
        ),
        Some(("success", web.msg(messages::USERNAME_CHANGE, &[]))),
        json!({ "current_username": updated.username }),
    ))
}

fn recover_context(typed: &str) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("form", &json!({ "email": typed }));
    ctx
}

pub async fn recover_form(web: Web) -> Result<HttpResponse, AppError> {
    if web.format.is_json() {
        return Ok(web.json_ok(json!({ "csrf_token": web.csrf_token() })));
    }
    web.page(RECOVER_TEMPLATE, recover_context(""))
}

/// Always the same answer for a well-formed address, whether or not it has an account (or a
/// username): only its owner learns anything, by mail.
pub async fn recover_submit(
    web: Web,
    form: Submission<RecoverUsernameForm>,
) -> Result<HttpResponse, AppError> {
    let typed = form.data.email.unwrap_or_default();
    let email = match Email::parse(&typed) {
        Ok(email) => email,
        Err(e) => {
            return web.form_failure(
                RECOVER_TEMPLATE,
                recover_context(&typed),
                &FormErrors::single("email", web.describe(&e)),
            )
        }
    };
    let send = super::limits::may_send_mail(&web, Action::UsernameRecovery, &email).await?;
    usernames::recover_username(&web.services(), &email, send).await?;
    if web.format.is_json() {
        return Ok(web.json_ok(json!({})));
    }
    web.flash("info", web.msg(messages::USERNAME_RECOVERY_REQUEST, &[]));
    check_email::queue(&web.session, web.urls(), Sent::Username, email.as_typed());
    Ok(redirect(web.path(Route::Login)))
}
