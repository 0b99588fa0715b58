//! `GET/POST /register`.

use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::json;

use crate::auth::registration::{register, RegistrationInput};
use crate::domain::{FormErrors, SafeNext};
use crate::web::submission::query_param;
use crate::web::{AppError, Submission, Web};

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
        return Ok(crate::web::page::redirect("/"));
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
            let errors = FormErrors::single("next", e.to_string());
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
    let user = match register(&web.state.db, &web.state.hasher, settings, &input).await? {
        Ok(user) => user,
        Err(errors) => {
            let next = next_raw.unwrap_or_default();
            return web.form_failure(
                "security/register_user.html",
                form_context(&form, &next),
                &errors,
            );
        }
    };
    tracing::info!(user_id = user.id, "user registered");
    let logs_in = !settings.features.confirmable || settings.features.login_without_confirmation;
    let remember_cookie = if logs_in {
        crate::routes::login::start_session(&web, &user, false).await?
    } else {
        None
    };
    let location = next.as_ref().map_or("/", |n| n.as_str());
    let mut response = web.success(
        location,
        None,
        json!({"csrf_token": web.csrf_token(), "user": {}}),
    );
    if let Some(cookie) = remember_cookie {
        response
            .add_cookie(&cookie)
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("cookie: {e}")))?;
    }
    Ok(response)
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
