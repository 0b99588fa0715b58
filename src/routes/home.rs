//! The tutorial's own pages: home, profile, premium.

use actix_web::HttpResponse;
use serde_json::json;

use super::mount;
use crate::urls::Route;
use crate::web::page::user_view;
use crate::web::{AppError, AuthenticatedUser, Format, Premium, Web};

/// Registers the home, profile and premium pages.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(mount::page(Route::Home, index))
        .service(mount::page(Route::Profile, profile))
        .service(mount::page(Route::Premium, premium));
}

/// How many of the user's latest security events the account page lists.
const ACTIVITY_SHOWN: i64 = 10;

pub async fn index(web: Web) -> Result<HttpResponse, AppError> {
    if web.format.is_json() {
        let user = web.user.as_ref().map(|c| user_view(&c.user));
        return Ok(web.json_ok(json!({ "user": user })));
    }
    web.page("index.html", tera::Context::new())
}

pub async fn profile(web: Web, user: AuthenticatedUser) -> Result<HttpResponse, AppError> {
    if web.format.is_json() {
        return Ok(web.json_ok(json!({ "user": user_view(&user.0.user) })));
    }
    let passkeys = if web.settings().webauthn.enabled {
        let rows = crate::auth::passkeys::list(&web.services(), &user.0.user).await?;
        Some(rows.iter().map(passkey_summary).collect::<Vec<_>>())
    } else {
        None
    };
    let mut ctx = tera::Context::new();
    let mut overview = account(&web, &user.0.user);
    overview["passkeys"] = json!(passkeys.map(|list| json!({
        "list": list,
        "manage_url": Route::WanRegister.path(),
    })));
    overview["activity"] = json!(
        crate::auth::activity::recent_for_user(&web.services(), user.0.user.id, ACTIVITY_SHOWN)
            .await?
    );
    ctx.insert("account", &overview);
    web.page("profile.html", ctx)
}

/// A passkey on the account page: its name, what it is for, when it was made and last used.
fn passkey_summary(row: &crate::db::models::Passkey) -> serde_json::Value {
    json!({
        "name": row.name,
        "usage": row.usage,
        "created": row.create_datetime.format("%Y-%m-%d %H:%M UTC").to_string(),
        "last_used": row.lastuse_datetime.format("%Y-%m-%d %H:%M UTC").to_string(),
    })
}

/// The account page's overview of the user's security settings (features switched off are
/// `null`).
fn account(web: &Web, user: &crate::db::models::User) -> serde_json::Value {
    let settings = web.settings();
    let tf = &settings.two_factor;
    json!({
        "email": user.email,
        "username": user.username,
        "password_change_url": settings.features.changeable.then_some(Route::Change.path()),
        "has_password": user.password_hash().is_some(),
        "two_factor": tf.enabled.then(|| json!({
            "method": user.tf_primary_method,
            "setup_url": Route::TfSetup.path(),
        })),
        "recovery_codes": tf.recovery_codes.then(|| json!({
            "left": crate::auth::two_factor::recovery_codes_left(user),
            "url": Route::MfRecoveryCodes.path(),
        })),
        "sessions_url": Route::Sessions.path(),
        "signin_options_url": settings.unified_signin.enabled.then_some(Route::UsSetup.path()),
        "change_email_url": settings.account_changes.change_email.then_some(Route::ChangeEmail.path()),
        "change_username_url": settings.account_changes.change_username.then_some(Route::ChangeUsername.path()),
    })
}

pub async fn premium(web: Web, user: Premium) -> Result<HttpResponse, AppError> {
    match web.format {
        Format::Json => Ok(web.json_ok(json!({ "user": user_view(&user.0.user) }))),
        Format::Html => web.page("premium.html", tera::Context::new()),
    }
}
