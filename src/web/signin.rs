//! Starting a login in the browser once the rules have proved who it is: the login row, the
//! renewed session bound to it, a new CSRF token, the remember-me cookie. Also the client
//! key the throttle counts an address under. Every handler that logs someone in (login,
//! registration, password change) goes through [`start_session`].

use std::time::Duration;

use actix_identity::Identity;
use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::{HttpMessage, HttpResponse};
use serde_json::json;

use super::client::client_info;
use super::error::AppError;
use super::format::Format;
use super::page::add_cookie;
use super::page::Web;
use crate::auth::events::{LoginMethod, SecurityEvent};
use crate::auth::login::{self, LoginOptions};
use crate::auth::login_flow::PendingLogin;
use crate::auth::two_factor;
use crate::config::TwoFactorMethod;
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

/// Logs `user` in: records the login, binds the renewed session to it, gives the session a
/// new CSRF token, and returns the remember-me cookie to set, if asked for.
pub async fn start_session(
    web: &Web,
    user: &User,
    remember: bool,
) -> Result<Option<Cookie<'static>>, AppError> {
    Ok(start_login(web, user, remember).await?.remember_cookie)
}

/// A login just started: its id, and the remember-me cookie to set, if asked for.
pub struct Started {
    pub login_id: String,
    pub remember_cookie: Option<Cookie<'static>>,
}

/// [`start_session`], also giving the new login's id (an API token is bound to it).
pub async fn start_login(web: &Web, user: &User, remember: bool) -> Result<Started, AppError> {
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
            if let Some(previous) = previous.filter(|p| !p.is_empty()) {
                // As a sign-out of that login: its tokens and refresh families end too.
                let scope = crate::auth::lifecycle::Scope {
                    login: Some(previous),
                    ..crate::auth::lifecycle::Scope::user(for_user.id)
                };
                crate::auth::lifecycle::apply(
                    conn,
                    crate::auth::lifecycle::Event::SignOutThis,
                    &scope,
                )?;
            }
            login::create(conn, &for_user, &client, &options)
        })
        .await?;
    // Identity::login renews the session, so a session fixed before login is not reused;
    // a token planted in or read from the anonymous session is worthless from here on.
    Identity::login(&web.request.extensions(), new_login.session_id.clone())
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("binding the session: {e}")))?;
    super::csrf::rotate(&web.session);
    drop_pending(web);
    tracing::info!(
        event = "login",
        user_id = user.id,
        ip = %ip.as_deref().unwrap_or("-"),
        remember,
        "login succeeded"
    );
    let remember_cookie = new_login.remember_cookie.map(|value| {
        let lifetime = time::Duration::seconds(settings.remember_for.as_secs() as i64);
        Cookie::build(settings.remember_cookie_name(), value)
            .path(crate::urls::ROOT)
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(settings.cookie_secure)
            .max_age(lifetime)
            .expires(time::OffsetDateTime::now_utc() + lifetime)
            .finish()
    });
    Ok(Started {
        login_id: new_login.session_id,
        remember_cookie,
    })
}

/// The `user` object of a login's JSON answer: empty, or, when the client asked with
/// `?include_auth_token` and tokens are enabled, Flask-Security's `authentication_token`
/// (and `refresh_token` when refresh tokens travel in the body). A refresh token in a
/// cookie comes back as the cookie to set.
pub async fn login_user_fields(
    web: &Web,
    user: &User,
    login_id: &str,
) -> Result<(serde_json::Value, Option<Cookie<'static>>), AppError> {
    let settings = &web.settings().api_tokens;
    let asked = super::submission::query_param(&web.request, "include_auth_token").is_some();
    if !asked || !settings.enabled {
        return Ok((json!({}), None));
    }
    let client = client_info(&web.request, web.settings().trusted_proxy_count);
    let issued =
        crate::auth::api_tokens::issue_at_login(&web.state.services, user, login_id, &client)
            .await?;
    tracing::info!(
        event = "token_issued",
        user_id = user.id,
        refresh = issued.refresh_token.is_some(),
        "API token issued at login"
    );
    web.emit(
        SecurityEvent::TokenIssued {
            kind: "auth".to_owned(),
            label: issued
                .refresh_token
                .is_some()
                .then(|| "with refresh".to_owned()),
        },
        Some(user.id),
    );
    Ok(token_answer(web, issued))
}

