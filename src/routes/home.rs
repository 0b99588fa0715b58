//! The tutorial's own pages: home, profile, premium.

use actix_web::HttpResponse;
use serde_json::json;

use super::mount;
use crate::auth::page_reads::PageRows;
use crate::urls::{Route, Urls};
use crate::web::current_user::take_page_rows;
use crate::web::page::{context_of, user_view};
use crate::web::{AppError, AuthenticatedUser, Format, Premium, Web};

/// Registers the home, profile and premium pages.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig, urls: Urls) {
    cfg.service(mount::page(urls.path(Route::Home), index))
        .service(mount::page(urls.path(Route::Profile), profile))
        .service(mount::page(urls.path(Route::Premium), premium));
}

/// How many of the user's latest security events the account page lists.
const ACTIVITY_SHOWN: usize = 10;

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
    let read = take_page_rows(&web.request).and_then(PageRows::into_overview);
    let overview =
        crate::auth::account::overview(&web.services(), &user.0.user, ACTIVITY_SHOWN, read).await?;
    let mut account = account(&web, &user.0.user, &overview);
    if web.settings().oauth.enabled {
        // A read of its own, only where social login is on.
        let linked = crate::auth::oauth::linked(&web.services(), &user.0.user).await?;
        account["social_logins"] = social_logins(&web, &linked);
    }
    web.reusable_page("profile.html", context_of("account", account))
}

/// The account page's social logins: the linked identities (each with its unlink form's
/// id), and a link form per provider offered.
fn social_logins(web: &Web, linked: &[crate::db::identities::LinkedIdentity]) -> serde_json::Value {
    let iso = crate::times::readable_utc_minutes;
    let list: Vec<_> = linked
        .iter()
        .map(|l| {
            json!({
                "id": l.id, "provider": l.provider, "email": l.email,
                "linked": iso(l.created_at), "last_used": l.last_used_at.map(iso),
            })
        })
        .collect();
    let providers: Vec<_> = web
        .settings()
        .oauth
        .provider_names()
        .into_iter()
        .map(|name| json!({"name": name, "url": web.urls().with_token(Route::OauthLink, &name)}))
        .collect();
    json!({"list": list, "providers": providers, "unlink_url": web.path(Route::OauthUnlink)})
}

/// The account page's view: the overview with the links of what is switched on (features
/// switched off are `null`).
fn account(
    web: &Web,
    user: &crate::db::models::User,
    overview: &crate::auth::account::Overview,
) -> serde_json::Value {
    let settings = web.settings();
    let tf = &settings.two_factor;
    let us = &settings.unified_signin;
    let two_factor_on = overview.two_factor_method.is_some();
    let us_method = |m: crate::config::UsMethod| us.methods.contains(&m);
    // The change pages come back here once the change is made.
    let back_here = |route: Route| web.urls().with_next(route, Some(web.path(Route::Profile)));
    json!({
        "email": user.email,
        "username": user.username,
        "password_change_url": settings.features.changeable.then(|| back_here(Route::Change)),
        "has_password": user.password_hash().is_some(),
        "two_factor": tf.enabled.then(|| json!({
            "method": overview.two_factor_method,
            "setup_url": web.path(Route::TfSetup),
        })),
        "recovery_codes": (tf.recovery_codes && two_factor_on).then(|| json!({
            "left": overview.recovery_codes_left,
            "url": web.path(Route::MfRecoveryCodes),
        })),
        "passkeys": overview.passkeys.as_ref().map(|list| json!({
            "list": list,
            "manage_url": web.path(Route::WanRegister),
        })),
        "activity": overview.activity,
        "failed_signins": overview.failed_signins,
        "sessions_url": web.path(Route::Sessions),
        "signin_options": us.enabled.then(|| json!({
            "url": web.path(Route::UsSetup),
            "email": us_method(crate::config::UsMethod::Email),
            "sms": us_method(crate::config::UsMethod::Sms),
            "authenticator": us_method(crate::config::UsMethod::Authenticator),
        })),
        "change_email_url": settings.account_changes.change_email.then_some(web.path(Route::ChangeEmail)),
        "change_username_url": settings.account_changes.change_username.then(|| back_here(Route::ChangeUsername)),
    })
}

pub async fn premium(web: Web, user: Premium) -> Result<HttpResponse, AppError> {
    match web.format {
        Format::Json => Ok(web.json_ok(json!({ "user": user_view(&user.0.user) }))),
        Format::Html => web.page("premium.html", tera::Context::new()),
    }
}
