//! Two-factor sign-in (`SECURITY_TWO_FACTOR`): `/tf-setup`, `/tf-setup/<token>`,
//! `/tf-validate`, `/tf-rescue`, `/tf-select`; recovery codes
//! (`SECURITY_MULTI_FACTOR_RECOVERY_CODES`): `/mf-recovery-codes`, `/mf-recovery`. Flask-Security's
//! URLs, fields and JSON shapes; the rules are `auth::two_factor`.

use actix_web::{web as aweb, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::mount;
use crate::auth::authenticate::Attempt;
use crate::auth::signin::factors::{self, Rescue};
use crate::auth::signin::PendingLogin;
use crate::auth::two_factor::{self, PendingSetup, SetupChallenge, SetupOutcome, SetupStep};
use crate::config::TwoFactorMethod;
use crate::db::models::User;
use crate::messages;
use crate::urls::{Route, Urls};
use crate::web::guards::require_fresh;
use crate::web::page::{redirect, FormErrors};
use crate::web::signin;
use crate::web::submission::{query_param, Flag};
use crate::web::{AppError, Format, Submission, Web};

/// Registers two-factor setup, validation, rescue and choice (other methods on the setup's
/// validation are 404).
pub fn routes(cfg: &mut aweb::ServiceConfig, urls: Urls) {
    cfg.service(mount::form(
        urls.path(Route::TfSetup),
        setup_form,
        setup_submit,
    ))
    .route(
        urls.path(Route::TfSetupToken),
        aweb::post().to(setup_validate),
    )
    .service(mount::form(
        urls.path(Route::TfValidate),
        validate_form,
        validate_submit,
    ))
    .service(mount::get_post(
        urls.path(Route::TfRescue),
        rescue_form,
        rescue_submit,
    ))
    .service(mount::get_post(
        urls.path(Route::TfSelect),
        select_form,
        select_submit,
    ));
}

/// Registers the recovery codes' page and signing in with one.
pub fn recovery_code_routes(cfg: &mut aweb::ServiceConfig, urls: Urls) {
    cfg.service(mount::form(
        urls.path(Route::MfRecoveryCodes),
        codes_form,
        codes_submit,
    ))
    .service(mount::get_post(
        urls.path(Route::MfRecovery),
        recovery_form,
        recovery_submit,
    ));
}

const SETUP: &str = "security/two_factor_setup.html";
const VERIFY: &str = "security/two_factor_verify_code.html";
const SELECT: &str = "security/two_factor_select.html";
const CODES: &str = "security/mf_recovery_codes.html";
const RECOVERY: &str = "security/mf_recovery.html";
/// A started setup, waiting for its first code (in the encrypted session).
const SETUP_KEY: &str = "_tf_setup";
/// Recovery codes just made, shown again on `?show_codes=true` in this session only (the
/// database keeps digests).
const SHOWN_CODES_KEY: &str = "_recovery_codes";
/// `/tf-select`'s name for a second-factor passkey (Flask-Security's).
const PASSKEY: &str = "webauthn";

#[derive(Debug, Default, Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    setup: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    remember_device: Option<Flag>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RescueForm {
    #[serde(default)]
    help_setup: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SelectForm {
    #[serde(default)]
    which: Option<String>,
}

/// Who is setting up a second factor: a logged-in user, or a login held back until a
/// required second factor is set up.
enum Setter {
    LoggedIn(Box<User>),
    MustSetUp(Box<(PendingLogin, User)>),
}

impl Setter {
    fn user(&self) -> &User {
        match self {
            Setter::LoggedIn(user) => user,
            Setter::MustSetUp(held) => &held.1,
        }
    }
}

/// The setter, or the answer for someone who may not set up (anonymous: to the login page;
/// a login older than `SECURITY_FRESHNESS`: to `/verify`).
async fn setter(web: &Web, return_to: &str) -> Result<Result<Setter, HttpResponse>, AppError> {
    if let Some(current) = &web.user {
        if let Some(reauthenticate) = require_fresh(web, current, return_to) {
            return Ok(Err(reauthenticate));
        }
        return Ok(Ok(Setter::LoggedIn(Box::new(current.user.clone()))));
    }
    if let Some((pending, user)) = crate::web::pending::held_with_user(web).await? {
        if pending.method.is_none() {
            return Ok(Ok(Setter::MustSetUp(Box::new((pending, user)))));
        }
    }
    Err(AppError::Unauthenticated {
        login_url: crate::domain::SafeNext::login_url_for(web.path(Route::Login), return_to),
    })
}

/// The answer to a mid-login step without a login in the middle: Flask-Security's 400 with
/// "You currently do not have permissions to access this page" (JSON), or back to the login
/// page (HTML; `SECURITY_TWO_FACTOR_ERROR_VIEW` when set).
fn not_mid_login(web: &Web) -> HttpResponse {
    let message = web.msg(messages::TWO_FACTOR_PERMISSION_DENIED, &[]);
    match web.format {
        Format::Json => HttpResponse::BadRequest().json(json!({
            "meta": {"code": 400},
            "response": {"errors": [message], "field_errors": {"": [message]}},
        })),
        Format::Html => {
            web.flash("error", message);
            redirect(&crate::web::spa::two_factor_error(web))
        }
    }
}

fn available_methods(web: &Web) -> Vec<&'static str> {
    web.settings()
        .two_factor
        .methods
        .iter()
        .map(|m| m.as_str())
        .collect()
}

