//! Passkeys (`SECURITY_WEBAUTHN`): `/wan-register`, `/wan-register/<state>`, `/wan-delete`,
//! `/wan-signin`, `/wan-signin/<state>`, `/wan-verify`, `/wan-verify/<state>`, with
//! Flask-Security's fields and JSON shapes; and Latchkey's sign-up with a passkey,
//! `/wan-signup`, `/wan-signup/<state>` (`SECURITY_WAN_REGISTER_WITHOUT_PASSWORD`). The
//! rules are [`crate::auth::passkeys`].
//!
//! Every ceremony is bound to this browser's session by a value kept in it
//! (`session_binding`): the `wan_state` token alone finishes nothing.

use actix_web::{web as aweb, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::authenticate::Attempt;
use crate::auth::events::LoginMethod;
use crate::auth::passkeys::signup::{self, SignedUp};
use crate::auth::passkeys::{self, Begun, Purpose, Refusal};
use crate::auth::signin::factors::{self, PasskeyAnswer};
use crate::auth::signin::Asked;
use crate::auth::throttle::Action;
use crate::db::models::{Passkey, User};
use crate::domain::{Email, FormErrors};
use crate::messages;
use crate::web::guards::{mark_reauthenticated, require_fresh};
use crate::web::page::{add_cookie, redirect};
use crate::web::signin;
use crate::web::submission::{query_param, Flag};
use crate::web::{AppError, AuthenticatedUser, Format, Submission, Web};

use super::limits::may_send_mail;
use super::mount;
use crate::urls::{Route, Urls};

/// Registers passkey registration, deletion, sign-in and verification (other methods on the
/// finishing paths are 404).
pub fn routes(cfg: &mut aweb::ServiceConfig, urls: Urls) {
    cfg.service(mount::form(
        urls.path(Route::WanRegister),
        register_form,
        register_begin,
    ))
    .route(
        urls.path(Route::WanRegisterState),
        aweb::post().to(register_finish),
    )
    .service(mount::post(urls.path(Route::WanDelete), delete))
    .service(mount::form(
        urls.path(Route::WanSignin),
        signin_form,
        signin_begin,
    ))
    .route(
        urls.path(Route::WanSigninState),
        aweb::post().to(signin_finish),
    )
    .service(mount::form(
        urls.path(Route::WanVerify),
        verify_form,
        verify_begin,
    ))
    .route(
        urls.path(Route::WanVerifyState),
        aweb::post().to(verify_finish),
    );
}

/// Registers signing up with a passkey.
pub fn signup_routes(cfg: &mut aweb::ServiceConfig, urls: Urls) {
    cfg.service(mount::form(
        urls.path(Route::WanSignup),
        signup_form,
        signup_begin,
    ))
    .route(
        urls.path(Route::WanSignupState),
        aweb::post().to(signup_finish),
    );
}

const REGISTER: &str = "security/wan_register.html";
const SIGNIN: &str = "security/wan_signin.html";
const VERIFY: &str = "security/wan_verify.html";
const SIGNUP: &str = "security/wan_signup.html";

/// The session key of the value that binds ceremonies to this browser.
const BINDING_KEY: &str = "_wan_binding";

#[derive(Debug, Default, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    usage: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CredentialForm {
    #[serde(default)]
    credential: Option<String>,
    #[serde(default)]
    remember: Option<Flag>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SigninForm {
    #[serde(default)]
    identity: Option<String>,
    #[serde(default)]
    remember: Option<Flag>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// This browser's ceremony binding, made on first use.
fn session_binding(web: &Web) -> Result<String, AppError> {
    if let Some(binding) = web.session.get::<String>(BINDING_KEY).ok().flatten() {
        return Ok(binding);
    }
    let binding = passkeys::new_session_binding();
    web.session
        .insert(BINDING_KEY, &binding)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("keeping the passkey binding: {e}")))?;
    Ok(binding)
}

/// A begun ceremony: Flask-Security's JSON (`credential_options`, `wan_state` and `extra`),
/// or the page that runs `navigator.credentials` with them.
fn ceremony_page(
    web: &Web,
    template: &str,
    begun: &Begun,
    extra: Value,
    mut ctx: tera::Context,
) -> Result<HttpResponse, AppError> {
    if web.format.is_json() {
        let mut body = json!({
            "csrf_token": web.csrf_token(),
            "credential_options": begun.options,
            "wan_state": begun.state_token,
        });
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        return Ok(web.json_ok(body));
    }
    ctx.insert("wan_state", &begun.state_token);
    ctx.insert("credential_options", &begun.options.to_string());
    web.page(template, ctx)
}

