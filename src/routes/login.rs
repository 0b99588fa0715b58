//! `GET/POST /login`.

use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::json;

use super::mount;
use crate::auth::authenticate::{self, LoginOutcome, Refused};
use crate::auth::events::{LoginMethod, SecurityEvent};
use crate::domain::{FormErrors, SafeNext};
use crate::urls::Route;
use crate::web::signin;
use crate::web::submission::{query_param, Flag};
use crate::web::{AppError, Submission, Web};

/// Registers the login form.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(mount::form(Route::Login, form, submit));
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    remember: Option<Flag>,
    #[serde(default)]
    next: Option<String>,
}

pub async fn form(web: Web) -> Result<HttpResponse, AppError> {
    if web.format.is_json() {
        signin::drop_pending(&web);
        let mut response = json!({
            "csrf_token": web.csrf_token(),
            "identity_attributes": identity_attributes(&web),
        });
        if let Some(current) = &web.user {
            response["user"] = crate::web::page::user_view(&current.user);
        }
        return Ok(web.json_ok(response));
    }
    if web.user.is_some() {
        return Ok(crate::web::page::redirect(Route::Home.path()));
    }
    let us = &web.settings().unified_signin;
    if us.enabled && us.signin_replaces_login {
        // SECURITY_US_SIGNIN_REPLACES_LOGIN: the one form is the login page.
        let next = query_param(&web.request, "next");
        return Ok(crate::web::page::redirect(&match next {
            Some(next) => format!(
                "{}?next={}",
                Route::UsSignin.path(),
                percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC)
            ),
            None => Route::UsSignin.path().to_owned(),
        }));
    }
    // Coming back to the login page abandons a half-finished login (as Flask-Security).
    signin::drop_pending(&web);
    let next = query_param(&web.request, "next").unwrap_or_default();
    web.page(
        "security/login_user.html",
        form_context(&LoginForm::default(), &next),
    )
}

pub async fn submit(web: Web, form: Submission<LoginForm>) -> Result<HttpResponse, AppError> {
    let form = form.data;
    let settings = web.settings();
    let next_raw = form
        .next
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| query_param(&web.request, "next").filter(|n| !n.is_empty()));
    let next = match next_raw
        .as_deref()
        .map(|n| SafeNext::parse(n, &settings.base_url))
    {
        Some(Err(e)) => {
            let errors = FormErrors::single("next", web.describe(&e));
            return web.form_failure("security/login_user.html", form_context(&form, ""), &errors);
        }
        Some(Ok(next)) => Some(next),
        None => None,
    };
    let identity = form
        .email
        .as_deref()
        .filter(|e| !e.is_empty())
        .or(form.username.as_deref())
        .unwrap_or("");
    let password = form.password.as_deref().unwrap_or("");
    let client = signin::client_key(&web);
    let outcome =
        authenticate::login_with_password(&web.services(), identity, password, &client).await?;
    let user = match outcome {
        LoginOutcome::Proved(first_factor) => first_factor.user,
        LoginOutcome::Throttled { retry_after } => {
            return Err(signin::throttled(&web, "login_throttled", retry_after))
        }
        LoginOutcome::Refused(refused) => {
            log_failure(&client, refused);
            web.emit(
                SecurityEvent::LoginFailed {
                    method: LoginMethod::Password,
                    reason: refused.failure.as_str().to_owned(),
                },
                refused.user_id,
            );
            let errors = refused
                .failure
                .to_form_errors(settings.features.return_generic_responses, &web.messages);
            let next = next_raw.unwrap_or_default();
            return web.form_failure(
                "security/login_user.html",
                form_context(&form, &next),
                &errors,
            );
        }
    };
    let remember = form.remember.is_some_and(|f| f.0);
    let next = next.as_ref().map(|n| n.as_str());
    signin::finish_first_factor(&web, &user, LoginMethod::Password, remember, next).await
}

/// Never logs what was typed: neither the password nor the identity (which may be one).
fn log_failure(client: &str, refused: Refused) {
    tracing::info!(
        event = "login_failed",
        reason = ?refused.failure,
        user_id = refused.user_id,
        ip = %client,
        "login failed"
    );
}

fn identity_attributes(web: &Web) -> Vec<&'static str> {
    if web.settings().features.username_enable {
        vec!["email", "username"]
    } else {
        vec!["email"]
    }
}

fn form_context(form: &LoginForm, next: &str) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert(
        "form",
        &json!({
            "email": form.email.as_deref().or(form.username.as_deref()).unwrap_or(""),
            "remember": form.remember.is_some_and(|f| f.0),
        }),
    );
    ctx.insert("next", next);
    ctx
}
