//! The login state machine's steps ([`crate::auth::signin`]) as answers: a completed
//! sign-in binds the renewed session to its login, gives it a new CSRF token and sets its
//! cookies; a pending login is held in the browser's encrypted session and the answer asks
//! for its second factor. Also what the machine reads from a request ([`browser`]) and the
//! client key the throttle counts an address under. No decision is made here.

use std::time::Duration;

use actix_identity::Identity;
use actix_web::cookie::Cookie;
use actix_web::{HttpMessage, HttpResponse};
use serde_json::json;

use super::cookies;
use super::error::AppError;
use super::format::Format;
use super::page::add_cookie;
use super::page::Web;
use super::pending;
use crate::auth::authenticate::Attempt;
use crate::auth::events::LoginMethod;
use crate::auth::signin::PASSKEY_METHOD;
use crate::auth::signin::{
    self as auth_signin, Browser, PendingLogin, SignedIn, Step, Waiting, Wants,
};
use crate::db::models::User;
use crate::urls::Route;

/// The client address as the throttle counts it: IPv6 by its /64 ("-" when unknown).
pub fn client_key(web: &Web) -> String {
    let ip = super::client::client_ip(&web.request, web.settings().trusted_proxy_count);
    crate::auth::throttle::client_key(ip.as_deref().unwrap_or("-"))
}

/// The answer to a throttled credential check: 429 with `Retry-After`, logged.
pub fn throttled(web: &Web, event: &'static str, retry_after: Duration) -> AppError {
    tracing::warn!(
        event,
        ip = %client_key(web),
        retry_after = retry_after.as_secs(),
        "refused: too many failures"
    );
    AppError::TooManyAttempts { retry_after }
}

/// What this request brings to a login (its client, the login it holds now, the
/// "remember this device" cookie, whether it asked for an API token).
pub fn browser(web: &Web) -> Browser {
    Browser {
        client: web.client(),
        current_login: web.user.as_ref().map(|c| c.session_id.clone()),
        remembered_device: web
            .request
            .cookie(&web.settings().two_factor.validity_cookie.name)
            .map(|c| c.value().to_owned()),
        wants_token: super::submission::query_param(&web.request, "include_auth_token").is_some(),
    }
}

/// The answer to a step of the login state machine: a completed sign-in (the session bound
/// to it, its cookies, Flask-Security's JSON), or the second factor it waits for. `extra`:
/// more keys for a completed sign-in's JSON answer.
pub fn render(web: &Web, step: Step, extra: serde_json::Value) -> Result<HttpResponse, AppError> {
    match step {
        Step::SignedIn(signed_in) => Ok(signed_in_answer(web, *signed_in, extra)?),
        Step::SecondFactor(waiting) => ask_second_factor(web, *waiting),
        Step::Used => {
            pending::forget(web);
            Err(AppError::Unauthenticated {
                login_url: web.path(Route::Login).to_owned(),
            })
        }
    }
}

/// The answer to one sign-in attempt: its step rendered ([`render`]), a throttled attempt
/// as 429 (logged as `throttled_event`), a refusal as `refused` words it.
pub fn answer<R>(
    web: &Web,
    outcome: Attempt<Step, R>,
    throttled_event: &'static str,
    extra: serde_json::Value,
    refused: impl FnOnce(R) -> Result<HttpResponse, AppError>,
) -> Result<HttpResponse, AppError> {
    match outcome {
        Attempt::Proved(step) => render(web, step, extra),
        Attempt::Refused(reason) => refused(reason),
        Attempt::Throttled { retry_after } => Err(throttled(web, throttled_event, retry_after)),
    }
}

/// Completes `pending` with a second factor just set up (a login that had to set one up
/// first: the setup's code proved the new factor).
pub async fn complete_with_new_factor(
    web: &Web,
    pending: &PendingLogin,
    user: &User,
    second_factor: &str,
) -> Result<HttpResponse, AppError> {
    let services = web.services();
    let step = auth_signin::second_factor_proved(
        &services,
        &browser(web),
        pending,
        user,
        second_factor,
        false,
    )
    .await?;
    render(web, step, json!({}))
}

