//! Unified sign-in (`SECURITY_UNIFIED_SIGNIN`): `/us-signin`, `/us-signin/send-code`,
//! `/us-setup`, `/us-setup/<state>`, `/us-verify`, `/us-verify/send-code` and
//! `/us-verify-link`, with Flask-Security's fields and JSON shapes. The rules are
//! [`crate::auth::unified`].
//!
//! The mailed link logs in at once only in the browser that asked for the code; any other
//! browser is asked to confirm first (a POST with its CSRF token), so a link forwarded to
//! or opened by someone else, or fetched by a mail scanner, signs no one in by itself.

use actix_web::{web as aweb, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::authenticate::{Attempt, LoginFailure};
use crate::auth::signin::{factors, Asked, Step};
use crate::auth::throttle::Action;
use crate::auth::unified::{
    self, CodeRequest, PendingUsSetup, Refusal, SetupChange, UsSetupChallenge, UsSetupOutcome,
};
use crate::config::UsMethod;
use crate::db::models::User;
use crate::domain::FormErrors;
use crate::messages;
use crate::web::guards::{mark_reauthenticated, require_fresh};
use crate::web::page::{redirect, with_cookies_of};
use crate::web::signin;
use crate::web::spa;
use crate::web::submission::{query_param, Flag};
use crate::web::{AppError, AuthenticatedUser, Format, Submission, Web};

use super::limits::may_send_mail_to;
use super::mount;
use crate::urls::{Route, Urls};

/// Registers unified sign-in, setup and verification (other methods on the POST-only paths
/// are 404).
pub fn routes(cfg: &mut aweb::ServiceConfig, urls: Urls) {
    cfg.service(mount::form(
        urls.path(Route::UsSignin),
        signin_form,
        signin_submit,
    ))
    .route(
        urls.path(Route::UsSigninSendCode),
        aweb::post().to(send_signin_code),
    )
    .service(mount::form(
        urls.path(Route::UsSetup),
        setup_form,
        setup_submit,
    ))
    .route(
        urls.path(Route::UsSetupState),
        aweb::post().to(setup_validate),
    )
    .service(mount::form(
        urls.path(Route::UsVerify),
        verify_form,
        verify_submit,
    ))
    .route(
        urls.path(Route::UsVerifySendCode),
        aweb::post().to(send_verify_code),
    )
    .service(mount::get_post(
        urls.path(Route::UsVerifyLink),
        verify_link,
        verify_link_confirm,
    ));
}

const SIGNIN: &str = "security/us_signin.html";
const SETUP: &str = "security/us_setup.html";
const VERIFY: &str = "security/us_verify.html";
const LINK: &str = "security/us_verify_link.html";
/// A started setup, waiting for its code (in the encrypted session).
const SETUP_KEY: &str = "_us_setup";
/// The account this browser asked a sign-in code for: its link logs in here at once.
const LINK_KEY: &str = "_us_link";

#[derive(Debug, Default, Deserialize)]
pub struct SigninForm {
    #[serde(default)]
    identity: Option<String>,
    #[serde(default)]
    passcode: Option<String>,
    #[serde(default)]
    chosen_method: Option<String>,
    #[serde(default)]
    remember: Option<Flag>,
    #[serde(default)]
    next: Option<String>,
}

/// One value or several (JSON lists; a form sends one per button).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(one) if one.is_empty() => Vec::new(),
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    chosen_method: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    delete_method: Option<OneOrMany>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PasscodeForm {
    #[serde(default)]
    passcode: Option<String>,
    #[serde(default)]
    chosen_method: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

fn names(methods: &[UsMethod]) -> Vec<&'static str> {
    methods.iter().map(|m| m.as_str()).collect()
}

fn identity_attributes(web: &Web) -> Vec<&'static str> {
    if web.settings().features.username_enable {
        vec!["email", "username"]
    } else {
        vec!["email"]
    }
}

/// What `GET /us-signin` tells (Flask-Security's payload).
fn signin_payload(web: &Web) -> Value {
    let services = &web.services();
    json!({
        "csrf_token": web.csrf_token(),
        "available_methods": names(&web.settings().unified_signin.methods),
        "code_methods": names(&unified::code_methods(services)),
        "identity_attributes": identity_attributes(web),
    })
}

