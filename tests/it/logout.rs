//! Logging out.

use crate::common;

use common::{location, new_email, set_cookie, spawn_app, PASSWORD};
use reqwest::StatusCode;

#[actix_web::test]
async fn logging_out_ends_the_login_and_goes_home() {
    let app = spawn_app().await;
    let email = new_email("logout");
    app.register(&email, PASSWORD).await;
    assert!(app.is_authenticated().await);
    let sessions_before = app.count_login_sessions();

    let r = app.logout().await;

    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/"));
    assert!(!app.is_authenticated().await);
    assert_eq!(app.count_login_sessions(), sessions_before - 1);
    let home = app.get("/").await.text().await.unwrap();
    assert!(!home.contains("You are logged in as"), "{home}");
}

#[actix_web::test]
async fn logout_by_get_is_not_allowed_and_keeps_the_user_logged_in() {
    let app = spawn_app().await;
    app.register(&new_email("get-logout"), PASSWORD).await;

    let r = app.get("/logout").await;

    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(app.is_authenticated().await);
}

#[actix_web::test]
async fn logout_without_a_valid_csrf_token_is_refused_and_keeps_the_user_logged_in() {
    let app = spawn_app().await;
    app.register(&new_email("csrf-logout"), PASSWORD).await;

    let missing = app.post_form("/logout", &[]).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert!(app.is_authenticated().await);

    let bogus = app
        .post_form("/logout", &[("csrf_token", "bogus-token")])
        .await;
    assert_eq!(bogus.status(), StatusCode::BAD_REQUEST);
    assert!(app.is_authenticated().await);

    let body_less = app.http.post(app.url("/logout")).send().await.unwrap();
    assert_eq!(body_less.status(), StatusCode::BAD_REQUEST);
    assert!(app.is_authenticated().await);
}

#[actix_web::test]
async fn logging_out_deletes_the_remember_me_cookie() {
    let app = spawn_app().await;
    let email = new_email("forget");
    app.create_user(&email, PASSWORD).await;
    let browser = app.logged_in_client(&email, PASSWORD, true).await;
    assert!(browser.cookie("remember_token").is_some());

    let r = browser.logout().await;

    let removal = set_cookie(r.headers(), "remember_token").expect("remember_token is removed");
    assert_eq!(removal.value(), "");
    assert_eq!(removal.path(), Some("/"));
    let expired = removal
        .max_age()
        .is_some_and(|age| age.whole_seconds() <= 0)
        || removal
            .expires_datetime()
            .is_some_and(|t| t < actix_web::cookie::time::OffsetDateTime::now_utc());
    assert!(expired, "{removal}");
    assert_eq!(browser.cookie("remember_token"), None);
    assert!(!browser.is_authenticated().await);
}

#[actix_web::test]
async fn logging_out_when_not_logged_in_is_harmless() {
    let app = spawn_app().await;

    let r = app.logout().await;

    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/"));
    assert!(!app.is_authenticated().await);
}

#[actix_web::test]
async fn logging_out_one_browser_leaves_the_others_logged_in() {
    let app = spawn_app().await;
    let email = new_email("two-browsers");
    app.create_user(&email, PASSWORD).await;
    let laptop = app.logged_in_client(&email, PASSWORD, false).await;
    let phone = app.logged_in_client(&email, PASSWORD, false).await;

    laptop.logout().await;

    assert!(!laptop.is_authenticated().await);
    assert!(phone.is_authenticated().await);
}
