//! `GET/POST /register`.

use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::json;

use crate::messages;

use super::mount;
use crate::auth::events::LoginMethod;
use crate::auth::registration::{self, logs_in, Registered, RegistrationInput};
use crate::domain::{FormErrors, SafeNext};
use crate::urls::{Route, Urls};
use crate::web::check_email::{self, Sent};
use crate::web::signin;
use crate::web::submission::query_param;
use crate::web::{AppError, Submission, Web};

const REGISTER: &str = "security/register_user.html";

/// Mounts `/register`.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig, urls: Urls) {
    cfg.service(mount::form(urls.path(Route::Register), form, submit));
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

impl RegisterForm {
    /// What the registration rules check.
    fn input(&self) -> RegistrationInput {
        RegistrationInput {
            email: self.email.clone().unwrap_or_default(),
            username: self.username.clone(),
            password: self.password.clone().unwrap_or_default(),
            password_confirm: self.password_confirm.clone(),
        }
    }
}

pub async fn form(web: Web) -> Result<HttpResponse, AppError> {
    if web.format.is_json() {
        return Ok(web.json_ok(json!({"csrf_token": web.csrf_token()})));
    }
    if web.user.is_some() {
        return Ok(crate::web::page::redirect(web.path(Route::Home)));
    }
    let next = query_param(&web.request, "next").unwrap_or_default();
    web.page(REGISTER, form_context(&RegisterForm::default(), &next))
}

pub async fn submit(web: Web, form: Submission<RegisterForm>) -> Result<HttpResponse, AppError> {
    let form = form.data;
    let next_raw = form.next.clone().filter(|n| !n.is_empty());
    // The form again with its errors, keeping what was typed (never the passwords).
    let refused = |next: &str, errors: &FormErrors| {
        web.form_failure(REGISTER, form_context(&form, next), errors)
    };
    let next = match next_raw
        .as_deref()
        .map(|n| SafeNext::parse_with(n, &web.settings().base_url, &web.settings().spa))
    {
        Some(Err(e)) => return refused("", &FormErrors::single("next", web.describe(&e))),
        Some(Ok(next)) => Some(next),
        None => None,
    };
    let input = form.input();
    let (services, client, origin) = (web.services(), signin::client_key(&web), web.client());
    let registered = registration::register_from_form(&services, &input, client, &origin);
    let registered = match registered.await? {
        Ok(registered) => registered,
        Err(errors) => return refused(next_raw.as_deref().unwrap_or_default(), &errors),
    };
    if let (Registered::Created(user), true) = (&registered, logs_in(web.settings())) {
        // No "remember me" on registration, so no cookie comes back.
        signin::sign_in_directly(&web, user, LoginMethod::Password).await?;
    }
    let flash = web.settings().features.confirmable.then(|| {
        let email = [("email", input.email.as_str())];
        ("success", web.msg(messages::CONFIRM_REGISTRATION, &email))
    });
    if flash.is_some() && !web.format.is_json() {
        check_email::queue(&web.session, web.urls(), Sent::Registered, &input.email);
    }
    let views = &web.settings().spa.views;
    let view = views.post_register.as_ref().or(views.post_login.as_ref());
    let then = crate::web::spa::view_or(&web, view, web.path(Route::Home));
    let location = next.as_ref().map_or(then.as_str(), |n| n.as_str());
    let json = json!({"csrf_token": web.csrf_token(), "user": {}});
    Ok(web.success(location, flash, json))
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
