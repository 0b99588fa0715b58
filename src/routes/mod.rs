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

/// Mounts the routes of the enabled features; a disabled feature's URLs answer 404.
pub fn configure(cfg: &mut web::ServiceConfig, settings: &Settings) {
    let features = &settings.features;
    // Pages answer GET and HEAD (same handler; actix sends no body for HEAD); any other
    // method on them is 405.
    cfg.service(page("/", home::index))
        .service(page("/profile", home::profile))
        .service(page("/premium", home::premium))
        .service(page("/admin", admin::index))
        .service(page("/healthz", health::healthz))
        .service(
            web::resource("/login")
                .route(web::get().to(login::form))
                .route(web::head().to(login::form))
                .route(web::post().to(login::submit)),
        )
        .service(web::resource("/logout").route(web::post().to(logout::submit)))
        .service(
            web::resource("/lang")
                .route(web::get().to(language::link))
                .route(web::head().to(language::link))
                .route(web::post().to(language::submit)),
        )
        .service(page("/sessions", sessions::index))
        .service(web::resource("/sessions/revoke").route(web::post().to(sessions::revoke)))
        .service(
            web::resource("/sessions/revoke-others").route(web::post().to(sessions::revoke_others)),
        )
        .service(web::resource("/sessions/revoke-token").route(web::post().to(api_tokens::revoke)))
        .service(
            web::resource("/verify")
                .route(web::get().to(verify::form))
                .route(web::head().to(verify::form))
                .route(web::post().to(verify::submit)),
        );
    if features.registerable {
        cfg.service(
            web::resource("/register")
                .route(web::get().to(register::form))
                .route(web::head().to(register::form))
                .route(web::post().to(register::submit)),
        );
    }
    if features.confirmable {
        cfg.service(
            web::resource("/confirm")
                .route(web::get().to(confirm::form))
                .route(web::post().to(confirm::submit)),
        )
        .route("/confirm/{token}", web::get().to(confirm::with_token));
    }
    if features.recoverable {
        cfg.service(
            web::resource("/reset")
                .route(web::get().to(recover::forgot_form))
                .route(web::post().to(recover::forgot_submit)),
        )
        .service(
            web::resource("/reset/{token}")
                .route(web::get().to(recover::reset_form))
                .route(web::post().to(recover::reset_submit)),
        );
    }
    if settings.two_factor.enabled {
        cfg.service(
            web::resource("/tf-setup")
                .route(web::get().to(two_factor::setup_form))
                .route(web::head().to(two_factor::setup_form))
                .route(web::post().to(two_factor::setup_submit)),
        )
        .route(
            "/tf-setup/{token}",
            web::post().to(two_factor::setup_validate),
        )
        .service(
            web::resource("/tf-validate")
                .route(web::get().to(two_factor::validate_form))
                .route(web::head().to(two_factor::validate_form))
                .route(web::post().to(two_factor::validate_submit)),
        )
        .service(
            web::resource("/tf-rescue")
                .route(web::get().to(two_factor::rescue_form))
                .route(web::post().to(two_factor::rescue_submit)),
        )
        .service(
            web::resource("/tf-select")
                .route(web::get().to(two_factor::select_form))
                .route(web::post().to(two_factor::select_submit)),
        );
    }
    if settings.two_factor.recovery_codes {
        cfg.service(
            web::resource("/mf-recovery-codes")
                .route(web::get().to(two_factor::codes_form))
                .route(web::head().to(two_factor::codes_form))
                .route(web::post().to(two_factor::codes_submit)),
        )
        .service(
            web::resource("/mf-recovery")
                .route(web::get().to(two_factor::recovery_form))
                .route(web::post().to(two_factor::recovery_submit)),
        );
    }
    if settings.unified_signin.enabled {
        cfg.service(
            web::resource("/us-signin")
                .route(web::get().to(unified::signin_form))
                .route(web::head().to(unified::signin_form))
                .route(web::post().to(unified::signin_submit)),
        )
        .route(
            "/us-signin/send-code",
            web::post().to(unified::send_signin_code),
        )
        .service(
            web::resource("/us-setup")
                .route(web::get().to(unified::setup_form))
                .route(web::head().to(unified::setup_form))
                .route(web::post().to(unified::setup_submit)),
        )
        .route("/us-setup/{state}", web::post().to(unified::setup_validate))
        .service(
            web::resource("/us-verify")
                .route(web::get().to(unified::verify_form))
                .route(web::head().to(unified::verify_form))
                .route(web::post().to(unified::verify_submit)),
        )
        .route(
            "/us-verify/send-code",
            web::post().to(unified::send_verify_code),
        )
        .service(
            web::resource("/us-verify-link")
                .route(web::get().to(unified::verify_link))
                .route(web::post().to(unified::verify_link_confirm)),
        );
    }
    let wan = &settings.webauthn;
    if wan.enabled {
        cfg.service(
            web::resource("/wan-register")
                .route(web::get().to(passkeys::register_form))
                .route(web::head().to(passkeys::register_form))
                .route(web::post().to(passkeys::register_begin)),
        )
        .route(
            "/wan-register/{state}",
            web::post().to(passkeys::register_finish),
        )
        .service(web::resource("/wan-delete").route(web::post().to(passkeys::delete)))
        .service(
            web::resource("/wan-signin")
                .route(web::get().to(passkeys::signin_form))
                .route(web::head().to(passkeys::signin_form))
                .route(web::post().to(passkeys::signin_begin)),
        )
        .route(
            "/wan-signin/{state}",
            web::post().to(passkeys::signin_finish),
        )
        .service(
            web::resource("/wan-verify")
                .route(web::get().to(passkeys::verify_form))
                .route(web::head().to(passkeys::verify_form))
                .route(web::post().to(passkeys::verify_begin)),
        )
        .route(
            "/wan-verify/{state}",
            web::post().to(passkeys::verify_finish),
        );
        if wan.register_without_password && features.registerable {
            cfg.service(
                web::resource("/wan-signup")
                    .route(web::get().to(passkeys::signup_form))
                    .route(web::head().to(passkeys::signup_form))
                    .route(web::post().to(passkeys::signup_begin)),
            )
            .route(
                "/wan-signup/{state}",
                web::post().to(passkeys::signup_finish),
            );
        }
    }
    if features.changeable {
        cfg.service(
            web::resource("/change")
                .route(web::get().to(change::form))
                .route(web::post().to(change::submit)),
        );
    }
    if settings.api_tokens.enabled && settings.api_tokens.refresh {
        cfg.service(web::resource("/refresh-token").route(web::post().to(api_tokens::refresh)));
    }
    let account = &settings.account_changes;
    if account.change_email {
        cfg.service(
            web::resource("/change-email")
                .route(web::get().to(change_email::form))
                .route(web::head().to(change_email::form))
                .route(web::post().to(change_email::submit)),
        )
        .route(
            "/change-email/{token}",
            web::get().to(change_email::confirm),
        )
        .service(
            web::resource("/change-email/revert/{token}")
                .route(web::get().to(change_email::revert_form))
                .route(web::post().to(change_email::revert_submit)),
        );
        // The "this wasn't me" path mails a reset link: its page must exist even when the
        // forgot-password form does not.
        if !features.recoverable {
            cfg.service(
                web::resource("/reset/{token}")
                    .route(web::get().to(recover::reset_form))
                    .route(web::post().to(recover::reset_submit)),
            );
        }
    }
    if account.change_username {
        cfg.service(
            web::resource("/change-username")
                .route(web::get().to(usernames::change_form))
                .route(web::head().to(usernames::change_form))
                .route(web::post().to(usernames::change_submit)),
        );
    }
    if account.username_recovery {
        cfg.service(
            web::resource("/recover-username")
                .route(web::get().to(usernames::recover_form))
                .route(web::head().to(usernames::recover_form))
                .route(web::post().to(usernames::recover_submit)),
        );
    }
}

fn page<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
}
