//! `GET/POST /verify`: re-authentication before sensitive changes ("freshness",
//! Flask-Security's `/verify`). The check those changes call is
//! [`crate::web::guards::require_fresh`].

use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::json;

use super::mount;
use crate::auth::authenticate::Attempt;
use crate::auth::signin::{factors, reauth};
use crate::db::models::User;
use crate::domain::FormErrors;
use crate::messages;
use crate::urls::{Route, Urls};
use crate::web::guards::mark_reauthenticated;
use crate::web::signin;
use crate::web::submission::{query_param, safe_next, typed_or_queried_next};
use crate::web::{AppError, AuthenticatedUser, Submission, Web};

/// Registers the step-up form.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig, urls: Urls) {
    cfg.service(mount::form(urls.path(Route::Verify), form, submit));
}

const TEMPLATE: &str = "security/verify_user.html";

#[derive(Debug, Default, Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

pub async fn form(web: Web, current: AuthenticatedUser) -> Result<HttpResponse, AppError> {
    if web.format.is_json() {
        return Ok(web.json_ok(json!({"csrf_token": web.csrf_token()})));
    }
    let next = query_param(&web.request, "next").unwrap_or_default();
    web.page(TEMPLATE, context(&web, &current.0.user, &next).await?)
}

pub async fn submit(
    web: Web,
    current: AuthenticatedUser,
    form: Submission<VerifyForm>,
) -> Result<HttpResponse, AppError> {
    let current = current.0;
    let form = form.data;
    let next_raw = typed_or_queried_next(&web, form.next.as_deref());
    let next = match safe_next(&web, next_raw.clone()) {
        Ok(next) => next,
        Err(errors) => {
            let ctx = context(&web, &current.user, "").await?;
            return web.form_failure(TEMPLATE, ctx, &errors);
        }
    };
    let next_raw = next_raw.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    if password.is_empty() {
        let errors = FormErrors::single("password", web.msg(messages::PASSWORD_NOT_PROVIDED, &[]));
        let ctx = context(&web, &current.user, &next_raw).await?;
        return web.form_failure(TEMPLATE, ctx, &errors);
    }
    let browser = signin::browser(&web);
    let services = web.services();
    match factors::password_again(&services, &browser, &current.user, &password).await? {
        Attempt::Proved(()) => {}
        Attempt::Refused(()) => {
            let errors = FormErrors::single("password", web.msg(messages::INVALID_PASSWORD, &[]));
            let ctx = context(&web, &current.user, &next_raw).await?;
            return web.form_failure(TEMPLATE, ctx, &errors);
        }
        Attempt::Throttled { retry_after } => {
            return Err(signin::throttled(&web, "verify_throttled", retry_after))
        }
    }
    let client = browser.key();
    mark_reauthenticated(&web, &current, &client, "password").await?;
    let location = next.unwrap_or_else(|| crate::web::spa::post_verify(&web));
    Ok(web.success(
        &location,
        Some((
            "success",
            web.msg(messages::REAUTHENTICATION_SUCCESSFUL, &[]),
        )),
        json!({"csrf_token": web.csrf_token(), "user": {}}),
    ))
}

/// The page's context: `next`, and the user's other ways to confirm (`reauth`).
async fn context(web: &Web, user: &User, next: &str) -> Result<tera::Context, AppError> {
    let mut ctx = tera::Context::new();
    ctx.insert("next", next);
    ctx.insert("reauth", &reauth::ways(&web.services(), user).await?);
    Ok(ctx)
}
