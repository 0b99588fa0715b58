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
    web.page("profile.html", tera::Context::new())
}

pub async fn premium(web: Web, user: Premium) -> Result<HttpResponse, AppError> {
    match web.format {
        Format::Json => Ok(web.json_ok(json!({ "user": user_view(&user.0.user) }))),
        Format::Html => web.page("premium.html", tera::Context::new()),
    }
}