fn signin_context(web: &Web, form: &SigninForm, next: &str) -> tera::Context {
    let services = &web.services();
    let mut ctx = tera::Context::new();
    ctx.insert(
        "available_methods",
        &names(&web.settings().unified_signin.methods),
    );
    ctx.insert("code_methods", &names(&unified::code_methods(services)));
    ctx.insert(
        "form",
        &json!({
            "identity": form.identity.clone().unwrap_or_default(),
            "chosen_method": form.chosen_method.clone().unwrap_or_default(),
            "remember": form.remember.as_ref().is_some_and(|f| f.0),
        }),
    );
    ctx.insert("next", next);
    ctx
}

/// The `next` of a form or the query, checked; `Err`: the form's answer.
fn next_of(web: &Web, typed: Option<&str>) -> Result<Option<String>, FormErrors> {
    let raw = crate::web::submission::typed_or_queried_next(web, typed);
    crate::web::submission::safe_next(web, raw)
}

/// A refusal as form errors; with generic responses, identity and passcode failures are one
/// form-wide message (no answer tells whether the account exists).
fn refusal_errors(web: &Web, refusal: &Refusal) -> FormErrors {
    let generic = web.settings().features.return_generic_responses;
    match refusal {
        Refusal::IdentityUnknown | Refusal::InvalidPasscode if generic => {
            let mut errors = FormErrors::default();
            errors.add_general(web.msg(messages::GENERIC_AUTHN_FAILED, &[]));
            errors
        }
        other => match other.field() {
            "" => {
                let mut errors = FormErrors::default();
                errors.add_general(web.describe(other));
                errors
            }
            field => FormErrors::single(field, web.describe(other)),
        },
    }
}

