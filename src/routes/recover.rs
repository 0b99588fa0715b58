//! `GET/POST /reset` (forgot password) and `GET/POST /reset/<token>` (set a new one).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::mount;
use crate::auth::recoverable::{self, ForgotOutcome, ResetLink};
use crate::auth::signin::factors;
use crate::auth::throttle::Action;
use crate::domain::{Email, FormErrors};
use crate::messages;
use crate::urls::{Route, Urls};
use crate::web::check_email::{self, Sent};
use crate::web::page::redirect;
use crate::web::signin;
use crate::web::spa;
use crate::web::{AppError, Submission, Web};

/// Registers the forgot-password form and the reset link's page.
pub fn routes(cfg: &mut web::ServiceConfig, urls: Urls) {
    cfg.service(mount::get_post(
        urls.path(Route::Reset),
        forgot_form,
        forgot_submit,
    ));
    reset_routes(cfg, urls);
}

/// Registers the reset link's page alone.
pub fn reset_routes(cfg: &mut web::ServiceConfig, urls: Urls) {
    cfg.service(mount::get_post(
        urls.path(Route::ResetToken),
        reset_form,
        reset_submit,
    ));
}

const FORGOT: &str = "security/forgot_password.html";
const RESET: &str = "security/reset_password.html";
#[derive(Debug, Default, Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    password_confirm: Option<String>,
}

pub async fn forgot_form(web: Web) -> Result<HttpResponse, AppError> {
    if web.format.is_json() {
        return Ok(web.json_ok(json!({"csrf_token": web.csrf_token()})));
    }
    web.page(FORGOT, email_context(""))
}

pub async fn forgot_submit(
    web: Web,
    form: Submission<ForgotForm>,
) -> Result<HttpResponse, AppError> {
    let raw = form.data.email.unwrap_or_default();
    let refused = |message: String| {
        let errors = FormErrors::single("email", message);
        web.form_failure(FORGOT, email_context(&raw), &errors)
    };
    let email = match Email::parse(&raw) {
        Ok(email) => email,
        Err(e) => return refused(web.describe(&e)),
    };
    let send = super::limits::may_send_mail(&web, Action::Reset, &email).await?;
    let outcome = recoverable::forgot(&web.services(), &email, send).await?;
    let message = match outcome {
        _ if web.settings().features.return_generic_responses => {
            web.msg(messages::GENERIC_RECOVERY, &[])
        }
        ForgotOutcome::Sent => web.msg(
            messages::PASSWORD_RESET_REQUEST,
            &[("email", email.as_typed())],
        ),
        ForgotOutcome::UnknownUser => return refused(web.msg(messages::USER_DOES_NOT_EXIST, &[])),
        ForgotOutcome::ConfirmationRequired => {
            let elsewhere = crate::web::spa::requires_confirmation(&web, Some(email.as_str()));
            if let Some(elsewhere) = elsewhere {
                return Ok(elsewhere);
            }
            // As at login: the link can be sent again from here.
            let mut ctx = email_context(&raw);
            ctx.insert("resend_confirmation", &true);
            let errors = FormErrors::single("email", web.msg(messages::CONFIRMATION_REQUIRED, &[]));
            return web.form_failure(FORGOT, ctx, &errors);
        }
    };
    if web.format.is_json() {
        return Ok(web.json_ok(json!({})));
    }
    web.check_email_page(Sent::PasswordReset, email.as_typed(), message)
}

pub async fn reset_form(web: Web, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    let link = recoverable::check_link(&web.services(), &token).await?;
    let refusal = refusal(&web, &link);
    // SPA mode: the app's own reset view gets the token, its error view the message.
    let views = &web.settings().spa.views;
    let spa = match &refusal {
        None => spa::link_redirect(&web, views.reset.as_ref(), &[("token", &token)]),
        Some(m) => spa::link_redirect(&web, views.reset_error.as_ref(), &[("error", m)]),
    };
    if let Some(response) = spa {
        return Ok(response);
    }
    match (link, refusal) {
        (ResetLink::ExpiredResent(email), Some(message)) => Ok(link_refused(
            &web,
            Some((Sent::PasswordReset, email.as_str())),
            message,
        )),
        (_, Some(message)) => Ok(link_refused(&web, None, message)),
        (_, None) if web.format.is_json() => {
            Ok(web.json_ok(json!({"csrf_token": web.csrf_token()})))
        }
        (_, None) => web.page(RESET, reset_context(&web, &token)),
    }
}

/// Why a reset link cannot be used (`None`: it can).
fn refusal(web: &Web, link: &ResetLink) -> Option<String> {
    match link {
        ResetLink::Valid => None,
        ResetLink::ExpiredResent(email) => {
            let within = web.messages.period(web.settings().reset_password_within);
            let args = [("email", email.as_str()), ("within", within.as_str())];
            Some(web.msg(messages::PASSWORD_RESET_EXPIRED, &args))
        }
        ResetLink::Invalid => Some(web.msg(messages::INVALID_RESET_PASSWORD_TOKEN, &[])),
    }
}

pub async fn reset_submit(
    web: Web,
    token: web::Path<String>,
    form: Submission<ResetForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.data;
    let (password, confirm) = (form.password.unwrap_or_default(), form.password_confirm);
    let browser = signin::browser(&web);
    let passwords = (password.as_str(), confirm.as_deref());
    match factors::reset_link(&web.services(), &browser, &token, passwords).await? {
        Err(errors) => web.form_failure(RESET, reset_context(&web, &token), &errors),
        // `SECURITY_AUTO_LOGIN_AFTER_RESET`: signed in (or asked for the second factor).
        Ok(Some((_, Some(step)))) => {
            if !web.format.is_json() {
                web.flash("success", web.msg(messages::PASSWORD_RESET, &[]));
            }
            signin::render(&web, step, json!({}))
        }
        Ok(Some((_, None))) => Ok(web.success(
            &spa::view_or(
                &web,
                web.settings().spa.views.post_reset.as_ref(),
                web.path(Route::Login),
            ),
            Some(("success", web.msg(messages::PASSWORD_RESET_NO_LOGIN, &[]))),
            json!({}),
        )),
        Ok(None) => Ok(link_refused(
            &web,
            None,
            web.msg(messages::INVALID_RESET_PASSWORD_TOKEN, &[]),
        )),
    }
}

/// A reset link that cannot be used: Flask-Security's message, then in plain words why and
/// what to do; an expired one was sent again, so the "Check your email" card follows.
fn link_refused(web: &Web, resent: Option<(Sent, &str)>, message: String) -> HttpResponse {
    if web.format.is_json() {
        return web.json_error(message);
    }
    web.flash("error", message);
    match resent {
        Some((sent, address)) => check_email::queue(&web.session, web.urls(), sent, address),
        None => web.flash(
            "info",
            web.translate(
                "A reset link works once, and stops working when the password changes or when it gets too old. Enter your email below for a new one.",
                &[],
            ),
        ),
    }
    redirect(web.path(Route::Reset))
}

fn email_context(email: &str) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("form", &json!({ "email": email }));
    ctx
}

fn reset_context(web: &Web, token: &str) -> tera::Context {
    let mut ctx = tera::Context::new();
    // Tokens we issue are URL-safe; anything else never reaches a rendered form.
    ctx.insert(
        "reset_url",
        &web.urls().with_token(Route::ResetToken, token),
    );
    ctx
}
