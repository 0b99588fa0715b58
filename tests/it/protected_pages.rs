//! The pages behind login: profile and premium.

use crate::common;

use common::{location, new_email, spawn_app, PASSWORD};
use reqwest::StatusCode;

#[actix_web::test]
async fn anonymous_visitors_are_sent_to_login_with_next() {
    let app = spawn_app().await;
    for path in ["/profile", "/premium"] {
        let r = app.get(path).await;

        assert_eq!(r.status(), StatusCode::FOUND, "{path}");
        assert_eq!(location(&r), Some(format!("/login?next={path}")), "{path}");
    }
}

#[actix_web::test]
async fn the_profile_shows_the_email_and_a_logout_form() {
    let app = spawn_app().await;
    let email = new_email("profile");
    app.register(&email, PASSWORD).await;

    let r = app.get("/profile").await;

    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    assert!(
        body.contains(&format!("<span id=\"email\">{email}</span>")),
        "{body}"
    );
    assert!(
        body.contains("action=\"/logout\" method=\"post\""),
        "{body}"
    );
    assert!(common::csrf_from_html(&body).is_some());
}

#[actix_web::test]
async fn premium_is_forbidden_to_a_regular_user() {
    let app = spawn_app().await;
    app.register(&new_email("regular"), PASSWORD).await;

    let r = app.get("/premium").await;

    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(app.is_authenticated().await, "a 403 does not log out");
}

#[actix_web::test]
async fn premium_opens_once_the_account_is_premium() {
    let app = spawn_app().await;
    let email = new_email("premium");
    app.register(&email, PASSWORD).await;
    assert_eq!(app.get("/premium").await.status(), StatusCode::FORBIDDEN);

    app.set_premium(&email, true);

    // The same login sees the change at its next request.
    let r = app.get("/premium").await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    assert!(
        body.contains(&format!("Welcome, premium member {email}")),
        "{body}"
    );

    app.set_premium(&email, false);
    assert_eq!(app.get("/premium").await.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn protected_pages_are_not_cached() {
    let app = spawn_app().await;
    app.register(&new_email("nocache"), PASSWORD).await;

    let r = app.get("/profile").await;

    let cache = r
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(cache.contains("no-store"), "Cache-Control: {cache:?}");
}
