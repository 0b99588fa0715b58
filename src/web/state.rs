//! What every request shares: the rules' [`Services`], plus what only the web layer keeps
//! (the coalesced session lookups and the settings' part of every page). It dereferences to
//! the services, so a handler reaches `state.db` or `state.settings` directly.

use std::collections::BTreeMap;
use std::ops::Deref;

use serde_json::json;

use crate::auth::login::SessionLookups;
use crate::auth::services::StartError;
use crate::auth::Services;
use crate::config::Settings;
use crate::urls::Route;

pub struct AppState {
    pub services: Services,
    /// Who is logged in, for every request with a session cookie.
    pub session_lookups: SessionLookups,
    /// The settings' part of every page context (see [`page_defaults`]).
    pub page_defaults: crate::templates::overlay::PageDefaults,
    /// The `Content-Security-Policy` with social login's providers in `form-action`, when
    /// there are any: made by the security headers' middleware at its first answer.
    pub content_security_policy: std::sync::OnceLock<Option<actix_web::http::header::HeaderValue>>,
}

impl AppState {
    /// Starts the services (database with migrations, templates, hashing) for a server.
    /// Blocking: call it off the async executor.
    pub fn new(settings: Settings) -> Result<Self, StartError> {
        let pool = settings.database_pool;
        Self::with_services(Services::start(settings, pool)?)
    }

    /// The web state around services built elsewhere (e.g. with an SMS provider of the
    /// app's). Refuses second factors the settings would ignore, as [`AppState::new`] does.
    pub fn with_services(services: Services) -> Result<Self, StartError> {
        crate::auth::two_factor::check_no_unused_second_factors(&services)?;
        check_oauth_paths(&services.settings)?;
        let page_defaults = crate::templates::overlay::PageDefaults::new(page_defaults(
            &services.settings,
            &services.messages,
        ));
        let session_lookups = crate::auth::login::session_lookups(
            services.db.clone(),
            services.settings.session_policy.clone(),
        );
        Ok(Self {
            services,
            session_lookups,
            page_defaults,
            content_security_policy: std::sync::OnceLock::new(),
        })
    }
}

/// Social login is served at Flask-Security's default paths, from the URL table:
/// `SECURITY_OAUTH_*_URL` may name them, not others.
fn check_oauth_paths(settings: &Settings) -> Result<(), crate::config::ConfigError> {
    for (key, value) in &settings.oauth.url_keys {
        let route = match *key {
            "SECURITY_OAUTH_START_URL" => Route::OauthStart,
            "SECURITY_OAUTH_RESPONSE_URL" => Route::OauthResponse,
            "SECURITY_OAUTH_VERIFY_START_URL" => Route::OauthVerifyStart,
            _ => Route::OauthVerifyResponse,
        };
        if value.trim_end_matches('/') != route.base() {
            return Err(crate::config::ConfigError::new(
                key,
                format!(
                    "Latchkey serves this at {} only, got {value:?}",
                    route.base()
                ),
            ));
        }
    }
    Ok(())
}

