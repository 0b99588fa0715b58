//! `GET/POST /register`.

use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::json;

use crate::messages;

use super::mount;
use crate::auth::events::LoginMethod;
use crate::auth::registration::{self, Registered, RegistrationInput};
use crate::auth::throttle::Action;
use crate::domain::{FormErrors, SafeNext};
use crate::urls::Route;
use crate::web::submission::query_param;
use crate::web::{AppError, Submission, Web};

/// Registers the registration form.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(mount::form(Route::Register, form, submit));
}

#[derive(Debug, Default, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    password_confirm: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

pub async fn form(web: Web) -> Result<HttpResponse, AppError> {
    if web.format.is_json() {
        return Ok(web.json_ok(json!({"csrf_token": web.csrf_token()})));
    }
    if web.user.is_some() {
        return Ok(crate::web::page::redirect(Route::Home.path()));
    }
    let next = query_param(&web.request, "next").unwrap_or_default();
    web.page(
        "security/register_user.html",
        form_context(&RegisterForm::default(), &next),
    )
}

pub async fn submit(web: Web, form: Submission<RegisterForm>) -> Result<HttpResponse, AppError> {
    let form = form.data;
    let settings = web.settings();
    let next_raw = form.next.clone().filter(|n| !n.is_empty());
    let next = match next_raw
        .as_deref()
        .map(|n| SafeNext::parse(n, &settings.base_url))
    {
        Some(Err(e)) => {
            let errors = FormErrors::single("next", web.describe(&e));
            return web.form_failure(
                "security/register_user.html",
                form_context(&form, ""),
                &errors,
            );
        }
        Some(Ok(next)) => Some(next),
        None => None,
    };
    let input = RegistrationInput {
        email: form.email.clone().unwrap_or_default(),
        username: form.username.clone(),
        password: form.password.clone().unwrap_or_default(),
        password_confirm: form.password_confirm.clone(),
    };
    // The form again with its errors, keeping what was typed (never the passwords).
    let refused = |errors: &FormErrors| {
        let next = next_raw.as_deref().unwrap_or_default();
        web.form_failure(
            "security/register_user.html",
            form_context(&form, next),
            errors,
        )
    };
    let valid = match registration::validate(settings, &web.messages, &input) {
        Ok(valid) => valid,
        Err(errors) => return refused(&errors),
    };
    // Counted before the (costly) hashing, and only for forms that could create an account
    // or mail its owner: someone fixing a weak password or choosing another username is not
    // held back.
    if let Some(errors) = registration::conflict_refusal(&web.services(), &valid).await? {
        return refused(&errors);
    }
    let send = super::limits::may_send_mail(&web, Action::Register, &valid.email).await?;
    let registered =
        match registration::register(&web.services(), valid, send, &web.client()).await? {
            Ok(registered) => registered,
            Err(errors) => return refused(&errors),
        };
    let features = &settings.features;
    let logs_in = !features.confirmable || features.login_without_confirmation;
    match &registered {
        Registered::Created(user) => {
            tracing::info!(
                event = "registration",
                user_id = user.id,
                ip = %crate::web::client::ip_for_log(&web.request),
                "user registered"
            );
            if logs_in {
                // No "remember me" on registration, so no cookie comes back.
                crate::web::signin::start_session(&web, user, false).await?;
                crate::web::signin::record_login(&web, user, LoginMethod::Password, None).await;
            }
        }
        Registered::ExistingNotified => {
            tracing::info!("registration for an existing email (owner notified)")
        }
    }
    let flash = features.confirmable.then(|| {
        (
            "success",
            web.msg(messages::CONFIRM_REGISTRATION, &[("email", &input.email)]),
        )
    });
    let location = next.as_ref().map_or(Route::Home.path(), |n| n.as_str());
    Ok(web.success(
        location,
        flash,
        json!({"csrf_token": web.csrf_token(), "user": {}}),
    ))
}

fn form_context(form: &RegisterForm, next: &str) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert(
        "form",
        &json!({
            "email": form.email.as_deref().unwrap_or(""),
            "username": form.username.as_deref().unwrap_or(""),
        }),
    );
    ctx.insert("next", next);
    ctx
}
