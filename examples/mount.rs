//! Mounting Latchkey in your own actix-web app and protecting your own routes.
//!
//! ```bash
//! cargo run --example mount      # settings from the environment / .env, as for `latchkey`
//! ```
//!
//! Latchkey's pages (`/login`, `/register`, `/logout`, …) are served as usual; the routes below
//! are the host app's, each behind a guard.

use actix_web::{web, HttpResponse, HttpServer};
use latchkey::web::guards::{
    roles_accepted, Admin, AuthenticatedUser, Premium, RolesAccepted, RolesRequired,
};
use latchkey::{AppState, Settings};

// A role set for `RolesAccepted` / `RolesRequired`: here, either role will do.
latchkey::role_set!(Editors = ["editor", "admin"]);

/// Any logged-in user (anonymous: redirect to /login, or 401 for JSON clients).
async fn dashboard(user: AuthenticatedUser) -> HttpResponse {
    HttpResponse::Ok().body(format!("Hello, {}", user.0.user.email_or_empty()))
}

/// Users with the `editor` or the `admin` role (others: 403).
async fn edit(editor: RolesAccepted<Editors>) -> HttpResponse {
    HttpResponse::Ok().body(format!("Editing as user {}", editor.user.user.id))
}

/// Users with the `admin` role only.
async fn settings_page(_admin: RolesRequired<Admin>) -> HttpResponse {
    HttpResponse::Ok().body("Site settings")
}

/// Users whose `premium` column is true.
async fn downloads(_member: Premium) -> HttpResponse {
    HttpResponse::Ok().body("Premium downloads")
}

async fn report() -> HttpResponse {
    HttpResponse::Ok().body("Quarterly report")
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    latchkey::telemetry::init();
    let settings = Settings::from_env()?;
    let address = (settings.host.clone(), settings.port);
    // Connecting, migrating and preparing the hasher block: keep them off the executor.
    let state = web::Data::new(web::block(move || AppState::new(settings)).await??);
    // Requests only queue mail; this worker delivers it (stopped after the server).
    let mail_worker = state.spawn_mail_worker()?;

    HttpServer::new(move || {
        // `latchkey::app` is a complete App (sessions, current user, error pages and
        // Latchkey's routes); the host's routes are added to it and share its middleware.
        latchkey::app(state.clone())
            .route("/dashboard", web::get().to(dashboard))
            .route("/edit", web::get().to(edit))
            .route("/settings", web::get().to(settings_page))
            .route("/downloads", web::get().to(downloads))
            // The middleware form guards a whole scope.
            .service(
                web::scope("/reports")
                    .wrap(roles_accepted(["analyst", "admin"]))
                    .route("/quarterly", web::get().to(report)),
            )
    })
    .bind(address)?
    .run()
    .await?;
    mail_worker.shutdown().await;
    Ok(())
}
