//! `GET/POST /verify`: re-authentication before sensitive changes ("freshness",
//! Flask-Security's `/verify`), and the check those changes call.

use actix_web::HttpResponse;
use chrono::NaiveDateTime;
use serde::Deserialize;
use serde_json::json;

use crate::auth::authenticate::LoginFailure;
use crate::auth::login::{self, CurrentUser};
use crate::auth::throttle;
use crate::db;
use crate::domain::{FormErrors, Password, SafeNext};
use crate::messages;
use crate::web::page::redirect;
use crate::web::submission::query_param;
use crate::web::{AppError, AuthenticatedUser, Format, Submission, Web};

const TEMPLATE: &str = "security/verify_user.html";
/// Until when a fresh visit keeps protected pages usable (unix seconds), in the browser
/// session like Flask-Security's `fs_gexp`.
const GRACE_KEY: &str = "fs_gexp";

#[derive(Debug, Default, Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

/// `None` when the login is fresh enough for a sensitive change (and the grace period is
/// extended); otherwise the answer that asks to re-authenticate: a redirect to `/verify`
/// that comes back to `return_to`, or 401 with `reauth_required` for JSON.
pub fn require_fresh(web: &Web, current: &CurrentUser, return_to: &str) -> Option<HttpResponse> {
    let policy = &web.settings().session_policy;
    let now = db::now();
    let window = policy.freshness?;
    if now - current.authenticated_at < chrono::Duration::from_std(window).ok()? {
        extend_grace(web, now);
        return None;
    }
    let grace_until = web
        .session
        .get::<i64>(GRACE_KEY)
        .ok()
        .flatten()
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.naive_utc());
    if login::is_fresh(current, policy, grace_until, now) {
        return None;
    }
    let message = web.msg(messages::REAUTHENTICATION_REQUIRED, &[]);
    Some(match web.format {
        Format::Json => HttpResponse::Unauthorized().json(json!({
            "meta": {"code": 401},
            "response": {"errors": [message], "reauth_required": true},
        })),
        Format::Html => {
            web.flash("error", message);
            redirect(&format!(
                "/verify?next={}",
                percent_encoding::utf8_percent_encode(
                    return_to,
                    percent_encoding::NON_ALPHANUMERIC
                )
            ))
        }
    })
}

fn extend_grace(web: &Web, now: NaiveDateTime) {
    let grace = chrono::Duration::from_std(web.settings().session_policy.freshness_grace)
        .unwrap_or_default();
    let _ = web
        .session
        .insert(GRACE_KEY, (now + grace).and_utc().timestamp());
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
    // A stolen session must not become a way around the login throttle.
    let subject =
        crate::routes::login::gate(&web, throttle::account_subject(current.user.id)).await?;
    let ip = crate::routes::login::throttle_ip(&web);
    let ok = web
        .state
        .hasher
        .verify(
            Password::normalize(&password),
            Some(current.user.password.clone()),
        )
        .await?;
    if !ok {
        tracing::info!(
            event = "verify_failed",
            reason = ?LoginFailure::InvalidPassword,
            user_id = current.user.id,
            ip = %ip,
            "re-authentication failed"
        );
        throttle::record_login_failure(&web.state.db, &settings.login_throttle, subject, ip)
            .await?;
        let errors = FormErrors::single("password", web.msg(messages::INVALID_PASSWORD, &[]));
        return web.form_failure(TEMPLATE, context(&next_raw), &errors);
    }
    throttle::record_login_success(&web.state.db, subject, ip).await?;
    let session_id = current.session_id.clone();
    web.state
        .db
        .run(move |conn| login::mark_verified(conn, &session_id))
        .await?;
    // A proof of the password is a privilege change: a new session cookie.
    web.session.renew();
    extend_grace(&web, db::now());
    tracing::info!(
        event = "verify",
        user_id = current.user.id,
        ip = %crate::web::client::ip_for_log(&web.request),
        "re-authenticated"
    );
    let location = next.as_ref().map_or("/", |n| n.as_str());
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