fn setup_context(web: &Web, user: &User, required: bool, setup: Option<Value>) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert(
        "tf",
        &json!({
            "available_methods": available_methods(web),
            "primary_method": user.tf_primary_method,
            "required": required,
            "phone": user.tf_phone_number,
        }),
    );
    ctx.insert("setup", &setup);
    ctx
}

fn setup_view(
    challenge_key: Option<&two_factor::AuthenticatorKey>,
    pending: &PendingSetup,
    sent_to: Option<&str>,
) -> Value {
    json!({
        "method": pending.method,
        "token": pending.token,
        "authenticator": challenge_key.map(|k| json!({
            "key": k.pretty, "uri": k.uri, "qr_svg": k.qr_svg,
            "issuer": k.issuer, "account": k.account,
        })),
        "sent_to": sent_to,
    })
}

/// `GET /tf-setup`.
pub async fn setup_form(web: Web) -> Result<HttpResponse, AppError> {
    let setter = match setter(&web, web.path(Route::TfSetup)).await? {
        Ok(setter) => setter,
        Err(answer) => return Ok(answer),
    };
    let user = setter.user();
    let required = matches!(setter, Setter::MustSetUp(_));
    if web.format.is_json() {
        let mut methods = available_methods(&web);
        if user.tf_primary_method.is_some() {
            methods.push("disable");
        }
        return Ok(web.json_ok(json!({
            "csrf_token": web.csrf_token(),
            "tf_available_methods": methods,
            "tf_method": user.tf_primary_method,
            "tf_primary_method": user.tf_primary_method,
            "tf_phone_number": user.tf_phone_number,
            "tf_required": required,
        })));
    }
    if required {
        web.flash("info", web.msg(messages::TWO_FACTOR_SETUP_REQUIRED, &[]));
    }
    web.page(SETUP, setup_context(&web, user, required, None))
}

/// `POST /tf-setup`: start setting up a method (`setup`), or switch two-factor off
/// (`setup=disable`).
pub async fn setup_submit(web: Web, form: Submission<SetupForm>) -> Result<HttpResponse, AppError> {
    let setter = match setter(&web, web.path(Route::TfSetup)).await? {
        Ok(setter) => setter,
        Err(answer) => return Ok(answer),
    };
    let (user, required) = (setter.user(), matches!(setter, Setter::MustSetUp(_)));
    let (form, client) = (form.data, signin::client_key(&web));
    let (services, origin) = (web.services(), web.client());
    let (choice, phone) = (form.setup.unwrap_or_default(), form.phone.as_deref());
    let step =
        two_factor::setup_request(&services, user, required, &choice, phone, &client, &origin);
    match step.await? {
        SetupStep::Disabled(_) => Ok(web.success(
            &crate::web::spa::two_factor_post_setup(&web),
            Some(("success", web.msg(messages::TWO_FACTOR_DISABLED, &[]))),
            json!({"tf_method": null, "tf_primary_method": null, "tf_phone": null}),
        )),
        SetupStep::Refused { field, message } => {
            let errors = FormErrors::single(field, web.msg(message, &[]));
            web.form_failure(SETUP, setup_context(&web, user, required, None), &errors)
        }
        SetupStep::Started {
            challenge,
            method,
            sent_to,
        } => setup_started(&web, user, required, *challenge, method, sent_to),
    }
}