/// Flask-Security's `_confirm_redirect` on the unified sign-in forms: an account that awaits
/// confirmation (refused only after its password or code was right, or when a code was
/// asked for it) goes to `SECURITY_REQUIRES_CONFIRMATION_ERROR_VIEW`, when it is set.
fn unconfirmed_elsewhere(web: &Web, refusal: &Refusal) -> Option<HttpResponse> {
    match refusal {
        Refusal::Login {
            failure: LoginFailure::ConfirmationRequired,
            email,
        } => spa::requires_confirmation(web, email.as_deref()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Signing in
// ---------------------------------------------------------------------------------------

/// `GET /us-signin`.
pub async fn signin_form(web: Web) -> Result<HttpResponse, AppError> {
    if web.format.is_json() {
        let mut payload = signin_payload(&web);
        if let Some(current) = &web.user {
            payload["user"] = crate::web::page::user_view(&current.user);
        }
        return Ok(web.json_ok(payload));
    }
    if web.user.is_some() {
        return Ok(redirect(web.path(Route::Home)));
    }
    let next = query_param(&web.request, "next").unwrap_or_default();
    web.page(SIGNIN, signin_context(&web, &SigninForm::default(), &next))
}

/// `POST /us-signin` (`identity`, `passcode`, `remember`, `next`): a password or a code.
pub async fn signin_submit(
    web: Web,
    form: Submission<SigninForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.data;
    if web.user.is_some() {
        return Ok(web.success(web.path(Route::Home), None, signin_payload(&web)));
    }
    let next = match next_of(&web, form.next.as_deref()) {
        Ok(next) => next,
        Err(errors) => return web.form_failure(SIGNIN, signin_context(&web, &form, ""), &errors),
    };
    // A new attempt abandons a half-finished one (as Flask-Security).
    crate::web::pending::forget(&web);
    let identity = form.identity.clone().unwrap_or_default();
    let passcode = form.passcode.clone().unwrap_or_default();
    let asked = Asked {
        remember: form.remember.is_some_and(|f| f.0),
        next: next.clone(),
    };
    let browser = signin::browser(&web);
    let outcome = factors::passcode(&web.services(), &browser, &identity, &passcode, asked).await?;
    signin::answer(&web, outcome, "us_signin_throttled", json!({}), |refusal| {
        if let Some(elsewhere) = unconfirmed_elsewhere(&web, &refusal) {
            return Ok(elsewhere);
        }
        let errors = refusal_errors(&web, &refusal);
        let ctx = signin_context(&web, &form, next.as_deref().unwrap_or(""));
        web.form_failure(SIGNIN, ctx, &errors)
    })
}

/// `POST /us-signin/send-code` (`identity`, `chosen_method`): a code by mail (with a
/// sign-in link) or text message.
pub async fn send_signin_code(
    web: Web,
    form: Submission<SigninForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.data;
    if web.user.is_some() {
        return Ok(web.success(web.path(Route::Home), None, signin_payload(&web)));
    }
    let services = &web.services();
    let identity = form.identity.clone().unwrap_or_default();
    let method = form.chosen_method.clone().unwrap_or_default();
    let typed = identity.trim().to_lowercase();
    if typed.is_empty() {
        let errors = FormErrors::single("identity", web.msg(messages::US_SPECIFY_IDENTITY, &[]));
        return web.form_failure(SIGNIN, signin_context(&web, &form, ""), &errors);
    }
    // The account's own share of mail (and its known addresses' exemption), counted for
    // every identity so that known and unknown ones cost the same.
    let account = crate::auth::authenticate::find_account(
        &services.db,
        &services.settings.features,
        identity.trim(),
    )
    .await?;
    let send = may_send_mail_to(&web, Action::SigninCode, &typed, account.map(|u| u.id)).await?;
    let (request, user) = unified::send_signin_code(services, &identity, &method, send).await?;
    match request {
        CodeRequest::Sent => {
            // This browser asked: the link in the mail logs in here without a question. An
            // identity without an account gets a marker of the same length, so that the
            // session cookie does not tell whether the account exists.
            let marker = unified::link_marker(user.as_ref().map(|u| u.fs_uniquifier.as_str()));
            let _ = web.session.insert(LINK_KEY, &marker);
            if web.format.is_json() {
                return Ok(web.json_ok(json!({"csrf_token": web.csrf_token()})));
            }
            let message = if web.settings().features.return_generic_responses {
                messages::GENERIC_US_SIGNIN
            } else {
                messages::CODE_HAS_BEEN_SENT
            };
            web.flash("info", web.msg(message, &[]));
            let next = query_param(&web.request, "next").unwrap_or_default();
            let mut ctx = signin_context(&web, &form, &next);
            ctx.insert("code_sent", &method);
            web.page(SIGNIN, ctx)
        }
        CodeRequest::Refused(refusal) => {
            if let Some(elsewhere) = unconfirmed_elsewhere(&web, &refusal) {
                return Ok(elsewhere);
            }
            let errors = refusal_errors(&web, &refusal);
            web.form_failure(SIGNIN, signin_context(&web, &form, ""), &errors)
        }
    }
}

fn link_context(form: &LinkForm, email: Option<&str>) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("link_id", &form.id.clone().unwrap_or_default());
    ctx.insert("link_code", &form.code.clone().unwrap_or_default());
    ctx.insert("link_email", &email.unwrap_or_default());
    ctx
}

/// `GET /us-verify-link?id=…&code=…`: the link in the code mail. In the browser that asked
/// for the code it logs in; anywhere else it asks first.
pub async fn verify_link(web: Web) -> Result<HttpResponse, AppError> {
    if web.user.is_some() {
        return Ok(redirect(web.path(Route::Home)));
    }
    let form = LinkForm {
        id: query_param(&web.request, "id"),
        code: query_param(&web.request, "code"),
    };
    let id = form.id.clone().unwrap_or_default();
    let asked_here = web
        .session
        .get::<String>(LINK_KEY)
        .ok()
        .flatten()
        .is_some_and(|asked| unified::link_is_for(&asked, &id));
    if asked_here {
        return sign_in_with_link(&web, &form).await;
    }
    // Another browser (or a mail scanner): nothing happens until it confirms.
    web.page(LINK, link_context(&form, None))
}

/// `POST /us-verify-link` (`id`, `code`): the confirmation of a link opened elsewhere.
pub async fn verify_link_confirm(
    web: Web,
    form: Submission<LinkForm>,
) -> Result<HttpResponse, AppError> {
    if web.user.is_some() {
        return Ok(redirect(web.path(Route::Home)));
    }
    sign_in_with_link(&web, &form.data).await
}

async fn sign_in_with_link(web: &Web, form: &LinkForm) -> Result<HttpResponse, AppError> {
    let id = form.id.clone().unwrap_or_default();
    let code = form.code.clone().unwrap_or_default();
    let browser = signin::browser(web);
    let outcome = factors::link(&web.services(), &browser, &id, &code).await?;
    let spa = web.settings().spa.spa && web.format == Format::Html;
    let mut signed_in = None;
    if let Attempt::Proved(step) = &outcome {
        if web.session.contains_key(LINK_KEY) {
            web.session.remove(LINK_KEY);
        }
        if let Step::SignedIn(done) = step {
            signed_in = Some(done.user.clone());
        }
        if spa && matches!(step, Step::SecondFactor(_)) {
            // Flask-Security: a magic link cannot start a two-factor login in SPA mode.
            let view = web.settings().spa.views.login_error.as_ref();
            if let Some(response) = spa::link_redirect(web, view, &[("tf_required", "1")]) {
                return Ok(response);
            }
        }
        // Logged in (not sent on to a second factor): say so on the next page.
        if !spa && web.format == Format::Html && matches!(step, Step::SignedIn(_)) {
            let message = web.msg(messages::PASSWORDLESS_LOGIN_SUCCESSFUL, &[]);
            web.flash("success", message);
        }
    }
    let response = signin::answer(web, outcome, "us_link_throttled", json!({}), |refusal| {
        link_refused(web, &refusal)
    })?;
    let view = web.settings().spa.views.post_login.as_ref();
    let spa_view = signed_in
        .and_then(|user| spa::link_redirect(web, view, &spa::account_params(&user, ("", ""))));
    Ok(match spa_view {
        // The login's cookies, and the app's view instead of Latchkey's page.
        Some(redirect) => with_cookies_of(redirect, &response),
        None => response,
    })
}

/// A sign-in link that did not sign in: the message (generic unless the account's state
/// may be told), flashed on the sign-in page, or in SPA mode at `SECURITY_LOGIN_ERROR_VIEW`.
fn link_refused(web: &Web, refusal: &Refusal) -> Result<HttpResponse, AppError> {
    let message = match refusal {
        Refusal::Login { .. } if !web.settings().features.return_generic_responses => {
            web.describe(refusal)
        }
        _ => web.msg(messages::GENERIC_AUTHN_FAILED, &[]),
    };
    let view = web.settings().spa.views.login_error.as_ref();
    Ok(match web.format {
        Format::Json => web.json_error(message),
        Format::Html => match spa::link_redirect(web, view, &[("error", &message)]) {
            Some(response) => response,
            None => {
                web.flash("error", message);
                redirect(web.path(Route::UsSignin))
            }
        },
    })
}

// ---------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------

fn setup_payload(web: &Web, user: &User) -> Value {
    let services = &web.services();
    let settings = &web.settings().unified_signin;
    json!({
        "csrf_token": web.csrf_token(),
        "identity_attributes": identity_attributes(web),
        "available_methods": names(&settings.methods),
        "active_methods": names(&unified::active_methods(services, user)),
        "setup_methods": names(&unified::setup_methods(services)),
        "phone": settings.methods.contains(&UsMethod::Sms).then(|| user.us_phone_number.clone()).flatten(),
    })
}

fn setup_context(web: &Web, user: &User, started: Option<Value>) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("us", &setup_payload(web, user));
    ctx.insert("setup", &started);
    ctx
}

/// `GET /us-setup`: the methods set up and those that can be.
pub async fn setup_form(web: Web, current: AuthenticatedUser) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) = require_fresh(&web, &current.0, web.path(Route::UsSetup)) {
        return Ok(reauthenticate);
    }
    let user = &current.0.user;
    if web.format.is_json() {
        return Ok(web.json_ok(setup_payload(&web, user)));
    }
    web.page(SETUP, setup_context(&web, user, None))
}

