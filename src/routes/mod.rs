//! HTTP handlers, one module per feature. Handlers stay thin: they parse, call the rules in
//! `crate::auth` / `crate::db`, and answer through [`crate::web::Web`].

pub mod admin;
pub mod api_tokens;
pub mod change;
pub mod change_email;
pub mod confirm;
pub mod health;
pub mod home;
pub mod language;
pub mod limits;
pub mod login;
pub mod logout;
mod mount;
pub mod oauth;
pub mod oidc;
pub mod passkeys;
pub mod recover;
pub mod register;
pub mod sessions;
pub mod two_factor;
pub mod unified;
pub mod usernames;
pub mod verify;

use actix_web::web;

use crate::config::Settings;

/// Mounts the routes of the enabled features; a disabled feature's URLs answer 404. Each
/// feature registers its own paths (from the app's [`crate::urls::Urls`]) in its `routes()`.
pub fn configure(cfg: &mut web::ServiceConfig, settings: &Settings, urls: crate::urls::Urls) {
    let features = &settings.features;
    home::routes(cfg, urls);
    admin::routes(cfg, urls);
    health::routes(cfg, urls);
    login::routes(cfg, urls);
    logout::routes(cfg, urls);
    language::routes(cfg, urls);
    sessions::routes(cfg, urls);
    api_tokens::routes(cfg, urls);
    verify::routes(cfg, urls);
    oauth::routes(cfg, settings, urls);
    oidc::routes(cfg, urls);
    if features.registerable {
        register::routes(cfg, urls);
    }
    if features.confirmable {
        confirm::routes(cfg, urls);
    }
    if features.recoverable {
        recover::routes(cfg, urls);
    }
    if settings.two_factor.enabled {
        two_factor::routes(cfg, urls);
    }
    if settings.two_factor.recovery_codes {
        two_factor::recovery_code_routes(cfg, urls);
    }
    if settings.unified_signin.enabled {
        unified::routes(cfg, urls);
    }
    let wan = &settings.webauthn;
    if wan.enabled {
        passkeys::routes(cfg, urls);
        if wan.register_without_password && features.registerable {
            passkeys::signup_routes(cfg, urls);
        }
    }
    if features.changeable {
        change::routes(cfg, urls);
    }
    if settings.api_tokens.enabled && settings.api_tokens.refresh {
        api_tokens::refresh_routes(cfg, urls);
    }
    let account = &settings.account_changes;
    if account.change_email {
        change_email::routes(cfg, urls);
        // The "this wasn't me" path mails a reset link: its page must exist even when the
        // forgot-password form does not.
        if !features.recoverable {
            recover::reset_routes(cfg, urls);
        }
    }
    if account.change_username {
        usernames::change_routes(cfg, urls);
    }
    if account.username_recovery {
        usernames::recover_routes(cfg, urls);
    }
}