/// A started setup: kept in the session until its first code, and shown (the key for the
/// authenticator, where the code went otherwise).
fn setup_started(
    web: &Web,
    user: &User,
    required: bool,
    challenge: SetupChallenge,
    method: TwoFactorMethod,
    sent_to: Option<String>,
) -> Result<HttpResponse, AppError> {
    let SetupChallenge {
        pending,
        authenticator,
    } = challenge;
    web.session
        .insert(SETUP_KEY, &pending)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("keeping the setup: {e}")))?;
    if web.format.is_json() {
        let mut response = json!({
            "csrf_token": web.csrf_token(),
            "tf_state": "validating_profile",
            "tf_method": method.as_str(),
            "tf_primary_method": user.tf_primary_method,
            "tf_state_token": pending.token,
        });
        if let Some(key) = &authenticator {
            response["tf_authr_key"] = json!(key.pretty);
            response["tf_authr_b32key"] = json!(key.base32);
            response["tf_authr_uri"] = json!(key.uri);
            response["tf_authr_issuer"] = json!(key.issuer);
            response["tf_authr_username"] = json!(key.account);
        }
        return Ok(web.json_ok(response));
    }
    let view = setup_view(authenticator.as_ref(), &pending, sent_to.as_deref());
    web.page(SETUP, setup_context(web, user, required, Some(view)))
}

/// `POST /tf-setup/<token>`: the first code of a started setup.
pub async fn setup_validate(
    web: Web,
    token: aweb::Path<String>,
    form: Submission<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let setter = match setter(&web, web.path(Route::TfSetup)).await? {
        Ok(setter) => setter,
        Err(answer) => return Ok(answer),
    };
    let (user, required) = (setter.user(), matches!(setter, Setter::MustSetUp(_)));
    let pending: Option<PendingSetup> = web.session.get(SETUP_KEY).ok().flatten();
    let Some(pending) = pending.filter(|p| p.is_for(token.as_str(), user)) else {
        return setup_expired(&web, user, required);
    };
    let code = form.data.code.unwrap_or_default();
    let client = signin::client_key(&web);
    let (services, origin) = (web.services(), web.client());
    let finished = two_factor::finish_setup(&services, user, &pending, &code, &client, &origin);
    match finished.await? {
        SetupOutcome::Done(updated) => setup_done(&web, &setter, &pending, &updated).await,
        SetupOutcome::WrongCode => {
            let errors =
                FormErrors::single("code", web.msg(messages::TWO_FACTOR_INVALID_TOKEN, &[]));
            let key = pending.authenticator(&services, user);
            let view = setup_view(key.as_ref(), &pending, None);
            let ctx = setup_context(&web, user, required, Some(view));
            web.form_failure(SETUP, ctx, &errors)
        }
        SetupOutcome::Expired => {
            web.session.remove(SETUP_KEY);
            setup_expired(&web, user, required)
        }
        SetupOutcome::Throttled { retry_after } => {
            Err(signin::throttled(&web, "two_factor_throttled", retry_after))
        }
    }
}

/// The setup form again: the started setup is gone (or never was).
fn setup_expired(web: &Web, user: &User, required: bool) -> Result<HttpResponse, AppError> {
    let within = web.messages.period(web.settings().two_factor.setup_within);
    let errors = FormErrors::single(
        "code",
        web.msg(messages::TWO_FACTOR_SETUP_EXPIRED, &[("within", &within)]),
    );
    web.form_failure(SETUP, setup_context(web, user, required, None), &errors)
}