/// `POST /us-setup` (`chosen_method`, `phone`, `delete_method`): removes methods, and/or
/// starts setting one up (a code sent for email and text; a key for the authenticator).
pub async fn setup_submit(
    web: Web,
    current: AuthenticatedUser,
    form: Submission<SetupForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) = require_fresh(&web, &current.0, web.path(Route::UsSetup)) {
        return Ok(reauthenticate);
    }
    let (form, user) = (form.data, &current.0.user);
    let delete = form
        .delete_method
        .map(OneOrMany::into_vec)
        .unwrap_or_default();
    let add = form.chosen_method.filter(|m| !m.is_empty());
    if delete.is_empty() && add.is_none() {
        let mut errors = FormErrors::default();
        errors.add_general(web.msg(messages::API_ERROR, &[]));
        return web.form_failure(SETUP, setup_context(&web, user, None), &errors);
    }
    let (services, client) = (web.services(), signin::client_key(&web));
    let (add, phone) = (add.as_deref(), form.phone.as_deref());
    let change = unified::change_setup(&services, user, &delete, add, phone, &client);
    let SetupChange { user, started } = match change.await? {
        Ok(change) => change,
        Err((user, refusal)) => {
            let errors = refusal_errors(&web, &refusal);
            return web.form_failure(SETUP, setup_context(&web, &user, None), &errors);
        }
    };
    match started {
        Some((add, challenge)) => setup_started(&web, &user, &add, &challenge),
        None => Ok(web.success(web.path(Route::UsSetup), None, setup_payload(&web, &user))),
    }
}

