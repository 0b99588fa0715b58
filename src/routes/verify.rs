//! `GET/POST /verify`: re-authentication before sensitive changes ("freshness",
//! Flask-Security's `/verify`). The check those changes call is
//! [`crate::web::guards::require_fresh`].

use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::json;

use super::mount;
use crate::auth::authenticate::{reprove_password, LoginFailure, Reproof};
use crate::domain::{FormErrors, SafeNext};
use crate::messages;
use crate::urls::Route;
use crate::web::guards::mark_reauthenticated;
use crate::web::signin;
use crate::web::submission::query_param;
use crate::web::{AppError, AuthenticatedUser, Submission, Web};

/// Registers the step-up form.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(mount::form(Route::Verify, form, submit));
}

const TEMPLATE: &str = "security/verify_user.html";

#[derive(Debug, Default, Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

pub async fn form(web: Web, _user: AuthenticatedUser) -> Result<HttpResponse, AppError> {
    if web.format.is_json() {
        return Ok(web.json_ok(json!({"csrf_token": web.csrf_token()})));
    }
    let next = query_param(&web.request, "next").unwrap_or_default();
    web.page(TEMPLATE, context(&next))
}

pub async fn submit(
    web: Web,
    current: AuthenticatedUser,
    form: Submission<VerifyForm>,
) -> Result<HttpResponse, AppError> {
    let current = current.0;
    let settings = web.settings();
    let form = form.data;
    let next_raw = form
        .next
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| query_param(&web.request, "next").filter(|n| !n.is_empty()))
        .unwrap_or_default();
    let next = match SafeNext::parse(&next_raw, &settings.base_url) {
        Ok(next) => Some(next),
        Err(_) if next_raw.is_empty() => None,
        Err(e) => {
            let errors = FormErrors::single("next", web.describe(&e));
            return web.form_failure(TEMPLATE, context(""), &errors);
        }
    };
    let password = form.password.unwrap_or_default();
    if password.is_empty() {
        let errors = FormErrors::single("password", web.msg(messages::PASSWORD_NOT_PROVIDED, &[]));
        return web.form_failure(TEMPLATE, context(&next_raw), &errors);
    }
    let client = signin::client_key(&web);
    match reprove_password(&web.services(), &current.user, &password, &client).await? {
        Reproof::Proved => {}
        Reproof::Wrong => {
            tracing::info!(
                event = "verify_failed",
                reason = ?LoginFailure::InvalidPassword,
                user_id = current.user.id,
                ip = %client,
                "re-authentication failed"
            );
            let errors = FormErrors::single("password", web.msg(messages::INVALID_PASSWORD, &[]));
            return web.form_failure(TEMPLATE, context(&next_raw), &errors);
        }
        Reproof::Throttled { retry_after } => {
            return Err(signin::throttled(&web, "verify_throttled", retry_after))
        }
    }
    mark_reauthenticated(&web, &current, &client, "password").await?;
    let location = next.as_ref().map_or(Route::Home.path(), |n| n.as_str());
    Ok(web.success(
        location,
        Some((
            "success",
            web.msg(messages::REAUTHENTICATION_SUCCESSFUL, &[]),
        )),
        json!({"csrf_token": web.csrf_token(), "user": {}}),
    ))
}

fn context(next: &str) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("next", next);
    ctx
}
