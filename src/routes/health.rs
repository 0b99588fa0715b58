//! `GET /healthz`: 200 while the database answers a query on Latchkey's tables, else 503,
//! naming the dependency that is down and why.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::mount;
use crate::urls::{Route, Urls};
use crate::web::AppState;

/// Registers the health check.
pub fn routes(cfg: &mut web::ServiceConfig, urls: Urls) {
    cfg.service(mount::page(urls.path(Route::Healthz), healthz));
}

/// Longer than a healthy query ever takes, shorter than a load balancer's patience.
const TIMEOUT: Duration = Duration::from_secs(3);

pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let seen = crate::auth::health::database(&state.services, TIMEOUT).await;
    let healthy = seen.up;
    let (mut response, status) = if healthy {
        (HttpResponse::Ok(), "ok")
    } else {
        (HttpResponse::ServiceUnavailable(), "unavailable")
    };
    let database = json!({
        "up": healthy,
        "backend": seen.backend,
        "down_for_secs": seen.down_for_secs,
        // The driver's words (never the URL or a password).
        "error": seen.error,
    });
    let mut response = response
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "status": status,
            "database": healthy,
            "down": if healthy { vec![] } else { vec!["database"] },
            "dependencies": { "database": database },
        }));
    // Its 503 says only "unavailable": shown as is, not replaced by the generic error page.
    crate::web::error::mark_rendered(&mut response);
    response
}
