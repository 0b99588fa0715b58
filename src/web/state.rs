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
use crate::urls::{Route, Urls};

pub struct AppState {
    pub services: Services,
    /// Who is logged in, for every request with a session cookie.
    pub session_lookups: SessionLookups,
    /// The settings' part of every page context (see [`page_defaults`]).
    pub page_defaults: crate::templates::overlay::PageDefaults,
    /// The `Content-Security-Policy` with social login's providers in `form-action`, when
    /// there are any: made by the security headers' middleware at its first answer.
    pub content_security_policy: std::sync::OnceLock<Option<actix_web::http::header::HeaderValue>>,
    /// Where every route is served (`SECURITY_URL_PREFIX`, `SECURITY_*_URL`).
    pub urls: Urls,
}

/// Where the app of `req` serves its routes (Flask-Security's defaults outside an app).
pub fn urls_of(req: &actix_web::HttpRequest) -> Urls {
    req.app_data::<actix_web::web::Data<AppState>>()
        .map(|s| s.urls)
        .unwrap_or_default()
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
        let urls = services.urls;
        if let Some(clash) = urls.clash() {
            return Err(
                crate::config::ConfigError::new("SECURITY_URL_PREFIX", clash.to_string()).into(),
            );
        }
        let page_defaults = crate::templates::overlay::PageDefaults::new(page_defaults(
            &services.settings,
            &services.messages,
            urls,
        ));
        let session_lookups = crate::auth::login::session_lookups(
            services.db.clone(),
            services.settings.session_policy.clone(),
            services.settings.webauthn.enabled,
        );
        Ok(Self {
            services,
            session_lookups,
            page_defaults,
            content_security_policy: std::sync::OnceLock::new(),
            urls,
        })
    }
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
    urls: Urls,
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
                // SECURITY_USERNAME_ALLOWED_CHARS as Flask-Security's default: the hint may
                // say "letters or digits".
                "letters_and_digits": settings.username_policy.allowed
                    == Some(crate::config::Categories::LETTERS_AND_NUMBERS),
            },
        }),
    );
    let mut page_urls = json!({
            "home": urls.path(Route::Home),
            "login": urls.path(Route::Login),
            "logout": urls.path(Route::Logout),
            "register": features.registerable.then_some(urls.path(Route::Register)),
            "forgot_password": features.recoverable.then_some(urls.path(Route::Reset)),
            "send_confirmation": features.confirmable.then_some(urls.path(Route::Confirm)),
            "change_password": features.changeable.then_some(urls.path(Route::Change)),
            "profile": urls.path(Route::Profile),
            "sessions": urls.path(Route::Sessions),
            "sessions_revoke": urls.path(Route::SessionsRevoke),
            "sessions_revoke_others": urls.path(Route::SessionsRevokeOthers),
            "sessions_revoke_token": urls.path(Route::SessionsRevokeToken),
            "lang": urls.path(Route::Lang),
            "favicon": urls.path(Route::Favicon),
            "static": urls.base(Route::StaticFile),
            "verify": urls.path(Route::Verify),
            "premium": urls.path(Route::Premium),
            "admin": urls.path(Route::Admin),
            "tf_setup": settings.two_factor.enabled.then_some(urls.path(Route::TfSetup)),
            "tf_validate": settings.two_factor.enabled.then_some(urls.path(Route::TfValidate)),
            "tf_select": settings.two_factor.enabled.then_some(urls.path(Route::TfSelect)),
            "tf_rescue": settings.two_factor.enabled.then_some(urls.path(Route::TfRescue)),
            "mf_recovery_codes": settings.two_factor.recovery_codes.then_some(urls.path(Route::MfRecoveryCodes)),
            "mf_recovery": settings.two_factor.recovery_codes.then_some(urls.path(Route::MfRecovery)),
            "wan_register": wan.enabled.then_some(urls.path(Route::WanRegister)),
            "wan_delete": wan.enabled.then_some(urls.path(Route::WanDelete)),
            "wan_signin": wan.enabled.then_some(urls.path(Route::WanSignin)),
            "wan_verify": wan.enabled.then_some(urls.path(Route::WanVerify)),
            "wan_signup": signup.then_some(urls.path(Route::WanSignup)),
            "us_signin": us.enabled.then_some(urls.path(Route::UsSignin)),
            "us_signin_send_code": us.enabled.then_some(urls.path(Route::UsSigninSendCode)),
            "us_setup": us.enabled.then_some(urls.path(Route::UsSetup)),
            "us_verify": us.enabled.then_some(urls.path(Route::UsVerify)),
            "us_verify_send_code": us.enabled.then_some(urls.path(Route::UsVerifySendCode)),
            "us_verify_link": us.enabled.then_some(urls.path(Route::UsVerifyLink)),
            "change_email": account.change_email.then_some(urls.path(Route::ChangeEmail)),
            "change_username": account.change_username.then_some(urls.path(Route::ChangeUsername)),
            "recover_username": account.username_recovery.then_some(urls.path(Route::RecoverUsername)),
            "oauth_start": settings.oauth.enabled.then_some(urls.base(Route::OauthStart, )),
            "oauth_verify_start": settings.oauth.enabled.then_some(urls.base(Route::OauthVerifyStart, )),
    });
    // The identity provider's pages (a second object: one `json!` this long would pass
    // the macro's recursion limit).
    for (name, route) in [
        ("oidc_authorize", Route::OidcAuthorize),
        ("oidc_logout", Route::OidcLogout),
        ("oidc_apps", Route::OidcApps),
        ("oidc_apps_revoke", Route::OidcAppsRevoke),
    ] {
        page_urls[name] = json!(urls.path(route));
    }
    ctx.insert("urls", &page_urls);
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

#[cfg(test)]
mod tests {
    /// The settings read exactly the keys the URL table places routes with, with the same
    /// defaults (`config` and `urls` cannot see each other).
    #[test]
    fn the_settings_read_every_key_the_url_table_names() {
        let mut table = crate::urls::path_keys();
        let mut read = crate::config::PATH_KEYS.to_vec();
        table.sort_unstable();
        read.sort_unstable();
        assert_eq!(table, read);
    }

    /// A key moved in the settings moves the route in the app's table.
    #[test]
    fn the_settings_paths_make_the_apps_table() {
        let src = crate::config::Source::from_pairs([
            ("SECRET_KEY", "a-development-secret-key-of-enough-length"),
            ("SECURITY_PASSWORD_SALT", "salt"),
            ("DATABASE_URL", "test.db"),
            ("SECURITY_URL_PREFIX", "/auth/"),
            ("SECURITY_LOGIN_URL", "/signin"),
        ]);
        let paths = crate::config::Settings::from_source(&src).unwrap().paths;
        let urls = super::Urls::new(&paths.prefix, &paths.keys);
        assert_eq!(urls.path(crate::urls::Route::Login), "/auth/signin");
        assert_eq!(urls.path(crate::urls::Route::Reset), "/auth/reset");
    }
}