/// Flask-Security's token fields, and the refresh cookie when refresh tokens travel in one.
pub fn token_answer(
    web: &Web,
    issued: crate::auth::api_tokens::Issued,
) -> (serde_json::Value, Option<Cookie<'static>>) {
    let settings = &web.settings().api_tokens;
    let mut fields = json!({ "authentication_token": issued.authentication_token });
    let mut cookie = None;
    if let Some(refresh) = issued.refresh_token {
        match &settings.refresh_cookie_name {
            Some(name) => cookie = Some(refresh_cookie(web, name, refresh)),
            None => fields["refresh_token"] = json!(refresh),
        }
    }
    (fields, cookie)
}

/// The refresh-token cookie (Flask-Security's defaults: HttpOnly, SameSite=Strict; Secure
/// as the other cookies), lasting as long as a family may.
pub fn refresh_cookie(web: &Web, name: &str, value: String) -> Cookie<'static> {
    let settings = web.settings();
    let lifetime = time::Duration::seconds(settings.api_tokens.refresh_max_age.as_secs() as i64);
    Cookie::build(name.to_owned(), value)
        .path(crate::urls::ROOT)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(settings.cookie_secure)
        .max_age(lifetime)
        .finish()
}

/// What follows every completed login (after [`start_session`]): the new-device notice
/// when the device and address are new to the account (queued in the outbox, see
/// [`crate::auth::notices`]), then the `login_succeeded` event. The check reads the login
/// history before this login is added to it. A failed check is logged, never the login's
/// failure.
pub async fn record_login(
    web: &Web,
    user: &User,
    method: LoginMethod,
    second_factor: Option<&str>,
) {
    let client = web.client();
    let services = web.state.services.clone();
    let (for_user, for_client) = (user.clone(), client.clone());
    let checked = web
        .state
        .db
        .run_with(move |conn| {
            crate::auth::notices::check_new_device(conn, &services, &for_user, &for_client)
        })
        .await;
    if let Err(e) = checked {
        tracing::error!(user_id = user.id, error = %e, "new-device check failed");
    }
    web.state.events.emit(
        SecurityEvent::LoginSucceeded {
            method,
            second_factor: second_factor.map(str::to_owned),
        },
        Some(user.id),
        &client,
    );
}

/// Where a [`PendingLogin`] waits for its second factor: the browser's encrypted session,
/// under a key of its own that nothing deciding who is logged in ever reads.
pub const PENDING_LOGIN_KEY: &str = "_pending_login";

/// Keeps a login whose first factor is proved in this browser until its second factor.
pub fn hold_pending(web: &Web, pending: &PendingLogin) -> Result<(), AppError> {
    web.session
        .insert(PENDING_LOGIN_KEY, pending)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("keeping the pending login: {e}")))
}

/// Forgets this browser's pending login (a key absent stays absent: no session write).
pub fn drop_pending(web: &Web) {
    if web.session.contains_key(PENDING_LOGIN_KEY) {
        web.session.remove(PENDING_LOGIN_KEY);
    }
}

/// This browser's pending login, unchecked (see [`PendingLogin::resume`]).
pub fn pending(web: &Web) -> Option<PendingLogin> {
    web.session.get(PENDING_LOGIN_KEY).ok().flatten()
}

/// The `tf_validity` cookie: a browser that passed the second factor skips it for
/// `SECURITY_TWO_FACTOR_LOGIN_VALIDITY` (only with `SECURITY_TWO_FACTOR_ALWAYS_VALIDATE=false`).
pub const TF_VALIDITY_COOKIE: &str = "tf_validity";