/// A started setup: kept in the session until its first code, and shown (the key for the
/// authenticator).
fn setup_started(
    web: &Web,
    user: &User,
    add: &str,
    challenge: &UsSetupChallenge,
) -> Result<HttpResponse, AppError> {
    web.session
        .insert(SETUP_KEY, &challenge.pending)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("keeping the setup: {e}")))?;
    let mut body = json!({
        "csrf_token": web.csrf_token(),
        "chosen_method": add,
        "phone": challenge.pending.phone,
        "state": challenge.pending.token,
    });
    if let Some(key) = &challenge.authenticator {
        body["authr_key"] = json!(key.pretty);
        body["authr_b32key"] = json!(key.base32);
        body["authr_username"] = json!(key.account);
        body["authr_issuer"] = json!(key.issuer);
        body["authr_uri"] = json!(key.uri);
    }
    if web.format.is_json() {
        return Ok(web.json_ok(body));
    }
    let started = json!({
        "method": add,
        "state": challenge.pending.token,
        "code_sent": UsMethod::parse(add).is_some_and(UsMethod::sends_code),
        "authenticator": challenge.authenticator.as_ref().map(|k| json!({
            "key": k.pretty, "uri": k.uri, "qr_svg": k.qr_svg,
            "issuer": k.issuer, "account": k.account,
        })),
    });
    web.page(SETUP, setup_context(web, user, Some(started)))
}

/// `POST /us-setup/<state>` (`passcode`): the first code of a started setup.
pub async fn setup_validate(
    web: Web,
    current: AuthenticatedUser,
    token: aweb::Path<String>,
    form: Submission<PasscodeForm>,
) -> Result<HttpResponse, AppError> {
    let user = &current.0.user;
    let pending: Option<PendingUsSetup> = web.session.get(SETUP_KEY).ok().flatten();
    let Some(pending) = pending.filter(|p| p.is_for(token.as_str(), user)) else {
        return setup_expired(&web, user);
    };
    let client = signin::client_key(&web);
    let passcode = form.data.passcode.unwrap_or_default();
    let refused =
        |errors: FormErrors| web.form_failure(SETUP, setup_context(&web, user, None), &errors);
    match unified::finish_setup(&web.services(), user, &pending, &passcode, &client).await? {
        UsSetupOutcome::Done(updated, method) => Ok(setup_done(&web, &updated, method)),
        UsSetupOutcome::WrongCode => refused(FormErrors::single(
            "passcode",
            web.msg(messages::INVALID_PASSWORD_CODE, &[]),
        )),
        UsSetupOutcome::Expired => {
            web.session.remove(SETUP_KEY);
            setup_expired(&web, user)
        }
        UsSetupOutcome::Refused(refusal) => refused(refusal_errors(&web, &refusal)),
        UsSetupOutcome::Throttled { retry_after } => {
            Err(signin::throttled(&web, "us_setup_throttled", retry_after))
        }
    }
}

/// The setup form again: the started setup is gone (or never was).
fn setup_expired(web: &Web, user: &User) -> Result<HttpResponse, AppError> {
    let within = web
        .messages
        .period(web.settings().unified_signin.setup_within);
    let mut errors = FormErrors::default();
    errors.add_general(web.msg(messages::US_SETUP_EXPIRED, &[("within", &within)]));
    web.form_failure(SETUP, setup_context(web, user, None), &errors)
}

/// A setup proved by its first code.
fn setup_done(web: &Web, updated: &User, method: UsMethod) -> HttpResponse {
    web.session.remove(SETUP_KEY);
    tracing::info!(
        event = "us_setup",
        user_id = updated.id,
        method = method.as_str(),
        "unified sign-in method set up"
    );
    // The page says what it means (Flask-Security's "Unified sign in setup successful" is
    // jargon); JSON answers carry no message.
    let way = match method {
        UsMethod::Email => "a code by email",
        UsMethod::Sms => "a code by text message",
        UsMethod::Authenticator => "an authenticator code",
        UsMethod::Password => "a password",
    };
    let said = web.translate(
        "You can now sign in with %(method)s.",
        &[("method", &web.translate(way, &[]))],
    );
    web.success(
        &crate::web::spa::us_post_setup(web),
        Some(("success", said)),
        json!({
            "csrf_token": web.csrf_token(),
            "chosen_method": method.as_str(),
            "phone": updated.us_phone_number,
        }),
    )
}