/// A setup proved by its first code: a login waiting for it goes on, else the setup page.
async fn setup_done(
    web: &Web,
    setter: &Setter,
    pending: &PendingSetup,
    updated: &User,
) -> Result<HttpResponse, AppError> {
    web.session.remove(SETUP_KEY);
    tracing::info!(
        event = "two_factor_enabled",
        user_id = updated.id,
        method = %pending.method,
        "second factor set up"
    );
    if let Setter::MustSetUp(held) = setter {
        // The login that had to wait for this setup goes on: the code just proved the new
        // factor. Then its recovery codes, before the page it was going to.
        let second = pending.method.as_str();
        let login = signin::complete_with_new_factor(web, &held.0, updated, second).await?;
        let then = login.headers().get(actix_web::http::header::LOCATION);
        let then = then.and_then(|v| v.to_str().ok()).map(str::to_owned);
        let step = match then {
            Some(then) => codes_as_next_step(web, updated, &then).await?,
            None => None,
        };
        return Ok(match step {
            Some(step) => crate::web::page::with_cookies_of(step, &login),
            None => login,
        });
    }
    // Turned on (it was off): the page says so; JSON keeps Flask-Security's message.
    let turned_on = setter.user().tf_primary_method.is_none() && !web.format.is_json();
    let message = if turned_on {
        web.translate("Two-factor sign-in is on.", &[])
    } else {
        web.msg(messages::TWO_FACTOR_CHANGE_METHOD_SUCCESSFUL, &[])
    };
    let post_setup = crate::web::spa::two_factor_post_setup(web);
    if turned_on {
        // The recovery codes' "Continue" goes to SECURITY_TWO_FACTOR_POST_SETUP_VIEW when set.
        let then = match web.settings().spa.views.two_factor_post_setup {
            Some(_) => post_setup.as_str(),
            None => web.path(Route::Profile),
        };
        if let Some(step) = codes_as_next_step(web, updated, then).await? {
            web.flash("success", message);
            return Ok(step);
        }
    }
    Ok(web.success(
        &post_setup,
        Some(("success", message)),
        json!({
            "tf_method": updated.tf_primary_method,
            "tf_primary_method": updated.tf_primary_method,
            "tf_phone": updated.tf_phone_number,
        }),
    ))
}

/// As GitHub does: two-factor sign-in has just been turned on and the user has no recovery
/// codes, so they are made now and shown as the next step, whose "Continue" goes to `then`
/// (a browser only: Flask-Security's JSON answers are unchanged).
async fn codes_as_next_step(
    web: &Web,
    user: &User,
    then: &str,
) -> Result<Option<HttpResponse>, AppError> {
    let wanted = !web.format.is_json()
        && web.settings().two_factor.recovery_codes
        && two_factor::recovery_codes_left(&web.state.services, user) == 0;
    if !wanted {
        return Ok(None);
    }
    let codes = two_factor::replace_recovery_codes(&web.services(), user, &web.client()).await?;
    let _ = web
        .session
        .insert(SHOWN_CODES_KEY, two_factor::ShownCodes::new(user, &codes));
    let then = percent_encoding::utf8_percent_encode(then, percent_encoding::NON_ALPHANUMERIC);
    let location = web.urls().with_query(
        Route::MfRecoveryCodes,
        &format!("show_codes=true&next={then}"),
    );
    Ok(Some(redirect(&location)))
}

fn recovery_options(web: &Web, user: &User) -> Value {
    let tf = &web.settings().two_factor;
    let has_codes =
        tf.recovery_codes && two_factor::recovery_codes_left(&web.state.services, user) > 0;
    // As Flask-Security: an option the settings or the account do not offer is left out.
    let mut options = serde_json::Map::new();
    options.insert("help".into(), json!(web.path(Route::TfRescue)));
    if tf.rescue_email {
        options.insert("email".into(), json!(web.path(Route::TfRescue)));
    }
    if has_codes {
        options.insert("recovery_code".into(), json!(web.path(Route::MfRecovery)));
    }
    Value::Object(options)
}