/// What follows a proved first factor (a password, a passkey, a mailed code): the login
/// itself, or, for a user with a second factor (or one who must set one up), a pending
/// login held in this browser and the answer that asks for the code. Every way in goes
/// through here, so no first factor skips the second.
pub async fn finish_first_factor(
    web: &Web,
    user: &User,
    method: LoginMethod,
    remember: bool,
    next: Option<&str>,
) -> Result<HttpResponse, AppError> {
    finish_first_factor_with(web, user, method, remember, next, false, json!({})).await
}

/// [`finish_first_factor`], for a first factor that may count as both
/// (`proves_both`: a passkey that verified its user, where
/// `SECURITY_WAN_ALLOW_AS_MULTI_FACTOR` allows it), with `extra` keys in the JSON answer.
#[allow(clippy::too_many_arguments)]
pub async fn finish_first_factor_with(
    web: &Web,
    user: &User,
    first_factor: LoginMethod,
    remember: bool,
    next: Option<&str>,
    proves_both: bool,
    extra: serde_json::Value,
) -> Result<HttpResponse, AppError> {
    let services = &web.services();
    let tf = &web.settings().two_factor;
    if !proves_both {
        // Second factors: the configured code method, and a passkey registered as one.
        let method = if tf.enabled {
            two_factor::primary_method(user)
        } else {
            None
        };
        let passkey = crate::auth::passkeys::has_second_factor(services, user).await?;
        let must_set_up = tf.enabled
            && method.is_none()
            && !passkey
            && two_factor::setup_required(services, user).await?;
        let remembered = !tf.always_validate
            && web.request.cookie(TF_VALIDITY_COOKIE).is_some_and(|c| {
                two_factor::validity_accepts(services, user, c.value(), two_factor::unix_now())
            });
        let has_second = method.is_some() || passkey;
        if (has_second && !remembered) || must_set_up {
            let asked = match method {
                Some(method) => SecondFactor::Code(method),
                None if passkey => SecondFactor::Passkey,
                None => SecondFactor::SetUp,
            };
            return ask_for_second_factor(web, user, first_factor, asked, remember, next).await;
        }
    }
    let started = start_login(web, user, remember).await?;
    record_login(web, user, first_factor, None).await;
    let (user_fields, refresh) = login_user_fields(web, user, &started.login_id).await?;
    let mut body =
        json!({"csrf_token": web.csrf_token(), "tf_required": false, "user": user_fields});
    if let (Some(body), serde_json::Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    let mut response = web.success(next.unwrap_or(Route::Home.path()), None, body);
    for cookie in [started.remember_cookie, refresh].into_iter().flatten() {
        add_cookie(&mut response, &cookie)?;
    }
    Ok(response)
}

/// The second step a pending login asks for.
enum SecondFactor {
    /// A code (mailed, texted, or from the authenticator app); an unknown stored method is
    /// still asked for (recovery codes or the rescue are then the way in).
    Code(Result<TwoFactorMethod, String>),
    /// A passkey registered as a second factor (`/wan-signin`).
    Passkey,
    /// None set up yet, but one is required.
    SetUp,
}

async fn ask_for_second_factor(
    web: &Web,
    user: &User,
    method: LoginMethod,
    asked: SecondFactor,
    remember: bool,
    next: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let services = &web.services();
    let now = two_factor::unix_now();
    let mut pending = PendingLogin::new(user, remember, next.map(str::to_owned), now);
    pending.first_factor = Some(method);
    let method_name = match &asked {
        SecondFactor::Code(Ok(m)) => {
            // Past the sending budget nothing is sent; the answer is the same.
            pending.sent_code =
                two_factor::send_code(services, user, *m, now, &client_key(web)).await?;
            Some(m.as_str().to_owned())
        }
        SecondFactor::Code(Err(unknown)) => Some(unknown.clone()),
        SecondFactor::Passkey => Some(PASSKEY_METHOD.to_owned()),
        SecondFactor::SetUp => None,
    };
    pending.method = method_name.clone();
    // A privilege change: a new session cookie, holding the pending login.
    web.session.renew();
    hold_pending(web, &pending)?;
    tracing::info!(
        event = "second_factor_required",
        user_id = user.id,
        method = method_name.as_deref().unwrap_or("setup"),
        "first factor proved, second factor pending"
    );
    Ok(match (web.format, &asked) {
        (Format::Json, SecondFactor::Passkey) => web.json_ok(json!({
            "csrf_token": web.csrf_token(),
            "tf_required": true,
            "tf_state": "ready",
            "tf_method": PASSKEY_METHOD,
            "tf_signin_url": Route::WanSignin.path(),
        })),
        (Format::Json, _) => web.json_ok(json!({
            "csrf_token": web.csrf_token(),
            "tf_required": true,
            "tf_state": if method_name.is_none() { "setup_from_login" } else { "ready" },
            "tf_method": method_name,
            "tf_primary_method": method_name,
        })),
        (Format::Html, SecondFactor::Passkey) => super::page::redirect(&match next {
            Some(next) => format!(
                "{}?next={}",
                Route::WanSignin.path(),
                percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
            ),
            None => Route::WanSignin.path().to_owned(),
        }),
        (Format::Html, SecondFactor::SetUp) => super::page::redirect(Route::TfSetup.path()),
        (Format::Html, SecondFactor::Code(_)) => super::page::redirect(Route::TfValidate.path()),
    })
}

/// Flask-Security's name for a passkey as the second factor (`tf_method`).
pub const PASSKEY_METHOD: &str = "webauthn";

/// The pending login of this browser and its user, if it is still good (unexpired, same
/// account state); a stale one is removed.
pub async fn pending_user(web: &Web) -> Result<Option<(PendingLogin, User)>, AppError> {
    let Some(pending) = pending(web) else {
        return Ok(None);
    };
    let within = web.settings().two_factor.login_within;
    match pending
        .resume(&web.services(), two_factor::unix_now(), within)
        .await?
    {
        Some(user) => Ok(Some((pending, user))),
        None => {
            drop_pending(web);
            Ok(None)
        }
    }
}

/// Ends a pending login with its second factor proved (`second_factor`: `email`,
/// `authenticator`, `sms`, `webauthn`, `recovery_code`): the login itself, the remembered
/// device when asked for, and the answer (JSON `{user: {}}`, or a redirect to `next`).
pub async fn complete_second_factor(
    web: &Web,
    pending: &PendingLogin,
    user: &User,
    second_factor: &str,
    remember_device: bool,
) -> Result<HttpResponse, AppError> {
    // A pending login completes once, whatever copies of its cookie exist.
    if !pending.consume(&web.services()).await? {
        drop_pending(web);
        return Err(AppError::Unauthenticated {
            login_url: Route::Login.path().to_owned(),
        });
    }
    let started = start_login(web, user, pending.remember).await?;
    let method = pending.first_factor.unwrap_or(LoginMethod::Password);
    record_login(web, user, method, Some(second_factor)).await;
    let (user_fields, refresh) = login_user_fields(web, user, &started.login_id).await?;
    let location = pending.next.as_deref().unwrap_or(Route::Home.path());
    let mut response = web.success(
        location,
        Some((
            "success",
            web.msg(crate::messages::TWO_FACTOR_LOGIN_SUCCESSFUL, &[]),
        )),
        json!({"csrf_token": web.csrf_token(), "user": user_fields}),
    );
    for cookie in [started.remember_cookie, refresh].into_iter().flatten() {
        add_cookie(&mut response, &cookie)?;
    }
    let tf = &web.settings().two_factor;
    if remember_device && !tf.always_validate {
        let lifetime = time::Duration::seconds(tf.login_validity.as_secs() as i64);
        let until = two_factor::unix_now() + tf.login_validity.as_secs() as i64;
        let value = two_factor::validity_token(&web.services(), user, until);
        let cookie = Cookie::build(TF_VALIDITY_COOKIE, value)
            .path(crate::urls::ROOT)
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(web.settings().cookie_secure)
            .max_age(lifetime)
            .finish();
        add_cookie(&mut response, &cookie)?;
    }
    Ok(response)
}
