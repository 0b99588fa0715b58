//! HTTP handlers, one module per feature. Handlers stay thin: they parse, call the rules in
//! `crate::auth` / `crate::db`, and answer through [`crate::web::Web`].

pub mod home;
pub mod login;
pub mod logout;
pub mod register;

use actix_web::web;

use crate::config::Features;

/// Mounts the routes of the enabled features; a disabled feature's URLs answer 404.
pub fn configure(cfg: &mut web::ServiceConfig, features: &Features) {
    cfg.route("/", web::get().to(home::index))
        .route("/profile", web::get().to(home::profile))
        .route("/premium", web::get().to(home::premium))
        .service(
            web::resource("/login")
                .route(web::get().to(login::form))
                .route(web::post().to(login::submit)),
        )
        .service(web::resource("/logout").route(web::post().to(logout::submit)));
    if features.registerable {
        cfg.service(
            web::resource("/register")
                .route(web::get().to(register::form))
                .route(web::post().to(register::submit)),
        );
    }
}