/// A refused step: the form's 400 JSON, or (the page's script posts on its own) a flash and
/// back to `back_to`.
fn refused(web: &Web, refusal: &Refusal, back_to: &str) -> HttpResponse {
    let errors = refusal.to_form_errors(&web.messages);
    refused_with(web, &errors, back_to)
}

fn refused_with(web: &Web, errors: &FormErrors, back_to: &str) -> HttpResponse {
    match web.format {
        Format::Json => HttpResponse::BadRequest().json(json!({
            "meta": {"code": 400},
            "response": {"errors": errors.all_messages(), "field_errors": errors.fields},
        })),
        Format::Html => {
            for message in errors.all_messages() {
                web.flash("error", message);
            }
            redirect(back_to)
        }
    }
}

/// A passkey as `GET /wan-register` lists it (Flask-Security's keys, plus `created`).
fn passkey_view(row: &Passkey) -> Value {
    let discoverable = row
        .extensions
        .as_deref()
        .and_then(|e| serde_json::from_str::<Value>(e).ok())
        .and_then(|e| e.pointer("/credProps/rk").cloned())
        .filter(|rk| !rk.is_null())
        .unwrap_or_else(|| json!("Unknown"));
    json!({
        "name": row.name,
        "credential_id": base64_url(&row.credential_id),
        "transports": row
            .transports
            .as_deref()
            .map(|t| t.split(',').filter(|s| !s.is_empty()).collect::<Vec<_>>())
            .unwrap_or_default(),
        "lastuse": crate::times::iso_naive(row.lastuse_datetime),
        "created": crate::times::iso_naive(row.create_datetime),
        // Never used since it was added: its last use is its creation.
        "used": row.lastuse_datetime > row.create_datetime,
        "usage": row.usage,
        "backup_state": row.backup_state,
        "device_type": row.device_type,
        "discoverable": discoverable,
    })
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn register_context(web: &Web, listed: &[Value]) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("registered_credentials", listed);
    ctx.insert(
        "wan_allow_first",
        &web.settings().webauthn.allow_as_first_factor,
    );
    ctx
}

// ---------------------------------------------------------------------------------------
// Registering and deleting (a logged-in user)
// ---------------------------------------------------------------------------------------

/// `GET /wan-register`: the user's passkeys, and the form to add one.
pub async fn register_form(web: Web, current: AuthenticatedUser) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) = require_fresh(&web, &current.0, web.path(Route::WanRegister)) {
        return Ok(reauthenticate);
    }
    let rows = passkeys::list(&web.services(), &current.0.user).await?;
    let listed: Vec<Value> = rows.iter().map(passkey_view).collect();
    if web.format.is_json() {
        return Ok(web.json_ok(json!({
            "csrf_token": web.csrf_token(),
            "registered_credentials": listed,
        })));
    }
    web.page(REGISTER, register_context(&web, &listed))
}

/// `POST /wan-register` (`name`, `usage`): begins adding a passkey.
pub async fn register_begin(
    web: Web,
    current: AuthenticatedUser,
    form: Submission<RegisterForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) = require_fresh(&web, &current.0, web.path(Route::WanRegister)) {
        return Ok(reauthenticate);
    }
    let user = &current.0.user;
    let binding = session_binding(&web)?;
    let name = form.data.name.unwrap_or_default();
    let begun = passkeys::begin_registration(
        &web.services(),
        user,
        &name,
        form.data.usage.as_deref(),
        &binding,
    )
    .await?;
    match begun {
        Ok(begun) => {
            let mut ctx = register_context(&web, &[]);
            ctx.insert("name", &name);
            ceremony_page(&web, REGISTER, &begun, json!({}), ctx)
        }
        Err(refusal) => {
            let rows = passkeys::list(&web.services(), user).await?;
            let listed: Vec<Value> = rows.iter().map(passkey_view).collect();
            let errors = refusal.to_form_errors(&web.messages);
            web.form_failure(REGISTER, register_context(&web, &listed), &errors)
        }
    }
}

