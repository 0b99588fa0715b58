//! `GET/POST /change-email` (ask for a new address), `GET /change-email/<token>` (the link
//! mailed to it) and `GET/POST /change-email/revert/<token>` ("this wasn't me", mailed to
//! the old address). The rules are in [`crate::auth::change_email`].

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::mount;
use crate::auth::change_email::{self, Confirmed, Reverted};
use crate::auth::throttle::Action;
use crate::domain::{Email, FormErrors};
use crate::messages;
use crate::urls::{Route, Urls};
use crate::web::page::{add_cookie, redirect};
use crate::web::spa;
use crate::web::{signin, AppError, AuthenticatedUser, Submission, Web};

/// Registers the change-email form, its confirmation link (other methods on it are 404) and
/// the revert link's page.
pub fn routes(cfg: &mut web::ServiceConfig, urls: Urls) {
    cfg.service(mount::form(urls.path(Route::ChangeEmail), form, submit))
        .route(urls.path(Route::ChangeEmailToken), web::get().to(confirm))
        .service(mount::get_post(
            urls.path(Route::ChangeEmailRevert),
            revert_form,
            revert_submit,
        ));
}

const TEMPLATE: &str = "security/change_email.html";
const REVERT_TEMPLATE: &str = "security/change_email_revert.html";

#[derive(Debug, Default, Deserialize)]
pub struct ChangeEmailForm {
    #[serde(default)]
    email: Option<String>,
}

/// The revert form carries nothing but its CSRF token.
#[derive(Debug, Default, Deserialize)]
pub struct RevertForm {}

fn context(current_email: &str, typed: &str) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("current_email", current_email);
    ctx.insert("form", &json!({ "email": typed }));
    ctx
}

pub async fn form(web: Web, current: AuthenticatedUser) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) =
        crate::web::guards::require_fresh(&web, &current.0, web.path(Route::ChangeEmail))
    {
        return Ok(reauthenticate);
    }
    let email = current.0.user.email_or_empty();
    if web.format.is_json() {
        return Ok(web.json_ok(json!({
            "current_email": email,
            "user": {},
            "csrf_token": web.csrf_token(),
        })));
    }
    web.page(TEMPLATE, context(email, ""))
}

pub async fn submit(
    web: Web,
    current: AuthenticatedUser,
    form: Submission<ChangeEmailForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) =
        crate::web::guards::require_fresh(&web, &current.0, web.path(Route::ChangeEmail))
    {
        return Ok(reauthenticate);
    }
    let user = &current.0.user;
    let typed = form.data.email.unwrap_or_default();
    let new = match Email::parse(&typed) {
        Ok(email) => email,
        Err(e) => {
            return web.form_failure(
                TEMPLATE,
                context(user.email_or_empty(), &typed),
                &FormErrors::single("email", web.describe(&e)),
            )
        }
    };
    let send = super::limits::may_send_mail(&web, Action::ChangeEmail, &new).await?;
    if let Err(errors) = change_email::request_change(&web.services(), user, &new, send).await? {
        return web.form_failure(TEMPLATE, context(user.email_or_empty(), &typed), &errors);
    }
    tracing::info!(
        event = "change_email_requested",
        user_id = user.id,
        ip = %crate::web::client::ip_for_log(&web.request),
        "email change requested"
    );
    let sent = web.msg(messages::CHANGE_EMAIL_SENT, &[("email", new.as_typed())]);
    if web.format.is_json() {
        return Ok(web.json_ok(json!({ "current_email": user.email_or_empty(), "user": {} })));
    }
    web.flash("success", sent);
    Ok(redirect(web.path(Route::ChangeEmail)))
}

