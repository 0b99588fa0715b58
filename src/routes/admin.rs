//! `GET /admin`: the users, their roles and flags, the apps registered to sign in with
//! Latchkey (OpenID Connect clients), and the latest security events across users, for
//! holders of the `admin` role.

use actix_web::HttpResponse;
use serde_json::{json, Value};

use super::mount;
use crate::auth::oidc::clients;
use crate::auth::{activity, roles};
use crate::db::models::User;
use crate::urls::{Route, Urls};
use crate::web::guards::{Admin, RolesRequired};
use crate::web::submission::query_param;
use crate::web::{AppError, Web};

/// Registers the admin page.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig, urls: Urls) {
    cfg.service(mount::page(urls.path(Route::Admin), index));
}

/// How many of the latest security events, across users, the page lists.
const EVENTS_SHOWN: i64 = 50;

/// `/admin`, and `/admin?q=…` for the users whose email or username contains `q`.
pub async fn index(web: Web, _admin: RolesRequired<Admin>) -> Result<HttpResponse, AppError> {
    let services = web.services();
    let query = query_param(&web.request, "q").unwrap_or_default();
    let (rows, total) = roles::search_users(&services, Some(&query)).await?;
    let users: Vec<Value> = rows.iter().map(|(u, r)| row(u, r)).collect();
    let events = activity::recent(&services, EVENTS_SHOWN).await?;
    let clients = clients::list(&services)
        .await
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!(e)))?;
    if web.format.is_json() {
        let body = json!({ "users": users, "total": total, "events": events, "clients": clients });
        return Ok(web.json_ok(body));
    }
    let mut ctx = tera::Context::new();
    ctx.insert("users", &users);
    ctx.insert("total", &total);
    ctx.insert("q", &query);
    ctx.insert("events", &events);
    ctx.insert("clients", &clients);
    web.page("admin.html", ctx)
}

/// What the admin page shows of a user (never the hash or uniquifier).
fn row(user: &User, roles: &[String]) -> Value {
    // The most recent login: Flask-Security's `current_login_at` (trackable), else the older
    // column a Flask database may hold.
    let last_login = user.current_login_at.or(user.last_login_at);
    json!({
        "id": user.id,
        "email": user.email,
        "username": user.username,
        "roles": roles,
        "premium": user.is_premium(),
        "active": user.is_active(),
        "confirmed": user.confirmed_at.is_some(),
        // The second factor in use ("authenticator", "email", "sms"), or null when off.
        "two_factor": user.tf_primary_method,
        "last_login_at": last_login.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
        "last_login_iso": last_login.map(crate::times::iso_utc),
        "last_login_ip": user.current_login_ip.as_deref().or(user.last_login_ip.as_deref()),
        "login_count": user.login_count,
    })
}