/// `POST /wan-register/<state>` (`credential`): the authenticator's answer; the passkey is
/// stored.
pub async fn register_finish(
    web: Web,
    current: AuthenticatedUser,
    token: aweb::Path<String>,
    form: Submission<CredentialForm>,
) -> Result<HttpResponse, AppError> {
    let user = &current.0.user;
    let binding = session_binding(&web)?;
    let credential = form.data.credential.unwrap_or_default();
    let (services, client) = (web.services(), web.client());
    let finished =
        passkeys::finish_registration(&services, user, &token, &binding, &credential, &client);
    match finished.await? {
        Ok(name) => Ok(web.success(
            web.settings()
                .webauthn
                .post_register_view
                .as_deref()
                .unwrap_or(web.path(Route::WanRegister)),
            Some((
                "info",
                web.msg(messages::WEBAUTHN_REGISTER_SUCCESSFUL, &[("name", &name)]),
            )),
            json!({"csrf_token": web.csrf_token()}),
        )),
        Err(refusal) => Ok(refused(&web, &refusal, web.path(Route::WanRegister))),
    }
}

/// `POST /wan-delete` (`name`).
pub async fn delete(
    web: Web,
    current: AuthenticatedUser,
    form: Submission<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) = require_fresh(&web, &current.0, web.path(Route::WanRegister)) {
        return Ok(reauthenticate);
    }
    let user = &current.0.user;
    let name = form.data.name.unwrap_or_default();
    let (services, client) = (web.services(), web.client());
    match passkeys::delete(&services, user, &name, &client).await? {
        Ok(name) => Ok(web.success(
            web.path(Route::WanRegister),
            Some((
                "info",
                web.msg(messages::WEBAUTHN_CREDENTIAL_DELETED, &[("name", &name)]),
            )),
            json!({"csrf_token": web.csrf_token()}),
        )),
        Err(refusal) => Ok(refused(&web, &refusal, web.path(Route::WanRegister))),
    }
}

// ---------------------------------------------------------------------------------------
// Signing in (first factor, or the second after the password)
// ---------------------------------------------------------------------------------------

/// A login waiting for its passkey: the pending login's user, if this browser has one and
/// that user has a second-factor passkey.
async fn second_factor_login(
    web: &Web,
) -> Result<Option<(crate::auth::signin::PendingLogin, User)>, AppError> {
    let Some((pending, user)) = crate::web::pending::held_with_user(web).await? else {
        return Ok(None);
    };
    if pending.method.is_none() || !passkeys::has_second_factor(&web.services(), &user).await? {
        return Ok(None);
    }
    Ok(Some((pending, user)))
}

/// Anonymous sign-in needs `SECURITY_WAN_ALLOW_AS_FIRST_FACTOR`; a pending login does not.
fn first_factor_allowed(web: &Web) -> bool {
    web.settings().webauthn.allow_as_first_factor
}

fn signin_context(is_secondary: bool, remember: bool, next: &str) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("is_secondary", &is_secondary);
    ctx.insert("remember", &remember);
    ctx.insert("next", next);
    ctx
}

/// `GET /wan-signin`.
pub async fn signin_form(web: Web) -> Result<HttpResponse, AppError> {
    if web.user.is_some() {
        return Ok(already_signed_in(&web));
    }
    let is_secondary = second_factor_login(&web).await?.is_some();
    if !is_secondary && !first_factor_allowed(&web) {
        return Err(AppError::NotFound);
    }
    if web.format.is_json() {
        return Ok(web.json_ok(json!({
            "csrf_token": web.csrf_token(),
            "is_secondary": is_secondary,
        })));
    }
    let next = query_param(&web.request, "next").unwrap_or_default();
    web.page(SIGNIN, signin_context(is_secondary, false, &next))
}

/// Flask-Security's `anonymous_user_required`: a logged-in user goes home.
fn already_signed_in(web: &Web) -> HttpResponse {
    match web.format {
        Format::Json => web.json_error(web.msg(messages::ANONYMOUS_USER_REQUIRED, &[])),
        Format::Html => redirect(web.path(Route::Home)),
    }
}

/// `POST /wan-signin` (`identity`, `remember`): begins a sign-in, or the second factor of a
/// pending login.
pub async fn signin_begin(
    web: Web,
    form: Submission<SigninForm>,
) -> Result<HttpResponse, AppError> {
    if web.user.is_some() {
        return Ok(already_signed_in(&web));
    }
    let services = &web.services();
    let secondary = second_factor_login(&web).await?;
    let is_secondary = secondary.is_some();
    if !is_secondary && !first_factor_allowed(&web) {
        return Err(AppError::NotFound);
    }
    let form = form.data;
    let remember = form.remember.is_some_and(|f| f.0);
    let binding = session_binding(&web)?;
    let (purpose, hint) = match secondary {
        Some((_, user)) => (Purpose::SecondFactor, Some(user)),
        None => {
            let identity = form.identity.as_deref().unwrap_or("");
            (
                Purpose::SignIn,
                passkeys::hinted_account(services, identity).await?,
            )
        }
    };
    let begun = passkeys::begin_authentication(services, purpose, hint.as_ref(), &binding).await?;
    let next = form.next.unwrap_or_default();
    ceremony_page(
        &web,
        SIGNIN,
        &begun,
        json!({"remember": remember, "is_secondary": is_secondary}),
        signin_context(is_secondary, remember, &next),
    )
}