/// The second-factor passkey page of this pending login, when the user has such a passkey
/// besides the code (`next` kept): the code page and `/tf-select` offer it.
async fn passkey_instead(
    web: &Web,
    pending: &PendingLogin,
    user: &User,
) -> Result<Option<String>, AppError> {
    if !crate::auth::passkeys::has_second_factor(&web.services(), user).await? {
        return Ok(None);
    }
    Ok(Some(
        web.urls()
            .with_next(Route::WanSignin, pending.next.as_deref()),
    ))
}

async fn verify_context(
    web: &Web,
    pending: &PendingLogin,
    user: &User,
) -> Result<tera::Context, AppError> {
    let mut ctx = tera::Context::new();
    ctx.insert("passkey_url", &passkey_instead(web, pending, user).await?);
    ctx.insert("tf_method", &pending.method);
    // Who is signing in (they proved the password), so a shared computer shows whose code.
    ctx.insert(
        "signing_in_as",
        &user.email.as_deref().or(user.username.as_deref()),
    );
    ctx.insert("next", pending.next.as_deref().unwrap_or(""));
    ctx.insert("recovery_options", &recovery_options(web, user));
    ctx.insert(
        "remember_device",
        &!web.settings().two_factor.always_validate,
    );
    Ok(ctx)
}

/// The pending login waiting for its code (a login that must first set up has none).
async fn waiting_login(web: &Web) -> Result<Option<(PendingLogin, User)>, AppError> {
    Ok(crate::web::pending::held_with_user(web)
        .await?
        .filter(|(pending, _)| pending.method.is_some()))
}

/// `GET /tf-validate`.
pub async fn validate_form(web: Web) -> Result<HttpResponse, AppError> {
    let Some((pending, user)) = waiting_login(&web).await? else {
        return Ok(not_mid_login(&web));
    };
    if web.format.is_json() {
        return Ok(web.json_ok(json!({
            "csrf_token": web.csrf_token(),
            "tf_method": pending.method,
            "recovery_options": recovery_options(&web, &user),
        })));
    }
    web.page(VERIFY, verify_context(&web, &pending, &user).await?)
}

/// `POST /tf-validate`: the second step of a login.
pub async fn validate_submit(
    web: Web,
    form: Submission<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let Some((pending, user)) = waiting_login(&web).await? else {
        return Ok(not_mid_login(&web));
    };
    let form = form.data;
    let code = form.code.unwrap_or_default();
    let remember_device = form.remember_device.is_some_and(|f| f.0);
    let browser = signin::browser(&web);
    let outcome = factors::code(
        &web.services(),
        &browser,
        &pending,
        &user,
        &code,
        remember_device,
    )
    .await?;
    // The page again, for a wrong code only (its passkey lookup is no cost of a right one).
    let again = match outcome {
        Attempt::Refused(()) => verify_context(&web, &pending, &user).await?,
        _ => tera::Context::new(),
    };
    signin::answer(&web, outcome, "two_factor_throttled", json!({}), |()| {
        let errors = FormErrors::single("code", web.msg(messages::TWO_FACTOR_INVALID_TOKEN, &[]));
        web.form_failure(VERIFY, again, &errors)
    })
}

/// `GET /tf-rescue`: the rescue options of a pending login.
pub async fn rescue_form(web: Web) -> Result<HttpResponse, AppError> {
    let Some((pending, user)) = waiting_login(&web).await? else {
        return Ok(not_mid_login(&web));
    };
    if web.format.is_json() {
        return Ok(web.json_ok(json!({
            "csrf_token": web.csrf_token(),
            "recovery_options": recovery_options(&web, &user),
        })));
    }
    web.page(VERIFY, verify_context(&web, &pending, &user).await?)
}

