//! Latchkey: user authentication for actix-web, the way Flask-Security-Too does it for Flask.
//!
//! Registration, login and logout, remember-me, email confirmation, password reset and
//! change, login tracking, roles and throttling, with Flask-Security's URLs, form fields,
//! JSON shapes, configuration keys and tables, so that a Flask-Security database keeps
//! working.
//!
//! # Mounting Latchkey in your app
//!
//! [`app`] is a complete actix-web `App`: sessions, the current user, error negotiation and
//! Latchkey's own pages. Add your routes to it; they share its middleware, so the guards of
//! [`web::guards`] see the logged-in user.
//!
//! ```no_run
//! use actix_web::{web, HttpResponse, HttpServer};
//! use latchkey::web::guards::{require_fresh, roles_accepted, AuthenticatedUser};
//! use latchkey::web::{AppError, Web};
//! use latchkey::{AppState, Settings};
//!
//! async fn dashboard(user: AuthenticatedUser) -> HttpResponse {
//!     HttpResponse::Ok().body(format!("Hello, {}", user.0.user.email_or_empty()))
//! }
//!
//! /// A sensitive change: the password must have been proved recently (step-up).
//! async fn close_account(web: Web, user: AuthenticatedUser) -> Result<HttpResponse, AppError> {
//!     if let Some(reauthenticate) = require_fresh(&web, &user.0, "/close-account") {
//!         return Ok(reauthenticate);
//!     }
//!     Ok(HttpResponse::Ok().body("closing"))
//! }
//!
//! #[actix_web::main]
//! async fn main() -> anyhow::Result<()> {
//!     latchkey::telemetry::init();
//!     let settings = Settings::from_env()?;
//!     let address = (settings.host.clone(), settings.port);
//!     // Connecting, migrating and loading templates block: keep them off the executor.
//!     let state = web::Data::new(web::block(move || AppState::new(settings)).await??);
//!     // Requests only queue mail; this worker delivers it.
//!     let mail_worker = state.spawn_mail_worker()?;
//!     HttpServer::new(move || {
//!         latchkey::app(state.clone())
//!             .route("/dashboard", web::get().to(dashboard))
//!             .route("/close-account", web::post().to(close_account))
//!             .service(web::scope("/reports").wrap(roles_accepted(["analyst", "admin"])))
//!     })
//!     .bind(address)?
//!     .run()
//!     .await?;
//!     mail_worker.shutdown().await;
//!     Ok(())
//! }
//! ```
//!
//! The whole example, with every guard, is `examples/mount.rs`.
//!
//! # Layout
//!
//! The modules stand on each other in floors, each importing only those below it (the
//! Layout table in `docs/layout.md`, checked by `tests/it/architecture.rs`): [`config`]
//! (settings from the environment, as plain data), [`messages`], the lock helper and
//! [`urls`] (every route's path); [`domain`] (typed email, password, username, role name,
//! next URL); [`db`] (schema, models, pool, migrations for SQLite and PostgreSQL); [`crypto`]
//! and [`telemetry`]; [`templates`]; [`mail`]; [`auth`] (the rules and their
//! [`auth::Services`], the authentication pipeline and the login state machine, throttling);
//! [`web`] (HTTP plumbing, guards); [`routes`] (handlers by feature); [`startup`] (the app
//! factory and server); [`cli`] (the `latchkey` command). Nothing below [`web`] names actix.

pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod mail;
pub mod messages;
pub mod routes;
pub mod startup;
mod sync;
pub mod telemetry;
pub mod templates;
pub mod times;
pub mod urls;
pub mod web;

pub use config::Settings;
pub use startup::{app, AppState, Application};