// ---------------------------------------------------------------------------------------
// Re-authentication
// ---------------------------------------------------------------------------------------

fn verify_payload(web: &Web, user: &User) -> Value {
    let services = &web.services();
    let active: Vec<UsMethod> = unified::active_methods(services, user)
        .into_iter()
        .filter(|m| m.sends_code())
        .collect();
    json!({
        "csrf_token": web.csrf_token(),
        "available_methods": names(&web.settings().unified_signin.methods),
        "code_methods": names(&active),
        "has_webauthn_verify_credential": false,
    })
}

async fn verify_context(web: &Web, user: &User, next: &str) -> Result<tera::Context, AppError> {
    let mut ctx = tera::Context::new();
    ctx.insert("us", &verify_payload(web, user));
    ctx.insert("next", next);
    ctx.insert(
        "reauth",
        &crate::auth::signin::reauth::ways(&web.services(), user).await?,
    );
    Ok(ctx)
}

/// `GET /us-verify`.
pub async fn verify_form(web: Web, current: AuthenticatedUser) -> Result<HttpResponse, AppError> {
    let user = &current.0.user;
    if web.format.is_json() {
        return Ok(web.json_ok(verify_payload(&web, user)));
    }
    let next = query_param(&web.request, "next").unwrap_or_default();
    web.page(VERIFY, verify_context(&web, user, &next).await?)
}

/// `POST /us-verify` (`passcode`, `next`): the password or a code again; the login is fresh.
pub async fn verify_submit(
    web: Web,
    current: AuthenticatedUser,
    form: Submission<PasscodeForm>,
) -> Result<HttpResponse, AppError> {
    let current = current.0;
    let form = form.data;
    let next = match next_of(&web, form.next.as_deref()) {
        Ok(next) => next,
        Err(errors) => {
            let ctx = verify_context(&web, &current.user, "").await?;
            return web.form_failure(VERIFY, ctx, &errors);
        }
    };
    let passcode = form.passcode.unwrap_or_default();
    let browser = signin::browser(&web);
    let client = browser.key();
    match factors::passcode_again(&web.services(), &browser, &current.user, &passcode).await? {
        Attempt::Proved(()) => {}
        Attempt::Refused(()) => {
            let errors =
                FormErrors::single("passcode", web.msg(messages::INVALID_PASSWORD_CODE, &[]));
            let ctx = verify_context(&web, &current.user, next.as_deref().unwrap_or("")).await?;
            return web.form_failure(VERIFY, ctx, &errors);
        }
        Attempt::Throttled { retry_after } => {
            return Err(signin::throttled(&web, "verify_throttled", retry_after))
        }
    }
    mark_reauthenticated(&web, &current, &client, "unified").await?;
    Ok(web.success(
        &next.unwrap_or_else(|| crate::web::spa::post_verify(&web)),
        Some((
            "success",
            web.msg(messages::REAUTHENTICATION_SUCCESSFUL, &[]),
        )),
        json!({"csrf_token": web.csrf_token(), "user": {}}),
    ))
}

/// `POST /us-verify/send-code` (`chosen_method`): a code for the logged-in user.
pub async fn send_verify_code(
    web: Web,
    current: AuthenticatedUser,
    form: Submission<PasscodeForm>,
) -> Result<HttpResponse, AppError> {
    let user = &current.0.user;
    let method = form.data.chosen_method.unwrap_or_default();
    let client = crate::web::signin::client_key(&web);
    match unified::send_verify_code(&web.services(), user, &method, &client).await? {
        CodeRequest::Sent => {
            if web.format.is_json() {
                return Ok(web.json_ok(json!({"csrf_token": web.csrf_token()})));
            }
            web.flash("info", web.msg(messages::CODE_HAS_BEEN_SENT, &[]));
            let next = query_param(&web.request, "next").unwrap_or_default();
            let mut ctx = verify_context(&web, user, &next).await?;
            ctx.insert("code_sent", &method);
            web.page(VERIFY, ctx)
        }
        CodeRequest::Refused(refusal) => {
            let errors = refusal_errors(&web, &refusal);
            let ctx = verify_context(&web, user, "").await?;
            web.form_failure(VERIFY, ctx, &errors)
        }
    }
}