/// `POST /tf-rescue`: `help_setup=email` mails a code to the account's address,
/// `help_setup=help` asks the site's support, `help_setup=recovery_code` goes to
/// `/mf-recovery`.
pub async fn rescue_submit(
    web: Web,
    form: Submission<RescueForm>,
) -> Result<HttpResponse, AppError> {
    let Some((mut pending, user)) = waiting_login(&web).await? else {
        return Ok(not_mid_login(&web));
    };
    let how = form.data.help_setup.unwrap_or_default();
    let browser = signin::browser(&web);
    let sent = match factors::rescue(&web.services(), &browser, &mut pending, &user, &how).await? {
        Rescue::Mailed => {
            crate::web::pending::hold(&web, &pending)?;
            web.msg(messages::CODE_HAS_BEEN_SENT, &[])
        }
        Rescue::SupportAsked => web.translate(
            "Your request went to the site's support. They will answer at your email address.",
            &[],
        ),
        Rescue::RecoveryCode => return Ok(redirect(web.path(Route::MfRecovery))),
        Rescue::NotAvailable => {
            let message = web.msg(messages::TWO_FACTOR_METHOD_NOT_AVAILABLE, &[]);
            let errors = FormErrors::single("help_setup", message);
            return web.form_failure(
                VERIFY,
                verify_context(&web, &pending, &user).await?,
                &errors,
            );
        }
    };
    if web.format.is_json() {
        return Ok(web.json_ok(json!({
            "csrf_token": web.csrf_token(),
            "recovery_options": recovery_options(&web, &user),
        })));
    }
    web.flash("info", sent);
    web.page(VERIFY, verify_context(&web, &pending, &user).await?)
}

/// `GET /tf-select`: the second factors a pending login may use.
pub async fn select_form(web: Web) -> Result<HttpResponse, AppError> {
    let Some((pending, user)) = waiting_login(&web).await? else {
        return Ok(not_mid_login(&web));
    };
    let mut methods: Vec<String> = pending.method.iter().cloned().collect();
    if passkey_instead(&web, &pending, &user).await?.is_some() {
        methods.push(PASSKEY.to_owned());
    }
    if web.format.is_json() {
        return Ok(
            web.json_ok(json!({"csrf_token": web.csrf_token(), "tf_select_methods": methods}))
        );
    }
    let mut ctx = tera::Context::new();
    ctx.insert("tf_methods", &methods);
    web.page(SELECT, ctx)
}

/// `POST /tf-select` (`which`): go on with the chosen second factor.
pub async fn select_submit(
    web: Web,
    form: Submission<SelectForm>,
) -> Result<HttpResponse, AppError> {
    let Some((pending, user)) = waiting_login(&web).await? else {
        return Ok(not_mid_login(&web));
    };
    let which = form.data.which.unwrap_or_default();
    if which == PASSKEY {
        if let Some(url) = passkey_instead(&web, &pending, &user).await? {
            return Ok(web.success(&url, None, json!({"tf_method": which})));
        }
    }
    if pending.method.as_deref() != Some(which.as_str()) {
        let errors = FormErrors::single(
            "which",
            web.msg(messages::TWO_FACTOR_METHOD_NOT_AVAILABLE, &[]),
        );
        let mut ctx = tera::Context::new();
        ctx.insert("tf_methods", &pending.method.iter().collect::<Vec<_>>());
        return web.form_failure(SELECT, ctx, &errors);
    }
    Ok(web.success(
        web.path(Route::TfValidate),
        None,
        json!({"tf_method": which}),
    ))
}

// ---------------------------------------------------------------------------------------
// Recovery codes
// ---------------------------------------------------------------------------------------

fn codes_context(codes: &[String], left: usize) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("recovery_codes", codes);
    ctx.insert("codes_left", &left);
    ctx
}

/// Where "Continue" goes under codes just shown: the checked `next`, else the account.
fn continue_to(web: &Web) -> String {
    let next = query_param(&web.request, "next");
    crate::web::submission::safe_next(web, next)
        .ok()
        .flatten()
        .unwrap_or_else(|| web.path(Route::Profile).to_owned())
}