/// `POST /wan-signin/<state>` (`credential`, `remember`, `next`): the authenticator's
/// answer. A first-factor passkey logs in (through the second factor, when the account has
/// one and the passkey did not verify the user); a second-factor one finishes the pending
/// login.
pub async fn signin_finish(
    web: Web,
    token: aweb::Path<String>,
    form: Submission<CredentialForm>,
) -> Result<HttpResponse, AppError> {
    if web.user.is_some() {
        return Ok(already_signed_in(&web));
    }
    let secondary = second_factor_login(&web).await?;
    let form = form.data;
    let next = match crate::web::submission::safe_next(&web, form.next.clone()) {
        Ok(next) => next,
        Err(errors) => return Ok(refused_with(&web, &errors, web.path(Route::WanSignin))),
    };
    let binding = session_binding(&web)?;
    let credential = form.credential.unwrap_or_default();
    let answer = PasskeyAnswer {
        token: &token,
        binding: &binding,
        credential: &credential,
    };
    let asked = Asked {
        remember: form.remember.is_some_and(|f| f.0),
        next: next.clone(),
    };
    let browser = signin::browser(&web);
    let outcome = factors::passkey(&web.services(), &browser, secondary, answer, asked).await?;
    let extra = json!({"post_login_url": next.as_deref().unwrap_or(web.path(Route::Home))});
    signin::answer(&web, outcome, "passkey_throttled", extra, |rejected| {
        Ok(refused(&web, &rejected.refusal, web.path(Route::WanSignin)))
    })
}

// ---------------------------------------------------------------------------------------
// Re-authentication
// ---------------------------------------------------------------------------------------

/// `GET /wan-verify`.
pub async fn verify_form(web: Web, current: AuthenticatedUser) -> Result<HttpResponse, AppError> {
    if web.format.is_json() {
        return Ok(web.json_ok(json!({"csrf_token": web.csrf_token()})));
    }
    let mut ctx = tera::Context::new();
    ctx.insert(
        "next",
        &query_param(&web.request, "next").unwrap_or_default(),
    );
    let ways = crate::auth::signin::reauth::ways(&web.services(), &current.0.user).await?;
    ctx.insert("reauth", &ways);
    web.page(VERIFY, ctx)
}

/// `POST /wan-verify`: begins a re-authentication with one of the user's passkeys.
pub async fn verify_begin(
    web: Web,
    current: AuthenticatedUser,
    form: Submission<CredentialForm>,
) -> Result<HttpResponse, AppError> {
    let binding = session_binding(&web)?;
    let begun = passkeys::begin_authentication(
        &web.services(),
        Purpose::Verify,
        Some(&current.0.user),
        &binding,
    )
    .await?;
    let mut ctx = tera::Context::new();
    ctx.insert(
        "next",
        &form
            .data
            .next
            .or_else(|| query_param(&web.request, "next"))
            .unwrap_or_default(),
    );
    ceremony_page(&web, VERIFY, &begun, json!({}), ctx)
}

/// `POST /wan-verify/<state>` (`credential`, `next`): the session is fresh again.
pub async fn verify_finish(
    web: Web,
    current: AuthenticatedUser,
    token: aweb::Path<String>,
    form: Submission<CredentialForm>,
) -> Result<HttpResponse, AppError> {
    let current = current.0;
    let binding = session_binding(&web)?;
    let client = signin::client_key(&web);
    let form = form.data;
    let credential = form.credential.unwrap_or_default();
    let answer = PasskeyAnswer {
        token: &token,
        binding: &binding,
        credential: &credential,
    };
    let browser = signin::browser(&web);
    let proof = factors::passkey_again(&web.services(), &browser, &current.user, answer).await?;
    match proof {
        Attempt::Proved(_) => {}
        Attempt::Refused(rejected) => {
            return Ok(refused(&web, &rejected.refusal, web.path(Route::WanVerify)))
        }
        Attempt::Throttled { retry_after } => {
            return Err(signin::throttled(&web, "verify_throttled", retry_after))
        }
    }
    mark_reauthenticated(&web, &current, &client, "passkey").await?;
    let location = crate::web::submission::then_or(
        &web,
        form.next.as_deref(),
        &crate::web::spa::post_verify(&web),
    );
    Ok(web.success(
        &location,
        Some((
            "success",
            web.msg(messages::REAUTHENTICATION_SUCCESSFUL, &[]),
        )),
        json!({"csrf_token": web.csrf_token(), "user": {}}),
    ))
}