/// The link in the mail to the new address: whoever opens it switches the account (as
/// Flask-Security). A browser logged in to that account stays logged in, in a fresh login;
/// every other login of the account has ended.
pub async fn confirm(web: Web, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    let settings = web.settings();
    let views = &settings.spa.views;
    match change_email::confirm_change(&web.services(), &token, &web.client()).await? {
        Confirmed::Changed { user, old_email: _ } => {
            tracing::info!(
                event = "email_changed",
                user_id = user.id,
                ip = %crate::web::client::ip_for_log(&web.request),
                "email address changed"
            );
            let this_browser = web.user.as_ref().filter(|c| c.user.id == user.id);
            let remember = match this_browser {
                Some(current) => signin::start_session(&web, &user, current.remembered).await?,
                None => None,
            };
            let message = web.msg(messages::CHANGE_EMAIL_CONFIRMED, &[]);
            let params = spa::account_params(&user, ("success", &message));
            let mut response =
                match spa::link_redirect(&web, views.post_change_email.as_ref(), &params) {
                    Some(response) => response,
                    None => {
                        web.flash("success", message.clone());
                        let home = web.path(Route::Home);
                        redirect(&spa::view_or(&web, views.post_change_email.as_ref(), home))
                    }
                };
            if let Some(cookie) = remember {
                add_cookie(&mut response, &cookie)?;
            }
            Ok(response)
        }
        Confirmed::Expired => {
            let within = web
                .messages
                .period(settings.account_changes.change_email_within);
            let message = web.msg(messages::CHANGE_EMAIL_EXPIRED, &[("within", &within)]);
            Ok(refused(&web, message))
        }
        Confirmed::Invalid => Ok(refused(&web, web.msg(messages::CHANGE_EMAIL_INVALID, &[]))),
    }
}

/// A change-of-address link that did not work: `SECURITY_CHANGE_EMAIL_ERROR_VIEW` with the
/// message in SPA mode, else the message flashed on that view or the change-email page.
fn refused(web: &Web, message: String) -> HttpResponse {
    let view = web.settings().spa.views.change_email_error.as_ref();
    if let Some(response) = spa::link_redirect(web, view, &[("error", &message)]) {
        return response;
    }
    web.flash("error", message);
    redirect(&spa::view_or(web, view, web.path(Route::ChangeEmail)))
}

/// "This wasn't me": a page that asks before acting, so that a mail scanner opening the
/// link locks nothing.
pub async fn revert_form(web: Web, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    let valid = change_email::revert_link_is_valid(&web.services(), &token).await?;
    if web.format.is_json() {
        if !valid {
            return Ok(web.json_error(web.msg(messages::CHANGE_EMAIL_REVERT_INVALID, &[])));
        }
        return Ok(web.json_ok(json!({ "csrf_token": web.csrf_token() })));
    }
    let mut ctx = tera::Context::new();
    ctx.insert("valid", &valid);
    ctx.insert(
        "revert_url",
        &web.urls().with_token(Route::ChangeEmailRevert, &token),
    );
    if !valid {
        ctx.insert(
            "form_errors",
            &[web.msg(messages::CHANGE_EMAIL_REVERT_INVALID, &[])],
        );
    }
    web.page(REVERT_TEMPLATE, ctx)
}

pub async fn revert_submit(
    web: Web,
    token: web::Path<String>,
    _form: Submission<RevertForm>,
) -> Result<HttpResponse, AppError> {
    match change_email::revert_change(&web.services(), &token).await? {
        Reverted::Locked {
            user_id,
            restored,
            reset_sent_to,
        } => {
            tracing::warn!(
                event = "email_change_reverted",
                user_id,
                restored,
                ip = %crate::web::client::ip_for_log(&web.request),
                "email change reported as not made by the owner: account locked"
            );
            let message = web.msg(
                messages::CHANGE_EMAIL_REVERTED,
                &[("email", &reset_sent_to)],
            );
            Ok(web.success(
                web.path(Route::Login),
                Some(("success", message)),
                json!({ "email_restored": restored }),
            ))
        }
        Reverted::Invalid => {
            let message = web.msg(messages::CHANGE_EMAIL_REVERT_INVALID, &[]);
            if web.format.is_json() {
                return Ok(web.json_error(message));
            }
            web.flash("error", message);
            Ok(redirect(web.path(Route::Login)))
        }
    }
}
