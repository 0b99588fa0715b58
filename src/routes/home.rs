//! The tutorial's own pages: home, profile, premium.

use actix_web::HttpResponse;
use serde_json::json;

use crate::web::page::user_view;
use crate::web::{AppError, AuthenticatedUser, Format, Premium, Web};

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
    let mut ctx = tera::Context::new();
    ctx.insert("account", &account(&web, &user.0.user));
    web.page("profile.html", ctx)
}

/// The account page's overview of the user's security settings (features switched off are
/// `null`).
fn account(web: &Web, user: &crate::db::models::User) -> serde_json::Value {
    let settings = web.settings();
    let tf = &settings.two_factor;
    json!({
        "email": user.email,
        "username": user.username,
        "password_change_url": settings.features.changeable.then_some("/change"),
        "two_factor": tf.enabled.then(|| json!({
            "method": user.tf_primary_method,
            "setup_url": "/tf-setup",
        })),
        "recovery_codes": tf.recovery_codes.then(|| json!({
            "left": crate::auth::two_factor::recovery_codes_left(user),
            "url": "/mf-recovery-codes",
        })),
        "sessions_url": "/sessions",
    })
}

pub async fn premium(web: Web, user: Premium) -> Result<HttpResponse, AppError> {
    match web.format {
        Format::Json => Ok(web.json_ok(json!({ "user": user_view(&user.0.user) }))),
        Format::Html => web.page("premium.html", tera::Context::new()),
    }
}