impl AppState {
    /// Starts the housekeeping task on the current runtime (one per process), unless
    /// `HOUSEKEEPING_INTERVAL` is 0.
    pub fn spawn_housekeeping(&self) {
        if let Some(interval) = self.settings.housekeeping_interval {
            actix_web::rt::spawn(crate::auth::housekeeping::run_every(
                self.services.clone(),
                interval,
            ));
        }
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

/// The part of every page's context that only the settings decide (`config`, `urls`, the
/// languages `messages` offers, and empty `errors` / `form_errors`): built once at start-up,
/// copied into each page.
pub fn page_defaults(
    settings: &crate::config::Settings,
    messages: &crate::messages::Messages,
) -> tera::Context {
    let features = &settings.features;
    let wan = &settings.webauthn;
    let us = &settings.unified_signin;
    let account = &settings.account_changes;
    let signup = wan.enabled && wan.register_without_password && features.registerable;
    let mut ctx = tera::Context::new();
    ctx.insert(
        "config",
        &json!({
            "app_name": settings.app_name,
            "registerable": features.registerable,
            "confirmable": features.confirmable,
            "recoverable": features.recoverable,
            "changeable": features.changeable,
            "username_enable": features.username_enable,
            "password_confirm_required": features.password_confirm_required,
            "password_required": features.password_required,
            // What the login form's identity may be (`SECURITY_USER_IDENTITY_ATTRIBUTES`).
            "login_by_email": features.identifies_by(crate::config::IdentityAttribute::Email),
            "login_by_username": features.identifies_by(crate::config::IdentityAttribute::Username),
            "two_factor": settings.two_factor.enabled,
            "recovery_codes": settings.two_factor.recovery_codes,
            "webauthn": wan.enabled,
            "wan_first_factor": wan.enabled && wan.allow_as_first_factor,
            "unified_signin": us.enabled,
            "change_email": account.change_email,
            "change_username": account.change_username,
            "username_recovery": account.username_recovery,
            // The rules a new password or username must meet, shown as hints up front.
            "password_rules": {
                "min": settings.password_policy.min_length,
                "max": settings.password_policy.max_length,
                "strength": settings.password_policy.zxcvbn_min_score.is_some(),
                "breached": settings.password_policy.check_breached,
            },
            "username_rules": {
                "min": settings.username_policy.min_length,
                "max": settings.username_policy.max_length,
            },
        }),
    );
    ctx.insert(
        "urls",
        &json!({
            "home": Route::Home.path(),
            "login": Route::Login.path(),
            "logout": Route::Logout.path(),
            "register": features.registerable.then_some(Route::Register.path()),
            "forgot_password": features.recoverable.then_some(Route::Reset.path()),
            "send_confirmation": features.confirmable.then_some(Route::Confirm.path()),
            "change_password": features.changeable.then_some(Route::Change.path()),
            "profile": Route::Profile.path(),
            "sessions": Route::Sessions.path(),
            "verify": Route::Verify.path(),
            "premium": Route::Premium.path(),
            "admin": Route::Admin.path(),
            "tf_setup": settings.two_factor.enabled.then_some(Route::TfSetup.path()),
            "tf_validate": settings.two_factor.enabled.then_some(Route::TfValidate.path()),
            "tf_select": settings.two_factor.enabled.then_some(Route::TfSelect.path()),
            "tf_rescue": settings.two_factor.enabled.then_some(Route::TfRescue.path()),
            "mf_recovery_codes": settings.two_factor.recovery_codes.then_some(Route::MfRecoveryCodes.path()),
            "mf_recovery": settings.two_factor.recovery_codes.then_some(Route::MfRecovery.path()),
            "wan_register": wan.enabled.then_some(Route::WanRegister.path()),
            "wan_delete": wan.enabled.then_some(Route::WanDelete.path()),
            "wan_signin": wan.enabled.then_some(Route::WanSignin.path()),
            "wan_verify": wan.enabled.then_some(Route::WanVerify.path()),
            "wan_signup": signup.then_some(Route::WanSignup.path()),
            "us_signin": us.enabled.then_some(Route::UsSignin.path()),
            "us_signin_send_code": us.enabled.then_some(Route::UsSigninSendCode.path()),
            "us_setup": us.enabled.then_some(Route::UsSetup.path()),
            "us_verify": us.enabled.then_some(Route::UsVerify.path()),
            "us_verify_send_code": us.enabled.then_some(Route::UsVerifySendCode.path()),
            "us_verify_link": us.enabled.then_some(Route::UsVerifyLink.path()),
            "change_email": account.change_email.then_some(Route::ChangeEmail.path()),
            "change_username": account.change_username.then_some(Route::ChangeUsername.path()),
            "recover_username": account.username_recovery.then_some(Route::RecoverUsername.path()),
            "oauth_start": settings.oauth.enabled.then_some(Route::OauthStart.base()),
            "oauth_verify_start": settings.oauth.enabled.then_some(Route::OauthVerifyStart.base()),
        }),
    );
    // Social login's providers, under Flask-Security's name for them (its templates'
    // `security.oauthglue.provider_names`).
    ctx.insert("oauth_provider_names", &settings.oauth.provider_names());
    // The language chooser's choices.
    let languages: Vec<_> = messages
        .languages()
        .iter()
        .map(|lang| json!({"code": lang.as_str(), "name": crate::messages::language::native_name(lang)}))
        .collect();
    ctx.insert("languages", &languages);
    ctx.insert("errors", &BTreeMap::<String, Vec<String>>::new());
    ctx.insert("form_errors", &Vec::<String>::new());
    ctx
}
