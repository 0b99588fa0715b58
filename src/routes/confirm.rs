//! `GET/POST /confirm` (send the confirmation mail again) and `GET /confirm/<token>`.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::mount;
use crate::auth::confirmable::{self, ConfirmOutcome, ResendOutcome};
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

/// Registers the confirmation form and the confirmation link (other methods on the link are 404).
pub fn routes(cfg: &mut web::ServiceConfig, urls: Urls) {
    cfg.service(mount::get_post(urls.path(Route::Confirm), form, submit))
        .route(urls.path(Route::ConfirmToken), web::get().to(with_token));
}

const TEMPLATE: &str = "security/send_confirmation.html";

#[derive(Debug, Default, Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: Option<String>,
}

pub async fn form(web: Web) -> Result<HttpResponse, AppError> {
    if web.format.is_json() {
        return Ok(web.json_ok(json!({"csrf_token": web.csrf_token()})));
    }
    web.page(TEMPLATE, email_context(""))
}

pub async fn submit(web: Web, form: Submission<EmailForm>) -> Result<HttpResponse, AppError> {
    let raw = form.data.email.unwrap_or_default();
    let email = match Email::parse(&raw) {
        Ok(email) => email,
        Err(e) => {
            return web.form_failure(
                TEMPLATE,
                email_context(&raw),
                &FormErrors::single("email", web.describe(&e)),
            )
        }
    };
    let send = super::limits::may_send_mail(&web, Action::Confirm, &email).await?;
    let outcome = confirmable::resend(&web.services(), &email, send).await?;
    let generic = web.settings().features.return_generic_responses;
    let refusal = match outcome {
        ResendOutcome::Sent => None,
        _ if generic => None,
        ResendOutcome::UnknownUser => Some(messages::USER_DOES_NOT_EXIST),
        ResendOutcome::AlreadyConfirmed => Some(messages::ALREADY_CONFIRMED),
    };
    if let Some(message) = refusal {
        return web.form_failure(
            TEMPLATE,
            email_context(&raw),
            &FormErrors::single("email", web.msg(message, &[])),
        );
    }
    let sent = web.msg(
        messages::CONFIRMATION_REQUEST,
        &[("email", email.as_typed())],
    );
    if web.format.is_json() {
        return Ok(web.json_ok(json!({})));
    }
    web.check_email_page(Sent::Confirmation, email.as_typed(), sent)
}

pub async fn with_token(web: Web, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    let browser = signin::browser(&web);
    let signed_in_as = web.user.as_ref().map(|current| current.user.id);
    let (outcome, step) =
        factors::confirm_link(&web.services(), &browser, &token, signed_in_as).await?;
    // `SECURITY_AUTO_LOGIN_AFTER_CONFIRM`: signed in (or asked for the second factor).
    if let Some(step) = step {
        if !web.format.is_json() {
            web.flash("success", web.msg(messages::EMAIL_CONFIRMED, &[]));
        }
        return signin::render(&web, step, json!({}));
    }
    let outcome_kind = match &outcome {
        ConfirmOutcome::ExpiredResent(email) => LinkKind::Resent(email.clone()),
        ConfirmOutcome::Invalid => LinkKind::Unusable,
        _ => LinkKind::Fine,
    };
    let spa_account = match &outcome {
        ConfirmOutcome::Confirmed(user) => Some(user.as_ref().clone()),
        _ => None,
    };
    let (location, category, message, confirmed) = link_answer(&web, outcome);
    let location = match link_target(&web, spa_account.as_ref(), location, category, &message) {
        spa::Target::Spa(response) => return Ok(response),
        spa::Target::Page(location) => location,
    };
    if web.format.is_json() {
        return Ok(if confirmed {
            web.json_ok(json!({}))
        } else {
            web.json_error(message)
        });
    }
    web.flash(category, message);
    explain_link(&web, outcome_kind);
    Ok(redirect(&location))
}

/// After Flask-Security's message for a link that did not confirm, plain words on what to
/// do: an expired link was sent again (the "Check your email" card), an unknown one can be
/// asked for again.
fn explain_link(web: &Web, kind: LinkKind) {
    match kind {
        LinkKind::Resent(address) => check_email::queue(&web.session, web.urls(), Sent::Confirmation, &address),
        LinkKind::Unusable => web.flash(
            "info",
            web.translate(
                "A confirmation link works once and for a limited time. If your account is not confirmed yet, enter your email below for a new link.",
                &[],
            ),
        ),
        LinkKind::Fine => {}
    }
}

/// Where a confirmation link leads: in SPA mode `SECURITY_POST_CONFIRM_VIEW` with the
/// account and the message, or `SECURITY_CONFIRM_ERROR_VIEW` with the message; else those
/// views when set, or Latchkey's page (`location`).
fn link_target(
    web: &Web,
    confirmed: Option<&crate::db::models::User>,
    location: &str,
    category: &str,
    message: &str,
) -> spa::Target {
    let views = &web.settings().spa.views;
    let spa = match confirmed {
        Some(user) => spa::link_redirect(
            web,
            views.post_confirm.as_ref(),
            &spa::account_params(user, (category, message)),
        ),
        None => spa::link_redirect(web, views.confirm_error.as_ref(), &[(category, message)]),
    };
    if let Some(response) = spa {
        return spa::Target::Spa(response);
    }
    let view = match confirmed {
        Some(_) => views.post_confirm.as_ref(),
        None => views.confirm_error.as_ref(),
    };
    spa::Target::Page(spa::view_or(web, view, location))
}

/// What a confirmation link's answer adds to Flask-Security's message.
enum LinkKind {
    Fine,
    Resent(String),
    Unusable,
}

/// Where a confirmation link leads, the flash it leaves, and whether it is a success.
fn link_answer(web: &Web, outcome: ConfirmOutcome) -> (&'static str, &'static str, String, bool) {
    match outcome {
        ConfirmOutcome::Confirmed(_) => {
            let message = web.msg(messages::EMAIL_CONFIRMED, &[]);
            (web.path(Route::Login), "success", message, true)
        }
        ConfirmOutcome::AlreadyConfirmed => {
            let message = web.msg(messages::ALREADY_CONFIRMED, &[]);
            (web.path(Route::Confirm), "info", message, true)
        }
        ConfirmOutcome::ExpiredResent(email) => {
            let within = web.messages.period(web.settings().confirm_email_within);
            let args = [("email", email.as_str()), ("within", within.as_str())];
            let message = web.msg(messages::CONFIRMATION_EXPIRED, &args);
            (web.path(Route::Confirm), "error", message, false)
        }
        ConfirmOutcome::Invalid => {
            let message = web.msg(messages::INVALID_CONFIRMATION_TOKEN, &[]);
            (web.path(Route::Confirm), "error", message, false)
        }
    }
}

fn email_context(email: &str) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("form", &json!({ "email": email }));
    ctx
}
