//! `GET/POST /login`.

use actix_identity::Identity;
use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::{HttpMessage, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::auth::authenticate::{authenticate_detailed, LoginFailure, Refused};
use crate::auth::login::{self, LoginOptions};
use crate::auth::throttle::{self, Gate};
use crate::db::models::User;
use crate::domain::{FormErrors, SafeNext};
use crate::web::client::client_info;
use crate::web::page::add_cookie;
use crate::web::submission::{query_param, Flag};
use crate::web::{AppError, Submission, Web};

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
        return Ok(crate::web::page::redirect("/"));
    }
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
    // Only attempts that check a password are throttled (and counted).
    let gate = if identity.is_empty() || password.is_empty() {
        None
    } else {
        let subject = throttle::login_subject(
            &web.state.db,
            &settings.features,
            &settings.secret_key,
            identity,
        )
        .await?;
        Some(gate(&web, subject).await?)
    };
    let outcome = authenticate_detailed(
        &web.state.db,
        &web.state.hasher,
        &settings.features,
        identity,
        password,
    )
    .await?;
    let ip = throttle_ip(&web);
    let user = match outcome {
        Ok(user) => {
            if let Some(subject) = gate {
                throttle::record_login_success(&web.state.db, subject, ip).await?;
            }
            user
        }
        Err(refused) => {
            log_failure(&web, refused);
            let guessed = matches!(
                refused.failure,
                LoginFailure::UserNotFound | LoginFailure::InvalidPassword
            );
            if let (Some(subject), true) = (gate, guessed) {
                throttle::record_login_failure(
                    &web.state.db,
                    &settings.login_throttle,
                    subject,
                    ip,
                )
                .await?;
            }
            let errors = refused.failure.to_form_errors(
                settings.features.return_generic_responses,
                &settings.messages,
            );
            let next = next_raw.unwrap_or_default();
            return web.form_failure(
                "security/login_user.html",
                form_context(&form, &next),
                &errors,
            );
        }
    };
    let remember = form.remember.is_some_and(|f| f.0);
    let remember_cookie = start_session(&web, &user, remember).await?;
    let location = next.as_ref().map_or("/", |n| n.as_str());
    let mut response = web.success(
        location,
        None,
        json!({"csrf_token": web.csrf_token(), "tf_required": false, "user": {}}),
    );
    if let Some(cookie) = remember_cookie {
        add_cookie(&mut response, &cookie)?;
    }
    Ok(response)
}

/// The client address as throttling counts it ("-" when unknown).
pub fn throttle_ip(web: &Web) -> String {
    crate::web::client::client_ip(&web.request, web.settings().trusted_proxy_count)
        .unwrap_or_else(|| "-".to_owned())
}

/// Rules 1 and 2 of `auth::throttle` for an attempt on `subject`: the subject to count the
/// outcome under, or 429.
pub async fn gate(web: &Web, subject: String) -> Result<String, AppError> {
    let settings = web.settings();
    match throttle::check_login(
        &web.state.db,
        &settings.login_throttle,
        subject,
        throttle_ip(web),
    )
    .await?
    {
        Gate::Open { subject } => Ok(subject),
        Gate::Throttled { retry_after } => {
            tracing::warn!(
                event = "login_throttled",
                ip = %throttle_ip(web),
                retry_after = retry_after.as_secs(),
                "login refused: too many failures"
            );
            Err(AppError::TooManyAttempts { retry_after })
        }
    }
}

/// Logs `user` in: records the login, binds the (renewed) session to it, and returns the
/// remember-me cookie to set, if asked for.
pub async fn start_session(
    web: &Web,
    user: &User,
    remember: bool,
) -> Result<Option<Cookie<'static>>, AppError> {
    let settings = web.settings();
    let client = client_info(&web.request, settings.trusted_proxy_count);
    let ip = client.ip.clone();
    let options = LoginOptions {
        remember,
        remember_for: settings.remember_for,
        trackable: settings.features.trackable,
    };
    let for_user = user.clone();
    // A login replaces the one this browser had: the old id must not stay usable.
    let previous = web.user.as_ref().map(|c| c.session_id.clone());
    let new_login = web
        .state
        .db
        .run(move |conn| {
            if let Some(previous) = previous {
                login::end(conn, &previous)?;
            }
            login::create(conn, &for_user, &client, &options)
        })
        .await?;
    // Identity::login renews the session, so a session fixed before login is not reused.
    Identity::login(&web.request.extensions(), new_login.session_id.clone())
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("binding the session: {e}")))?;
    tracing::info!(
        event = "login",
        user_id = user.id,
        ip = %ip.as_deref().unwrap_or("-"),
        remember,
        "login succeeded"
    );
    Ok(new_login.remember_cookie.map(|value| {
        let lifetime = time::Duration::seconds(settings.remember_for.as_secs() as i64);
        Cookie::build(settings.remember_cookie_name(), value)
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(settings.cookie_secure)
            .max_age(lifetime)
            .expires(time::OffsetDateTime::now_utc() + lifetime)
            .finish()
    }))
}

/// Never logs what was typed: neither the password nor the identity (which may be one).
fn log_failure(web: &Web, refused: Refused) {
    let ip = crate::web::client::client_ip(&web.request, web.settings().trusted_proxy_count);
    tracing::info!(
        event = "login_failed",
        reason = ?refused.failure,
        user_id = refused.user_id,
        ip = %ip.as_deref().unwrap_or("-"),
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
