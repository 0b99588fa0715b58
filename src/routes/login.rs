//! `GET/POST /login`.

use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::json;

use super::mount;
use crate::auth::authenticate::LoginFailure;
use crate::auth::signin::{factors, Asked};
use crate::urls::{Route, Urls};
use crate::web::signin;
use crate::web::submission::{query_param, Flag};
use crate::web::{AppError, Submission, Web};

/// Registers the login form.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig, urls: Urls) {
    cfg.service(mount::form(urls.path(Route::Login), form, submit));
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
        crate::web::pending::forget(&web);
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
        let view = web.settings().spa.views.post_login.as_ref();
        let home = crate::web::spa::view_or(&web, view, web.path(Route::Home));
        return Ok(crate::web::page::redirect(&home));
    }
    let us = &web.settings().unified_signin;
    if us.enabled && us.signin_replaces_login {
        // SECURITY_US_SIGNIN_REPLACES_LOGIN: the one form is the login page.
        let next = query_param(&web.request, "next");
        return Ok(crate::web::page::redirect(
            &web.urls().with_next(Route::UsSignin, next.as_deref()),
        ));
    }
    // Coming back to the login page abandons a half-finished login (as Flask-Security).
    crate::web::pending::forget(&web);
    let next = query_param(&web.request, "next").unwrap_or_default();
    let blank = LoginForm {
        remember: Some(Flag(web.settings().features.default_remember_me)),
        ..LoginForm::default()
    };
    web.page("security/login_user.html", form_context(&blank, &next))
}

pub async fn submit(web: Web, form: Submission<LoginForm>) -> Result<HttpResponse, AppError> {
    let form = form.data;
    let settings = web.settings();
    let next_raw = crate::web::submission::typed_or_queried_next(&web, form.next.as_deref());
    let next = match crate::web::submission::safe_next(&web, next_raw.clone()) {
        Ok(next) => next,
        Err(errors) => {
            return web.form_failure("security/login_user.html", form_context(&form, ""), &errors)
        }
    };
    let identity = form
        .email
        .as_deref()
        .filter(|e| !e.is_empty())
        .or(form.username.as_deref())
        .unwrap_or("");
    let password = form.password.as_deref().unwrap_or("");
    // A form's unticked box is absent; a JSON login that does not say takes the default.
    let remember = match &form.remember {
        Some(flag) => flag.0,
        None => web.format.is_json() && settings.features.default_remember_me,
    };
    let asked = Asked { remember, next };
    let browser = signin::browser(&web);
    let outcome = factors::password(&web.services(), &browser, identity, password, asked).await?;
    signin::answer(&web, outcome, "login_throttled", json!({}), |refused| {
        if refused.failure == LoginFailure::ConfirmationRequired {
            let email = refused.email.as_deref();
            if let Some(elsewhere) = crate::web::spa::requires_confirmation(&web, email) {
                return Ok(elsewhere);
            }
        }
        let generic = settings.features.return_generic_responses;
        let errors = refused.failure.to_form_errors(generic, &web.messages);
        let mut ctx = form_context(&form, &next_raw.unwrap_or_default());
        // Only the password's owner learns the account awaits confirmation: offer to resend.
        let unconfirmed =
            refused.failure == LoginFailure::ConfirmationRequired && identity.contains('@');
        ctx.insert("resend_confirmation", &unconfirmed);
        web.form_failure("security/login_user.html", ctx, &errors)
    })
}

fn identity_attributes(web: &Web) -> Vec<&'static str> {
    let features = &web.settings().features;
    features
        .identity_attributes
        .iter()
        .map(|a| a.as_str())
        .collect()
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
    ctx.insert("resend_confirmation", &false);
    ctx
}
