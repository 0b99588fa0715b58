//! Latchkey: user authentication for actix-web, the way Flask-Security-Too does it for Flask.
//!
//! Layout: [`config`] (settings from the environment), [`db`] (schema, models, pool,
//! migrations for SQLite and PostgreSQL), [`domain`] (typed email, password, username, next
//! URL), [`auth`] (hashing, CSRF, logins, the login and registration rules), [`web`] (content
//! negotiation, body decoding, current user, errors), [`routes`] (handlers by feature),
//! [`templates`], [`startup`] (the app factory and server), [`cli`] (the `latchkey` command)
//! and [`telemetry`] (logs and request ids). Guards for your own handlers are in
//! [`web::guards`].

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
pub mod web;

pub use config::Settings;
pub use startup::{app, AppState, Application};