/// Logs `user` in again after a change that renewed their login (a password, an email):
/// the login row, the renewed session, and the remember-me cookie to set, if asked for.
pub async fn start_session(
    web: &Web,
    user: &User,
    remember: bool,
) -> Result<Option<Cookie<'static>>, AppError> {
    let signed_in = auth_signin::renew(&web.services(), &browser(web), user, remember).await?;
    bind(web, &signed_in)
}

/// Logs `user` in without a factor of its own (the request proved one in another way:
/// registration, a passkey signed up), as any login; the remember-me cookie to set.
pub async fn sign_in_directly(
    web: &Web,
    user: &User,
    method: LoginMethod,
) -> Result<Option<Cookie<'static>>, AppError> {
    let services = web.services();
    let signed_in = auth_signin::sign_in_directly(&services, &browser(web), user, method).await?;
    bind(web, &signed_in)
}

/// Binds the renewed session to a login that just started: Identity::login renews the
/// session, so a session fixed before login is not reused; a CSRF token planted in or read
/// from the anonymous session is worthless from here on. The remember-me cookie to set.
fn bind(web: &Web, signed_in: &SignedIn) -> Result<Option<Cookie<'static>>, AppError> {
    Identity::login(&web.request.extensions(), signed_in.login_id.clone())
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("binding the session: {e}")))?;
    super::csrf::rotate(&web.session);
    pending::forget(web);
    Ok(signed_in
        .remember_cookie
        .clone()
        .map(|value| cookies::remember(web, value)))
}

/// A completed sign-in: after a first factor `{csrf_token, tf_required: false, user}` (and
/// `extra`), after a second `{csrf_token, user}` with its flash and the `tf_validity`
/// cookie when the device is remembered; HTML goes on to `next`.
fn signed_in_answer(
    web: &Web,
    signed_in: SignedIn,
    extra: serde_json::Value,
) -> Result<HttpResponse, AppError> {
    let remember = bind(web, &signed_in)?;
    let (user_fields, refresh) = match signed_in.tokens {
        Some(issued) => cookies::token_answer(web, issued),
        None => (json!({}), None),
    };
    let home = web.path(Route::Home);
    let post_login = super::spa::view_or(web, web.settings().spa.views.post_login.as_ref(), home);
    let location = signed_in.next.as_deref().unwrap_or(&post_login);
    let mut response = match signed_in.second_factor {
        None => {
            let mut body =
                json!({"csrf_token": web.csrf_token(), "tf_required": false, "user": user_fields});
            if let (Some(body), serde_json::Value::Object(extra)) = (body.as_object_mut(), extra) {
                body.extend(extra);
            }
            web.success(location, None, body)
        }
        Some(_) => web.success(
            location,
            Some((
                "success",
                web.msg(crate::messages::TWO_FACTOR_LOGIN_SUCCESSFUL, &[]),
            )),
            json!({"csrf_token": web.csrf_token(), "user": user_fields}),
        ),
    };
    let device = signed_in
        .device_token
        .map(|value| cookies::remembered_device(web, value));
    for cookie in [remember, refresh, device].into_iter().flatten() {
        add_cookie(&mut response, &cookie)?;
    }
    Ok(response)
}

/// A pending login held in this browser (a privilege change: a new session cookie), and
/// the answer that asks for its second factor.
fn ask_second_factor(web: &Web, waiting: Waiting) -> Result<HttpResponse, AppError> {
    web.session.renew();
    pending::hold(web, &waiting.pending)?;
    let method = waiting.wants.method();
    let next = waiting.pending.next.as_deref();
    Ok(match (web.format, &waiting.wants) {
        (Format::Json, Wants::Passkey) => web.json_ok(json!({
            "csrf_token": web.csrf_token(),
            "tf_required": true,
            "tf_state": "ready",
            "tf_method": PASSKEY_METHOD,
            "tf_signin_url": web.path(Route::WanSignin),
        })),
        (Format::Json, _) => web.json_ok(json!({
            "csrf_token": web.csrf_token(),
            "tf_required": true,
            "tf_state": if method.is_none() { "setup_from_login" } else { "ready" },
            "tf_method": method,
            "tf_primary_method": method,
        })),
        (Format::Html, Wants::Passkey) => {
            super::page::redirect(&web.urls().with_next(Route::WanSignin, next))
        }
        (Format::Html, Wants::SetUp) => super::page::redirect(web.path(Route::TfSetup)),
        (Format::Html, Wants::Code(_)) => super::page::redirect(web.path(Route::TfValidate)),
    })
}