// ---------------------------------------------------------------------------------------
// Sign-up with a passkey (no password)
// ---------------------------------------------------------------------------------------

/// `GET /wan-signup`.
pub async fn signup_form(web: Web) -> Result<HttpResponse, AppError> {
    if web.user.is_some() {
        return Ok(already_signed_in(&web));
    }
    if web.format.is_json() {
        return Ok(web.json_ok(json!({"csrf_token": web.csrf_token()})));
    }
    web.page(SIGNUP, tera::Context::new())
}

fn signup_context(form: &SignupForm) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("email", &form.email.clone().unwrap_or_default());
    ctx.insert("username", &form.username.clone().unwrap_or_default());
    ctx.insert("name", &form.name.clone().unwrap_or_default());
    ctx
}

/// `POST /wan-signup` (`email`, `username`, `name`): begins making the account's passkey.
pub async fn signup_begin(
    web: Web,
    form: Submission<SignupForm>,
) -> Result<HttpResponse, AppError> {
    if web.user.is_some() {
        return Ok(already_signed_in(&web));
    }
    let form = form.data;
    let binding = session_binding(&web)?;
    // The welcome mail is counted against the address's share when the sign-up begins.
    let send = match Email::parse(form.email.as_deref().unwrap_or("")) {
        Ok(email) => may_send_mail(&web, Action::Register, &email).await?,
        Err(_) => false,
    };
    let begun = signup::begin_signup(
        &web.services(),
        form.email.as_deref().unwrap_or(""),
        form.username.as_deref(),
        form.name.as_deref().filter(|n| !n.trim().is_empty()),
        send,
        &binding,
    )
    .await?;
    match begun {
        Ok(begun) => ceremony_page(&web, SIGNUP, &begun, json!({}), signup_context(&form)),
        Err(errors) => web.form_failure(SIGNUP, signup_context(&form), &errors),
    }
}

/// `POST /wan-signup/<state>` (`credential`): the passkey is made; so is the account. With
/// `SECURITY_CONFIRMABLE` (and no login before confirmation) the user confirms by mail
/// first; otherwise they are logged in.
pub async fn signup_finish(
    web: Web,
    token: aweb::Path<String>,
    form: Submission<CredentialForm>,
) -> Result<HttpResponse, AppError> {
    if web.user.is_some() {
        return Ok(already_signed_in(&web));
    }
    let services = &web.services();
    let binding = session_binding(&web)?;
    let credential = form.data.credential.unwrap_or_default();
    let client = web.client();
    let signed_up = signup::finish_signup(services, &token, &binding, &credential, &client).await?;
    let features = &web.settings().features;
    let must_confirm = features.confirmable && !features.login_without_confirmation;
    let user = match signed_up {
        Ok(SignedUp::Created(user)) => user,
        Ok(SignedUp::ExistingNotified { email }) => return Ok(confirmation_sent(&web, &email)),
        Err(errors) => return Ok(refused_with(&web, &errors, web.path(Route::WanSignup))),
    };
    if must_confirm {
        return Ok(confirmation_sent(&web, user.email_or_empty()));
    }
    let cookie = signin::sign_in_directly(&web, &user, LoginMethod::Passkey).await?;
    let mut response = web.success(
        web.path(Route::Home),
        None,
        json!({"csrf_token": web.csrf_token(), "user": {}}),
    );
    if let Some(cookie) = cookie {
        add_cookie(&mut response, &cookie)?;
    }
    Ok(response)
}

/// The answer of a sign-up that waits for the email's confirmation (the same whether the
/// email was new or, with generic responses, already had an account).
fn confirmation_sent(web: &Web, email: &str) -> HttpResponse {
    web.success(
        web.path(Route::Login),
        Some((
            "success",
            web.msg(messages::CONFIRM_REGISTRATION, &[("email", email)]),
        )),
        json!({"csrf_token": web.csrf_token()}),
    )
}