/// `GET /mf-recovery-codes`: how many are left; `?show_codes=true` shows the codes made in
/// this session (the database keeps only digests).
pub async fn codes_form(
    web: Web,
    current: crate::web::AuthenticatedUser,
) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) = require_fresh(&web, &current.0, web.path(Route::MfRecoveryCodes))
    {
        return Ok(reauthenticate);
    }
    let show = query_param(&web.request, "show_codes").is_some_and(|v| v == "true" || v == "1");
    let shown: Vec<String> = if show {
        web.session
            .get::<two_factor::ShownCodes>(SHOWN_CODES_KEY)
            .ok()
            .flatten()
            .and_then(|kept| kept.for_user(&current.0.user))
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let left = two_factor::recovery_codes_left(&web.state.services, &current.0.user);
    if web.format.is_json() {
        return Ok(web.json_ok(json!({
            "csrf_token": web.csrf_token(),
            "recovery_codes": shown,
            "recovery_codes_left": left,
        })));
    }
    let mut ctx = codes_context(&shown, left);
    ctx.insert("continue_to", &continue_to(&web));
    web.page(CODES, ctx)
}

/// `POST /mf-recovery-codes`: new codes, replacing the old ones; shown this once.
pub async fn codes_submit(
    web: Web,
    current: crate::web::AuthenticatedUser,
    _form: Submission<crate::web::submission::NoFields>,
) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) = require_fresh(&web, &current.0, web.path(Route::MfRecoveryCodes))
    {
        return Ok(reauthenticate);
    }
    let user = &current.0.user;
    let codes = two_factor::replace_recovery_codes(&web.services(), user, &web.client()).await?;
    let _ = web
        .session
        .insert(SHOWN_CODES_KEY, two_factor::ShownCodes::new(user, &codes));
    if web.format.is_json() {
        return Ok(web.json_ok(json!({
            "csrf_token": web.csrf_token(),
            "recovery_codes": codes,
        })));
    }
    let mut ctx = codes_context(&codes, codes.len());
    ctx.insert("continue_to", &continue_to(&web));
    web.page(CODES, ctx)
}

/// "You have 3 recovery codes left.", and a nudge to make new ones when few are left.
fn codes_left_message(web: &Web, left: usize) -> String {
    let count = left.to_string();
    let mut text = match left {
        1 => web.translate("You have 1 recovery code left.", &[]),
        _ => web.translate(
            "You have %(count)s recovery codes left.",
            &[("count", &count)],
        ),
    };
    if left <= 3 {
        text.push(' ');
        text.push_str(&web.translate(
            "Make new ones on the recovery codes page before you run out.",
            &[],
        ));
    }
    text
}

/// `GET /mf-recovery`.
pub async fn recovery_form(web: Web) -> Result<HttpResponse, AppError> {
    if waiting_login(&web).await?.is_none() {
        return Ok(not_mid_login(&web));
    }
    if web.format.is_json() {
        return Ok(web.json_ok(json!({"csrf_token": web.csrf_token()})));
    }
    web.page(RECOVERY, tera::Context::new())
}

/// `POST /mf-recovery` (`code`): a recovery code instead of the second factor.
pub async fn recovery_submit(
    web: Web,
    form: Submission<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let Some((pending, user)) = waiting_login(&web).await? else {
        return Ok(not_mid_login(&web));
    };
    let code = form.data.code.unwrap_or_default();
    let browser = signin::browser(&web);
    let outcome = factors::recovery_code(&web.services(), &browser, &pending, &user, &code).await?;
    if matches!(outcome, Attempt::Proved(_)) && !web.format.is_json() {
        // The code just used is gone: say how many are left, and what to do when few are.
        let left = two_factor::recovery_codes_left(&web.state.services, &user).saturating_sub(1);
        web.flash("info", codes_left_message(&web, left));
    }
    signin::answer(&web, outcome, "two_factor_throttled", json!({}), |()| {
        let errors = FormErrors::single("code", web.msg(messages::INVALID_RECOVERY_CODE, &[]));
        web.form_failure(RECOVERY, tera::Context::new(), &errors)
    })
}
